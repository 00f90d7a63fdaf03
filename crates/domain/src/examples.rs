//! Example entities and the example changes that Ping sends (contract §5.2, §5.3).
//!
//! One realistic entity per entity type, with the field names of the Reapit Foundations API models (the contact is
//! the seed's own example), and for every topic an `old`/`new` pair for which that topic's rule holds. The examples are
//! data only: rendering them into a payload, and sending it, happen elsewhere.

use serde_json::{json, Value};

use crate::change::Entity;
use crate::json::{Json, Object};
use crate::{EntityType, Topic, PING_CUSTOMER};

/// `modified` of the `old` side of a modification example (the `new` side's is later).
const EARLIER: &str = "2024-03-13T11:40:05Z";

/// `_eTag` of the `old` side of a modification example.
const OLD_ETAG: &str = "\"0C3D4F7B9E2A41C6B8D5E7F90A1B2C3D\"";

/// The client id and Herald id of the application in the `application.*` examples.
const EXAMPLE_CLIENT_ID: &str = "2k8mpln7c4sbhqg3d1v6tr5j9e";
const EXAMPLE_APPLICATION_ID: &str = "0190a4c2-7b1e-7c3d-9f2a-5e8b1d4c6a70";

/// A realistic entity of this type.
pub fn example_entity(entity_type: EntityType) -> Entity {
    object(match entity_type {
        EntityType::Applicants => applicant(),
        EntityType::Appointments => appointment(),
        EntityType::Companies => company(),
        EntityType::Contacts => contact(),
        EntityType::Conveyancing => conveyancing(),
        EntityType::Documents => document(),
        EntityType::Enquiries => enquiry(),
        EntityType::Identitychecks => identity_check(),
        EntityType::Landlords => landlord(),
        EntityType::Offers => offer(),
        EntityType::Offices => office(),
        EntityType::Properties => property(),
        EntityType::Tenancies => tenancy(),
        EntityType::Vendors => vendor(),
        EntityType::Worksorders => works_order(),
    })
}

/// The `old` and `new` sides of an example change for which this topic's rule holds (for `application.*`, `new` is
/// the install payload of contract §8.4 and `old` is `None`).
///
/// A `.created` example has no `old`; every other example is a modification whose `old` side has an earlier
/// `modified` and another `_eTag`. A `.modified` example changes one ordinary field and nothing that emits another
/// topic; a status topic's example makes exactly its transition.
pub fn example_change(topic: &Topic) -> (Option<Entity>, Option<Entity>) {
    use EntityType::*;
    let (status, selling_status) = (&["status"][..], &["selling", "status"][..]);
    match topic.id {
        "appointments.cancelled" => modification(Appointments, |_| {}, |new| set(new, &["cancelled"], json!(true))),
        "appointments.confirmed" => modification(
            Appointments,
            |_| {},
            |new| {
                set(new, &["attendeeConfirmed"], json!(true));
                set(new, &["propertyConfirmed"], json!(true));
            },
        ),
        "contacts.modified" => modification(
            Contacts,
            // The seed's own example: the `old` of its contacts.modified payload.
            |old| {
                set(old, &["modified"], Value::Null);
                set(old, &["mobilePhone"], Value::Null);
                set(old, &["primaryAddress", "buildingNumber"], json!("1"));
                set(old, &["_eTag"], json!("\"65D680519E9762519D203891A694B85B\""));
            },
            |_| {},
        ),
        "contacts.optedout" => modification(Contacts, |_| {}, |new| set(new, &["marketingConsent"], json!("deny"))),
        "enquiries.accepted" => modification(Enquiries, |_| {}, |new| set(new, status, json!("added"))),
        "enquiries.rejected" => modification(Enquiries, |_| {}, |new| set(new, status, json!("rejected"))),
        "offers.accepted" => modification(Offers, |_| {}, |new| set(new, status, json!("accepted"))),
        "offers.rejected" => modification(Offers, |_| {}, |new| set(new, status, json!("rejected"))),
        "offers.withdrawn" => modification(Offers, |_| {}, |new| set(new, status, json!("withdrawn"))),
        "properties.selling.askingpricechanged" => {
            modification(Properties, |old| set(old, &["selling", "price"], json!(465000)), |_| {})
        }
        "properties.selling.completed" => modification(
            Properties,
            |old| {
                set(old, selling_status, json!("exchanged"));
                set(old, &["selling", "exchanged"], json!("2024-02-23"));
            },
            |new| {
                set(new, selling_status, json!("completed"));
                set(new, &["selling", "exchanged"], json!("2024-02-23"));
                set(new, &["selling", "completed"], json!("2024-03-14"));
            },
        ),
        "properties.selling.exchanged" => modification(
            Properties,
            |old| set(old, selling_status, json!("underOffer")),
            |new| {
                set(new, selling_status, json!("exchanged"));
                set(new, &["selling", "exchanged"], json!("2024-03-14"));
            },
        ),
        "properties.selling.instructed" => modification(
            Properties,
            |old| {
                set(old, selling_status, json!("valuation"));
                set(old, &["selling", "instructed"], Value::Null);
            },
            |new| set(new, &["selling", "instructed"], json!("2024-03-14")),
        ),
        "properties.selling.lostinstruction" => modification(
            Properties,
            |old| {
                set(old, selling_status, json!("valuation"));
                set(old, &["selling", "instructed"], Value::Null);
            },
            |new| {
                set(new, selling_status, json!("valuation"));
                set(new, &["selling", "instructed"], Value::Null);
                set(new, &["lostInstructionDate"], json!("2024-03-14"));
                set(new, &["lostInstructionNote"], json!("Vendor instructed another agent"));
            },
        ),
        "properties.selling.underoffer" => {
            modification(Properties, |_| {}, |new| set(new, selling_status, json!("underOffer")))
        }
        "properties.selling.withdrawn" => {
            modification(Properties, |_| {}, |new| set(new, selling_status, json!("withdrawn")))
        }
        "worksorders.cancelled" => modification(Worksorders, |_| {}, |new| set(new, status, json!("cancelled"))),
        "worksorders.complete" => modification(
            Worksorders,
            |_| {},
            |new| {
                set(new, status, json!("complete"));
                set(new, &["completed"], json!("2024-03-14"));
            },
        ),
        "worksorders.raised" => modification(Worksorders, |old| set(old, status, json!("pendingApproval")), |_| {}),
        id => match topic.entity_type {
            None if crate::operational::is_operational(id) => (None, Some(operational_payload())),
            None => (None, Some(application_payload())),
            Some(entity_type) if id.ends_with(".created") => (None, Some(example_entity(entity_type))),
            Some(entity_type) => ordinary_modification(entity_type),
        },
    }
}

