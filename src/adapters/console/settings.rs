//! The endpoint's settings, as the daemon passes them with every endpoint call (`settings` of
//! `invoke_endpoint`, decrypted): the access key, and the engine's credentials under the same
//! names as the tool provider's. The daemon does not pass the tool provider's credentials to an
//! endpoint, so the endpoint group declares them again (`group/console.yaml`).

use super::access::MIN_KEY_LEN;
use super::routes::ConsoleAccess;
use crate::domain::credentials::CredentialSet;
use serde_json::{Map, Value};

/// The setting holding the access key.
pub const ACCESS_KEY_SETTING: &str = "console_access_key";

/// Why the settings cannot serve the console.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsoleSettingsError {
    /// No access key, or one too short.
    #[error("{ACCESS_KEY_SETTING}: an access key of at least {MIN_KEY_LEN} characters is required")]
    Key,
    /// The engine credentials are invalid.
    #[error("endpoint settings: {0}")]
    Credentials(String),
}

/// Reads the settings of one endpoint call.
pub fn console_access(settings: &Map<String, Value>) -> Result<ConsoleAccess, ConsoleSettingsError> {
    let key = settings.get(ACCESS_KEY_SETTING).and_then(Value::as_str).map(str::trim).unwrap_or_default();
    if key.chars().count() < MIN_KEY_LEN {
        return Err(ConsoleSettingsError::Key);
    }
    let engine: Map<String, Value> = settings
        .iter()
        .filter(|(name, value)| name.as_str() != ACCESS_KEY_SETTING && !value.is_null() && value != &&Value::from(""))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let credentials = CredentialSet::from_map(&engine).map_err(|e| ConsoleSettingsError::Credentials(e.to_string()))?;
    credentials.require_dify_blocks().map_err(|e| ConsoleSettingsError::Credentials(e.to_string()))?;
    Ok(ConsoleAccess { key: key.to_owned(), credentials })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn key_and_engine_blocks_are_read_and_checked() {
        let ok = settings(json!({
            "console_access_key": "0123456789abcdef",
            "local_llm_json": "{\"provider\": \"openai\", \"config\": {\"api_key\": \"k\"}}",
            "local_embedder_json": "{\"provider\": \"openai\", \"config\": {\"api_key\": \"k\"}}",
            "local_vector_db_json": "{\"provider\": \"pgvector\", \"config\": {}}",
            "local_graph_db_json": "",
        }));
        let access = console_access(&ok).unwrap();
        assert_eq!(access.key, "0123456789abcdef");
        assert!(access.credentials.vector_store.is_some() && access.credentials.graph_store.is_none());
        let mut short = ok.clone();
        short.insert("console_access_key".into(), json!("short"));
        assert_eq!(console_access(&short).unwrap_err(), ConsoleSettingsError::Key);
        let mut missing = ok.clone();
        missing.remove("local_vector_db_json");
        assert!(console_access(&missing).unwrap_err().to_string().contains("local_vector_db_json"));
        let mut typo = ok;
        typo.insert("local_vectr_db_json".into(), json!("{}"));
        assert!(console_access(&typo).unwrap_err().to_string().contains("local_vectr_db_json"));
    }
}
