//! The memory item: identity, text, content hash, metadata, owner and timestamps.

use super::scope::{EntityId, Scope};
use chrono::{DateTime, SecondsFormat, Utc};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use uuid::Uuid;

/// Longest memory text accepted, in characters.
pub const MAX_MEMORY_TEXT_LEN: usize = 20_000;

/// Keys of a stored payload that belong to the memory itself and may not appear in user metadata.
pub const RESERVED_METADATA_KEYS: &[&str] = &[
    "id",
    "data",
    "memory",
    "hash",
    "created_at",
    "updated_at",
    "observed_at",
    "expiration_date",
    "user_id",
    "agent_id",
    "run_id",
    "actor_id",
    "role",
];

/// Why a memory field was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemoryError {
    /// `memory_id` is not a UUID.
    #[error("memory_id must be a UUID such as 3f2b…-…, got {0:?}")]
    InvalidId(String),
    /// The text was empty.
    #[error("{field} must not be empty")]
    EmptyText {
        /// The field that was empty.
        field: &'static str,
    },
    /// The text was too long.
    #[error("{field} is {len} characters long; at most {MAX_MEMORY_TEXT_LEN} are allowed")]
    TextTooLong {
        /// The field that was too long.
        field: &'static str,
        /// Its length.
        len: usize,
    },
    /// Metadata was not a JSON object.
    #[error("metadata must be a JSON object such as {{\"topic\": \"food\"}}")]
    MetadataNotObject,
    /// Metadata used a key reserved for the memory's own fields.
    #[error("metadata key {0:?} is reserved; reserved keys are {RESERVED:?}", RESERVED = RESERVED_METADATA_KEYS)]
    ReservedMetadataKey(String),
    /// The text holds U+0000, which PostgreSQL text and jsonb cannot store.
    #[error(
        "{0} contains the character U+0000 (NUL), which memories cannot hold (PostgreSQL cannot store it); remove it"
    )]
    NulCharacter(String),
}

/// Refuses U+0000 in a text that will be stored, naming `field`. It is the one character a JSON
/// string can carry that PostgreSQL's `text` and `jsonb` cannot hold, so it is refused for every
/// store alike, before a write is accepted (stripping it would store something else than given).
pub fn refuse_nul(field: &str, text: &str) -> Result<(), MemoryError> {
    if text.contains('\0') {
        return Err(MemoryError::NulCharacter(field.to_owned()));
    }
    Ok(())
}