/// The `new` of an `application.*` event (contract §8.4):
/// `application.install` and `application.uninstall` carry the same fields.
fn application_payload() -> Entity {
    object(json!({
        "customerId": PING_CUSTOMER,
        "customerName": "Reapit Estates (webhook test)",
        "customerEmail": "webhooks@reapitestates.net",
        "applicationId": EXAMPLE_CLIENT_ID,
        "internalAppId": EXAMPLE_APPLICATION_ID,
        "applicationName": "Example Property Portal",
    }))
}

/// The `new` of a `webhooks.*` event (contract §9.4), for a failing webhook.
fn operational_payload() -> Entity {
    object(json!({
        "webhookId": "0190a4c2-7b1e-7c3d-9f2a-5e8b1d4c6a71",
        "url": "https://example.net/webhooks",
        "failingSince": "2020-05-13T09:30:00Z",
        "disabledReason": null,
        "lastAttempt": {
            "timeStamp": "2020-05-13T09:33:16.881Z",
            "statusCode": 500,
            "error": null,
            "topicId": "contacts.modified",
            "eventId": "0190a4c2-7b1e-7c3d-9f2a-5e8b1d4c6a72",
        },
    }))
}

/// A `.modified` example: one ordinary field of the entity differs, besides `modified` and `_eTag`.
fn ordinary_modification(entity_type: EntityType) -> (Option<Entity>, Option<Entity>) {
    let (path, old_value): (&[&str], Value) = match entity_type {
        EntityType::Applicants => (&["buying", "priceTo"], json!(400000)),
        EntityType::Appointments => (&["start"], json!("2024-03-18T09:00:00Z")),
        EntityType::Companies => (&["workPhone"], json!("01255 421999")),
        EntityType::Contacts => (&["mobilePhone"], Value::Null),
        EntityType::Conveyancing => (&["searchesReceived"], Value::Null),
        EntityType::Documents => (&["name"], json!("12 High Street floor plan (draft).pdf")),
        EntityType::Enquiries => (&["mobilePhone"], Value::Null),
        EntityType::Identitychecks => (&["status"], json!("pending")),
        EntityType::Landlords => (&["solicitorId"], Value::Null),
        EntityType::Offers => (&["amount"], json!(430000)),
        EntityType::Offices => (&["manager"], json!("Tom Harris")),
        EntityType::Properties => (&["strapline"], json!("Three bedroom home close to the seafront")),
        EntityType::Tenancies => (&["rent"], json!(1150)),
        EntityType::Vendors => (&["nextCall"], json!("2024-03-15")),
        EntityType::Worksorders => (&["required"], json!("2024-03-28")),
    };
    modification(entity_type, |old| set(old, path, old_value), |_| {})
}

