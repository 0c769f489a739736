//! The durable side of the embedded store: one SQLite file (WAL mode, `synchronous=FULL`) holding
//! collections, memories (vector BLOB + JSON payload) and a change log that lets every open
//! index catch up with writes made by other connections or processes.
//!
//! Every write appends the ids it touched to `changes`; an index remembers the last change it
//! applied (its cursor) and replays newer ones. The log is pruned to its newest entries; an index
//! whose cursor fell behind the pruned part reloads the collection in full.

use super::index::{normalize, Index};
use super::lexical;
use super::payload;
use crate::domain::memory::{MemoryId, MemoryRecord};
use crate::ports::store::StoreError;
use rusqlite::{params, Connection, ErrorCode, OptionalExtension};
use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;
use tracing::warn;
use uuid::Uuid;

/// The store's name in errors.
pub(super) const STORE: &str = "embedded vector store";
/// The schema version written to `PRAGMA user_version` (2: the lexical index).
const SCHEMA_VERSION: i64 = 2;
/// How long a call waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Change-log entries kept after pruning.
const CHANGES_KEPT: i64 = 20_000;
/// The log is pruned once it holds this many entries more than [`CHANGES_KEPT`].
const PRUNE_SLACK: i64 = 5_000;
/// Above this many changed ids, catching up is a full reload.
const FULL_RELOAD_OVER: usize = 5_000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS collections (
    name TEXT PRIMARY KEY,
    dims INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS memories (
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    vector BLOB NOT NULL,
    payload TEXT NOT NULL,
    UNIQUE (collection, id)
);
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    collection TEXT NOT NULL,
    id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_by_collection ON changes (collection, seq);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS lexical_rows (
    row INTEGER PRIMARY KEY,
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    UNIQUE (collection, id)
);
CREATE VIRTUAL TABLE IF NOT EXISTS lexical USING fts5 (
    owner, terms, tokenize = 'unicode61 remove_diacritics 0'
);
";

/// An index with the position in the change log it reflects.
#[derive(Debug)]
pub(super) struct Synced {
    /// The memories.
    pub index: Index,
    /// The last change applied (-1: nothing loaded yet).
    pub cursor: i64,
}

impl Synced {
    /// An index that has loaded nothing yet.
    pub(super) fn unloaded(dims: usize) -> Self {
        Self { index: Index::new(dims), cursor: -1 }
    }
}

/// Turns a SQLite error into a store error naming the file.
pub(super) fn sql_error(path: &Path, error: rusqlite::Error) -> StoreError {
    let message = format!("{}: {error}", path.display());
    match error.sqlite_error_code() {
        Some(
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::SystemIoFailure | ErrorCode::DiskFull,
        ) => StoreError::Unavailable { store: STORE, message },
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreError::Corrupt { store: STORE, message },
        Some(ErrorCode::CannotOpen) => StoreError::Unavailable { store: STORE, message },
        _ => StoreError::Rejected { store: STORE, message },
    }
}

/// Opens (creating if needed) the file and prepares the schema and the collection.
pub(super) fn open(path: &Path, collection: &str, dims: usize) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(|e| sql_error(path, e))?;
    prepare(conn, collection, dims).map_err(|e| match e {
        Prepare::Sql(e) => sql_error(path, e),
        Prepare::NewerSchema(version) => StoreError::Rejected {
            store: STORE,
            message: format!(
                "{} was written by a newer version of mem0-dify (schema {version}; this one knows {SCHEMA_VERSION})",
                path.display()
            ),
        },
    })
}

enum Prepare {
    Sql(rusqlite::Error),
    NewerSchema(i64),
}

impl From<rusqlite::Error> for Prepare {
    fn from(e: rusqlite::Error) -> Self {
        Prepare::Sql(e)
    }
}

fn prepare(mut conn: Connection, collection: &str, dims: usize) -> Result<Connection, Prepare> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        warn!(mode, "the embedded store could not switch to WAL mode");
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(Prepare::NewerSchema(version));
    }
    tx.execute_batch(SCHEMA)?;
    if version < 2 {
        lexical::index_all(&tx)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.execute(
        "INSERT INTO collections (name, dims) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
        params![collection, dims as i64],
    )?;
    tx.commit()?;
    Ok(conn)
}

/// The vector size a collection was created with.
pub(super) fn collection_dims(conn: &Connection, collection: &str) -> Result<Option<usize>, rusqlite::Error> {
    let dims: Option<i64> =
        conn.query_row("SELECT dims FROM collections WHERE name = ?1", [collection], |row| row.get(0)).optional()?;
    Ok(dims.map(|d| d.max(0) as usize))
}

/// The connection's change counter: it moves whenever another connection commits.
pub(super) fn data_version(conn: &Connection) -> Result<i64, rusqlite::Error> {
    conn.query_row("PRAGMA data_version", [], |row| row.get(0))
}

