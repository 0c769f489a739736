//! The provider credentials as Dify sends them: five `{"provider", "config"}` blocks plus switches.
//!
//! This module only checks the outer shape (which blocks, JSON or not, provider and config
//! present). Each adapter validates its own `config` keys.

use super::strict_json::{parse_without_duplicate_keys, StrictJsonError};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The credential names of the provider, in the order they are documented.
pub const CREDENTIAL_NAMES: &[&str] = &[
    LLM,
    EMBEDDER,
    VECTOR_STORE,
    GRAPH_STORE,
    RERANKER,
    ASYNC_MODE,
    CUSTOM_FACT_EXTRACTION_PROMPT,
    CUSTOM_UPDATE_MEMORY_PROMPT,
    LANGUAGE,
    BIND_USER_TO_DIFY_USER,
];
/// LLM block.
pub const LLM: &str = "local_llm_json";
/// Embedder block.
pub const EMBEDDER: &str = "local_embedder_json";
/// Vector store block.
pub const VECTOR_STORE: &str = "local_vector_db_json";
/// Graph store block.
pub const GRAPH_STORE: &str = "local_graph_db_json";
/// Reranker block.
pub const RERANKER: &str = "local_reranker_json";
/// Async switch.
pub const ASYNC_MODE: &str = "async_mode";
/// Replacement for the built-in fact extraction prompt.
pub const CUSTOM_FACT_EXTRACTION_PROMPT: &str = "custom_fact_extraction_prompt";
/// Replacement for the built-in update decision prompt.
pub const CUSTOM_UPDATE_MEMORY_PROMPT: &str = "custom_update_memory_prompt";
/// Optional language every extracted memory is written in (default: the conversation's own).
pub const LANGUAGE: &str = "language";
/// When true, `user_id` is always the Dify end user of the request.
pub const BIND_USER_TO_DIFY_USER: &str = "bind_user_to_dify_user";
/// The blocks Dify requires (`required: true` in the provider YAML). Without them the command line
/// runs with its zero-setup defaults, but a plugin installed in Dify refuses to validate.
pub const REQUIRED_IN_DIFY: &[&str] = &[LLM, EMBEDDER, VECTOR_STORE];

/// Why credentials were rejected. Every message names the credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// Not valid JSON.
    #[error("{field} is not valid JSON ({detail}); expected {{\"provider\": \"…\", \"config\": {{…}}}}")]
    NotJson {
        /// The credential.
        field: &'static str,
        /// The parser's message.
        detail: String,
    },
    /// A key appears twice in one object of the block (JSON readers would keep only the last).
    #[error("{field} gives the key {key:?} more than once; write each key once")]
    DuplicateKey {
        /// The credential.
        field: &'static str,
        /// The repeated key, with its path (`config.api_key`).
        key: String,
    },
    /// Valid JSON of the wrong shape.
    #[error("{field} must be a JSON object {{\"provider\": \"…\", \"config\": {{…}}}}; {detail}")]
    BadShape {
        /// The credential.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A required block is missing.
    #[error("{field} is required")]
    Missing {
        /// The credential.
        field: &'static str,
    },
    /// A switch is not a boolean.
    #[error("{field} must be true or false, got {got}")]
    NotBoolean {
        /// The credential.
        field: &'static str,
        /// What was given.
        got: String,
    },
    /// A prompt is not a string.
    #[error("{field} must be a string")]
    NotString {
        /// The credential.
        field: &'static str,
    },
    /// An unknown credential name.
    #[error("unknown credential {name:?}; known credentials are {known}", known = CREDENTIAL_NAMES.join(", "))]
    Unknown {
        /// The name given.
        name: String,
    },
}

/// One `{"provider": …, "config": {…}}` block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderBlock {
    /// The credential it came from (for error messages).
    #[serde(skip)]
    pub field: &'static str,
    /// The provider name, lower-cased and trimmed.
    pub provider: String,
    /// The provider's configuration.
    pub config: Map<String, Value>,
}

impl ProviderBlock {
    /// Parses a block given either as a JSON string (code fences tolerated) or as an object.
    /// Blank strings and `null` mean "not configured".
    pub fn parse(field: &'static str, raw: &Value) -> Result<Option<Self>, CredentialError> {
        let value = match raw {
            Value::Null => return Ok(None),
            Value::String(text) => {
                let body = strip_code_fence(text);
                if body.is_empty() {
                    return Ok(None);
                }
                parse_without_duplicate_keys(body).map_err(|e| match e {
                    StrictJsonError::DuplicateKey(key) => CredentialError::DuplicateKey { field, key },
                    StrictJsonError::Syntax(detail) => CredentialError::NotJson { field, detail },
                })?
            }
            other => other.clone(),
        };
        let Value::Object(mut map) = value else {
            return Err(CredentialError::BadShape { field, detail: "it is not an object".into() });
        };
        let provider = match map.remove("provider") {
            Some(Value::String(p)) if !p.trim().is_empty() => p.trim().to_ascii_lowercase(),
            _ => {
                return Err(CredentialError::BadShape {
                    field,
                    detail: "\"provider\" must be a non-empty string".into(),
                })
            }
        };
        let config = match map.remove("config") {
            Some(Value::Object(c)) => c,
            None | Some(Value::Null) => Map::new(),
            Some(_) => return Err(CredentialError::BadShape { field, detail: "\"config\" must be an object".into() }),
        };
        if let Some(extra) = map.keys().next() {
            return Err(CredentialError::BadShape {
                field,
                detail: format!("unexpected key {extra:?} beside \"provider\" and \"config\""),
            });
        }
        Ok(Some(Self { field, provider, config }))
    }
}

