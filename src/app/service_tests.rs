//! Unit tests of the memory use cases with mocked ports.

use super::api_tests::{FakeJournal, TestClock};
use super::service::{MemoryService, Prompts, ServiceError};
use crate::domain::fusion::Retrieval;
use crate::domain::graph::resolve::EntityMatch;
use crate::domain::graph::{GraphChanges, GraphPlan, GraphSettings, Relation, StoredRelation};
use crate::domain::history::{HistoryEntry, HistoryEvent};
use crate::domain::memory::{ContentHash, MemoryId, MemoryRecord, MemoryText, Metadata, ScoredMemory, Similarity};
use crate::domain::message::Conversation;
use crate::domain::operations::{
    AddRequest, ChangeEvent, Limit, ListRequest, MemoryRef, Query, SearchRequest, Threshold, UpdateRequest,
    WriteCommand,
};
use crate::domain::scope::{Scope, ScopeCount};
use crate::domain::write_plan::PlannedChange;
use crate::ports::backends::Backends;
use crate::ports::clock::Clock;
use crate::ports::embedder::{EmbedError, EmbedPurpose, Embedder};
use crate::ports::graph_store::{GraphBackend, GraphStore};
use crate::ports::history_store::HistoryStore;
use crate::ports::llm::{ChatRequest, ChatResponse, Llm, LlmError};
use crate::ports::reranker::{RerankError, RerankHit, Reranker};
use crate::ports::store::StoreError;
use crate::ports::vector_store::{LexicalHit, LexicalQuery, ListQuery, VectorQuery, VectorStore};
use async_trait::async_trait;
use chrono::Utc;
use mockall::predicate::*;
use mockall::Sequence;
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

mockall::mock! {
    pub Llm {}
    #[async_trait]
    impl Llm for Llm {
        async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, LlmError>;
    }
}

mockall::mock! {
    pub Embedder {}
    #[async_trait]
    impl Embedder for Embedder {
        async fn embed(&self, texts: &[String], purpose: EmbedPurpose) -> Result<Vec<Vec<f32>>, EmbedError>;
        fn dimensions(&self) -> usize;
    }
}

mockall::mock! {
    pub Store {}
    #[async_trait]
    impl VectorStore for Store {
        async fn ensure_ready(&self) -> Result<(), StoreError>;
        fn dimensions(&self) -> usize;
        async fn insert(&self, items: &[(MemoryRecord, Vec<f32>)]) -> Result<(), StoreError>;
        async fn search(&self, query: &VectorQuery) -> Result<Vec<ScoredMemory>, StoreError>;
        fn keeps_lexical_index(&self) -> bool;
        async fn lexical_search(&self, query: &LexicalQuery) -> Result<Vec<LexicalHit>, StoreError>;
        async fn get(&self, id: MemoryId) -> Result<Option<MemoryRecord>, StoreError>;
        async fn list(&self, query: &ListQuery) -> Result<Vec<MemoryRecord>, StoreError>;
        async fn find_by_hash(&self, scope: &Scope, hashes: &[ContentHash]) -> Result<Vec<MemoryRecord>, StoreError>;
        async fn update(&self, record: &MemoryRecord, vector: Option<Vec<f32>>) -> Result<(), StoreError>;
        async fn delete(&self, id: MemoryId) -> Result<bool, StoreError>;
        async fn delete_scope(&self, scope: &Scope) -> Result<u64, StoreError>;
        async fn scopes(&self) -> Result<Vec<ScopeCount>, StoreError>;
    }
}

mockall::mock! {
    pub History {}
    #[async_trait]
    impl HistoryStore for History {
        async fn ensure_ready(&self) -> Result<(), StoreError>;
        async fn append(&self, entries: &[HistoryEntry]) -> Result<(), StoreError>;
        async fn history(&self, id: MemoryId) -> Result<Vec<HistoryEntry>, StoreError>;
        async fn erase(&self, scope: &Scope, memory_ids: &[MemoryId]) -> Result<u64, StoreError>;
    }
}

