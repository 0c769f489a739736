//! The journals of accepted writes — SQLite on real files and PostgreSQL on the real server —
//! held to one contract: order per owner, one claim per write, leases, retries, durability.

use crate::support::pgstore;

use mem0_dify::adapters::journal::postgres::PostgresJournal;
use mem0_dify::adapters::journal::sqlite::SqliteJournal;
use mem0_dify::adapters::vector::pgvector::{from_block, PgVectorStore};
use mem0_dify::domain::credentials::ProviderBlock;
use mem0_dify::domain::memory::MemoryText;
use mem0_dify::domain::message::Conversation;
use mem0_dify::domain::operations::{AddReport, AddRequest, WriteCommand, WriteResult};
use mem0_dify::domain::scope::Scope;
use mem0_dify::domain::write_plan::{ExtractedFacts, SavedStep, Stage};
use mem0_dify::ports::journal::{NewWrite, Recorded, WriteJournal};
use mem0_dify::ports::memory_api::{WriteId, WriteState};
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;

fn add(user: &str, text: &str) -> WriteCommand {
    WriteCommand::Add(AddRequest {
        conversation: Conversation::from_turn(text, None),
        scope: Scope::parse(Some(user), None, None).unwrap(),
        metadata: Default::default(),
        infer: true,
        actor_id: None,
        observed_at: None,
        expires_at: None,
        idempotency_key: None,
    })
}

async fn record(journal: &dyn WriteJournal, id: &str, command: &WriteCommand) -> WriteId {
    let id = WriteId(id.to_owned());
    let recorded = record_unless_repeated(journal, &id, &[], command).await;
    assert_eq!(recorded, Recorded::New, "{id:?} was recorded");
    id
}

async fn record_unless_repeated(
    journal: &dyn WriteJournal,
    id: &WriteId,
    repeat_of: &[WriteId],
    command: &WriteCommand,
) -> Recorded {
    let key = command.ordering_key();
    journal.record(NewWrite { id, repeat_of, ordering_key: &key, command, held_for: None }).await.unwrap()
}

const LEASE: Duration = Duration::from_secs(60);

/// Opens journals on one shared place: calling it again opens another handle on the same data.
type Opener = Box<dyn Fn() -> Box<dyn WriteJournal>>;

fn sqlite_opener() -> (tempfile::TempDir, Opener) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    (dir, Box::new(move || Box::new(SqliteJournal::new(&path)) as Box<dyn WriteJournal>))
}

fn postgres_opener() -> Option<Opener> {
    let url = pgstore::pg_url()?;
    let collection = pgstore::unique_collection("journal");
    Some(Box::new(move || {
        let block = ProviderBlock::parse(
            "local_vector_db_json",
            &json!({"provider": "pgvector", "config": {
                "connection_string": url, "collection_name": collection, "embedding_model_dims": 3}}),
        )
        .unwrap()
        .unwrap();
        let store = PgVectorStore::connect(from_block(&block).unwrap()).unwrap();
        Box::new(PostgresJournal::beside(&store)) as Box<dyn WriteJournal>
    }))
}

/// A saved step: the facts an add's first model call extracted.
fn step(fact: &str) -> SavedStep {
    let facts = vec![MemoryText::parse("fact", fact).unwrap()];
    SavedStep::Extracted(ExtractedFacts { stage: Stage::Extracted, facts, llm_calls: 1 })
}

/// The result of an applied add (what the journal keeps and reads back as the add's).
fn added() -> WriteResult {
    WriteResult::Add(AddReport::default())
}

#[tokio::test]
async fn sqlite_keeps_order_and_survives_reopening() {
    let (_dir, open) = sqlite_opener();
    order_and_durability(open).await;
}

#[tokio::test]
async fn postgres_keeps_order_and_survives_reopening() {
    if let Some(open) = postgres_opener() {
        order_and_durability(open).await;
    }
}

#[tokio::test]
async fn sqlite_leases_and_retries() {
    let (_dir, open) = sqlite_opener();
    leases_and_retries(open).await;
}

#[tokio::test]
async fn postgres_leases_and_retries() {
    if let Some(open) = postgres_opener() {
        leases_and_retries(open).await;
    }
}

#[tokio::test]
async fn sqlite_handles_never_claim_the_same_write() {
    let (_dir, open) = sqlite_opener();
    no_double_claims(open).await;
}

#[tokio::test]
async fn postgres_handles_never_claim_the_same_write() {
    if let Some(open) = postgres_opener() {
        no_double_claims(open).await;
    }
}

