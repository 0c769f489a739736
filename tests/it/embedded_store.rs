//! The embedded vector store against its real SQLite file: what is its own (vector sizes, persistence,
//! exact search, concurrency, other processes writing the same file, `kill -9`). The behaviour every
//! store shares is the contract suite (`support/store_scenarios.rs`), run by `keeps_the_store_contract`.

use chrono::{DateTime, Duration, TimeZone, Utc};
use mem0_dify::adapters::vector::embedded::{EmbeddedConfig, EmbeddedVectorStore};
use mem0_dify::domain::filter::Filter;
use mem0_dify::domain::memory::{MemoryId, MemoryRecord, MemoryText, Metadata};
use mem0_dify::domain::scope::Scope;
use mem0_dify::ports::vector_store::{ListQuery, VectorQuery, VectorStore};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use uuid::Uuid;

/// Set in a child process started by a test: what the child does.
const CHILD_MODE_ENV: &str = "MEM0_EMBEDDED_TEST_CHILD";
/// Set in a child process: the database file.
const CHILD_DB_ENV: &str = "MEM0_EMBEDDED_TEST_DB";
/// Set in a child process: an id for it to delete.
const CHILD_DELETE_ENV: &str = "MEM0_EMBEDDED_TEST_DELETE";

use crate::support::store_scenarios;

fn config(path: &Path, dims: usize) -> EmbeddedConfig {
    EmbeddedConfig { path: path.to_path_buf(), collection_name: "mem0".into(), embedding_model_dims: dims }
}

fn scope(user: Option<&str>, agent: Option<&str>, run: Option<&str>) -> Scope {
    Scope::parse(user, agent, run).unwrap()
}

fn alice() -> Scope {
    scope(Some("alice"), None, None)
}

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()
}

fn id(n: u128) -> MemoryId {
    MemoryId::from_uuid(Uuid::from_u128(n))
}

fn record(n: u128, owner: &Scope, text: &str, meta: Value) -> MemoryRecord {
    MemoryRecord::new(
        id(n),
        MemoryText::parse("text", text).unwrap(),
        Metadata::parse(meta).unwrap(),
        owner.clone(),
        base_time() + Duration::seconds(n as i64),
    )
}

fn search(vector: &[f32], scope: &Scope, filter: Option<Value>, limit: usize) -> VectorQuery {
    VectorQuery {
        vector: vector.to_vec(),
        scope: scope.clone(),
        filter: filter.map(|f| Filter::parse(&f).unwrap()),
        limit,
    }
}

fn list(scope: &Scope, filter: Option<Value>, limit: usize) -> ListQuery {
    ListQuery { scope: scope.clone(), filter: filter.map(|f| Filter::parse(&f).unwrap()), limit }
}

fn numbers(records: impl IntoIterator<Item = MemoryRecord>) -> Vec<u128> {
    records.into_iter().map(|r| r.id.as_uuid().as_u128()).collect()
}

async fn found(store: &EmbeddedVectorStore, query: VectorQuery) -> Vec<u128> {
    numbers(store.search(&query).await.unwrap().into_iter().map(|s| s.record))
}

fn random_vector(rng: &mut StdRng, dims: usize) -> Vec<f32> {
    (0..dims).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
}