mockall::mock! {
    pub Graph {}
    #[async_trait]
    impl GraphStore for Graph {
        async fn ensure_ready(&self) -> Result<(), StoreError>;
        async fn similar_entities(
            &self,
            scope: &Scope,
            vectors: &[Vec<f32>],
            threshold: f64,
        ) -> Result<Vec<EntityMatch>, StoreError>;
        async fn relations_touching(
            &self,
            scope: &Scope,
            names: &[String],
            limit: usize,
        ) -> Result<Vec<StoredRelation>, StoreError>;
        async fn apply(&self, plan: &GraphPlan, scope: &Scope) -> Result<GraphChanges, StoreError>;
        async fn relations_near(
            &self,
            scope: &Scope,
            vectors: &[Vec<f32>],
            threshold: f64,
            limit: usize,
        ) -> Result<Vec<Relation>, StoreError>;
        async fn list(&self, scope: &Scope, limit: usize) -> Result<Vec<Relation>, StoreError>;
        async fn delete_scope(&self, scope: &Scope) -> Result<(), StoreError>;
    }
}

mockall::mock! {
    pub Rerank {}
    #[async_trait]
    impl Reranker for Rerank {
        async fn rerank(&self, query: &str, documents: &[String], top_n: usize) -> Result<Vec<RerankHit>, RerankError>;
    }
}

fn alice() -> Scope {
    Scope::parse(Some("alice"), None, None).unwrap()
}

fn text(s: &str) -> MemoryText {
    MemoryText::parse("t", s).unwrap()
}

fn stored(n: u128, body: &str, meta: serde_json::Value) -> MemoryRecord {
    MemoryRecord::new(
        MemoryId::from_uuid(Uuid::from_u128(n)),
        text(body),
        Metadata::parse(meta).unwrap(),
        alice(),
        Utc::now(),
    )
}

fn answer(body: serde_json::Value) -> Result<ChatResponse, LlmError> {
    Ok(ChatResponse { content: Some(body.to_string()), ..ChatResponse::default() })
}

fn embedder() -> MockEmbedder {
    let mut e = MockEmbedder::new();
    e.expect_embed().returning(|texts, _| Ok(texts.iter().map(|t| vec![t.len() as f32, 1.0]).collect()));
    e.expect_dimensions().return_const(2usize);
    e
}

fn service(llm: MockLlm, store: MockStore, history: MockHistory, graph: Option<MockGraph>) -> MemoryService {
    let backends = Backends {
        llm: Some(Arc::new(llm)),
        history: Arc::new(history),
        graph: graph.map(|g| GraphBackend { store: Arc::new(g), settings: GraphSettings::default() }),
        ..search_backends(store)
    };
    MemoryService::new(backends, Prompts::default())
}

fn add_request(user: &str) -> AddRequest {
    AddRequest {
        conversation: Conversation::from_turn(user, None),
        scope: alice(),
        metadata: Metadata::parse(json!({"source": "chat"})).unwrap(),
        infer: true,
        actor_id: None,
        observed_at: None,
        expires_at: None,
        idempotency_key: None,
    }
}

#[tokio::test]
async fn nothing_related_stored_means_one_llm_call_and_only_adds() {
    let mut llm = MockLlm::new();
    llm.expect_chat().times(1).returning(|_| answer(json!({"facts": ["Is vegetarian", "Works as a nurse"]})));
    let mut store = MockStore::new();
    store.expect_find_by_hash().times(1).returning(|_, _| Ok(vec![]));
    store.expect_search().times(2).returning(|_| Ok(vec![]));
    store
        .expect_insert()
        .withf(|items| items.len() == 2 && items.iter().all(|(r, v)| r.scope == alice() && v.len() == 2))
        .times(1)
        .returning(|_| Ok(()));
    let mut history = MockHistory::new();
    history
        .expect_append()
        .withf(|rows| rows.len() == 2 && rows.iter().all(|r| r.event == HistoryEvent::Add))
        .times(1)
        .returning(|_| Ok(()));
    let report = service(llm, store, history, None).add(add_request("I'm a vegetarian nurse")).await.unwrap();
    assert_eq!(report.llm_calls, 1);
    let events: Vec<_> = report.results.iter().map(|c| (c.event, c.memory.as_str())).collect();
    assert_eq!(events, vec![(ChangeEvent::Add, "Is vegetarian"), (ChangeEvent::Add, "Works as a nurse")]);
}

