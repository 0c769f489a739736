//! The SQLite journal of accepted writes, on real files.

use mem0_dify::adapters::journal::sqlite::SqliteJournal;
use mem0_dify::domain::message::Conversation;
use mem0_dify::domain::operations::{AddRequest, WriteCommand};
use mem0_dify::domain::scope::Scope;
use mem0_dify::ports::journal::WriteJournal;
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
    })
}

async fn record(journal: &SqliteJournal, id: &str, command: &WriteCommand) -> WriteId {
    let id = WriteId(id.to_owned());
    journal.record(&id, &command.ordering_key(), command).await.unwrap();
    id
}

const LEASE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn writes_are_claimed_in_order_one_per_owner_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let journal = SqliteJournal::new(&path);
    journal.ensure_ready().await.unwrap();
    let a1 = record(&journal, "a1", &add("alice", "one")).await;
    let a2 = record(&journal, "a2", &add("alice", "two")).await;
    let b1 = record(&journal, "b1", &add("bob", "three")).await;
    // Recording the same id twice is harmless.
    record(&journal, "a1", &add("alice", "one")).await;
    assert_eq!(journal.unfinished().await.unwrap(), 3);

    let claimed: Vec<WriteId> = journal.claim(10, LEASE).await.unwrap().into_iter().map(|c| c.id).collect();
    assert_eq!(claimed, vec![a1.clone(), b1.clone()]);
    assert!(journal.claim(10, LEASE).await.unwrap().is_empty(), "a2 waits for a1; leased ones are not claimable");

    journal.save_plan(&a1, &json!({"plan": 1})).await.unwrap();
    journal.finish(&a1, &WriteState::Applied { result: json!({"ok": true}) }).await.unwrap();
    let next = journal.claim(10, LEASE).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].id, a2);
    assert_eq!(next[0].command, add("alice", "two"));

    drop(journal);
    let reopened = SqliteJournal::new(&path);
    assert_eq!(reopened.status(&a1).await.unwrap(), Some(WriteState::Applied { result: json!({"ok": true}) }));
    assert!(matches!(reopened.status(&b1).await.unwrap(), Some(WriteState::Pending { .. })));
    assert_eq!(reopened.status(&WriteId("nope".into())).await.unwrap(), None);
}

#[tokio::test]
async fn expired_leases_and_retries_make_writes_claimable_again_with_their_plan() {
    let dir = tempfile::tempdir().unwrap();
    let journal = SqliteJournal::new(dir.path().join("j.db"));
    let id = record(&journal, "w", &add("alice", "x")).await;
    let first = journal.claim(1, Duration::from_millis(100)).await.unwrap();
    assert_eq!(first.len(), 1);
    journal.save_plan(&id, &json!({"saved": true})).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let again = journal.claim(1, LEASE).await.unwrap();
    assert_eq!(again[0].plan, Some(json!({"saved": true})), "a crashed worker's plan is reused");

    journal.retry_later(&id, "HTTP 429", Duration::from_millis(200)).await.unwrap();
    assert!(journal.claim(1, LEASE).await.unwrap().is_empty(), "not due yet");
    assert_eq!(
        journal.status(&id).await.unwrap(),
        Some(WriteState::Pending { attempts: 1, last_error: Some("HTTP 429".into()) })
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    let retried = journal.claim(1, LEASE).await.unwrap();
    assert_eq!(retried[0].attempts, 1);
    journal.finish(&id, &WriteState::Failed { error: "bad key".into() }).await.unwrap();
    assert_eq!(journal.status(&id).await.unwrap(), Some(WriteState::Failed { error: "bad key".into() }));
    assert_eq!(journal.unfinished().await.unwrap(), 0);
}

#[tokio::test]
async fn two_journals_on_one_file_never_claim_the_same_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let first = SqliteJournal::new(&path);
    let second = SqliteJournal::new(&path);
    for i in 0..200 {
        record(&first, &format!("w{i}"), &add(&format!("user{i}"), "fact")).await;
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
