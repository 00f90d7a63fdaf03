//! Topic derivation (contract §8.3): one change in, the topics it emits out.
//!
//! The rules are one table, [`RULES`]: a topic, the entity type whose changes may emit it, the rule in one sentence,
//! and the predicate that decides it. Adding a topic is adding one entry (and its catalogue line in
//! [`crate::topics`]). `application.*` topics have no rule: they come from installations, not from changes.
//!
//! "Becomes X" means the new value is X and, for a modification, the old value was not X; a deletion (`new` null)
//! makes nothing become anything. A key that is absent reads as `null`, as in the diff. This module decides topics
//! only; the payload and who receives it are decided elsewhere.

use crate::json::Json;

use crate::change::Entity;
use crate::{topics, Change, EntityType, Topic};

/// One topic's rule.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The topic it emits, an id of the catalogue.
    pub topic: &'static str,
    /// Only changes of this entity type can emit it.
    pub entity_type: EntityType,
    /// The rule in one sentence, as `docs/TOPICS.md` states it.
    pub rule: &'static str,
    /// Whether a change of `entity_type` emits the topic.
    pub holds: fn(&Change) -> bool,
}

const CREATED: &str = "A new entity: `old` is null.";
const MODIFIED: &str = "An existing entity changed: `old` is not null (a deletion, with `new` null, included).";

const fn created(topic: &'static str, entity_type: EntityType) -> Rule {
    Rule { topic, entity_type, rule: CREATED, holds: is_created }
}

const fn modified(topic: &'static str, entity_type: EntityType) -> Rule {
    Rule { topic, entity_type, rule: MODIFIED, holds: is_modified }
}

