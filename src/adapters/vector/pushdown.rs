//! The part of a search's conditions a hosted store can evaluate itself.
//!
//! A store's own filter language never matches the domain's [`Filter`] exactly (a list-valued field
//! equals any of its elements in Pinecone and Qdrant, `$ne` may or may not match absent fields, and
//! neither can test substrings), so the stores split the work: they send a [`Pushdown`] that selects a
//! SUPERSET of what the filter selects, and then check every candidate with [`Filter::matches`] and
//! [`Scope::contains`] (see [`super::refine`]). What cannot be pushed down safely (`ne`, `nin`,
//! `contains`, `icontains`, ranges over strings, `null` equality, `NOT`) is left to that check alone.
//! The scope is always pushed down, so a store never scans other users' memories.

use crate::domain::filter::{Condition, Filter};
use crate::domain::scope::Scope;
use serde_json::Value;

/// A value a store can compare for equality.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// A string.
    Text(String),
    /// A number (stores compare numbers as 64-bit floats).
    Number(f64),
    /// A boolean.
    Bool(bool),
}

impl Scalar {
    /// The scalar of a JSON value; `None` for `null`, lists and objects.
    pub fn from_json(value: &Value) -> Option<Self> {
        match value {
            Value::String(s) => Some(Scalar::Text(s.clone())),
            Value::Number(n) => n.as_f64().filter(|f| f.is_finite()).map(Scalar::Number),
            Value::Bool(b) => Some(Scalar::Bool(*b)),
            _ => None,
        }
    }
}

/// Numeric bounds on a field; at least one is set.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Bounds {
    /// Greater than.
    pub gt: Option<f64>,
    /// Greater than or equal.
    pub gte: Option<f64>,
    /// Less than.
    pub lt: Option<f64>,
    /// Less than or equal.
    pub lte: Option<f64>,
}

/// A condition a store evaluates natively. It never excludes a memory the domain filter would admit.
#[derive(Debug, Clone, PartialEq)]
pub enum Pushdown {
    /// Every part holds (never empty).
    All(Vec<Pushdown>),
    /// At least one part holds (never empty).
    Any(Vec<Pushdown>),
    /// The field equals the value (for a list field: contains it).
    Equals {
        /// The payload key.
        field: String,
        /// The value.
        value: Scalar,
    },
    /// The field is a number within the bounds.
    Range {
        /// The payload key.
        field: String,
        /// The bounds.
        bounds: Bounds,
    },
}

/// Fields the domain compares in a normalised form that may differ from the stored text (Mem0 ≤1.0.6
/// wrote US/Pacific offsets), so the store cannot compare them.
const NORMALISED_FIELDS: &[&str] = &["created_at", "updated_at"];

/// The native condition for a scope and an optional filter: the scope's identifiers, AND-ed with what
/// of the filter can be pushed down. `pushable` says which field names the store can address (Qdrant,
/// for instance, reads a dot as a path into nested objects).
pub fn plan(scope: &Scope, filter: Option<&Filter>, pushable: &dyn Fn(&str) -> bool) -> Pushdown {
    let mut parts: Vec<Pushdown> = scope
        .pairs()
        .map(|(key, id)| Pushdown::Equals { field: key.to_owned(), value: Scalar::Text(id.as_str().to_owned()) })
        .collect();
    match filter.and_then(|f| superset(f, pushable)) {
        Some(Pushdown::All(more)) => parts.extend(more),
        Some(other) => parts.push(other),
        None => {}
    }
    Pushdown::All(parts)
}

/// The native condition for the scope's memories whose `hash` is one of `hashes` (not empty).
pub fn plan_hashes<'a>(scope: &Scope, hashes: impl IntoIterator<Item = &'a str>) -> Pushdown {
    let any_hash = hashes
        .into_iter()
        .map(|h| Pushdown::Equals { field: "hash".to_owned(), value: Scalar::Text(h.to_owned()) })
        .collect();
    let mut parts = match plan(scope, None, &|_: &str| true) {
        Pushdown::All(parts) => parts,
        other => vec![other],
    };
    parts.push(Pushdown::Any(any_hash));
    Pushdown::All(parts)
}

/// A native condition selecting a superset of `filter`'s memories; `None` when nothing can be said.
fn superset(filter: &Filter, pushable: &dyn Fn(&str) -> bool) -> Option<Pushdown> {
    match filter {
        Filter::And(parts) => {
            let parts = parts.iter().filter_map(|p| superset(p, pushable)).flat_map(|p| match p {
                Pushdown::All(inner) => inner,
                other => vec![other],
            });
            combine(parts.collect(), Pushdown::All)
        }
        Filter::Or(parts) => {
            // One branch the store cannot evaluate means the whole OR cannot narrow anything.
            let parts: Option<Vec<Pushdown>> = parts.iter().map(|p| superset(p, pushable)).collect();
            let parts = parts?.into_iter().flat_map(|p| match p {
                Pushdown::Any(inner) => inner,
                other => vec![other],
            });
            combine(parts.collect(), Pushdown::Any)
        }
        Filter::Not(_) => None,
        Filter::Field { field, condition } if pushable(field) && !NORMALISED_FIELDS.contains(&field.as_str()) => {
            field_condition(field, condition)
        }
        Filter::Field { .. } => None,
    }
}