#[tokio::test]
async fn postgres_accepts_do_not_wait_for_the_connections_the_writers_hold() {
    let Some(url) = pgstore::pg_url() else { return };
    let block = ProviderBlock::parse(
        "local_vector_db_json",
        &json!({"provider": "pgvector", "config": {
            "connection_string": url, "collection_name": pgstore::unique_collection("journal"),
            "embedding_model_dims": 3, "maxconn": 1}}),
    )
    .unwrap()
    .unwrap();
    let store = PgVectorStore::connect(from_block(&block).unwrap()).unwrap();
    let journal = PostgresJournal::beside(&store);
    journal.ensure_ready().await.unwrap();
    // The store's only connection is busy (a writer applying a write, say).
    let held = store.pool().get().await.unwrap();
    for n in 0..5 {
        let command = add("alice", &format!("fact {n}"));
        let id = WriteId(format!("accept-{n}"));
        let recorded =
            tokio::time::timeout(Duration::from_secs(5), record_unless_repeated(&journal, &id, &[], &command)).await;
        assert_eq!(recorded, Ok(Recorded::New), "accept {n} waited for the store's pool");
    }
    drop(held);
    assert_eq!(journal.unfinished().await.unwrap(), 5);
}

async fn order_and_durability(open: Opener) {
    let journal = open();
    let journal = journal.as_ref();
    journal.ensure_ready().await.unwrap();
    let a1 = record(journal, "a1", &add("alice", "one")).await;
    let a2 = record(journal, "a2", &add("alice", "two")).await;
    let b1 = record(journal, "b1", &add("bob", "three")).await;
    // Recording the same id twice is harmless.
    assert_eq!(record_unless_repeated(journal, &a1, &[], &add("alice", "one")).await, Recorded::IdTaken);
    assert_eq!(journal.unfinished().await.unwrap(), 3);

    let claimed: Vec<WriteId> = journal.claim(10, LEASE).await.unwrap().into_iter().map(|c| c.id).collect();
    assert_eq!(claimed, vec![a1.clone(), b1.clone()]);
    assert!(journal.claim(10, LEASE).await.unwrap().is_empty(), "a2 waits for a1; leased ones are not claimable");

    journal.save_plan(&a1, &step("Likes tea")).await.unwrap();
    journal.finish(&a1, &WriteState::Applied { result: Box::new(added()) }).await.unwrap();
    let next = journal.claim(10, LEASE).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].id, a2);
    assert_eq!(next[0].command, add("alice", "two"));

    let reopened = open();
    assert_eq!(reopened.status(&a1).await.unwrap(), Some(WriteState::Applied { result: Box::new(added()) }));
    assert!(matches!(reopened.status(&b1).await.unwrap(), Some(WriteState::Pending { .. })));
    assert_eq!(reopened.status(&WriteId("nope".into())).await.unwrap(), None);
    // the command tells whose write it is (get_write_status checks the owner)
    assert_eq!(reopened.command(&a1).await.unwrap(), Some(add("alice", "one")));
    assert_eq!(reopened.command(&b1).await.unwrap(), Some(add("bob", "three")));
    assert_eq!(reopened.command(&WriteId("nope".into())).await.unwrap(), None);
}