#[tokio::test]
async fn wrong_vectors_are_rejected_with_the_expected_size() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedVectorStore::new(config(&dir.path().join("m.db"), 3));
    let memory = record(1, &alice(), "x", json!({}));
    let err = store.insert(&[(memory.clone(), vec![1.0, 0.0])]).await.unwrap_err().to_string();
    assert!(err.contains("2 dimensions") && err.contains("3-dimensional"), "{err}");
    let err = store.insert(&[(memory.clone(), vec![f32::NAN, 0.0, 0.0])]).await.unwrap_err().to_string();
    assert!(err.contains("NaN"), "{err}");
    let err = store.search(&search(&[1.0; 4], &alice(), None, 1)).await.unwrap_err().to_string();
    assert!(err.contains("4 dimensions"), "{err}");
    assert!(store.list(&list(&alice(), None, 10)).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_collection_keeps_its_dimension() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let first = EmbeddedVectorStore::new(config(&path, 3));
    first.ensure_ready().await.unwrap();
    // While open in this process, and after a fresh open from the file.
    let err = EmbeddedVectorStore::new(config(&path, 4)).ensure_ready().await.unwrap_err().to_string();
    assert!(err.contains("3-dimensional") && err.contains("embedding_model_dims is 4"), "{err}");
    drop(first);
    let err = EmbeddedVectorStore::new(config(&path, 4)).ensure_ready().await.unwrap_err().to_string();
    assert!(err.contains("3-dimensional"), "{err}");
    // Another collection in the same file may have another size.
    let other = EmbeddedConfig { collection_name: "other".into(), ..config(&path, 4) };
    EmbeddedVectorStore::new(other).ensure_ready().await.unwrap();
}

#[tokio::test]
async fn memories_survive_reopening_and_a_directory_path_gets_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let memory = record(7, &alice(), "Lives in Lisbon", json!({"city": "Lisbon", "n": [1, 2]}));
    {
        let store = EmbeddedVectorStore::new(config(dir.path(), 2));
        store.insert(&[(memory.clone(), vec![0.6, 0.8])]).await.unwrap();
    }
    assert!(dir.path().join("memories.db").is_file());
    let store = EmbeddedVectorStore::new(config(&dir.path().join("memories.db"), 2));
    assert_eq!(store.get(memory.id).await.unwrap(), Some(memory.clone()));
    let hits = store.search(&search(&[0.6, 0.8], &alice(), None, 5)).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].record, memory);
    assert!((hits[0].score.value() - 1.0).abs() < 1e-6);

    // Deletes reach the file too, not only the open store's index.
    let bob = scope(Some("bob"), None, None);
    store.insert(&[(record(8, &bob, "Likes tea", json!({})), vec![1.0, 0.0])]).await.unwrap();
    assert!(store.delete(memory.id).await.unwrap());
    assert_eq!(store.delete_scope(&bob).await.unwrap(), 1);
    drop(store);
    let store = EmbeddedVectorStore::new(config(&dir.path().join("memories.db"), 2));
    assert_eq!(store.get(memory.id).await.unwrap(), None);
    assert!(store.list(&list(&bob, None, 10)).await.unwrap().is_empty());
}

