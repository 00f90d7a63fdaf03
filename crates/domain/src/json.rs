//! Entity data as JSON (`old`, `new` and the entity records of contract §4.3 and §9.5): Herald's own tree.
//!
//! Every accepted change is parsed into two of these, diffed, and rendered into a payload, so their cost is paid per
//! change. `serde_json::Value` keeps an object in an `IndexMap`: a hash table per object, every key hashed with
//! SipHash, every key and string allocated. Here an object is a vector of entries in the order they were sent,
//! searched linearly (entities have tens of keys, and a diff looks keys up where they usually are: at the same place
//! on both sides), and strings of up to 24 bytes, most keys and most values, live inline with no allocation
//! ([`CompactString`]). Parsing and diffing the bench's 1.4 KB change costs about 40 % less (docs/PERFORMANCE.md).
//!
//! The meaning is serde_json's, so that nothing a receiver sees changes: numbers are [`serde_json::Number`]; a key
//! given twice keeps its first place and its last value; two objects are equal whatever the order of their keys.
//! No operation is quadratic in the number of keys: past [`SMALL`] keys, parsing and lookups use a hash index.
//! Convert to `serde_json::Value` (`From`) where a library needs one.

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasher, RandomState};

use compact_str::CompactString;
use serde::de::{Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Number, Value};

/// Objects with at most this many keys are searched linearly; larger ones through a hash index.
pub const SMALL: usize = 32;

/// One JSON value.
#[derive(Debug, Clone, Default)]
pub enum Json {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(CompactString),
    Array(Vec<Json>),
    Object(Object),
}

/// A JSON object: its entries in the order they were given, each key once.
#[derive(Debug, Clone, Default)]
pub struct Object {
    entries: Vec<(CompactString, Json)>,
}

/// What an absent key reads as.
pub(crate) static NULL: Json = Json::Null;

impl Json {
    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Json::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The value of `key` when this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.as_object().and_then(|o| o.get(key))
    }
}

impl Object {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value of `key` (a linear search: for a few lookups; a diff finds keys through [`Finder`]).
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        self.position(key).map(|i| &mut self.entries[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Sets `key` to `value`: in its place if the object has it (returning the value it had), else at the end.
    /// A linear search: build large objects by parsing or collecting, not key by key.
    pub fn insert(&mut self, key: impl Into<CompactString>, value: Json) -> Option<Json> {
        let key = key.into();
        match self.position(&key) {
            Some(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            None => {
                self.entries.push((key, value));
                None
            }
        }
    }

    /// Removes `key`, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<Json> {
        self.position(key).map(|i| self.entries.remove(i).1)
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Json)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    pub fn values(&self) -> impl ExactSizeIterator<Item = &Json> {
        self.entries.iter().map(|(_, v)| v)
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| k == key)
    }

    /// The entries, in order.
    pub(crate) fn entries(&self) -> &[(CompactString, Json)] {
        &self.entries
    }

    /// Appends an entry whose key the object does not have (the caller knows).
    pub(crate) fn push_new(&mut self, key: CompactString, value: Json) {
        debug_assert!(!self.contains_key(&key));
        self.entries.push((key, value));
    }
}

/// Finds the keys of one object in another: first where the last key found was (two sides of one entity usually
/// list their keys in the same order), then by a linear search, or through a hash index built once for a large
/// object. Looking up every key of one object in the other is linear in their sizes when the orders agree, and
/// never quadratic.
pub(crate) struct Finder<'a> {
    object: &'a Object,
    /// Where keys were found relative to where they were asked for, the last time.
    shift: isize,
    index: OnceCell<HashMap<&'a str, usize>>,
}

impl<'a> Finder<'a> {
    pub(crate) fn new(object: &'a Object) -> Self {
        Self { object, shift: 0, index: OnceCell::new() }
    }

    /// The value of `key`, which the caller found at index `at` of its own object.
    pub(crate) fn find(&mut self, at: usize, key: &str) -> Option<&'a Json> {
        let entries = &self.object.entries;
        let guess = at.checked_add_signed(self.shift).unwrap_or(0);
        if let Some((k, v)) = entries.get(guess) {
            if k == key {
                return Some(v);
            }
        }
        let found = if entries.len() <= SMALL {
            self.object.position(key)
        } else {
            self.index
                .get_or_init(|| entries.iter().enumerate().map(|(i, (k, _))| (k.as_str(), i)).collect())
                .get(key)
                .copied()
        }?;
        self.shift = found as isize - at as isize;
        Some(&entries[found].1)
    }
}

