//! The JSON Lines of export and import: one memory per line, as the API shows a memory
//! ([`memory_json`]) plus `actor_id`, `role` and its `history` rows. Reading a line checks every
//! field and names the line and the field when one is wrong.

use super::present::{history_json, memory_json};
use crate::adapters::stored_time::{parse_expiration, parse_stored_timestamp};
use crate::domain::history::{HistoryEntry, HistoryEvent};
use crate::domain::memory::{MemoryId, MemoryRecord, MemoryText, Metadata};
use crate::domain::scope::{EntityId, Scope};
use crate::ports::memory_admin::PortableMemory;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

/// Longest line an import accepts (a memory's text is at most a few KiB; its history rows too).
pub const MAX_LINE_BYTES: usize = 256 * 1024;

/// Why a line cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// Longer than [`MAX_LINE_BYTES`].
    #[error("line {line}: {bytes} bytes, more than the {MAX_LINE_BYTES} a line may have")]
    TooLong {
        /// 1-based line number.
        line: usize,
        /// Its length.
        bytes: usize,
    },
    /// Not a JSON object, or a field is missing or wrong.
    #[error("line {line}: {message}")]
    Invalid {
        /// 1-based line number.
        line: usize,
        /// What is wrong, naming the field.
        message: String,
    },
}

/// One memory as an export line (without the newline).
pub fn to_line(memory: &PortableMemory) -> String {
    let mut value = memory_json(&memory.record);
    if let Some(actor) = &memory.record.actor_id {
        value["actor_id"] = Value::String(actor.as_str().to_owned());
    }
    if let Some(role) = &memory.record.role {
        value["role"] = Value::String(role.clone());
    }
    value["history"] = Value::Array(memory.history.iter().map(history_json).collect());
    value.to_string()
}

/// The non-blank lines of an import body, each read, with their 1-based numbers; stops at the
/// first line that is too long or not valid, naming it.
pub fn read_lines(body: &[u8]) -> Result<Vec<(usize, PortableMemory)>, LineError> {
    let mut out = Vec::new();
    for (n, raw) in body.split(|b| *b == b'\n').enumerate() {
        let line = n + 1;
        if raw.len() > MAX_LINE_BYTES {
            return Err(LineError::TooLong { line, bytes: raw.len() });
        }
        let invalid = |message: String| LineError::Invalid { line, message };
        let text = std::str::from_utf8(raw).map_err(|e| invalid(format!("not UTF-8: {e}")))?.trim();
        if text.is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(text).map_err(|e| invalid(format!("not JSON: {e}")))?;
        out.push((line, from_value(&value).map_err(invalid)?));
    }
    Ok(out)
}

/// One line's memory.
pub fn from_value(value: &Value) -> Result<PortableMemory, String> {
    let object = value.as_object().ok_or("expected a JSON object")?;
    let id = MemoryId::parse(required(object, "id")?).map_err(|e| format!("id: {e}"))?;
    let text = MemoryText::parse("memory", required(object, "memory")?).map_err(|e| e.to_string())?;
    let metadata = match object.get("metadata") {
        None | Some(Value::Null) => Metadata::default(),
        Some(v) => Metadata::parse(v.clone()).map_err(|e| format!("metadata: {e}"))?,
    };
    let scope = Scope::parse(optional(object, "user_id")?, optional(object, "agent_id")?, optional(object, "run_id")?)
        .map_err(|e| format!("user_id / agent_id / run_id: {e}"))?;
    let created_at = time(object, "created_at")?.ok_or("created_at: required")?;
    let mut record = MemoryRecord::new(id, text, metadata, scope, created_at);
    record.updated_at = time(object, "updated_at")?.unwrap_or(created_at);
    record.observed_at = time(object, "observed_at")?;
    record.expires_at = match optional(object, "expiration_date")? {
        None => None,
        Some(raw) => Some(parse_expiration(raw).ok_or_else(|| format!("expiration_date: {raw:?} is not a date"))?),
    };
    record.actor_id = EntityId::parse_optional("actor_id", optional(object, "actor_id")?).map_err(|e| e.to_string())?;
    record.role = optional(object, "role")?.map(str::to_owned);
    let history = match object.get("history") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(rows)) => rows
            .iter()
            .enumerate()
            .map(|(n, row)| history_row(row).map_err(|e| format!("history[{n}]: {e}")))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("history: expected an array".into()),
    };
    Ok(PortableMemory { record, history })
}