/// A modification of the example entity: `old` is the entity with an earlier `modified` and another `_eTag`, then
/// `before` applied; `new` is the entity with `after` applied.
fn modification(
    entity_type: EntityType,
    before: impl FnOnce(&mut Entity),
    after: impl FnOnce(&mut Entity),
) -> (Option<Entity>, Option<Entity>) {
    let mut old = example_entity(entity_type);
    let mut new = old.clone();
    set(&mut old, &["modified"], json!(EARLIER));
    set(&mut old, &["_eTag"], json!(OLD_ETAG));
    before(&mut old);
    after(&mut new);
    (Some(old), Some(new))
}

/// Sets the value at `path`, making objects on the way as needed; an existing key keeps its place.
fn set(entity: &mut Entity, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut object = entity;
    for key in parents {
        if object.get(key).and_then(Json::as_object).is_none() {
            object.insert(*key, Json::Object(Object::new()));
        }
        object = match object.get_mut(key) {
            Some(Json::Object(inner)) => inner,
            _ => return,
        };
    }
    object.insert(*last, value.into());
}

/// The object of a `json!({...})` literal.
fn object(value: Value) -> Entity {
    match value {
        Value::Object(map) => map.into(),
        _ => Entity::new(),
    }
}

const CREATED: &str = "2024-03-11T10:21:43Z";
const MODIFIED: &str = "2024-03-14T16:02:51Z";

fn address(building_number: &str, line1: &str, postcode: &str) -> Value {
    json!({
        "type": "primary",
        "buildingName": "",
        "buildingNumber": building_number,
        "line1": line1,
        "line2": "Clacton-On-Sea",
        "line3": "Essex",
        "line4": "",
        "postcode": postcode,
        "countryId": "GB"
    })
}

fn related_contact(id: &str, name: &str, mobile: &str, email: &str) -> Value {
    json!({
        "id": id,
        "name": name,
        "type": "contact",
        "homePhone": null,
        "workPhone": null,
        "mobilePhone": mobile,
        "email": email
    })
}

/// The seed's contact, as an applicant, an offer or an appointment relates to him.
fn john_smith() -> Value {
    related_contact("RPT20000029", "Mr John Smith", "07123 456789", "john.smith@reapitestates.net")
}

fn applicant() -> Value {
    json!({
        "id": "RPT24000107", "created": CREATED, "modified": MODIFIED, "marketingMode": "buying", "currency": "GBP",
        "active": true, "notes": "Wants to move before the autumn school term", "sellingStatus": "forSale",
        "sellingPosition": "instructedThisAgent", "lastCall": "2024-03-12", "nextCall": "2024-03-19",
        "departmentId": "G", "solicitorId": null, "potentialClient": false,
        "source": { "id": "RMV", "type": "source" }, "buying": { "priceFrom": 350000, "priceTo": 450000 },
        "renting": null, "bedroomsMin": 3, "bedroomsMax": 4, "receptionsMin": 1, "bathroomsMin": 1,
        "parkingSpacesMin": 1, "type": ["house"], "style": ["detached", "semiDetached"], "locationType": "areas",
        "locationOptions": ["CLA"], "officeIds": ["RPT"], "negotiatorIds": ["JAS"],
        "related": [john_smith()],
        "metadata": {},
        "_eTag": "\"A3F9C1D27B8E4F60915D2C7E8B4A6F13\""
    })
}

