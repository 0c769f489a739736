//! The stored form of a memory: its fields as a JSON object, and its vector as little-endian f32s.

use crate::domain::memory::{ContentHash, MemoryId, MemoryRecord, MemoryText, Metadata};
use crate::domain::scope::{EntityId, Scope};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

/// Encodes a memory's fields (everything but the id, which is its own column).
pub fn encode(record: &MemoryRecord) -> String {
    let mut map = Map::new();
    let mut put = |key: &str, value: Value| {
        map.insert(key.to_owned(), value);
    };
    put("data", Value::from(record.text.as_str()));
    put("hash", Value::from(record.hash.as_str()));
    put("created_at", Value::from(timestamp(&record.created_at)));
    put("updated_at", Value::from(timestamp(&record.updated_at)));
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

/// Decodes a stored memory; the error says which field is wrong.
pub fn decode(id: MemoryId, payload: &str) -> Result<MemoryRecord, String> {
    let value: Value = serde_json::from_str(payload).map_err(|e| format!("payload is not JSON: {e}"))?;
    let map = value.as_object().ok_or("payload is not a JSON object")?;
    let text_of = |key: &str| map.get(key).and_then(Value::as_str);
    let required = |key: &'static str| text_of(key).ok_or_else(|| format!("payload has no string {key:?}"));
    let entity = |key: &'static str| {
        EntityId::parse_optional(key, text_of(key)).map_err(|e| format!("payload {key:?} is invalid: {e}"))
    };
    let time = |key: &'static str| -> Result<DateTime<Utc>, String> {
        DateTime::parse_from_rfc3339(required(key)?)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("payload {key:?} is not an RFC 3339 time: {e}"))
    };
    let text = MemoryText::parse("data", required("data")?).map_err(|e| format!("payload \"data\" is invalid: {e}"))?;
    let scope = Scope::new(entity("user_id")?, entity("agent_id")?, entity("run_id")?)
        .map_err(|e| format!("payload scope is invalid: {e}"))?;
    let metadata = match map.get("metadata") {
        Some(Value::Object(m)) => Metadata::from_stored(m.clone()),
        None | Some(Value::Null) => Metadata::default(),
        Some(_) => return Err("payload \"metadata\" is not an object".to_owned()),
    };
    Ok(MemoryRecord {
        id,
        hash: ContentHash::from_stored(required("hash")?.to_owned()),
        text,
        metadata,
        scope,
        actor_id: entity("actor_id")?,
        role: text_of("role").map(str::to_owned),
        created_at: time("created_at")?,
        updated_at: time("updated_at")?,
    })
}

/// A vector as little-endian f32 bytes.
pub fn vector_to_blob(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A vector read back from little-endian f32 bytes; `None` when the length is not `dims` floats.
pub fn blob_to_vector(blob: &[u8], dims: usize) -> Option<Box<[f32]>> {
    if blob.len() != dims * 4 {
        return None;
    }
    Some(blob.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
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
        assert_eq!(blob_to_vector(&blob, 2).unwrap().to_vec(), vec![1.5, -2.0]);
        assert!(blob_to_vector(&blob, 3).is_none());
    }

    #[test]
    fn bad_payloads_say_what_is_wrong() {
        let id = MemoryId::from_uuid(Uuid::nil());
        assert!(decode(id, "[").unwrap_err().contains("not JSON"));
        assert!(decode(id, "{}").unwrap_err().contains("\"data\""));
        let no_scope = json!({"data": "x", "hash": "h", "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"});
        assert!(decode(id, &no_scope.to_string()).unwrap_err().contains("scope"));
    }
}