fn history_row(value: &Value) -> Result<HistoryEntry, String> {
    let object = value.as_object().ok_or("expected an object")?;
    let id = Uuid::parse_str(required(object, "id")?).map_err(|e| format!("id: {e}"))?;
    let memory_id = MemoryId::parse(required(object, "memory_id")?).map_err(|e| format!("memory_id: {e}"))?;
    let raw_event = required(object, "event")?;
    let event =
        HistoryEvent::parse(raw_event).ok_or_else(|| format!("event: {raw_event:?} is not ADD, UPDATE or DELETE"))?;
    let text = |field: &'static str| -> Result<Option<MemoryText>, String> {
        optional(object, field)?.map(|t| MemoryText::parse(field, t).map_err(|e| e.to_string())).transpose()
    };
    let created_at = time(object, "created_at")?.ok_or("created_at: required")?;
    let updated_at = time(object, "updated_at")?.unwrap_or(created_at);
    let is_deleted = match object.get("is_deleted") {
        None | Some(Value::Null) => event == HistoryEvent::Delete,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("is_deleted: expected true or false".into()),
    };
    Ok(HistoryEntry {
        id,
        memory_id,
        old_memory: text("old_memory")?,
        new_memory: text("new_memory")?,
        event,
        created_at,
        updated_at,
        is_deleted,
        actor_id: None,
        role: None,
        owner: None,
    })
}

fn required<'a>(object: &'a Map<String, Value>, field: &str) -> Result<&'a str, String> {
    optional(object, field)?.ok_or_else(|| format!("{field}: required"))
}

fn optional<'a>(object: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, String> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(other) => Err(format!("{field}: expected a string, got {other}")),
    }
}

fn time(object: &Map<String, Value>, field: &str) -> Result<Option<DateTime<Utc>>, String> {
    optional(object, field)?
        .map(|raw| parse_stored_timestamp(raw).ok_or_else(|| format!("{field}: {raw:?} is not an RFC 3339 timestamp")))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample() -> PortableMemory {
        let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let id = MemoryId::from_uuid(Uuid::from_u128(7));
        let scope = Scope::parse(Some("alice"), Some("bot"), None).unwrap();
        let text = MemoryText::parse("t", "Likes tea").unwrap();
        let record =
            MemoryRecord::new(id, text.clone(), Metadata::parse(serde_json::json!({"k": 1})).unwrap(), scope, at);
        PortableMemory { record, history: vec![HistoryEntry::added(Uuid::from_u128(9), id, text, at)] }
    }

    #[test]
    fn a_line_reads_back_as_the_memory_it_was_made_from() {
        let memory = sample();
        let line = to_line(&memory);
        let read = read_lines(format!("{line}\n\n").as_bytes()).unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].0, 1);
        assert_eq!(read[0].1, memory);
    }

    #[test]
    fn a_bad_or_long_line_is_named() {
        let good = to_line(&sample());
        let body = format!("{good}\n{{\"id\": 3}}\n");
        assert!(matches!(read_lines(body.as_bytes()), Err(LineError::Invalid { line: 2, .. })));
        let long = format!("{good}\n{}\n", "x".repeat(MAX_LINE_BYTES + 1));
        let err = read_lines(long.as_bytes()).unwrap_err();
        assert!(matches!(err, LineError::TooLong { line: 2, .. }), "{err}");
        assert!(err.to_string().starts_with("line 2:"));
        let no_owner = good.replace("\"user_id\":\"alice\",", "").replace("\"agent_id\":\"bot\",", "");
        let err = read_lines(no_owner.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("user_id"), "{err}");
    }
}