fn appointment() -> Value {
    json!({
        "id": "RPT24000388", "created": CREATED, "modified": MODIFIED, "start": "2024-03-18T10:00:00Z",
        "end": "2024-03-18T10:30:00Z", "typeId": "VW", "description": "Viewing of 12 High Street", "recurring": false,
        "cancelled": false, "followUp": { "due": "2024-03-19", "responseId": null, "notes": "" },
        "propertyId": "RPT240012", "organiserId": "JAS", "negotiatorIds": ["JAS"], "officeIds": ["RPT"],
        "attendee": {
            "id": "RPT24000107", "type": "applicant",
            "contacts": [john_smith()]
        },
        "accompanied": true, "virtual": false, "negotiatorConfirmed": true, "attendeeConfirmed": false,
        "propertyConfirmed": false, "fromArchive": false, "metadata": {},
        "_eTag": "\"5B2E8D41C6F7A9031E4D8B6C2A7F0E95\""
    })
}

fn company() -> Value {
    json!({
        "id": "RPT24000052", "created": CREATED, "modified": MODIFIED, "name": "Clacton Building Services Ltd",
        "branch": "Head office", "notes": "Preferred contractor for plumbing and general repairs", "active": true,
        "marketingConsent": "grant", "vatRegistered": true, "typeIds": ["CTR"], "supplierTypeId": "BLD",
        "workPhone": "01255 422000", "mobilePhone": null, "email": "enquiries@clactonbuildingservices.co.uk",
        "address": {
            "buildingName": "Unit 4", "buildingNumber": "", "line1": "Brook Park", "line2": "Clacton-On-Sea",
            "line3": "Essex", "line4": "", "postcode": "CO15 4XB",
            "countryId": "GB"
        },
        "metadata": {},
        "_eTag": "\"C81F3A6E29D04B57A8E1F6C3D9B2074E\""
    })
}

/// The `new` contact of the seed's example payload, exactly.
fn contact() -> Value {
    json!({
        "id": "RPT20000029", "created": "2020-05-13T09:32:24Z", "modified": "2020-05-13T09:33:10Z", "title": "Mr",
        "forename": "John", "surname": "Smith", "dateOfBirth": null, "active": true, "marketingConsent": "notAsked",
        "identityCheck": "unchecked", "source": null, "homePhone": null, "workPhone": null,
        "mobilePhone": "07123 456789", "email": "john.smith@reapitestates.net",
        "primaryAddress": address("12", "High Street", "CO15 1AE"), "secondaryAddress": null, "workAddress": null,
        "officeIds": ["RPT"], "negotiatorIds": ["RPT"],
        "_eTag": "\"4DF107A6EB05D792EEAFDF1432F6E275\""
    })
}

fn conveyancing() -> Value {
    let parties = json!({
        "id": "RPT24000061", "created": CREATED, "modified": MODIFIED, "propertyId": "RPT240012",
        "propertyAddress": "12 High Street, Clacton-On-Sea, Essex, CO15 1AE", "vendor": "Mr David Brown",
        "vendorId": "RPT24000031", "vendorSolicitorId": "RPT24000440", "buyer": "Mr John Smith",
        "buyerId": "RPT24000107", "buyerSolicitorId": "RPT24000441", "externalAgent": null, "externalAgentId": null,
        "upwardChainId": null,
        "downwardChainId": null
    });
    // Two literals: one would pass the `json!` macro's recursion limit.
    let progress = json!({
        "fixturesAndFittingsCompleted": "2024-03-12", "deedsRequested": "2024-03-08", "deedsReceived": "2024-03-12",
        "enquiriesSent": "2024-03-12", "enquiriesAnswered": null, "searchesPaid": "2024-03-11",
        "searchesApplied": "2024-03-11", "searchesReceived": "2024-03-14", "contractSent": "2024-03-12",
        "contractReceived": "2024-03-13", "contractApproved": null, "contractVendorSigned": null,
        "contractBuyerSigned": null, "mortgageRequired": "yes", "mortgageLoanPercentage": 75,
        "mortgageSubmitted": "2024-03-06", "mortgageOfferReceived": null, "mortgageLenderId": "RPT24000450",
        "mortgageBrokerId": null, "mortgageSurveyDate": "2024-03-20", "mortgageSurveyorId": null,
        "additionalSurveyRequired": "no", "additionalSurveyDate": null, "additionalSurveyorId": null,
        "exchangedVendor": null, "exchangedBuyer": null, "completion": null, "metadata": {},
        "_eTag": "\"E02B7C94F1A3D6588C0E2F7A4B9D1C36\""
    });
    let (Value::Object(mut whole), Value::Object(progress)) = (parties, progress) else { return Value::Null };
    whole.extend(progress);
    Value::Object(whole)
}

