//! Where and how to connect: host, database, credentials and libpq's `sslmode`, turned into a pool.
//!
//! tokio-postgres understands only `sslmode=disable|prefer|require` and no `sslrootcert`, so both are
//! taken out of a connection string here and handled by [`super::tls`].

use super::ssl_mode::SslMode;
use super::tls;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use percent_encoding::percent_decode_str;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;
use tokio_postgres::NoTls;

/// How long opening one connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a caller may wait for a free pooled connection.
pub const POOL_WAIT_TIMEOUT: Duration = Duration::from_secs(30);
/// The `application_name` reported to the server unless the connection string sets one.
pub const APPLICATION_NAME: &str = "mem0-dify";

/// Everything needed to open connections to one database. `Debug` never shows the password.
#[derive(Clone)]
pub struct ConnectionSettings {
    pg: tokio_postgres::Config,
    ssl_mode: SslMode,
    root_cert: Option<PathBuf>,
}

impl fmt::Debug for ConnectionSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionSettings")
            .field("target", &self.describe())
            .field("ssl_mode", &self.ssl_mode)
            .field("root_cert", &self.root_cert)
            .finish()
    }
}

impl ConnectionSettings {
    /// Settings from separate keys (Mem0's `host`, `port`, `user`, `password`, `dbname`, `sslmode`).
    pub fn from_parts(
        host: &str,
        port: u16,
        user: &str,
        password: Option<&str>,
        dbname: &str,
        ssl_mode: SslMode,
    ) -> Self {
        let mut pg = tokio_postgres::Config::new();
        pg.host(host).port(port).user(user).dbname(dbname);
        if let Some(password) = password {
            pg.password(password);
        }
        Self::finish(pg, ssl_mode, None)
    }

    /// Settings from a libpq connection string (URL or `key=value` form). `sslmode` and
    /// `sslrootcert` are understood; `ssl_override` (the separate `sslmode` key) wins over the string's.
    /// Errors never quote the string (it may hold a password).
    pub fn from_connection_string(raw: &str, ssl_override: Option<SslMode>) -> Result<Self, String> {
        let (rest, ssl) = split_ssl_params(raw)?;
        let pg = tokio_postgres::Config::from_str(&rest).map_err(|e| {
            let cause = std::error::Error::source(&e).map_or_else(|| e.to_string(), ToString::to_string);
            format!("is not a valid connection string ({cause})")
        })?;
        if pg.get_user().is_none() {
            return Err("has no user (postgresql://USER:PASSWORD@HOST:PORT/DBNAME)".into());
        }
        let mode = ssl_override.or(ssl.mode).unwrap_or(SslMode::Prefer);
        Ok(Self::finish(pg, mode, ssl.root_cert))
    }

    fn finish(mut pg: tokio_postgres::Config, ssl_mode: SslMode, root_cert: Option<PathBuf>) -> Self {
        if pg.get_application_name().is_none() {
            pg.application_name(APPLICATION_NAME);
        }
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(CONNECT_TIMEOUT);
        }
        pg.ssl_mode(ssl_mode.driver_mode());
        Self { pg, ssl_mode, root_cert }
    }

    /// The TLS policy in force.
    pub fn ssl_mode(&self) -> SslMode {
        self.ssl_mode
    }

    /// The database name (the server defaults it to the user name when unset).
    pub fn dbname(&self) -> Option<&str> {
        self.pg.get_dbname()
    }

    /// `user@host:port/dbname`, for logs and errors (no password).
    pub fn describe(&self) -> String {
        let hosts: Vec<String> = self
            .pg
            .get_hosts()
            .iter()
            .map(|h| match h {
                tokio_postgres::config::Host::Tcp(name) => name.clone(),
                tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        let ports: Vec<String> = self.pg.get_ports().iter().map(u16::to_string).collect();
        format!(
            "{}@{}:{}/{}",
            self.pg.get_user().unwrap_or("?"),
            if hosts.is_empty() { "localhost".to_owned() } else { hosts.join(",") },
            if ports.is_empty() { "5432".to_owned() } else { ports.join(",") },
            self.pg.get_dbname().unwrap_or("(user's)")
        )
    }

    /// A pool of at most `max_size` connections. Nothing is contacted until the first use.
    pub fn pool(&self, max_size: usize) -> Result<Pool, String> {
        let manager_config = ManagerConfig { recycling_method: RecyclingMethod::Fast };
        let manager = match tls::client_config(self.ssl_mode, self.root_cert.as_deref())? {
            None => Manager::from_config(self.pg.clone(), NoTls, manager_config),
            Some(config) => Manager::from_config(
                self.pg.clone(),
                tokio_postgres_rustls::MakeRustlsConnect::new(config),
                manager_config,
            ),
        };
        Pool::builder(manager)
            .max_size(max_size.max(1))
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(CONNECT_TIMEOUT + Duration::from_secs(5)))
            .wait_timeout(Some(POOL_WAIT_TIMEOUT))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| format!("cannot build the connection pool: {e}"))
    }
}