/// Refuses U+0000 in any key or string of a JSON value, naming its path under `field`.
fn refuse_nul_in_json(field: &str, value: &Value) -> Result<(), MemoryError> {
    match value {
        Value::String(text) => refuse_nul(field, text),
        Value::Array(items) => {
            items.iter().enumerate().try_for_each(|(i, item)| refuse_nul_in_json(&format!("{field}[{i}]"), item))
        }
        Value::Object(map) => refuse_nul_in_map(field, map),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

/// Refuses U+0000 in the keys and values of an object found at `field`.
fn refuse_nul_in_map(field: &str, map: &Map<String, Value>) -> Result<(), MemoryError> {
    map.iter().try_for_each(|(key, item)| {
        let path = format!("{field}.{}", key.replace('\0', "\\u0000"));
        refuse_nul(&path, key)?;
        refuse_nul_in_json(&path, item)
    })
}

/// The identifier of a memory: a UUID v4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MemoryId(Uuid);

impl MemoryId {
    /// Wraps a UUID (the caller generates it; the domain does no I/O or randomness).
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    /// Parses a memory id given by a caller.
    pub fn parse(raw: &str) -> Result<Self, MemoryError> {
        Uuid::parse_str(raw.trim()).map(Self).map_err(|_| MemoryError::InvalidId(raw.chars().take(80).collect()))
    }

    /// The UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for MemoryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Refuses a text (trimmed) longer than [`MAX_MEMORY_TEXT_LEN`] characters, naming `field`: the one
/// limit of memory text, for an add (infer on or off) as for an update.
pub fn check_text_len(field: &'static str, raw: &str) -> Result<(), MemoryError> {
    let len = raw.trim().chars().count();
    if len > MAX_MEMORY_TEXT_LEN {
        return Err(MemoryError::TextTooLong { field, len });
    }
    Ok(())
}

/// The text of a memory: trimmed, non-empty and bounded.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MemoryText(String);

impl MemoryText {
    /// Validates `raw` as the value of `field`.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, MemoryError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(MemoryError::EmptyText { field });
        }
        refuse_nul(field, trimmed)?;
        check_text_len(field, trimmed)?;
        Ok(Self(trimmed.to_owned()))
    }

    /// A text the model wrote (a fact, a decision's text): U+0000 is removed rather than refused,
    /// since the words are the model's and a caller could do nothing about them; then as [`parse`].
    ///
    /// [`parse`]: MemoryText::parse
    pub fn from_model(field: &'static str, raw: &str) -> Result<Self, MemoryError> {
        Self::parse(field, &raw.replace('\0', ""))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The MD5 hash of the text, as Mem0 computes it.
    pub fn hash(&self) -> ContentHash {
        ContentHash(hex::encode(Md5::digest(self.0.as_bytes())))
    }
}

impl fmt::Display for MemoryText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Lower-case hex MD5 of a memory's text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContentHash(String);

impl ContentHash {
    /// Wraps a stored hash (trusted: it was computed by [`MemoryText::hash`]).
    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    /// The hash as hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// User metadata of a memory: a JSON object without reserved keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Metadata(Map<String, Value>);

impl Metadata {
    /// Validates a caller's metadata object.
    pub fn parse(value: Value) -> Result<Self, MemoryError> {
        match value {
            Value::Object(map) => Self::from_map(map),
            Value::Null => Ok(Self::default()),
            _ => Err(MemoryError::MetadataNotObject),
        }
    }

    /// Validates a caller's metadata map.
    pub fn from_map(map: Map<String, Value>) -> Result<Self, MemoryError> {
        if let Some(key) = map.keys().find(|k| RESERVED_METADATA_KEYS.contains(&k.as_str())) {
            return Err(MemoryError::ReservedMetadataKey(key.clone()));
        }
        refuse_nul_in_map("metadata", &map)?;
        Ok(Self(map))
    }

    /// Metadata read back from a store: reserved keys are dropped instead of rejected.
    pub fn from_stored(mut map: Map<String, Value>) -> Self {
        map.retain(|k, _| !RESERVED_METADATA_KEYS.contains(&k.as_str()));
        Self(map)
    }

    /// This metadata with `newer`'s keys written over it.
    pub fn merged_with(&self, newer: &Metadata) -> Metadata {
        let mut map = self.0.clone();
        map.extend(newer.0.iter().map(|(k, v)| (k.clone(), v.clone())));
        Metadata(map)
    }

    /// The underlying map.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// True when there is no metadata.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A stored memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryRecord {
    /// Its identifier.
    pub id: MemoryId,
    /// Its text.
    pub text: MemoryText,
    /// MD5 of the text.
    pub hash: ContentHash,
    /// User metadata.
    pub metadata: Metadata,
    /// The owner.
    pub scope: Scope,
    /// Who said it (infer=false adds), if known.
    pub actor_id: Option<EntityId>,
    /// The role of the message it came from (infer=false adds), if known.
    pub role: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When what it says was observed (the `timestamp` of the add), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_at: Option<DateTime<Utc>>,
    /// When it expires (`expiration_date`): past it, searches and listings leave it out unless asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

impl MemoryRecord {
    /// A new memory created at `now`.
    pub fn new(id: MemoryId, text: MemoryText, metadata: Metadata, scope: Scope, now: DateTime<Utc>) -> Self {
        Self {
            id,
            hash: text.hash(),
            text,
            metadata,
            scope,
            actor_id: None,
            role: None,
            created_at: now,
            updated_at: now,
            observed_at: None,
            expires_at: None,
        }
    }

    /// This memory observed at `at` (when given).
    pub fn observed(mut self, at: Option<DateTime<Utc>>) -> Self {
        self.observed_at = at;
        self
    }

    /// This memory expiring at `at` (when given).
    pub fn expiring(mut self, at: Option<DateTime<Utc>>) -> Self {
        self.expires_at = at;
        self
    }

    /// True when it has expired at `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// This memory with new text and metadata merged in, updated at `now` (keeps owner and creation time).
    pub fn revised(&self, text: MemoryText, extra_metadata: &Metadata, now: DateTime<Utc>) -> Self {
        Self {
            hash: text.hash(),
            text,
            metadata: self.metadata.merged_with(extra_metadata),
            updated_at: now,
            ..self.clone()
        }
    }
}

/// Formats a timestamp the way every output of the plugin does: RFC 3339, UTC, microseconds.
pub fn format_timestamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, false)
}

/// A similarity score in `[0, 1]`, higher is more similar, the same for every store.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Similarity(f32);

impl Similarity {
    /// From a cosine similarity in `[-1, 1]`, clamped to `[0, 1]` (negative = unrelated).
    pub fn from_cosine(cosine: f32) -> Self {
        Self(if cosine.is_nan() { 0.0 } else { cosine.clamp(0.0, 1.0) })
    }

    /// From a cosine distance in `[0, 2]` (pgvector's `<=>`).
    pub fn from_cosine_distance(distance: f32) -> Self {
        Self::from_cosine(1.0 - distance)
    }

    /// The score.
    pub fn value(&self) -> f32 {
        self.0
    }
}

/// A memory found by a search, with its score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredMemory {
    /// The memory.
    pub record: MemoryRecord,
    /// Vector similarity to the query.
    pub score: Similarity,
    /// Reranker score, when a reranker ordered the results.
    pub rerank_score: Option<f32>,
    /// How the score was made (hybrid search), for `explain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<super::score_parts::ScoreParts>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_hash_is_mem0s_md5() {
        let text = MemoryText::parse("text", " Likes tea ").unwrap();
        assert_eq!(text.as_str(), "Likes tea");
        // md5("Likes tea")
        assert_eq!(text.hash().as_str(), hex::encode(Md5::digest(b"Likes tea")));
        assert_eq!(text.hash().as_str().len(), 32);
        assert_eq!(MemoryText::parse("text", "  "), Err(MemoryError::EmptyText { field: "text" }));
    }

    #[test]
    fn ids_must_be_uuids() {
        assert!(MemoryId::parse("0b6f1f5e-4a5a-4b8e-9c1e-2f5a7f0e9d11").is_ok());
        assert!(matches!(MemoryId::parse("12"), Err(MemoryError::InvalidId(_))));
    }

    #[test]
    fn metadata_rejects_reserved_keys_and_merges() {
        assert_eq!(Metadata::parse(json!([1])), Err(MemoryError::MetadataNotObject));
        assert_eq!(Metadata::parse(json!({"user_id": "x"})), Err(MemoryError::ReservedMetadataKey("user_id".into())));
        let old = Metadata::parse(json!({"a": 1, "b": 2})).unwrap();
        let new = Metadata::parse(json!({"b": 3})).unwrap();
        assert_eq!(old.merged_with(&new), Metadata::parse(json!({"a": 1, "b": 3})).unwrap());
        assert!(Metadata::from_stored(json!({"data": "x", "k": 1}).as_object().unwrap().clone())
            .as_map()
            .contains_key("k"));
    }

    #[test]
    fn nul_characters_are_refused_naming_the_field() {
        let nul = |field: &str| MemoryError::NulCharacter(field.to_owned());
        assert_eq!(MemoryText::parse("text", "Likes\u{0} tea"), Err(nul("text")));
        assert_eq!(Metadata::parse(json!({"topic": "fo\u{0}od"})), Err(nul("metadata.topic")));
        assert_eq!(Metadata::parse(json!({"a": {"b": ["x", "\u{0}"]}})), Err(nul("metadata.a.b[1]")));
        assert_eq!(Metadata::parse(json!({"k\u{0}": 1})), Err(nul("metadata.k\\u0000")));
        assert_eq!(refuse_nul("user", "a\u{0}"), Err(nul("user")));
        let message = MemoryText::parse("text", "\u{0}x").unwrap_err().to_string();
        assert!(message.starts_with("text contains the character U+0000"), "{message}");
        // the model's own words lose the character instead of the fact
        assert_eq!(MemoryText::from_model("fact", "Likes\u{0} tea").unwrap().as_str(), "Likes tea");
        assert_eq!(MemoryText::from_model("fact", "\u{0}"), Err(MemoryError::EmptyText { field: "fact" }));
        // every other control character is text PostgreSQL holds
        assert!(MemoryText::parse("text", "tab\there \u{1} \u{7f}").is_ok());
        assert!(Metadata::parse(json!({"k": "\u{1}", "n": null, "m": [1, true]})).is_ok());
    }

    #[test]
    fn similarity_is_bounded() {
        assert_eq!(Similarity::from_cosine(1.5).value(), 1.0);
        assert_eq!(Similarity::from_cosine(-0.2).value(), 0.0);
        assert_eq!(Similarity::from_cosine(f32::NAN).value(), 0.0);
        assert!((Similarity::from_cosine_distance(0.25).value() - 0.75).abs() < 1e-6);
    }
}
