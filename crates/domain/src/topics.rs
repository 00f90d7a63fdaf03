//! The topic catalogue: every topic Herald emits, with its human name, description, required scope and entity type.
//!
//! One static table, sorted by id, taken from the seed's "Available topics" table (48 topics) with the contract's
//! corrections (§8.3: the seed swaps the descriptions of `offers.rejected` and `offers.withdrawn`), and the three
//! operational topics `webhooks.*` of contract §9.4. The descriptions
//! are the seed's text without its glossary links. This module only *describes* topics: when a topic fires is decided
//! by [`crate::rules`], and who receives it by [`crate::routing`].

use crate::EntityType;
use crate::EntityType::*;

/// One topic of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topic {
    /// `contacts.modified`
    pub id: &'static str,
    /// A short human name, `Contact modified`.
    pub name: &'static str,
    /// What makes the topic fire, as the seed's table says (with the contract's corrections).
    pub description: &'static str,
    /// The scope an application must hold to receive the topic; `None` for `application.*`.
    pub scope: Option<&'static str>,
    /// The entity type whose changes emit it; `None` for `application.*`.
    pub entity_type: Option<EntityType>,
}

const fn topic(
    id: &'static str,
    name: &'static str,
    description: &'static str,
    scope: &'static str,
    entity_type: EntityType,
) -> Topic {
    Topic { id, name, description, scope: Some(scope), entity_type: Some(entity_type) }
}

const fn application_topic(id: &'static str, name: &'static str, description: &'static str) -> Topic {
    Topic { id, name, description, scope: None, entity_type: None }
}

/// An operational topic (contract §9.4, [`crate::operational`]): no scope, no entity type, like `application.*`.
const fn webhooks_topic(id: &'static str, name: &'static str, description: &'static str) -> Topic {
    Topic { id, name, description, scope: None, entity_type: None }
}

