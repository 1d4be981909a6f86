//! A parsed JSON payload that borrows its strings from the payload.
//!
//! `serde_json::Value` allocates a `String` for every key and string and a `BTreeMap` node for
//! every object; a transformer reads a dozen fields of each payload and drops the rest. This tree
//! borrows every string that has no escapes and keeps an object's members as they came, so a
//! payload costs a few vectors. It reads as `Value` does: a later duplicate key wins, and
//! [`Json::entries`] lists an object's members in the sorted order `Value`'s map iterates.
//! Parsed by serde_json itself, so what it accepts and its error messages are the same.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Number;
use std::borrow::Cow;
use std::fmt;

/// One JSON value; strings borrowed from the payload where it has no escapes.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    /// Members in the payload's order, duplicates kept (lookups take the last).
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    /// Parses `bytes` as exactly one JSON value.
    pub fn parse(bytes: &'a [u8]) -> serde_json::Result<Json<'a>> {
        serde_json::from_slice(bytes)
    }

    /// The member `key` of an object (the last, when repeated, as in `Value`).
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value at `path`, a member of a member…: `Value::pointer` for object keys only.
    pub fn at(&self, path: &[&str]) -> Option<&Json<'a>> {
        path.iter().try_fold(self, |v, key| v.get(key))
    }

    /// An object's members in `Value`'s order: sorted by key, the last of each duplicate.
    pub fn entries(&self) -> Vec<(&str, &Json<'a>)> {
        let Json::Object(members) = self else { return Vec::new() };
        let mut out: Vec<(&str, &Json<'a>)> = Vec::with_capacity(members.len());
        // Stable sort, then keep the last of each run of equal keys.
        let mut sorted: Vec<(&str, &Json<'a>)> = members.iter().map(|(k, v)| (k.as_ref(), v)).collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        for (k, v) in sorted {
            match out.last_mut() {
                Some(last) if last.0 == k => *last = (k, v),
                _ => out.push((k, v)),
            }
        }
        out
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Json::Object(_))
    }

    pub fn as_bool(&self) -> Option<bool> {
        if let Json::Bool(b) = self { Some(*b) } else { None }
    }

    pub fn as_str(&self) -> Option<&str> {
        if let Json::String(s) = self { Some(s) } else { None }
    }

    pub fn as_array(&self) -> Option<&[Json<'a>]> {
        if let Json::Array(a) = self { Some(a) } else { None }
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any valid JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Json<'de>, E> {
        // As `Value`: a float JSON cannot hold is null.
        Ok(Number::from_f64(n).map_or(Json::Null, Json::Number))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s.to_string())))
    }
    fn visit_string<E>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s)))
    }
    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json<'de>, D::Error> {
        Json::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Json::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(Key(k)) = map.next_key()? {
            out.push((k, map.next_value()?));
        }
        Ok(Json::Object(out))
    }
}

/// An object's key, borrowed where it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The same tree as `Value`, member by member: `Value`'s keys come sorted, last duplicate kept.
    fn same(j: &Json, v: &Value) -> bool {
        match (j, v) {
            (Json::Null, Value::Null) => true,
            (Json::Bool(a), Value::Bool(b)) => a == b,
            (Json::Number(a), Value::Number(b)) => a == b && a.to_string() == b.to_string(),
            (Json::String(a), Value::String(b)) => a == b,
            (Json::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y)),
            (Json::Object(_), Value::Object(m)) => {
                let e = j.entries();
                e.len() == m.len() && e.iter().zip(m).all(|((k1, x), (k2, y))| k1 == k2 && same(x, y) && j.get(k1) == Some(*x))
            }
            _ => false,
        }
    }

    #[test]
    fn reads_as_value_does() {
        let cases: &[&[u8]] = &[
            br#"{"b":1,"a":{"x":[1,2.5,-3,1e300,18446744073709551615,-9223372036854775808]},"b":"two","c":null,"e":"esc\"aped \u00e6","t":true}"#,
            br#"[{"z":1,"z":2,"y":[]},{},[],"",0.0,1E2]"#,
            br#"{"\u0061":1,"a":2}"#,
            b"  \"just a string\"  ",
        ];
        for bytes in cases {
            let j = Json::parse(bytes).unwrap();
            let v: Value = serde_json::from_slice(bytes).unwrap();
            assert!(same(&j, &v), "{}", String::from_utf8_lossy(bytes));
        }
        let j = Json::parse(br#"{"b":1,"b":"two"}"#).unwrap();
        assert_eq!(j.get("b").and_then(Json::as_str), Some("two"), "the last duplicate wins");
        let j = Json::parse(br#"{"a":{"b":{"c":"deep"},"b":{"c":"last"}},"l":[{"c":1}]}"#).unwrap();
        let v: Value = serde_json::from_str(r#"{"a":{"b":{"c":"deep"},"b":{"c":"last"}},"l":[{"c":1}]}"#).unwrap();
        // `Value::pointer` for object keys: the last duplicate at each step, nothing through an array.
        assert!(same(j.at(&["a", "b", "c"]).unwrap(), v.pointer("/a/b/c").unwrap()));
        assert!(same(j.at(&[]).unwrap(), &v));
        assert_eq!(j.at(&["a", "x"]), None);
        assert_eq!(j.at(&["l", "0"]), None);
        let Json::Object(m) = Json::parse(br#"{"plain":"text"}"#).unwrap() else { panic!() };
        assert!(matches!((&m[0].0, &m[0].1), (Cow::Borrowed(_), Json::String(Cow::Borrowed(_)))), "unescaped strings are borrowed");
    }

    #[test]
    fn refuses_what_value_refuses_with_the_same_message() {
        let deep = "[".repeat(200) + &"]".repeat(200);
        let cases: &[&[u8]] = &[b"{", b"{\"a\":}", b"[1,]", b"{} x", b"\"\\ud800\"", b"", b"nul", b"1e999", deep.as_bytes()];
        for bytes in cases {
            let a = Json::parse(bytes).map(|_| ()).map_err(|e| e.to_string());
            let b = serde_json::from_slice::<Value>(bytes).map(|_| ()).map_err(|e| e.to_string());
            assert_eq!(a, b, "{}", String::from_utf8_lossy(bytes));
            assert!(a.is_err() || bytes == b"\"\\ud800\"");
        }
    }
}
