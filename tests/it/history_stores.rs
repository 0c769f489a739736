//! Both history stores held to one contract (`keeps_the_history_contract`, `concurrent_writers_all_land`):
//! PostgreSQL (`<collection>_history`, against `scripts/services/postgres.sh`) and SQLite (a
//! temporary file, Mem0's `history` table); then what each has of its own (table layout, Mem0's
//! formats, errors).

use crate::support::pgstore;

use chrono::{DateTime, Utc};
use mem0_dify::adapters::history::postgres::PostgresHistoryStore;
use mem0_dify::adapters::history::sqlite::SqliteHistoryStore;
use mem0_dify::domain::history::{HistoryEntry, HistoryEvent};
use mem0_dify::domain::memory::{MemoryId, MemoryText};
use mem0_dify::domain::scope::{EntityId, Scope};
use mem0_dify::ports::history_store::HistoryStore;
use pgstore::*;
use uuid::Uuid;

fn text(s: &str) -> MemoryText {
    MemoryText::parse("memory", s).unwrap()
}

fn micros(seconds: i64, micros: i64) -> DateTime<Utc> {
    at(seconds) + chrono::Duration::microseconds(micros)
}

/// The contract every history store must keep.
async fn keeps_the_history_contract(store: &dyn HistoryStore) {
    store.ensure_ready().await.unwrap();
    store.ensure_ready().await.unwrap();
    let memory = MemoryId::from_uuid(Uuid::new_v4());
    let other = MemoryId::from_uuid(Uuid::new_v4());
    let created = micros(0, 123_456);
    let add = HistoryEntry::added(Uuid::new_v4(), memory, text("Likes tea"), created);
    let mut first_update =
        HistoryEntry::updated(Uuid::new_v4(), memory, text("Likes tea"), text("Likes green tea"), created, at(20));
    first_update.actor_id = Some(EntityId::parse("actor_id", "bob").unwrap());
    first_update.role = Some("user".into());
    let same_instant = HistoryEntry::updated(
        Uuid::new_v4(),
        memory,
        text("Likes green tea"),
        text("Likes tea again"),
        created,
        at(20),
    );
    // the memory's scope is kept with its rows, so a deleted memory's history is shown to its owner only
    let owner = Scope::parse(Some("alice"), Some("bot"), Some("run-1")).unwrap();
    let delete =
        HistoryEntry::deleted(Uuid::new_v4(), memory, text("Likes tea again"), created, micros(30, 1)).owned_by(&owner);
    first_update = first_update.owned_by(&Scope::parse(Some("alice"), None, None).unwrap());
    let late_but_earlier =
        HistoryEntry::updated(Uuid::new_v4(), memory, text("Likes tea"), text("Likes black tea"), created, at(10));
    let unrelated = HistoryEntry::added(Uuid::new_v4(), other, text("Plays chess"), at(5));

    store.append(&[add.clone(), first_update.clone()]).await.unwrap();
    store.append(&[same_instant.clone(), delete.clone(), unrelated.clone()]).await.unwrap();
    store.append(std::slice::from_ref(&late_but_earlier)).await.unwrap();
    store.append(&[]).await.unwrap();
    let expected =
        vec![add.clone(), late_but_earlier.clone(), first_update.clone(), same_instant.clone(), delete.clone()];
    assert_eq!(store.history(memory).await.unwrap(), expected, "oldest first, ties in append order");

    // Replays are harmless: a row id that exists is left as it is.
    let mut replay = first_update.clone();
    replay.new_memory = Some(text("something else"));
    store.append(&[add.clone(), replay, delete.clone()]).await.unwrap();
    assert_eq!(store.history(memory).await.unwrap(), expected);

    assert_eq!(store.history(other).await.unwrap(), vec![unrelated]);
    assert!(store.history(MemoryId::from_uuid(Uuid::new_v4())).await.unwrap().is_empty());
    let rows = store.history(memory).await.unwrap();
    assert!(rows[4].is_deleted && rows[4].event == HistoryEvent::Delete && rows[4].new_memory.is_none());
    assert!(rows[0].old_memory.is_none() && rows[0].event == HistoryEvent::Add && !rows[0].is_deleted);

    // An erase removes the rows of the memories named and every row owned inside the scope.
    let bob = Scope::parse(Some("bob-erase"), None, None).unwrap();
    let kept = HistoryEntry::added(Uuid::new_v4(), MemoryId::from_uuid(Uuid::new_v4()), text("Bob's"), at(1));
    let kept = kept.owned_by(&bob);
    store.append(std::slice::from_ref(&kept)).await.unwrap();
    let alice = Scope::parse(Some("alice"), None, None).unwrap();
    // the rows of `memory` (some owned by alice, some by no one), and `other`'s by id
    assert_eq!(store.erase(&alice, &[memory, other]).await.unwrap(), 6);
    assert!(store.history(memory).await.unwrap().is_empty());
    assert!(store.history(other).await.unwrap().is_empty());
    assert_eq!(store.history(kept.memory_id).await.unwrap(), vec![kept.clone()], "another owner's rows stay");
    assert_eq!(store.erase(&alice, &[memory]).await.unwrap(), 0, "repeating is harmless");
}

