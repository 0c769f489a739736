//! The `local_graph_db_json` block for Neo4j: Mem0's keys, validated.

use crate::adapters::config::{check_keys, string_key};
use crate::domain::credentials::ProviderBlock;
use crate::domain::graph::names::is_safe_label;
use crate::domain::graph::GraphSettings;
use crate::ports::backends::BuildError;
use serde_json::{Map, Value};
use std::fmt;

/// The provider name this adapter answers to.
pub const PROVIDER: &str = "neo4j";
/// The keys a `neo4j` config may contain.
pub const ALLOWED_KEYS: &[&str] =
    &["url", "username", "password", "database", "base_label", "threshold", "custom_prompt"];
/// Mem0's base label, used when `base_label` is absent or `true`.
pub const DEFAULT_LABEL: &str = "__Entity__";
pub use crate::domain::graph::DEFAULT_THRESHOLD;
/// The database neo4rs selects when none is named (Neo4j's default database).
pub const DEFAULT_DATABASE: &str = "neo4j";
/// URL schemes the Bolt driver understands.
pub const SCHEMES: &[&str] = &["bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc"];

/// A validated Neo4j graph store configuration.
#[derive(Clone, PartialEq)]
pub struct Neo4jConfig {
    /// Bolt address, e.g. `bolt://127.0.0.1:7687` or `neo4j+s://x.databases.neo4j.io`.
    pub url: String,
    /// User name.
    pub username: String,
    /// Password (never logged; redacted in `Debug`).
    pub password: String,
    /// Database name (default `neo4j`).
    pub database: String,
    /// The label every node of the plugin carries; reads and deletes never leave it.
    pub label: String,
    /// Cosine similarity (−1…1) above which an extracted entity is merged into an existing node.
    pub threshold: f64,
    /// An extra rule appended to the extraction prompt.
    pub custom_prompt: Option<String>,
}

impl Neo4jConfig {
    /// How graph memory decides with this block (the store itself only stores and looks up).
    pub fn settings(&self) -> GraphSettings {
        GraphSettings { threshold: self.threshold, custom_prompt: self.custom_prompt.clone() }
    }
}

impl fmt::Debug for Neo4jConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Neo4jConfig")
            .field("url", &redact_url(&self.url))
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("database", &self.database)
            .field("label", &self.label)
            .field("threshold", &self.threshold)
            .field("custom_prompt", &self.custom_prompt.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// Validates a `local_graph_db_json` block whose provider is `neo4j`.
///
/// Keys: `url`, `username`, `password` (required strings), `database` (string, default `neo4j`),
/// `base_label` (`true`/absent = `__Entity__`, a string = that label; `false` is accepted for
/// Mem0 compatibility but the plugin still labels its nodes, since that label confines every
/// delete), `threshold` (number in 0…1, default 0.7), `custom_prompt` (string).
pub fn from_block(block: &ProviderBlock) -> Result<Neo4jConfig, BuildError> {
    let field = block.field;
    if block.provider != PROVIDER {
        return Err(BuildError::UnknownProvider {
            field,
            provider: block.provider.clone(),
            supported: PROVIDER.to_owned(),
        });
    }
    if block.config.contains_key("llm") {
        return Err(error(
            field,
            "unknown key \"llm\" (a separate graph LLM is not supported; the main LLM is used)".into(),
        ));
    }
    check_keys(block, ALLOWED_KEYS)?;
    let config = &block.config;
    let required = |key: &str| {
        string_key(block, key)?.ok_or_else(|| error(field, format!("{key:?} is required (a non-empty string)")))
    };
    let url = required("url")?;
    check_url(field, &url)?;
    Ok(Neo4jConfig {
        url,
        username: required("username")?,
        password: password(block)?,
        database: string_key(block, "database")?.unwrap_or_else(|| DEFAULT_DATABASE.to_owned()),
        label: label(config, field)?,
        threshold: threshold(config, field)?,
        custom_prompt: string_key(block, "custom_prompt")?,
    })
}

/// The URL with any `user:password@` part removed, for logs and errors.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://<redacted>@{host}"),
            None => url.to_owned(),
        },
        None => url.rsplit_once('@').map_or_else(|| url.to_owned(), |(_, host)| format!("<redacted>@{host}")),
    }
}

fn error(field: &'static str, message: String) -> BuildError {
    BuildError::Config { field, message }
}

/// `password`: required, taken as given (an empty password is a password).
fn password(block: &ProviderBlock) -> Result<String, BuildError> {
    match block.config.get("password") {
        Some(Value::String(password)) => Ok(password.clone()),
        None | Some(Value::Null) => Err(error(block.field, "\"password\" is required (a string)".into())),
        Some(_) => Err(error(block.field, "password must be a string (the value is not shown)".into())),
    }
}