/// Removes a surrounding Markdown code fence (```json … ```), if any, and trims.
pub fn strip_code_fence(text: &str) -> &str {
    let trimmed = text.trim();
    let Some(rest) = trimmed.strip_prefix("```") else { return trimmed };
    let rest = rest.find('\n').map_or("", |nl| &rest[nl + 1..]);
    rest.trim_end().strip_suffix("```").unwrap_or(rest).trim()
}

/// Everything the provider credentials configure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CredentialSet {
    /// `local_llm_json`.
    pub llm: Option<ProviderBlock>,
    /// `local_embedder_json`.
    pub embedder: Option<ProviderBlock>,
    /// `local_vector_db_json`.
    pub vector_store: Option<ProviderBlock>,
    /// `local_graph_db_json`.
    pub graph_store: Option<ProviderBlock>,
    /// `local_reranker_json`.
    pub reranker: Option<ProviderBlock>,
    /// `custom_fact_extraction_prompt`.
    pub custom_fact_extraction_prompt: Option<String>,
    /// `custom_update_memory_prompt`.
    pub custom_update_memory_prompt: Option<String>,
    /// `language`: when set, extracted memories are written in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// `async_mode` (default true).
    #[serde(skip)]
    pub async_mode: bool,
    /// `bind_user_to_dify_user` (default false).
    #[serde(skip)]
    pub bind_user_to_dify_user: bool,
}

impl CredentialSet {
    /// Parses the credentials object. Unknown names are rejected so typos do not pass silently.
    pub fn from_map(map: &Map<String, Value>) -> Result<Self, CredentialError> {
        if let Some(name) = map.keys().find(|k| !CREDENTIAL_NAMES.contains(&k.as_str())) {
            return Err(CredentialError::Unknown { name: name.clone() });
        }
        let block = |field: &'static str| map.get(field).map_or(Ok(None), |v| ProviderBlock::parse(field, v));
        Ok(Self {
            llm: block(LLM)?,
            embedder: block(EMBEDDER)?,
            vector_store: block(VECTOR_STORE)?,
            graph_store: block(GRAPH_STORE)?,
            reranker: block(RERANKER)?,
            custom_fact_extraction_prompt: prompt(map, CUSTOM_FACT_EXTRACTION_PROMPT)?,
            custom_update_memory_prompt: prompt(map, CUSTOM_UPDATE_MEMORY_PROMPT)?,
            language: prompt(map, LANGUAGE)?,
            async_mode: switch(map, ASYNC_MODE, true)?,
            bind_user_to_dify_user: switch(map, BIND_USER_TO_DIFY_USER, false)?,
        })
    }

    /// Refuses credentials that lack a block Dify requires ([`REQUIRED_IN_DIFY`]), naming it.
    pub fn require_dify_blocks(&self) -> Result<(), CredentialError> {
        let given = [(LLM, &self.llm), (EMBEDDER, &self.embedder), (VECTOR_STORE, &self.vector_store)];
        match given.into_iter().find(|(field, block)| REQUIRED_IN_DIFY.contains(field) && block.is_none()) {
            Some((field, _)) => Err(CredentialError::Missing { field }),
            None => Ok(()),
        }
    }

    /// A stable hash of everything that selects backends and prompts (not the switches):
    /// equal for equal configurations whatever the key order, different otherwise.
    pub fn fingerprint(&self) -> String {
        let value = serde_json::to_value(self).unwrap_or(Value::Null);
        let canonical = canonical_json(&value);
        hex::encode(Sha256::digest(canonical.as_bytes()))
    }
}

fn prompt(map: &Map<String, Value>, field: &'static str) -> Result<Option<String>, CredentialError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(CredentialError::NotString { field }),
    }
}

fn switch(map: &Map<String, Value>, field: &'static str, default: bool) -> Result<bool, CredentialError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::Number(n)) if n.as_i64() == Some(1) => Ok(true),
        Some(Value::Number(n)) if n.as_i64() == Some(0) => Ok(false),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "" => Ok(default),
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(CredentialError::NotBoolean { field, got: format!("{s:?}") }),
        },
        Some(other) => Err(CredentialError::NotBoolean { field, got: other.to_string() }),
    }
}