impl PartialEq for Object {
    /// Equal keys with equal values, in any order (as `serde_json::Map`).
    fn eq(&self, other: &Self) -> bool {
        if self.len() != other.len() {
            return false;
        }
        let mut in_other = Finder::new(other);
        self.entries.iter().enumerate().all(|(i, (k, v))| in_other.find(i, k).is_some_and(|o| o == v))
    }
}

impl PartialEq for Json {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Json::Null, Json::Null) => true,
            (Json::Bool(a), Json::Bool(b)) => a == b,
            (Json::Number(a), Json::Number(b)) => a == b,
            (Json::String(a), Json::String(b)) => a == b,
            (Json::Array(a), Json::Array(b)) => a == b,
            (Json::Object(a), Json::Object(b)) => a == b,
            _ => false,
        }
    }
}

/// An object being parsed: finds a key given twice without a search per key. Up to [`SMALL`] keys a 256-bit mask of
/// cheap fingerprints says which keys may have been seen (a search only then); past it, a set of the keys' hashes.
struct Builder {
    object: Object,
    seen: [u64; 4],
    hashes: Option<(RandomState, HashSet<u64>)>,
}

impl Builder {
    fn new() -> Self {
        Self { object: Object::new(), seen: [0; 4], hashes: None }
    }

    fn add(&mut self, key: CompactString, value: Json) {
        let entries = &mut self.object.entries;
        let maybe_seen = if entries.len() < SMALL {
            let f = fingerprint(&key);
            let (word, bit) = (usize::from(f >> 6), 1u64 << (f & 63));
            let seen = self.seen[word] & bit != 0;
            self.seen[word] |= bit;
            seen
        } else {
            let (state, hashes) = self.hashes.get_or_insert_with(|| {
                let state = RandomState::new();
                let hashes = entries.iter().map(|(k, _)| state.hash_one(k.as_str())).collect();
                (state, hashes)
            });
            !hashes.insert(state.hash_one(key.as_str()))
        };
        if maybe_seen {
            if let Some(i) = self.object.position(&key) {
                self.object.entries[i].1 = value; // serde_json's rule: first place, last value
                return;
            }
        }
        self.object.entries.push((key, value));
    }
}

/// Eight bits of a key from its length and its first and last bytes (eight of each, fewer for a short key), read
/// with fixed-size loads: this runs for every key parsed.
fn fingerprint(key: &str) -> u8 {
    let bytes = key.as_bytes();
    let n = bytes.len();
    let (head, tail) = if n >= 8 {
        (le_u64(&bytes[..8]), le_u64(&bytes[n - 8..]))
    } else if n >= 4 {
        (u64::from(le_u32(&bytes[..4])), u64::from(le_u32(&bytes[n - 4..])))
    } else if n > 0 {
        (u64::from(bytes[0]) << 16 | u64::from(bytes[n / 2]) << 8 | u64::from(bytes[n - 1]), 0)
    } else {
        (0, 0)
    };
    let mixed = (head ^ tail.rotate_left(29) ^ n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> 56) as u8
}

fn le_u64(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(word)
}

fn le_u32(bytes: &[u8]) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[..4]);
    u32::from_le_bytes(word)
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Number::from_f64(v).map_or(Json::Null, Json::Number)) // as serde_json: a non-finite float is null
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(CompactString::from(v)))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(CompactString::from(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element_seed(JsonSeed)? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Json, A::Error> {
        ObjectVisitor.visit_map(map).map(Json::Object)
    }
}

struct JsonSeed;

impl<'de> DeserializeSeed<'de> for JsonSeed {
    type Value = Json;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = Object;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object, A::Error> {
        let mut builder = Builder::new();
        while let Some(key) = map.next_key::<CompactString>()? {
            let value = map.next_value_seed(JsonSeed)?;
            builder.add(key, value);
        }
        Ok(builder.object)
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Object, D::Error> {
        d.deserialize_map(ObjectVisitor)
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Number(n) => n.serialize(s),
            Json::String(text) => s.serialize_str(text),
            Json::Array(items) => items.serialize(s),
            Json::Object(object) => object.serialize(s),
        }
    }
}

impl Serialize for Object {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            map.serialize_entry(k.as_str(), v)?;
        }
        map.end()
    }
}

/// Compact JSON text.
impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_compact(self, f)
    }
}

/// Compact JSON text.
impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_compact(self, f)
    }
}

fn write_compact(value: &impl Serialize, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str(&serde_json::to_string(value).map_err(|_| fmt::Error)?)
}

