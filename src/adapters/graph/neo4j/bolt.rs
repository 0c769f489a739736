//! Bolt plumbing: connecting with a deadline, running statements with a deadline, and
//! turning driver errors into [`StoreError`]s that never carry credentials.

use super::config::{redact_url, Neo4jConfig};
use neo4rs::{ConfigBuilder, Graph, Neo4jClientErrorKind, Neo4jErrorKind, Query, Row, Txn};
use std::future::Future;
use std::time::Duration;

use crate::ports::store::StoreError;

/// The store name used in errors.
pub const STORE: &str = "graph store";
/// Connections the pool may open.
const MAX_CONNECTIONS: usize = 8;

/// How long Bolt operations may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// Opening the pool and the first round trip (handshake, authentication, probe).
    pub connect: Duration,
    /// One statement, or one whole write transaction.
    pub statement: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Self { connect: Duration::from_secs(5), statement: Duration::from_secs(30) }
    }
}

/// Builds the driver's connection pool. neo4rs connects lazily, so this does no I/O; the first
/// statement does, and it must run under a deadline (against some servers a wrong password makes
/// the driver retry forever instead of failing).
pub async fn open(config: &Neo4jConfig) -> Result<Graph, StoreError> {
    let driver_config = ConfigBuilder::default()
        .uri(config.url.as_str())
        .user(config.username.as_str())
        .password(config.password.as_str())
        .db(config.database.as_str())
        .max_connections(MAX_CONNECTIONS)
        .build()
        .map_err(|e| rejected(format!("invalid connection settings for {}: {e}", redact_url(&config.url))))?;
    Graph::connect(driver_config)
        .await
        .map_err(|e| rejected(format!("cannot use {}: {}", redact_url(&config.url), describe(&e))))
}

/// Runs `work` under `deadline`, mapping driver errors and the timeout to [`StoreError`].
pub async fn within<T>(
    deadline: Duration,
    what: &str,
    work: impl Future<Output = Result<T, neo4rs::Error>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(deadline, work).await {
        Ok(result) => result.map_err(|e| map_error(what, &e)),
        Err(_) => Err(StoreError::Unavailable {
            store: STORE,
            message: format!(
                "{what}: no answer from the Bolt server within {deadline:?} (is it up, and are the url, \
                 username and password right?)"
            ),
        }),
    }
}

/// Runs one statement in its own transaction and collects its rows.
///
/// An explicit transaction on purpose: `Graph::execute` retries failed connection attempts
/// (refused connections, bad credentials) with backoff for up to a minute, so a down server
/// would only surface at the deadline; a transaction fails at once with the real cause.
pub async fn fetch(graph: &Graph, statement: Query) -> Result<Vec<Row>, neo4rs::Error> {
    let mut txn = graph.start_txn().await?;
    let rows = fetch_in(&mut txn, statement).await?;
    txn.commit().await?;
    Ok(rows)
}

/// Runs a statement inside `txn` and collects its rows.
pub async fn fetch_in(txn: &mut Txn, statement: Query) -> Result<Vec<Row>, neo4rs::Error> {
    let mut stream = txn.execute(statement).await?;
    let mut rows = Vec::new();
    while let Some(row) = stream.next(txn.handle()).await? {
        rows.push(row);
    }
    Ok(rows)
}

/// Reads column `key` of `row`, or reports the stored data as unreadable.
pub fn column<T: serde::de::DeserializeOwned>(row: &Row, key: &str) -> Result<T, StoreError> {
    row.get::<T>(key).map_err(|e| StoreError::Corrupt {
        store: STORE,
        message: format!("column {key:?} of a graph row cannot be read: {e}"),
    })
}

/// Classifies a driver error: transport and transient server errors are `Unavailable`,
/// authentication, unknown databases and statement errors are `Rejected`.
pub fn map_error(what: &str, error: &neo4rs::Error) -> StoreError {
    let message = format!("{what}: {}", describe(error));
    match error {
        neo4rs::Error::IOError { .. } | neo4rs::Error::ConnectionError => {
            StoreError::Unavailable { store: STORE, message }
        }
        neo4rs::Error::Neo4j(e) => match e.kind() {
            Neo4jErrorKind::Transient | Neo4jErrorKind::Client(Neo4jClientErrorKind::SessionExpired) => {
                StoreError::Unavailable { store: STORE, message }
            }
            _ => StoreError::Rejected { store: STORE, message },
        },
        neo4rs::Error::DeserializationError(_) | neo4rs::Error::ConversionError => {
            StoreError::Corrupt { store: STORE, message }
        }
        _ => StoreError::Rejected { store: STORE, message },
    }
}

fn describe(error: &neo4rs::Error) -> String {
    match error {
        neo4rs::Error::AuthenticationError(m) => format!("authentication failed: {m}"),
        other => other.to_string(),
    }
}

fn rejected(message: String) -> StoreError {
    StoreError::Rejected { store: STORE, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn deadlines_become_unavailable() {
        let slow = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<(), neo4rs::Error>(())
        };
        let err = within(Duration::from_millis(10), "probing", slow).await.unwrap_err();
        assert!(err.is_transient());
        assert!(err.to_string().contains("probing: no answer from the Bolt server within 10ms"), "{err}");
    }

    #[test]
    fn errors_are_classified() {
        let io = neo4rs::Error::IOError { detail: std::io::Error::from(std::io::ErrorKind::ConnectionRefused) };
        assert!(map_error("x", &io).is_transient());
        let auth = neo4rs::Error::AuthenticationError("bad credentials".into());
        let mapped = map_error("connecting", &auth);
        assert!(!mapped.is_transient());
        assert!(mapped.to_string().contains("authentication failed: bad credentials"));
    }
}
