//! [`HistoryStore`] in a SQLite file with Mem0's `history` table (mem0-behaviour.md §2.8), so a
//! Mem0 `history.db` can be read and written. WAL mode; every call runs on the blocking pool.

use super::entry::{owner_columns, text_time, StoredRow};
use crate::adapters::group_commit::GroupCommit;
use crate::domain::history::HistoryEntry;
use crate::domain::memory::{format_timestamp, MemoryId, MemoryText};
use crate::domain::scope::Scope;
use crate::ports::history_store::HistoryStore;
use crate::ports::store::StoreError;
use async_trait::async_trait;
use rusqlite::{params, Connection};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;
use uuid::Uuid;

const STORE: &str = "SQLite history store";
/// How long a write waits for another process's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Mem0's table, column for column.
const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS history (id TEXT PRIMARY KEY, memory_id TEXT, \
    old_memory TEXT, new_memory TEXT, event TEXT, created_at DATETIME, updated_at DATETIME, is_deleted INTEGER, \
    actor_id TEXT, role TEXT)";
const CREATE_INDEX: &str = "CREATE INDEX IF NOT EXISTS history_memory_id_idx ON history (memory_id)";

/// History rows in a SQLite file.
pub struct SqliteHistoryStore {
    path: PathBuf,
    connection: OnceCell<Arc<Mutex<Connection>>>,
    /// Appends arriving together share one transaction (see [`GroupCommit`]).
    appends: Arc<GroupCommit<HistoryEntry>>,
}

impl SqliteHistoryStore {
    /// A store in the file at `path` (created with its folder on first use).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), connection: OnceCell::new(), appends: Arc::default() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn connection(&self) -> Result<Arc<Mutex<Connection>>, StoreError> {
        self.connection
            .get_or_try_init(|| {
                let path = self.path.clone();
                blocking(move || open(&path).map(|c| Arc::new(Mutex::new(c))))
            })
            .await
            .cloned()
    }

    /// Runs `work` on the connection on the blocking pool.
    async fn with_connection<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let connection = self.connection().await?;
        blocking(move || work(&mut *locked(&connection)?)).await
    }
}

fn locked(connection: &Mutex<Connection>) -> Result<std::sync::MutexGuard<'_, Connection>, StoreError> {
    connection.lock().map_err(|_| StoreError::Unavailable {
        store: STORE,
        message: "the connection lock was poisoned by a panic".into(),
    })
}

async fn blocking<T, F>(work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Unavailable { store: STORE, message: format!("the blocking task failed: {e}") })?
}

fn open(path: &Path) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Rejected {
            store: STORE,
            message: format!("cannot create the folder {}: {e}", dir.display()),
        })?;
    }
    let connection = Connection::open(path)
        .map_err(|e| StoreError::Rejected { store: STORE, message: format!("cannot open {}: {e}", path.display()) })?;
    connection.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
    let mode: String = connection.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(sql)?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(path = %path.display(), mode, "SQLite history: WAL mode unavailable");
    }
    connection.execute_batch(&format!("{CREATE_TABLE}; {CREATE_INDEX};")).map_err(sql)?;
    migrate(&connection)?;
    Ok(connection)
}

/// Adds `actor_id` and `role` to a history table made by an old Mem0, and the memory's scope
/// (`user_id`, `agent_id`, `run_id`, ours: Mem0 ignores them) so a deleted memory's history
/// is shown to its owner only.
fn migrate(connection: &Connection) -> Result<(), StoreError> {
    let mut statement = connection.prepare("SELECT name FROM pragma_table_info('history')").map_err(sql)?;
    let columns: Vec<String> =
        statement.query_map([], |r| r.get(0)).map_err(sql)?.collect::<Result<_, _>>().map_err(sql)?;
    for column in ["actor_id", "role", "user_id", "agent_id", "run_id"] {
        if !columns.iter().any(|c| c == column) {
            connection.execute_batch(&format!("ALTER TABLE history ADD COLUMN {column} TEXT")).map_err(sql)?;
        }
    }
    Ok(())
}

#[async_trait]
impl HistoryStore for SqliteHistoryStore {
    async fn ensure_ready(&self) -> Result<(), StoreError> {
        self.connection().await.map(|_| ())
    }