/// The TLS parameters found in a connection string.
#[derive(Debug, Default, PartialEq)]
struct SslParams {
    mode: Option<SslMode>,
    root_cert: Option<PathBuf>,
}

/// Takes `sslmode` and `sslrootcert` out of a connection string; returns the rest unchanged.
fn split_ssl_params(raw: &str) -> Result<(String, SslParams), String> {
    let raw = raw.trim();
    if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
        split_url(raw)
    } else {
        split_keywords(raw)
    }
}

fn split_url(raw: &str) -> Result<(String, SslParams), String> {
    let Some((base, query)) = raw.split_once('?') else {
        return Ok((raw.to_owned(), SslParams::default()));
    };
    let mut params = SslParams::default();
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode_str(value).decode_utf8_lossy();
        if !take_ssl_param(&mut params, key, &value)? {
            kept.push(pair);
        }
    }
    let rest = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    Ok((rest, params))
}

fn split_keywords(raw: &str) -> Result<(String, SslParams), String> {
    let mut params = SslParams::default();
    let mut kept = Vec::new();
    for (key, value, span) in keyword_pairs(raw)? {
        if !take_ssl_param(&mut params, &key, &value)? {
            kept.push(span);
        }
    }
    Ok((kept.join(" "), params))
}

/// Records `key` when it is a TLS parameter; false when it is not one.
fn take_ssl_param(params: &mut SslParams, key: &str, value: &str) -> Result<bool, String> {
    match key {
        "sslmode" => {
            params.mode = Some(
                SslMode::parse(value).ok_or_else(|| format!("has sslmode {value:?}; allowed: {}", SslMode::ALLOWED))?,
            );
            Ok(true)
        }
        "sslrootcert" => {
            params.root_cert = (!value.is_empty()).then(|| PathBuf::from(value));
            Ok(true)
        }
        "sslcert" | "sslkey" | "sslpassword" => {
            Err(format!("sets {key}: client certificates are not supported (use a password)"))
        }
        _ => Ok(false),
    }
}

