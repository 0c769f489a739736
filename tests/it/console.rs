//! The memory console's REST API (docs/console.md) end to end, on the built `mem0-dify` binary,
//! reached two ways with the same scenario:
//! - through the stand-in daemon's endpoint invocation (`invoke_endpoint` with the hex of the
//!   HTTP request, the endpoint's settings carrying the key and the engine) over the runtime's
//!   stdio (`tests/support/daemon.rs`; the built binary runs `serve` as the launcher execs it:
//!   a debug build is over the package size limit);
//! - through `mem0-dify console --credentials FILE --listen 127.0.0.1:PORT`.
//!
//! The engine: the embedded store and SQLite history/journal in a fresh data directory, the fake
//! OpenAI server's embeddings. Memories get in by import (the console adds none).

use crate::support::daemon;
use crate::support::fake_openai;
use crate::support::not_run;

use fake_openai::FakeOpenAi;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

const KEY: &str = "console-test-key-5f2a9c01d7";
const DIMS: usize = 32;

/// An HTTP answer.
struct Reply {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("status {}: body is not JSON ({e}): {}", self.status, self.text()))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn expect(self, status: u16) -> Self {
        assert_eq!(self.status, status, "{}", self.text());
        self
    }
}

/// How requests reach the console.
enum Way {
    /// The endpoint invocation of the stand-in daemon, with the endpoint's settings.
    Daemon { plugin: daemon::StdioPlugin, settings: Value },
    /// `mem0-dify console` on loopback.
    Direct { address: String, child: tokio::process::Child },
}

/// The raw HTTP/1.1 request.
fn raw_request(method: &str, target: &str, key: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: console.test\r\nUser-Agent: console-test\r\n");
    if let Some(key) = key {
        head.push_str(&format!("X-Console-Key: {key}\r\n"));
    }
    if !body.is_empty() {
        head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// An HTTP/1.1 response read whole.
fn parse_response(bytes: &[u8]) -> Reply {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Reply { status, headers, body: bytes[end + 4..].to_vec() }
}

impl Way {
    async fn send(&self, method: &str, target: &str, key: Option<&str>, body: &[u8]) -> Reply {
        let raw = raw_request(method, target, key, body);
        match self {
            Way::Direct { address, .. } => {
                let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
                stream.write_all(&raw).await.expect("write");
                let mut answer = Vec::new();
                stream.read_to_end(&mut answer).await.expect("read");
                parse_response(&answer)
            }
            Way::Daemon { plugin, settings } => {
                let data = json!({"user_id": "", "type": "endpoint", "action": "invoke_endpoint",
                    "raw_http_request": hex::encode(&raw), "settings": settings});
                let messages = plugin.daemon.call(data).await;
                let chunks: Vec<&Value> =
                    messages.iter().filter(|m| m["type"] == "stream").map(|m| &m["data"]).collect();
                assert!(!chunks.is_empty(), "no chunk: {messages:#?}");
                let status = chunks[0]["status"].as_u64().expect("status") as u16;
                let headers = chunks[0]["headers"]
                    .as_object()
                    .expect("headers")
                    .iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap_or_default().to_owned()))
                    .collect();
                let mut body = Vec::new();
                for chunk in &chunks {
                    if let Some(piece) = chunk["result"].as_str() {
                        body.extend(hex::decode(piece).expect("hex body"));
                    }
                }
                Reply { status, headers, body }
            }
        }
    }

    async fn get(&self, target: &str) -> Reply {
        self.send("GET", target, Some(KEY), b"").await
    }

    async fn with_body(&self, method: &str, target: &str, body: &Value) -> Reply {
        self.send(method, target, Some(KEY), body.to_string().as_bytes()).await
    }
}

/// The engine's credentials (as Dify sends them) in a fresh data directory.
fn engine(model: &FakeOpenAi, data: &Path) -> Value {
    let model_config = |extra: Value| {
        let mut config = json!({"api_key": "sk-console", "openai_base_url": model.base_url(), "max_retries": 0});
        config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        config
    };
    json!({
        "local_llm_json": json!({"provider": "openai", "config": model_config(json!({"model": "gpt-4o-mini"}))}).to_string(),
        "local_embedder_json": json!({"provider": "openai", "config": model_config(json!({"embedding_dims": DIMS}))}).to_string(),
        "local_vector_db_json": json!({"provider": "embedded", "config": {
            "path": data.join("memories.db").to_string_lossy(), "embedding_model_dims": DIMS}}).to_string(),
        "async_mode": false,
    })
}

