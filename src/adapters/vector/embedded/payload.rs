//! The stored form of a memory: its fields as a JSON object, and its vector as little-endian f32s.

use crate::domain::memory::{ContentHash, MemoryId, MemoryRecord, MemoryText, Metadata};
use crate::domain::scope::{EntityId, Scope};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Encodes a memory's fields (everything but the id, which is its own column).
pub(super) fn encode(record: &MemoryRecord) -> String {
    let mut map = Map::new();
    let mut put = |key: &str, value: Value| {
        map.insert(key.to_owned(), value);
    };
    put("data", Value::from(record.text.as_str()));
    put("hash", Value::from(record.hash.as_str()));
    put("created_at", Value::from(timestamp(&record.created_at)));
    put("updated_at", Value::from(timestamp(&record.updated_at)));
    if let Some(observed) = &record.observed_at {
        put("observed_at", Value::from(timestamp(observed)));
    }
    if let Some(expires) = &record.expires_at {
        put("expiration_date", Value::from(timestamp(expires)));
    }
    for (key, id) in record.scope.pairs() {
        put(key, Value::from(id.as_str()));
    }
    if let Some(actor) = &record.actor_id {
        put("actor_id", Value::from(actor.as_str()));
    }
    if let Some(role) = &record.role {
        put("role", Value::from(role.as_str()));
    }
    put("metadata", Value::Object(record.metadata.as_map().clone()));
    Value::Object(map).to_string()
}

/// The stored fields, borrowed from the JSON text where possible.
#[derive(Deserialize)]
struct Stored<'a> {
    #[serde(borrow)]
    data: Cow<'a, str>,
    #[serde(borrow)]
    hash: Cow<'a, str>,
    #[serde(borrow)]
    created_at: Cow<'a, str>,
    #[serde(borrow)]
    updated_at: Cow<'a, str>,
    #[serde(borrow, default)]
    observed_at: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    expiration_date: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    user_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    agent_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    run_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    actor_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    role: Option<Cow<'a, str>>,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
}

/// Decodes a stored memory; the error says which field is wrong.
pub(super) fn decode(id: MemoryId, payload: &str) -> Result<MemoryRecord, String> {
    let stored: Stored<'_> = serde_json::from_str(payload).map_err(|e| format!("payload is not readable: {e}"))?;
    let entity = |key: &'static str, value: &Option<Cow<'_, str>>| {
        EntityId::parse_optional(key, value.as_deref()).map_err(|e| format!("payload {key:?} is invalid: {e}"))
    };
    let time = |key: &'static str, value: &str| -> Result<DateTime<Utc>, String> {
        DateTime::parse_from_rfc3339(value)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("payload {key:?} is not an RFC 3339 time: {e}"))
    };
    let text = MemoryText::parse("data", &stored.data).map_err(|e| format!("payload \"data\" is invalid: {e}"))?;
    let scope = Scope::new(
        entity("user_id", &stored.user_id)?,
        entity("agent_id", &stored.agent_id)?,
        entity("run_id", &stored.run_id)?,
    )
    .map_err(|e| format!("payload scope is invalid: {e}"))?;
    Ok(MemoryRecord {
        id,
        hash: ContentHash::from_stored(stored.hash.into_owned()),
        text,
        metadata: stored.metadata.map(Metadata::from_stored).unwrap_or_default(),
        scope,
        actor_id: entity("actor_id", &stored.actor_id)?,
        role: stored.role.map(Cow::into_owned),
        created_at: time("created_at", &stored.created_at)?,
        updated_at: time("updated_at", &stored.updated_at)?,
        observed_at: stored.observed_at.as_deref().map(|t| time("observed_at", t)).transpose()?,
        expires_at: stored.expiration_date.as_deref().map(|t| time("expiration_date", t)).transpose()?,
    })
}

/// A vector as little-endian f32 bytes.
pub(super) fn vector_to_blob(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Reads a vector back from little-endian f32 bytes into `out`; false when it is not `dims` floats.
pub(super) fn blob_to_vector(blob: &[u8], dims: usize, out: &mut Vec<f32>) -> bool {
    if blob.len() != dims * 4 {
        return false;
    }
    out.clear();
    out.extend(blob.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
    true
}

/// Timestamps are stored with every digit kept (nanoseconds), so they read back equal.
fn timestamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use uuid::Uuid;

    #[test]
    fn records_round_trip() {
        let mut record = MemoryRecord::new(
            MemoryId::from_uuid(Uuid::from_u128(7)),
            MemoryText::parse("t", "Likes tea").unwrap(),
            Metadata::parse(json!({"metadata": {"x": 1}, "topic": "food"})).unwrap(),
            Scope::parse(Some("alice"), None, Some("r1")).unwrap(),
            Utc::now(),
        );
        record.actor_id = Some(EntityId::parse("actor_id", "bob").unwrap());
        record.role = Some("user".into());
        assert_eq!(decode(record.id, &encode(&record)).unwrap(), record);
        let blob = vector_to_blob(&[1.5, -2.0]);
        assert_eq!(blob.len(), 8);
        let mut out = Vec::new();
        assert!(blob_to_vector(&blob, 2, &mut out));
        assert_eq!(out, vec![1.5, -2.0]);
        assert!(!blob_to_vector(&blob, 3, &mut out));
    }

    #[test]
    fn bad_payloads_say_what_is_wrong() {
        let id = MemoryId::from_uuid(Uuid::nil());
        assert!(decode(id, "[").unwrap_err().contains("not readable"));
        assert!(decode(id, "{}").unwrap_err().contains("missing field `data`"));
        let no_scope = json!({"data": "x", "hash": "h", "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"});
        assert!(decode(id, &no_scope.to_string()).unwrap_err().contains("scope"));
    }
}
