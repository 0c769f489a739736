//! A [`Pushdown`] in Pinecone's metadata filter language (`$and`, `$or`, `$eq`, `$gt`…).

use crate::adapters::vector::pushdown::{Bounds, Pushdown, Scalar};
use serde_json::{json, Map, Value};

/// The filter Pinecone evaluates for a pushdown.
pub(super) fn to_filter(pushdown: &Pushdown) -> Value {
    match pushdown {
        Pushdown::All(parts) if parts.len() == 1 => to_filter(&parts[0]),
        Pushdown::All(parts) => json!({ "$and": parts.iter().map(to_filter).collect::<Vec<_>>() }),
        Pushdown::Any(parts) if parts.len() == 1 => to_filter(&parts[0]),
        Pushdown::Any(parts) => json!({ "$or": parts.iter().map(to_filter).collect::<Vec<_>>() }),
        Pushdown::Equals { field, value } => json!({ field.as_str(): { "$eq": scalar(value) } }),
        Pushdown::Range { field, bounds } => json!({ field.as_str(): range(bounds) }),
    }
}

fn scalar(value: &Scalar) -> Value {
    match value {
        Scalar::Text(s) => Value::String(s.clone()),
        Scalar::Number(n) => json!(n),
        Scalar::Bool(b) => Value::Bool(*b),
    }
}

fn range(bounds: &Bounds) -> Value {
    let mut ops = Map::new();
    for (op, bound) in [("$gt", bounds.gt), ("$gte", bounds.gte), ("$lt", bounds.lt), ("$lte", bounds.lte)] {
        if let Some(bound) = bound {
            ops.insert(op.to_owned(), json!(bound));
        }
    }
    Value::Object(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::vector::pushdown::plan;
    use crate::domain::filter::Filter;
    use crate::domain::scope::Scope;

    #[test]
    fn scope_and_filter_become_one_and() {
        let scope = Scope::parse(Some("alice"), Some("bot"), None).unwrap();
        let filter = Filter::parse(&json!({"OR": [{"topic": "food"}, {"n": {"gte": 2}}], "flag": true})).unwrap();
        let got = to_filter(&plan(&scope, Some(&filter), &|_: &str| true));
        assert_eq!(
            got,
            json!({"$and": [
                {"user_id": {"$eq": "alice"}},
                {"agent_id": {"$eq": "bot"}},
                {"$or": [{"topic": {"$eq": "food"}}, {"n": {"$gte": 2.0}}]},
                {"flag": {"$eq": true}},
            ]})
        );
        let user_only = Scope::parse(Some("alice"), None, None).unwrap();
        assert_eq!(to_filter(&plan(&user_only, None, &|_: &str| true)), json!({"user_id": {"$eq": "alice"}}));
    }
}
