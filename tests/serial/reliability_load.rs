//! Load over stdio against the real binary: waves of hundreds of concurrent sessions (adds and
//! searches) while the model is down, so accepted writes pile up. The queue stops at
//! `MEM0_DIFY_MAX_PENDING_WRITES` and answers "busy" beyond it; every session still ends; the
//! heartbeat is never late; resident memory stays bounded and does not grow from wave to wave;
//! once the model is back, every accepted write is applied.

use crate::support::fake_openai;
use crate::support::reliability;

use fake_openai::Reply;
use reliability::{add_params, assert_clean_log, credentials, fact, Model, Plugin, ToolAnswer, API_KEY, DIMS};
use serde_json::json;
use std::time::{Duration, Instant};

const CAPACITY: usize = 40;
const WAVES: usize = 5;
const ADDS_PER_WAVE: usize = 200;
const SEARCHES_PER_WAVE: usize = 200;
const HEARTBEAT: Duration = Duration::from_millis(500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_sessions_stay_bounded_answer_busy_and_keep_the_heartbeat() {
    let _alone = crate::alone().await;
    let model = Model::start(Duration::from_millis(300)).await;
    let dir = tempfile::tempdir().unwrap();
    let store = json!({"provider": "embedded", "config": {
        "path": dir.path().join("memories.db").to_string_lossy(), "embedding_model_dims": DIMS}});
    let creds = credentials(&model.base_url(), store, true);
    let capacity = CAPACITY.to_string();
    let mut plugin = Plugin::spawn(
        dir.path(),
        &[
            ("MEM0_DIFY_MAX_PENDING_WRITES", &capacity),
            ("MEM0_DIFY_WRITE_RETRY_BASE_SECS", "0.1"),
            ("MEM0_DIFY_WRITE_MAX_ATTEMPTS", "20"),
            ("MEM0_DIFY_WRITE_POLL_SECS", "0.2"),
            ("HEARTBEAT_INTERVAL", "0.5"),
            ("RUST_LOG", "info"),
        ],
    );
    let warm = plugin.call("search_memory", json!({"query": "warm up", "user_id": "nobody"}), &creds).await;
    assert!(warm.ok(), "{warm:?}");
    let (baseline, _) = plugin.memory_kib();

    // The model is down: accepted writes cannot drain.
    model.server.set_outage("/chat/completions", Some(Reply::error(503, "model down")));
    let mut accepted = Vec::new();
    let mut busy = 0usize;
    let mut rss_after_wave = Vec::new();
    let started = Instant::now();
    for wave in 0..WAVES {
        // Every request of the wave is written before any answer is read.
        let mut sessions = Vec::new();
        for i in 0..ADDS_PER_WAVE.max(SEARCHES_PER_WAVE) {
            let user = format!("user-{wave}-{i}");
            if i < ADDS_PER_WAVE {
                let data = reliability::invoke("add_memory", add_params(&user, &fact(&user, 0)), &creds, "u");
                sessions.push((Some(fact(&user, 0)), plugin.send(data).await));
            }
            if i < SEARCHES_PER_WAVE {
                let data = reliability::invoke("search_memory", json!({"query": "note", "user_id": user}), &creds, "u");
                sessions.push((None, plugin.send(data).await));
            }
        }
        for (fact, sid) in &sessions {
            let answer: ToolAnswer = plugin.answer(sid, Duration::from_secs(60)).await;
            assert!(answer.error.is_none(), "session failed: {answer:?}");
            match fact {
                None => assert!(answer.ok(), "search: {answer:?}"),
                Some(_) if answer.ok() => {
                    assert!(answer.accepted(), "{answer:?}");
                    accepted.push((fact.clone().unwrap_or_default(), answer.write_id().unwrap_or_default()));
                }
                Some(_) => {
                    assert!(answer.message().starts_with("busy:"), "{answer:?}");
                    busy += 1;
                }
            }
        }
        rss_after_wave.push(plugin.memory_kib().0);
    }
    let load_time = started.elapsed();
    let sessions = WAVES * (ADDS_PER_WAVE + SEARCHES_PER_WAVE);
    let (_, peak) = plugin.memory_kib();

    // The queue held exactly its capacity and refused the rest.
    assert_eq!(accepted.len(), CAPACITY, "accepted while the model was down");
    assert_eq!(busy, WAVES * ADDS_PER_WAVE - CAPACITY);

    // The heartbeat kept its period under load.
    let beats = plugin.daemon.observed.lock().unwrap().heartbeats.clone();
    let worst_gap = beats.windows(2).map(|w| w[1] - w[0]).max().unwrap_or_default();
    assert!(beats.len() as f64 >= load_time.as_secs_f64() / HEARTBEAT.as_secs_f64() - 2.0, "{} beats", beats.len());
    assert!(worst_gap < HEARTBEAT * 2, "a heartbeat was {worst_gap:?} late (period {HEARTBEAT:?})");

    // Memory: bounded, and flat from wave to wave.
    assert!(peak < baseline + 96 * 1024, "peak RSS {peak} KiB from a baseline of {baseline} KiB");
    let growth = rss_after_wave[WAVES - 1].saturating_sub(rss_after_wave[0]);
    assert!(growth < 16 * 1024, "RSS grew {growth} KiB from wave 1 to wave {WAVES}: {rss_after_wave:?}");

    // The model is back: the queue drains and every accepted write is applied.
    model.server.set_outage("/chat/completions", None);
    let drain = Instant::now();
    for (fact, id) in &accepted {
        loop {
            let state = plugin.call("get_write_status", json!({"write_id": id}), &creds).await;
            match state.json["results"]["state"].as_str() {
                Some("pending") => {
                    assert!(drain.elapsed() < Duration::from_secs(60), "{fact} still pending: {state:?}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Some("applied") => break,
                _ => panic!("{fact}: {state:?}"),
            }
        }
    }
    let drained = drain.elapsed();
    plugin.daemon.assert_clean();
    plugin.stop(Duration::from_secs(30)).await;
    let log = plugin.stderr();
    assert!(!log.contains(API_KEY), "the API key is in the log");
    assert!(!log.contains("panicked"), "the plugin panicked");
    let _ = assert_clean_log; // the debug-level check is for the crash and outage tests
    println!(
        "load: {sessions} sessions in {WAVES} waves of {} in {load_time:?}; {} accepted (capacity {CAPACITY}), {busy} \
         busy, all accepted applied {drained:?} after the model came back; RSS baseline {} MiB, peak {} MiB, after \
         each wave {:?} MiB; {} heartbeats, worst gap {worst_gap:?} (period {HEARTBEAT:?})",
        ADDS_PER_WAVE + SEARCHES_PER_WAVE,
        accepted.len(),
        baseline / 1024,
        peak / 1024,
        rss_after_wave.iter().map(|kib| kib / 1024).collect::<Vec<_>>(),
        beats.len()
    );
}