#[tokio::test]
async fn a_fact_already_stored_is_none_without_a_decision_call() {
    let mut llm = MockLlm::new();
    llm.expect_chat().times(1).returning(|_| answer(json!({"facts": ["Likes tea"]})));
    let mut store = MockStore::new();
    store.expect_find_by_hash().returning(|_, _| Ok(vec![stored(1, "Likes tea", json!({}))]));
    store.expect_search().never();
    store.expect_insert().never();
    let history = MockHistory::new();
    let report = service(llm, store, history, None).add(add_request("I like tea")).await.unwrap();
    assert_eq!(report.llm_calls, 1);
    assert_eq!(report.results.len(), 1);
    assert_eq!(report.results[0].event, ChangeEvent::None);
    assert_eq!(report.results[0].id, MemoryId::from_uuid(Uuid::from_u128(1)));
}

#[tokio::test]
async fn a_contradiction_updates_and_keeps_the_memorys_own_metadata() {
    let mut seq = Sequence::new();
    let mut llm = MockLlm::new();
    llm.expect_chat().times(1).in_sequence(&mut seq).returning(|_| answer(json!({"facts": ["Lives in Berlin"]})));
    llm.expect_chat()
        .withf(|req| req.messages[0].content.contains("\"id\":\"0\",\"text\":\"Lives in Paris\""))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| {
            answer(json!({"memory": [{"id": "0", "text": "Lives in Berlin", "event": "UPDATE", "old_memory": "Lives in Paris"}]}))
        });
    let mut store = MockStore::new();
    store.expect_find_by_hash().returning(|_, _| Ok(vec![]));
    store.expect_search().returning(|_| {
        Ok(vec![ScoredMemory {
            record: stored(7, "Lives in Paris", json!({"topic": "home"})),
            score: Similarity::from_cosine(0.8),
            rerank_score: None,
            parts: None,
        }])
    });
    store
        .expect_update()
        .withf(|record, vector| {
            record.text.as_str() == "Lives in Berlin"
                && record.metadata.as_map().get("topic") == Some(&json!("home"))
                && record.metadata.as_map().get("source") == Some(&json!("chat"))
                && vector.is_some()
        })
        .times(1)
        .returning(|_, _| Ok(()));
    let mut history = MockHistory::new();
    history
        .expect_append()
        .withf(|rows| {
            rows.len() == 1
                && rows[0].event == HistoryEvent::Update
                && rows[0].old_memory.as_ref().map(MemoryText::as_str) == Some("Lives in Paris")
                && rows[0].new_memory.as_ref().map(MemoryText::as_str) == Some("Lives in Berlin")
        })
        .times(1)
        .returning(|_| Ok(()));
    let report = service(llm, store, history, None).add(add_request("I moved to Berlin")).await.unwrap();
    assert_eq!(report.llm_calls, 2);
    assert_eq!(report.results[0].event, ChangeEvent::Update);
    assert_eq!(report.results[0].previous_memory.as_deref(), Some("Lives in Paris"));
}

#[tokio::test]
async fn no_longer_deletes_with_a_history_row() {
    let mut llm = MockLlm::new();
    let mut seq = Sequence::new();
    llm.expect_chat().times(1).in_sequence(&mut seq).returning(|_| answer(json!({"facts": ["No longer has a cat"]})));
    llm.expect_chat()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| answer(json!({"memory": [{"id": "0", "text": "Has a cat", "event": "DELETE"}]})));
    let mut store = MockStore::new();
    store.expect_find_by_hash().returning(|_, _| Ok(vec![]));
    store.expect_search().returning(|_| {
        Ok(vec![ScoredMemory {
            record: stored(3, "Has a cat", json!({})),
            score: Similarity::from_cosine(0.7),
            rerank_score: None,
            parts: None,
        }])
    });
    store.expect_delete().with(eq(MemoryId::from_uuid(Uuid::from_u128(3)))).times(1).returning(|_| Ok(true));
    let mut history = MockHistory::new();
    history
        .expect_append()
        .withf(|rows| rows.len() == 1 && rows[0].event == HistoryEvent::Delete && rows[0].is_deleted)
        .times(1)
        .returning(|_| Ok(()));
    let report = service(llm, store, history, None).add(add_request("My cat is gone")).await.unwrap();
    assert_eq!(report.results[0].event, ChangeEvent::Delete);
}

