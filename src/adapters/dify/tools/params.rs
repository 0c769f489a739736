//! Reading Dify tool parameters: Dify sends numbers as numbers or numeric strings, JSON
//! parameters as strings or objects, and blank strings for fields left empty. Every reader
//! treats `null` and blank strings as "not given" and names the parameter when a value is
//! unusable; none of them falls back to a default silently.

use serde_json::{Map, Value};

/// Why a parameter value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum ParamError {
    /// A required parameter was absent or blank.
    #[error("{0} is required")]
    Missing(&'static str),
    /// A value of the wrong kind.
    #[error("{name} must be {expected}, got {got}")]
    WrongType {
        /// The parameter.
        name: &'static str,
        /// What is accepted.
        expected: &'static str,
        /// A short rendering of what was given.
        got: String,
    },
    /// A string that should hold JSON but does not parse.
    #[error("{name} is not valid JSON ({detail}); expected {expected}")]
    NotJson {
        /// The parameter.
        name: &'static str,
        /// The parser's message.
        detail: String,
        /// What is accepted.
        expected: &'static str,
    },
}

/// The parameters of one tool call.
#[derive(Debug, Clone, Copy)]
pub(super) struct Params<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> Params<'a> {
    /// Wraps the `tool_parameters` object of a call.
    pub(super) fn new(map: &'a Map<String, Value>) -> Self {
        Self { map }
    }

    /// The value of `name`, unless it is absent, `null` or a blank string.
    fn given(&self, name: &str) -> Option<&'a Value> {
        match self.map.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(value) => Some(value),
        }
    }

    /// A text parameter. Numbers are accepted and written out (an id such as `42` may arrive
    /// as a number); objects, lists and booleans are rejected. The text is returned untrimmed.
    pub(super) fn text(&self, name: &'static str) -> Result<Option<String>, ParamError> {
        match self.given(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(wrong(name, "a string", other)),
        }
    }

    /// A text parameter that must be given.
    pub(super) fn required_text(&self, name: &'static str) -> Result<String, ParamError> {
        self.text(name)?.ok_or(ParamError::Missing(name))
    }

    /// A point in time: an RFC 3339 text (`2024-05-08T13:56:00Z`, any offset) or Unix seconds
    /// (a number or numeric text, fractions allowed).
    pub(super) fn timestamp(&self, name: &'static str) -> Result<Option<chrono::DateTime<chrono::Utc>>, ParamError> {
        const EXPECTED: &str = "an RFC 3339 time such as \"2024-05-08T13:56:00Z\" or Unix seconds";
        let Some(value) = self.given(name) else { return Ok(None) };
        if let Value::String(s) = value {
            if let Ok(at) = chrono::DateTime::parse_from_rfc3339(s.trim()) {
                return Ok(Some(at.with_timezone(&chrono::Utc)));
            }
        }
        let seconds = match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        seconds
            .filter(|s| s.is_finite())
            .and_then(|s| chrono::DateTime::from_timestamp_millis((s * 1000.0).round() as i64))
            .map(Some)
            .ok_or_else(|| wrong(name, EXPECTED, value))
    }

    /// An expiration date: a calendar date `YYYY-MM-DD` (expires when that day, UTC, is over), or a
    /// point in time as [`Params::timestamp`] reads it.
    pub(super) fn expiration(&self, name: &'static str) -> Result<Option<chrono::DateTime<chrono::Utc>>, ParamError> {
        const EXPECTED: &str = "a date such as \"2026-12-31\", an RFC 3339 time or Unix seconds";
        if let Some(Value::String(s)) = self.given(name) {
            if let Ok(day) = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
                let midnight = day.succ_opt().and_then(|next| next.and_hms_opt(0, 0, 0));
                return midnight
                    .map(|m| Some(m.and_utc()))
                    .ok_or_else(|| wrong(name, EXPECTED, &Value::String(s.clone())));
            }
        }
        self.timestamp(name).map_err(|e| match e {
            ParamError::WrongType { name, got, .. } => ParamError::WrongType { name, expected: EXPECTED, got },
            other => other,
        })
    }

    /// A finite number, given as a JSON number or a numeric string.
    pub(super) fn number(&self, name: &'static str) -> Result<Option<f64>, ParamError> {
        let Some(value) = self.given(name) else { return Ok(None) };
        let parsed = match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match parsed {
            Some(x) if x.is_finite() => Ok(Some(x)),
            _ => Err(wrong(name, "a number", value)),
        }
    }

    /// A boolean: `true`/`false`, `1`/`0`, or the strings `true false 1 0 yes no on off`
    /// in any case.
    pub(super) fn boolean(&self, name: &'static str) -> Result<Option<bool>, ParamError> {
        let Some(value) = self.given(name) else { return Ok(None) };
        let parsed = match value {
            Value::Bool(b) => Some(*b),
            Value::Number(n) if n.as_f64() == Some(1.0) => Some(true),
            Value::Number(n) if n.as_f64() == Some(0.0) => Some(false),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Some(true),
                "false" | "0" | "no" | "off" => Some(false),
                _ => None,
            },
            _ => None,
        };
        parsed.map(Some).ok_or_else(|| wrong(name, "true or false", value))
    }

    /// A JSON parameter given either as a JSON text or as an already parsed value.
    /// `expected` describes the accepted shape for the error message.
    pub(super) fn json(&self, name: &'static str, expected: &'static str) -> Result<Option<Value>, ParamError> {
        match self.given(name) {
            None => Ok(None),
            Some(Value::String(text)) => serde_json::from_str::<Value>(text.trim())
                .map(Some)
                .map_err(|e| ParamError::NotJson { name, detail: e.to_string(), expected }),
            Some(value) => Ok(Some(value.clone())),
        }
    }
}

