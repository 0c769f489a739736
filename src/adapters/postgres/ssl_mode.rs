//! libpq's `sslmode` values, as connection strings and credentials spell them.

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it, certificate not checked (`allow` is read as `prefer`).
    Prefer,
    /// TLS required; the certificate is checked against `sslrootcert` only when one is given.
    Require,
    /// TLS required, certificate chain checked, host name not checked.
    VerifyCa,
    /// TLS required, certificate chain and host name checked.
    VerifyFull,
}

impl SslMode {
    /// The accepted spellings, for error messages.
    pub const ALLOWED: &'static str = "disable, allow, prefer, require, verify-ca, verify-full";

    /// Parses a libpq `sslmode` value.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "disable" => Some(Self::Disable),
            "allow" | "prefer" => Some(Self::Prefer),
            "require" => Some(Self::Require),
            "verify-ca" => Some(Self::VerifyCa),
            "verify-full" => Some(Self::VerifyFull),
            _ => None,
        }
    }

    /// The mode to ask the driver for (it knows only disable, prefer and require; the checks of
    /// the verify modes are ours, in [`super::tls`]).
    pub(super) fn driver_mode(self) -> tokio_postgres::config::SslMode {
        match self {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => tokio_postgres::config::SslMode::Require,
        }
    }
}
