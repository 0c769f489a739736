//! Reading JSON text that must not repeat a key. JSON parsers, serde_json's `Value` included,
//! silently keep the last of two equal keys, so `{"api_key": "a", "api_key": "b"}` would configure
//! something else than its author may have meant; here it is refused, naming the key.

use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::fmt;

/// Why the text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrictJsonError {
    /// A key appears twice in one object; its path (`config.api_key`, `a[2].b`).
    #[error("the key {0:?} appears more than once")]
    DuplicateKey(String),
    /// Not JSON; the parser's message.
    #[error("{0}")]
    Syntax(String),
}

/// Parses `text` as one JSON value in which no object repeats a key.
pub fn parse_without_duplicate_keys(text: &str) -> Result<Value, StrictJsonError> {
    let duplicate = RefCell::new(None);
    let mut reader = serde_json::Deserializer::from_str(text);
    let parsed = Seed { path: String::new(), duplicate: &duplicate }.deserialize(&mut reader).and_then(|value| {
        reader.end()?;
        Ok(value)
    });
    parsed.map_err(|e| match duplicate.into_inner() {
        Some(path) => StrictJsonError::DuplicateKey(path),
        None => StrictJsonError::Syntax(e.to_string()),
    })
}

/// Reads one value at `path`, noting the first repeated key in `duplicate`.
struct Seed<'a> {
    path: String,
    duplicate: &'a RefCell<Option<String>>,
}

impl Seed<'_> {
    fn child(&self, path: String) -> Self {
        Seed { path, duplicate: self.duplicate }
    }
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.child(format!("{}[{}]", self.path, items.len())))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let path = if self.path.is_empty() { key.clone() } else { format!("{}.{key}", self.path) };
            if map.contains_key(&key) {
                self.duplicate.borrow_mut().get_or_insert_with(|| path.clone());
                return Err(A::Error::custom(format!("duplicate key {path:?}")));
            }
            let value = access.next_value_seed(self.child(path))?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repeated_keys_are_refused_with_their_path() {
        let dup = |text: &str| parse_without_duplicate_keys(text).unwrap_err();
        assert_eq!(dup(r#"{"a": 1, "a": 1}"#), StrictJsonError::DuplicateKey("a".into()));
        assert_eq!(
            dup(r#"{"provider": "openai", "config": {"api_key": "a", "model": "m", "api_key": "b"}}"#),
            StrictJsonError::DuplicateKey("config.api_key".into())
        );
        assert_eq!(dup(r#"[{"x": [{"k": 1, "k": 2}]}]"#), StrictJsonError::DuplicateKey("[0].x[0].k".into()));
        assert_eq!(dup(r#"{"a\u0062": 1, "ab": 2}"#), StrictJsonError::DuplicateKey("ab".into()));
        assert!(dup(r#"{"a": 1, "a": 2}"#).to_string().contains("\"a\" appears more than once"));
    }

    #[test]
    fn everything_else_reads_as_serde_json_reads_it() {
        for text in
            [r#"{"a": {"b": [1, -2, 3.5e-7, "x", null, true]}, "c": {}}"#, "[]", "\"s\"", "12345678901234567890"]
        {
            assert_eq!(parse_without_duplicate_keys(text).unwrap(), serde_json::from_str::<Value>(text).unwrap());
        }
        assert_eq!(parse_without_duplicate_keys(r#"{"a": {"k": 1}, "b": {"k": 1}}"#).unwrap()["b"], json!({"k": 1}));
        assert!(matches!(parse_without_duplicate_keys("{nope"), Err(StrictJsonError::Syntax(_))));
        assert!(matches!(parse_without_duplicate_keys("{} trailing"), Err(StrictJsonError::Syntax(_))));
        assert!(matches!(parse_without_duplicate_keys("1e5000"), Err(StrictJsonError::Syntax(_))));
    }
}