fn wrong(name: &'static str, expected: &'static str, got: &Value) -> ParamError {
    ParamError::WrongType { name, expected, got: describe(got) }
}

/// A short rendering of a value for error messages (at most 60 characters).
pub(super) fn describe(value: &Value) -> String {
    let text = match value {
        Value::Object(_) => return "an object".into(),
        Value::Array(_) => return "a list".into(),
        other => other.to_string(),
    };
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with(value: Value) -> Map<String, Value> {
        json!({ "p": value }).as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn timestamps_are_rfc3339_or_unix_seconds() {
        let at = |value: Value| Params::new(&with(value)).timestamp("p");
        let expected =
            chrono::DateTime::parse_from_rfc3339("2023-05-08T13:56:00Z").unwrap().with_timezone(&chrono::Utc);
        assert_eq!(at(json!("2023-05-08T13:56:00Z")).unwrap(), Some(expected));
        assert_eq!(at(json!("2023-05-08T15:56:00+02:00")).unwrap(), Some(expected));
        assert_eq!(at(json!(1_683_554_160)).unwrap(), Some(expected));
        assert_eq!(at(json!("1683554160")).unwrap(), Some(expected));
        assert_eq!(at(json!("")).unwrap(), None);
        let err = at(json!("8 May 2023")).unwrap_err().to_string();
        assert!(err.contains("p") && err.contains("RFC 3339") && err.contains("Unix seconds"), "{err}");
    }

    #[test]
    fn blanks_and_nulls_are_absent() {
        for value in [json!(null), json!(""), json!("  \n")] {
            let map = with(value);
            let params = Params::new(&map);
            assert_eq!(params.text("p"), Ok(None));
            assert_eq!(params.number("p"), Ok(None));
            assert_eq!(params.boolean("p"), Ok(None));
            assert_eq!(params.json("p", "x"), Ok(None));
            assert_eq!(params.required_text("p"), Err(ParamError::Missing("p")));
        }
    }

    #[test]
    fn texts_accept_numbers_but_not_structures() {
        assert_eq!(Params::new(&with(json!(42))).text("p"), Ok(Some("42".into())));
        assert_eq!(Params::new(&with(json!(" a "))).text("p"), Ok(Some(" a ".into())));
        let err = Params::new(&with(json!({"a": 1}))).text("p").unwrap_err();
        assert_eq!(err.to_string(), "p must be a string, got an object");
        let err = Params::new(&with(json!(true))).text("p").unwrap_err();
        assert_eq!(err.to_string(), "p must be a string, got true");
    }

    #[test]
    fn numbers_come_as_numbers_or_numeric_strings() {
        assert_eq!(Params::new(&with(json!(3))).number("p"), Ok(Some(3.0)));
        assert_eq!(Params::new(&with(json!(" 0.5 "))).number("p"), Ok(Some(0.5)));
        let err = Params::new(&with(json!("many"))).number("p").unwrap_err();
        assert_eq!(err.to_string(), "p must be a number, got \"many\"");
        assert!(Params::new(&with(json!("NaN"))).number("p").is_err());
        assert!(Params::new(&with(json!("inf"))).number("p").is_err());
    }

    #[test]
    fn booleans_accept_the_usual_spellings() {
        for (value, expected) in
            [(json!(true), true), (json!("False"), false), (json!("yes"), true), (json!(0), false), (json!(1), true)]
        {
            assert_eq!(Params::new(&with(value)).boolean("p"), Ok(Some(expected)));
        }
        let err = Params::new(&with(json!("maybe"))).boolean("p").unwrap_err();
        assert_eq!(err.to_string(), "p must be true or false, got \"maybe\"");
        assert!(Params::new(&with(json!(2))).boolean("p").is_err());
    }

    #[test]
    fn json_comes_as_text_or_value() {
        assert_eq!(Params::new(&with(json!("{\"a\": 1}"))).json("p", "x"), Ok(Some(json!({"a": 1}))));
        assert_eq!(Params::new(&with(json!({"a": 1}))).json("p", "x"), Ok(Some(json!({"a": 1}))));
        let err = Params::new(&with(json!("{a: 1}"))).json("p", "a JSON object").unwrap_err();
        assert!(err.to_string().starts_with("p is not valid JSON ("), "{err}");
        assert!(err.to_string().ends_with("); expected a JSON object"), "{err}");
    }

    #[test]
    fn long_values_are_shortened_in_messages() {
        let long = "x".repeat(100);
        assert_eq!(describe(&json!(long)).chars().count(), 61);
    }
}
