//! Behaviour every [`VectorStore`] must show, written once against the port and run by each store's
//! tests: round trips, replayed inserts, scope isolation of every read, similarity order and cosine
//! scores, filters that agree with the domain's [`Filter::matches`], newest-first listings, hash
//! lookups, scope deletion, owner counts, keyword search.
//!
//! Run by every vector store's tests (embedded, pgvector, Qdrant, Pinecone) through [`all`]; the
//! keyword scenario only where the store keeps a lexical index.
//!
//! Every scenario uses fresh user ids, so scenarios can share one collection. Vectors are the fake
//! OpenAI server's hashed bag-of-words embeddings of the texts (`DIMS` values).

#![allow(dead_code)]

use super::fake_openai;

pub use fake_openai::embed_text;

use chrono::{DateTime, Duration, TimeZone, Utc};
use mem0_dify::domain::filter::Filter;
use mem0_dify::domain::lexical::query_terms;
use mem0_dify::domain::memory::{MemoryId, MemoryRecord, MemoryText, Metadata};
use mem0_dify::domain::scope::{EntityId, Scope};
use mem0_dify::ports::vector_store::{LexicalQuery, ListQuery, VectorQuery, VectorStore};
use serde_json::{json, Value};
use uuid::Uuid;

/// Vector size used by the scenarios.
pub const DIMS: usize = 16;

/// A fresh user id (so scenarios never see each other's memories).
pub fn fresh_user(prefix: &str) -> String {
    format!("{prefix}-{}", Uuid::new_v4().simple())
}

/// A scope of one user (and optionally an agent and a run).
pub fn scope(user: Option<&str>, agent: Option<&str>, run: Option<&str>) -> Scope {
    Scope::parse(user, agent, run).unwrap()
}

/// A memory created `minutes` after a fixed start.
pub fn memory(text: &str, owner: &Scope, metadata: Value, minutes: i64) -> MemoryRecord {
    let start: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    MemoryRecord::new(
        MemoryId::from_uuid(Uuid::new_v4()),
        MemoryText::parse("text", text).unwrap(),
        Metadata::parse(metadata).unwrap(),
        owner.clone(),
        start + Duration::minutes(minutes),
    )
}

/// The memory with its embedding.
pub fn with_vector(record: MemoryRecord) -> (MemoryRecord, Vec<f32>) {
    let vector = embed_text(record.text.as_str(), DIMS);
    (record, vector)
}

/// Inserts memories with their embeddings.
pub async fn insert_all(store: &dyn VectorStore, records: &[MemoryRecord]) {
    let items: Vec<(MemoryRecord, Vec<f32>)> = records.iter().cloned().map(with_vector).collect();
    store.insert(&items).await.unwrap();
}

/// Searches a scope for a text.
pub async fn search(
    store: &dyn VectorStore,
    scope: &Scope,
    text: &str,
    filter: Option<Value>,
    limit: usize,
) -> Vec<(String, f32)> {
    let query = VectorQuery {
        vector: embed_text(text, DIMS),
        scope: scope.clone(),
        filter: filter.map(|f| Filter::parse(&f).unwrap()),
        limit,
    };
    store
        .search(&query)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.record.text.as_str().to_owned(), m.score.value()))
        .collect()
}

/// Lists a scope.
pub async fn list(store: &dyn VectorStore, scope: &Scope, filter: Option<Value>, limit: usize) -> Vec<MemoryRecord> {
    let query = ListQuery { scope: scope.clone(), filter: filter.map(|f| Filter::parse(&f).unwrap()), limit };
    store.list(&query).await.unwrap()
}

fn texts(records: &[MemoryRecord]) -> Vec<&str> {
    records.iter().map(|r| r.text.as_str()).collect()
}