fn field_condition(field: &str, condition: &Condition) -> Option<Pushdown> {
    let equals =
        |value: &Value| Scalar::from_json(value).map(|value| Pushdown::Equals { field: field.to_owned(), value });
    let number = |value: &Value| value.as_f64().filter(|f| f.is_finite());
    let range = |bounds: Bounds| Some(Pushdown::Range { field: field.to_owned(), bounds });
    match condition {
        Condition::Eq(value) => equals(value),
        Condition::In(values) => {
            let parts: Option<Vec<Pushdown>> = values.iter().map(equals).collect();
            combine(parts?, Pushdown::Any)
        }
        Condition::Gt(v) => range(Bounds { gt: Some(number(v)?), ..Bounds::default() }),
        Condition::Gte(v) => range(Bounds { gte: Some(number(v)?), ..Bounds::default() }),
        Condition::Lt(v) => range(Bounds { lt: Some(number(v)?), ..Bounds::default() }),
        Condition::Lte(v) => range(Bounds { lte: Some(number(v)?), ..Bounds::default() }),
        Condition::Ne(_) | Condition::Nin(_) | Condition::Contains(_) | Condition::IContains(_) => None,
    }
}

fn combine(mut parts: Vec<Pushdown>, make: fn(Vec<Pushdown>) -> Pushdown) -> Option<Pushdown> {
    match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(make(parts)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope() -> Scope {
        Scope::parse(Some("alice"), None, Some("r1")).unwrap()
    }

    fn eq(field: &str, value: Scalar) -> Pushdown {
        Pushdown::Equals { field: field.into(), value }
    }

    fn text(s: &str) -> Scalar {
        Scalar::Text(s.into())
    }

    fn planned(filter: Value) -> Pushdown {
        plan(&scope(), Some(&Filter::parse(&filter).unwrap()), &|f: &str| !f.contains('.'))
    }

    #[test]
    fn the_scope_is_always_pushed_down() {
        let expected = Pushdown::All(vec![eq("user_id", text("alice")), eq("run_id", text("r1"))]);
        assert_eq!(plan(&scope(), None, &|_: &str| true), expected);
    }

    #[test]
    fn equality_membership_and_numeric_ranges_are_pushed_down() {
        let got = planned(json!({"topic": "food", "n": {"gte": 2, "lt": 5}, "k": {"in": ["a", 1, true]}}));
        let Pushdown::All(parts) = got else { panic!("{got:?}") };
        assert_eq!(&parts[..2], &[eq("user_id", text("alice")), eq("run_id", text("r1"))]);
        assert!(parts.contains(&eq("topic", text("food"))));
        assert!(parts
            .contains(&Pushdown::Range { field: "n".into(), bounds: Bounds { gte: Some(2.0), ..Bounds::default() } }));
        assert!(parts
            .contains(&Pushdown::Range { field: "n".into(), bounds: Bounds { lt: Some(5.0), ..Bounds::default() } }));
        assert!(parts.contains(&Pushdown::Any(vec![
            eq("k", text("a")),
            eq("k", Scalar::Number(1.0)),
            eq("k", Scalar::Bool(true))
        ])));
    }

    #[test]
    fn hash_lookups_stay_in_the_scope() {
        let got = plan_hashes(&scope(), ["h1", "h2"]);
        let hashes = Pushdown::Any(vec![eq("hash", text("h1")), eq("hash", text("h2"))]);
        assert_eq!(got, Pushdown::All(vec![eq("user_id", text("alice")), eq("run_id", text("r1")), hashes]));
    }

    #[test]
    fn what_cannot_be_evaluated_exactly_is_left_out() {
        let scope_only = plan(&scope(), None, &|_: &str| true);
        for filter in [
            json!({"topic": {"ne": "x"}}),
            json!({"topic": {"nin": ["x"]}}),
            json!({"topic": {"contains": "oo"}}),
            json!({"topic": {"icontains": "OO"}}),
            json!({"created_at": {"gt": "2026-01-01"}}),
            json!({"updated_at": "2026-01-01T00:00:00.000000+00:00"}),
            json!({"topic": null}),
            json!({"NOT": [{"topic": "food"}]}),
            json!({"OR": [{"topic": "food"}, {"topic": {"icontains": "x"}}]}),
            json!({"a.b": 1}),
        ] {
            assert_eq!(planned(filter.clone()), scope_only, "{filter}");
        }
        let got = planned(json!({"OR": [{"topic": "food"}, {"n": 3}]}));
        assert_eq!(
            got,
            Pushdown::All(vec![
                eq("user_id", text("alice")),
                eq("run_id", text("r1")),
                Pushdown::Any(vec![eq("topic", text("food")), eq("n", Scalar::Number(3.0))])
            ])
        );
    }
}