#[tokio::test]
async fn infer_false_stores_the_messages_as_given() {
    let mut llm = MockLlm::new();
    llm.expect_chat().never();
    let mut store = MockStore::new();
    store.expect_find_by_hash().returning(|_, _| Ok(vec![]));
    store
        .expect_insert()
        .withf(|items| {
            items.len() == 1
                && items[0].0.text.as_str() == "Remember the code 1234"
                && items[0].0.role.as_deref() == Some("user")
        })
        .times(1)
        .returning(|_| Ok(()));
    let mut history = MockHistory::new();
    history.expect_append().times(1).returning(|_| Ok(()));
    let mut request = add_request("Remember the code 1234");
    request.infer = false;
    let report = service(llm, store, history, None).add(request).await.unwrap();
    assert_eq!(report.llm_calls, 0);
    assert_eq!(report.results[0].event, ChangeEvent::Add);
}

#[tokio::test]
async fn a_graph_failure_keeps_the_vector_write_and_reports_degraded() {
    let mut llm = MockLlm::new();
    // one answer read by both readers: the facts, and the relations of the graph extraction
    let relations = json!([{"source": "alice", "relationship": "likes", "destination": "tea"}]);
    llm.expect_chat().returning(move |_| answer(json!({"facts": ["Likes tea"], "relations": relations})));
    let mut store = MockStore::new();
    store.expect_find_by_hash().returning(|_, _| Ok(vec![]));
    store.expect_search().returning(|_| Ok(vec![]));
    store.expect_insert().times(1).returning(|_| Ok(()));
    let mut history = MockHistory::new();
    history.expect_append().returning(|_| Ok(()));
    let mut graph = MockGraph::new();
    graph
        .expect_ensure_ready()
        .returning(|| Err(StoreError::Unavailable { store: "graph store", message: "connection refused".into() }));
    let report = service(llm, store, history, Some(graph)).add(add_request("I like tea")).await.unwrap();
    assert_eq!(report.results.len(), 1);
    assert!(report.graph_degraded.unwrap().contains("connection refused"));
}

#[tokio::test]
async fn llm_errors_propagate_and_say_whether_to_retry() {
    let mut llm = MockLlm::new();
    llm.expect_chat().returning(|_| Err(LlmError::RateLimited("slow down".into())));
    let err = service(llm, MockStore::new(), MockHistory::new(), None).add(add_request("hi there")).await.unwrap_err();
    assert!(err.is_transient());
    assert!(matches!(err, ServiceError::Llm(_)));
}

#[tokio::test]
async fn update_of_another_users_memory_is_not_found() {
    let mut store = MockStore::new();
    store.expect_get().returning(|_| {
        let mut record = stored(9, "Secret", json!({}));
        record.scope = Scope::parse(Some("bob"), None, None).unwrap();
        Ok(Some(record))
    });
    store.expect_update().never();
    let request = UpdateRequest {
        target: MemoryRef { id: MemoryId::from_uuid(Uuid::from_u128(9)), scope: Some(alice()) },
        text: text("Changed"),
        metadata: Metadata::default(),
        expires_at: None,
    };
    let err = service(MockLlm::new(), store, MockHistory::new(), None)
        .execute(&WriteCommand::Update(request))
        .await
        .unwrap_err();
    assert_eq!(err, ServiceError::NotFound(MemoryId::from_uuid(Uuid::from_u128(9))));
}

#[tokio::test]
async fn search_applies_threshold_and_reranker() {
    let mut store = MockStore::new();
    store.expect_search().withf(|q| q.limit == 20 && q.scope == alice()).returning(|_| {
        Ok(vec![
            ScoredMemory {
                record: stored(1, "Likes tea", json!({})),
                score: Similarity::from_cosine(0.9),
                rerank_score: None,
                parts: None,
            },
            ScoredMemory {
                record: stored(2, "Likes coffee", json!({})),
                score: Similarity::from_cosine(0.6),
                rerank_score: None,
                parts: None,
            },
            ScoredMemory {
                record: stored(3, "Has a cat", json!({})),
                score: Similarity::from_cosine(0.1),
                rerank_score: None,
                parts: None,
            },
        ])
    });
    let mut reranker = MockRerank::new();
    reranker
        .expect_rerank()
        .withf(|_, docs, top| docs.len() == 2 && *top == 2)
        .returning(|_, _, _| Ok(vec![RerankHit { index: 1, score: 0.99 }, RerankHit { index: 0, score: 0.5 }]));
    let backends = Backends { reranker: Some(Arc::new(reranker)), ..search_backends(store) };
    let request = SearchRequest {
        query: Query::parse("drinks").unwrap(),
        scope: alice(),
        filter: None,
        limit: Limit::new("top_k", 2).unwrap(),
        threshold: Some(Threshold::new(0.5).unwrap()),
        rerank: true,
        retrieval: Retrieval::Semantic,
        explain: false,
        show_expired: false,
    };
    let report = MemoryService::new(backends, Prompts::default()).search(request).await.unwrap();
    let texts: Vec<_> = report.results.iter().map(|m| m.record.text.as_str()).collect();
    assert_eq!(texts, vec!["Likes coffee", "Likes tea"]);
    assert_eq!(report.results[0].rerank_score, Some(0.99));
}

