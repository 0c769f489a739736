//! Bolt plumbing: connecting with a deadline, running statements with a deadline, and
//! turning driver errors into [`StoreError`]s that never carry credentials.

use super::config::{redact_url, Neo4jConfig};
use neo4rs::{ConfigBuilder, Graph, Neo4jClientErrorKind, Neo4jErrorKind, Query, Row, Txn};
use std::future::Future;
use std::time::Duration;

use crate::ports::store::StoreError;

/// The store name used in errors.
pub(super) const STORE: &str = "graph store";
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
pub(super) async fn open(config: &Neo4jConfig) -> Result<Graph, StoreError> {
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
pub(super) async fn within<T>(
    deadline: Duration,
    what: &str,
    work: impl Future<Output = Result<T, neo4rs::Error>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(deadline, work).await {
        Ok(result) => result.map_err(|e| map_error(what, &e)),
        Err(_) => Err(no_answer(what, deadline)),
    }
}

fn no_answer(what: &str, deadline: Duration) -> StoreError {
    StoreError::Unavailable {
        store: STORE,
        message: format!(
            "{what}: no answer from the Bolt server within {deadline:?} (is it up, and are the url, username and \
             password right?)"
        ),
    }
}

/// How often a transaction that failed with a transient server error is tried in all.
const TRANSACTION_ATTEMPTS: u32 = 4;
/// The pause before the second attempt; doubled for each further one.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// Runs the transaction `work` makes under `deadline` (each attempt), trying it again when the
/// server reports a transient failure (e.g. a deadlock between concurrent writers: the server
/// asks for a retry), as the official drivers' managed transactions do.
pub(super) async fn within_retrying<T, F, Fut>(deadline: Duration, what: &str, work: F) -> Result<T, StoreError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, neo4rs::Error>>,
{
    let mut attempt = 1;
    loop {
        match tokio::time::timeout(deadline, work()).await {
            Ok(Err(e)) if attempt < TRANSACTION_ATTEMPTS && is_transient_failure(&e) => {
                let pause = RETRY_PAUSE * 2u32.pow(attempt - 1);
                tracing::debug!(what, attempt, ?pause, error = %describe(&e), "transient graph failure; retrying");
                tokio::time::sleep(pause).await;
                attempt += 1;
            }
            Ok(result) => return result.map_err(|e| map_error(what, &e)),
            Err(_) => return Err(no_answer(what, deadline)),
        }
    }
}

/// True for a server failure the server itself calls transient (`Neo.TransientError.*`), whether
/// the driver reports it as a typed error or inside an unexpected reply (e.g. to `COMMIT`).
pub(super) fn is_transient_failure(error: &neo4rs::Error) -> bool {
    match error {
        neo4rs::Error::Neo4j(e) => matches!(e.kind(), Neo4jErrorKind::Transient),
        other => other.to_string().contains("Neo.TransientError."),
    }
}

/// Runs one statement in its own transaction and collects its rows.
///
/// An explicit transaction on purpose: `Graph::execute` retries failed connection attempts
/// (refused connections, bad credentials) with backoff for up to a minute, so a down server
/// would only surface at the deadline; a transaction fails at once with the real cause.
pub(super) async fn fetch(graph: &Graph, statement: Query) -> Result<Vec<Row>, neo4rs::Error> {
    let mut txn = graph.start_txn().await?;
    let rows = fetch_in(&mut txn, statement).await?;
    txn.commit().await?;
    Ok(rows)
}

/// Runs a statement inside `txn` and collects its rows.
pub(super) async fn fetch_in(txn: &mut Txn, statement: Query) -> Result<Vec<Row>, neo4rs::Error> {
    let mut stream = txn.execute(statement).await?;
    let mut rows = Vec::new();
    while let Some(row) = stream.next(txn.handle()).await? {
        rows.push(row);
    }
    Ok(rows)
}

/// Reads column `key` of `row`, or reports the stored data as unreadable.
pub(super) fn column<T: serde::de::DeserializeOwned>(row: &Row, key: &str) -> Result<T, StoreError> {
    row.get::<T>(key).map_err(|e| StoreError::Corrupt {
        store: STORE,
        message: format!("column {key:?} of a graph row cannot be read: {e}"),
    })
}

/// Classifies a driver error: transport and transient server errors are `Unavailable`,
/// authentication, unknown databases and statement errors are `Rejected`.
pub(super) fn map_error(what: &str, error: &neo4rs::Error) -> StoreError {
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
        other if is_transient_failure(other) => StoreError::Unavailable { store: STORE, message },
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
    async fn transient_failures_are_tried_again_and_others_are_not() {
        use std::sync::atomic::{AtomicU32, Ordering};
        let deadlock = || {
            neo4rs::Error::UnexpectedMessage(
                "unexpected response for COMMIT: Failure { code: Neo.TransientError.Transaction.DeadlockDetected }"
                    .into(),
            )
        };
        assert!(is_transient_failure(&deadlock()));
        assert!(map_error("writing", &deadlock()).is_transient());

        let calls = AtomicU32::new(0);
        let flaky = || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(deadlock()),
                n => Ok(n),
            }
        };
        assert_eq!(within_retrying(Duration::from_secs(1), "writing", flaky).await.unwrap(), 2);

        let calls = AtomicU32::new(0);
        let always = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(deadlock())
        };
        let err = within_retrying(Duration::from_secs(1), "writing", always).await.unwrap_err();
        assert!(err.is_transient() && err.to_string().contains("DeadlockDetected"), "{err}");
        assert_eq!(calls.load(Ordering::SeqCst), TRANSACTION_ATTEMPTS);

        let calls = AtomicU32::new(0);
        let refused = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(neo4rs::Error::UnexpectedMessage("Neo.ClientError.Statement.SyntaxError".into()))
        };
        assert!(!within_retrying(Duration::from_secs(1), "writing", refused).await.unwrap_err().is_transient());
        assert_eq!(calls.load(Ordering::SeqCst), 1, "a statement error is not tried again");
    }

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