/// Insert, get, update (payload only, then with a vector), delete.
pub async fn crud_round_trip(store: &dyn VectorStore) {
    let alice = scope(Some(&fresh_user("alice")), None, None);
    let mut tea = memory("Likes green tea", &alice, json!({"topic": "food", "n": 2}), 0);
    tea.actor_id = Some(EntityId::parse("actor_id", "bob").unwrap());
    tea.role = Some("user".into());
    let paris = memory("Lives in Paris", &alice, json!({}), 1);
    insert_all(store, &[tea.clone(), paris.clone()]).await;

    assert_eq!(store.get(tea.id).await.unwrap().as_ref(), Some(&tea), "a memory reads back as written");
    assert_eq!(store.get(MemoryId::from_uuid(Uuid::new_v4())).await.unwrap(), None);

    let revised = tea.revised(
        MemoryText::parse("t", "Likes black tea").unwrap(),
        &Metadata::parse(json!({"n": 3})).unwrap(),
        tea.created_at + Duration::hours(1),
    );
    store.update(&revised, None).await.unwrap();
    assert_eq!(store.get(tea.id).await.unwrap().as_ref(), Some(&revised));
    let found = search(store, &alice, "Likes green tea", None, 1).await;
    assert_eq!(found[0].0, "Likes black tea", "without a new vector the old one is kept");

    store.update(&revised, Some(embed_text("Lives in Paris", DIMS))).await.unwrap();
    let found = search(store, &alice, "Lives in Paris", None, 2).await;
    assert!(found.iter().all(|(_, s)| (*s - 1.0).abs() < 1e-4), "both now carry the Paris vector: {found:?}");

    let ghost = memory("Never stored", &alice, json!({}), 2);
    store.update(&ghost, None).await.unwrap();
    store.update(&ghost, Some(embed_text("x", DIMS))).await.unwrap();
    assert_eq!(store.get(ghost.id).await.unwrap(), None, "an update never creates a memory");

    assert!(store.delete(paris.id).await.unwrap());
    assert!(!store.delete(paris.id).await.unwrap());
    assert_eq!(store.get(paris.id).await.unwrap(), None);
    assert!(store.insert(&[]).await.is_ok());
}

/// Searches see only the scope, best first, with similarities in [0, 1].
pub async fn search_is_scoped_and_ranked(store: &dyn VectorStore) {
    let alice_id = fresh_user("alice");
    let alice = scope(Some(&alice_id), None, None);
    let alice_run = scope(Some(&alice_id), None, Some("run-1"));
    let bob = scope(Some(&fresh_user("bob")), None, None);
    insert_all(
        store,
        &[
            memory("Likes green tea in the morning", &alice, json!({}), 0),
            memory("Likes green tea", &alice_run, json!({}), 1),
            memory("Plays chess on Sundays", &alice, json!({}), 2),
            memory("Likes green tea", &bob, json!({}), 3),
        ],
    )
    .await;

    let found = search(store, &alice, "Likes green tea", None, 10).await;
    let names: Vec<&str> = found.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(names, ["Likes green tea", "Likes green tea in the morning", "Plays chess on Sundays"]);
    assert!((found[0].1 - 1.0).abs() < 1e-4, "identical text scores 1: {found:?}");
    assert!(found.windows(2).all(|w| w[0].1 >= w[1].1), "best first: {found:?}");
    assert!(found.iter().all(|(_, s)| (0.0..=1.0).contains(s)), "{found:?}");

    let run_only = search(store, &alice_run, "Likes green tea", None, 10).await;
    assert_eq!(run_only.len(), 1, "a run scope sees only its run: {run_only:?}");
    assert_eq!(search(store, &alice, "tea", None, 1).await.len(), 1, "the limit holds");
    assert!(search(store, &alice, "tea", None, 0).await.is_empty());
    let bobs = search(store, &bob, "chess", None, 10).await;
    assert_eq!(bobs.len(), 1, "bob sees only his: {bobs:?}");
}