impl From<Value> for Json {
    fn from(value: Value) -> Self {
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(b),
            Value::Number(n) => Json::Number(n),
            Value::String(s) => Json::String(s.into()),
            Value::Array(items) => Json::Array(items.into_iter().map(Json::from).collect()),
            Value::Object(map) => Json::Object(map.into()),
        }
    }
}

impl From<serde_json::Map<String, Value>> for Object {
    fn from(map: serde_json::Map<String, Value>) -> Self {
        // A map's keys are unique already.
        Object { entries: map.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }
}

impl From<Json> for Value {
    fn from(json: Json) -> Self {
        match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(b),
            Json::Number(n) => Value::Number(n),
            Json::String(s) => Value::String(s.into()),
            Json::Array(items) => Value::Array(items.into_iter().map(Value::from).collect()),
            Json::Object(object) => Value::Object(object.into()),
        }
    }
}

impl From<Object> for serde_json::Map<String, Value> {
    fn from(object: Object) -> Self {
        object.entries.into_iter().map(|(k, v)| (k.into(), v.into())).collect()
    }
}

impl From<Object> for Json {
    fn from(object: Object) -> Self {
        Json::Object(object)
    }
}

impl From<&str> for Json {
    fn from(text: &str) -> Self {
        Json::String(text.into())
    }
}

impl From<String> for Json {
    fn from(text: String) -> Self {
        Json::String(text.into())
    }
}

impl<K: Into<CompactString>> FromIterator<(K, Json)> for Object {
    /// A key given twice keeps its first place and its last value, as when parsing.
    fn from_iter<I: IntoIterator<Item = (K, Json)>>(iter: I) -> Self {
        let mut builder = Builder::new();
        for (k, v) in iter {
            builder.add(k.into(), v);
        }
        builder.object
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn parse(text: &str) -> Json {
        serde_json::from_str(text).expect("JSON")
    }

    #[test]
    fn text_goes_through_unchanged_in_order_and_numbers() {
        let text = r#"{"z":1,"a":[true,null,-2,1.5,"x",{"b":{},"a":[]}],"m":"a long string of more than twenty-four bytes","e":"\u00e9\n"}"#;
        assert_eq!(parse(text).to_string(), serde_json::from_str::<Value>(text).unwrap().to_string());
    }

    #[test]
    fn a_key_given_twice_keeps_its_first_place_and_its_last_value_as_serde_json() {
        let text = r#"{"a":1,"b":2,"a":3}"#;
        assert_eq!(parse(text).to_string(), r#"{"a":3,"b":2}"#);
        assert_eq!(parse(text).to_string(), serde_json::from_str::<Value>(text).unwrap().to_string());
    }

    #[test]
    fn a_large_object_with_keys_given_twice_parses_as_serde_json_does() {
        let mut text = String::from("{");
        for i in 0..500 {
            text.push_str(&format!(r#""k{}":{i},"#, i % 300));
        }
        text.push_str(r#""last":true}"#);
        let ours = parse(&text);
        assert_eq!(ours.as_object().map(Object::len), Some(301));
        assert_eq!(ours.to_string(), serde_json::from_str::<Value>(&text).unwrap().to_string());
    }

    #[test]
    fn objects_are_equal_whatever_their_key_order() {
        assert_eq!(parse(r#"{"a":1,"b":{"c":2,"d":3}}"#), parse(r#"{"b":{"d":3,"c":2},"a":1}"#));
        assert_ne!(parse(r#"{"a":1,"b":2}"#), parse(r#"{"a":1,"c":2}"#));
        assert_ne!(parse(r#"{"a":1}"#), parse(r#"{"a":1.0}"#), "as serde_json: 1 and 1.0 differ");
    }

    #[test]
    fn an_object_is_refused_where_it_is_not_one() {
        assert!(serde_json::from_str::<Object>("[1]").is_err());
        assert!(serde_json::from_str::<Object>("\"x\"").is_err());
        assert!(serde_json::from_str::<Object>("{}").is_ok());
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            (-1e6f64..1e6).prop_map(|n| json!(n)),
            "[a-z\u{e9}\"\\\\ ]{0,40}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec(("[a-e]{1,2}", inner), 0..40)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Parsing, comparing and rendering agree with serde_json's `Value` on any JSON.
        #[test]
        fn the_tree_agrees_with_serde_json(a in arb_json(), b in arb_json()) {
            let (ta, tb) = (a.to_string(), b.to_string());
            let (ja, jb) = (parse(&ta), parse(&tb));
            prop_assert_eq!(ja.to_string(), ta);
            prop_assert_eq!(ja == jb, a == b);
            prop_assert_eq!(Value::from(ja.clone()), a.clone());
            prop_assert_eq!(Json::from(a), ja);
        }
    }
}
