//! Runtime settings from the environment, with the Python SDK's variable names and defaults
//! (contract §10.1). The composition root reads the variables (the process environment over
//! `.env` in the working directory) and hands a lookup to [`RuntimeSettings::from_lookup`].

use super::protocol::DEFAULT_MAX_LINE_BYTES;
use std::path::PathBuf;
use std::time::Duration;

/// Default remote debugging host (`REMOTE_INSTALL_HOST`).
pub const DEFAULT_REMOTE_HOST: &str = "localhost";
/// Default remote debugging port (`REMOTE_INSTALL_PORT`).
pub const DEFAULT_REMOTE_PORT: u16 = 5003;
/// Default heartbeat period (`HEARTBEAT_INTERVAL`), seconds.
pub const DEFAULT_HEARTBEAT_SECS: f64 = 10.0;
/// Default ceiling of one session (`MAX_REQUEST_TIMEOUT`), seconds.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: f64 = 300.0;
/// Default number of sessions handled at once (`MAX_WORKER`).
pub const DEFAULT_MAX_WORKERS: usize = 1000;
/// Default time to finish running sessions and accepted writes when stopping
/// (`MEM0_SHUTDOWN_TIMEOUT`), seconds.
pub const DEFAULT_SHUTDOWN_SECS: f64 = 10.0;

/// Why the settings could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// A variable has a value of the wrong form.
    #[error("{name}={value:?} is invalid: expected {expected}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A variable needed by the chosen transport is missing.
    #[error("{name} is required when INSTALL_METHOD={method}")]
    Missing {
        /// The variable.
        name: &'static str,
        /// The transport that needs it.
        method: &'static str,
    },
}

/// Where the daemon's remote debugging server is, and the key to register with.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteTarget {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// The debugging key (secret: never logged).
    pub key: String,
}

impl std::fmt::Debug for RemoteTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteTarget").field("host", &self.host).field("port", &self.port).field("key", &"***").finish()
    }
}

/// How the plugin talks to the daemon (`INSTALL_METHOD`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// `local`: the daemon started us; JSON lines over stdin/stdout.
    Stdio,
    /// `remote`: we dial the daemon's debugging port over TCP.
    Remote(RemoteTarget),
}

/// Everything the runtime needs to know from the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeSettings {
    /// The transport.
    pub transport: Transport,
    /// Heartbeat period (`HEARTBEAT_INTERVAL`).
    pub heartbeat_interval: Duration,
    /// Ceiling of one session (`MAX_REQUEST_TIMEOUT`).
    pub request_timeout: Duration,
    /// Sessions handled at once (`MAX_WORKER`).
    pub max_workers: usize,
    /// The daemon's line buffer (`PLUGIN_RUNTIME_MAX_BUFFER_SIZE`, legacy `PLUGIN_STDIO_MAX_BUFFER_SIZE`).
    pub daemon_line_buffer: usize,
    /// Time to finish running sessions and accepted writes when stopping (`MEM0_SHUTDOWN_TIMEOUT`).
    pub shutdown_timeout: Duration,
    /// Plugin directory with `manifest.yaml` for remote registration (`MEM0_DIFY_PLUGIN_ROOT`);
    /// `None` = the working directory, then the directories above the executable.
    pub plugin_root: Option<PathBuf>,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        Self {
            transport: Transport::Stdio,
            heartbeat_interval: Duration::from_secs_f64(DEFAULT_HEARTBEAT_SECS),
            request_timeout: Duration::from_secs_f64(DEFAULT_REQUEST_TIMEOUT_SECS),
            max_workers: DEFAULT_MAX_WORKERS,
            daemon_line_buffer: DEFAULT_MAX_LINE_BYTES,
            shutdown_timeout: Duration::from_secs_f64(DEFAULT_SHUTDOWN_SECS),
            plugin_root: None,
        }
    }
}

impl RuntimeSettings {
    /// Builds the settings from a variable lookup.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let method = get("INSTALL_METHOD").unwrap_or_else(|| "local".into()).to_ascii_lowercase();
        let transport = match method.as_str() {
            "local" => Transport::Stdio,
            "remote" => Transport::Remote(remote_target(&get)?),
            other => {
                return Err(SettingsError::Invalid {
                    name: "INSTALL_METHOD",
                    value: other.to_owned(),
                    expected: "local or remote (serverless is not supported)",
                })
            }
        };
        let defaults = Self::default();
        let daemon_line_buffer = match get("PLUGIN_STDIO_MAX_BUFFER_SIZE") {
            Some(v) if parse_usize("PLUGIN_STDIO_MAX_BUFFER_SIZE", &v)? != DEFAULT_MAX_LINE_BYTES => {
                parse_usize("PLUGIN_STDIO_MAX_BUFFER_SIZE", &v)?
            }
            _ => get("PLUGIN_RUNTIME_MAX_BUFFER_SIZE")
                .map(|v| parse_usize("PLUGIN_RUNTIME_MAX_BUFFER_SIZE", &v))
                .transpose()?
                .unwrap_or(DEFAULT_MAX_LINE_BYTES),
        };
        Ok(Self {
            transport,
            heartbeat_interval: seconds(&get, "HEARTBEAT_INTERVAL")?.unwrap_or(defaults.heartbeat_interval),
            request_timeout: seconds(&get, "MAX_REQUEST_TIMEOUT")?.unwrap_or(defaults.request_timeout),
            max_workers: match get("MAX_WORKER") {
                Some(v) => parse_usize("MAX_WORKER", &v)?.max(1),
                None => defaults.max_workers,
            },
            daemon_line_buffer,
            shutdown_timeout: seconds(&get, "MEM0_SHUTDOWN_TIMEOUT")?.unwrap_or(defaults.shutdown_timeout),
            plugin_root: get("MEM0_DIFY_PLUGIN_ROOT").map(PathBuf::from),
        })
    }
}