/// Listings and searches with filters return exactly what [`Filter::matches`] admits.
pub async fn filters_match_the_domain(store: &dyn VectorStore) {
    let alice = scope(Some(&fresh_user("alice")), Some("bot"), None);
    let other_agent = scope(alice.user_id().map(|u| u.as_str()), Some("other"), None);
    let mut records = vec![
        memory("Likes Green tea", &alice, json!({"topic": "Food", "n": 1, "tags": ["a", "b"], "ok": true}), 0),
        memory("Drinks coffee", &alice, json!({"topic": "food", "n": 2.5, "tags": ["b"]}), 1),
        memory("Runs marathons", &alice, json!({"topic": "sport", "n": 3, "ok": false}), 2),
        memory("Reads novels", &alice, json!({"n": 10}), 3),
        memory("Likes green tea too", &other_agent, json!({"topic": "food", "n": 1}), 4),
        memory(
            "Bakes Äpfel cake",
            &alice,
            json!({"topic": "Äpfel", "note": "100% \"sure\" at 5 o'clock_x", "n": -2.5}),
            5,
        ),
    ];
    records[3].role = Some("assistant".into());
    insert_all(store, &records).await;

    let filters = [
        json!({"topic": "food"}),
        json!({"topic": {"icontains": "FOO"}}),
        json!({"topic": {"contains": "oo"}}),
        json!({"topic": {"ne": "food"}}),
        json!({"topic": {"nin": ["food", "sport"]}}),
        json!({"topic": {"in": ["food", "sport"]}}),
        json!({"n": {"gte": 2}}),
        json!({"n": {"gt": 1, "lt": 10}}),
        json!({"n": 1}),
        json!({"n": 2.5}),
        json!({"tags": "b"}),
        json!({"tags": {"contains": "a"}}),
        json!({"ok": true}),
        json!({"ok": {"ne": true}}),
        json!({"role": "assistant"}),
        json!({"OR": [{"topic": "sport"}, {"n": {"gte": 10}}]}),
        json!({"OR": [{"topic": "sport"}, {"topic": {"icontains": "FOOD"}}]}),
        json!({"NOT": [{"topic": "food"}]}),
        json!({"AND": [{"n": {"lte": 3}}, {"NOT": [{"ok": false}]}]}),
        json!({"created_at": {"gte": "2026-03-01T12:01:00.000000+00:00"}}),
        json!({"agent_id": "other"}),
        json!({"topic": {"icontains": "äpf"}}),
        json!({"note": {"contains": "%"}}),
        json!({"note": {"contains": "_"}}),
        json!({"note": {"contains": "o'clock"}}),
        json!({"note": {"icontains": "\"SURE\""}}),
        json!({"missing": {"ne": "x"}}),
        json!({"missing": "x"}),
        json!({"topic": {"in": []}}),
        json!({"n": {"lt": 0}}),
        json!({"NOT": [{"OR": [{"ok": true}, {"tags": {"contains": "a"}}]}], "n": {"gte": -5}}),
    ];
    for filter in filters {
        let parsed = Filter::parse(&filter).unwrap();
        let mut expected: Vec<&MemoryRecord> =
            records.iter().filter(|r| alice.contains(&r.scope) && parsed.matches(r)).collect();
        expected.sort_by_key(|r| std::cmp::Reverse(r.created_at));
        let listed = list(store, &alice, Some(filter.clone()), 100).await;
        assert_eq!(texts(&listed), expected.iter().map(|r| r.text.as_str()).collect::<Vec<_>>(), "list with {filter}");
        let newest = list(store, &alice, Some(filter.clone()), 1).await;
        assert_eq!(texts(&newest), expected.iter().take(1).map(|r| r.text.as_str()).collect::<Vec<_>>(), "{filter}");
        let mut searched: Vec<String> = search(store, &alice, "Likes green tea", Some(filter.clone()), 100)
            .await
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        searched.sort();
        let mut wanted: Vec<String> = expected.iter().map(|r| r.text.as_str().to_owned()).collect();
        wanted.sort();
        assert_eq!(searched, wanted, "search with {filter}");
    }
}

/// Listings are newest first and honour the limit.
pub async fn list_is_newest_first(store: &dyn VectorStore) {
    let alice = scope(Some(&fresh_user("alice")), None, None);
    let records: Vec<MemoryRecord> =
        (0..7).map(|i| memory(&format!("Fact number {i}"), &alice, json!({}), (i * 37) % 7)).collect();
    insert_all(store, &records).await;
    let listed = list(store, &alice, None, 3).await;
    let mut expected = records.clone();
    expected.sort_by_key(|r| std::cmp::Reverse(r.created_at));
    assert_eq!(texts(&listed), texts(&expected[..3]));
    assert_eq!(list(store, &alice, None, 100).await.len(), 7);
    assert!(list(store, &alice, None, 0).await.is_empty());
}