fn document() -> Value {
    json!({
        "id": "RPT24000213", "created": CREATED, "modified": MODIFIED, "associatedType": "property",
        "associatedId": "RPT240012", "isPrivate": false, "typeId": "FLP", "name": "12 High Street floor plan.pdf",
        "metadata": {},
        "_eTag": "\"7D4A1E8F3B6C290D5E7A8B1C4F2D6E09\""
    })
}

fn enquiry() -> Value {
    json!({
        "id": 2041, "created": CREATED, "modified": MODIFIED, "title": "Mrs", "forename": "Sarah", "surname": "Jones",
        "enquiryType": "salesApplicant", "message": "Could I view 12 High Street this weekend?", "status": "pending",
        "marketingConsent": "grant", "position": "renting", "officeId": "RPT", "sourceName": "Rightmove",
        "homePhone": null, "workPhone": null, "mobilePhone": "07700 900123", "email": "sarah.jones@example.com",
        "address": address("3", "Pier Avenue", "CO15 1QE"), "propertyIds": ["RPT240012"],
        "buying": { "priceFrom": 400000, "priceTo": 475000 }, "bedrooms": 3,
        "_eTag": "\"1F6C3B9A8E2D47053A1B9E6D4C8F7A20\""
    })
}

fn identity_check() -> Value {
    json!({
        "id": "RPT24000029", "contactId": "RPT20000029", "created": CREATED, "modified": MODIFIED,
        "checkDate": "2024-03-14", "status": "pass", "negotiatorId": "JAS",
        "identityDocument1": {
            "typeId": "PP", "expiry": "2031-06-30", "details": "Passport 123456789",
            "documentId": "RPT24000214"
        },
        "identityDocument2": {
            "typeId": "UB", "expiry": "2024-06-14", "details": "Council tax bill",
            "documentId": "RPT24000215"
        },
        "metadata": {},
        "_eTag": "\"9A0E5D2C7F1B43861D9C0A5E3B7F2D84\""
    })
}

fn landlord() -> Value {
    json!({
        "id": "RPT24000074", "created": CREATED, "modified": MODIFIED, "active": true, "solicitorId": "RPT24000440",
        "officeId": "RPT", "source": { "id": "RPT", "type": "office" },
        "related": [related_contact("RPT24000090", "Ms Emma Taylor", "07700 900456", "emma.taylor@example.com")],
        "metadata": {},
        "_eTag": "\"3E8B0F6A1D5C29747B3E0D8A6C1F5B92\""
    })
}

fn offer() -> Value {
    json!({
        "id": "RPT24000118", "created": CREATED, "modified": MODIFIED, "currency": "GBP",
        "applicantId": "RPT24000107", "propertyId": "RPT240012", "negotiatorId": "JAS", "date": "2024-03-14",
        "amount": 440000, "status": "pending", "inclusions": "Carpets and curtains", "exclusions": "Garden shed",
        "conditions": "Subject to survey",
        "related": [john_smith()],
        "metadata": {},
        "_eTag": "\"B64D2A9F0E3C17585F2B9C0D7E4A1F63\""
    })
}

fn office() -> Value {
    json!({
        "id": "RPT", "created": CREATED, "modified": MODIFIED, "name": "Reapit Estates Clacton",
        "manager": "Jane Stevens", "active": true, "region": "East",
        "address": address("27", "Station Road", "CO15 1SJ"), "workPhone": "01255 400400",
        "email": "clacton@reapitestates.net", "metadata": {},
        "_eTag": "\"F27C8E1B4A9D06325C8F1E4B7A0D3C58\""
    })
}