/// Splits a `key = value …` string (libpq syntax: values may be single-quoted, `\` escapes) into
/// `(key, unescaped value, original text of the pair)`.
fn keyword_pairs(raw: &str) -> Result<Vec<(String, String, &str)>, String> {
    let bytes = raw.as_bytes();
    let mut pairs = Vec::new();
    let mut i = 0;
    let skip_ws = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    loop {
        i = skip_ws(i);
        if i >= bytes.len() {
            return Ok(pairs);
        }
        let start = i;
        while i < bytes.len() && bytes[i] != b'=' && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = raw[start..i].to_owned();
        i = skip_ws(i);
        if bytes.get(i) != Some(&b'=') {
            return Err(format!("is not a valid connection string (expected '=' after {key:?})"));
        }
        i = skip_ws(i + 1);
        let mut value = String::new();
        if bytes.get(i) == Some(&b'\'') {
            i += 1;
            loop {
                match bytes.get(i) {
                    None => return Err(format!("is not a valid connection string (unterminated quote in {key:?})")),
                    Some(b'\'') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') if i + 1 < bytes.len() => {
                        value.push(raw[i + 1..].chars().next().unwrap_or_default());
                        i += 1 + raw[i + 1..].chars().next().map_or(1, char::len_utf8);
                    }
                    Some(_) => {
                        let c = raw[i..].chars().next().unwrap_or_default();
                        value.push(c);
                        i += c.len_utf8();
                    }
                }
            }
        } else {
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                if bytes[i] == b'\\' && i + 1 < bytes.len() {
                    i += 1;
                }
                let c = raw[i..].chars().next().unwrap_or_default();
                value.push(c);
                i += c.len_utf8();
            }
        }
        pairs.push((key, value, &raw[start..i]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_strings_lose_their_tls_parameters_only() {
        let (rest, ssl) = split_ssl_params(
            "postgresql://u:p%40ss@db:5433/mem?sslmode=verify-full&application_name=x&sslrootcert=%2Fca.pem",
        )
        .unwrap();
        assert_eq!(rest, "postgresql://u:p%40ss@db:5433/mem?application_name=x");
        assert_eq!(ssl, SslParams { mode: Some(SslMode::VerifyFull), root_cert: Some("/ca.pem".into()) });
        let (rest, ssl) = split_ssl_params("postgres://u@h/d?sslmode=require").unwrap();
        assert_eq!((rest.as_str(), ssl.mode), ("postgres://u@h/d", Some(SslMode::Require)));
    }

    #[test]
    fn keyword_strings_keep_quoting() {
        let (rest, ssl) =
            split_ssl_params("host=h  user = u password='a b\\'c' sslmode = verify-ca dbname=d sslrootcert='/x y.pem'")
                .unwrap();
        assert_eq!(rest, "host=h user = u password='a b\\'c' dbname=d");
        assert_eq!(ssl, SslParams { mode: Some(SslMode::VerifyCa), root_cert: Some("/x y.pem".into()) });
        let pairs = keyword_pairs("password='a b\\'c'").unwrap();
        assert_eq!(pairs[0].1, "a b'c");
        let settings = ConnectionSettings::from_connection_string(&rest, None).unwrap();
        assert_eq!(settings.describe(), "u@h:5432/d");
    }

    #[test]
    fn bad_tls_parameters_are_named_without_echoing_the_string() {
        let err = split_ssl_params("postgresql://u:secret@h/d?sslmode=sometimes").unwrap_err();
        assert!(err.contains("sslmode \"sometimes\"") && !err.contains("secret"), "{err}");
        let err = split_ssl_params("host=h sslcert=/c.pem").unwrap_err();
        assert!(err.contains("sslcert"), "{err}");
        let err = ConnectionSettings::from_connection_string("host=h password=secret nonsense=1", None).unwrap_err();
        assert!(!err.contains("secret") && err.contains("nonsense"), "{err}");
    }

    #[test]
    fn settings_default_to_prefer_and_the_separate_key_wins() {
        let s = ConnectionSettings::from_connection_string("postgresql://u@h/d", None).unwrap();
        assert_eq!(s.ssl_mode(), SslMode::Prefer);
        let s =
            ConnectionSettings::from_connection_string("postgresql://u@h/d?sslmode=disable", Some(SslMode::Require))
                .unwrap();
        assert_eq!(s.ssl_mode(), SslMode::Require);
        let s = ConnectionSettings::from_parts("h", 5433, "u", Some("secret"), "d", SslMode::Disable);
        assert!(!format!("{s:?}").contains("secret"));
        assert_eq!(s.describe(), "u@h:5433/d");
    }
}