/// Hash lookups stay in the scope.
pub async fn find_by_hash_stays_in_scope(store: &dyn VectorStore) {
    let alice = scope(Some(&fresh_user("alice")), None, None);
    let bob = scope(Some(&fresh_user("bob")), None, None);
    let tea = memory("Likes tea", &alice, json!({}), 0);
    let tea_again = memory("Likes tea", &alice, json!({}), 1);
    let coffee = memory("Likes coffee", &alice, json!({}), 2);
    let bobs_tea = memory("Likes tea", &bob, json!({}), 3);
    insert_all(store, &[tea.clone(), tea_again.clone(), coffee.clone(), bobs_tea]).await;
    let mut found: Vec<MemoryId> =
        store.find_by_hash(&alice, std::slice::from_ref(&tea.hash)).await.unwrap().into_iter().map(|r| r.id).collect();
    found.sort();
    let mut expected = vec![tea.id, tea_again.id];
    expected.sort();
    assert_eq!(found, expected);
    let both = store.find_by_hash(&alice, &[tea.hash.clone(), coffee.hash.clone()]).await.unwrap();
    assert_eq!(both.len(), 3);
    assert!(store.find_by_hash(&alice, &[]).await.unwrap().is_empty());
}

/// Deleting a scope deletes it and nothing else.
pub async fn delete_scope_deletes_only_the_scope(store: &dyn VectorStore) {
    let alice_id = fresh_user("alice");
    let alice = scope(Some(&alice_id), None, None);
    let alice_run = scope(Some(&alice_id), None, Some("r1"));
    let bob = scope(Some(&fresh_user("bob")), None, None);
    insert_all(
        store,
        &[
            memory("One", &alice, json!({}), 0),
            memory("Two", &alice_run, json!({}), 1),
            memory("Three", &alice_run, json!({}), 2),
            memory("Four", &bob, json!({}), 3),
        ],
    )
    .await;
    assert_eq!(store.delete_scope(&alice_run).await.unwrap(), 2);
    assert_eq!(texts(&list(store, &alice, None, 10).await), ["One"]);
    assert_eq!(store.delete_scope(&alice).await.unwrap(), 1);
    assert!(list(store, &alice, None, 10).await.is_empty());
    assert_eq!(texts(&list(store, &bob, None, 10).await), ["Four"]);
    assert_eq!(store.delete_scope(&alice).await.unwrap(), 0);
}

/// The owners listed are exact user/agent/run combinations with their counts; deleted owners
/// leave the list.
pub async fn scopes_are_counted_per_owner(store: &dyn VectorStore) {
    let alice_id = fresh_user("alice");
    let alice = scope(Some(&alice_id), None, None);
    let alice_bot = scope(Some(&alice_id), Some("bot"), None);
    let run_only = scope(None, None, Some(&fresh_user("run")));
    insert_all(
        store,
        &[
            memory("One", &alice, json!({}), 0),
            memory("Two", &alice, json!({}), 1),
            memory("Three", &alice_bot, json!({}), 2),
            memory("Four", &run_only, json!({}), 3),
        ],
    )
    .await;
    let counts = store.scopes().await.unwrap();
    let of = |s: &Scope| counts.iter().filter(|c| &c.scope == s).map(|c| c.memories).collect::<Vec<_>>();
    assert_eq!(of(&alice), [2], "{counts:?}");
    assert_eq!(of(&alice_bot), [1]);
    assert_eq!(of(&run_only), [1]);
    store.delete_scope(&alice).await.unwrap();
    let counts = store.scopes().await.unwrap();
    assert!(!counts.iter().any(|c| c.scope.user_id().is_some_and(|u| u.as_str() == alice_id)), "{counts:?}");
    assert!(counts.iter().any(|c| c.scope == run_only));
    store.delete_scope(&run_only).await.unwrap();
}

