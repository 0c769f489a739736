//! How an add with `infer` on uses the model, as the LLM block (`local_llm_json`) configures it
//! beside the provider's own keys: the extraction mode, whose messages facts come from, whether
//! answers are held to a JSON Schema, and the time budget of one model call.

use serde_json::{Map, Value};
use std::time::Duration;

/// `extraction_mode`: `"two_pass"` (default) or `"additive"`.
pub const EXTRACTION_MODE: &str = "extraction_mode";
/// `fact_roles`: the roles whose messages facts are taken from (`["user"]` by default).
pub const FACT_ROLES: &str = "fact_roles";
/// `structured_output`: `"json_schema"` (default: a schema where the provider takes one) or
/// `"json_object"` (plain JSON mode).
pub const STRUCTURED_OUTPUT: &str = "structured_output";
/// The provider's `timeout` key (seconds per HTTP request), which also sizes the budget of one model
/// call of a write.
pub const TIMEOUT: &str = "timeout";
/// The provider's `max_retries` key (default 2).
pub const MAX_RETRIES: &str = "max_retries";
/// Time left for the provider's retry delays in a call budget sized from `timeout`.
pub const RETRY_SLACK: Duration = Duration::from_secs(5);
/// The keys of the LLM block this module reads (every chat adapter accepts them).
pub const KEYS: &[&str] = &[EXTRACTION_MODE, FACT_ROLES, STRUCTURED_OUTPUT];

/// Time budget of one model call of a write when the block sets no `timeout`: a sync add's
/// ceiling (120 s) holds the extraction and the decision, each with one repair.
pub const DEFAULT_CALL_BUDGET: Duration = Duration::from_secs(30);

/// How facts are turned into memories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExtractionMode {
    /// Extract facts, then decide ADD / UPDATE / DELETE / NONE against related memories (two calls).
    #[default]
    TwoPass,
    /// One call that returns only new facts, shown the related memories; facts are only added
    /// (Mem0 2.x's additive extraction, for weak models).
    Additive,
}

/// Whether answers are held to a JSON Schema where the provider can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SchemaUse {
    /// Send the schema to providers that take one.
    #[default]
    JsonSchema,
    /// Plain JSON mode only (for servers whose schema support is broken).
    JsonObject,
}

/// The write path's settings from the LLM block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractionSettings {
    /// Two passes or one additive call.
    pub mode: ExtractionMode,
    /// Facts may also come from the assistant's messages (not only the user's).
    pub assistant_facts: bool,
    /// JSON Schema or JSON mode.
    pub schema_use: SchemaUse,
    /// Most time one model call may take, the provider's retries included: 30 s, or with a
    /// `timeout` key `timeout × (1 + max_retries) + 5 s`.
    pub call_budget: Duration,
}

impl Default for ExtractionSettings {
    fn default() -> Self {
        Self {
            mode: ExtractionMode::default(),
            assistant_facts: false,
            schema_use: SchemaUse::default(),
            call_budget: DEFAULT_CALL_BUDGET,
        }
    }
}

impl ExtractionSettings {
    /// Reads the settings from an LLM block's `config`; an error names the key and what it takes.
    pub fn from_config(config: &Map<String, Value>) -> Result<Self, String> {
        let mut settings = Self::default();
        if let Some(value) = given(config, EXTRACTION_MODE) {
            settings.mode = match value.as_str().map(str::trim) {
                Some("two_pass") => ExtractionMode::TwoPass,
                Some("additive") => ExtractionMode::Additive,
                _ => return Err(format!("{EXTRACTION_MODE} must be \"two_pass\" or \"additive\", got {value}")),
            };
        }
        if let Some(value) = given(config, FACT_ROLES) {
            settings.assistant_facts = read_roles(value)?;
        }
        if let Some(value) = given(config, STRUCTURED_OUTPUT) {
            settings.schema_use = match value.as_str().map(str::trim) {
                Some("json_schema") => SchemaUse::JsonSchema,
                Some("json_object") => SchemaUse::JsonObject,
                _ => {
                    return Err(format!("{STRUCTURED_OUTPUT} must be \"json_schema\" or \"json_object\", got {value}"))
                }
            };
        }
        if let Some(secs) = given(config, TIMEOUT).and_then(Value::as_f64).filter(|s| s.is_finite() && *s > 0.0) {
            let retries = given(config, MAX_RETRIES).and_then(Value::as_u64).unwrap_or(2).min(100) as f64;
            settings.call_budget = Duration::from_secs_f64(secs.min(86_400.0) * (1.0 + retries)) + RETRY_SLACK;
        }
        Ok(settings)
    }
}

/// A key that is present and not `null`.
fn given<'a>(config: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    config.get(key).filter(|v| !v.is_null())
}

/// `fact_roles`: a list holding `"user"` and optionally `"assistant"`; true when the assistant is in.
fn read_roles(value: &Value) -> Result<bool, String> {
    let expected = || format!("{FACT_ROLES} must be [\"user\"] or [\"user\", \"assistant\"], got {value}");
    let Some(items) = value.as_array() else { return Err(expected()) };
    let mut user = false;
    let mut assistant = false;
    for item in items {
        match item.as_str().map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            Some("user") => user = true,
            Some("assistant") => assistant = true,
            _ => return Err(expected()),
        }
    }
    if !user {
        return Err(expected());
    }
    Ok(assistant)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(config: Value) -> Result<ExtractionSettings, String> {
        ExtractionSettings::from_config(config.as_object().unwrap())
    }

    #[test]
    fn defaults_are_two_pass_user_facts_and_schemas() {
        assert_eq!(read(json!({"model": "m"})), Ok(ExtractionSettings::default()));
        let s = read(json!({"extraction_mode": "additive", "fact_roles": ["user", "Assistant"],
            "structured_output": "json_object", "timeout": 90, "max_retries": 1}))
        .unwrap();
        assert_eq!(
            s,
            ExtractionSettings {
                mode: ExtractionMode::Additive,
                assistant_facts: true,
                schema_use: SchemaUse::JsonObject,
                call_budget: Duration::from_secs(185),
            }
        );
    }

    #[test]
    fn bad_values_name_the_key() {
        for (config, key) in [
            (json!({"extraction_mode": "single"}), EXTRACTION_MODE),
            (json!({"fact_roles": "user"}), FACT_ROLES),
            (json!({"fact_roles": ["assistant"]}), FACT_ROLES),
            (json!({"fact_roles": ["user", "system"]}), FACT_ROLES),
            (json!({"structured_output": true}), STRUCTURED_OUTPUT),
        ] {
            let err = read(config.clone()).unwrap_err();
            assert!(err.starts_with(key), "{config}: {err}");
        }
    }
}