fn property() -> Value {
    json!({
        "id": "RPT240012", "created": CREATED, "modified": MODIFIED, "marketingMode": "selling", "currency": "GBP",
        "alternateId": "",
        "address": {
            "buildingName": "", "buildingNumber": "12", "line1": "High Street", "line2": "Clacton-On-Sea",
            "line3": "Essex", "line4": "", "postcode": "CO15 1AE", "countryId": "GB",
            "geolocation": { "latitude": 51.7897, "longitude": 1.1537 }
        },
        "areaId": "CLA", "strapline": "Three bedroom family home moments from the seafront",
        "description": "A bright semi-detached house with a south-facing garden and off-street parking.",
        "summary": "Three bedrooms, two receptions, garden, parking", "departmentId": "G", "negotiatorId": "JAS",
        "bedrooms": 3, "receptions": 2, "bathrooms": 1, "councilTax": "C", "internetAdvertising": true,
        "viewingArrangements": "Accompanied viewings only", "videoUrl": "", "videoCaption": "", "notes": "",
        "boardStatus": "S", "boardNotes": "", "boardUpdated": "2024-03-12",
        "epc": { "exempt": false, "eer": 68, "eerPotential": 81, "eir": 63, "eirPotential": 77 },
        "selling": {
            "instructed": "2024-03-12", "price": 450000, "qualifier": "askingPrice", "status": "forSale",
            "disposal": "privateTreaty", "completed": null, "exchanged": null, "accountPaid": null,
            "tenure": { "type": "freehold", "expiry": null }, "vendorId": "RPT24000031", "agency": "soleAgent",
            "fee": { "type": "percentage", "amount": 1.25 }, "recommendedPrice": 450000,
            "brochureId": null
        },
        "type": ["house"], "style": ["semiDetached"], "situation": ["garden"], "parking": ["offStreet"],
        "age": ["period"], "locality": ["townCity"], "officeIds": ["RPT"], "lostInstructionDate": null,
        "lostInstructionNote": "", "metadata": {},
        "_eTag": "\"6C1A9E4D2F8B37050A6C9D2E8F1B4A77\""
    })
}

fn tenancy() -> Value {
    json!({
        "id": "RPT24000095", "created": CREATED, "modified": MODIFIED, "startDate": "2024-04-01",
        "endDate": "2025-03-31", "status": "arranging", "agentRole": "managed", "rent": 1200,
        "rentFrequency": "monthly", "endDateConfirmed": false, "isPeriodic": false,
        "rentInstalmentsFrequency": "monthly", "rentInstalmentsAmount": 1200, "rentInstalmentsStart": "2024-04-01",
        "meterReadingGas": "", "meterReadingGasLastRead": null, "meterReadingElectricity": "",
        "meterReadingElectricityLastRead": null, "meterReadingWater": "", "meterReadingWaterLastRead": null,
        "typeId": "AST", "negotiatorId": "JAS", "propertyId": "RPT240077", "applicantId": "RPT24000132",
        "source": { "id": "RPT", "type": "office" },
        "related": [related_contact("RPT24000133", "Mr Oliver Green", "07700 900789", "oliver.green@example.com")],
        "fromArchive": false, "metadata": {},
        "_eTag": "\"2D9F6B3E0A7C41858E2D6F3A9C0B7E14\""
    })
}

fn vendor() -> Value {
    json!({
        "id": "RPT24000031", "created": CREATED, "modified": MODIFIED, "lastCall": "2024-03-12",
        "nextCall": "2024-03-19", "typeId": "VEN", "sellingReasonId": "UPS", "solicitorId": "RPT24000440",
        "propertyId": "RPT240012", "source": { "id": "RPT", "type": "office" },
        "related": [related_contact("RPT24000033", "Mr David Brown", "07700 900321", "david.brown@example.com")],
        "negotiatorId": "JAS", "officeIds": ["RPT"], "archivedOn": null, "fromArchive": false, "metadata": {},
        "_eTag": "\"8E3C0A7F5B1D29646F3E8C1A5D9B0F72\""
    })
}

