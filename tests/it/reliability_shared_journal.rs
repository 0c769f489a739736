//! Two plugin processes (the real binary, same credentials, same pgvector collection and so the
//! same journal) accept adds for many users, alternating between them → no write is lost, none is
//! applied twice, both processes apply writes, and each user's writes are applied in the order they
//! were accepted: every decision the model is asked for shows exactly the user's earlier facts.

use crate::support::reliability;

use reliability::{assert_clean_log, fact, writer_env, PgRun, Plugin, API_KEY};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const USERS: usize = 12;
/// At most 6, so that a decision shows every earlier fact of the user (5 candidates per fact).
const WRITES_PER_USER: usize = 6;

const WRITER_ENV: &[(&str, &str)] = &writer_env("3");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_journal_without_loss_duplicates_or_reordering() {
    let Some(run) = PgRun::start("shared", Duration::from_millis(40)).await else { return };
    let PgRun { password, model, creds, db, .. } = &run;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut plugins = [Plugin::spawn(dirs[0].path(), WRITER_ENV), Plugin::spawn(dirs[1].path(), WRITER_ENV)];

    // User u's k-th add goes to process (u + k) % 2, after its (k-1)-th was accepted.
    let started = Instant::now();
    let plugins_ref = &plugins;
    let per_user = (0..USERS).map(|u| {
        let creds = creds.clone();
        async move {
            let user = format!("user-{u}");
            let mut ids = Vec::new();
            for k in 0..WRITES_PER_USER {
                ids.push(plugins_ref[(u + k) % 2].accept_fact(&user, k, &creds).await);
            }
            (user, ids)
        }
    });
    let accepted: BTreeMap<String, Vec<String>> = futures::future::join_all(per_user).await.into_iter().collect();
    let total = USERS * WRITES_PER_USER;
    let rows = db.wait_until_finished(Duration::from_secs(90)).await;
    let elapsed = started.elapsed();

    // Nothing lost, nothing failed, nothing twice.
    assert_eq!(rows.len(), total);
    let not_applied: Vec<_> = rows.iter().filter(|r| r.state != "applied").collect();
    assert!(not_applied.is_empty(), "{not_applied:?}");
    let retried = rows.iter().filter(|r| r.attempts != 1).count();
    let counts = db.memory_counts().await;
    assert_eq!(counts.len(), total, "{counts:?}");
    assert!(counts.values().all(|&n| n == 1), "duplicates: {counts:?}");
    for (user, ids) in &accepted {
        for (k, _) in ids.iter().enumerate() {
            assert!(counts.contains_key(&fact(user, k)), "missing {}", fact(user, k));
        }
    }
    assert_eq!(db.history_events().await.get("ADD").copied(), Some(total as i64));
    let extractions = model.server.chat_requests().iter().filter(|r| r.body["messages"][0]["role"] == "system").count();
    assert_eq!(extractions, total, "each write planned once");

    // Per user, the journal finished the writes in the order they were accepted.
    let by_id: BTreeMap<&str, &reliability::JournalRow> = rows.iter().map(|r| (r.id.as_str(), r)).collect();
    for (user, ids) in &accepted {
        let finished: Vec<i64> = ids.iter().map(|id| by_id[id.as_str()].finished_us.expect("finished")).collect();
        assert!(finished.windows(2).all(|w| w[0] <= w[1]), "{user}: writes finished out of order: {finished:?}");
        let seqs: Vec<i64> = ids.iter().map(|id| by_id[id.as_str()].seq).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{user}: journal order differs from accept order");
    }
    // Each decision saw exactly the user's earlier facts: write k was planned after k-1 was applied.
    let decisions = model.decisions();
    assert_eq!(decisions.len(), USERS * (WRITES_PER_USER - 1), "one decision per add after the first");
    for decision in &decisions {
        let [new] = decision.facts.as_slice() else { panic!("one fact per decision: {decision:?}") };
        let (k, user) = parse_fact(new);
        let stored: BTreeSet<&str> = decision.stored.iter().map(String::as_str).collect();
        let earlier: Vec<String> = (0..k).map(|j| fact(&user, j)).collect();
        assert_eq!(stored, earlier.iter().map(String::as_str).collect(), "decision for {new:?}");
    }

    // Both processes applied writes.
    let mut applied_by = Vec::new();
    for plugin in &mut plugins {
        plugin.stop(Duration::from_secs(30)).await;
        let log = plugin.stderr();
        assert_clean_log(&log, &[API_KEY, password]);
        applied_by.push(log.matches("accepted write applied").count());
    }
    assert_eq!(applied_by.iter().sum::<usize>(), total, "{applied_by:?}");
    assert!(applied_by.iter().all(|&n| n > 0), "both processes must apply writes: {applied_by:?}");
    println!(
        "shared journal: {total} writes of {USERS} users accepted by 2 processes, all applied in {elapsed:?} \
         (process A {}, process B {}), {retried} retried, 0 lost, 0 duplicated, 0 out of order",
        applied_by[0], applied_by[1]
    );
}

