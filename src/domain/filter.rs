//! Mem0's metadata filter language as a validated tree.
//!
//! Accepted JSON: `{"key": value}` (equality), `{"key": {"op": value}}` with op one of
//! `eq ne in nin gt gte lt lte contains icontains`, and the combinators `{"AND": [..]}`,
//! `{"OR": [..]}`, `{"NOT": [..]}` (NOT negates the conjunction of its list). Several keys in
//! one object are AND-ed. Anything else is refused by name: combinators spelled otherwise (`or`,
//! `And`), lists or objects compared as plain values, U+0000 in a value. The caller's scope is
//! never part of a filter: stores always AND the scope in, so a filter can narrow a search but
//! never widen it.

use super::memory::MemoryRecord;
use serde_json::{Map, Value};

/// Deepest nesting of combinators accepted.
pub const MAX_FILTER_DEPTH: usize = 8;
/// Most conditions accepted in one filter.
pub const MAX_FILTER_CONDITIONS: usize = 64;

/// Why a filter was rejected. Every message names the offending part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The filter (or a part of it) was not a JSON object.
    #[error("filters must be a JSON object such as {{\"category\": \"food\"}}; got {0}")]
    NotObject(String),
    /// A combinator did not hold a non-empty list of objects.
    #[error("filters.{0} must be a non-empty list of filter objects")]
    BadCombinator(&'static str),
    /// An operator is unknown.
    #[error(
        "filters.{field}: unknown operator {op:?}; allowed: eq, ne, in, nin, gt, gte, lt, lte, contains, icontains"
    )]
    UnknownOperator {
        /// The field.
        field: String,
        /// The operator given.
        op: String,
    },
    /// An operator's operand has the wrong type.
    #[error("filters.{field}.{op} expects {expected}")]
    BadOperand {
        /// The field.
        field: String,
        /// The operator.
        op: &'static str,
        /// What was expected.
        expected: &'static str,
    },
    /// A field name is not allowed.
    #[error("filters: field name {0:?} is not allowed (1-64 characters of letters, digits, '_', '-', '.')")]
    BadField(String),
    /// Too deep or too large.
    #[error("filters are too complex (at most {MAX_FILTER_DEPTH} levels and {MAX_FILTER_CONDITIONS} conditions)")]
    TooComplex,
    /// An empty object.
    #[error("filters must not be empty")]
    Empty,
    /// A key that reads as a combinator but is not written as Mem0 writes one (`or`, `And`…).
    #[error("filters: unknown combinator {0:?}; combinators are written AND, OR, NOT (or $and, $or, $not)")]
    UnknownCombinator(String),
    /// A field compared with a list or an object instead of a single value.
    #[error(
        "filters.{0}: a field is compared with one value (a string, number, boolean or null); \
         to match one of several values write {{\"{0}\": {{\"in\": [...]}}}}"
    )]
    NotAValue(String),
    /// A value holds U+0000, which no memory can hold (see `memory::refuse_nul`).
    #[error("filters.{0} contains the character U+0000, which memories cannot hold")]
    NulCharacter(String),
}

/// A comparison applied to one field.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Equal to the value.
    Eq(Value),
    /// Not equal to the value (absent fields match).
    Ne(Value),
    /// Equal to one of the values.
    In(Vec<Value>),
    /// Equal to none of the values (absent fields match).
    Nin(Vec<Value>),
    /// Greater than (numbers numerically, strings lexically).
    Gt(Value),
    /// Greater than or equal.
    Gte(Value),
    /// Less than.
    Lt(Value),
    /// Less than or equal.
    Lte(Value),
    /// A string containing the text, or a list containing the value.
    Contains(Value),
    /// A string containing the text, ignoring case.
    IContains(String),
}

/// A validated filter tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// All must hold.
    And(Vec<Filter>),
    /// At least one must hold.
    Or(Vec<Filter>),
    /// Must not hold.
    Not(Box<Filter>),
    /// A field comparison. `field` is a metadata key, or one of the memory's own fields
    /// `user_id`, `agent_id`, `run_id`, `actor_id`, `role`, `created_at`, `updated_at`, `observed_at`.
    Field {
        /// The field name.
        field: String,
        /// The comparison.
        condition: Condition,
    },
}

/// Memory fields a filter may name besides metadata keys.
pub const RECORD_FIELDS: &[&str] =
    &["user_id", "agent_id", "run_id", "actor_id", "role", "created_at", "updated_at", "observed_at"];

impl Filter {
    /// Validates a filter given as JSON.
    pub fn parse(value: &Value) -> Result<Self, FilterError> {
        let mut budget = MAX_FILTER_CONDITIONS;
        parse_object(value, 0, &mut budget)
    }