#[tokio::test]
async fn search_returns_the_exact_top_k() {
    let dims = 48;
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedVectorStore::new(config(&dir.path().join("m.db"), dims));
    let mut rng = StdRng::seed_from_u64(7);
    let users = ["u0", "u1", "u2", "u3"];
    let mut items = Vec::new();
    for n in 0..3000u128 {
        let owner = scope(Some(users[n as usize % users.len()]), None, None);
        items.push((
            record(n + 1, &owner, &format!("memory {n}"), json!({"parity": n % 2})),
            random_vector(&mut rng, dims),
        ));
    }
    for chunk in items.chunks(500) {
        store.insert(chunk).await.unwrap();
    }
    let cosine = |a: &[f32], b: &[f32]| {
        let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
        let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
        dot / (norm(a) * norm(b))
    };
    for round in 0..20 {
        let user = users[round % users.len()];
        let query = random_vector(&mut rng, dims);
        let limit = [1, 5, 17, 100][round % 4];
        let only_even = round % 3 == 0;
        let mut expected: Vec<(f64, u128)> = items
            .iter()
            .filter(|(r, _)| r.scope.user_id().map(|u| u.as_str()) == Some(user))
            .filter(|(r, _)| !only_even || r.metadata.as_map()["parity"] == 0)
            .map(|(r, v)| (cosine(&query, v), r.id.as_uuid().as_u128()))
            .collect();
        expected.sort_by(|a, b| b.0.total_cmp(&a.0));
        expected.truncate(limit);
        let filter = only_even.then(|| json!({"parity": 0}));
        let hits = store.search(&search(&query, &scope(Some(user), None, None), filter, limit)).await.unwrap();
        let got: Vec<u128> = hits.iter().map(|h| h.record.id.as_uuid().as_u128()).collect();
        assert_eq!(got, expected.iter().map(|e| e.1).collect::<Vec<_>>(), "round {round}");
        for (hit, (score, _)) in hits.iter().zip(&expected) {
            assert!((f64::from(hit.score.value()) - score.clamp(0.0, 1.0)).abs() < 1e-5, "round {round}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_inserts_from_many_tasks_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let store = Arc::new(EmbeddedVectorStore::new(config(&path, 4)));
    let mut tasks = Vec::new();
    for t in 0..16u128 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let owner = scope(Some(&format!("user{}", t % 4)), None, None);
            for i in 0..25u128 {
                let n = t * 1000 + i + 1;
                store
                    .insert(&[(record(n, &owner, &format!("m{n}"), json!({})), vec![1.0, t as f32, i as f32, 0.5])])
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let count = |store: Arc<EmbeddedVectorStore>| async move {
        let mut total = 0;
        for u in 0..4 {
            total += store.list(&list(&scope(Some(&format!("user{u}")), None, None), None, 1000)).await.unwrap().len();
        }
        total
    };
    assert_eq!(count(store.clone()).await, 400);
    drop(store);
    assert_eq!(count(Arc::new(EmbeddedVectorStore::new(config(&path, 4)))).await, 400);
}

/// Starts this test binary again, running only [`child_process_entry`] in `mode`.
fn child(mode: &str, db: &Path, delete: Option<MemoryId>) -> Command {
    // the test's name as the harness knows it: its module path without the crate's name
    let entry = concat!(module_path!(), "::child_process_entry").split_once("::").unwrap().1;
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([entry, "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_MODE_ENV, mode)
        .env(CHILD_DB_ENV, db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(id) = delete {
        command.env(CHILD_DELETE_ENV, id.to_string());
    }
    command
}

/// Not a test: the body of the child processes started by the tests below.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run as a child process by the cross-process and crash tests"]
async fn child_process_entry() {
    let Ok(mode) = std::env::var(CHILD_MODE_ENV) else { return };
    let db = PathBuf::from(std::env::var(CHILD_DB_ENV).unwrap());
    let store = Arc::new(EmbeddedVectorStore::new(config(&db, 4)));
    let carol = scope(Some("carol"), None, None);
    match mode.as_str() {
        "write" => {
            let items: Vec<_> = (1..=3u128)
                .map(|n| (record(500 + n, &carol, &format!("c{n}"), json!({})), vec![0.0, 1.0, 0.0, 0.0]))
                .collect();
            store.insert(&items).await.unwrap();
            let target: Uuid = std::env::var(CHILD_DELETE_ENV).unwrap().parse().unwrap();
            assert!(store.delete(MemoryId::from_uuid(target)).await.unwrap());
            println!("DONE");
        }
        "crash" => {
            // Four writers insert until killed; each acknowledged id is printed once its call returned.
            let mut writers = Vec::new();
            for w in 0..4u128 {
                let (store, carol) = (store.clone(), carol.clone());
                writers.push(tokio::spawn(async move {
                    for i in 0..100_000u128 {
                        let n = 1_000_000 * (w + 1) + i;
                        let batch = vec![(
                            record(n, &carol, &format!("m{n}"), json!({"w": w as u64})),
                            vec![1.0, 0.0, w as f32, i as f32],
                        )];
                        store.insert(&batch).await.unwrap();
                        println!("ACK {n}");
                    }
                }));
            }
            for writer in writers {
                writer.await.unwrap();
            }
        }
        other => panic!("unknown child mode {other}"),
    }
}

#[tokio::test]
async fn writes_by_another_process_are_seen_by_an_open_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let store = EmbeddedVectorStore::new(config(&path, 4));
    let mine = record(1, &alice(), "mine", json!({}));
    let doomed = record(2, &alice(), "doomed", json!({}));
    store
        .insert(&[(mine.clone(), vec![1.0, 0.0, 0.0, 0.0]), (doomed.clone(), vec![1.0, 0.0, 0.0, 0.0])])
        .await
        .unwrap();
    assert_eq!(store.list(&list(&alice(), None, 10)).await.unwrap().len(), 2);

    let output = child("write", &path, Some(doomed.id)).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success() && stdout.contains("DONE"), "child failed: {stdout}");

    // The open store (index loaded before the child ran) sees the child's inserts and delete.
    let carol = scope(Some("carol"), None, None);
    assert_eq!(found(&store, search(&[0.0, 1.0, 0.0, 0.0], &carol, None, 10)).await, vec![503, 502, 501]);
    assert_eq!(store.get(doomed.id).await.unwrap(), None);
    assert_eq!(numbers(store.list(&list(&alice(), None, 10)).await.unwrap()), vec![1]);
    // And its own writes still work on top.
    assert_eq!(store.delete_scope(&carol).await.unwrap(), 3);
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let mut process = child("crash", &path, None).spawn().unwrap();
    let stdout = process.stdout.take().unwrap();
    let mut acknowledged = HashSet::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("ACK ") {
            acknowledged.insert(n.parse::<u128>().unwrap());
        }
        if acknowledged.len() >= 200 {
            break;
        }
    }
    process.kill().unwrap(); // SIGKILL on Unix
    let status = process.wait().unwrap();
    assert!(!status.success(), "the child should have been killed");
    assert_eq!(acknowledged.len(), 200, "the child stopped acknowledging early");

    let conn = rusqlite::Connection::open(&path).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |row| row.get(0)).unwrap();
    assert_eq!(check, "ok");
    drop(conn);

    let store = EmbeddedVectorStore::new(config(&path, 4));
    let stored: HashSet<u128> =
        numbers(store.list(&list(&scope(Some("carol"), None, None), None, 1_000_000)).await.unwrap())
            .into_iter()
            .collect();
    let lost: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    // Still writable after the crash.
    store.insert(&[(record(1, &alice(), "after", json!({})), vec![1.0, 0.0, 0.0, 0.0])]).await.unwrap();
    assert_eq!(store.list(&list(&alice(), None, 10)).await.unwrap().len(), 1);
}

#[tokio::test]
async fn keeps_the_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedVectorStore::new(config(&dir.path().join("m.db"), store_scenarios::DIMS));
    store_scenarios::all(&store).await;
}

#[tokio::test]
async fn a_file_written_before_the_lexical_index_gains_it_and_keeps_every_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let memories: Vec<MemoryRecord> =
        (1..=50).map(|n| record(n, &alice(), &format!("memory number {n} about word{n}"), json!({}))).collect();
    {
        let store = EmbeddedVectorStore::new(config(&path, 2));
        let items: Vec<_> = memories.iter().map(|m| (m.clone(), vec![1.0, 0.5])).collect();
        store.insert(&items).await.unwrap();
    }
    // Make the file what the previous version wrote: schema 1, no lexical tables.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("DROP TABLE lexical; DROP TABLE lexical_rows; PRAGMA user_version = 1;").unwrap();
    }
    let store = EmbeddedVectorStore::new(config(&path, 2));
    let listed = store.list(&list(&alice(), None, 100)).await.unwrap();
    assert_eq!(listed.len(), memories.len());
    for n in [1u128, 25, 50] {
        let hits = store_lexical(&store, &format!("word{n}")).await;
        assert_eq!(hits, vec![id(n)], "memory {n} is found by its rare word after the upgrade");
    }
    let version: i64 =
        rusqlite::Connection::open(&path).unwrap().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, 2);
}

async fn store_lexical(store: &EmbeddedVectorStore, text: &str) -> Vec<MemoryId> {
    let query = mem0_dify::ports::vector_store::LexicalQuery {
        terms: mem0_dify::domain::lexical::query_terms(text),
        vector: vec![1.0, 0.0],
        scope: alice(),
        filter: None,
        limit: 10,
    };
    store.lexical_search(&query).await.unwrap().into_iter().map(|h| h.record.id).collect()
}
