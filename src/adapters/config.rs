//! Reading a provider block's `config`: unknown keys rejected with the allowed ones listed, values typed
//! with errors naming the key (never repeating a secret), the shared HTTP keys, and environment fallbacks.

use crate::adapters::http::{parse_proxies, HttpSettings, RetryPolicy};
use crate::adapters::registry::Environment;
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;

/// The most retries a block may ask for.
pub const MAX_RETRIES_LIMIT: u32 = 10;

/// The longest `timeout` a block may set, in seconds.
pub const MAX_TIMEOUT_SECS: f64 = 3600.0;

/// The keys a provider accepts: its kind's `base` keys (which include the [`HttpKeys`]) and its own `extra`.
pub fn allowed_keys(base: &[&'static str], extra: &[&'static str]) -> Vec<&'static str> {
    debug_assert!(HttpKeys::NAMES.iter().all(|k| base.contains(k)));
    base.iter().chain(extra).copied().collect()
}

/// A [`BuildError::Config`] for the block's credential.
pub fn config_error(block: &ProviderBlock, message: impl Into<String>) -> BuildError {
    BuildError::Config { field: block.field, message: message.into() }
}

/// Rejects the first key not in `allowed`, naming it, the provider and the allowed keys.
pub fn check_keys(block: &ProviderBlock, allowed: &[&str]) -> Result<(), BuildError> {
    match block.config.keys().find(|key| !allowed.contains(&key.as_str())) {
        None => Ok(()),
        Some(key) => Err(config_error(
            block,
            format!("unknown key {key:?} for provider {:?}; allowed keys are {}", block.provider, allowed.join(", ")),
        )),
    }
}

/// Deserializes the block's config; a wrong type names the key (and hides the value of secret keys).
pub fn deserialize<T: DeserializeOwned>(block: &ProviderBlock) -> Result<T, BuildError> {
    let value = Value::Object(block.config.clone());
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = if is_secret_key(&path) {
            format!("{path} has the wrong type (expected a string; the value is not shown)")
        } else {
            format!("{path}: {}", err.inner())
        };
        config_error(block, message)
    })
}

/// True for keys whose values must never be echoed.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.ends_with("key")
        || key.ends_with("token")
        || ["password", "secret", "credential"].iter().any(|word| key.contains(word))
}

/// A block's `timeout` key (seconds), checked: above 0 and at most [`MAX_TIMEOUT_SECS`].
pub fn timeout_secs(block: &ProviderBlock, secs: f64) -> Result<Duration, BuildError> {
    if secs.is_finite() && secs > 0.0 && secs <= MAX_TIMEOUT_SECS {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(config_error(
            block,
            format!("timeout must be a number of seconds above 0 and at most {MAX_TIMEOUT_SECS}, got {secs}"),
        ))
    }
}

/// The shared HTTP keys of hosted providers: `timeout` (seconds per request), `max_retries`,
/// `http_client_proxies` (Mem0's: a URL, or `{"http://": …, "https://": …}`).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct HttpKeys {
    /// `timeout`.
    pub timeout: Option<f64>,
    /// `max_retries`.
    pub max_retries: Option<u32>,
    /// `http_client_proxies`.
    pub http_client_proxies: Value,
}

impl HttpKeys {
    /// The names of these keys, for allowed-key lists.
    pub const NAMES: &'static [&'static str] = &["http_client_proxies", "timeout", "max_retries"];

    /// Reads these keys from a block (other keys are ignored here).
    pub fn from_block(block: &ProviderBlock) -> Result<Self, BuildError> {
        deserialize(block)
    }

    /// The HTTP settings these keys describe, checked.
    pub fn settings(&self, block: &ProviderBlock) -> Result<HttpSettings, BuildError> {
        let mut settings = HttpSettings::default();
        if let Some(secs) = self.timeout {
            settings.timeout = timeout_secs(block, secs)?;
        }
        if let Some(retries) = self.max_retries {
            if retries > MAX_RETRIES_LIMIT {
                return Err(config_error(
                    block,
                    format!("max_retries must be at most {MAX_RETRIES_LIMIT}, got {retries}"),
                ));
            }
            settings.retry = RetryPolicy { max_retries: retries as usize, ..RetryPolicy::default() };
        }
        settings.proxies = parse_proxies(&self.http_client_proxies)
            .map_err(|message| config_error(block, format!("http_client_proxies: {message}")))?;
        Ok(settings)
    }
}