    /// True when `record` satisfies the filter.
    pub fn matches(&self, record: &MemoryRecord) -> bool {
        match self {
            Filter::And(all) => all.iter().all(|f| f.matches(record)),
            Filter::Or(any) => any.iter().any(|f| f.matches(record)),
            Filter::Not(inner) => !inner.matches(record),
            Filter::Field { field, condition } => condition.holds(record_field(record, field).as_ref()),
        }
    }
}

/// The value of `field` in a record: its own fields first, then its metadata.
pub fn record_field(record: &MemoryRecord, field: &str) -> Option<Value> {
    let text = |v: Option<&str>| v.map(|s| Value::String(s.to_owned()));
    match field {
        "user_id" => text(record.scope.user_id().map(|i| i.as_str())),
        "agent_id" => text(record.scope.agent_id().map(|i| i.as_str())),
        "run_id" => text(record.scope.run_id().map(|i| i.as_str())),
        "actor_id" => text(record.actor_id.as_ref().map(|i| i.as_str())),
        "role" => text(record.role.as_deref()),
        "created_at" => Some(Value::String(super::memory::format_timestamp(&record.created_at))),
        "updated_at" => Some(Value::String(super::memory::format_timestamp(&record.updated_at))),
        "observed_at" => record.observed_at.as_ref().map(|t| Value::String(super::memory::format_timestamp(t))),
        key => record.metadata.as_map().get(key).cloned(),
    }
}

impl Condition {
    /// The operator's name as written in filters.
    pub fn operator(&self) -> &'static str {
        match self {
            Condition::Eq(_) => "eq",
            Condition::Ne(_) => "ne",
            Condition::In(_) => "in",
            Condition::Nin(_) => "nin",
            Condition::Gt(_) => "gt",
            Condition::Gte(_) => "gte",
            Condition::Lt(_) => "lt",
            Condition::Lte(_) => "lte",
            Condition::Contains(_) => "contains",
            Condition::IContains(_) => "icontains",
        }
    }

    /// True when an operand holds U+0000 (no stored value can).
    fn holds_nul(&self) -> bool {
        let nul = |v: &Value| v.as_str().is_some_and(|s| s.contains('\0'));
        match self {
            Condition::In(vs) | Condition::Nin(vs) => vs.iter().any(nul),
            Condition::IContains(s) => s.contains('\0'),
            Condition::Eq(v)
            | Condition::Ne(v)
            | Condition::Gt(v)
            | Condition::Gte(v)
            | Condition::Lt(v)
            | Condition::Lte(v)
            | Condition::Contains(v) => nul(v),
        }
    }

    /// True when a field holding `value` (`None` = absent) satisfies the condition.
    pub fn holds(&self, value: Option<&Value>) -> bool {
        use std::cmp::Ordering::*;
        match (self, value) {
            (Condition::Ne(v), actual) => actual.is_none_or(|a| !json_eq(a, v)),
            (Condition::Nin(vs), actual) => actual.is_none_or(|a| !vs.iter().any(|v| json_eq(a, v))),
            (_, None) => false,
            (Condition::Eq(v), Some(a)) => json_eq(a, v),
            (Condition::In(vs), Some(a)) => vs.iter().any(|v| json_eq(a, v)),
            (Condition::Gt(v), Some(a)) => compare(a, v) == Some(Greater),
            (Condition::Gte(v), Some(a)) => matches!(compare(a, v), Some(Greater | Equal)),
            (Condition::Lt(v), Some(a)) => compare(a, v) == Some(Less),
            (Condition::Lte(v), Some(a)) => matches!(compare(a, v), Some(Less | Equal)),
            (Condition::Contains(v), Some(Value::String(s))) => v.as_str().is_some_and(|needle| s.contains(needle)),
            (Condition::Contains(v), Some(Value::Array(items))) => items.iter().any(|i| json_eq(i, v)),
            (Condition::Contains(_), Some(_)) => false,
            (Condition::IContains(needle), Some(Value::String(s))) => s.to_lowercase().contains(&needle.to_lowercase()),
            (Condition::IContains(_), Some(_)) => false,
        }
    }
}

/// JSON equality where numbers compare by value (1 == 1.0).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn parse_object(value: &Value, depth: usize, budget: &mut usize) -> Result<Filter, FilterError> {
    if depth > MAX_FILTER_DEPTH {
        return Err(FilterError::TooComplex);
    }
    let map = value.as_object().ok_or_else(|| FilterError::NotObject(short(value)))?;
    if map.is_empty() {
        return Err(FilterError::Empty);
    }
    let mut parts = Vec::with_capacity(map.len());
    for (key, inner) in map {
        let part = match key.as_str() {
            "AND" | "$and" => Filter::And(parse_list("AND", inner, depth, budget)?),
            "OR" | "$or" => Filter::Or(parse_list("OR", inner, depth, budget)?),
            "NOT" | "$not" => Filter::Not(Box::new(Filter::And(parse_list("NOT", inner, depth, budget)?))),
            other if is_combinator_lookalike(other) => return Err(FilterError::UnknownCombinator(other.to_owned())),
            field => parse_field(field, inner, budget)?,
        };
        parts.push(part);
    }
    Ok(if parts.len() == 1 { parts.remove(0) } else { Filter::And(parts) })
}