    async fn append(&self, entries: &[HistoryEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let entries = entries.to_vec();
        let (connection, appends) = (self.connection().await?, self.appends.clone());
        blocking(move || appends.write(entries, |batch| insert_rows(&mut *locked(&connection)?, &batch))).await
    }

    async fn history(&self, id: MemoryId) -> Result<Vec<HistoryEntry>, StoreError> {
        self.with_connection(move |connection| {
            let select = format!(
                "SELECT {COLUMNS} FROM history WHERE memory_id = ?1 ORDER BY julianday(updated_at) ASC, rowid ASC"
            );
            select_rows(connection, &select, &[&id.to_string()])
        })
        .await
    }

    async fn erase(&self, scope: &Scope, memory_ids: &[MemoryId]) -> Result<u64, StoreError> {
        let owner: Vec<(&'static str, String)> = scope.pairs().map(|(k, v)| (k, v.as_str().to_owned())).collect();
        let ids: Vec<String> = memory_ids.iter().map(MemoryId::to_string).collect();
        self.with_connection(move |connection| {
            let tx = connection.transaction().map_err(sql)?;
            let mut removed = 0;
            for id in &ids {
                removed += tx.execute("DELETE FROM history WHERE memory_id = ?1", [id]).map_err(sql)?;
            }
            let condition: Vec<String> =
                owner.iter().enumerate().map(|(n, (key, _))| format!("{key} = ?{}", n + 1)).collect();
            let values: Vec<&String> = owner.iter().map(|(_, v)| v).collect();
            let delete = format!("DELETE FROM history WHERE {}", condition.join(" AND "));
            removed += tx.execute(&delete, rusqlite::params_from_iter(values)).map_err(sql)?;
            tx.commit().map_err(sql)?;
            Ok(removed as u64)
        })
        .await
    }
}

/// Writes history rows in one transaction (a row already there is left as it is).
fn insert_rows(connection: &mut Connection, entries: &[HistoryEntry]) -> Result<(), StoreError> {
    let tx = connection.transaction().map_err(sql)?;
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO history (id, memory_id, old_memory, new_memory, event, created_at, \
                 updated_at, is_deleted, actor_id, role, user_id, agent_id, run_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )
            .map_err(sql)?;
        for e in entries {
            let text = |t: &Option<MemoryText>| t.as_ref().map(|t| t.as_str().to_owned());
            let [user_id, agent_id, run_id] = owner_columns(e.owner.as_ref());
            insert
                .execute(params![
                    e.id.to_string(),
                    e.memory_id.to_string(),
                    text(&e.old_memory),
                    text(&e.new_memory),
                    e.event.as_str(),
                    format_timestamp(&e.created_at),
                    format_timestamp(&e.updated_at),
                    i64::from(e.is_deleted),
                    e.actor_id.as_ref().map(|a| a.as_str().to_owned()),
                    e.role,
                    user_id,
                    agent_id,
                    run_id,
                ])
                .map_err(sql)?;
        }
    }
    tx.commit().map_err(sql)
}

/// The columns read back, Mem0's then ours.
const COLUMNS: &str = "id, memory_id, old_memory, new_memory, event, created_at, updated_at, is_deleted, actor_id, \
    role, user_id, agent_id, run_id";

/// The rows a `SELECT` of [`COLUMNS`] returns, as entries.
fn select_rows(
    connection: &Connection,
    select: &str,
    params: &[&dyn rusqlite::ToSql],
) -> Result<Vec<HistoryEntry>, StoreError> {
    let mut select = connection.prepare_cached(select).map_err(sql)?;
    let rows = select
        .query_map(params, |r| {
            Ok((
                [r.get::<_, Option<String>>(0)?, r.get::<_, Option<String>>(1)?],
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, Option<i64>>(7)?,
                r.get::<_, Option<String>>(8)?,
                r.get::<_, Option<String>>(9)?,
                [r.get::<_, Option<String>>(10)?, r.get::<_, Option<String>>(11)?, r.get::<_, Option<String>>(12)?],
            ))
        })
        .map_err(sql)?;
    let mut entries = Vec::new();
    for row in rows {
        let (
            [row_id, memory_id],
            old_memory,
            new_memory,
            event,
            created_at,
            updated_at,
            is_deleted,
            actor_id,
            role,
            owner,
        ) = row.map_err(sql)?;
        let uuid = |what: &str, raw: &Option<String>| {
            raw.as_deref().and_then(|r| Uuid::parse_str(r).ok()).ok_or_else(|| StoreError::Corrupt {
                store: STORE,
                message: format!("history row {what} {raw:?} is not a UUID"),
            })
        };
        let stored = StoredRow {
            id: uuid("id", &row_id)?,
            memory_id: MemoryId::from_uuid(uuid("memory_id", &memory_id)?),
            old_memory,
            new_memory,
            event,
            created_at: text_time(created_at),
            updated_at: text_time(updated_at),
            is_deleted: is_deleted.map(|d| d != 0),
            actor_id,
            role,
            owner,
        };
        entries.push(stored.into_entry().map_err(|message| StoreError::Corrupt { store: STORE, message })?);
    }
    Ok(entries)
}

/// Every row of a Mem0 `history.db` (opened read-only, left as it is), oldest first.
pub fn read_mem0_history(path: &Path) -> Result<Vec<HistoryEntry>, StoreError> {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError::Rejected { store: STORE, message: format!("cannot open {}: {e}", path.display()) })?;
    let mut statement = connection.prepare("SELECT name FROM pragma_table_info('history')").map_err(sql)?;
    let columns: Vec<String> =
        statement.query_map([], |r| r.get(0)).map_err(sql)?.collect::<Result<_, _>>().map_err(sql)?;
    if columns.is_empty() {
        return Err(StoreError::Rejected {
            store: STORE,
            message: format!("{} has no history table: it is not a Mem0 history.db", path.display()),
        });
    }
    // Older Mem0 versions lack some columns: read NULL in their place. Mem0 (1.0.x) writes its
    // DELETE rows without dates: such a row takes the latest date of its memory's other rows
    // (the delete came after them).
    let column = |name: &str| match name {
        _ if !columns.iter().any(|c| c == name) => format!("NULL AS {name}"),
        "created_at" => "COALESCE(created_at, updated_at, (SELECT MAX(COALESCE(o.updated_at, o.created_at)) \
            FROM history o WHERE o.memory_id = history.memory_id)) AS created_at"
            .to_owned(),
        _ => name.to_owned(),
    };
    let list: Vec<String> = COLUMNS.split(',').map(|c| column(c.trim())).collect();
    // rows are appended as things happen: the file's order is the history's
    let select = format!("SELECT {} FROM history ORDER BY rowid ASC", list.join(", "));
    select_rows(&connection, &select, &[])
}

fn sql(error: rusqlite::Error) -> StoreError {
    match &error {
        rusqlite::Error::SqliteFailure(code, _)
            if matches!(code.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) =>
        {
            StoreError::Unavailable { store: STORE, message: error.to_string() }
        }
        rusqlite::Error::InvalidColumnType(..) | rusqlite::Error::FromSqlConversionFailure(..) => {
            StoreError::Corrupt { store: STORE, message: error.to_string() }
        }
        _ => StoreError::Rejected { store: STORE, message: error.to_string() },
    }
}