fn remote_target(get: &impl Fn(&str) -> Option<String>) -> Result<RemoteTarget, SettingsError> {
    let key =
        get("REMOTE_INSTALL_KEY").ok_or(SettingsError::Missing { name: "REMOTE_INSTALL_KEY", method: "remote" })?;
    if let Some(url) = get("REMOTE_INSTALL_URL") {
        let (host, port) = parse_host_port(&url).ok_or(SettingsError::Invalid {
            name: "REMOTE_INSTALL_URL",
            value: url.clone(),
            expected: "host:port or scheme://host:port",
        })?;
        return Ok(RemoteTarget { host, port, key });
    }
    let host = get("REMOTE_INSTALL_HOST").unwrap_or_else(|| DEFAULT_REMOTE_HOST.into());
    let port = match get("REMOTE_INSTALL_PORT") {
        Some(v) => v.parse::<u16>().map_err(|_| SettingsError::Invalid {
            name: "REMOTE_INSTALL_PORT",
            value: v.clone(),
            expected: "a TCP port number",
        })?,
        None => DEFAULT_REMOTE_PORT,
    };
    Ok(RemoteTarget { host, port, key })
}

/// Parses `host:port`, `scheme://host:port[/path]` or `[v6]:port`.
pub fn parse_host_port(raw: &str) -> Option<(String, u16)> {
    let rest = raw.split_once("://").map_or(raw, |(_, r)| r);
    let authority = rest.split('/').next()?;
    let (host, port) = authority.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = port.parse::<u16>().ok()?;
    (!host.is_empty()).then(|| (host.to_owned(), port))
}

fn seconds(get: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<Option<Duration>, SettingsError> {
    let Some(raw) = get(name) else { return Ok(None) };
    match raw.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v < 1.0e9 => Ok(Some(Duration::from_secs_f64(v))),
        _ => Err(SettingsError::Invalid { name, value: raw, expected: "a positive number of seconds" }),
    }
}

fn parse_usize(name: &'static str, raw: &str) -> Result<usize, SettingsError> {
    raw.parse::<usize>().map_err(|_| SettingsError::Invalid {
        name,
        value: raw.to_owned(),
        expected: "a whole positive number",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<RuntimeSettings, SettingsError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        RuntimeSettings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_the_sdk_defaults() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.transport, Transport::Stdio);
        assert_eq!(s.heartbeat_interval, Duration::from_secs(10));
        assert_eq!(s.request_timeout, Duration::from_secs(300));
        assert_eq!(s.max_workers, 1000);
        assert_eq!(s.daemon_line_buffer, 5 * 1024 * 1024);
    }

    #[test]
    fn remote_target_from_url_or_host_and_port() {
        let s = settings(&[
            ("INSTALL_METHOD", "remote"),
            ("REMOTE_INSTALL_URL", "debug.dify.ai:5003"),
            ("REMOTE_INSTALL_KEY", "k"),
        ])
        .unwrap();
        assert_eq!(
            s.transport,
            Transport::Remote(RemoteTarget { host: "debug.dify.ai".into(), port: 5003, key: "k".into() })
        );
        let s = settings(&[("INSTALL_METHOD", "remote"), ("REMOTE_INSTALL_PORT", "6000"), ("REMOTE_INSTALL_KEY", "k")])
            .unwrap();
        assert_eq!(
            s.transport,
            Transport::Remote(RemoteTarget { host: "localhost".into(), port: 6000, key: "k".into() })
        );
        assert_eq!(parse_host_port("tcp://127.0.0.1:5003/x"), Some(("127.0.0.1".into(), 5003)));
        assert_eq!(parse_host_port("[::1]:5003"), Some(("::1".into(), 5003)));
        assert_eq!(parse_host_port("nohost"), None);
    }

    #[test]
    fn errors_name_the_variable() {
        let err = settings(&[("INSTALL_METHOD", "remote")]).unwrap_err();
        assert_eq!(err.to_string(), "REMOTE_INSTALL_KEY is required when INSTALL_METHOD=remote");
        let err = settings(&[("HEARTBEAT_INTERVAL", "soon")]).unwrap_err();
        assert!(err.to_string().starts_with("HEARTBEAT_INTERVAL=\"soon\" is invalid"), "{err}");
        let err = settings(&[("INSTALL_METHOD", "serverless")]).unwrap_err();
        assert!(err.to_string().contains("INSTALL_METHOD"));
        let err = settings(&[("INSTALL_METHOD", "remote"), ("REMOTE_INSTALL_URL", "x"), ("REMOTE_INSTALL_KEY", "k")])
            .unwrap_err();
        assert!(err.to_string().contains("REMOTE_INSTALL_URL"));
    }

    #[test]
    fn legacy_buffer_variable_wins_when_customised() {
        let s = settings(&[("PLUGIN_STDIO_MAX_BUFFER_SIZE", "1048576"), ("PLUGIN_RUNTIME_MAX_BUFFER_SIZE", "2097152")])
            .unwrap();
        assert_eq!(s.daemon_line_buffer, 1_048_576);
        let s = settings(&[("PLUGIN_RUNTIME_MAX_BUFFER_SIZE", "2097152")]).unwrap();
        assert_eq!(s.daemon_line_buffer, 2_097_152);
    }
}