fn check_url(field: &'static str, url: &str) -> Result<(), BuildError> {
    let rest = match url.split_once("://") {
        Some((scheme, rest)) => {
            if !SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) {
                return Err(error(
                    field,
                    format!("\"url\" has the scheme {scheme:?}; expected one of {}", SCHEMES.join(", ")),
                ));
            }
            rest
        }
        None => url,
    };
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    if host.is_empty() || host.starts_with(':') || host.starts_with('/') {
        return Err(error(field, format!("\"url\" has no host: {}", redact_url(url))));
    }
    Ok(())
}

fn label(config: &Map<String, Value>, field: &'static str) -> Result<String, BuildError> {
    match config.get("base_label") {
        None | Some(Value::Null) | Some(Value::Bool(_)) => Ok(DEFAULT_LABEL.to_owned()),
        Some(Value::String(s)) if is_safe_label(s.trim()) => Ok(s.trim().to_owned()),
        Some(other) => Err(error(
            field,
            format!(
                "\"base_label\" must be true, false or a label of ASCII letters, digits and _ \
                 (not starting with a digit, at most 64), got {other}"
            ),
        )),
    }
}

fn threshold(config: &Map<String, Value>, field: &'static str) -> Result<f64, BuildError> {
    match config.get("threshold") {
        None | Some(Value::Null) => Ok(DEFAULT_THRESHOLD),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(t) if (0.0..=1.0).contains(&t) => Ok(t),
            _ => Err(error(field, format!("\"threshold\" must be a number from 0 to 1, got {n}"))),
        },
        Some(other) => Err(error(field, format!("\"threshold\" must be a number from 0 to 1, got {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::config::test_block;
    use crate::domain::credentials::GRAPH_STORE;
    use serde_json::json;

    fn block(config: Value) -> ProviderBlock {
        test_block(GRAPH_STORE, "neo4j", config)
    }

    #[test]
    fn mem0_config_is_accepted_with_defaults() {
        let c = from_block(&block(json!({"url": "neo4j://localhost:7687", "username": "neo4j", "password": "pw"})))
            .unwrap();
        assert_eq!(c.database, "neo4j");
        assert_eq!(c.label, DEFAULT_LABEL);
        assert_eq!(c.threshold, 0.7);
        assert_eq!(c.custom_prompt, None);
        let c = from_block(&block(json!({
            "url": "127.0.0.1:7687", "username": "root", "password": "", "database": "graph",
            "base_label": "Mem0Test", "threshold": 0.9, "custom_prompt": "Only people."
        })))
        .unwrap();
        assert_eq!((c.database.as_str(), c.label.as_str(), c.threshold), ("graph", "Mem0Test", 0.9));
        assert_eq!(c.custom_prompt.as_deref(), Some("Only people."));
        assert_eq!(
            from_block(&block(json!({"url": "bolt://h", "username": "u", "password": "p", "base_label": false})))
                .unwrap()
                .label,
            DEFAULT_LABEL
        );
    }

    #[test]
    fn errors_name_the_key() {
        let err = |config: Value| from_block(&block(config)).unwrap_err().to_string();
        let base = json!({"url": "bolt://h:7687", "username": "u", "password": "p"});
        let with = |k: &str, v: Value| {
            let mut c = base.clone();
            c[k] = v;
            c
        };
        assert!(err(with("passwrd", json!("x"))).contains("unknown key \"passwrd\""));
        assert!(err(with("llm", json!({}))).contains("separate graph LLM"));
        assert!(err(with("threshold", json!(1.5))).contains("\"threshold\" must be a number from 0 to 1"));
        assert!(err(with("threshold", json!("0.5"))).contains("\"threshold\""));
        assert!(err(with("base_label", json!("a`b"))).contains("\"base_label\""));
        assert!(err(with("url", json!("http://h"))).contains("scheme \"http\""));
        assert!(err(with("url", json!("bolt://"))).contains("no host"));
        assert!(err(json!({"url": "bolt://h", "password": "p"})).contains("\"username\" is required"));
        assert!(err(json!({"url": "bolt://h", "username": "u"})).contains("\"password\" is required"));
        assert!(err(with("database", json!(3))).contains("database must be a string, got 3"));
        let err_password = err(with("password", json!(123456)));
        assert!(err_password.contains("password must be a string") && !err_password.contains("123456"));
        let other = ProviderBlock::parse(GRAPH_STORE, &json!({"provider": "memgraph", "config": {}})).unwrap().unwrap();
        assert!(from_block(&other).unwrap_err().to_string().contains("unknown provider \"memgraph\""));
    }

    #[test]
    fn secrets_stay_out_of_debug_and_urls() {
        let c = from_block(&block(json!({"url": "bolt://u:secret@h:7687", "username": "u", "password": "hunter2"})))
            .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("secret"), "{shown}");
        assert_eq!(redact_url("bolt://h:7687"), "bolt://h:7687");
    }
}