/// The catalogue, sorted by id (byte order: `applicants.*` sorts before `application.*`).
static TOPICS: &[Topic] = &[
    topic(
        "applicants.created",
        "Applicant created",
        "Occurs when a new applicant is created",
        "applicants.read",
        Applicants,
    ),
    topic(
        "applicants.modified",
        "Applicant modified",
        "Occurs when an existing applicant is modified, or any of the associated contacts are modified",
        "applicants.read",
        Applicants,
    ),
    application_topic(
        "application.install",
        "Application installed",
        "Occurs when a customer installs an application in the AppMarket",
    ),
    application_topic(
        "application.uninstall",
        "Application uninstalled",
        "Occurs when a customer uninstalls an application in the AppMarket",
    ),
    topic(
        "appointments.cancelled",
        "Appointment cancelled",
        "Occurs when a new appointment is created as cancelled, or an existing appointment is cancelled",
        "appointments.read",
        Appointments,
    ),
    topic(
        "appointments.confirmed",
        "Appointment confirmed",
        "Occurs when an appointment is created or modified and all required parties have confirmed attendance",
        "appointments.read",
        Appointments,
    ),
    topic(
        "appointments.created",
        "Appointment created",
        "Occurs when a new appointment is created",
        "appointments.read",
        Appointments,
    ),
    topic(
        "appointments.modified",
        "Appointment modified",
        "Occurs when an existing appointment is modified",
        "appointments.read",
        Appointments,
    ),
    topic("companies.created", "Company created", "Occurs when a new company is created", "companies.read", Companies),
    topic(
        "companies.modified",
        "Company modified",
        "Occurs when an existing company is modified",
        "companies.read",
        Companies,
    ),
    topic("contacts.created", "Contact created", "Occurs when a new contact is created", "contacts.read", Contacts),
    topic(
        "contacts.modified",
        "Contact modified",
        "Occurs when an existing contact is modified",
        "contacts.read",
        Contacts,
    ),
    topic(
        "contacts.optedout",
        "Contact opted out",
        "Occurs when a new contact is created with marketing consent set to deny, or the marketing consent state of an \
         existing contact is changed to deny",
        "contacts.read",
        Contacts,
    ),
    topic(
        "conveyancing.modified",
        "Conveyancing modified",
        "Occurs when an existing conveyancing (sales progression) entity is modified",
        "conveyancing.read",
        Conveyancing,
    ),
    topic(
        "documents.created",
        "Document created",
        "Occurs when a new document is created",
        "documents.read",
        Documents,
    ),
    topic(
        "documents.modified",
        "Document modified",
        "Occurs when an existing document is modified",
        "documents.read",
        Documents,
    ),
    topic(
        "enquiries.accepted",
        "Enquiry accepted",
        "Occurs when an existing enquiry has a status change to added",
        "enquiries.read",
        Enquiries,
    ),
    topic("enquiries.created", "Enquiry created", "Occurs when a new enquiry is created", "enquiries.read", Enquiries),
    topic(
        "enquiries.modified",
        "Enquiry modified",
        "Occurs when an existing enquiry is modified",
        "enquiries.read",
        Enquiries,
    ),
    topic(
        "enquiries.rejected",
        "Enquiry rejected",
        "Occurs when an existing enquiry has a status change to rejected",
        "enquiries.read",
        Enquiries,
    ),
    topic(
        "identitychecks.created",
        "Identity check created",
        "Occurs when a new identity check is created against an existing contact",
        "identitychecks.read",
        Identitychecks,
    ),
    topic(
        "identitychecks.modified",
        "Identity check modified",
        "Occurs when an existing identity check is modified",
        "identitychecks.read",
        Identitychecks,
    ),
    topic(
        "landlords.created",
        "Landlord created",
        "Occurs when a new landlord is created",
        "landlords.read",
        Landlords,
    ),
    topic(
        "landlords.modified",
        "Landlord modified",
        "Occurs when an existing landlord is modified, or any of the associated contacts are modified",
        "landlords.read",
        Landlords,
    ),
    topic(
        "offers.accepted",
        "Offer accepted",
        "Occurs when a new offer is created in an accepted state, or the status of an existing offer is changed to \
         accepted",
        "offers.read",
        Offers,
    ),
    topic("offers.created", "Offer created", "Occurs when a new offer is created", "offers.read", Offers),
    topic("offers.modified", "Offer modified", "Occurs when an existing offer is modified", "offers.read", Offers),
    // The seed swaps this description with that of `offers.withdrawn`; contract §8.3 records the intended meaning.
    topic(
        "offers.rejected",
        "Offer rejected",
        "Occurs when a new offer is created in a rejected state, or the status of an existing offer is changed to \
         rejected",
        "offers.read",
        Offers,
    ),
    topic(
        "offers.withdrawn",
        "Offer withdrawn",
        "Occurs when a new offer is created in a withdrawn state, or the status of an existing offer is changed to \
         withdrawn",
        "offers.read",
        Offers,
    ),
    topic("offices.created", "Office created", "Occurs when a new office is created", "offices.read", Offices),
    topic("offices.modified", "Office modified", "Occurs when an existing office is modified", "offices.read", Offices),
    topic(
        "properties.created",
        "Property created",
        "Occurs when a new property is created",
        "properties.read",
        Properties,
    ),
    topic(
        "properties.modified",
        "Property modified",
        "Occurs when an existing property is modified",
        "properties.read",
        Properties,
    ),
    topic(
        "properties.selling.askingpricechanged",
        "Property asking price changed",
        "Occurs when the asking price of an existing sales property is changed",
        "properties.read",
        Properties,
    ),
    topic(
        "properties.selling.completed",
        "Property sale completed",
        "Occurs when a new sales property is created with a status of completed, or an existing sales property's \
         status is changed to completed",
        "properties.read",
        Properties,
    ),
    topic(
        "properties.selling.exchanged",
        "Property sale exchanged",
        "Occurs when a new sales property is created with a status of exchanged, or an existing sales property's \
         status is changed to exchanged",
        "properties.read",
        Properties,
    ),
    topic(
        "properties.selling.instructed",
        "Property instructed for sale",
        "Occurs when a new sales property is created with a status of forSale or forSaleUnavailable, or an existing \
         sales property's status is changed to forSale or forSaleUnavailable, and the previous status was one of \
         preAppraisal, valuation or paidValuation",
        "properties.read",
        Properties,
    ),
    topic(
        "properties.selling.lostinstruction",
        "Property instruction lost",
        "Occurs when a new sales property is created in a lost instruction state, or an existing sales property's \
         lost instruction data has been set for the first time",
        "properties.read",
        Properties,
    ),
    topic(
        "properties.selling.underoffer",
        "Property under offer",
        "Occurs when a new sales property is created with a status of underOffer or underOfferUnavailable, or an \
         existing sales property's status is changed to underOffer or underOfferUnavailable",
        "properties.read",
        Properties,
    ),
    topic(
        "properties.selling.withdrawn",
        "Property withdrawn from sale",
        "Occurs when a new sales property is created with a status of withdrawn, or an existing sales property's \
         status is changed to withdrawn",
        "properties.read",
        Properties,
    ),
    topic(
        "tenancies.created",
        "Tenancy created",
        "Occurs when a new tenancy has been created",
        "tenancies.read",
        Tenancies,
    ),
    // The seed asks for `tenancies.write` here, not `tenancies.read`; contract §8.3 keeps it.
    topic(
        "tenancies.modified",
        "Tenancy modified",
        "Occurs when an existing tenancy has been modified",
        "tenancies.write",
        Tenancies,
    ),
    topic(
        "vendors.created",
        "Vendor created",
        "Occurs when vendor information has been associated with a sales property for the first time",
        "vendors.read",
        Vendors,
    ),
    topic(
        "vendors.modified",
        "Vendor modified",
        "Occurs when vendor information is modified or any of the associated vendor contacts are modified",
        "vendors.read",
        Vendors,
    ),
    webhooks_topic(
        "webhooks.disabled",
        "Webhook disabled",
        "Occurs when Herald disables one of the application's webhooks because its endpoint kept failing",
    ),
    webhooks_topic(
        "webhooks.failing",
        "Webhook failing",
        "Occurs when a delivery to one of the application's webhooks dies or fails for good, the first time since \
         that webhook's last success",
    ),
    webhooks_topic(
        "webhooks.recovered",
        "Webhook recovered",
        "Occurs when a webhook of the application that was failing delivers successfully again",
    ),
    topic(
        "worksorders.cancelled",
        "Works order cancelled",
        "Occurs when a new works order is created in a cancelled state, or the status of an existing works order is \
         changed to cancelled",
        "worksorders.read",
        Worksorders,
    ),
    topic(
        "worksorders.complete",
        "Works order complete",
        "Occurs when a new works order is created in a complete state, or the status of an existing works order is \
         changed to complete",
        "worksorders.read",
        Worksorders,
    ),
    topic(
        "worksorders.modified",
        "Works order modified",
        "Occurs when an existing works order is modified",
        "worksorders.read",
        Worksorders,
    ),
    topic(
        "worksorders.raised",
        "Works order raised",
        "Occurs when a new works order is created in a raised state, or the status of an existing works order is \
         changed to raised",
        "worksorders.read",
        Worksorders,
    ),
];