/// Brings `synced` up to date with the file. Run inside a transaction for a consistent view.
pub(super) fn catch_up(
    conn: &Connection,
    collection: &str,
    dims: usize,
    synced: &mut Synced,
) -> Result<(), rusqlite::Error> {
    let latest: i64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM changes", [], |row| row.get(0))?;
    if latest == synced.cursor {
        return Ok(());
    }
    let pruned: i64 = conn
        .query_row("SELECT value FROM meta WHERE key = 'pruned_through'", [], |row| row.get(0))
        .optional()?
        .unwrap_or(0);
    if synced.cursor < pruned || latest < synced.cursor {
        return reload(conn, collection, dims, synced, latest);
    }
    let mut stmt =
        conn.prepare_cached("SELECT DISTINCT id FROM changes WHERE collection = ?1 AND seq > ?2 AND seq <= ?3")?;
    let ids = stmt
        .query_map(params![collection, synced.cursor, latest], |row| row.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    if ids.len() > FULL_RELOAD_OVER {
        return reload(conn, collection, dims, synced, latest);
    }
    let mut row_stmt = conn.prepare_cached("SELECT vector, payload FROM memories WHERE collection = ?1 AND id = ?2")?;
    let mut vector = Vec::with_capacity(dims);
    for raw_id in ids {
        let Ok(uuid) = Uuid::parse_str(&raw_id) else {
            warn!(id = raw_id, "the embedded store's change log holds an id that is not a UUID; ignored");
            continue;
        };
        let id = MemoryId::from_uuid(uuid);
        let row = row_stmt
            .query_row(params![collection, raw_id], |row| Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, String>(1)?)))
            .optional()?;
        synced.index.remove(id);
        if let Some((blob, body)) = row {
            if let Some(record) = decode_row(id, &blob, &body, dims, &mut vector) {
                synced.index.upsert(record, &vector);
            }
        }
    }
    synced.cursor = latest;
    Ok(())
}

/// Replaces the index with the collection's current contents.
fn reload(
    conn: &Connection,
    collection: &str,
    dims: usize,
    synced: &mut Synced,
    latest: i64,
) -> Result<(), rusqlite::Error> {
    let mut index = Index::new(dims);
    let mut vector = Vec::with_capacity(dims);
    let mut stmt = conn.prepare("SELECT id, vector, payload FROM memories WHERE collection = ?1")?;
    let mut rows = stmt.query([collection])?;
    while let Some(row) = rows.next()? {
        let raw_id: String = row.get(0)?;
        let Ok(uuid) = Uuid::parse_str(&raw_id) else {
            warn!(id = raw_id, "the embedded store holds a memory whose id is not a UUID; skipped");
            continue;
        };
        let blob = row.get_ref(1)?.as_blob()?;
        let body = row.get_ref(2)?.as_str()?;
        if let Some(record) = decode_row(MemoryId::from_uuid(uuid), blob, body, dims, &mut vector) {
            index.upsert(record, &vector);
        }
    }
    *synced = Synced { index, cursor: latest };
    Ok(())
}

/// Decodes a stored row: the record, with its vector written into `vector`.
fn decode_row(id: MemoryId, blob: &[u8], body: &str, dims: usize, vector: &mut Vec<f32>) -> Option<MemoryRecord> {
    if !payload::blob_to_vector(blob, dims, vector) {
        warn!(%id, bytes = blob.len(), dims, "the embedded store holds a vector of the wrong size; memory skipped");
        return None;
    }
    match payload::decode(id, body) {
        Ok(record) => Some(record),
        Err(cause) => {
            warn!(%id, cause, "the embedded store holds a memory that cannot be read; skipped");
            None
        }
    }
}

/// Writes memories (insert or overwrite); vectors are normalised here.
pub(super) fn upsert(
    conn: &Connection,
    collection: &str,
    items: &[(MemoryRecord, Vec<f32>)],
) -> Result<(), rusqlite::Error> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO memories (collection, id, vector, payload) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (collection, id) DO UPDATE SET vector = excluded.vector, payload = excluded.payload",
    )?;
    for (record, vector) in items {
        let mut unit = vector.clone();
        normalize(&mut unit);
        stmt.execute(params![
            collection,
            record.id.to_string(),
            payload::vector_to_blob(&unit),
            payload::encode(record)
        ])?;
        lexical::index(conn, collection, record)?;
    }
    record_changes(conn, collection, items.iter().map(|(r, _)| r.id))
}

/// Replaces a memory's payload and, when given, its vector; false when it does not exist.
pub(super) fn update(
    conn: &Connection,
    collection: &str,
    record: &MemoryRecord,
    vector: Option<&[f32]>,
) -> Result<bool, rusqlite::Error> {
    let id = record.id.to_string();
    let body = payload::encode(record);
    let changed = match vector {
        Some(vector) => {
            let mut unit = vector.to_vec();
            normalize(&mut unit);
            conn.prepare_cached("UPDATE memories SET vector = ?3, payload = ?4 WHERE collection = ?1 AND id = ?2")?
                .execute(params![collection, id, payload::vector_to_blob(&unit), body])?
        }
        None => conn
            .prepare_cached("UPDATE memories SET payload = ?3 WHERE collection = ?1 AND id = ?2")?
            .execute(params![collection, id, body])?,
    };
    if changed > 0 {
        lexical::index(conn, collection, record)?;
        record_changes(conn, collection, [record.id])?;
    }
    Ok(changed > 0)
}