#[tokio::test]
async fn postgres_history_keeps_the_contract() {
    let Some(url) = pg_url() else { return };
    let collection = unique_collection("hist");
    let vectors = pgvector_store(&url, &collection, 4);
    let store = PostgresHistoryStore::beside(&vectors);
    keeps_the_history_contract(&store).await;

    let client = raw_client(&url).await;
    let columns: Vec<String> = client
        .query(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 \
             AND NOT attisdropped ORDER BY attnum",
            &[&format!("\"{collection}_history\"")],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        columns,
        [
            "id",
            "memory_id",
            "old_memory",
            "new_memory",
            "event",
            "created_at",
            "updated_at",
            "is_deleted",
            "actor_id",
            "role",
            "user_id",
            "agent_id",
            "run_id",
            "seq"
        ]
    );
    let index: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_indexes WHERE indexname = $1",
            &[&format!("{collection}_history_memory_idx")],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(index, 1);

    // Another collection's history is another table.
    let other = PostgresHistoryStore::beside(&pgvector_store(&url, &unique_collection("hist"), 4));
    let entry = HistoryEntry::added(Uuid::new_v4(), MemoryId::from_uuid(Uuid::new_v4()), text("x"), at(0));
    other.append(std::slice::from_ref(&entry)).await.unwrap();
    assert!(store.history(entry.memory_id).await.unwrap().is_empty());
    assert_eq!(other.history(entry.memory_id).await.unwrap(), vec![entry]);
}

#[tokio::test]
async fn postgres_history_reports_an_unreachable_server_as_transient() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let vectors = pgvector_store(&format!("postgresql://u:pw@127.0.0.1:{closed}/d"), "mem0", 4);
    let err = PostgresHistoryStore::beside(&vectors).ensure_ready().await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
}

#[tokio::test]
async fn sqlite_history_keeps_the_contract_and_persists() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/folder/history.db");
    let store = SqliteHistoryStore::new(&path);
    keeps_the_history_contract(&store).await;
    assert!(path.exists());
    let mode: String =
        rusqlite::Connection::open(&path).unwrap().query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");

    // Rows are stored in Mem0's formats, so Mem0 reads them.
    let memory = MemoryId::from_uuid(Uuid::new_v4());
    let entry = HistoryEntry::deleted(Uuid::new_v4(), memory, text("gone"), micros(1, 5), micros(2, 6));
    store.append(std::slice::from_ref(&entry)).await.unwrap();
    let raw: (String, String, Option<String>, Option<String>, String, String, String, i64) = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT id, memory_id, old_memory, new_memory, event, created_at, updated_at, is_deleted FROM history WHERE id = ?1",
            [entry.id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)),
        )
        .unwrap();
    assert_eq!(
        raw,
        (
            entry.id.to_string(),
            memory.to_string(),
            Some("gone".to_owned()),
            None,
            "DELETE".to_owned(),
            "2026-01-01T00:00:01.000005+00:00".to_owned(),
            "2026-01-01T00:00:02.000006+00:00".to_owned(),
            1
        )
    );
    drop(store);
    let reopened = SqliteHistoryStore::new(&path);
    assert_eq!(reopened.history(memory).await.unwrap(), vec![entry]);
}

