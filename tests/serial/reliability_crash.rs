//! Durability across a crash: the real plugin binary accepts N adds over stdio, is killed with
//! `kill -9` while most of them are still pending (the model is slow), is started again and
//! receives one request with the same credentials → every accepted write is applied exactly once.
//! The plugin's stderr, at `RUST_LOG=debug`, never shows the API key or the database password.

use crate::support::reliability;

use reliability::{assert_clean_log, fact, writer_env, PgRun, Plugin, API_KEY};
use serde_json::json;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const USERS: usize = 10;
const WRITES_PER_USER: usize = 5;

/// A short lease so that writes claimed by the killed process are taken over within seconds.
const WRITER_ENV: &[(&str, &str)] = &writer_env("2");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_after_accepting_loses_nothing_and_applies_each_write_once() {
    let _alone = crate::alone().await;
    let Some(run) = PgRun::start("crash", Duration::from_millis(150)).await else { return };
    let PgRun { password, creds, db, .. } = &run;
    let dir = tempfile::tempdir().unwrap();

    // N adds accepted by the first process: each user's adds in order, the users concurrently.
    let mut first = Plugin::spawn(dir.path(), WRITER_ENV);
    let plugin = &first;
    let started = Instant::now();
    let per_user = (0..USERS).map(|u| {
        let creds = creds.clone();
        async move {
            let user = format!("user-{u}");
            let mut ids = Vec::new();
            for k in 0..WRITES_PER_USER {
                ids.push(plugin.accept_fact(&user, k, &creds).await);
            }
            ids
        }
    });
    let accepted: Vec<String> = futures::future::join_all(per_user).await.into_iter().flatten().collect();
    let accept_time = started.elapsed();
    let total = USERS * WRITES_PER_USER;
    assert_eq!(accepted.len(), total);

    // Right after the last ACCEPT, as soon as some writes are applied and others are being
    // applied (claimed under a lease): kill -9.
    let in_flight = |rows: &[reliability::JournalRow]| {
        rows.iter().any(|r| r.state == "applied") && rows.iter().any(|r| r.state == "pending" && r.leased)
    };
    let waiting = Instant::now();
    while !in_flight(&db.journal().await) && waiting.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill9().await;
    let kill_after = started.elapsed() - accept_time;
    let at_kill = db.journal().await;
    let applied_before = at_kill.iter().filter(|r| r.state == "applied").count();
    let claimed = at_kill.iter().filter(|r| r.state == "pending" && r.leased).count();
    let planned_unfinished = at_kill.iter().filter(|r| r.state == "pending" && r.planned).count();
    assert_eq!(at_kill.len(), total, "every accepted write is in the journal");
    assert!(applied_before < total, "the test needs writes still pending at the kill ({applied_before} applied)");
    assert!(claimed > 0, "the test needs writes in flight at the kill");
    let first_log = first.stderr();

    // A new process; one request with the same credentials wakes the engine and its writer.
    let mut second = Plugin::spawn(dir.path(), WRITER_ENV);
    let status = second.call("get_write_status", json!({"write_id": accepted[0]}), creds).await;
    assert!(status.ok(), "{status:?}");
    let restarted = Instant::now();
    let rows = db.wait_until_finished(Duration::from_secs(60)).await;
    let recovery = restarted.elapsed();

    // Every accepted write applied once; every fact stored once, for its user.
    assert_eq!(rows.len(), total);
    let failed: Vec<_> = rows.iter().filter(|r| r.state != "applied").collect();
    assert!(failed.is_empty(), "writes not applied: {failed:?}");
    let journal_ids: BTreeSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(journal_ids, accepted.iter().map(String::as_str).collect::<BTreeSet<_>>());
    let memories = db.memories().await;
    let expected: BTreeSet<(String, String)> = (0..USERS)
        .flat_map(|u| (0..WRITES_PER_USER).map(move |k| (format!("user-{u}"), fact(&format!("user-{u}"), k))))
        .collect();
    assert_eq!(memories.len(), total, "no duplicates: {memories:?}");
    assert_eq!(memories.into_iter().collect::<BTreeSet<_>>(), expected);
    let history = db.history_events().await;
    assert_eq!(history.get("ADD").copied(), Some(total as i64), "one ADD history row per memory: {history:?}");

    // The write ids answer through the tool in the new process.
    let last = second.call("get_write_status", json!({"write_id": accepted[total - 1]}), creds).await;
    assert_eq!(last.json["results"]["state"], "applied", "{last:?}");
    second.stop(Duration::from_secs(30)).await;

    for log in [&first_log, &second.stderr()] {
        assert_clean_log(log, &[API_KEY, password]);
    }
    println!(
        "crash: {total} accepted in {accept_time:?}; at kill -9 {:?} later: {applied_before} applied, {claimed} in \
         flight ({planned_unfinished} with a saved plan), {} pending; after restart all {total} applied in \
         {recovery:?}, 0 lost, 0 duplicated",
        kill_after,
        total - applied_before
    );
}