/// Deletes memories by id; returns how many existed.
pub(super) fn delete(conn: &Connection, collection: &str, ids: &[MemoryId]) -> Result<u64, rusqlite::Error> {
    let mut stmt = conn.prepare_cached("DELETE FROM memories WHERE collection = ?1 AND id = ?2")?;
    let mut deleted = 0u64;
    for id in ids {
        deleted += stmt.execute(params![collection, id.to_string()])? as u64;
        lexical::remove(conn, collection, *id)?;
    }
    record_changes(conn, collection, ids.iter().copied())?;
    Ok(deleted)
}

/// Appends the touched ids to the change log, pruning its oldest entries now and then.
fn record_changes(
    conn: &Connection,
    collection: &str,
    ids: impl IntoIterator<Item = MemoryId>,
) -> Result<(), rusqlite::Error> {
    let mut stmt = conn.prepare_cached("INSERT INTO changes (collection, id) VALUES (?1, ?2)")?;
    let unique: HashSet<MemoryId> = ids.into_iter().collect();
    if unique.is_empty() {
        return Ok(());
    }
    for id in unique {
        stmt.execute(params![collection, id.to_string()])?;
    }
    let latest = conn.last_insert_rowid();
    let pruned: i64 = conn
        .query_row("SELECT value FROM meta WHERE key = 'pruned_through'", [], |row| row.get(0))
        .optional()?
        .unwrap_or(0);
    if latest - pruned > CHANGES_KEPT + PRUNE_SLACK {
        let through = latest - CHANGES_KEPT;
        conn.execute("DELETE FROM changes WHERE seq <= ?1", [through])?;
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('pruned_through', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [through],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::memory::{MemoryText, Metadata};
    use crate::domain::scope::Scope;
    use chrono::Utc;

    fn item(n: u128) -> (MemoryRecord, Vec<f32>) {
        let record = MemoryRecord::new(
            MemoryId::from_uuid(Uuid::from_u128(n)),
            MemoryText::parse("t", &format!("m{n}")).unwrap(),
            Metadata::default(),
            Scope::parse(Some("u"), None, None).unwrap(),
            Utc::now(),
        );
        (record, vec![1.0, n as f32])
    }

    fn caught_up(conn: &mut Connection, synced: &mut Synced) {
        let tx = conn.transaction().unwrap();
        catch_up(&tx, "c", 2, synced).unwrap();
        tx.commit().unwrap();
    }

    #[test]
    fn an_index_behind_the_pruned_log_reloads_and_small_gaps_replay() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let mut reader = open(&path, "c", 2).unwrap();
        let mut writer = open(&path, "c", 2).unwrap();
        let mut synced = Synced::unloaded(2);
        caught_up(&mut reader, &mut synced);
        assert_eq!(synced.index.count(), 0);

        // A small gap: replayed id by id (an insert, an overwrite, a delete).
        let tx = writer.transaction().unwrap();
        upsert(&tx, "c", &[item(1), item(2), item(3)]).unwrap();
        tx.commit().unwrap();
        caught_up(&mut reader, &mut synced);
        let tx = writer.transaction().unwrap();
        delete(&tx, "c", &[MemoryId::from_uuid(Uuid::from_u128(2))]).unwrap();
        upsert(&tx, "c", &[item(3)]).unwrap();
        tx.commit().unwrap();
        let before = synced.cursor;
        caught_up(&mut reader, &mut synced);
        assert!(synced.cursor > before);
        assert_eq!(synced.index.count(), 2);
        assert!(synced.index.get(MemoryId::from_uuid(Uuid::from_u128(2))).is_none());

        // A gap larger than the kept log: the log is pruned and the index reloads in full.
        let many: Vec<_> = (10..10 + (CHANGES_KEPT + PRUNE_SLACK + 10) as u128).map(item).collect();
        let tx = writer.transaction().unwrap();
        upsert(&tx, "c", &many).unwrap();
        tx.commit().unwrap();
        let pruned: i64 =
            writer.query_row("SELECT value FROM meta WHERE key = 'pruned_through'", [], |r| r.get(0)).unwrap();
        assert!(pruned > synced.cursor);
        let kept: i64 = writer.query_row("SELECT COUNT(*) FROM changes", [], |r| r.get(0)).unwrap();
        assert_eq!(kept, CHANGES_KEPT);
        caught_up(&mut reader, &mut synced);
        assert_eq!(synced.index.count(), 2 + many.len());
        // Stored vectors are unit length.
        let v = synced.index.vector_of(MemoryId::from_uuid(Uuid::from_u128(3))).unwrap();
        assert!((super::super::index::dot(v, v) - 1.0).abs() < 1e-6);
    }
}
