//! One open collection, shared by every store handle of this process naming the same file and
//! collection: a writer connection, a reader connection and the in-memory index.
//!
//! Freshness across connections and processes: before each read the reader connection's
//! `PRAGMA data_version` is compared with the last value seen; when another connection (another
//! engine's writer, or another process) has committed, the index replays the change log (see
//! [`super::db`]). Writes take SQLite's write lock (`BEGIN IMMEDIATE`), first catch up, then
//! write, commit (fsync) and catch up again, so a call returns only once the write is durable and
//! visible to the next read.

use super::config::{EmbeddedConfig, DEFAULT_FILE_NAME};
use super::db::{self, sql_error, Synced, STORE};
use super::index::Index;
use crate::adapters::group_commit::GroupCommit;
use crate::domain::memory::MemoryRecord;
use crate::ports::store::StoreError;
use rusqlite::{Connection, TransactionBehavior};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use tracing::info;

/// A collection open in this process.
pub(super) struct OpenCollection {
    path: PathBuf,
    name: String,
    dims: usize,
    writer: Mutex<Connection>,
    /// Inserts arriving together share one transaction (see [`GroupCommit`]).
    inserts: GroupCommit<(MemoryRecord, Vec<f32>)>,
    reader: Mutex<Reader>,
    synced: RwLock<Synced>,
}

struct Reader {
    conn: Connection,
    data_version: i64,
}

type Registry = Mutex<HashMap<(PathBuf, String), Weak<OpenCollection>>>;

fn registry() -> &'static Registry {
    static OPEN: OnceLock<Registry> = OnceLock::new();
    OPEN.get_or_init(Registry::default)
}

impl OpenCollection {
    /// Opens the configured collection, or shares the one this process already has open.
    pub(super) fn open(config: &EmbeddedConfig) -> Result<Arc<Self>, StoreError> {
        let path = file_path(&config.path)?;
        let key = (path.clone(), config.collection_name.clone());
        let mut open = lock(registry());
        if let Some(existing) = open.get(&key).and_then(Weak::upgrade) {
            check_dims(&path, &config.collection_name, existing.dims, config.embedding_model_dims)?;
            return Ok(existing);
        }
        let started = std::time::Instant::now();
        let collection = Arc::new(Self::open_new(path, config)?);
        info!(
            path = %collection.path.display(),
            collection = collection.name,
            memories = collection.read(Index::count)?,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "embedded vector store opened"
        );
        open.retain(|_, weak| weak.strong_count() > 0);
        open.insert(key, Arc::downgrade(&collection));
        Ok(collection)
    }

    fn open_new(path: PathBuf, config: &EmbeddedConfig) -> Result<Self, StoreError> {
        let (name, dims) = (config.collection_name.clone(), config.embedding_model_dims);
        let writer = db::open(&path, &name, dims)?;
        let stored = db::collection_dims(&writer, &name).map_err(|e| sql_error(&path, e))?.unwrap_or(dims);
        check_dims(&path, &name, stored, dims)?;
        let reader = db::open(&path, &name, dims)?;
        let collection = Self {
            reader: Mutex::new(Reader { conn: reader, data_version: i64::MIN }),
            writer: Mutex::new(writer),
            inserts: GroupCommit::default(),
            synced: RwLock::new(Synced::unloaded(dims)),
            path,
            name,
            dims,
        };
        collection.refresh()?;
        Ok(collection)
    }

    /// The collection's name.
    pub(super) fn name(&self) -> &str {
        &self.name
    }

    /// Reads the index, first catching up with commits made elsewhere.
    pub(super) fn read<T>(&self, f: impl FnOnce(&Index) -> T) -> Result<T, StoreError> {
        self.refresh()?;
        Ok(f(&read(&self.synced).index))
    }

    /// Runs a query on the reader connection beside the index (the lexical search), after
    /// catching up with commits made elsewhere.
    pub(super) fn read_sql<T>(
        &self,
        f: impl FnOnce(&Connection, &Index) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StoreError> {
        self.refresh()?;
        let reader = lock(&self.reader);
        f(&reader.conn, &read(&self.synced).index).map_err(|e| sql_error(&self.path, e))
    }

    /// Runs a write in one transaction holding SQLite's write lock; `f` sees the up-to-date index.
    pub(super) fn write<T>(
        &self,
        f: impl FnOnce(&Connection, &Index) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StoreError> {
        let sql = |e| sql_error(&self.path, e);
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
        db::catch_up(&tx, &self.name, self.dims, &mut write(&self.synced)).map_err(sql)?;
        let out = f(&tx, &read(&self.synced).index).map_err(sql)?;
        tx.commit().map_err(sql)?;
        let tx = conn.transaction().map_err(sql)?;
        db::catch_up(&tx, &self.name, self.dims, &mut write(&self.synced)).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(out)
    }

    /// Inserts (or replaces) memories; inserts of concurrent callers are committed together.
    pub(super) fn insert(&self, items: Vec<(MemoryRecord, Vec<f32>)>) -> Result<(), StoreError> {
        self.inserts.write(items, |batch| self.write(|tx, _| db::upsert(tx, &self.name, &batch)))
    }

    /// Catches the index up when another connection has committed since the last look.
    fn refresh(&self) -> Result<(), StoreError> {
        let sql = |e| sql_error(&self.path, e);
        let mut reader = lock(&self.reader);
        let version = db::data_version(&reader.conn).map_err(sql)?;
        if version == reader.data_version {
            return Ok(());
        }
        let tx = reader.conn.transaction().map_err(sql)?;
        db::catch_up(&tx, &self.name, self.dims, &mut write(&self.synced)).map_err(sql)?;
        tx.commit().map_err(sql)?;
        reader.data_version = version;
        Ok(())
    }
}

/// The file to open: the configured path, or `memories.db` inside it when it is a directory.
/// Its directory is created; the result is canonical so every spelling shares one collection.
fn file_path(configured: &Path) -> Result<PathBuf, StoreError> {
    let unavailable = |what: &str, path: &Path, e: std::io::Error| StoreError::Unavailable {
        store: STORE,
        message: format!("cannot {what} {}: {e}", path.display()),
    };
    let file = if configured.is_dir() { configured.join(DEFAULT_FILE_NAME) } else { configured.to_path_buf() };
    let (Some(parent), Some(name)) = (file.parent(), file.file_name()) else {
        return Err(StoreError::Rejected {
            store: STORE,
            message: format!("path {} does not name a file", configured.display()),
        });
    };
    let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
    std::fs::create_dir_all(parent).map_err(|e| unavailable("create the directory", parent, e))?;
    let parent = parent.canonicalize().map_err(|e| unavailable("resolve", parent, e))?;
    Ok(parent.join(name))
}

fn check_dims(path: &Path, collection: &str, stored: usize, configured: usize) -> Result<(), StoreError> {
    if stored == configured {
        return Ok(());
    }
    Err(StoreError::Rejected {
        store: STORE,
        message: format!(
            "collection {collection:?} in {} holds {stored}-dimensional vectors but embedding_model_dims is \
             {configured}; use the same embedder, or another collection_name or path",
            path.display()
        ),
    })
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}
