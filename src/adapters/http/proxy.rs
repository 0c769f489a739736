//! Mem0's `http_client_proxies`: one proxy URL for everything, or an httpx-style map by scheme.

use serde_json::Value;

/// Which requests a proxy serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyScope {
    /// Every request.
    All,
    /// `http://` URLs.
    Http,
    /// `https://` URLs.
    Https,
}

/// One proxy rule. The URL may hold a password, so it is never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyRule {
    /// Which requests it serves.
    pub scope: ProxyScope,
    /// The proxy URL (`http://` or `https://`).
    pub url: String,
}

impl std::fmt::Debug for ProxyRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyRule").field("scope", &self.scope).field("url", &"[REDACTED]").finish()
    }
}

impl ProxyRule {
    /// The password in the proxy URL, if any (to redact it from messages).
    pub fn password(&self) -> Option<String> {
        reqwest::Url::parse(&self.url).ok()?.password().map(str::to_owned)
    }
}

/// Parses `http_client_proxies`: `null`, a URL string, or an object whose keys are `"all://"`,
/// `"http://"` or `"https://"` (httpx mount patterns; `all`, `http`, `https` also accepted).
/// Error messages never repeat the URLs (they may carry passwords).
pub fn parse_proxies(value: &Value) -> Result<Vec<ProxyRule>, String> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::String(url) if url.trim().is_empty() => Ok(Vec::new()),
        Value::String(url) => Ok(vec![rule(ProxyScope::All, url, "the proxy URL")?]),
        Value::Object(map) => map
            .iter()
            .filter(|(_, url)| !url.is_null())
            .map(|(pattern, url)| {
                let scope = match pattern.trim().trim_end_matches("://").to_ascii_lowercase().as_str() {
                    "all" => ProxyScope::All,
                    "http" => ProxyScope::Http,
                    "https" => ProxyScope::Https,
                    _ => {
                        return Err(format!(
                            "key {pattern:?} is not supported; use \"all://\", \"http://\" or \"https://\""
                        ))
                    }
                };
                match url {
                    Value::String(url) => rule(scope, url, &format!("the proxy for {pattern:?}")),
                    _ => Err(format!("the proxy for {pattern:?} must be a URL string")),
                }
            })
            .collect(),
        _ => Err("must be a proxy URL string or an object like {\"https://\": \"http://proxy:3128\"}".to_owned()),
    }
}

fn rule(scope: ProxyScope, url: &str, what: &str) -> Result<ProxyRule, String> {
    let url = url.trim();
    let parsed = reqwest::Url::parse(url).map_err(|_| format!("{what} is not a valid URL"))?;
    match parsed.scheme() {
        "http" | "https" => Ok(ProxyRule { scope, url: url.to_owned() }),
        other => Err(format!("{what} uses the unsupported scheme {other:?}; only http:// and https:// proxies work")),
    }
}

/// The reqwest proxy for a rule.
pub(super) fn to_reqwest(rule: &ProxyRule) -> Result<reqwest::Proxy, String> {
    let built = match rule.scope {
        ProxyScope::All => reqwest::Proxy::all(&rule.url),
        ProxyScope::Http => reqwest::Proxy::http(&rule.url),
        ProxyScope::Https => reqwest::Proxy::https(&rule.url),
    };
    built.map_err(|_| "a proxy URL was rejected by the HTTP client".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_and_maps_parse() {
        assert!(parse_proxies(&json!(null)).unwrap().is_empty());
        let rules = parse_proxies(&json!("http://user:pw@proxy:3128")).unwrap();
        assert_eq!(rules[0].scope, ProxyScope::All);
        assert_eq!(rules[0].password().as_deref(), Some("pw"));
        assert!(!format!("{rules:?}").contains("pw"));
        let rules = parse_proxies(&json!({"http://": "http://a:1", "https://": "http://b:2", "all": null})).unwrap();
        assert_eq!(rules.iter().map(|r| r.scope).collect::<Vec<_>>(), vec![ProxyScope::Http, ProxyScope::Https]);
    }

    #[test]
    fn bad_proxies_are_explained_without_the_url() {
        let err = parse_proxies(&json!("socks5://user:secret@h:1")).unwrap_err();
        assert!(err.contains("socks5") && !err.contains("secret"), "{err}");
        let err = parse_proxies(&json!({"http://example.com": "http://a:1"})).unwrap_err();
        assert!(err.contains("http://example.com"), "{err}");
        assert!(parse_proxies(&json!(3)).unwrap_err().contains("proxy URL string"));
        assert!(parse_proxies(&json!("not a url")).unwrap_err().contains("not a valid URL"));
    }
}