/// A non-blank string setting, trimmed.
pub fn non_blank(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// True when `name` can name a collection or index and the files derived from it: 1 to `max`
/// ASCII letters, digits, `_`, `-` or `.`, not starting with `.` (so never `..`, a separator or a
/// path). Store names are names, never paths.
pub fn is_store_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.starts_with('.')
}

/// A string-valued key (`null` and blank mean unset); any other type is an error naming the key.
pub fn string_key(block: &ProviderBlock, key: &str) -> Result<Option<String>, BuildError> {
    match block.config.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(non_blank(Some(s.clone()))),
        Some(_) if is_secret_key(key) => {
            Err(config_error(block, format!("{key} must be a string (the value is not shown)")))
        }
        Some(other) => Err(config_error(block, format!("{key} must be a string, got {other}"))),
    }
}

/// A positive integer key (a JSON number, or a string of digits); absent and `null` mean unset.
pub fn positive_integer_key(block: &ProviderBlock, key: &str) -> Result<Option<usize>, BuildError> {
    whole_number_key(block, key, 1..=usize::MAX, || format!("{key} must be a positive integer"))
}

/// A whole-number key from `min` to `max` (a JSON number, or a string of digits); absent and
/// `null` mean unset.
pub fn count_key(block: &ProviderBlock, key: &str, min: usize, max: usize) -> Result<Option<usize>, BuildError> {
    whole_number_key(block, key, min..=max, || format!("{key} must be a whole number from {min} to {max}"))
}

/// A whole number within `range`, or the error `expected` begins (it names the key), followed by
/// what was given (never a secret's value).
fn whole_number_key(
    block: &ProviderBlock,
    key: &str,
    range: std::ops::RangeInclusive<usize>,
    expected: impl FnOnce() -> String,
) -> Result<Option<usize>, BuildError> {
    let value = match block.config.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(value) => value,
    };
    let parsed = match value {
        Value::Number(n) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
        Value::String(s) => s.trim().parse::<usize>().ok(),
        _ => None,
    };
    match parsed {
        Some(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(config_error(block, format!("{}, got {}", expected(), given(key, value)))),
    }
}

/// A true/false key: a JSON boolean, `"true"`/`"false"` (also `1`/`0`, `yes`/`no`, `on`/`off`);
/// absent and `null` mean unset.
pub fn flag_key(block: &ProviderBlock, key: &str) -> Result<Option<bool>, BuildError> {
    let value = match block.config.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(value) => value,
    };
    let parsed = match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(true),
            "false" | "0" | "no" | "off" => Some(false),
            _ => None,
        },
        Value::Number(n) => match n.as_u64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        _ => None,
    };
    parsed.ok_or_else(|| wrong_type(block, key, "true or false", value)).map(Some)
}

/// The error for a key holding the wrong kind of value: names the key and what was expected,
/// and says what was given without showing a secret's value.
pub fn wrong_type(block: &ProviderBlock, key: &str, expected: &str, got: &Value) -> BuildError {
    config_error(block, format!("{key} must be {expected}, got {}", given(key, got)))
}

/// What a key was given, in words; a secret's value is never shown.
fn given(key: &str, value: &Value) -> String {
    match value {
        _ if is_secret_key(key) => "a value that is not shown".to_owned(),
        Value::String(_) => "a string".to_owned(),
        Value::Number(n) => format!("the number {n}"),
        Value::Bool(b) => format!("{b}"),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
        Value::Null => "null".to_owned(),
    }
}

