//! The command line as an inbound adapter: `call` runs one tool, `validate` checks credentials.
//!
//! The credentials file is a JSON object holding the credentials as Dify sends them (the provider's
//! credential names, each block either a JSON string or an object, `async_mode` as a boolean or
//! `"true"`/`"false"`). Without a file, the zero-setup defaults apply: the embedded store, the local
//! embedding model and, when `OPENAI_API_KEY` is set, an OpenAI-compatible LLM (as Mem0's
//! `Memory()` does; `OPENAI_BASE_URL` picks the server, `MEM0_DIFY_LLM_MODEL` the model). Without
//! an LLM an add stores the text as given, and its reply says so.
//!
//! A write accepted in async mode is applied before the process exits (the caller drains the
//! application), and [`settle`] adds its final state to the reply.

use crate::adapters::dify::tools::{invoke_tool, ToolReply, ADD_MEMORY, GET_WRITE_STATUS};
use crate::adapters::registry::Environment;
use crate::domain::credentials::{self, CredentialError, CredentialSet};
use crate::domain::strict_json::parse_without_duplicate_keys;
use crate::ports::memory_api::{CheckResult, InvokeContext, MemoryApi};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// The environment variable that gives the zero-setup defaults an `openai` LLM (Mem0's default).
pub const LLM_API_KEY_ENV: &str = "OPENAI_API_KEY";

/// The environment variable naming the model of that LLM (default: the `openai` provider's).
pub const LLM_MODEL_ENV: &str = "MEM0_DIFY_LLM_MODEL";

/// Added to the text of an add when no LLM is configured.
pub const NO_LLM_NOTE: &str = "No LLM is configured, so the text is stored as given, without fact extraction \
     (as with infer: false). For extraction set OPENAI_API_KEY (and OPENAI_BASE_URL for another \
     OpenAI-compatible server, MEM0_DIFY_LLM_MODEL for its model) or give local_llm_json in --credentials.";

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

/// Reads the credentials file, or the zero-setup credentials `env` describes when there is none.
pub fn read_credentials(path: Option<&Path>, env: &Environment) -> Result<CredentialSet, CliError> {
    let Some(path) = path else { return zero_setup_credentials(env) };
    let text =
        std::fs::read_to_string(path).map_err(|source| CliError::ReadCredentials { path: path.to_owned(), source })?;
    let map = match parse_without_duplicate_keys(&text) {
        Ok(Value::Object(map)) => map,
        Ok(other) => {
            let detail = format!("found {}", kind(&other));
            return Err(CliError::CredentialsNotObject { path: path.to_owned(), detail });
        }
        Err(e) => return Err(CliError::CredentialsNotObject { path: path.to_owned(), detail: e.to_string() }),
    };
    Ok(CredentialSet::from_map(&map)?)
}

