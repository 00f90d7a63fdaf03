//! One field of a request body as it was sent: absent, `null`, a value of the expected type, or a value of another
//! type. Request types (the service's `…In` types, and [`crate::change`]) read every field as a [`Field`], so that
//! serde never fails on a field and validation can name each wrong one (contract §3: a 422 naming the field).

use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, IgnoredAny, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// One field of a request body as it was sent. Serde reads any JSON value into it without failing: a value of
/// another type than `T` is [`Field::Invalid`], which validation reports as a 422 naming the field.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Field<T> {
    /// The body does not have the field (use `#[serde(default)]` on it).
    #[default]
    Absent,
    /// `null`, which most fields read as absent.
    Null,
    /// A value of the expected type.
    Given(T),
    /// A value of another type.
    Invalid,
}

impl<T> Field<T> {
    /// The value if one of the right type was given.
    pub fn given(self) -> Option<T> {
        match self {
            Field::Given(v) => Some(v),
            _ => None,
        }
    }

    /// Absent or `null`.
    pub fn is_missing(&self) -> bool {
        matches!(self, Field::Absent | Field::Null)
    }
}

impl<T> From<T> for Field<T> {
    fn from(v: T) -> Self {
        Field::Given(v)
    }
}

impl<T> From<Option<T>> for Field<T> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Field::Null, Field::Given)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldVisitor(PhantomData))
    }
}

struct FieldVisitor<T>(PhantomData<T>);

fn lift<T, E>(r: Result<T, E>) -> Field<T> {
    r.map_or(Field::Invalid, Field::Given)
}

// `T` is read from the value the visitor got. When `T` refuses a list or an object before reading any of it, that is
// a wrong type: the rest is skipped and the field is `Invalid`. An error after `T` has read some of it (malformed
// JSON inside, a number out of range, a key given twice) is the body's error and goes up as it is.
impl<'de, T: Deserialize<'de>> Visitor<'de> for FieldVisitor<T> {
    type Value = Field<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(lift(T::deserialize(IntoDeserializer::<E>::into_deserializer(v))))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(lift(T::deserialize(IntoDeserializer::<E>::into_deserializer(v))))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(lift(T::deserialize(IntoDeserializer::<E>::into_deserializer(v))))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(lift(T::deserialize(IntoDeserializer::<E>::into_deserializer(v))))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(lift(T::deserialize(IntoDeserializer::<E>::into_deserializer(v))))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(lift(T::deserialize(IntoDeserializer::<E>::into_deserializer(v))))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let mut seq = Watched { inner: seq, read: false };
        let r = T::deserialize(de::value::SeqAccessDeserializer::new(&mut seq));
        if r.is_err() && seq.read {
            return r.map(Field::Given);
        }
        while seq.inner.next_element::<IgnoredAny>()?.is_some() {}
        Ok(lift(r))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let mut map = Watched { inner: map, read: false };
        let r = T::deserialize(de::value::MapAccessDeserializer::new(&mut map));
        if r.is_err() && map.read {
            return r.map(Field::Given);
        }
        while map.inner.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(lift(r))
    }
}

/// A list or an object being read, and whether anything of it has been.
struct Watched<A> {
    inner: A,
    read: bool,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Watched<A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>, A::Error> {
        self.read = true;
        self.inner.next_element_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Watched<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        self.read = true;
        self.inner.next_key_seed(seed)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.inner.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// A list whose items are each read as a [`Field`], so that one wrong item is named (`topicIds[2]`).
pub type List<T> = Field<Vec<Field<T>>>;

/// A list of JSON objects, each read into `T`.
pub type ObjectList<T> = List<Object<T>>;

/// A JSON object read into `T`: unlike a derived struct, which serde also reads from a list, only an object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = Object<T>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Object)
            }
        }
        d.deserialize_map(ObjectVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map, Value};

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(default)]
        s: Field<String>,
        #[serde(default)]
        b: Field<bool>,
        #[serde(default)]
        l: List<String>,
        #[serde(default)]
        o: Field<Map<String, Value>>,
        #[serde(default)]
        x: ObjectList<Map<String, Value>>,
    }

    fn read(v: Value) -> Body {
        serde_json::from_str(&v.to_string()).expect("any value of a field is read")
    }

    #[test]
    fn a_field_is_absent_null_given_or_invalid_and_never_fails() {
        let b = read(json!({"s": "a", "b": null, "l": ["x", 1, null], "o": {"k": [1]}}));
        assert_eq!(b.s, Field::Given("a".into()));
        assert_eq!(b.b, Field::Null);
        assert_eq!(b.l, Field::Given(vec![Field::Given("x".into()), Field::Invalid, Field::Null]));
        assert!(matches!(b.o, Field::Given(ref m) if m["k"] == json!([1])));
        assert_eq!(b.x, Field::Absent);
        for wrong in [json!(1), json!(1.5), json!(-1), json!(true), json!([1, [2]]), json!({"a": {"b": 1}})] {
            let b = read(json!({"s": wrong, "b": "true", "l": "x", "o": [1, 2], "x": [[1], {"a": 1}, 2]}));
            assert_eq!(b.s, Field::Invalid, "{wrong}");
            assert_eq!(b.b, Field::Invalid);
            assert_eq!(b.l, Field::Invalid);
            assert_eq!(b.o, Field::Invalid);
            let Field::Given(x) = b.x else { panic!("a list of objects") };
            assert_eq!(x[0], Field::Invalid, "a list is not an object");
            assert!(matches!(x[1], Field::Given(_)));
            assert_eq!(x[2], Field::Invalid);
        }
    }

    #[test]
    fn malformed_json_inside_a_field_is_an_error_not_a_wrong_type() {
        for text in [
            r#"{"l": ["a" "b"]}"#,
            r#"{"o": {"a" 1}}"#,
            r#"{"o": {"a": 1e400}}"#,
            r#"{"o": {"a": "\ud800"}}"#,
            r#"{"x": [{"a": }]}"#,
        ] {
            assert!(serde_json::from_str::<Body>(text).is_err(), "{text}");
        }
    }
}