async fn leases_and_retries(open: Opener) {
    let journal = open();
    let journal = journal.as_ref();
    let id = record(journal, "w", &add("alice", "x")).await;
    let first = journal.claim(1, Duration::from_millis(100)).await.unwrap();
    assert_eq!(first.len(), 1);
    journal.save_plan(&id, &step("Lives in Paris")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let again = journal.claim(1, LEASE).await.unwrap();
    assert_eq!(again[0].plan, Some(Ok(step("Lives in Paris"))), "a crashed worker's plan is reused");

    journal.retry_later(&id, "HTTP 429", Duration::from_millis(200)).await.unwrap();
    assert!(journal.claim(1, LEASE).await.unwrap().is_empty(), "not due yet");
    assert_eq!(
        journal.status(&id).await.unwrap(),
        Some(WriteState::Pending { attempts: 1, last_error: Some("HTTP 429".into()) })
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    let retried = journal.claim(1, LEASE).await.unwrap();
    assert_eq!(retried[0].attempts, 1);
    journal.finish(&id, &WriteState::Failed { error: "bad key".into(), attempts: 2 }).await.unwrap();
    // The status counts every attempt: the retried one and the one that failed.
    assert_eq!(journal.status(&id).await.unwrap(), Some(WriteState::Failed { error: "bad key".into(), attempts: 2 }));
    assert_eq!(journal.unfinished().await.unwrap(), 0);
}

async fn no_double_claims(open: Opener) {
    let (first, second) = (open(), open());
    for i in 0..200 {
        record(first.as_ref(), &format!("w{i}"), &add(&format!("user{i}"), "fact")).await;
    }
    let mut seen = HashSet::new();
    loop {
        let (a, b) = tokio::join!(first.claim(7, LEASE), second.claim(5, LEASE));
        let batch: Vec<_> = a.unwrap().into_iter().chain(b.unwrap()).collect();
        if batch.is_empty() {
            break;
        }
        for claimed in batch {
            assert!(seen.insert(claimed.id.clone()), "{:?} claimed twice", claimed.id);
        }
    }
    assert_eq!(seen.len(), 200);
}

/// A record finds the first earlier recording of the same add that did not fail and then
/// records nothing; an id recorded twice keeps one write (what lets processes deriving the same
/// id for a repeat agree), and a taken id is told.
async fn recorded_ids_and_repeated_records(open: Opener) {
    let journal = open();
    let journal = journal.as_ref();
    let tea = add("u1", "I like tea");
    let first = record(journal, "repeat-a", &tea).await;
    let second = record(journal, "repeat-b", &add("u1", "I like cake")).await;
    let failed = record(journal, "repeat-failed", &tea).await;
    journal.finish(&failed, &WriteState::Failed { error: "bad key".into(), attempts: 1 }).await.unwrap();
    assert_eq!(record_unless_repeated(journal, &first, &[], &tea).await, Recorded::IdTaken);
    assert_eq!(journal.unfinished().await.unwrap(), 2, "an id recorded twice is one write");

    let unknown = WriteId("repeat-none".into());
    let found = record_unless_repeated(
        journal,
        &unknown,
        &[failed.clone(), unknown.clone(), second.clone(), first.clone()],
        &tea,
    )
    .await;
    assert_eq!(found, Recorded::Repeat(second), "the first known one that did not fail, in the order given");
    assert_eq!(journal.status(&unknown).await.unwrap(), None, "a repeat records nothing");

    assert_eq!(record_unless_repeated(journal, &failed, std::slice::from_ref(&failed), &tea).await, Recorded::IdTaken);
    assert_eq!(record_unless_repeated(journal, &unknown, &[failed], &tea).await, Recorded::New);
    assert_eq!(journal.unfinished().await.unwrap(), 3);
}

#[tokio::test]
async fn sqlite_tells_recorded_ids() {
    let (_dir, open) = sqlite_opener();
    recorded_ids_and_repeated_records(open).await;
}

#[tokio::test]
async fn postgres_tells_recorded_ids() {
    if let Some(open) = postgres_opener() {
        recorded_ids_and_repeated_records(open).await;
    }
}

/// `forget`: an erase removes the finished writes about the scope (or its memories), never a
/// pending one, never another owner's.
async fn erase_forgets_finished_writes_of_the_scope(open: Opener) {
    let journal = open();
    let done = WriteState::Applied { result: Box::new(added()) };
    let alice_done = record(journal.as_ref(), "forget-a1", &add("forget-alice", "I like tea")).await;
    let alice_pending = record(journal.as_ref(), "forget-a2", &add("forget-alice", "I like cake")).await;
    let bob_done = record(journal.as_ref(), "forget-b1", &add("forget-bob", "I like chess")).await;
    for id in [&alice_done, &bob_done] {
        journal.finish(id, &done).await.unwrap();
    }
    let alice = Scope::parse(Some("forget-alice"), None, None).unwrap();
    assert_eq!(journal.forget(&alice, &[]).await.unwrap(), 1);
    assert_eq!(journal.status(&alice_done).await.unwrap(), None, "a finished write of the scope is gone");
    assert!(matches!(journal.status(&alice_pending).await.unwrap(), Some(WriteState::Pending { .. })));
    assert_eq!(journal.status(&bob_done).await.unwrap(), Some(done));
    assert_eq!(journal.forget(&alice, &[]).await.unwrap(), 0, "repeating is harmless");
}

#[tokio::test]
async fn sqlite_erase_forgets_finished_writes_of_the_scope() {
    let (_dir, open) = sqlite_opener();
    erase_forgets_finished_writes_of_the_scope(open).await;
}

#[tokio::test]
async fn postgres_erase_forgets_finished_writes_of_the_scope() {
    if let Some(open) = postgres_opener() {
        erase_forgets_finished_writes_of_the_scope(open).await;
    }
}