fn works_order() -> Value {
    json!({
        "id": "RPT24000046", "created": CREATED, "modified": MODIFIED, "companyId": "RPT24000052",
        "propertyId": "RPT240077", "tenancyId": "RPT24000095", "negotiatorId": "JAS", "typeId": "PLB",
        "status": "raised", "description": "Kitchen mixer tap leaking", "reporter": "tenant", "booked": "2024-03-14",
        "required": "2024-03-21", "completed": null, "totalNetAmount": 85, "totalVatAmount": 17,
        "totalGrossAmount": 102,
        "items": [{
            "id": "RPT24000047", "worksOrderId": "RPT24000046", "notes": "Replace kitchen mixer tap",
            "chargeTo": "landlord", "estimate": 85, "estimateType": "agent", "netAmount": 85, "vatAmount": 17,
            "reserveAmount": 0
        }],
        "metadata": {},
        "_eTag": "\"4F0D7B2A9C6E18535D4F0A7C2E9B6D31\""
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::derive_topics;
    use crate::{topics, Change, PING_ENTITY_ID};

    fn change_of(topic: &Topic) -> Change {
        let (old, new) = example_change(topic);
        let entity_type = topic.entity_type.unwrap_or_else(|| panic!("{} has no entity type", topic.id));
        Change { customer_id: PING_CUSTOMER.into(), entity_type, entity_id: PING_ENTITY_ID.into(), old, new }
    }

    fn derived_ids(change: &Change) -> Vec<&'static str> {
        derive_topics(change).into_iter().map(|t| t.id).collect()
    }

    fn entity_topics() -> impl Iterator<Item = &'static Topic> {
        topics::all().iter().filter(|t| t.entity_type.is_some())
    }

    #[test]
    fn every_topics_example_change_derives_that_topic() {
        for topic in entity_topics() {
            let change = change_of(topic);
            assert!(derived_ids(&change).contains(&topic.id), "{}: {:?}", topic.id, derived_ids(&change));
        }
    }

    #[test]
    fn a_created_example_has_no_old_side_and_every_other_example_has_both() {
        for topic in entity_topics() {
            let (old, new) = example_change(topic);
            assert!(new.is_some(), "{}", topic.id);
            assert_eq!(old.is_none(), topic.id.ends_with(".created"), "{}", topic.id);
        }
    }

    #[test]
    fn a_modified_example_emits_only_its_topic_and_changes_more_than_the_etag() {
        for topic in entity_topics().filter(|t| t.id.ends_with(".modified")) {
            let change = change_of(topic);
            assert_eq!(derived_ids(&change), [topic.id]);
            assert!(!change.is_etag_only(), "{}", topic.id);
            let diff = change.diff().unwrap_or_default();
            assert!(diff.contains_key("_eTag") && diff.contains_key("modified"), "{}: {:?}", topic.id, diff);
            assert!(diff.len() > 2, "{}", topic.id);
        }
    }

    #[test]
    fn a_status_example_makes_exactly_its_own_transition() {
        for topic in entity_topics().filter(|t| !t.id.ends_with(".created") && !t.id.ends_with(".modified")) {
            let change = change_of(topic);
            let entity = topic.entity_type.map(|t| t.as_str()).unwrap_or_default();
            let modified = format!("{entity}.modified");
            let mut expected = vec![topic.id, modified.as_str()];
            expected.sort();
            assert_eq!(derived_ids(&change), expected, "{}", topic.id);
        }
    }

    #[test]
    fn creating_an_example_entity_emits_its_created_topic() {
        for entity_type in EntityType::ALL {
            let change = Change {
                customer_id: PING_CUSTOMER.into(),
                entity_type,
                entity_id: PING_ENTITY_ID.into(),
                old: None,
                new: Some(example_entity(entity_type)),
            };
            let created = format!("{entity_type}.created");
            match topics::find(&created) {
                Some(topic) => assert!(derived_ids(&change).contains(&topic.id), "{entity_type}"),
                None => assert!(!derived_ids(&change).iter().any(|t| t.ends_with(".created")), "{entity_type}"),
            }
        }
    }

    #[test]
    fn every_example_entity_has_an_id_timestamps_and_an_etag() {
        for entity_type in EntityType::ALL {
            let entity = example_entity(entity_type);
            for key in ["id", "created", "modified", "_eTag"] {
                assert!(entity.get(key).is_some_and(|v| !v.is_null()), "{entity_type} lacks {key}");
            }
        }
    }

    #[test]
    fn example_entities_carry_the_fields_the_rules_read() {
        let property = example_entity(EntityType::Properties);
        assert_eq!(property.get("selling").and_then(|s| s.get("status")), Some(&Json::from(json!("forSale"))));
        assert_eq!(property.get("selling").and_then(|s| s.get("price")), Some(&Json::from(json!(450000))));
        assert_eq!(property.get("lostInstructionDate"), Some(&Json::Null));
        let appointment = example_entity(EntityType::Appointments);
        for key in ["negotiatorConfirmed", "attendeeConfirmed", "propertyConfirmed", "cancelled"] {
            assert!(appointment.get(key).is_some_and(|v| v.as_bool().is_some()), "{key}");
        }
        for (entity_type, status) in
            [(EntityType::Offers, "pending"), (EntityType::Enquiries, "pending"), (EntityType::Worksorders, "raised")]
        {
            assert_eq!(example_entity(entity_type).get("status"), Some(&Json::from(json!(status))), "{entity_type}");
        }
        let offer = example_entity(EntityType::Offers);
        let keys: Vec<&str> = offer.keys().collect();
        assert_eq!(
            keys[..11],
            [
                "id",
                "created",
                "modified",
                "currency",
                "applicantId",
                "propertyId",
                "negotiatorId",
                "date",
                "amount",
                "status",
                "inclusions"
            ]
        );
    }

    #[test]
    fn the_contact_example_is_the_seeds_and_so_is_its_modification() {
        let seed_new = concat!(
            r#"{"id":"RPT20000029","created":"2020-05-13T09:32:24Z","modified":"2020-05-13T09:33:10Z","#,
            r#""title":"Mr","forename":"John","surname":"Smith","dateOfBirth":null,"active":true,"#,
            r#""marketingConsent":"notAsked","identityCheck":"unchecked","source":null,"homePhone":null,"#,
            r#""workPhone":null,"mobilePhone":"07123 456789","email":"john.smith@reapitestates.net","#,
            r#""primaryAddress":{"type":"primary","buildingName":"","buildingNumber":"12","#,
            r#""line1":"High Street","line2":"Clacton-On-Sea","line3":"Essex","line4":"","#,
            r#""postcode":"CO15 1AE","countryId":"GB"},"secondaryAddress":null,"workAddress":null,"#,
            r#""officeIds":["RPT"],"negotiatorIds":["RPT"],"#,
            r#""_eTag":"\"4DF107A6EB05D792EEAFDF1432F6E275\""}"#,
        );
        let seed_old = concat!(
            r#"{"id":"RPT20000029","created":"2020-05-13T09:32:24Z","modified":null,"title":"Mr","#,
            r#""forename":"John","surname":"Smith","dateOfBirth":null,"active":true,"#,
            r#""marketingConsent":"notAsked","identityCheck":"unchecked","source":null,"homePhone":null,"#,
            r#""workPhone":null,"mobilePhone":null,"email":"john.smith@reapitestates.net","#,
            r#""primaryAddress":{"type":"primary","buildingName":"","buildingNumber":"1","#,
            r#""line1":"High Street","line2":"Clacton-On-Sea","line3":"Essex","line4":"","#,
            r#""postcode":"CO15 1AE","countryId":"GB"},"secondaryAddress":null,"workAddress":null,"#,
            r#""officeIds":["RPT"],"negotiatorIds":["RPT"],"#,
            r#""_eTag":"\"65D680519E9762519D203891A694B85B\""}"#,
        );
        let text = |e: Entity| e.to_string();
        assert_eq!(text(example_entity(EntityType::Contacts)), seed_new);
        let topic = topics::find("contacts.modified").unwrap_or_else(|| panic!("no contacts.modified"));
        let (old, new) = example_change(topic);
        assert_eq!(old.map(text).as_deref(), Some(seed_old));
        assert_eq!(new.map(text).as_deref(), Some(seed_new));
    }

    #[test]
    fn application_examples_carry_the_install_fields_for_the_ping_customer() {
        for id in ["application.install", "application.uninstall"] {
            let topic = topics::find(id).unwrap_or_else(|| panic!("no {id}"));
            let (old, new) = example_change(topic);
            assert_eq!(old, None);
            let new = new.unwrap_or_default();
            let keys: Vec<&str> = new.keys().collect();
            assert_eq!(
                keys,
                ["customerId", "customerName", "customerEmail", "applicationId", "internalAppId", "applicationName"]
            );
            assert_eq!(new.get("customerId"), Some(&Json::from(json!("webhook-test"))));
            assert!(new.values().all(|v| v.as_str().is_some_and(|s| !s.is_empty())), "{id}");
            let internal = new.get("internalAppId").and_then(Json::as_str).unwrap_or_default();
            assert!(internal.parse::<crate::ApplicationId>().is_ok(), "{internal}");
        }
    }

    #[test]
    fn setting_a_nested_path_keeps_key_order_and_makes_missing_objects() {
        let mut entity = object(json!({"a": 1, "b": {"c": 1}, "d": 2}));
        set(&mut entity, &["b", "c"], json!(3));
        set(&mut entity, &["a"], json!(0));
        set(&mut entity, &["e", "f"], json!(4));
        set(&mut entity, &["d", "g"], json!(5));
        assert_eq!(entity.to_string(), r#"{"a":0,"b":{"c":3},"d":{"g":5},"e":{"f":4}}"#);
    }
}
