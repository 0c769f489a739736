//! Scopes and [`Filter`]s as SQL over the jsonb payload. Every value and every metadata key is a
//! bind parameter; the SQL text only holds fixed fragments. Each leaf is written so that it is never
//! NULL, which keeps NOT/OR two-valued and makes the SQL agree with [`Filter::matches`].

use crate::adapters::postgres::params::Params;
use crate::domain::filter::{Condition, Filter};
use crate::domain::memory::RESERVED_METADATA_KEYS;
use crate::domain::scope::Scope;
use serde_json::Value;

/// Payload keys that are never visible to filters as metadata (Mem0's own keys and derived ones),
/// except the record fields filters may name.
fn hidden_key(field: &str) -> bool {
    let record_field = crate::domain::filter::RECORD_FIELDS.contains(&field);
    !record_field && (RESERVED_METADATA_KEYS.contains(&field) || field == "text_lemmatized")
}

/// `payload->>'user_id' = $n AND …` for every identifier the scope sets (matches the scope indexes).
pub(super) fn scope_sql(scope: &Scope, params: &mut Params) -> String {
    let parts: Vec<String> = scope
        .pairs()
        .map(|(key, id)| format!("(payload->>'{key}') = {}", params.push(id.as_str().to_owned())))
        .collect();
    format!("({})", parts.join(" AND "))
}

/// The filter as a boolean SQL expression.
pub(super) fn filter_sql(filter: &Filter, params: &mut Params) -> String {
    match filter {
        Filter::And(all) if all.is_empty() => "TRUE".into(),
        Filter::Or(any) if any.is_empty() => "FALSE".into(),
        Filter::And(all) => join(all, " AND ", params),
        Filter::Or(any) => join(any, " OR ", params),
        Filter::Not(inner) => format!("(NOT {})", filter_sql(inner, params)),
        Filter::Field { field, condition } => condition_sql(field, condition, params),
    }
}

fn join(parts: &[Filter], op: &str, params: &mut Params) -> String {
    let sql: Vec<String> = parts.iter().map(|f| filter_sql(f, params)).collect();
    format!("({})", sql.join(op))
}

fn condition_sql(field: &str, condition: &Condition, params: &mut Params) -> String {
    let value = if hidden_key(field) {
        "NULL::jsonb".to_owned()
    } else {
        format!("(payload -> {})", params.push(field.to_owned()))
    };
    let v = value.as_str();
    let text = format!("({v} #>> '{{}}')");
    match condition {
        Condition::Eq(x) => format!("COALESCE({v} = {}::jsonb, FALSE)", params.push(x.clone())),
        Condition::Ne(x) => format!("COALESCE({v} <> {}::jsonb, TRUE)", params.push(x.clone())),
        Condition::In(xs) => format!("COALESCE({v} = ANY({}::jsonb[]), FALSE)", params.push(xs.clone())),
        Condition::Nin(xs) => format!("COALESCE(NOT ({v} = ANY({}::jsonb[])), TRUE)", params.push(xs.clone())),
        Condition::Gt(x) => ordered(v, &text, ">", x, params),
        Condition::Gte(x) => ordered(v, &text, ">=", x, params),
        Condition::Lt(x) => ordered(v, &text, "<", x, params),
        Condition::Lte(x) => ordered(v, &text, "<=", x, params),
        Condition::Contains(x) => {
            let needle = params.push(x.as_str().map(str::to_owned));
            let item = params.push(x.clone());
            format!(
                "COALESCE(CASE jsonb_typeof({v}) WHEN 'string' THEN strpos({text}, {needle}::text) > 0 \
                 WHEN 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements({v}) AS e(item) WHERE e.item = {item}::jsonb) \
                 ELSE FALSE END, FALSE)"
            )
        }
        Condition::IContains(needle) => {
            let needle = params.push(needle.clone());
            format!(
                "COALESCE(CASE WHEN jsonb_typeof({v}) = 'string' THEN strpos(lower({text}), lower({needle}::text)) > 0 \
                 ELSE FALSE END, FALSE)"
            )
        }
    }
}

/// Numbers compare numerically, strings by code point (as in Rust); other pairs never match.
fn ordered(v: &str, text: &str, op: &str, operand: &Value, params: &mut Params) -> String {
    match operand {
        Value::Number(n) => {
            let bound = params.push(n.as_f64().unwrap_or(f64::NAN));
            format!(
                "COALESCE(CASE WHEN jsonb_typeof({v}) = 'number' THEN ({v})::float8 {op} {bound}::float8 ELSE FALSE END, FALSE)"
            )
        }
        Value::String(s) => {
            let bound = params.push(s.clone());
            format!(
                "COALESCE(CASE WHEN jsonb_typeof({v}) = 'string' THEN {text} COLLATE \"C\" {op} {bound}::text ELSE FALSE END, FALSE)"
            )
        }
        _ => "FALSE".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_and_keys_are_parameters() {
        let filter = Filter::parse(&json!({"OR": [{"topic": "x'; DROP TABLE mem0; --"}, {"n": {"gt": 2}}],
            "NOT": [{"tags": {"contains": "a"}}]}))
        .unwrap();
        let mut params = Params::new();
        let sql = filter_sql(&filter, &mut params);
        assert!(!sql.contains("DROP") && !sql.contains("topic") && !sql.contains("tags"), "{sql}");
        assert!(sql.contains(" OR ") && sql.contains("(NOT "), "{sql}");
        assert_eq!(params.len(), 7);
    }

    #[test]
    fn scope_uses_the_indexed_expressions() {
        let mut params = Params::new();
        let scope = Scope::parse(Some("alice"), None, Some("r")).unwrap();
        assert_eq!(scope_sql(&scope, &mut params), "((payload->>'user_id') = $1 AND (payload->>'run_id') = $2)");
    }

    #[test]
    fn reserved_keys_are_absent_to_filters() {
        let mut params = Params::new();
        let sql = filter_sql(&Filter::parse(&json!({"data": "x"})).unwrap(), &mut params);
        assert!(sql.starts_with("COALESCE(NULL::jsonb = $1::jsonb"), "{sql}");
        let sql = filter_sql(&Filter::parse(&json!({"user_id": "x"})).unwrap(), &mut params);
        assert!(sql.contains("payload -> $2"), "{sql}");
    }
}
