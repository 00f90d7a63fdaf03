//! A change: what the platform tells Herald about one entity (contract §4.3), validated.
//!
//! This module owns the shape of one change (`customerId`, `entityType`, `entityId`, `old`, `new`), its validation,
//! its kind (created, modified, deleted) and the eTag-only check of §8.2. It does not read `eventId` or `eventTime`
//! (the caller validates those, once per request) and does not decide which topics a change emits
//! ([`crate::rules`]) or who receives them ([`crate::routing`]).

use serde::Deserialize;
use serde_json::Value;

use crate::diff::diff;
use crate::field::Field;
use crate::json::Object;
use crate::{EntityType, FieldError};

/// An entity as JSON: always an object, in Herald's own tree ([`crate::json`]).
pub type Entity = Object;

/// The longest `customerId` accepted, in characters.
pub const MAX_CUSTOMER_ID_CHARS: usize = 100;

/// The longest `entityId` accepted, in characters.
pub const MAX_ENTITY_ID_CHARS: usize = 200;

/// The only keys that may differ in an eTag-only modification (contract §5.1, §8.2).
pub const ETAG_ONLY_KEYS: [&str; 2] = ["_eTag", "modified"];

/// One entity's change. At least one of `old` and `new` is present.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub customer_id: String,
    pub entity_type: EntityType,
    pub entity_id: String,
    /// `None`: the entity was created.
    pub old: Option<Entity>,
    /// `None`: the entity was deleted or archived.
    pub new: Option<Entity>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// `old` is null.
    Created,
    /// Both sides are present.
    Modified,
    /// `new` is null: deleted or archived.
    Deleted,
}

impl Change {
    /// Validates one change given as JSON; field names in the errors are the change's own (`entityId`, `old`, ...).
    /// Every broken rule is reported, not only the first. Unknown keys (and `eventId`, `eventTime`) are ignored.
    pub fn from_json(value: &Value) -> Result<Change, Vec<FieldError>> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Sent {
            #[serde(default)]
            customer_id: Field<String>,
            #[serde(default)]
            entity_type: Field<String>,
            #[serde(default)]
            entity_id: Field<String>,
            #[serde(default)]
            old: Field<Entity>,
            #[serde(default)]
            new: Field<Entity>,
        }
        let Some(Ok(sent)) = value.as_object().map(|_| Sent::deserialize(value)) else {
            return Err(vec![FieldError::new("", "must be a JSON object")]);
        };
        Change::parse(&sent.customer_id, &sent.entity_type, &sent.entity_id, sent.old, sent.new)
    }

    /// Validates one change read field by field (a request type holds these fields).
    pub fn parse(
        customer_id: &Field<String>,
        entity_type: &Field<String>,
        entity_id: &Field<String>,
        old: Field<Entity>,
        new: Field<Entity>,
    ) -> Result<Change, Vec<FieldError>> {
        let mut errors = Vec::new();
        let customer_id = required_text(customer_id, "customerId", MAX_CUSTOMER_ID_CHARS, &mut errors);
        let entity_type = parse_entity_type(entity_type, &mut errors);
        let entity_id = required_text(entity_id, "entityId", MAX_ENTITY_ID_CHARS, &mut errors);
        let old = entity_side(old, "old", &mut errors);
        let new = entity_side(new, "new", &mut errors);
        if let (Ok(None), Ok(None)) = (&old, &new) {
            errors.push(FieldError::new("new", "old and new cannot both be null"));
        }
        match (customer_id, entity_type, entity_id, old, new) {
            (Some(customer_id), Some(entity_type), Some(entity_id), Ok(old), Ok(new)) if errors.is_empty() => {
                Ok(Change { customer_id, entity_type, entity_id, old, new })
            }
            _ => Err(errors),
        }
    }

    pub fn kind(&self) -> ChangeKind {
        match (&self.old, &self.new) {
            (None, _) => ChangeKind::Created,
            (Some(_), None) => ChangeKind::Deleted,
            (Some(_), Some(_)) => ChangeKind::Modified,
        }
    }

    /// The diff of contract §8.1, for a modification (both sides present); `None` otherwise.
    pub fn diff(&self) -> Option<Object> {
        match (&self.old, &self.new) {
            (Some(old), Some(new)) => Some(diff(old, new)),
            _ => None,
        }
    }

    /// A modification whose only differences are `_eTag` and `modified` (contract §8.2): its diff is not empty and
    /// every key of it is one of [`ETAG_ONLY_KEYS`]. A modification that changes nothing at all is not eTag-only.
    pub fn is_etag_only(&self) -> bool {
        self.diff().is_some_and(|d| !d.is_empty() && d.keys().all(|k| ETAG_ONLY_KEYS.contains(&k)))
    }
}

