//! The command line as an inbound adapter: `call` runs one tool, `validate` checks credentials.
//!
//! The credentials file is a JSON object holding the credentials as Dify sends them (the provider's
//! credential names, each block either a JSON string or an object, `async_mode` as a boolean or
//! `"true"`/`"false"`). Without a file, the zero-setup defaults apply.

use crate::adapters::dify::tools::{invoke_tool, ToolReply};
use crate::domain::credentials::{CredentialError, CredentialSet};
use crate::ports::memory_api::{CheckResult, InvokeContext, MemoryApi};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Why a command could not run.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The credentials file could not be read.
    #[error("cannot read the credentials file {path}: {source}")]
    ReadCredentials {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The credentials file is not a JSON object.
    #[error("the credentials file {path} must hold a JSON object such as {{\"local_llm_json\": {{…}}}}: {detail}")]
    CredentialsNotObject {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A credential is invalid.
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    /// `--params` is not a JSON object.
    #[error("--params must be a JSON object such as '{{\"user\": \"I like tea\", \"user_id\": \"alice\"}}': {0}")]
    Params(String),
    /// Validation could not run.
    #[error("validation failed: {0}")]
    Validation(String),
}

/// Reads the credentials file, or the empty (zero-setup) credentials when there is none.
pub fn read_credentials(path: Option<&Path>) -> Result<CredentialSet, CliError> {
    let Some(path) = path else { return Ok(CredentialSet::from_map(&Map::new())?) };
    let text =
        std::fs::read_to_string(path).map_err(|source| CliError::ReadCredentials { path: path.to_owned(), source })?;
    let map = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => map,
        Ok(other) => {
            let detail = format!("found {}", kind(&other));
            return Err(CliError::CredentialsNotObject { path: path.to_owned(), detail });
        }
        Err(e) => return Err(CliError::CredentialsNotObject { path: path.to_owned(), detail: e.to_string() }),
    };
    Ok(CredentialSet::from_map(&map)?)
}

/// Parses `--params`.
pub fn parse_params(text: &str) -> Result<Map<String, Value>, CliError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(CliError::Params(format!("found {}", kind(&other)))),
        Err(e) => Err(CliError::Params(e.to_string())),
    }
}

/// Runs one tool as Dify would, with no end user.
pub async fn call(
    api: &dyn MemoryApi,
    credentials: &CredentialSet,
    tool: &str,
    params: &Map<String, Value>,
) -> ToolReply {
    invoke_tool(api, credentials, tool, params, &InvokeContext::default()).await
}

/// Runs every check; returns the results and whether all passed.
pub async fn validate(api: &dyn MemoryApi, credentials: &CredentialSet) -> Result<(Vec<CheckResult>, bool), CliError> {
    let checks = api.validate(credentials).await.map_err(|e| CliError::Validation(e.to_string()))?;
    let ok = checks.iter().all(|c| c.error.is_none());
    Ok((checks, ok))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn credentials_files_are_checked() {
        assert!(read_credentials(None).unwrap().llm.is_none());
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(file, "[1]").unwrap();
        let err = read_credentials(Some(file.path())).unwrap_err().to_string();
        assert!(err.contains("must hold a JSON object") && err.contains("found a list"), "{err}");
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(file, r#"{{"local_llm_json": "{{\"provider\": \"openai\"}}", "async_mode": "false"}}"#).unwrap();
        let set = read_credentials(Some(file.path())).unwrap();
        assert_eq!(set.llm.unwrap().provider, "openai");
        assert!(!set.async_mode);
        let missing = read_credentials(Some(Path::new("/nonexistent/creds.json"))).unwrap_err().to_string();
        assert!(missing.contains("cannot read the credentials file /nonexistent/creds.json"));
    }

    #[test]
    fn params_must_be_an_object() {
        assert!(parse_params("{\"user_id\": \"a\"}").unwrap().contains_key("user_id"));
        assert!(parse_params("[]").unwrap_err().to_string().contains("found a list"));
        assert!(parse_params("{").unwrap_err().to_string().contains("--params must be a JSON object"));
    }
}
