//! The diff of a modification (contract §8.1), in the seed's format.
//!
//! For each key whose value differs, `[old, new]`; where both values are objects, a nested diff of the same form
//! (present only when it is not empty). Arrays and scalars are compared whole. A key present on one side only diffs
//! against `null`, so a key absent on one side and `null` on the other is no difference. Keys come in the order of
//! `old`, then the keys found only in `new`, each in its map's own order.
//!
//! This module only computes the diff; when a payload carries one is decided by whoever renders the payload.

use crate::json::{Finder, Json, Object, NULL};

/// For each key whose value differs, `[old, new]`; nested for objects on both sides. Each key is looked up on the
/// other side through a [`Finder`]: where the previous key was found, so sides in the same order cost no search.
pub fn diff(old: &Object, new: &Object) -> Object {
    let mut out = Object::new();
    let mut in_new = Finder::new(new);
    for (i, (key, old_value)) in old.entries().iter().enumerate() {
        if let Some(entry) = diff_value(old_value, in_new.find(i, key).unwrap_or(&NULL)) {
            out.push_new(key.clone(), entry);
        }
    }
    let mut in_old = Finder::new(old);
    for (i, (key, new_value)) in new.entries().iter().enumerate() {
        if in_old.find(i, key).is_none() {
            if let Some(entry) = diff_value(&NULL, new_value) {
                out.push_new(key.clone(), entry);
            }
        }
    }
    out
}