fn search_request(query: &str, retrieval: Retrieval, explain: bool) -> SearchRequest {
    SearchRequest {
        query: Query::parse(query).unwrap(),
        scope: alice(),
        filter: None,
        limit: Limit::new("top_k", 2).unwrap(),
        threshold: None,
        rerank: false,
        retrieval,
        explain,
        show_expired: false,
    }
}

fn search_backends(store: MockStore) -> Backends {
    let clock = Arc::new(TestClock::default());
    Backends {
        llm: None,
        embedder: Arc::new(embedder()),
        vector_store: Arc::new(store),
        history: Arc::new(MockHistory::new()),
        journal: Arc::new(FakeJournal::default()),
        graph: None,
        reranker: None,
        clock: clock.clone(),
        ids: clock,
    }
}

fn scored(n: u128, text: &str, cosine: f32) -> ScoredMemory {
    ScoredMemory {
        record: stored(n, text, json!({})),
        score: Similarity::from_cosine(cosine),
        rerank_score: None,
        parts: None,
    }
}

#[tokio::test]
async fn hybrid_search_without_a_lexical_index_scores_keywords_over_more_vector_candidates() {
    let mut store = MockStore::new();
    store.expect_keeps_lexical_index().return_const(false);
    store.expect_lexical_search().never();
    store.expect_search().withf(|q| q.limit == super::retrieval::FALLBACK_CANDIDATES && q.scope == alice()).returning(
        |_| {
            Ok(vec![
                scored(1, "Likes green tea", 0.7),
                scored(2, "Went to Zanzibar in May", 0.3),
                scored(3, "Has a cat", 0.2),
            ])
        },
    );
    let report = MemoryService::new(search_backends(store), Prompts::default())
        .search(search_request("holiday Zanzibar", Retrieval::Hybrid, true))
        .await
        .unwrap();
    let texts: Vec<_> = report.results.iter().map(|m| m.record.text.as_str()).collect();
    assert_eq!(texts, vec!["Went to Zanzibar in May", "Likes green tea"]);
    for hit in &report.results {
        let parts = hit.parts.expect("explain adds the parts");
        assert!((0.0..=1.0).contains(&hit.score.value()));
        let sum = parts.semantic_weight * parts.semantic + parts.lexical_weight * parts.lexical;
        assert!((sum - hit.score.value()).abs() < 1e-5, "{parts:?} vs {}", hit.score.value());
    }
}

#[tokio::test]
async fn hybrid_search_fuses_the_stores_keyword_hits_and_hides_parts_unless_explained() {
    let mut store = MockStore::new();
    store.expect_keeps_lexical_index().return_const(true);
    store
        .expect_search()
        .withf(|q| q.limit == super::retrieval::CANDIDATES)
        .returning(|_| Ok(vec![scored(1, "Likes green tea", 0.7)]));
    store.expect_lexical_search().withf(|q| q.terms == vec!["zanzibar".to_owned()] && q.scope == alice()).returning(
        |_| {
            Ok(vec![LexicalHit {
                record: stored(2, "Went to Zanzibar", json!({})),
                bm25: 3.5,
                semantic: Similarity::from_cosine(0.2),
            }])
        },
    );
    let report = MemoryService::new(search_backends(store), Prompts::default())
        .search(search_request("Zanzibar?", Retrieval::Hybrid, false))
        .await
        .unwrap();
    let texts: Vec<_> = report.results.iter().map(|m| m.record.text.as_str()).collect();
    assert_eq!(texts, vec!["Went to Zanzibar", "Likes green tea"]);
    assert!(report.results.iter().all(|m| m.parts.is_none()));
}

#[tokio::test]
async fn semantic_search_is_the_plain_vector_search() {
    let mut store = MockStore::new();
    store.expect_lexical_search().never();
    store.expect_search().withf(|q| q.limit == 2).returning(|_| Ok(vec![scored(1, "Likes green tea", 0.7)]));
    let report = MemoryService::new(search_backends(store), Prompts::default())
        .search(search_request("Zanzibar", Retrieval::Semantic, false))
        .await
        .unwrap();
    assert_eq!(report.results.len(), 1);
    assert_eq!(report.results[0].score.value(), 0.7);
}