/// A required, non-blank string of at most `max_chars` characters.
fn required_text(value: &Field<String>, field: &str, max_chars: usize, errors: &mut Vec<FieldError>) -> Option<String> {
    let message = match value {
        Field::Absent | Field::Null => "is required",
        Field::Given(text) if text.trim().is_empty() => "must not be empty",
        Field::Given(text) if text.chars().count() > max_chars => {
            errors.push(FieldError::new(field, format!("must be at most {max_chars} characters")));
            return None;
        }
        // An id travels in headers, logs and database text columns (PostgreSQL refuses NUL in text).
        Field::Given(text) if text.chars().any(char::is_control) => "must not contain control characters",
        Field::Given(text) => return Some(text.clone()),
        Field::Invalid => "must be a string",
    };
    errors.push(FieldError::new(field, message));
    None
}

fn parse_entity_type(value: &Field<String>, errors: &mut Vec<FieldError>) -> Option<EntityType> {
    let parsed = match value {
        Field::Given(s) => s.parse::<EntityType>().ok(),
        _ => None,
    };
    if parsed.is_none() {
        let known: Vec<&str> = EntityType::ALL.iter().map(|t| t.as_str()).collect();
        errors.push(FieldError::new(
            "entityType",
            format!("must be one of the known entity types: {}", known.join(", ")),
        ));
    }
    parsed
}