/// A count `key` (`default` when unset) checked to lie between 1 and `max`.
pub fn count_or(
    block: &ProviderBlock,
    key: &str,
    value: Option<usize>,
    default: usize,
    max: usize,
) -> Result<usize, BuildError> {
    let count = value.unwrap_or(default);
    if !(1..=max).contains(&count) {
        return Err(config_error(block, format!("{key} must be between 1 and {max}, got {count}")));
    }
    Ok(count)
}

/// Rejects a `client` key: in Mem0 it holds a Python client object, which JSON cannot carry;
/// `instead` says what to set.
pub fn reject_client(block: &ProviderBlock, client: &Value, instead: &str) -> Result<(), BuildError> {
    if client.is_null() {
        return Ok(());
    }
    Err(config_error(block, format!("client cannot be given in JSON (it is a Python client object); {instead}")))
}

/// The configured value, else the first environment variable of `names` that is set.
pub fn or_env(configured: Option<String>, names: &[&str], env: &Environment) -> Option<String> {
    non_blank(configured).or_else(|| names.iter().find_map(|name| env.var(name)))
}

/// A configured secret (trimmed; blank means unset), else the first environment variable of `names` that is set.
pub fn secret_or_env(configured: Option<&SecretString>, names: &[&str], env: &Environment) -> Option<SecretString> {
    or_env(configured.map(|s| s.expose_secret().to_owned()), names, env).map(SecretString::from)
}

/// The error for a missing required key: names it, the provider and the environment variables consulted.
pub fn missing_key(block: &ProviderBlock, key: &str, env_names: &[&str]) -> BuildError {
    let fallback = match env_names {
        [] => String::new(),
        [one] => format!(" or in the {one} environment variable"),
        many => format!(" or in one of the environment variables {}", many.join(", ")),
    };
    config_error(block, format!("{key} is required for provider {:?}: set it in the config{fallback}", block.provider))
}

/// A base URL: the block's `key`, else the first set environment variable of `env_names`, else `default`;
/// checked to be an absolute http(s) URL and returned without a trailing slash.
pub fn base_url(
    block: &ProviderBlock,
    key: &str,
    env_names: &[&str],
    env: &Environment,
    default: &str,
) -> Result<String, BuildError> {
    let url = or_env(string_key(block, key)?, env_names, env).unwrap_or_else(|| default.to_owned());
    check_base_url(block, key, &url)
}