/// No blocks (embedded store, local embedder), plus an `openai` LLM when [`LLM_API_KEY_ENV`] is set;
/// the adapter reads the key and `OPENAI_BASE_URL` from the environment itself.
fn zero_setup_credentials(env: &Environment) -> Result<CredentialSet, CliError> {
    let mut map = Map::new();
    if env.var(LLM_API_KEY_ENV).is_some() {
        let mut config = Map::new();
        if let Some(model) = env.var(LLM_MODEL_ENV) {
            config.insert("model".to_owned(), Value::String(model.trim().to_owned()));
        }
        map.insert(credentials::LLM.to_owned(), json!({"provider": "openai", "config": config}));
    }
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

/// Runs one tool as Dify would, with no end user. An add without an LLM says in its text that
/// the text is stored as given ([`NO_LLM_NOTE`]).
pub async fn call(
    api: &dyn MemoryApi,
    credentials: &CredentialSet,
    tool: &str,
    params: &Map<String, Value>,
) -> ToolReply {
    let mut reply = invoke_tool(api, credentials, tool, params, &InvokeContext::default()).await;
    let skipped = reply.json.pointer("/results/0/event").and_then(Value::as_str) == Some("SKIP");
    if tool == ADD_MEMORY && credentials.llm.is_none() && !reply.is_error() && !skipped {
        reply.text = format!("{}\n{NO_LLM_NOTE}", reply.text);
    }
    reply
}

/// For a reply that accepted a write: that the process now applies it before exiting (at most
/// `deadline`), and that an interrupted process loses nothing.
pub fn draining_note(reply: &ToolReply, deadline: std::time::Duration) -> Option<String> {
    reply.json.get("write_id").and_then(Value::as_str)?;
    Some(format!(
        "Applying it before exiting (at most {} s); if interrupted, it stays in the journal and the next run applies it.",
        deadline.as_secs()
    ))
}

/// A call's final answer, once its accepted write (if any) has been drained.
#[derive(Debug, Clone, PartialEq)]
pub struct Settled {
    /// The reply's JSON, with `write_status` (what `get_write_status` answers) for an accepted write.
    pub json: Value,
    /// What became of the accepted write, for people; `None` when nothing was accepted.
    pub text: Option<String>,
    /// False when the call failed or its accepted write failed.
    pub ok: bool,
}

/// Looks up what became of the write `reply` accepted (call it after draining the application).
/// A write still pending (the drain deadline passed) stays in the journal and is applied by the
/// next run; the text says so.
pub async fn settle(api: &dyn MemoryApi, credentials: &CredentialSet, reply: ToolReply) -> Settled {
    let ok = !reply.is_error();
    let mut json = reply.json;
    let Some(write_id) = json.get("write_id").and_then(Value::as_str).map(str::to_owned) else {
        return Settled { json, text: None, ok };
    };
    let params = Map::from_iter([("write_id".to_owned(), Value::String(write_id))]);
    let status = invoke_tool(api, credentials, GET_WRITE_STATUS, &params, &InvokeContext::default()).await;
    let state = status.json.get("results").cloned().unwrap_or(Value::Null);
    let mut text = status.text;
    let ok = match state.get("state").and_then(Value::as_str) {
        Some("applied") => ok,
        Some("pending") => {
            text.push_str(
                "\nIt is kept in the journal and applied by the next mem0-dify run (call or serve) with these credentials.",
            );
            ok
        }
        _ => false,
    };
    if let Value::Object(map) = &mut json {
        map.insert("write_status".to_owned(), state);
    }
    Settled { json, text: Some(text), ok }
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
        assert!(read_credentials(None, &Environment::default()).unwrap().llm.is_none());
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(file, "[1]").unwrap();
        let err = read_credentials(Some(file.path()), &Environment::default()).unwrap_err().to_string();
        assert!(err.contains("must hold a JSON object") && err.contains("found a list"), "{err}");
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(file, r#"{{"local_llm_json": "{{\"provider\": \"openai\"}}", "async_mode": "false"}}"#).unwrap();
        let set = read_credentials(Some(file.path()), &Environment::default()).unwrap();
        assert_eq!(set.llm.unwrap().provider, "openai");
        assert!(!set.async_mode);
        let mut file = tempfile::NamedTempFile::new().unwrap();
        let twice = r#"{"local_vector_db_json": {"provider": "pgvector", "config": {"port": 5432, "port": 5433}}}"#;
        write!(file, "{twice}").unwrap();
        let err = read_credentials(Some(file.path()), &Environment::default()).unwrap_err().to_string();
        assert!(err.contains("the key \"local_vector_db_json.config.port\" appears more than once"), "{err}");
        let missing = read_credentials(Some(Path::new("/nonexistent/creds.json")), &Environment::default())
            .unwrap_err()
            .to_string();
        assert!(missing.contains("cannot read the credentials file /nonexistent/creds.json"));
    }

    #[test]
    fn zero_setup_takes_an_openai_llm_from_the_environment() {
        let env = |vars: &[(&str, &str)]| Environment::from_pairs(vars.iter().copied());
        let none = read_credentials(None, &env(&[("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")])).unwrap();
        assert!(none.llm.is_none() && none.embedder.is_none() && none.vector_store.is_none());
        assert!(none.async_mode);
        let set = read_credentials(None, &env(&[("OPENAI_API_KEY", "sk-1"), ("MEM0_DIFY_LLM_MODEL", " m1 ")]));
        let llm = set.unwrap().llm.unwrap();
        assert_eq!((llm.field, llm.provider.as_str()), (credentials::LLM, "openai"));
        assert_eq!(Value::Object(llm.config), json!({"model": "m1"}));
        let blank = read_credentials(None, &env(&[("OPENAI_API_KEY", "  ")])).unwrap();
        assert!(blank.llm.is_none());
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(file, "{{}}").unwrap();
        let from_file = read_credentials(Some(file.path()), &env(&[("OPENAI_API_KEY", "sk-1")])).unwrap();
        assert!(from_file.llm.is_none(), "a credentials file is taken as it is");
    }

    #[test]
    fn params_must_be_an_object() {
        assert!(parse_params("{\"user_id\": \"a\"}").unwrap().contains_key("user_id"));
        assert!(parse_params("[]").unwrap_err().to_string().contains("found a list"));
        assert!(parse_params("{").unwrap_err().to_string().contains("--params must be a JSON object"));
    }
}