#[tokio::test]
async fn the_conversations_timestamp_grounds_relative_dates_and_is_kept_on_each_memory() {
    let observed = chrono::TimeZone::with_ymd_and_hms(&Utc, 2023, 5, 8, 13, 56, 0).unwrap();
    let mut llm = MockLlm::new();
    // The extraction prompt resolves relative dates against the conversation's date, not today's.
    llm.expect_chat()
        .withf(|req| req.messages[0].content.contains("2023-05-08"))
        .times(1)
        .returning(|_| answer(json!({"facts": ["Went to a support group on 2023-05-07"]})));
    let mut store = store_expecting_one_insert_observed_at(observed);
    store.expect_search().returning(|_| Ok(vec![]));
    let request = AddRequest { observed_at: Some(observed), ..add_request("I went to a support group yesterday") };
    let report = service(llm, store, appending_history(), None).add(request).await.unwrap();
    assert_eq!(report.results[0].memory, "Went to a support group on 2023-05-07");
}

#[tokio::test]
async fn verbatim_adds_keep_the_timestamp_too() {
    let observed = chrono::TimeZone::with_ymd_and_hms(&Utc, 2023, 5, 8, 13, 56, 0).unwrap();
    let store = store_expecting_one_insert_observed_at(observed);
    let request = AddRequest { observed_at: Some(observed), infer: false, ..add_request("Caroline: hi Mel!") };
    service(MockLlm::new(), store, appending_history(), None).add(request).await.unwrap();
}

#[tokio::test]
async fn a_plan_takes_its_time_and_ids_from_the_injected_clock_and_id_source() {
    let clock = Arc::new(TestClock::default());
    let plan = |clock: Arc<TestClock>| async move {
        let mut store = MockStore::new();
        store.expect_find_by_hash().returning(|_, _| Ok(vec![]));
        let backends = Backends { clock: clock.clone(), ids: clock, ..search_backends(store) };
        let request = AddRequest { infer: false, ..add_request("Caroline: I adopted a dog") };
        MemoryService::new(backends, Prompts::default()).plan(&WriteCommand::Add(request)).await.unwrap()
    };
    let first = plan(clock.clone()).await;
    let [PlannedChange::Insert { record, .. }] = &first.changes[..] else { panic!("one insert: {first:?}") };
    assert_eq!(record.id, MemoryId::from_uuid(Uuid::from_u128(1)), "the first id of the source");
    assert_eq!(record.created_at, clock.now());
    assert_eq!(first.history[0].id, Uuid::from_u128(2));
    let again = plan(Arc::new(TestClock::starting_at(clock.now()))).await;
    assert_eq!(again, first, "the same start plans the same write");
}

/// A store where nothing is stored yet and exactly one memory observed at `observed` is inserted.
fn store_expecting_one_insert_observed_at(observed: chrono::DateTime<Utc>) -> MockStore {
    let mut store = MockStore::new();
    store.expect_find_by_hash().returning(|_, _| Ok(vec![]));
    store
        .expect_insert()
        .withf(move |items| items.len() == 1 && items[0].0.observed_at == Some(observed))
        .times(1)
        .returning(|_| Ok(()));
    store
}

fn appending_history() -> MockHistory {
    let mut history = MockHistory::new();
    history.expect_append().returning(|_| Ok(()));
    history
}