/// Checks a base URL is an absolute `http(s)://` URL; `key` names the setting in the error.
pub fn check_base_url(block: &ProviderBlock, key: &str, url: &str) -> Result<String, BuildError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| config_error(block, format!("{key} must be an absolute http(s) URL ({e}), got {url:?}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(config_error(block, format!("{key} must start with http:// or https://, got {url:?}")));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// A provider block for unit tests: `config` must be a JSON object.
#[cfg(test)]
pub(crate) fn test_block(field: &'static str, provider: &str, config: Value) -> ProviderBlock {
    ProviderBlock::parse(field, &serde_json::json!({"provider": provider, "config": config}))
        .expect("a valid provider block")
        .expect("a configured provider block")
}

/// A build context for unit tests: the variables of `vars` and a data directory nothing is written to.
#[cfg(test)]
pub(crate) fn test_context(vars: &[(&str, &str)]) -> crate::adapters::registry::BuildContext {
    let env = Environment::from_pairs(vars.iter().copied());
    crate::adapters::registry::BuildContext::new(env, "/nonexistent/mem0-dify-test-data")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn block(config: Value) -> ProviderBlock {
        test_block("local_llm_json", "openai", config)
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Sample {
        api_key: Option<String>,
        temperature: Option<f64>,
    }

    #[test]
    fn unknown_keys_name_the_key_and_the_allowed_ones() {
        let err = check_keys(&block(json!({"modle": "x"})), &["model", "api_key"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "local_llm_json: unknown key \"modle\" for provider \"openai\"; allowed keys are model, api_key"
        );
    }

    #[test]
    fn type_errors_name_the_key_but_never_echo_secrets() {
        let err = deserialize::<Sample>(&block(json!({"temperature": "hot"}))).unwrap_err().to_string();
        assert!(err.starts_with("local_llm_json: temperature: invalid type: string \"hot\""), "{err}");
        let err = deserialize::<Sample>(&block(json!({"api_key": 123456789}))).unwrap_err().to_string();
        assert!(err.contains("api_key has the wrong type") && !err.contains("123456789"), "{err}");
        assert!(is_secret_key("azure_api_key") && is_secret_key("password") && is_secret_key("session_token"));
        assert!(!is_secret_key("max_tokens") && !is_secret_key("top_k"));
    }

    #[test]
    fn http_keys_are_checked() {
        let b = block(json!({}));
        let keys = HttpKeys { timeout: Some(2.5), max_retries: Some(0), http_client_proxies: Value::Null };
        let settings = keys.settings(&b).unwrap();
        assert_eq!(settings.timeout, Duration::from_millis(2500));
        assert_eq!(settings.retry.max_retries, 0);
        let bad = HttpKeys { timeout: Some(0.0), ..HttpKeys::default() };
        assert!(bad.settings(&b).unwrap_err().to_string().contains("timeout must be"));
        let bad = HttpKeys { max_retries: Some(99), ..HttpKeys::default() };
        assert!(bad.settings(&b).unwrap_err().to_string().contains("max_retries must be at most 10"));
        let bad = HttpKeys { http_client_proxies: json!("socks5://h:1"), ..HttpKeys::default() };
        assert!(bad.settings(&b).unwrap_err().to_string().contains("http_client_proxies: "));
    }

    #[test]
    fn strings_and_positive_integers_are_typed() {
        let b = block(json!({"a": " x ", "b": 384, "c": "512", "d": 0, "e": [1], "f": ""}));
        assert_eq!(string_key(&b, "a").unwrap().as_deref(), Some("x"));
        assert_eq!(string_key(&b, "f").unwrap(), None);
        assert_eq!(string_key(&b, "zz").unwrap(), None);
        assert_eq!(positive_integer_key(&b, "b").unwrap(), Some(384));
        assert_eq!(positive_integer_key(&b, "c").unwrap(), Some(512));
        assert_eq!(positive_integer_key(&b, "zz").unwrap(), None);
        let err = positive_integer_key(&b, "d").unwrap_err().to_string();
        assert_eq!(err, "local_llm_json: d must be a positive integer, got the number 0");
        assert!(string_key(&b, "e").unwrap_err().to_string().contains("e must be a string, got [1]"));
    }

    #[test]
    fn counts_and_clients_are_checked() {
        let b = block(json!({}));
        assert_eq!(count_or(&b, "batch_size", None, 10, 100).unwrap(), 10);
        assert_eq!(count_or(&b, "batch_size", Some(100), 10, 100).unwrap(), 100);
        let err = count_or(&b, "batch_size", Some(0), 10, 100).unwrap_err().to_string();
        assert!(err.ends_with("batch_size must be between 1 and 100, got 0"), "{err}");
        assert!(reject_client(&b, &Value::Null, "set url").is_ok());
        let err = reject_client(&b, &json!("x"), "set url").unwrap_err().to_string();
        assert!(err.ends_with("client cannot be given in JSON (it is a Python client object); set url"), "{err}");
    }

    #[test]
    fn base_urls_must_be_http() {
        let b = block(json!({}));
        assert_eq!(check_base_url(&b, "openai_base_url", "http://h:1/v1/").unwrap(), "http://h:1/v1");
        assert!(check_base_url(&b, "openai_base_url", "h:1").unwrap_err().to_string().contains("openai_base_url"));
        assert!(check_base_url(&b, "openai_base_url", "localhost/v1").is_err());
    }
}