/// A key spelled like a combinator in another case or without its `$` (`or`, `And`, `$OR`, `not`):
/// a field of that name would silently match nothing, so it is refused.
fn is_combinator_lookalike(key: &str) -> bool {
    matches!(key.trim_start_matches('$').to_ascii_lowercase().as_str(), "and" | "or" | "not")
}

fn parse_list(name: &'static str, value: &Value, depth: usize, budget: &mut usize) -> Result<Vec<Filter>, FilterError> {
    match value {
        Value::Array(items) if !items.is_empty() => items.iter().map(|i| parse_object(i, depth + 1, budget)).collect(),
        Value::Object(_) => Ok(vec![parse_object(value, depth + 1, budget)?]),
        _ => Err(FilterError::BadCombinator(name)),
    }
}

fn parse_field(field: &str, value: &Value, budget: &mut usize) -> Result<Filter, FilterError> {
    let valid_name = !field.is_empty()
        && field.len() <= 64
        && field.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !valid_name {
        return Err(FilterError::BadField(field.chars().take(80).collect()));
    }
    let mut conditions = match value {
        Value::Object(ops) if !ops.is_empty() => {
            ops.iter().map(|(op, operand)| parse_condition(field, op, operand)).collect::<Result<Vec<_>, _>>()?
        }
        Value::Object(_) => return Err(FilterError::Empty),
        Value::Array(_) => return Err(FilterError::NotAValue(field.to_owned())),
        scalar => vec![Condition::Eq(scalar.clone())],
    };
    if let Some(op) = conditions.iter().find_map(|c| c.holds_nul().then(|| c.operator())) {
        let at = if matches!(value, Value::Object(_)) { format!("{field}.{op}") } else { field.to_owned() };
        return Err(FilterError::NulCharacter(at));
    }
    if conditions.len() > *budget {
        return Err(FilterError::TooComplex);
    }
    *budget -= conditions.len();
    let mut leaves: Vec<Filter> =
        conditions.drain(..).map(|condition| Filter::Field { field: field.to_owned(), condition }).collect();
    Ok(if leaves.len() == 1 { leaves.remove(0) } else { Filter::And(leaves) })
}

fn parse_condition(field: &str, op: &str, operand: &Value) -> Result<Condition, FilterError> {
    let bad =
        |op: &'static str, expected: &'static str| FilterError::BadOperand { field: field.to_owned(), op, expected };
    let scalar = |op: &'static str| -> Result<Value, FilterError> {
        match operand {
            Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => Ok(operand.clone()),
            _ => Err(bad(op, "a string, number, boolean or null")),
        }
    };
    let ordered = |op: &'static str| -> Result<Value, FilterError> {
        match operand {
            Value::String(_) | Value::Number(_) => Ok(operand.clone()),
            _ => Err(bad(op, "a number or a string")),
        }
    };
    let list = |op: &'static str| -> Result<Vec<Value>, FilterError> {
        match operand {
            Value::Array(items) if items.iter().all(|i| !i.is_array() && !i.is_object()) => Ok(items.clone()),
            _ => Err(bad(op, "a list of strings, numbers or booleans")),
        }
    };
    Ok(match op.trim_start_matches('$') {
        "eq" => Condition::Eq(scalar("eq")?),
        "ne" => Condition::Ne(scalar("ne")?),
        "in" => Condition::In(list("in")?),
        "nin" => Condition::Nin(list("nin")?),
        "gt" => Condition::Gt(ordered("gt")?),
        "gte" => Condition::Gte(ordered("gte")?),
        "lt" => Condition::Lt(ordered("lt")?),
        "lte" => Condition::Lte(ordered("lte")?),
        "contains" => Condition::Contains(scalar("contains")?),
        "icontains" => Condition::IContains(operand.as_str().ok_or_else(|| bad("icontains", "a string"))?.to_owned()),
        other => return Err(FilterError::UnknownOperator { field: field.to_owned(), op: other.to_owned() }),
    })
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

/// Parses a filter given as optional JSON (`None`/`null`/`{}` = no filter).
pub fn parse_optional(value: Option<&Value>) -> Result<Option<Filter>, FilterError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) if map.is_empty() => Ok(None),
        Some(v) => Filter::parse(v).map(Some),
    }
}

