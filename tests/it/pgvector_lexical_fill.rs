//! The pgvector store's background fill of the lexical column, against a real PostgreSQL: a table
//! Mem0 wrote (no `lexical` column) is ready at once, its rows get their terms in committed chunks
//! outside any request, searches by keyword find its memories before and after the fill, and a fill
//! cut short resumes on the next open without losing a memory.

use crate::support::pgstore::mem0_layout::*;
use crate::support::pgstore::*;

use mem0_dify::adapters::vector::pgvector::PgVectorStore;
use mem0_dify::app::retrieval;
use mem0_dify::domain::fusion::Retrieval;
use mem0_dify::domain::memory::MemoryId;
use mem0_dify::domain::operations::{Limit, Query, SearchRequest};
use mem0_dify::domain::scope::Scope;
use mem0_dify::ports::vector_store::{LexicalQuery, ListQuery, VectorStore};
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

/// The ids a search by `query` returns, best first, with keywords alone ranking.
async fn keyword_search(store: &PgVectorStore, scope: &Scope, query: &str) -> Vec<MemoryId> {
    let request = SearchRequest {
        query: Query::parse(query).unwrap(),
        scope: scope.clone(),
        filter: None,
        limit: Limit::new("top_k", 3).unwrap(),
        threshold: None,
        rerank: false,
        retrieval: Retrieval::Lexical,
        explain: false,
        show_expired: false,
    };
    let found = retrieval::retrieve(store, &request, query_vector(), 3).await.unwrap();
    found.into_iter().map(|m| m.record.id).collect()
}

/// The store's keyword search for `word{n}` finds exactly row `n` (texts "… word{n}"), for each `n`.
async fn assert_found_by_own_word(store: &PgVectorStore, scope: &Scope, rows: &[(Uuid, String, usize)], ns: &[usize]) {
    for &n in ns {
        let query = LexicalQuery {
            terms: mem0_dify::domain::lexical::query_terms(&format!("word{n}")),
            vector: query_vector(),
            scope: scope.clone(),
            filter: None,
            limit: 5,
        };
        let hits = store.lexical_search(&query).await.unwrap();
        assert_eq!(hits.iter().map(|h| h.record.id.as_uuid()).collect::<Vec<_>>(), vec![rows[n].0], "word{n}");
    }
}