/// Replaying an insert (the same id again, as a retried write does) overwrites the memory, text
/// and vector, instead of adding a second one.
pub async fn replayed_inserts_overwrite(store: &dyn VectorStore) {
    let alice = scope(Some(&fresh_user("alice")), None, None);
    let tea = memory("Likes tea", &alice, json!({"topic": "drinks"}), 0);
    let lisbon = memory("Lives in Lisbon", &alice, json!({}), 1);
    insert_all(store, &[tea.clone(), lisbon.clone()]).await;
    insert_all(store, std::slice::from_ref(&tea)).await;
    assert_eq!(texts(&list(store, &alice, None, 10).await), ["Lives in Lisbon", "Likes tea"]);

    let revised = tea.revised(
        MemoryText::parse("text", "Plays chess on Sundays").unwrap(),
        &Metadata::default(),
        tea.created_at + Duration::minutes(5),
    );
    insert_all(store, std::slice::from_ref(&revised)).await;
    assert_eq!(store.get(tea.id).await.unwrap().as_ref(), Some(&revised));
    assert_eq!(texts(&list(store, &alice, None, 10).await), ["Lives in Lisbon", "Plays chess on Sundays"]);
    let found = search(store, &alice, "Plays chess on Sundays", None, 1).await;
    assert_eq!(found[0].0, "Plays chess on Sundays", "the replay's vector replaced the old one");
    assert!((found[0].1 - 1.0).abs() < 1e-4, "{found:?}");
}

/// Every read (list, search, hash lookup) of every kind of scope (a user, a user's agent or run,
/// an agent across users) returns exactly the memories the scope contains; ids differing only in
/// case are other owners; a filter naming another owner never widens the scope; deleting a scope
/// deletes exactly what it contains.
pub async fn every_read_stays_in_the_scope(store: &dyn VectorStore) {
    let alice_id = fresh_user("alice");
    let bob_id = fresh_user("bob");
    let bot_id = fresh_user("bot");
    let alice = scope(Some(&alice_id), None, None);
    let alice_bot = scope(Some(&alice_id), Some(&bot_id), None);
    let alice_run = scope(Some(&alice_id), None, Some("r1"));
    let bob = scope(Some(&bob_id), None, None);
    let bob_bot = scope(Some(&bob_id), Some(&bot_id), None);
    let bot_only = scope(None, Some(&bot_id), None);
    let capital_alice = scope(Some(&alice_id.to_uppercase()), None, None);
    let records = [
        memory("Likes green tea", &alice, json!({}), 0),
        memory("Builds robots", &alice_bot, json!({}), 1),
        memory("Runs on Mondays", &alice_run, json!({}), 2),
        memory("Likes black tea", &bob, json!({}), 3),
        memory("Plays the piano", &bob_bot, json!({}), 4),
        memory("Answers in French", &bot_only, json!({}), 5),
        memory("Likes tea with milk", &capital_alice, json!({}), 6),
    ];
    insert_all(store, &records).await;
    let hashes: Vec<_> = records.iter().map(|r| r.hash.clone()).collect();
    for probe in [&alice, &alice_bot, &alice_run, &bob, &bot_only, &capital_alice] {
        let mut expected: Vec<&str> =
            records.iter().filter(|r| probe.contains(&r.scope)).map(|r| r.text.as_str()).collect();
        expected.sort_unstable();
        assert!(!expected.is_empty());
        let listed = list(store, probe, None, 100).await;
        let mut listed = texts(&listed);
        listed.sort_unstable();
        assert_eq!(listed, expected, "list {probe:?}");
        let mut searched: Vec<String> =
            search(store, probe, "Likes tea", None, 100).await.into_iter().map(|(t, _)| t).collect();
        searched.sort_unstable();
        assert_eq!(searched, expected, "search {probe:?}");
        let mut by_hash: Vec<String> =
            store.find_by_hash(probe, &hashes).await.unwrap().into_iter().map(|r| r.text.as_str().to_owned()).collect();
        by_hash.sort_unstable();
        assert_eq!(by_hash, expected, "find_by_hash {probe:?}");
    }
    let widening = json!({"OR": [{"user_id": bob_id}, {"user_id": alice_id}]});
    assert_eq!(texts(&list(store, &bob, Some(widening.clone()), 100).await).len(), 2, "bob's two only");
    assert!(search(store, &bob, "Likes tea", Some(json!({"user_id": alice_id})), 100).await.is_empty());

    assert_eq!(store.delete_scope(&alice_bot).await.unwrap(), 1);
    assert_eq!(list(store, &alice, None, 100).await.len(), 2);
    assert_eq!(store.delete_scope(&alice).await.unwrap(), 2);
    assert!(list(store, &alice, None, 100).await.is_empty());
    assert_eq!(list(store, &bob, None, 100).await.len(), 2, "bob's memories stay");
    assert_eq!(texts(&list(store, &bot_only, None, 100).await), ["Answers in French", "Plays the piano"]);
    assert_eq!(texts(&list(store, &capital_alice, None, 100).await), ["Likes tea with milk"]);
}