/// One exported memory line.
fn line(id: &str, user: &str, text: &str, minutes: u32) -> Value {
    let at = format!("2026-03-01T12:{minutes:02}:00.000000+00:00");
    json!({"id": id, "memory": text, "metadata": {"source": "test"}, "user_id": user, "created_at": at, "updated_at": at,
        "history": [{"id": uuid::Uuid::new_v4().to_string(), "memory_id": id, "old_memory": null, "new_memory": text,
        "event": "ADD", "created_at": at, "updated_at": at, "is_deleted": false}]})
}

fn jsonl(lines: &[Value]) -> Vec<u8> {
    lines.iter().map(|l| format!("{l}\n")).collect::<String>().into_bytes()
}

const ALICE_1: &str = "0b9a1d1e-8c1f-4d7e-9f51-000000000001";
const ALICE_2: &str = "0b9a1d1e-8c1f-4d7e-9f51-000000000002";
const ALICE_3: &str = "0b9a1d1e-8c1f-4d7e-9f51-000000000003";
const BOB_1: &str = "0b9a1d1e-8c1f-4d7e-9f51-000000000004";

/// Every route, its failures, and the import rules, on one way in.
async fn scenario(way: &Way) {
    // the page, without a key
    let page = way.send("GET", "/", None, b"").await.expect(200);
    assert!(page.headers["content-type"].starts_with("text/html"), "{:?}", page.headers);

    // keys: none, wrong
    let none = way.send("GET", "/api/scopes", None, b"").await.expect(401);
    assert_eq!(none.json()["error"]["code"], "unauthorized");
    way.send("GET", "/api/scopes", Some("wrong-key-wrong-key"), b"").await.expect(401);

    // import: a file with a bad third line is refused, naming the line …
    let all = [line(ALICE_1, "alice", "Likes green tea", 1), line(ALICE_2, "alice", "Lives in Paris", 2)];
    let mut interrupted = jsonl(&all);
    interrupted.extend_from_slice(b"{\"id\": \"not-a-uuid\"}\n");
    let failed = way.send("POST", "/api/import", Some(KEY), &interrupted).await.expect(400);
    assert!(failed.json()["error"]["message"].as_str().unwrap().starts_with("line 3:"), "{}", failed.text());
    // … nothing at all: the whole body is read before anything is stored
    let scopes = way.get("/api/scopes").await.expect(200).json();
    assert_eq!(scopes["scopes"], json!([]), "{scopes}");
    // an import cut half-way (the connection or the process died after line 1), then repeated whole
    way.send("POST", "/api/import", Some(KEY), &jsonl(&all[..1])).await.expect(200);
    let mut full = all.to_vec();
    full.push(line(ALICE_3, "alice", "Plays the cello", 3));
    full.push(line(BOB_1, "bob", "Likes black coffee", 4));
    let first = way.send("POST", "/api/import", Some(KEY), &jsonl(&full)).await.expect(200).json();
    assert_eq!(first["imported"], json!({"stored": 3, "unchanged": 1, "history_rows": 4}), "{first}");
    let again = way.send("POST", "/api/import", Some(KEY), &jsonl(&full)).await.expect(200).json();
    assert_eq!(again["imported"]["stored"], 0, "re-importing changes nothing: {again}");
    assert_eq!(again["imported"]["unchanged"], 4);

    // a line too long is refused with 413, naming it
    let mut huge = jsonl(&full[..1]);
    huge.extend_from_slice(format!("{}\n", "x".repeat(300 * 1024)).as_bytes());
    let too_long = way.send("POST", "/api/import", Some(KEY), &huge).await.expect(413).json();
    assert!(too_long["error"]["message"].as_str().unwrap().starts_with("line 2:"), "{too_long}");
    // bad JSON in an import and in an update
    let bad = way.send("POST", "/api/import", Some(KEY), b"{not json\n").await.expect(400).json();
    assert!(bad["error"]["message"].as_str().unwrap().contains("line 1"), "{bad}");
    way.send("PUT", &format!("/api/memories/{ALICE_1}?user_id=alice"), Some(KEY), b"{oops").await.expect(400);

    // scopes with counts
    let scopes = way.get("/api/scopes").await.expect(200).json();
    let mut listed: Vec<(String, u64)> = scopes["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["user_id"].as_str().unwrap().to_owned(), s["memories"].as_u64().unwrap()))
        .collect();
    listed.sort();
    assert_eq!(listed, [("alice".to_owned(), 3), ("bob".to_owned(), 1)]);

    // list (newest first), search, get
    let memories = way.get("/api/memories?user_id=alice").await.expect(200).json();
    let texts: Vec<&str> =
        memories["memories"].as_array().unwrap().iter().map(|m| m["memory"].as_str().unwrap()).collect();
    assert_eq!(texts, ["Plays the cello", "Lives in Paris", "Likes green tea"]);
    let found = way.get("/api/search?user_id=alice&q=green%20tea&limit=1").await.expect(200).json();
    assert_eq!(found["memories"][0]["id"], ALICE_1, "{found}");
    way.send("GET", "/api/search?user_id=alice", Some(KEY), b"").await.expect(400);
    let one = way.get(&format!("/api/memories/{ALICE_2}?user_id=alice")).await.expect(200).json();
    assert_eq!(one["memory"]["memory"], "Lives in Paris");

    // another scope's id is not found, for every route by id
    way.get(&format!("/api/memories/{BOB_1}?user_id=alice")).await.expect(404);
    way.get(&format!("/api/memories/{BOB_1}/history?user_id=alice")).await.expect(404);
    way.with_body("PUT", &format!("/api/memories/{BOB_1}?user_id=alice"), &json!({"text": "hijacked"}))
        .await
        .expect(404);
    way.send("DELETE", &format!("/api/memories/{BOB_1}?user_id=alice"), Some(KEY), b"").await.expect(404);
    // an id another owner holds cannot be imported over
    let stolen = jsonl(&[line(BOB_1, "alice", "Mine now", 9)]);
    way.send("POST", "/api/import", Some(KEY), &stolen).await.expect(400);

    // update (re-embedded, history kept), history
    let updated = way
        .with_body("PUT", &format!("/api/memories/{ALICE_2}?user_id=alice"), &json!({"text": "Lives in Berlin"}))
        .await
        .expect(200)
        .json();
    assert_eq!(updated["memory"]["memory"], "Lives in Berlin");
    let found = way.get("/api/search?user_id=alice&q=Berlin&limit=1").await.expect(200).json();
    assert_eq!(found["memories"][0]["id"], ALICE_2, "the new text is searchable: {found}");
    let history = way.get(&format!("/api/memories/{ALICE_2}/history?user_id=alice")).await.expect(200).json();
    let events: Vec<&str> =
        history["history"].as_array().unwrap().iter().map(|h| h["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["ADD", "UPDATE"], "{history}");

    // delete one
    way.send("DELETE", &format!("/api/memories/{ALICE_3}?user_id=alice"), Some(KEY), b"").await.expect(200);
    way.get(&format!("/api/memories/{ALICE_3}?user_id=alice")).await.expect(404);

    // export a scope, and everything
    let export = way.get("/api/export?user_id=alice").await.expect(200);
    assert!(export.headers["content-type"].starts_with("application/x-ndjson"));
    let lines: Vec<Value> = export.text().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{}", export.text());
    assert!(lines.iter().all(|l| l["user_id"] == "alice" && l["history"].as_array().is_some_and(|h| !h.is_empty())));
    let everything = way.get("/api/export").await.expect(200).text();
    assert_eq!(everything.lines().count(), 3);

    // erase: refused without confirmation, then done with a receipt; bob is intact
    way.with_body("POST", "/api/erase?user_id=alice", &json!({})).await.expect(400);
    let receipt = way.with_body("POST", "/api/erase?user_id=alice", &json!({"confirm": true})).await.expect(200).json();
    assert_eq!(receipt["receipt"]["memories_deleted"], 2, "{receipt}");
    assert!(receipt["receipt"]["history_rows_deleted"].as_u64().unwrap() >= 4, "{receipt}");
    assert!(receipt["receipt"]["journal_entries_deleted"].as_u64().unwrap() >= 2, "{receipt}");
    let left = way.get("/api/memories?user_id=alice").await.expect(200).json();
    assert_eq!(left["memories"], json!([]));
    way.get(&format!("/api/memories/{ALICE_2}/history?user_id=alice")).await.expect(404);
    assert_eq!(way.get("/api/export?user_id=alice").await.expect(200).text(), "");
    let bob = way.get("/api/memories?user_id=bob").await.expect(200).json();
    assert_eq!(bob["memories"][0]["memory"], "Likes black coffee");
    let scopes = way.get("/api/scopes").await.expect(200).json();
    assert_eq!(scopes["scopes"].as_array().unwrap().len(), 1, "{scopes}");

    // unknown routes and methods
    way.get("/api/nothing").await.expect(404);
    way.send("DELETE", "/api/scopes", Some(KEY), b"").await.expect(405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_through_the_daemons_endpoint_invocation() {
    let model = FakeOpenAi::start().await;
    model.set_embedding_dims(DIMS);
    let data = tempfile::tempdir().unwrap();
    // the built binary as the launcher runs it (a debug build is too large to package)
    let data_dir = data.path().to_string_lossy().into_owned();
    let binary = Path::new(env!("CARGO_BIN_EXE_mem0-dify"));
    let running = daemon::StdioPlugin::start_binary(binary, &[("MEM0_DIFY_DATA_DIR", &data_dir)]);
    let mut settings = engine(&model, data.path());
    settings["console_access_key"] = json!(KEY);
    let way = Way::Daemon { plugin: running, settings };
    scenario(&way).await;
    // endpoint settings without a key: the API is not set up, the page still served
    let Way::Daemon { plugin, mut settings } = way else { unreachable!("built above") };
    settings.as_object_mut().unwrap().remove("console_access_key");
    let unset = Way::Daemon { plugin, settings };
    let reply = unset.get("/api/scopes").await.expect(503);
    assert!(reply.json()["error"]["message"].as_str().unwrap().contains("console_access_key"));
    unset.send("GET", "/", None, b"").await.expect(200);
}

/// `mem0-dify console` over a fresh data directory: the way in, and the credentials file.
async fn start_console(model: &FakeOpenAi, data: &Path) -> (Way, std::path::PathBuf, Logs) {
    let credentials = data.join("credentials.json");
    std::fs::write(&credentials, engine(model, data).to_string()).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mem0-dify"))
        .args(["console", "--credentials"])
        .arg(&credentials)
        .args(["--listen", "127.0.0.1:0"])
        .env("MEM0_DIFY_CONSOLE_KEY", KEY)
        .env("MEM0_DIFY_DATA_DIR", data)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .env("RUST_LOG", "info")
        .kill_on_drop(true)
        .spawn()
        .expect("start mem0-dify console");
    let logs = Logs::default();
    tokio::spawn(daemon::collect_stderr(child.stderr.take().unwrap(), logs.clone()));
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(60), stdout.next_line()).await.expect("listening line");
    let first = first.unwrap().expect("a line");
    let address = first.trim_start_matches("console listening on http://").trim_end_matches('/').to_owned();
    (Way::Direct { address, child }, credentials, logs)
}

/// What a process wrote to stderr so far.
type Logs = std::sync::Arc<std::sync::Mutex<String>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_through_mem0_dify_console() {
    let model = FakeOpenAi::start().await;
    model.set_embedding_dims(DIMS);
    let data = tempfile::tempdir().unwrap();
    let (way, _, logs) = start_console(&model, data.path()).await;
    scenario(&way).await;
    // wrong keys: refused, then rate-limited; logged without the key
    let wrong = "wrong-key-wrong-key-123";
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(way.send("GET", "/api/scopes", Some(wrong), b"").await.status);
    }
    assert!(statuses.contains(&401) && statuses.ends_with(&[429, 429]), "{statuses:?}");
    let limited = way.get("/api/scopes").await.expect(429);
    assert!(limited.headers.contains_key("retry-after"), "{:?}", limited.headers);
    let logs = logs.lock().unwrap().clone();
    assert!(logs.contains("wrong access key"), "{logs}");
    assert!(!logs.contains(wrong) && !logs.contains(KEY), "a key reached the log");
    // stopped as a service manager stops it (SIGTERM): drains and exits cleanly
    let Way::Direct { mut child, .. } = way else { unreachable!("started above") };
    let pid = child.id().expect("running");
    assert!(std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status().is_ok_and(|s| s.success()));
    let exited = tokio::time::timeout(Duration::from_secs(20), child.wait()).await.expect("exit after SIGTERM");
    assert!(exited.unwrap().success(), "a clean exit after SIGTERM");
}

/// A Mem0 `history.db` made by the real mem0ai package at the seed's version
/// (`scripts/mem0-history/`), and what was done to make it.
fn mem0_history_db(dir: &Path) -> Result<(std::path::PathBuf, Value), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mem0-history");
    let install = std::process::Command::new(root.join("install.sh")).output().map_err(|e| e.to_string())?;
    if !install.status.success() {
        return Err(format!("install.sh failed: {}", String::from_utf8_lossy(&install.stderr)));
    }
    let python = String::from_utf8_lossy(&install.stdout).trim().to_owned();
    let file = dir.join("history.db");
    let made = std::process::Command::new(python)
        .arg(root.join("make_history_db.py"))
        .arg(&file)
        .arg(dir)
        .output()
        .map_err(|e| e.to_string())?;
    assert!(made.status.success(), "make_history_db.py failed: {}", String::from_utf8_lossy(&made.stderr));
    let report: Value = serde_json::from_slice(&made.stdout).expect("the generator's JSON report");
    assert_eq!(report["mem0ai"], "1.0.1", "the seed's mem0ai version");
    Ok((file, report))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_a_history_db_made_by_mem0ai() {
    let scratch = tempfile::tempdir().unwrap();
    let (file, report) = match mem0_history_db(scratch.path()) {
        Ok(made) => made,
        Err(reason) => return not_run::not_run("imports_a_history_db_made_by_mem0ai", &reason),
    };
    let model = FakeOpenAi::start().await;
    model.set_embedding_dims(DIMS);
    let data = tempfile::tempdir().unwrap();
    let (way, credentials, _) = start_console(&model, data.path()).await;
    // the Python plugin's memories are read where they are; here they are brought in by import
    let memories = report["memories"].as_array().unwrap();
    let kept: Vec<Value> = memories
        .iter()
        .filter(|m| m["deleted"] == false)
        .map(|m| {
            let mut l = line(m["id"].as_str().unwrap(), m["user_id"].as_str().unwrap(), m["text"].as_str().unwrap(), 1);
            l["history"] = json!([]);
            l
        })
        .collect();
    way.send("POST", "/api/import", Some(KEY), &jsonl(&kept)).await.expect(200);

    // the command line
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_mem0-dify"))
        .arg("import-mem0-history")
        .arg(&file)
        .arg("--credentials")
        .arg(&credentials)
        .env("MEM0_DIFY_DATA_DIR", data.path())
        .output()
        .expect("run import-mem0-history");
    let stdout = String::from_utf8_lossy(&cli.stdout);
    assert!(cli.status.success(), "{stdout}{}", String::from_utf8_lossy(&cli.stderr));
    assert!(stdout.starts_with("5 history rows imported"), "{stdout}");

    // Mem0's rows are the memory's history here, shown to its owner
    let moved = &memories[1];
    let target = format!("/api/memories/{}/history?user_id=alice", moved["id"].as_str().unwrap());
    let history = way.get(&target).await.expect(200).json();
    let rows: Vec<(String, Value)> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["event"].as_str().unwrap().to_owned(), h["new_memory"].clone()))
        .collect();
    assert_eq!(rows, [("ADD".into(), json!("Lives in Paris")), ("UPDATE".into(), json!("Lives in Berlin"))]);
    way.get(&format!("/api/memories/{}/history?user_id=bob", moved["id"].as_str().unwrap())).await.expect(404);

    // the console route with the same file: nothing doubles
    let bytes = std::fs::read(&file).unwrap();
    let again = way.send("POST", "/api/import-mem0-history", Some(KEY), &bytes).await.expect(200).json();
    assert_eq!(again["imported"]["history_rows"], 5, "{again}");
    let history = way.get(&target).await.expect(200).json();
    assert_eq!(history["history"].as_array().unwrap().len(), 2, "{history}");
    // not a history.db
    way.send("POST", "/api/import-mem0-history", Some(KEY), b"not sqlite").await.expect(400);
}

#[tokio::test]
async fn console_refuses_a_short_key_and_a_remote_address() {
    let run = |key: &str, listen: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_mem0-dify"))
            .args(["console", "--listen", listen])
            .env("MEM0_DIFY_CONSOLE_KEY", key)
            .output()
            .expect("run")
    };
    let short = run("short", "127.0.0.1:0");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("MEM0_DIFY_CONSOLE_KEY"));
    let remote = run(KEY, "0.0.0.0:0");
    assert!(!remote.status.success());
    assert!(
        String::from_utf8_lossy(&remote.stderr).contains("--allow-remote"),
        "{}",
        String::from_utf8_lossy(&remote.stderr)
    );
}