/// Every rule, in catalogue order. `conveyancing` and `worksorders` have no `.created` topic.
pub static RULES: &[Rule] = &[
    created("applicants.created", EntityType::Applicants),
    modified("applicants.modified", EntityType::Applicants),
    Rule {
        topic: "appointments.cancelled",
        entity_type: EntityType::Appointments,
        rule: "`cancelled` becomes `true`.",
        holds: |c| becomes(c, &["cancelled"], |v| v == &Json::Bool(true)),
    },
    Rule {
        topic: "appointments.confirmed",
        entity_type: EntityType::Appointments,
        rule: "The appointment becomes confirmed: at least one of `negotiatorConfirmed`, `attendeeConfirmed`, \
               `propertyConfirmed` is set and every one set is `true`, which was not so before.",
        holds: |c| is_confirmed(c.new.as_ref()) && !is_confirmed(c.old.as_ref()),
    },
    created("appointments.created", EntityType::Appointments),
    modified("appointments.modified", EntityType::Appointments),
    created("companies.created", EntityType::Companies),
    modified("companies.modified", EntityType::Companies),
    created("contacts.created", EntityType::Contacts),
    modified("contacts.modified", EntityType::Contacts),
    Rule {
        topic: "contacts.optedout",
        entity_type: EntityType::Contacts,
        rule: "`marketingConsent` becomes `\"deny\"`.",
        holds: |c| becomes_one_of(c, &["marketingConsent"], &["deny"]),
    },
    modified("conveyancing.modified", EntityType::Conveyancing),
    created("documents.created", EntityType::Documents),
    modified("documents.modified", EntityType::Documents),
    Rule {
        topic: "enquiries.accepted",
        entity_type: EntityType::Enquiries,
        rule: "On modification only, `status` becomes `\"added\"`.",
        holds: |c| c.old.is_some() && becomes_one_of(c, &["status"], &["added"]),
    },
    created("enquiries.created", EntityType::Enquiries),
    modified("enquiries.modified", EntityType::Enquiries),
    Rule {
        topic: "enquiries.rejected",
        entity_type: EntityType::Enquiries,
        rule: "On modification only, `status` becomes `\"rejected\"`.",
        holds: |c| c.old.is_some() && becomes_one_of(c, &["status"], &["rejected"]),
    },
    created("identitychecks.created", EntityType::Identitychecks),
    modified("identitychecks.modified", EntityType::Identitychecks),
    created("landlords.created", EntityType::Landlords),
    modified("landlords.modified", EntityType::Landlords),
    Rule {
        topic: "offers.accepted",
        entity_type: EntityType::Offers,
        rule: "`status` becomes `\"accepted\"`.",
        holds: |c| becomes_one_of(c, &["status"], &["accepted"]),
    },
    created("offers.created", EntityType::Offers),
    modified("offers.modified", EntityType::Offers),
    Rule {
        topic: "offers.rejected",
        entity_type: EntityType::Offers,
        rule: "`status` becomes `\"rejected\"`.",
        holds: |c| becomes_one_of(c, &["status"], &["rejected"]),
    },
    Rule {
        topic: "offers.withdrawn",
        entity_type: EntityType::Offers,
        rule: "`status` becomes `\"withdrawn\"`.",
        holds: |c| becomes_one_of(c, &["status"], &["withdrawn"]),
    },
    created("offices.created", EntityType::Offices),
    modified("offices.modified", EntityType::Offices),
    created("properties.created", EntityType::Properties),
    modified("properties.modified", EntityType::Properties),
    Rule {
        topic: "properties.selling.askingpricechanged",
        entity_type: EntityType::Properties,
        rule: "On modification only, `selling.price` is not null on either side and differs.",
        holds: asking_price_changed,
    },
    Rule {
        topic: "properties.selling.completed",
        entity_type: EntityType::Properties,
        rule: "`selling.status` becomes `\"completed\"`.",
        holds: |c| becomes_one_of(c, SELLING_STATUS, &["completed"]),
    },
    Rule {
        topic: "properties.selling.exchanged",
        entity_type: EntityType::Properties,
        rule: "`selling.status` becomes `\"exchanged\"`.",
        holds: |c| becomes_one_of(c, SELLING_STATUS, &["exchanged"]),
    },
    Rule {
        topic: "properties.selling.instructed",
        entity_type: EntityType::Properties,
        rule: "`selling.status` is `\"forSale\"` or `\"forSaleUnavailable\"` in `new` and, on modification, was \
               `\"preAppraisal\"`, `\"valuation\"` or `\"paidValuation\"` in `old`.",
        holds: instructed,
    },
    Rule {
        topic: "properties.selling.lostinstruction",
        entity_type: EntityType::Properties,
        rule: "The top-level `lostInstructionDate` becomes set: not null in `new`, null or absent in `old`.",
        holds: |c| becomes(c, &["lostInstructionDate"], |v| !v.is_null()),
    },
    Rule {
        topic: "properties.selling.underoffer",
        entity_type: EntityType::Properties,
        rule: "`selling.status` becomes `\"underOffer\"` or `\"underOfferUnavailable\"` from neither of them.",
        holds: |c| becomes_one_of(c, SELLING_STATUS, &["underOffer", "underOfferUnavailable"]),
    },
    Rule {
        topic: "properties.selling.withdrawn",
        entity_type: EntityType::Properties,
        rule: "`selling.status` becomes `\"withdrawn\"`.",
        holds: |c| becomes_one_of(c, SELLING_STATUS, &["withdrawn"]),
    },
    created("tenancies.created", EntityType::Tenancies),
    modified("tenancies.modified", EntityType::Tenancies),
    Rule {
        topic: "vendors.created",
        entity_type: EntityType::Vendors,
        rule: "Vendor information is associated with a sales property for the first time: `old` is null.",
        holds: is_created,
    },
    modified("vendors.modified", EntityType::Vendors),
    Rule {
        topic: "worksorders.cancelled",
        entity_type: EntityType::Worksorders,
        rule: "`status` becomes `\"cancelled\"`.",
        holds: |c| becomes_one_of(c, &["status"], &["cancelled"]),
    },
    Rule {
        topic: "worksorders.complete",
        entity_type: EntityType::Worksorders,
        rule: "`status` becomes `\"complete\"`.",
        holds: |c| becomes_one_of(c, &["status"], &["complete"]),
    },
    modified("worksorders.modified", EntityType::Worksorders),
    Rule {
        topic: "worksorders.raised",
        entity_type: EntityType::Worksorders,
        rule: "`status` becomes `\"raised\"` (a works order created as raised included: there is no \
               `worksorders.created`).",
        holds: |c| becomes_one_of(c, &["status"], &["raised"]),
    },
];