/// A memory's vector under a unit axis `i` scaled by `length` (plus `tilt` along axis 1).
fn axis(i: usize, length: f32, tilt: f32) -> Vec<f32> {
    let mut v = vec![0.0; DIMS];
    v[i] = length;
    v[1] += tilt;
    v
}

/// Scores are cosine similarities whatever the vectors' lengths, best first, an opposite vector
/// scoring 0 (never below); the limit holds and no rerank score is made up.
pub async fn scores_are_cosine_similarities(store: &dyn VectorStore) {
    let alice = scope(Some(&fresh_user("alice")), None, None);
    let named = |text: &str, minutes: i64| memory(text, &alice, json!({}), minutes);
    let (same, near, orthogonal, opposite) =
        (named("same", 0), named("near", 1), named("orthogonal", 2), named("opposite", 3));
    store
        .insert(&[
            (opposite.clone(), axis(0, -1.0, 0.0)),
            (near.clone(), axis(0, 1.0, 1.0)),
            (same.clone(), axis(0, 2.0, 0.0)),
            (orthogonal.clone(), axis(2, 5.0, 0.0)),
        ])
        .await
        .unwrap();
    let query = |limit: usize| VectorQuery { vector: axis(0, 1.0, 0.0), scope: alice.clone(), filter: None, limit };
    let hits = store.search(&query(10)).await.unwrap();
    let order: Vec<&str> = hits.iter().map(|h| h.record.text.as_str()).collect();
    assert_eq!(order, ["same", "near", "orthogonal", "opposite"]);
    let scores: Vec<f32> = hits.iter().map(|h| h.score.value()).collect();
    assert!((scores[0] - 1.0).abs() < 1e-4, "{scores:?}");
    assert!((scores[1] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-4, "{scores:?}");
    assert!(scores[2].abs() < 1e-4 && scores[3] == 0.0, "{scores:?}");
    assert!(hits.iter().all(|h| h.rerank_score.is_none()));
    assert_eq!(store.search(&query(2)).await.unwrap().len(), 2);
    assert!(store.search(&query(0)).await.unwrap().is_empty());
}

/// Keyword search: the memories of the scope (and filter) sharing a query term, best BM25 first.
pub async fn lexical(
    store: &dyn VectorStore,
    scope: &Scope,
    text: &str,
    filter: Option<Value>,
    limit: usize,
) -> Vec<(String, f32, f32)> {
    let query = LexicalQuery {
        terms: query_terms(text),
        vector: embed_text(text, DIMS),
        scope: scope.clone(),
        filter: filter.map(|f| Filter::parse(&f).unwrap()),
        limit,
    };
    store
        .lexical_search(&query)
        .await
        .unwrap()
        .into_iter()
        .map(|h| (h.record.text.as_str().to_owned(), h.bm25, h.semantic.value()))
        .collect()
}

/// A store with a lexical index: a rare word finds its memory (stemmed, CJK pairs), rarer words
/// weigh more, matches never leave the scope or the filter, updates and deletes keep the index true.
pub async fn lexical_search_is_scoped_and_ranked(store: &dyn VectorStore) {
    assert!(store.keeps_lexical_index());
    let alice = scope(Some(&fresh_user("alice")), None, None);
    let alice_bot = scope(alice.user_id().map(|u| u.as_str()), Some("bot"), None);
    let bob = scope(Some(&fresh_user("bob")), None, None);
    let mut records = vec![
        memory("Caroline went hiking near Zanzibar last spring", &alice, json!({"topic": "travel"}), 1),
        memory("Caroline likes the colour blue", &alice, json!({"topic": "taste"}), 2),
        memory("Caroline adopted a dog", &alice, json!({"topic": "pets"}), 3),
        memory("用户喜欢喝乌龙茶", &alice, json!({}), 4),
        memory("Bob flew to Zanzibar", &bob, json!({"topic": "travel"}), 5),
        memory("The bot remembers Zanzibar too", &alice_bot, json!({"topic": "travel"}), 6),
    ];
    insert_all(store, &records).await;
    // The rare word wins over the common one, and stemming matches "hikes" with "hiking".
    let found = lexical(store, &alice, "Does Caroline still hike in Zanzibar?", None, 10).await;
    assert_eq!(found[0].0, "Caroline went hiking near Zanzibar last spring", "{found:?}");
    assert!(found.iter().all(|(_, bm25, semantic)| *bm25 > 0.0 && (0.0..=1.0).contains(semantic)));
    assert!(found.windows(2).all(|w| w[0].1 >= w[1].1), "best BM25 first: {found:?}");
    // Never another user's memory; a narrower scope sees only its own; filters apply.
    let texts: Vec<&str> = found.iter().map(|f| f.0.as_str()).collect();
    assert!(!texts.contains(&"Bob flew to Zanzibar"), "{texts:?}");
    assert!(texts.contains(&"The bot remembers Zanzibar too"), "alice's scope includes her agents: {texts:?}");
    let bot_only = lexical(store, &alice_bot, "Zanzibar", None, 10).await;
    assert_eq!(bot_only.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(), ["The bot remembers Zanzibar too"]);
    assert!(lexical(store, &alice, "Zanzibar", Some(json!({"topic": "pets"})), 10).await.is_empty());
    assert_eq!(lexical(store, &bob, "Zanzibar", None, 10).await.len(), 1);
    // CJK: a two-character word of the query finds the memory.
    let tea = lexical(store, &alice, "乌龙", None, 10).await;
    assert_eq!(tea.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(), ["用户喜欢喝乌龙茶"]);
    // An update rewrites the terms; a delete removes them.
    records[2] = records[2].revised(
        MemoryText::parse("text", "Caroline adopted a parrot").unwrap(),
        &Metadata::default(),
        Utc::now(),
    );
    store.update(&records[2], Some(embed_text("Caroline adopted a parrot", DIMS))).await.unwrap();
    assert!(lexical(store, &alice, "dog", None, 10).await.is_empty());
    assert_eq!(lexical(store, &alice, "parrot", None, 10).await.len(), 1);
    assert!(store.delete(records[2].id).await.unwrap());
    assert!(lexical(store, &alice, "parrot", None, 10).await.is_empty());
    assert!(lexical(store, &alice, "nothing matches this", None, 10).await.is_empty());
}

/// Runs every scenario.
pub async fn all(store: &dyn VectorStore) {
    store.ensure_ready().await.unwrap();
    assert_eq!(store.dimensions(), DIMS);
    crud_round_trip(store).await;
    replayed_inserts_overwrite(store).await;
    search_is_scoped_and_ranked(store).await;
    every_read_stays_in_the_scope(store).await;
    scores_are_cosine_similarities(store).await;
    filters_match_the_domain(store).await;
    list_is_newest_first(store).await;
    find_by_hash_stays_in_scope(store).await;
    delete_scope_deletes_only_the_scope(store).await;
    scopes_are_counted_per_owner(store).await;
    if store.keeps_lexical_index() {
        lexical_search_is_scoped_and_ranked(store).await;
    }
}