#[tokio::test]
async fn expired_memories_are_hidden_from_search_and_get_all_unless_asked() {
    let past = Utc::now() - chrono::Duration::days(1);
    let future = Utc::now() + chrono::Duration::days(1);
    let memories = move || {
        vec![
            scored(1, "Old promo code", 0.9).record.expiring(Some(past)),
            scored(2, "Current promo code", 0.8).record.expiring(Some(future)),
            scored(3, "Likes tea", 0.7).record,
        ]
    };
    let mut store = MockStore::new();
    store.expect_search().returning(move |_| {
        Ok(memories()
            .into_iter()
            .map(|record| ScoredMemory { record, score: Similarity::from_cosine(0.5), rerank_score: None, parts: None })
            .collect())
    });
    store.expect_list().returning(move |_| Ok(memories()));
    let service = MemoryService::new(search_backends(store), Prompts::default());
    let texts =
        |results: Vec<MemoryRecord>| results.into_iter().map(|r| r.text.as_str().to_owned()).collect::<Vec<_>>();
    let mut request = search_request("promo", Retrieval::Semantic, false);
    request.limit = Limit::new("top_k", 10).unwrap();
    let hidden = service.search(request.clone()).await.unwrap().results.into_iter().map(|m| m.record).collect();
    assert_eq!(texts(hidden), ["Current promo code", "Likes tea"]);
    request.show_expired = true;
    assert_eq!(service.search(request).await.unwrap().results.len(), 3);
    let list = |show_expired| ListRequest {
        scope: alice(),
        filter: None,
        limit: Limit::new("limit", 10).unwrap(),
        show_expired,
    };
    assert_eq!(texts(service.get_all(list(false)).await.unwrap().results), ["Current promo code", "Likes tea"]);
    assert_eq!(service.get_all(list(true)).await.unwrap().results.len(), 3);
}

#[tokio::test]
async fn an_update_sets_a_new_expiration_and_keeps_the_old_one_otherwise() {
    let until = chrono::TimeZone::with_ymd_and_hms(&Utc, 2030, 1, 1, 0, 0, 0).unwrap();
    for (given, expected) in [(Some(until), Some(until)), (None, Some(until - chrono::Duration::days(1)))] {
        let mut store = MockStore::new();
        store.expect_get().returning(move |_| {
            Ok(Some(stored(9, "Promo", json!({})).expiring(Some(until - chrono::Duration::days(1)))))
        });
        store.expect_update().withf(move |record, _| record.expires_at == expected).times(1).returning(|_, _| Ok(()));
        let history = appending_history();
        let request = UpdateRequest {
            target: MemoryRef { id: MemoryId::from_uuid(Uuid::from_u128(9)), scope: Some(alice()) },
            text: text("Promo 2"),
            metadata: Metadata::default(),
            expires_at: given,
        };
        service(MockLlm::new(), store, history, None).execute(&WriteCommand::Update(request)).await.unwrap();
    }
}

/// A model that answers the extraction with `facts` after checking the prompt: the conversation
/// reaches it intact and the instructions ask for the language (`forced`, else the conversation's).
fn model_answering(input: &'static str, facts: &'static [&'static str], forced: Option<&'static str>) -> MockLlm {
    let mut llm = MockLlm::new();
    llm.expect_chat()
        .withf(move |request| {
            let system = &request.messages[0].content;
            let asks = match forced {
                Some(language) => system.contains(&format!("write every fact in {language}")),
                None => system.contains("Write each fact in the language the user used"),
            };
            asks && request.messages[1].content.contains(input)
        })
        .times(1)
        .returning(move |_| answer(json!({ "facts": facts })));
    llm
}

/// Adds `input` through a service whose store takes exactly `facts` as written.
async fn add_in_language(input: &'static str, facts: &'static [&'static str], forced: Option<&'static str>) {
    let mut store = MockStore::new();
    store.expect_find_by_hash().returning(|_, _| Ok(vec![]));
    store.expect_search().returning(|_| Ok(vec![]));
    store
        .expect_insert()
        .withf(move |items| items.iter().map(|(r, _)| r.text.as_str()).eq(facts.iter().copied()))
        .times(1)
        .returning(|_| Ok(()));
    let mut history = MockHistory::new();
    history.expect_append().returning(|_| Ok(()));
    let service = service(model_answering(input, facts, forced), store, history, None);
    let prompts = Prompts { language: forced.map(str::to_owned), ..Prompts::default() };
    let service = MemoryService::new(service.backends().clone(), prompts);
    let report = service.add(add_request(input)).await.unwrap();
    let memories: Vec<&str> = report.results.iter().map(|c| c.memory.as_str()).collect();
    assert_eq!(memories, facts);
}

#[tokio::test]
async fn chinese_and_japanese_conversations_give_memories_in_their_language_intact() {
    add_in_language("我是素食者，在上海当护士。", &["是素食者", "在上海当护士"], None).await;
    add_in_language(
        "私はベジタリアンで、東京で看護師をしています。",
        &["ベジタリアンである", "東京で看護師をしている"],
        None,
    )
    .await;
}

#[tokio::test]
async fn the_language_setting_forces_the_language_of_the_memories() {
    add_in_language("我是素食者。", &["Is vegetarian"], Some("English")).await;
}
