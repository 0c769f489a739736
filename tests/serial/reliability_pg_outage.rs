//! PostgreSQL goes down and comes back (`scripts/services/postgres.sh halt`, then `restart`, which
//! keeps the data) while the real plugin binary serves a load of adds and searches over stdio:
//! no panic; searches answer within their timeout, marked `degraded` while the database is down;
//! adds are refused (never acknowledged) while the journal is unreachable; connections recover;
//! every write accepted before, during or after the outage is applied exactly once.
//!
//! The database it stops is a private cluster (`pgstore::private_cluster`: its own run
//! directory and port, made by the same script), so the shared test database is never disturbed.

use crate::support::pgstore;
use crate::support::reliability;

use pgstore::private_cluster::PrivateCluster;
use reliability::{assert_clean_log, fact, tail, writer_env, PgRun, Plugin, API_KEY};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const SEARCH_TIMEOUT: Duration = Duration::from_secs(3);
const OUTAGE: Duration = Duration::from_secs(5);
const USERS: usize = 5;

/// Reads give up after 3 s (a search then answers `degraded`).
const READ_TIMEOUTS: &[(&str, &str)] = &[("MEM0_DIFY_SEARCH_TIMEOUT_SECS", "3"), ("MEM0_DIFY_GET_TIMEOUT_SECS", "3")];

/// One search as the daemon saw it.
#[derive(Debug, Clone)]
struct SearchSample {
    at: Duration,
    took: Duration,
    degraded: bool,
    hits: usize,
    ok: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_degrades_reads_refuses_writes_and_loses_nothing() {
    let _alone = crate::alone().await;
    let Some(cluster) = PrivateCluster::start() else { return };
    let run = PgRun::start_at(&cluster.url, &cluster.password, "outage", Duration::from_millis(60)).await;
    let PgRun { password, creds, db, .. } = &run;
    let dir = tempfile::tempdir().unwrap();
    let mut plugin = Plugin::spawn(dir.path(), &[&writer_env("2")[..], READ_TIMEOUTS].concat());
    let t0 = Instant::now();

    // Reads all along: one search every 100 ms.
    let stop = AtomicBool::new(false);
    let samples = Mutex::new(Vec::<SearchSample>::new());
    let searches = async {
        let mut i = 0usize;
        while !stop.load(Ordering::SeqCst) {
            let user = format!("user-{}", i % USERS);
            let sent = Instant::now();
            let answer = plugin.call("search_memory", json!({"query": "note", "user_id": user}), creds).await;
            samples.lock().unwrap().push(SearchSample {
                at: sent - t0,
                took: sent.elapsed(),
                degraded: answer.json.get("degraded").is_some(),
                hits: answer.json["results"].as_array().map_or(0, Vec::len),
                ok: answer.ok(),
            });
            i += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };

    // Writes, the outage, and the recovery.
    let scenario = async {
        let mut accepted = Vec::new();
        let mut refused = Vec::new();
        let mut k = 0;
        let add_round = |k: usize| {
            let plugin = &plugin;
            async move {
                let adds = (0..USERS).map(|u| async move {
                    let user = format!("user-{u}");
                    (fact(&user, k), plugin.add_fact(&user, k, creds).await)
                });
                futures::future::join_all(adds).await
            }
        };
        // Before: 4 rounds accepted, most still pending when the database goes.
        for _ in 0..4 {
            for (fact, answer) in add_round(k).await {
                assert!(answer.accepted(), "{answer:?}");
                accepted.push(fact);
            }
            k += 1;
        }
        let pending_at_halt = db.journal_states().await.get("pending").copied().unwrap_or(0);
        cluster.halt();
        let down_at = t0.elapsed();
        // During: adds are refused with a clear error, never acknowledged.
        let halted = Instant::now();
        while halted.elapsed() < OUTAGE {
            for (fact, answer) in add_round(k).await {
                if answer.accepted() {
                    accepted.push(fact);
                } else {
                    assert_eq!(answer.json["status"], "ERROR", "{answer:?}");
                    assert!(answer.message().contains("not accepted"), "{}", answer.message());
                    refused.push(answer.message());
                }
            }
            k += 1;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        cluster.restart();
        let up_at = t0.elapsed();
        // After: accepted again once the pool reconnects.
        let back = Instant::now();
        let mut first_accept_after = None;
        while back.elapsed() < Duration::from_secs(4) || first_accept_after.is_none() {
            assert!(back.elapsed() < Duration::from_secs(30), "adds still refused 30 s after the restart");
            for (fact, answer) in add_round(k).await {
                if answer.accepted() {
                    first_accept_after.get_or_insert(back.elapsed());
                    accepted.push(fact);
                }
            }
            k += 1;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        stop.store(true, Ordering::SeqCst);
        (accepted, refused, pending_at_halt, down_at, up_at, first_accept_after)
    };
    let ((accepted, refused, pending_at_halt, down_at, up_at, first_accept_after), ()) =
        futures::join!(scenario, searches);

    // Every accepted write applied exactly once.
    let rows = db.wait_until_finished(Duration::from_secs(60)).await;
    assert!(rows.iter().all(|r| r.state == "applied"), "{rows:?}");
    assert_eq!(rows.len(), accepted.len(), "journal rows = accepted writes");
    let counts = db.memory_counts().await;
    for fact in &accepted {
        assert_eq!(counts.get(fact).copied(), Some(1), "{fact} must be stored exactly once: {counts:?}");
    }
    assert_eq!(counts.len(), accepted.len(), "nothing but the accepted writes is stored");

    // Reads: always answered within their ceiling; degraded while down; whole again after.
    let samples = samples.into_inner().unwrap();
    let margin = Duration::from_secs(2);
    let slowest = samples.iter().map(|s| s.took).max().unwrap_or_default();
    assert!(slowest <= SEARCH_TIMEOUT + margin, "a search took {slowest:?}");
    assert!(samples.iter().all(|s| s.ok), "every search answers SUCCESS (degraded or not)");
    let during: Vec<&SearchSample> = samples.iter().filter(|s| s.at > down_at && s.at + s.took < up_at).collect();
    assert!(!during.is_empty() && during.iter().all(|s| s.degraded), "searches during the outage: {during:?}");
    let recovered = samples.iter().find(|s| s.at > up_at && !s.degraded && s.hits > 0);
    let recovered = recovered.unwrap_or_else(|| panic!("no whole search after the restart: {samples:?}"));
    assert!(samples.iter().filter(|s| s.at > recovered.at).all(|s| !s.degraded), "degraded again after recovery");

    plugin.stop(Duration::from_secs(30)).await;
    let log = plugin.stderr();
    assert_clean_log(&log, &[API_KEY, password]);
    assert!(log.contains("WARN"), "the outage is logged: {}", tail(&log, 20));
    println!(
        "postgres outage of {:?}: {} writes accepted ({pending_at_halt} pending at the halt), {} refused during the \
         outage, all accepted applied once, 0 lost; {} searches ({} degraded, slowest {slowest:?}); first whole \
         search {:?} and first accepted write {:?} after the restart",
        up_at - down_at,
        accepted.len(),
        refused.len(),
        samples.len(),
        samples.iter().filter(|s| s.degraded).count(),
        recovered.at - up_at,
        first_accept_after.unwrap_or_default()
    );
}