/// Every topic whose rule holds for the change, in catalogue order.
pub fn derive_topics(change: &Change) -> Vec<&'static Topic> {
    let mut derived: Vec<&'static Topic> = RULES
        .iter()
        .filter(|rule| rule.entity_type == change.entity_type && (rule.holds)(change))
        .filter_map(|rule| topics::find(rule.topic))
        .collect();
    derived.sort_by_key(|topic| topic.id);
    derived.dedup_by_key(|topic| topic.id);
    derived
}

/// The rule of this topic; `None` for `application.*` and unknown ids.
pub fn rule_for(topic_id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|rule| rule.topic == topic_id)
}

const SELLING_STATUS: &[&str] = &["selling", "status"];

/// The statuses a property leaves when it is instructed (contract §8.3).
const PRE_INSTRUCTION: &[&str] = &["preAppraisal", "valuation", "paidValuation"];

static NULL: Json = Json::Null;

fn is_created(change: &Change) -> bool {
    change.old.is_none()
}

fn is_modified(change: &Change) -> bool {
    change.old.is_some()
}

/// The value at `path` (nested keys) in one side of a change; `null` when the side, or any key on the way, is absent.
fn value_at<'a>(side: Option<&'a Entity>, path: &[&str]) -> &'a Json {
    let Some((first, rest)) = path.split_first() else { return &NULL };
    let mut value = side.and_then(|entity| entity.get(first)).unwrap_or(&NULL);
    for key in rest {
        value = value.get(key).unwrap_or(&NULL);
    }
    value
}

/// `is(new)`, and on a modification `!is(old)`. On a deletion `new` reads as null, for which no predicate used here
/// holds.
fn becomes(change: &Change, path: &[&str], is: fn(&Json) -> bool) -> bool {
    is(value_at(change.new.as_ref(), path)) && (change.old.is_none() || !is(value_at(change.old.as_ref(), path)))
}

/// The string at `path` becomes one of `values` (from none of them).
fn becomes_one_of(change: &Change, path: &[&str], values: &[&str]) -> bool {
    let is_one = |side: Option<&Entity>| value_at(side, path).as_str().is_some_and(|s| values.contains(&s));
    is_one(change.new.as_ref()) && (change.old.is_none() || !is_one(change.old.as_ref()))
}

/// `confirmed(x)` of contract §8.3: at least one of the three flags is present and every present one is `true`. A
/// flag set to `null` counts as absent, as everywhere else; a missing side is not confirmed.
fn is_confirmed(side: Option<&Entity>) -> bool {
    let Some(entity) = side else { return false };
    let present: Vec<&Json> = ["negotiatorConfirmed", "attendeeConfirmed", "propertyConfirmed"]
        .iter()
        .filter_map(|key| entity.get(key))
        .filter(|value| !value.is_null())
        .collect();
    !present.is_empty() && present.iter().all(|value| **value == Json::Bool(true))
}

fn asking_price_changed(change: &Change) -> bool {
    if change.old.is_none() || change.new.is_none() {
        return false;
    }
    let old = value_at(change.old.as_ref(), &["selling", "price"]);
    let new = value_at(change.new.as_ref(), &["selling", "price"]);
    if old.is_null() || new.is_null() {
        return false;
    }
    match (old.as_f64(), new.as_f64()) {
        // 250000 and 250000.0 are the same price.
        (Some(o), Some(n)) => o != n,
        _ => old != new,
    }
}