/// A 3,000-row table Mem0 wrote: the first call returns while the fill has not reached the rows
/// written last; the app's keyword search finds a rare word's memory while the fill runs (the store
/// reports no lexical index, so keywords are scored over vector candidates), and after it (through
/// the index, also a memory far outside the vector candidates). Rows held by another transaction
/// (another process's fill, a writer) are skipped, and the fill is not complete while they lack terms.
#[tokio::test]
async fn a_mem0_table_is_ready_before_its_lexical_fill_and_keyword_search_finds_memories_throughout() {
    let Some(url) = pg_url() else { return };
    let collection = unique_collection("lexfill");
    let mut client = raw_client(&url).await;
    let user = "alice";
    // The two rare words' memories are written last: the 101st and 2,501st nearest to the query.
    let (theremin, zither) = (Uuid::new_v4(), Uuid::new_v4());
    let mut rows: Vec<(Uuid, String, usize)> = (0..ROWS)
        .filter(|n| ![100, 2500].contains(n))
        .map(|n| (Uuid::new_v4(), format!("Memory {n} about ordinary things"), n))
        .collect();
    rows.push((theremin, "Learned to play the theremin".into(), 100));
    rows.push((zither, "Bought an old zither at the market".into(), 2500));
    mem0_table(&client, &collection, user, &rows).await;

    let store = filling_store(&url, &collection, 50, 20);
    tokio::time::timeout(Duration::from_secs(20), store.ensure_ready()).await.expect("ready in time").unwrap();
    // Hold the rare rows as another transaction would (they still have no terms: the first call
    // did not wait for the fill).
    let lock = client.transaction().await.unwrap();
    let held = lock
        .query(
            &format!("SELECT id FROM \"{collection}\" WHERE id = ANY($1) AND lexical IS NULL FOR UPDATE"),
            &[&vec![theremin, zither]],
        )
        .await
        .unwrap();
    assert_eq!(held.len(), 2, "the first call returned only after the fill reached the rows written last");
    assert!(!store.keeps_lexical_index(), "no lexical index is claimed while rows lack terms");
    let alice = scope(Some(user), None, None);
    assert_eq!(
        keyword_search(&store, &alice, "Who plays the theremin?").await.first(),
        Some(&MemoryId::from_uuid(theremin))
    );

    let watcher = raw_client(&url).await;
    wait_until("every free row filled", Duration::from_secs(60), || async {
        unfilled(&watcher, &collection).await == 2
    })
    .await;
    // Longer than the fill's look-again pause: it keeps waiting for the held rows.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!store.keeps_lexical_index(), "complete while two rows have no terms");
    assert_eq!(keyword_search(&store, &alice, "theremin").await.first(), Some(&MemoryId::from_uuid(theremin)));
    lock.rollback().await.unwrap();

    wait_until("the fill completes", Duration::from_secs(30), || async { store.keeps_lexical_index() }).await;
    assert_eq!(unfilled(&client, &collection).await, 0);
    assert_eq!(keyword_search(&store, &alice, "theremin").await.first(), Some(&MemoryId::from_uuid(theremin)));
    assert_eq!(
        keyword_search(&store, &alice, "a zither").await.first(),
        Some(&MemoryId::from_uuid(zither)),
        "found through the index though far outside the vector candidates"
    );
    // Every row got its own terms.
    let things = mem0_dify::domain::lexical::query_terms("things");
    let matching: i64 = client
        .query_one(
            &format!("SELECT count(*) FROM \"{collection}\" WHERE lexical @@ $1::text::tsquery"),
            &[&format!("'{}'", things[0])],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(matching, (ROWS - 2) as i64);
    drop_table(&url, &collection).await;
}

/// A fill cut short (its store dropped after a few chunks) stops, keeps what it committed and
/// resumes on the next open; nothing is lost, and a memory written meanwhile gets its terms at once.
#[tokio::test]
async fn an_interrupted_lexical_fill_resumes_on_the_next_open_and_loses_nothing() {
    let Some(url) = pg_url() else { return };
    let collection = unique_collection("lexresume");
    let client = raw_client(&url).await;
    let user = "bob";
    let rows = worded_rows(ROWS);
    mem0_table(&client, &collection, user, &rows).await;
    let bob = scope(Some(user), None, None);

    let first = filling_store(&url, &collection, 50, 20);
    first.ensure_ready().await.unwrap();
    let written = record(&bob, "Paddles a red kayak", json!({}), 1);
    first.insert(&[(written.clone(), query_vector())]).await.unwrap();
    let terms: Option<String> = client
        .query_one(&format!("SELECT lexical::text FROM \"{collection}\" WHERE id = $1"), &[&written.id.as_uuid()])
        .await
        .unwrap()
        .get(0);
    assert!(terms.is_some_and(|t| t.contains("kayak")), "a new memory gets its terms when written");
    wait_until("a few chunks filled", Duration::from_secs(30), || async {
        unfilled(&client, &collection).await <= (ROWS - 200) as i64
    })
    .await;
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let left = unfilled(&client, &collection).await;
    assert!(left > 0, "the fill was over before the store was dropped");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(unfilled(&client, &collection).await, left, "the fill went on after its store was dropped");

    let second = filling_store(&url, &collection, 500, 0);
    second.ensure_ready().await.unwrap();
    wait_until("the resumed fill completes", Duration::from_secs(60), || async { second.keeps_lexical_index() }).await;
    assert_eq!(unfilled(&client, &collection).await, 0);
    let total: i64 = client.query_one(&format!("SELECT count(*) FROM \"{collection}\""), &[]).await.unwrap().get(0);
    assert_eq!(total, ROWS as i64 + 1, "every memory kept");
    assert_found_by_own_word(&second, &bob, &rows, &[0, 1234, ROWS - 1]).await;
    drop_table(&url, &collection).await;
}

/// With the default settings, a small table Mem0 wrote gets its terms soon after the first open and
/// keeps every memory; each is then found by its own word.
#[tokio::test]
async fn a_table_created_before_the_lexical_index_gains_it_and_keeps_every_memory() {
    let Some(url) = pg_url() else { return };
    let collection = unique_collection("premigration");
    let client = raw_client(&url).await;
    let rows = worded_rows(120);
    mem0_table(&client, &collection, "alice", &rows).await;
    let store = pgvector_store(&url, &collection, DIMS);
    store.ensure_ready().await.unwrap();
    let alice = scope(Some("alice"), None, None);
    let listed = store.list(&ListQuery { scope: alice.clone(), filter: None, limit: 1000 }).await.unwrap();
    assert_eq!(listed.len(), 120, "every memory kept");
    wait_until("the fill completes", Duration::from_secs(30), || async { store.keeps_lexical_index() }).await;
    assert_eq!(unfilled(&client, &collection).await, 0);
    assert_found_by_own_word(&store, &alice, &rows, &[0, 57, 119]).await;
    drop_table(&url, &collection).await;
}