/// Every topic, sorted by id.
pub fn all() -> &'static [Topic] {
    TOPICS
}

/// The topic with this id (exact, case-sensitive).
pub fn find(id: &str) -> Option<&'static Topic> {
    TOPICS.binary_search_by(|t| t.id.cmp(id)).ok().and_then(|i| TOPICS.get(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed's "Available topics" table: every topic with its required scope, as written there.
    const SEED_SCOPES: [(&str, Option<&str>); 48] = [
        ("application.install", None),
        ("application.uninstall", None),
        ("applicants.created", Some("applicants.read")),
        ("applicants.modified", Some("applicants.read")),
        ("appointments.cancelled", Some("appointments.read")),
        ("appointments.confirmed", Some("appointments.read")),
        ("appointments.created", Some("appointments.read")),
        ("appointments.modified", Some("appointments.read")),
        ("companies.created", Some("companies.read")),
        ("companies.modified", Some("companies.read")),
        ("contacts.created", Some("contacts.read")),
        ("contacts.modified", Some("contacts.read")),
        ("contacts.optedout", Some("contacts.read")),
        ("conveyancing.modified", Some("conveyancing.read")),
        ("documents.created", Some("documents.read")),
        ("documents.modified", Some("documents.read")),
        ("enquiries.accepted", Some("enquiries.read")),
        ("enquiries.created", Some("enquiries.read")),
        ("enquiries.modified", Some("enquiries.read")),
        ("enquiries.rejected", Some("enquiries.read")),
        ("identitychecks.created", Some("identitychecks.read")),
        ("identitychecks.modified", Some("identitychecks.read")),
        ("landlords.created", Some("landlords.read")),
        ("landlords.modified", Some("landlords.read")),
        ("offers.accepted", Some("offers.read")),
        ("offers.created", Some("offers.read")),
        ("offers.modified", Some("offers.read")),
        ("offers.rejected", Some("offers.read")),
        ("offers.withdrawn", Some("offers.read")),
        ("offices.created", Some("offices.read")),
        ("offices.modified", Some("offices.read")),
        ("properties.created", Some("properties.read")),
        ("properties.modified", Some("properties.read")),
        ("properties.selling.askingpricechanged", Some("properties.read")),
        ("properties.selling.completed", Some("properties.read")),
        ("properties.selling.exchanged", Some("properties.read")),
        ("properties.selling.withdrawn", Some("properties.read")),
        ("properties.selling.instructed", Some("properties.read")),
        ("properties.selling.lostinstruction", Some("properties.read")),
        ("properties.selling.underoffer", Some("properties.read")),
        ("tenancies.created", Some("tenancies.read")),
        ("tenancies.modified", Some("tenancies.write")),
        ("vendors.created", Some("vendors.read")),
        ("vendors.modified", Some("vendors.read")),
        ("worksorders.cancelled", Some("worksorders.read")),
        ("worksorders.complete", Some("worksorders.read")),
        ("worksorders.modified", Some("worksorders.read")),
        ("worksorders.raised", Some("worksorders.read")),
    ];

    #[test]
    fn the_catalogue_holds_the_48_topics_of_the_seed_and_the_3_operational_ones() {
        assert_eq!(all().len(), 48 + 3);
        for (id, _) in SEED_SCOPES {
            assert!(find(id).is_some(), "{id} is missing");
        }
    }

    #[test]
    fn topic_ids_are_unique_and_sorted() {
        for pair in all().windows(2) {
            assert!(pair[0].id < pair[1].id, "{} must sort before {}", pair[0].id, pair[1].id);
        }
    }

    #[test]
    fn every_scope_is_the_one_the_seed_requires() {
        for (id, scope) in SEED_SCOPES {
            assert_eq!(find(id).map(|t| t.scope), Some(scope), "scope of {id}");
        }
    }

    #[test]
    fn tenancies_modified_needs_the_write_scope() {
        assert_eq!(find("tenancies.modified").and_then(|t| t.scope), Some("tenancies.write"));
        assert_eq!(find("tenancies.created").and_then(|t| t.scope), Some("tenancies.read"));
    }

    #[test]
    fn every_topic_but_application_and_webhooks_ones_belongs_to_the_entity_type_its_id_starts_with() {
        for t in all() {
            match t.id.split('.').next() {
                Some("application" | "webhooks") => {
                    assert_eq!(t.entity_type, None, "{}", t.id);
                    assert_eq!(t.scope, None, "{}", t.id);
                }
                Some(prefix) => {
                    assert_eq!(t.entity_type.map(EntityType::as_str), Some(prefix), "{}", t.id);
                    assert_eq!(t.scope.map(|s| s.starts_with(prefix)), Some(true), "{}", t.id);
                }
                None => panic!("empty topic id"),
            }
        }
    }

    #[test]
    fn every_topic_has_a_name_and_a_link_free_description() {
        for t in all() {
            assert!(!t.name.is_empty(), "{}", t.id);
            assert!(t.description.starts_with("Occurs when"), "{}", t.id);
            assert!(!t.description.contains('[') && !t.description.contains("  "), "{}", t.id);
        }
    }

    #[test]
    fn offer_rejected_and_withdrawn_describe_their_own_status_not_the_seeds_swapped_one() {
        let rejected = find("offers.rejected").map(|t| t.description).unwrap_or_default();
        let withdrawn = find("offers.withdrawn").map(|t| t.description).unwrap_or_default();
        assert!(rejected.ends_with("changed to rejected") && !rejected.contains("withdrawn"));
        assert!(withdrawn.ends_with("changed to withdrawn") && !withdrawn.contains("rejected"));
    }

    #[test]
    fn find_answers_known_ids_and_nothing_else() {
        assert_eq!(find("contacts.modified").map(|t| t.name), Some("Contact modified"));
        assert_eq!(find("applicants.created").map(|t| t.id), Some("applicants.created"));
        assert_eq!(find("worksorders.raised").map(|t| t.id), Some("worksorders.raised"));
        assert_eq!(find("worksorders.created"), None);
        assert_eq!(find("conveyancing.created"), None);
        assert_eq!(find("Contacts.Modified"), None);
        assert_eq!(find(""), None);
    }
}