/// Builds an object filter from a map (used by callers holding a parsed JSON object).
pub fn parse_map(map: &Map<String, Value>) -> Result<Filter, FilterError> {
    Filter::parse(&Value::Object(map.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::memory::{MemoryId, MemoryText, Metadata};
    use crate::domain::scope::Scope;
    use chrono::Utc;
    use serde_json::json;
    use uuid::Uuid;

    fn record(meta: Value) -> MemoryRecord {
        MemoryRecord::new(
            MemoryId::from_uuid(Uuid::nil()),
            MemoryText::parse("t", "x").unwrap(),
            Metadata::parse(meta).unwrap(),
            Scope::parse(Some("alice"), Some("bot"), None).unwrap(),
            Utc::now(),
        )
    }

    fn check(filter: Value, meta: Value) -> bool {
        Filter::parse(&filter).unwrap().matches(&record(meta))
    }

    #[test]
    fn operators_behave_like_mem0s() {
        let meta = json!({"topic": "Food", "n": 3, "tags": ["a", "b"]});
        let cases = [
            (json!({"topic": "Food"}), true),
            (json!({"topic": {"eq": "food"}}), false),
            (json!({"topic": {"ne": "x"}}), true),
            (json!({"missing": {"ne": "x"}}), true),
            (json!({"missing": {"eq": "x"}}), false),
            (json!({"n": {"in": [1, 3.0]}}), true),
            (json!({"n": {"nin": [3]}}), false),
            (json!({"n": {"gt": 2, "lte": 3}}), true),
            (json!({"n": {"lt": 3}}), false),
            (json!({"n": {"gte": "a"}}), false),
            (json!({"topic": {"contains": "oo"}}), true),
            (json!({"tags": {"contains": "b"}}), true),
            (json!({"topic": {"icontains": "FOO"}}), true),
            (json!({"user_id": "alice", "agent_id": "bot"}), true),
            (json!({"OR": [{"topic": "x"}, {"n": 3}]}), true),
            (json!({"AND": [{"topic": "Food"}, {"n": 4}]}), false),
            (json!({"NOT": [{"topic": "Food"}]}), false),
            (json!({"$or": [{"topic": "x"}], "n": 3}), false),
        ];
        for (filter, expected) in cases {
            assert_eq!(check(filter.clone(), meta.clone()), expected, "{filter}");
        }
    }

    #[test]
    fn bad_filters_are_named() {
        let err = |v: Value| Filter::parse(&v).unwrap_err().to_string();
        assert!(err(json!([1])).contains("JSON object"));
        assert!(err(json!({"a": {"like": 1}})).contains("unknown operator \"like\""));
        assert!(err(json!({"a": {"in": 3}})).contains("filters.a.in expects a list"));
        assert!(err(json!({"OR": 3})).contains("filters.OR"));
        assert!(err(json!({"bad key": 1})).contains("not allowed"));
        let mut deep = json!({"a": 1});
        for _ in 0..10 {
            deep = json!({"AND": [deep]});
        }
        assert_eq!(Filter::parse(&deep), Err(FilterError::TooComplex));
        assert_eq!(parse_optional(Some(&json!({}))), Ok(None));
    }

    #[test]
    fn keys_and_values_outside_mem0s_language_are_refused_by_name() {
        let err = |v: Value| Filter::parse(&v).unwrap_err();
        for key in ["or", "Or", "and", "And", "not", "nOT", "$OR", "$And", "$Not"] {
            let e = err(json!({key: [{"topic": "food"}, {"topic": "drink"}]}));
            assert_eq!(e, FilterError::UnknownCombinator(key.to_owned()), "{key}");
            assert!(e.to_string().contains(&format!("{key:?}")), "{e}");
        }
        let e = err(json!({"topic": ["food", "drink"]}));
        assert_eq!(e, FilterError::NotAValue("topic".into()));
        assert!(e.to_string().contains("filters.topic") && e.to_string().contains("\"in\""), "{e}");
        assert_eq!(err(json!({"OR": [{"n": 1}, {"tags": []}]})), FilterError::NotAValue("tags".into()));
        assert!(err(json!({"topic": {"EQ": "x"}})).to_string().contains("unknown operator \"EQ\""));
        assert!(err(json!({"topic": {"Eq": "x"}})).to_string().contains("unknown operator \"Eq\""));
        assert_eq!(err(json!({"topic": "a\u{0}b"})), FilterError::NulCharacter("topic".into()));
        assert_eq!(err(json!({"topic": {"in": ["x", "\u{0}"]}})), FilterError::NulCharacter("topic.in".into()));
        // Mem0's own spellings still work
        for key in ["AND", "OR", "NOT", "$and", "$or", "$not"] {
            assert!(Filter::parse(&json!({key: [{"topic": "food"}]})).is_ok(), "{key}");
        }
        assert!(Filter::parse(&json!({"topic": null, "n": {"in": [1, 2]}})).is_ok());
    }
}