/// `Note {k} of {user}` → (k, user).
fn parse_fact(text: &str) -> (usize, String) {
    let rest = text.strip_prefix("Note ").expect("a fact");
    let (k, user) = rest.split_once(" of ").expect("a fact");
    (k.parse().expect("k"), user.to_owned())
}

/// Slow writes and one write slot per process: a process holds claimed writes while it waits for
/// a slot. Their leases must be renewed meanwhile, or the other process takes them over and both
/// apply them (a duplicate memory per stolen write).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_waiting_for_a_slot_keep_their_lease() {
    let Some(run) = PgRun::start("slots", Duration::from_millis(400)).await else { return };
    let PgRun { model, creds, db, .. } = &run;
    let env = [
        ("MEM0_DIFY_WRITE_LEASE_SECS", "0.6"),
        ("MEM0_DIFY_WRITE_POLL_SECS", "0.1"),
        ("MEM0_DIFY_MAX_CONCURRENT_WRITES", "1"),
    ];
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut plugins = [Plugin::spawn(dirs[0].path(), &env), Plugin::spawn(dirs[1].path(), &env)];
    const WRITES: usize = 6;
    for u in 0..WRITES {
        let user = format!("slow-{u}");
        plugins[0].accept_fact(&user, 0, creds).await;
    }
    let rows = db.wait_until_finished(Duration::from_secs(60)).await;
    assert!(rows.iter().all(|r| r.state == "applied"), "{rows:?}");
    let counts = db.memory_counts().await;
    assert_eq!(counts.len(), WRITES, "{counts:?}");
    assert!(counts.values().all(|&n| n == 1), "a write was applied twice: {counts:?}");
    // Nobody took over a write its claimer still held: each write was planned once.
    let extractions = model.server.chat_requests().iter().filter(|r| r.body["messages"][0]["role"] == "system").count();
    assert_eq!(extractions, WRITES, "writes planned twice (a lease expired while waiting for a slot)");
    for plugin in &mut plugins {
        plugin.stop(Duration::from_secs(30)).await;
    }
    println!("slot waits: {WRITES} slow writes over 2 processes with 1 slot each and a 0.6 s lease: each planned once, applied once");
}

/// A retried add (the same turn for the same user) reaching the OTHER process sharing the journal
/// within the repeat window answers the first write's id and writes nothing again; an add without
/// `user_id` belongs to the Dify end user of the call and is found by that end user only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_add_on_another_process_is_applied_once_and_end_users_are_the_default() {
    use reliability::FACT_PREFIX;
    use serde_json::json;
    let Some(run) = PgRun::start("repeat", Duration::from_millis(40)).await else { return };
    let PgRun { creds, db, .. } = &run;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut plugins = [Plugin::spawn(dirs[0].path(), WRITER_ENV), Plugin::spawn(dirs[1].path(), WRITER_ENV)];

    let first = plugins[0].accept_fact("repeat-user", 0, creds).await;
    let again = plugins[1].accept_fact("repeat-user", 0, creds).await;
    assert_eq!(again, first, "the repeat on the other process answers the first write id");
    db.wait_until_finished(Duration::from_secs(60)).await;
    let later = plugins[1].accept_fact("repeat-user", 0, creds).await;
    assert_eq!(later, first, "still the first write once applied");
    // A different turn of the same user is a write of its own.
    let other = plugins[1].accept_fact("repeat-user", 1, creds).await;
    assert_ne!(other, first);

    // No user_id: the end user of the call.
    let note = fact("eve-end-user", 0);
    let params = json!({"user": format!("{FACT_PREFIX}{note}")});
    let added = plugins[0].call_as("add_memory", params, creds, "eve-end-user").await;
    assert!(added.accepted(), "{added:?}");
    assert!(added.text.contains("the Dify end user of this call (user_id eve-end-user)"), "{}", added.text);

    let rows = db.wait_until_finished(Duration::from_secs(60)).await;
    assert_eq!(rows.len(), 3, "one journal row per distinct add: {rows:?}");
    assert!(rows.iter().all(|r| r.state == "applied"), "{rows:?}");
    let counts = db.memory_counts().await;
    assert_eq!(counts.get(&fact("repeat-user", 0)), Some(&1), "{counts:?}");
    let memories = db.memories().await;
    assert!(memories.contains(&("eve-end-user".to_owned(), note.clone())), "{memories:?}");

    let search = |end_user: &'static str| {
        let plugin = &plugins[1];
        let creds = creds.clone();
        async move { plugin.call_as("get_all_memories", json!({}), &creds, end_user).await }
    };
    let own = search("eve-end-user").await;
    assert!(own.json["results"].to_string().contains(&note), "{:?}", own.json);
    let stranger = search("mallory").await;
    assert!(stranger.ok(), "{stranger:?}");
    assert!(!stranger.json["results"].to_string().contains(&note), "another end user sees it: {:?}", stranger.json);
    for plugin in &mut plugins {
        plugin.stop(Duration::from_secs(30)).await;
    }
}