/// `old` or `new`: absent or null is `None`, an object is the entity, anything else is an error.
fn entity_side(value: Field<Entity>, field: &str, errors: &mut Vec<FieldError>) -> Result<Option<Entity>, ()> {
    match value {
        Field::Absent | Field::Null => Ok(None),
        Field::Given(entity) => Ok(Some(entity)),
        Field::Invalid => {
            errors.push(FieldError::new(field, "must be an object or null"));
            Err(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(value: Value) -> Vec<String> {
        match Change::from_json(&value) {
            Ok(change) => panic!("accepted: {change:?}"),
            Err(errors) => errors.into_iter().map(|e| e.field).collect(),
        }
    }

    fn errors(value: Value) -> Vec<FieldError> {
        Change::from_json(&value).err().unwrap_or_default()
    }

    fn change(old: Value, new: Value) -> Change {
        let object = |v: Value| match v {
            Value::Object(map) => Some(map.into()),
            _ => None,
        };
        Change {
            customer_id: "RPT".into(),
            entity_type: EntityType::Contacts,
            entity_id: "RPT20000029".into(),
            old: object(old),
            new: object(new),
        }
    }

    #[test]
    fn a_valid_modification_parses_with_both_sides_in_their_given_key_order() {
        let parsed = Change::from_json(&json!({
            "customerId": "RPT", "entityType": "contacts", "entityId": "RPT20000029",
            "old": {"z": 1, "a": 1}, "new": {"z": 2, "a": 1},
            "eventId": "not validated here", "eventTime": 12, "somethingElse": true
        }));
        let Ok(parsed) = parsed else { panic!("rejected: {parsed:?}") };
        assert_eq!(parsed.customer_id, "RPT");
        assert_eq!(parsed.entity_type, EntityType::Contacts);
        assert_eq!(parsed.entity_id, "RPT20000029");
        assert_eq!(parsed.kind(), ChangeKind::Modified);
        let keys: Vec<&str> = parsed.new.iter().flat_map(|n| n.keys()).collect();
        assert_eq!(keys, ["z", "a"]);
    }

    #[test]
    fn a_null_or_absent_old_is_a_creation_and_a_null_or_absent_new_is_a_deletion() {
        let base = json!({"customerId": "RPT", "entityType": "offers", "entityId": "RPT1"});
        let with = |extra: Value| {
            let mut v = base.clone();
            if let (Some(target), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
                target.extend(extra.clone());
            }
            Change::from_json(&v).map(|c| c.kind())
        };
        assert_eq!(with(json!({"old": null, "new": {"id": "RPT1"}})), Ok(ChangeKind::Created));
        assert_eq!(with(json!({"new": {"id": "RPT1"}})), Ok(ChangeKind::Created));
        assert_eq!(with(json!({"old": {"id": "RPT1"}, "new": null})), Ok(ChangeKind::Deleted));
        assert_eq!(with(json!({"old": {"id": "RPT1"}})), Ok(ChangeKind::Deleted));
        assert_eq!(with(json!({"old": {}, "new": {}})), Ok(ChangeKind::Modified));
    }

    #[test]
    fn ids_with_control_characters_are_refused() {
        let parsed = Change::from_json(&json!({
            "customerId": "RPT\u{0}", "entityType": "contacts", "entityId": "a\nb", "new": {"id": "x"}
        }));
        let Err(errors) = parsed else { panic!("accepted: {parsed:?}") };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["customerId", "entityId"], "{errors:?}");
        assert!(errors.iter().all(|e| e.message == "must not contain control characters"), "{errors:?}");
    }

    #[test]
    fn a_body_that_is_not_an_object_is_one_error_on_the_empty_field() {
        for body in [json!([]), json!("contacts"), json!(null), json!(1)] {
            assert_eq!(errors(body), vec![FieldError::new("", "must be a JSON object")]);
        }
    }

    #[test]
    fn every_broken_rule_is_reported_not_only_the_first() {
        assert_eq!(fields(json!({"old": 1, "new": "x"})), ["customerId", "entityType", "entityId", "old", "new"]);
    }

    #[test]
    fn customer_id_must_be_a_non_empty_string_of_at_most_100_characters() {
        let base = |id: Value| json!({"customerId": id, "entityType": "contacts", "entityId": "E", "new": {}});
        assert_eq!(errors(json!({"entityType": "contacts", "entityId": "E", "new": {}})).len(), 1);
        for bad in [json!(null), json!(""), json!("   "), json!(42), json!(["RPT"]), json!("x".repeat(101))] {
            assert_eq!(fields(base(bad.clone())), ["customerId"], "{bad}");
        }
        assert!(Change::from_json(&base(json!("é".repeat(100)))).is_ok());
        assert_eq!(errors(base(json!("x".repeat(101))))[0].message, "must be at most 100 characters");
    }

    #[test]
    fn entity_id_must_be_a_non_empty_string_of_at_most_200_characters() {
        let base = |id: Value| json!({"customerId": "RPT", "entityType": "contacts", "entityId": id, "new": {}});
        assert_eq!(fields(json!({"customerId": "RPT", "entityType": "contacts", "new": {}})), ["entityId"]);
        for bad in [json!(null), json!(""), json!(7), json!({"id": "x"}), json!("x".repeat(201))] {
            assert_eq!(fields(base(bad.clone())), ["entityId"], "{bad}");
        }
        assert!(Change::from_json(&base(json!("x".repeat(200)))).is_ok());
    }

    #[test]
    fn entity_type_must_be_one_of_the_fifteen_and_the_message_lists_them() {
        let base = |t: Value| json!({"customerId": "RPT", "entityType": t, "entityId": "E", "new": {}});
        for bad in [json!("contact"), json!("Contacts"), json!(""), json!(3), json!(null)] {
            let errs = errors(base(bad.clone()));
            assert_eq!(errs.len(), 1, "{bad}");
            assert_eq!(errs[0].field, "entityType");
            assert!(errs[0].message.starts_with("must be one of the known entity types"), "{}", errs[0].message);
            assert!(errs[0].message.contains("worksorders") && errs[0].message.contains("identitychecks"));
        }
        assert_eq!(fields(json!({"customerId": "RPT", "entityId": "E", "new": {}})), ["entityType"]);
        for t in EntityType::ALL {
            assert_eq!(Change::from_json(&base(json!(t.as_str()))).map(|c| c.entity_type), Ok(t));
        }
    }

    #[test]
    fn old_and_new_must_each_be_an_object_or_null() {
        let base = |old: Value, new: Value| {
            json!({
                "customerId": "RPT", "entityType": "contacts", "entityId": "E", "old": old, "new": new
            })
        };
        assert_eq!(errors(base(json!([1]), json!({}))), vec![FieldError::new("old", "must be an object or null")]);
        assert_eq!(errors(base(json!({}), json!("x"))), vec![FieldError::new("new", "must be an object or null")]);
        assert_eq!(fields(base(json!(true), json!(0))), ["old", "new"]);
    }

    #[test]
    fn old_and_new_both_null_or_absent_is_an_error_on_new() {
        let expected = vec![FieldError::new("new", "old and new cannot both be null")];
        let base = json!({"customerId": "RPT", "entityType": "contacts", "entityId": "E"});
        assert_eq!(errors(base.clone()), expected);
        let mut both_null = base;
        if let Some(map) = both_null.as_object_mut() {
            map.insert("old".into(), Value::Null);
            map.insert("new".into(), Value::Null);
        }
        assert_eq!(errors(both_null), expected);
    }

    #[test]
    fn an_invalid_side_is_not_also_reported_as_both_sides_null() {
        let body = json!({"customerId": "RPT", "entityType": "contacts", "entityId": "E", "old": 5});
        assert_eq!(errors(body), vec![FieldError::new("old", "must be an object or null")]);
    }

    #[test]
    fn a_change_of_only_etag_and_modified_is_etag_only() {
        let old = json!({"id": "A", "modified": "2020-01-01T00:00:00Z", "_eTag": "\"1\"", "name": "x"});
        let etag = json!({"id": "A", "modified": "2020-01-01T00:00:00Z", "_eTag": "\"2\"", "name": "x"});
        let both = json!({"id": "A", "modified": "2020-01-02T00:00:00Z", "_eTag": "\"2\"", "name": "x"});
        let stamp = json!({"id": "A", "modified": "2020-01-02T00:00:00Z", "_eTag": "\"1\"", "name": "x"});
        assert!(change(old.clone(), etag).is_etag_only());
        assert!(change(old.clone(), both).is_etag_only());
        assert!(change(old, stamp).is_etag_only());
    }

    #[test]
    fn a_change_of_any_other_field_is_not_etag_only() {
        let old = json!({"id": "A", "modified": null, "_eTag": "\"1\"", "name": "x", "address": {"line1": "a"}});
        let renamed = json!({"id": "A", "modified": "2020-01-02T00:00:00Z", "_eTag": "\"2\"", "name": "y",
            "address": {"line1": "a"}});
        let moved = json!({"id": "A", "modified": "2020-01-02T00:00:00Z", "_eTag": "\"2\"", "name": "x",
            "address": {"line1": "b"}});
        assert!(!change(old.clone(), renamed).is_etag_only());
        assert!(!change(old, moved).is_etag_only());
    }

    #[test]
    fn a_nested_modified_or_etag_key_does_not_make_a_change_etag_only() {
        let old = json!({"_eTag": "\"1\"", "selling": {"modified": "a", "_eTag": "\"x\""}});
        let new = json!({"_eTag": "\"2\"", "selling": {"modified": "b", "_eTag": "\"y\""}});
        assert!(!change(old, new).is_etag_only());
    }

    #[test]
    fn creations_deletions_and_changes_of_nothing_are_not_etag_only() {
        let entity = json!({"id": "A", "_eTag": "\"1\""});
        assert!(!change(Value::Null, entity.clone()).is_etag_only());
        assert!(!change(entity.clone(), Value::Null).is_etag_only());
        assert!(!change(entity.clone(), entity).is_etag_only());
    }

    #[test]
    fn a_change_has_a_diff_only_when_both_sides_are_present() {
        let entity = json!({"id": "A", "name": "x"});
        assert_eq!(change(Value::Null, entity.clone()).diff(), None);
        assert_eq!(change(entity.clone(), Value::Null).diff(), None);
        let modified = change(entity, json!({"id": "A", "name": "y"}));
        assert_eq!(
            modified.diff().map(|d| Value::from(crate::json::Json::Object(d))),
            Some(json!({"name": ["x", "y"]}))
        );
    }
}