/// The diff entry of one key, `None` when its two values are the same.
fn diff_value(old: &Json, new: &Json) -> Option<Json> {
    match (old, new) {
        (Json::Object(old), Json::Object(new)) => {
            let nested = diff(old, new);
            (!nested.is_empty()).then_some(Json::Object(nested))
        }
        _ if old == new => None,
        _ => Some(Json::Array(vec![old.clone(), new.clone()])),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{json, Map, Value};

    /// The diff, on serde_json's maps: the properties below are stated with serde_json's `Value` as the reference.
    fn diff(old: &Map<String, Value>, new: &Map<String, Value>) -> Map<String, Value> {
        super::diff(&old.clone().into(), &new.clone().into()).into()
    }

    static NULL: Value = Value::Null;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    /// The diff as text, so that key order is compared too (`Map` equality ignores order).
    fn diff_text(old: Value, new: Value) -> String {
        Value::Object(diff(&object(old), &object(new))).to_string()
    }

    #[test]
    fn the_seeds_contacts_modified_example_diffs_exactly_as_the_seed_shows() {
        let new = json!({
            "id": "RPT20000029", "created": "2020-05-13T09:32:24Z", "modified": "2020-05-13T09:33:10Z",
            "title": "Mr", "forename": "John", "surname": "Smith", "dateOfBirth": null, "active": true,
            "marketingConsent": "notAsked", "identityCheck": "unchecked", "source": null, "homePhone": null,
            "workPhone": null, "mobilePhone": "07123 456789", "email": "john.smith@reapitestates.net",
            "primaryAddress": {
                "type": "primary", "buildingName": "", "buildingNumber": "12", "line1": "High Street",
                "line2": "Clacton-On-Sea", "line3": "Essex", "line4": "", "postcode": "CO15 1AE", "countryId": "GB"
            },
            "secondaryAddress": null, "workAddress": null, "officeIds": ["RPT"], "negotiatorIds": ["RPT"],
            "_eTag": "\"4DF107A6EB05D792EEAFDF1432F6E275\""
        });
        let old = json!({
            "id": "RPT20000029", "created": "2020-05-13T09:32:24Z", "modified": null,
            "title": "Mr", "forename": "John", "surname": "Smith", "dateOfBirth": null, "active": true,
            "marketingConsent": "notAsked", "identityCheck": "unchecked", "source": null, "homePhone": null,
            "workPhone": null, "mobilePhone": null, "email": "john.smith@reapitestates.net",
            "primaryAddress": {
                "type": "primary", "buildingName": "", "buildingNumber": "1", "line1": "High Street",
                "line2": "Clacton-On-Sea", "line3": "Essex", "line4": "", "postcode": "CO15 1AE", "countryId": "GB"
            },
            "secondaryAddress": null, "workAddress": null, "officeIds": ["RPT"], "negotiatorIds": ["RPT"],
            "_eTag": "\"65D680519E9762519D203891A694B85B\""
        });
        let expected = json!({
            "modified": [null, "2020-05-13T09:33:10Z"],
            "mobilePhone": [null, "07123 456789"],
            "primaryAddress": { "buildingNumber": ["1", "12"] },
            "_eTag": ["\"65D680519E9762519D203891A694B85B\"", "\"4DF107A6EB05D792EEAFDF1432F6E275\""]
        });
        assert_eq!(diff_text(old, new), expected.to_string());
    }

    #[test]
    fn keys_of_old_come_first_then_keys_only_in_new() {
        let text = diff_text(json!({"b": 1, "a": 1, "gone": 1}), json!({"new2": 1, "a": 2, "new1": 1, "b": 2}));
        assert_eq!(text, r#"{"b":[1,2],"a":[1,2],"gone":[1,null],"new2":[null,1],"new1":[null,1]}"#);
    }

    #[test]
    fn a_key_absent_on_one_side_and_null_on_the_other_is_no_difference() {
        assert_eq!(diff_text(json!({"a": null}), json!({})), "{}");
        assert_eq!(diff_text(json!({}), json!({"a": null})), "{}");
        assert_eq!(diff_text(json!({"o": {"a": null}}), json!({"o": {}})), "{}");
    }

    #[test]
    fn a_key_present_on_one_side_only_diffs_against_null() {
        assert_eq!(diff_text(json!({"a": "x"}), json!({})), r#"{"a":["x",null]}"#);
        assert_eq!(diff_text(json!({}), json!({"a": {"b": 1}})), r#"{"a":[null,{"b":1}]}"#);
    }

    #[test]
    fn objects_on_both_sides_diff_nested_and_equal_ones_leave_no_entry() {
        let text = diff_text(
            json!({"o": {"x": 1, "same": {"k": 1}, "deep": {"k": 1, "j": 2}}, "p": {"x": 1}}),
            json!({"o": {"x": 2, "same": {"k": 1}, "deep": {"k": 1, "j": 3}}, "p": {"x": 1}}),
        );
        assert_eq!(text, r#"{"o":{"x":[1,2],"deep":{"j":[2,3]}}}"#);
    }

    #[test]
    fn arrays_and_scalars_are_compared_whole() {
        assert_eq!(diff_text(json!({"a": [1, 2, 3]}), json!({"a": [1, 2, 4]})), r#"{"a":[[1,2,3],[1,2,4]]}"#);
        assert_eq!(diff_text(json!({"a": [{"k": 1}]}), json!({"a": [{"k": 1}]})), "{}");
        assert_eq!(diff_text(json!({"a": 1}), json!({"a": "1"})), r#"{"a":[1,"1"]}"#);
        assert_eq!(diff_text(json!({"a": true}), json!({"a": false})), r#"{"a":[true,false]}"#);
    }

    #[test]
    fn an_object_replaced_by_something_else_is_diffed_whole() {
        assert_eq!(diff_text(json!({"a": {"b": 1}}), json!({"a": null})), r#"{"a":[{"b":1},null]}"#);
        assert_eq!(diff_text(json!({"a": {"b": 1}}), json!({"a": [1]})), r#"{"a":[{"b":1},[1]]}"#);
    }

    #[test]
    fn object_members_in_another_order_are_no_difference() {
        assert_eq!(diff_text(json!({"o": {"a": 1, "b": 2}}), json!({"o": {"b": 2, "a": 1}})), "{}");
    }

    // ---- properties ----

    const REMOVE: &str = "__remove__";

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (0i64..3).prop_map(Value::from),
            "[ab]?".prop_map(Value::String),
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(4, 40, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::vec(("[a-d]", inner), 0..5)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
            ]
        })
    }

    fn json_object() -> impl Strategy<Value = Map<String, Value>> {
        prop::collection::vec(("[a-e]", json_value()), 0..6).prop_map(|pairs| pairs.into_iter().collect())
    }

    /// A patch: like an object, but a value may be [`REMOVE`], which deletes the key.
    fn patch() -> impl Strategy<Value = Map<String, Value>> {
        let value = prop_oneof![3 => json_value(), 1 => Just(Value::from(REMOVE))];
        prop::collection::vec(("[a-e]", value), 0..4).prop_map(|pairs| pairs.into_iter().collect())
    }

    fn patched(mut target: Map<String, Value>, patch: &Map<String, Value>) -> Map<String, Value> {
        for (key, value) in patch {
            match (target.get_mut(key), value) {
                (_, Value::String(s)) if s == REMOVE => {
                    target.shift_remove(key);
                }
                (Some(Value::Object(inner)), Value::Object(p)) => {
                    *inner = patched(std::mem::take(inner), p);
                }
                _ => {
                    target.insert(key.clone(), value.clone());
                }
            }
        }
        target
    }

    /// Two objects: either unrelated, or the second one a patched copy of the first (so they share most of their
    /// structure, nested objects included).
    fn old_and_new() -> impl Strategy<Value = (Map<String, Value>, Map<String, Value>)> {
        prop_oneof![
            (json_object(), json_object()),
            (json_object(), patch()).prop_map(|(old, p)| {
                let new = patched(old.clone(), &p);
                (old, new)
            }),
        ]
    }

    /// Applies a diff to `old`: a nested diff is applied to the nested object, `[_, null]` removes the key (the diff
    /// cannot tell a key set to null from a removed one) and `[_, x]` sets it to `x`.
    fn apply(old: &Map<String, Value>, diff: &Map<String, Value>) -> Map<String, Value> {
        let mut out = old.clone();
        for (key, entry) in diff {
            match entry {
                Value::Object(nested) => {
                    let inner = match old.get(key) {
                        Some(Value::Object(inner)) => inner.clone(),
                        other => panic!("nested diff for {key} but old holds {other:?}"),
                    };
                    out.insert(key.clone(), Value::Object(apply(&inner, nested)));
                }
                Value::Array(pair) if pair.len() == 2 => {
                    if pair[1].is_null() {
                        out.shift_remove(key);
                    } else {
                        out.insert(key.clone(), pair[1].clone());
                    }
                }
                other => panic!("not a diff entry: {other}"),
            }
        }
        out
    }

    /// Drops every null-valued member of every object reachable through objects (not through arrays, which the diff
    /// compares whole): the form in which "absent" and "null" are the same.
    fn normalized(value: &Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(normalized_object(map)),
            other => other.clone(),
        }
    }

    fn normalized_object(map: &Map<String, Value>) -> Map<String, Value> {
        map.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), normalized(v))).collect()
    }

    fn has_null_members(map: &Map<String, Value>) -> bool {
        map.values().any(|v| match v {
            Value::Null => true,
            Value::Object(inner) => has_null_members(inner),
            _ => false,
        })
    }

    proptest! {
        #[test]
        fn the_diff_of_an_object_with_itself_is_empty(a in json_object()) {
            prop_assert!(diff(&a, &a).is_empty());
        }

        #[test]
        fn the_diff_is_empty_exactly_when_the_objects_are_equal_up_to_null_members((old, new) in old_and_new()) {
            prop_assert_eq!(diff(&old, &new).is_empty(), normalized_object(&old) == normalized_object(&new));
        }

        #[test]
        fn applying_the_diff_to_old_gives_new_up_to_null_members((old, new) in old_and_new()) {
            let d = diff(&old, &new);
            prop_assert_eq!(normalized_object(&apply(&old, &d)), normalized_object(&new));
        }

        #[test]
        fn applying_the_diff_to_old_gives_new_exactly_when_neither_side_holds_null_members(
            (old, new) in old_and_new()
        ) {
            prop_assume!(!has_null_members(&old) && !has_null_members(&new));
            let d = diff(&old, &new);
            prop_assert_eq!(apply(&old, &d), new);
        }

        #[test]
        fn keys_outside_the_diff_hold_equal_values_on_both_sides((old, new) in old_and_new()) {
            let d = diff(&old, &new);
            for key in old.keys().chain(new.keys()).filter(|k| !d.contains_key(*k)) {
                let o = normalized(old.get(key).unwrap_or(&NULL));
                let n = normalized(new.get(key).unwrap_or(&NULL));
                prop_assert_eq!(o, n, "key {}", key);
            }
        }

        #[test]
        fn every_entry_holds_the_two_different_values_of_its_key((old, new) in old_and_new()) {
            let d = diff(&old, &new);
            for (key, entry) in &d {
                let o = old.get(key).unwrap_or(&NULL);
                let n = new.get(key).unwrap_or(&NULL);
                match entry {
                    Value::Object(_) => prop_assert!(o.is_object() && n.is_object(), "key {}", key),
                    Value::Array(pair) => {
                        prop_assert_eq!(pair, &vec![o.clone(), n.clone()]);
                        prop_assert_ne!(o, n);
                        prop_assert!(!(o.is_object() && n.is_object()), "key {}", key);
                    }
                    other => prop_assert!(false, "not a diff entry: {}", other),
                }
            }
        }

        #[test]
        fn diff_keys_follow_old_then_the_keys_only_in_new((old, new) in old_and_new()) {
            let d = diff(&old, &new);
            let order: Vec<&String> = old.keys().chain(new.keys().filter(|k| !old.contains_key(*k))).collect();
            let positions: Vec<usize> =
                d.keys().map(|k| order.iter().position(|o| *o == k).unwrap_or(usize::MAX)).collect();
            prop_assert!(positions.windows(2).all(|w| w[0] < w[1]), "{:?}", positions);
        }

        #[test]
        fn swapping_old_and_new_swaps_every_pair((old, new) in old_and_new()) {
            fn swapped(d: &Map<String, Value>) -> Map<String, Value> {
                d.iter()
                    .map(|(k, v)| {
                        let v = match v {
                            Value::Object(nested) => Value::Object(swapped(nested)),
                            Value::Array(pair) => Value::Array(pair.iter().rev().cloned().collect()),
                            other => other.clone(),
                        };
                        (k.clone(), v)
                    })
                    .collect()
            }
            prop_assert_eq!(diff(&new, &old), swapped(&diff(&old, &new)));
        }
    }
}
