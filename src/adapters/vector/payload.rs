//! Mem0's flat payload (mem0-behaviour.md §3) to and from [`MemoryRecord`], shared by the stores that keep
//! it as a JSON document (Pinecone metadata, Qdrant payload), so data written by Mem0 reads back here and
//! the other way round.

use crate::adapters::stored_time::{parse_expiration, parse_stored_timestamp};
use crate::domain::memory::{format_timestamp, ContentHash, MemoryId, MemoryRecord, MemoryText, Metadata};
use crate::domain::scope::{EntityId, Scope};
use serde_json::{Map, Value};

/// Payload keys Mem0 2.x derives from the text; dropped on read (they are not user metadata).
const DERIVED_KEYS: &[&str] = &["text_lemmatized"];

/// The payload of a record: metadata flattened, then the memory's own keys.
pub fn to_payload(record: &MemoryRecord) -> Value {
    let mut map = Map::new();
    for (key, id) in record.scope.pairs() {
        map.insert(key.to_owned(), Value::String(id.as_str().to_owned()));
    }
    for (key, value) in record.metadata.as_map() {
        map.insert(key.clone(), value.clone());
    }
    map.insert("data".into(), Value::String(record.text.as_str().to_owned()));
    map.insert("hash".into(), Value::String(record.hash.as_str().to_owned()));
    map.insert("created_at".into(), Value::String(format_timestamp(&record.created_at)));
    map.insert("updated_at".into(), Value::String(format_timestamp(&record.updated_at)));
    if let Some(observed) = &record.observed_at {
        map.insert("observed_at".into(), Value::String(format_timestamp(observed)));
    }
    if let Some(expires) = &record.expires_at {
        map.insert("expiration_date".into(), Value::String(format_timestamp(expires)));
    }
    if let Some(actor) = &record.actor_id {
        map.insert("actor_id".into(), Value::String(actor.as_str().to_owned()));
    }
    if let Some(role) = &record.role {
        map.insert("role".into(), Value::String(role.clone()));
    }
    Value::Object(map)
}

/// Reads a stored payload back. The error names what is missing or malformed.
pub fn from_payload(id: MemoryId, payload: Value) -> Result<MemoryRecord, String> {
    let Value::Object(mut map) = payload else {
        return Err(format!("memory {id}: payload is not a JSON object"));
    };
    let mut take_text = |key: &str| match map.remove(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
        _ => None,
    };
    let text = take_text("data").ok_or_else(|| format!("memory {id}: payload has no \"data\" text"))?;
    let text = MemoryText::parse("data", &text).map_err(|e| format!("memory {id}: {e}"))?;
    let entity = |field: &'static str, raw: Option<String>| {
        raw.map(|v| EntityId::parse(field, &v)).transpose().map_err(|e| format!("memory {id}: {e}"))
    };
    let scope = Scope::new(
        entity("user_id", take_text("user_id"))?,
        entity("agent_id", take_text("agent_id"))?,
        entity("run_id", take_text("run_id"))?,
    )
    .map_err(|e| format!("memory {id}: {e}"))?;
    let actor_id = entity("actor_id", take_text("actor_id"))?;
    let role = take_text("role");
    let hash = take_text("hash").map_or_else(|| text.hash(), ContentHash::from_stored);
    let created = take_text("created_at").and_then(|s| parse_stored_timestamp(&s));
    let updated = take_text("updated_at").and_then(|s| parse_stored_timestamp(&s));
    let observed_at = take_text("observed_at").and_then(|s| parse_stored_timestamp(&s));
    let expires_at = take_text("expiration_date").and_then(|s| parse_expiration(&s));
    let (created_at, updated_at) = match (created, updated) {
        (Some(c), Some(u)) => (c, u),
        (Some(c), None) => (c, c),
        (None, Some(u)) => (u, u),
        (None, None) => return Err(format!("memory {id}: payload has no readable created_at")),
    };
    for key in DERIVED_KEYS {
        map.remove(*key);
    }
    Ok(MemoryRecord {
        id,
        text,
        hash,
        metadata: Metadata::from_stored(map),
        scope,
        actor_id,
        role,
        created_at,
        updated_at,
        observed_at,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use serde_json::json;
    use uuid::Uuid;

    #[test]
    fn the_observed_time_round_trips_and_is_absent_when_not_given() {
        let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let observed = Utc.with_ymd_and_hms(2023, 5, 8, 13, 56, 0).unwrap();
        let record = MemoryRecord::new(
            MemoryId::from_uuid(Uuid::new_v4()),
            MemoryText::parse("t", "Likes tea").unwrap(),
            Metadata::default(),
            Scope::parse(Some("alice"), None, None).unwrap(),
            at,
        );
        assert!(to_payload(&record).get("observed_at").is_none());
        let record = record.observed(Some(observed));
        let payload = to_payload(&record);
        assert_eq!(payload["observed_at"], "2023-05-08T13:56:00.000000+00:00");
        assert_eq!(from_payload(record.id, payload).unwrap(), record);
    }

    #[test]
    fn records_round_trip_through_mem0s_flat_payload() {
        let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let mut record = MemoryRecord::new(
            MemoryId::from_uuid(Uuid::new_v4()),
            MemoryText::parse("t", "Likes tea").unwrap(),
            Metadata::parse(json!({"topic": "food", "n": 1})).unwrap(),
            Scope::parse(Some("alice"), Some("bot"), None).unwrap(),
            at,
        );
        record.actor_id = Some(EntityId::parse("actor_id", "bob").unwrap());
        record.role = Some("user".into());
        let payload = to_payload(&record);
        assert_eq!(payload["user_id"], "alice");
        assert_eq!(payload["topic"], "food");
        assert_eq!(payload["data"], "Likes tea");
        assert_eq!(payload["created_at"], "2026-01-02T03:04:05.000000+00:00");
        assert!(payload.get("run_id").is_none() && payload.get("metadata").is_none());
        assert_eq!(from_payload(record.id, payload).unwrap(), record);
    }

    #[test]
    fn mem0_written_payloads_read_back() {
        let id = MemoryId::from_uuid(Uuid::nil());
        let payload = json!({"user_id": "alice", "data": "Lives in Paris", "hash": "abc",
            "created_at": "2026-11-26T03:25:56.565713-08:00", "text_lemmatized": "live paris",
            "attributed_to": "user", "category": "home"});
        let record = from_payload(id, payload).unwrap();
        assert_eq!(record.scope, Scope::parse(Some("alice"), None, None).unwrap());
        assert_eq!(record.hash.as_str(), "abc");
        assert_eq!(record.updated_at, record.created_at);
        assert_eq!(format_timestamp(&record.created_at), "2026-11-26T11:25:56.565713+00:00");
        assert_eq!(record.metadata.as_map().keys().collect::<Vec<_>>(), vec!["attributed_to", "category"]);
        assert!(from_payload(id, json!({"user_id": "a"})).unwrap_err().contains("no \"data\""));
        assert!(from_payload(id, json!({"data": "x", "created_at": "2026-01-01T00:00:00Z"}))
            .unwrap_err()
            .contains("at least one of user_id"));
    }
}
