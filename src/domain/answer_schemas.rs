//! The JSON Schemas the write path's answers must follow, strict enough for OpenAI's strict mode
//! (every property required, no other property): facts as plain strings; decisions whose `event` is
//! one of the four events and whose `id` is one of the ids shown to the model or `"new"`.

use super::reconcile::{Candidates, NEW_ID};
use serde_json::{json, Value};

/// The schema name of the fact extraction answer.
pub const FACTS_SCHEMA_NAME: &str = "memory_facts";
/// The schema name of the update decision answer.
pub const DECISIONS_SCHEMA_NAME: &str = "memory_decisions";
/// The events a decision may name.
pub const EVENTS: [&str; 4] = ["ADD", "UPDATE", "DELETE", "NONE"];

/// `{"facts": ["…", …]}`.
pub fn facts_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"facts": {"type": "array", "items": {"type": "string"}}},
        "required": ["facts"],
        "additionalProperties": false,
    })
}

/// `{"memory": [{"id", "text", "event", "old_memory"}, …]}` with `id` limited to the candidates'
/// small ids and `"new"`, and `event` to [`EVENTS`]. `old_memory` is required by strict mode; the
/// model leaves it empty when it does not apply.
pub fn decisions_schema(candidates: &Candidates) -> Value {
    let ids: Vec<String> =
        (0..candidates.len()).map(|i| i.to_string()).chain(std::iter::once(NEW_ID.to_owned())).collect();
    json!({
        "type": "object",
        "properties": {"memory": {"type": "array", "items": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "enum": ids},
                "text": {"type": "string"},
                "event": {"type": "string", "enum": EVENTS},
                "old_memory": {"type": "string"},
            },
            "required": ["id", "text", "event", "old_memory"],
            "additionalProperties": false,
        }}},
        "required": ["memory"],
        "additionalProperties": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::memory::{MemoryId, MemoryRecord, MemoryText, Metadata};
    use crate::domain::scope::Scope;
    use chrono::Utc;
    use uuid::Uuid;

    #[test]
    fn decision_ids_are_the_shown_ones_and_new() {
        let record = |n: u128| {
            MemoryRecord::new(
                MemoryId::from_uuid(Uuid::from_u128(n)),
                MemoryText::parse("t", &format!("fact {n}")).unwrap(),
                Metadata::default(),
                Scope::parse(Some("u"), None, None).unwrap(),
                Utc::now(),
            )
        };
        let schema = decisions_schema(&Candidates::new([record(1), record(2)]));
        let item = &schema["properties"]["memory"]["items"];
        assert_eq!(item["properties"]["id"]["enum"], json!(["0", "1", "new"]));
        assert_eq!(item["properties"]["event"]["enum"], json!(["ADD", "UPDATE", "DELETE", "NONE"]));
        assert_eq!(item["additionalProperties"], false);
        assert_eq!(facts_schema()["properties"]["facts"]["items"], json!({"type": "string"}));
    }
}