#[tokio::test]
async fn sqlite_history_reads_and_upgrades_a_mem0_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    let memory = Uuid::new_v4();
    let (add_id, update_id) = (Uuid::new_v4(), Uuid::new_v4());
    {
        // An old Mem0 history table (before actor_id and role), rows as Mem0 writes them; the 2.x
        // batch ADD row has no updated_at.
        let mem0 = rusqlite::Connection::open(&path).unwrap();
        mem0.execute_batch(
            "CREATE TABLE history (id TEXT PRIMARY KEY, memory_id TEXT, old_memory TEXT, new_memory TEXT, \
             event TEXT, created_at DATETIME, updated_at DATETIME, is_deleted INTEGER)",
        )
        .unwrap();
        mem0.execute(
            "INSERT INTO history VALUES (?1, ?2, NULL, 'Lives in Paris', 'ADD', '2026-11-26T11:25:56.565713+00:00', NULL, 0)",
            [add_id.to_string(), memory.to_string()],
        )
        .unwrap();
        mem0.execute(
            "INSERT INTO history VALUES (?1, ?2, 'Lives in Paris', 'Lives in Rome', 'UPDATE', \
             '2026-11-26T11:25:56.565713+00:00', '2026-11-26T03:30:00.000001-08:00', 0)",
            [update_id.to_string(), memory.to_string()],
        )
        .unwrap();
    }
    let store = SqliteHistoryStore::new(&path);
    let rows = store.history(MemoryId::from_uuid(memory)).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].id, rows[0].event, rows[0].updated_at), (add_id, HistoryEvent::Add, rows[0].created_at));
    assert_eq!(rows[0].new_memory.as_ref().map(MemoryText::as_str), Some("Lives in Paris"));
    assert_eq!(rows[1].event, HistoryEvent::Update);
    assert_eq!(rows[1].updated_at, DateTime::parse_from_rfc3339("2026-11-26T11:30:00.000001Z").unwrap());
    // The table gained Mem0's newer columns and takes new rows with them.
    let mut entry = HistoryEntry::deleted(
        Uuid::new_v4(),
        MemoryId::from_uuid(memory),
        text("Lives in Rome"),
        rows[0].created_at,
        at(100_000_000),
    );
    entry.actor_id = Some(EntityId::parse("actor_id", "alice").unwrap());
    store.append(std::slice::from_ref(&entry)).await.unwrap();
    assert_eq!(store.history(MemoryId::from_uuid(memory)).await.unwrap()[2], entry);
}

/// Two handles on one history (two processes, say) appending at once: every row lands.
async fn concurrent_writers_all_land(a: &dyn HistoryStore, b: &dyn HistoryStore) {
    a.ensure_ready().await.unwrap();
    let memory = MemoryId::from_uuid(Uuid::new_v4());
    async fn write(store: &dyn HistoryStore, memory: MemoryId, offset: i64) {
        let entries: Vec<HistoryEntry> = (0..40)
            .map(|i| HistoryEntry::added(Uuid::new_v4(), memory, text(&format!("m{i}")), at(offset + i)))
            .collect();
        for chunk in entries.chunks(4) {
            store.append(chunk).await.unwrap();
        }
    }
    tokio::join!(write(a, memory, 0), write(b, memory, 1000));
    assert_eq!(a.history(memory).await.unwrap().len(), 80);
    assert_eq!(b.history(memory).await.unwrap().len(), 80);
}

#[tokio::test]
async fn sqlite_history_takes_concurrent_writers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    concurrent_writers_all_land(&SqliteHistoryStore::new(&path), &SqliteHistoryStore::new(&path)).await;
}

#[tokio::test]
async fn postgres_history_takes_concurrent_writers() {
    let Some(url) = pg_url() else { return };
    let vectors = pgvector_store(&url, &unique_collection("hist"), 4);
    concurrent_writers_all_land(&PostgresHistoryStore::beside(&vectors), &PostgresHistoryStore::beside(&vectors)).await;
}

#[tokio::test]
async fn sqlite_history_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-folder");
    std::fs::write(&blocker, b"x").unwrap();
    let err = SqliteHistoryStore::new(blocker.join("history.db")).ensure_ready().await.unwrap_err();
    assert!(err.to_string().contains("not-a-folder"), "{err}");
    assert!(!err.is_transient());
}