fn instructed(change: &Change) -> bool {
    let for_sale = value_at(change.new.as_ref(), SELLING_STATUS)
        .as_str()
        .is_some_and(|s| matches!(s, "forSale" | "forSaleUnavailable"));
    let was_pre_instruction =
        |old: &Entity| value_at(Some(old), SELLING_STATUS).as_str().is_some_and(|s| PRE_INSTRUCTION.contains(&s));
    for_sale && change.old.as_ref().is_none_or(was_pre_instruction)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// The topics derived from a change of `entity_type` from `old` to `new` (`Value::Null` for an absent side).
    fn derived(entity_type: EntityType, old: Value, new: Value) -> Vec<&'static str> {
        let side = |v: Value| match v {
            Value::Object(map) => Some(map.into()),
            Value::Null => None,
            other => panic!("not an entity: {other}"),
        };
        let change =
            Change { customer_id: "RPT".into(), entity_type, entity_id: "RPT1".into(), old: side(old), new: side(new) };
        derive_topics(&change).into_iter().map(|t| t.id).collect()
    }

    /// One case of a table: what happens, old, new, and the exact topics expected, written without the entity type
    /// prefix and separated by spaces (`"cancelled modified"` for appointments: `appointments.cancelled` and
    /// `appointments.modified`, in catalogue order).
    type Case = (&'static str, Value, Value, &'static str);

    fn check(entity_type: EntityType, cases: Vec<Case>) {
        for (what, old, new, expected) in cases {
            let expected: Vec<String> = expected.split_whitespace().map(|t| format!("{entity_type}.{t}")).collect();
            assert_eq!(derived(entity_type, old, new), expected, "{entity_type}: {what}");
        }
    }

    const NULL: Value = Value::Null;

    #[test]
    fn every_topic_but_application_ones_has_exactly_one_rule_of_its_entity_type() {
        for topic in topics::all() {
            let rules: Vec<&Rule> = RULES.iter().filter(|r| r.topic == topic.id).collect();
            match topic.entity_type {
                None => assert!(rules.is_empty(), "{} has a rule", topic.id),
                Some(entity_type) => {
                    assert_eq!(rules.len(), 1, "{} has {} rules", topic.id, rules.len());
                    assert_eq!(rules[0].entity_type, entity_type, "{}", topic.id);
                }
            }
        }
        assert!(RULES.iter().all(|r| topics::find(r.topic).is_some()));
        assert!(RULES.windows(2).all(|w| w[0].topic < w[1].topic), "rules are in catalogue order");
        assert_eq!(RULES.len(), 46);
        assert_eq!(rule_for("offers.rejected").map(|r| r.rule), Some("`status` becomes `\"rejected\"`."));
        assert!(rule_for("application.install").is_none());
    }

    #[test]
    fn every_rule_is_one_sentence() {
        for rule in RULES {
            assert!(rule.rule.ends_with('.') && rule.rule.matches(". ").count() == 0, "{}", rule.topic);
        }
    }

    #[test]
    fn creation_modification_and_deletion_emit_created_and_modified_for_every_entity_type() {
        for entity_type in EntityType::ALL {
            let created_topic = format!("{entity_type}.created");
            let modified_topic = format!("{entity_type}.modified");
            let expected_created: Vec<&str> = topics::find(&created_topic).map(|t| t.id).into_iter().collect();
            let modified_only = [modified_topic.as_str()];
            assert_eq!(derived(entity_type, NULL, json!({"id": "X"})), expected_created, "{entity_type}");
            assert_eq!(derived(entity_type, json!({"id": "X"}), json!({"id": "Y"})), modified_only, "{entity_type}");
            assert_eq!(derived(entity_type, json!({"id": "X"}), NULL), modified_only, "{entity_type}");
        }
    }

    #[test]
    fn conveyancing_creation_emits_nothing() {
        let file = json!({"id": "RPT1", "propertyId": "RPT2", "contractSent": null});
        assert_eq!(derived(EntityType::Conveyancing, NULL, file), Vec::<&str>::new());
    }

    #[test]
    fn appointment_cancellation() {
        let cancelled = |c: bool| json!({"cancelled": c});
        check(
            EntityType::Appointments,
            vec![
                ("cancelled", cancelled(false), cancelled(true), "cancelled modified"),
                ("cancelled, absent before", json!({}), cancelled(true), "cancelled modified"),
                ("created as cancelled", NULL, cancelled(true), "cancelled created"),
                ("created not cancelled", NULL, cancelled(false), "created"),
                (
                    "already cancelled",
                    json!({"cancelled": true, "description": "a"}),
                    json!({"cancelled": true, "description": "b"}),
                    "modified",
                ),
                ("reinstated", cancelled(true), cancelled(false), "modified"),
                ("not a boolean", cancelled(false), json!({"cancelled": "true"}), "modified"),
                ("deleted", cancelled(true), NULL, "modified"),
            ],
        );
    }

    #[test]
    fn appointment_confirmation() {
        let all = json!({"negotiatorConfirmed": true, "attendeeConfirmed": true, "propertyConfirmed": true});
        let partly = json!({"negotiatorConfirmed": true, "attendeeConfirmed": false, "propertyConfirmed": true});
        let null_flag = json!({"negotiatorConfirmed": true, "attendeeConfirmed": null, "propertyConfirmed": true});
        check(
            EntityType::Appointments,
            vec![
                ("the last party confirms", partly.clone(), all.clone(), "confirmed modified"),
                ("created confirmed", NULL, all.clone(), "confirmed created"),
                ("created with one flag, true", NULL, json!({"negotiatorConfirmed": true}), "confirmed created"),
                ("created with no flag", NULL, json!({"description": "viewing"}), "created"),
                ("created partly confirmed", NULL, partly.clone(), "created"),
                ("a null flag counts as absent", partly.clone(), null_flag, "confirmed modified"),
                ("only null flags", NULL, json!({"negotiatorConfirmed": null, "attendeeConfirmed": null}), "created"),
                (
                    "already confirmed",
                    json!({"negotiatorConfirmed": true, "description": "a"}),
                    json!({"negotiatorConfirmed": true, "description": "b"}),
                    "modified",
                ),
                ("a party withdraws", all.clone(), partly, "modified"),
                ("a flag that is not a boolean", json!({}), json!({"negotiatorConfirmed": "yes"}), "modified"),
                ("deleted", all, NULL, "modified"),
                (
                    "cancelled and confirmed at once",
                    json!({"cancelled": false, "attendeeConfirmed": false}),
                    json!({"cancelled": true, "attendeeConfirmed": true}),
                    "cancelled confirmed modified",
                ),
            ],
        );
    }

    #[test]
    fn contact_opting_out() {
        let consent = |c: &str| json!({"marketingConsent": c});
        check(
            EntityType::Contacts,
            vec![
                ("grant to deny", consent("grant"), consent("deny"), "modified optedout"),
                ("notAsked to deny", consent("notAsked"), consent("deny"), "modified optedout"),
                ("deny, absent before", json!({}), consent("deny"), "modified optedout"),
                ("created denying", NULL, consent("deny"), "created optedout"),
                ("created granting", NULL, consent("grant"), "created"),
                (
                    "already denied",
                    json!({"marketingConsent": "deny", "surname": "Smith"}),
                    json!({"marketingConsent": "deny", "surname": "Smyth"}),
                    "modified",
                ),
                ("deny to grant", consent("deny"), consent("grant"), "modified"),
                ("another spelling", consent("grant"), consent("Deny"), "modified"),
                ("deleted", consent("deny"), NULL, "modified"),
            ],
        );
    }

    #[test]
    fn enquiry_acceptance_and_rejection_happen_on_modification_only() {
        let status = |s: &str| json!({"status": s});
        check(
            EntityType::Enquiries,
            vec![
                ("accepted", status("pending"), status("added"), "accepted modified"),
                ("rejected", status("pending"), status("rejected"), "modified rejected"),
                ("added, then rejected", status("added"), status("rejected"), "modified rejected"),
                ("created as added", NULL, status("added"), "created"),
                ("created as rejected", NULL, status("rejected"), "created"),
                (
                    "already added",
                    json!({"status": "added", "message": "a"}),
                    json!({"status": "added", "message": "b"}),
                    "modified",
                ),
                ("marked as spam", status("pending"), status("spam"), "modified"),
                ("deleted", status("added"), NULL, "modified"),
            ],
        );
    }

    #[test]
    fn offer_statuses_follow_the_contract_not_the_seeds_swapped_descriptions() {
        let status = |s: &str| json!({"status": s});
        check(
            EntityType::Offers,
            vec![
                ("accepted", status("pending"), status("accepted"), "accepted modified"),
                ("rejected", status("pending"), status("rejected"), "modified rejected"),
                ("withdrawn", status("pending"), status("withdrawn"), "modified withdrawn"),
                ("accepted, then withdrawn", status("accepted"), status("withdrawn"), "modified withdrawn"),
                ("created accepted", NULL, status("accepted"), "accepted created"),
                ("created rejected", NULL, status("rejected"), "created rejected"),
                ("created withdrawn", NULL, status("withdrawn"), "created withdrawn"),
                ("created pending", NULL, status("pending"), "created"),
                (
                    "already accepted",
                    json!({"status": "accepted", "amount": 250000}),
                    json!({"status": "accepted", "amount": 255000}),
                    "modified",
                ),
                ("back to pending", status("noteOfInterest"), status("pending"), "modified"),
                ("deleted", status("accepted"), NULL, "modified"),
            ],
        );
    }

    #[test]
    fn property_selling_statuses() {
        let selling = |status: &str| json!({"selling": {"status": status, "price": 450000}});
        check(
            EntityType::Properties,
            vec![
                ("under offer", selling("forSale"), selling("underOffer"), "modified selling.underoffer"),
                (
                    "under offer, unavailable",
                    selling("forSaleUnavailable"),
                    selling("underOfferUnavailable"),
                    "modified selling.underoffer",
                ),
                (
                    "between the two under-offer statuses",
                    selling("underOffer"),
                    selling("underOfferUnavailable"),
                    "modified",
                ),
                ("created under offer", NULL, selling("underOfferUnavailable"), "created selling.underoffer"),
                ("exchanged", selling("underOffer"), selling("exchanged"), "modified selling.exchanged"),
                ("completed", selling("exchanged"), selling("completed"), "modified selling.completed"),
                ("withdrawn", selling("forSale"), selling("withdrawn"), "modified selling.withdrawn"),
                ("created completed", NULL, selling("completed"), "created selling.completed"),
                ("created exchanged", NULL, selling("exchanged"), "created selling.exchanged"),
                ("created withdrawn", NULL, selling("withdrawn"), "created selling.withdrawn"),
                (
                    "already completed",
                    json!({"bedrooms": 3, "selling": {"status": "completed"}}),
                    json!({"bedrooms": 4, "selling": {"status": "completed"}}),
                    "modified",
                ),
                (
                    "a top-level status is not the selling status",
                    json!({"status": "a"}),
                    json!({"status": "completed"}),
                    "modified",
                ),
                ("deleted", selling("underOffer"), NULL, "modified"),
            ],
        );
    }

    #[test]
    fn a_property_is_instructed_only_from_the_three_pre_instruction_statuses() {
        let selling = |status: Value| json!({"selling": {"status": status}});
        let mut cases: Vec<Case> = Vec::new();
        for from in ["preAppraisal", "valuation", "paidValuation"] {
            for to in ["forSale", "forSaleUnavailable"] {
                cases.push((
                    "a pre-instruction status",
                    selling(json!(from)),
                    selling(json!(to)),
                    "modified selling.instructed",
                ));
            }
        }
        for from in [json!("underOffer"), json!("withdrawn"), json!("forSaleUnavailable"), json!(null)] {
            cases.push(("any other status", selling(from), selling(json!("forSale")), "modified"));
        }
        cases.extend([
            ("no selling section before", json!({}), selling(json!("forSale")), "modified"),
            ("created for sale", NULL, selling(json!("forSale")), "created selling.instructed"),
            ("created for sale, unavailable", NULL, selling(json!("forSaleUnavailable")), "created selling.instructed"),
            ("created at valuation", NULL, selling(json!("valuation")), "created"),
            ("valued, not instructed", selling(json!("preAppraisal")), selling(json!("valuation")), "modified"),
            ("deleted", selling(json!("valuation")), NULL, "modified"),
        ]);
        check(EntityType::Properties, cases);
    }

    #[test]
    fn a_property_asking_price_change_needs_a_price_on_both_sides() {
        let priced = |price: Value| json!({"selling": {"status": "forSale", "price": price}});
        let at = |status: &str, price: u32| json!({"selling": {"status": status, "price": price}});
        check(
            EntityType::Properties,
            vec![
                ("reduced", priced(json!(450000)), priced(json!(435000)), "modified selling.askingpricechanged"),
                ("the same number written differently", priced(json!(450000)), priced(json!(450000.0)), "modified"),
                ("first priced", priced(json!(null)), priced(json!(450000)), "modified"),
                ("price removed", priced(json!(450000)), json!({"selling": {"status": "forSale"}}), "modified"),
                ("created with a price", NULL, priced(json!(450000)), "created selling.instructed"),
                (
                    "another field changed",
                    json!({"bedrooms": 3, "selling": {"price": 450000}}),
                    json!({"bedrooms": 4, "selling": {"price": 450000}}),
                    "modified",
                ),
                ("deleted", priced(json!(450000)), NULL, "modified"),
                (
                    "instructed with a new price",
                    at("valuation", 450000),
                    at("forSale", 475000),
                    "modified selling.askingpricechanged selling.instructed",
                ),
            ],
        );
    }

    #[test]
    fn a_property_instruction_is_lost_when_its_lost_instruction_date_is_first_set() {
        let lost = |date: Value| json!({"lostInstructionDate": date, "selling": {"status": "valuation"}});
        let date = || json!("2024-03-14");
        check(
            EntityType::Properties,
            vec![
                ("set", lost(json!(null)), lost(date()), "modified selling.lostinstruction"),
                (
                    "set, absent before",
                    json!({}),
                    json!({"lostInstructionDate": date()}),
                    "modified selling.lostinstruction",
                ),
                ("created lost", NULL, lost(date()), "created selling.lostinstruction"),
                ("created not lost", NULL, lost(json!(null)), "created"),
                ("another date", lost(date()), lost(json!("2024-03-15")), "modified"),
                ("cleared", lost(date()), lost(json!(null)), "modified"),
                (
                    "only the top-level date counts",
                    json!({"selling": {"lostInstructionDate": null}}),
                    json!({"selling": {"lostInstructionDate": date()}}),
                    "modified",
                ),
                ("deleted", lost(date()), NULL, "modified"),
            ],
        );
    }

    #[test]
    fn works_order_statuses_including_raised_on_creation_without_any_created_topic() {
        let status = |s: &str| json!({"status": s});
        check(
            EntityType::Worksorders,
            vec![
                ("created raised", NULL, status("raised"), "raised"),
                ("created complete", NULL, status("complete"), "complete"),
                ("created cancelled", NULL, status("cancelled"), "cancelled"),
                ("created pending approval", NULL, status("pendingApproval"), ""),
                ("raised", status("pendingApproval"), status("raised"), "modified raised"),
                ("completed", status("raised"), status("complete"), "complete modified"),
                ("cancelled", status("raised"), status("cancelled"), "cancelled modified"),
                ("chased", status("raised"), status("raisedToChase"), "modified"),
                (
                    "already raised",
                    json!({"status": "raised", "description": "a"}),
                    json!({"status": "raised", "description": "b"}),
                    "modified",
                ),
                ("deleted", status("raised"), NULL, "modified"),
            ],
        );
    }

    #[test]
    fn vendors_are_created_when_old_is_null() {
        check(
            EntityType::Vendors,
            vec![
                ("associated for the first time", NULL, json!({"id": "RPT1"}), "created"),
                ("modified", json!({"nextCall": null}), json!({"nextCall": "2024-04-01"}), "modified"),
                ("deleted", json!({"id": "RPT1"}), NULL, "modified"),
            ],
        );
    }

    #[test]
    fn status_words_of_one_entity_type_never_emit_another_types_topics() {
        for entity_type in [EntityType::Tenancies, EntityType::Contacts, EntityType::Identitychecks] {
            let expected = [format!("{entity_type}.modified")];
            for status in ["accepted", "rejected", "withdrawn", "raised", "complete", "cancelled", "added"] {
                let topics = derived(entity_type, json!({"status": "pending"}), json!({"status": status}));
                assert_eq!(topics, expected, "{entity_type} {status}");
            }
        }
    }

    #[test]
    fn topics_md_states_every_rule_and_scope_as_the_code_does() {
        let doc = include_str!("../../../docs/TOPICS.md");
        for topic in topics::all() {
            let row = format!("| `{}` |", topic.id);
            let line = doc.lines().find(|l| l.starts_with(&row));
            let line = line.unwrap_or_else(|| panic!("docs/TOPICS.md has no row for {}", topic.id));
            let scope = topic.scope.map(|s| format!("`{s}`")).unwrap_or_else(|| "none".into());
            assert!(line.contains(&format!("| {scope} |")), "docs/TOPICS.md states another scope for {}", topic.id);
            let rule = rule_for(topic.id).map(|r| r.rule).or_else(|| crate::operational::rule_for(topic.id));
            if let Some(rule) = rule {
                assert!(line.ends_with(&format!("| {rule} |")), "docs/TOPICS.md states another rule for {}", topic.id);
            }
        }
    }
}