/// JSON with object keys sorted at every level, for hashing.
pub fn canonical_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let body: Vec<String> =
                keys.into_iter().map(|k| format!("{}:{}", Value::String(k.clone()), canonical_json(&map[k]))).collect();
            format!("{{{}}}", body.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical_json).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn blocks_parse_from_strings_objects_and_fences() {
        let fenced = json!("```json\n{\"provider\": \"OpenAI\", \"config\": {\"model\": \"m\"}}\n```");
        let block = ProviderBlock::parse(LLM, &fenced).unwrap().unwrap();
        assert_eq!(block.provider, "openai");
        assert_eq!(block.config["model"], "m");
        let object = json!({"provider": "pgvector", "config": {"dbname": "x"}});
        assert_eq!(ProviderBlock::parse(VECTOR_STORE, &object).unwrap().unwrap().provider, "pgvector");
        assert_eq!(ProviderBlock::parse(LLM, &json!("  ")).unwrap(), None);
    }

    #[test]
    fn bad_blocks_name_the_credential() {
        let err = ProviderBlock::parse(LLM, &json!("{nope")).unwrap_err();
        assert!(err.to_string().starts_with("local_llm_json is not valid JSON"), "{err}");
        let err = ProviderBlock::parse(EMBEDDER, &json!({"config": {}})).unwrap_err();
        assert!(err.to_string().contains("local_embedder_json") && err.to_string().contains("provider"));
        let err = ProviderBlock::parse(EMBEDDER, &json!({"provider": "x", "cfg": {}})).unwrap_err();
        assert!(err.to_string().contains("\"cfg\""));
    }

    #[test]
    fn repeated_keys_are_refused_naming_the_credential_and_the_key() {
        let text = json!(r#"{"provider": "openai", "config": {"api_key": "sk-a", "api_key": "sk-b"}}"#);
        let err = ProviderBlock::parse(LLM, &text).unwrap_err();
        assert_eq!(err, CredentialError::DuplicateKey { field: LLM, key: "config.api_key".into() });
        assert_eq!(
            err.to_string(),
            "local_llm_json gives the key \"config.api_key\" more than once; write each key once"
        );
        let text = json!("```json\n{\"provider\": \"pgvector\", \"provider\": \"embedded\"}\n```");
        let err = CredentialSet::from_map(json!({"local_vector_db_json": text}).as_object().unwrap()).unwrap_err();
        assert_eq!(err, CredentialError::DuplicateKey { field: VECTOR_STORE, key: "provider".into() });
    }

    #[test]
    fn dify_requires_the_llm_the_embedder_and_the_vector_store() {
        let block = json!({"provider": "x", "config": {}});
        let full = json!({"local_llm_json": block, "local_embedder_json": block, "local_vector_db_json": block});
        let set = |v: &Value| CredentialSet::from_map(v.as_object().unwrap()).unwrap();
        assert_eq!(set(&full).require_dify_blocks(), Ok(()));
        assert_eq!(set(&json!({})).require_dify_blocks(), Err(CredentialError::Missing { field: LLM }));
        for field in REQUIRED_IN_DIFY {
            let mut partial = full.clone();
            partial[*field] = json!("  ");
            assert_eq!(set(&partial).require_dify_blocks(), Err(CredentialError::Missing { field }), "{field}");
        }
    }

    #[test]
    fn switches_and_unknown_names() {
        let set = CredentialSet::from_map(json!({"async_mode": "false"}).as_object().unwrap()).unwrap();
        assert!(!set.async_mode);
        assert!(CredentialSet::from_map(&Map::new()).unwrap().async_mode);
        let err = CredentialSet::from_map(json!({"async_mode": "maybe"}).as_object().unwrap()).unwrap_err();
        assert_eq!(err.to_string(), "async_mode must be true or false, got \"maybe\"");
        let err = CredentialSet::from_map(json!({"local_llm": "x"}).as_object().unwrap()).unwrap_err();
        assert!(err.to_string().contains("unknown credential \"local_llm\""));
    }

    #[test]
    fn fingerprints_ignore_key_order_and_switches() {
        let a = json!({"local_llm_json": {"provider": "openai", "config": {"a": 1, "b": 2}}, "async_mode": true});
        let b = json!({"local_llm_json": "{\"config\": {\"b\": 2, \"a\": 1}, \"provider\": \"openai\"}", "async_mode": false});
        let c = json!({"local_llm_json": {"provider": "openai", "config": {"a": 1, "b": 3}}});
        let fp = |v: Value| CredentialSet::from_map(v.as_object().unwrap()).unwrap().fingerprint();
        assert_eq!(fp(a.clone()), fp(b));
        assert_ne!(fp(a), fp(c));
    }

    #[test]
    fn code_fences_are_stripped() {
        assert_eq!(strip_code_fence("```\n{}\n```"), "{}");
        assert_eq!(strip_code_fence(" {} "), "{}");
        assert_eq!(strip_code_fence("```json\n{\"a\":1}```"), "{\"a\":1}");
    }
}
