//! PostgreSQL and pool errors as [`StoreError`]s: connection trouble is transient (`Unavailable`),
//! what the server refuses (SQL, dimension, authentication, TLS) is `Rejected`.

use crate::ports::store::StoreError;
use deadpool_postgres::{PoolError, TimeoutType};
use std::error::Error as _;

/// SQLSTATE classes and codes after which a retry may succeed.
const TRANSIENT_CLASSES: &[&str] = &["08", "53", "57P"];
const TRANSIENT_CODES: &[&str] = &["40001", "40P01", "55P03", "57014"];

/// Maps a driver error. `store` names the store in the message (e.g. "pgvector store").
pub fn from_pg(store: &'static str, error: &tokio_postgres::Error) -> StoreError {
    if let Some(db) = error.as_db_error() {
        let code = db.code().code();
        let mut message = format!("{} (SQLSTATE {code})", db.message());
        if let Some(detail) = db.detail() {
            message.push_str(&format!("; {detail}"));
        }
        if let Some(hint) = db.hint() {
            message.push_str(&format!("; hint: {hint}"));
        }
        let transient = TRANSIENT_CLASSES.iter().any(|c| code.starts_with(c)) || TRANSIENT_CODES.contains(&code);
        return if transient {
            StoreError::Unavailable { store, message }
        } else {
            StoreError::Rejected { store, message }
        };
    }
    let message = with_causes(error);
    if has_tls_failure(error) || message.contains("TLS") {
        StoreError::Rejected { store, message: format!("{message} (check sslmode and sslrootcert)") }
    } else if message.starts_with("error deserializing") {
        StoreError::Corrupt { store, message }
    } else if error.is_closed() || has_io_failure(error) || message.contains("timeout") {
        StoreError::Unavailable { store, message }
    } else {
        StoreError::Rejected { store, message }
    }
}

/// Maps a pool error (waiting, connecting or recycling).
pub fn from_pool(store: &'static str, error: PoolError) -> StoreError {
    match error {
        PoolError::Backend(e) => from_pg(store, &e),
        PoolError::Timeout(TimeoutType::Wait) => StoreError::Unavailable {
            store,
            message: "every pooled connection stayed busy (raise maxconn or retry later)".into(),
        },
        PoolError::Timeout(TimeoutType::Create) => {
            StoreError::Unavailable { store, message: "connecting to the server timed out".into() }
        }
        PoolError::Timeout(TimeoutType::Recycle) => {
            StoreError::Unavailable { store, message: "checking a pooled connection timed out".into() }
        }
        PoolError::Closed => StoreError::Unavailable { store, message: "the connection pool is closed".into() },
        other => StoreError::Rejected { store, message: other.to_string() },
    }
}

/// The driver's message followed by its causes (tokio-postgres's own message omits them).
fn with_causes(error: &tokio_postgres::Error) -> String {
    let mut message = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        next = cause.source();
    }
    message
}

fn sources(error: &tokio_postgres::Error) -> Vec<&(dyn std::error::Error + 'static)> {
    let mut found = Vec::new();
    let mut next = error.source();
    while let Some(e) = next {
        found.push(e);
        if let Some(inner) = e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            found.push(inner);
        }
        next = e.source();
    }
    found
}

fn has_tls_failure(error: &tokio_postgres::Error) -> bool {
    sources(error).iter().any(|e| e.downcast_ref::<rustls::Error>().is_some())
}

fn has_io_failure(error: &tokio_postgres::Error) -> bool {
    sources(error).iter().any(|e| e.downcast_ref::<std::io::Error>().is_some())
}
