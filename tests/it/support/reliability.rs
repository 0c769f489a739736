//! Shared harness of the reliability tests: the REAL `mem0-dify serve` binary driven over stdio by
//! the daemon stand-in of `daemon.rs`, a scripted model on the fake OpenAI server, and direct
//! looks into PostgreSQL (memories, history, journal) behind the plugin's back.
#![allow(dead_code)]

use super::daemon::{collect_stderr, DaemonSide};
use super::fake_openai::{FakeOpenAi, Reply};
use super::pgstore;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::BufReader;
use tokio::process::{Child, Command};

/// The API key the tests give the plugin; it must never appear in a log line.
pub const API_KEY: &str = "sk-reliability-7c41d9e2b8a05f36";
/// Embedding size used by every reliability test.
pub const DIMS: usize = 32;
/// The prefix that marks the fact in a message sent to the scripted model.
pub const FACT_PREFIX: &str = "Please remember: ";

/// The plugin environment of the journal's writer: a lease of `lease_secs`, polls and retries every 0.2 s.
pub const fn writer_env(lease_secs: &'static str) -> [(&'static str, &'static str); 3] {
    [
        ("MEM0_DIFY_WRITE_LEASE_SECS", lease_secs),
        ("MEM0_DIFY_WRITE_POLL_SECS", "0.2"),
        ("MEM0_DIFY_WRITE_RETRY_BASE_SECS", "0.2"),
    ]
}

/// What a test of async writes into pgvector starts with. Keep it alive for the whole test (borrow
/// its fields, do not move them out): the model stops when it is dropped.
pub struct PgRun {
    /// The database URL.
    pub url: String,
    /// The database password (never to be logged).
    pub password: String,
    /// The scripted model.
    pub model: Model,
    /// A fresh collection.
    pub collection: String,
    /// Credentials with async mode on, naming the model and the collection.
    pub creds: Value,
    /// Looks into the collection's tables.
    pub db: Db,
}

impl PgRun {
    /// With the test PostgreSQL (`None` when service tests are skipped): a model answering after
    /// `latency` and a fresh collection whose name starts with `name`.
    pub async fn start(name: &str, latency: Duration) -> Option<Self> {
        let url = pgstore::pg_url()?;
        let password = pgstore::service_var("MEM0_TEST_PG_PASSWORD").unwrap_or_default();
        Some(Self::start_at(&url, &password, name, latency).await)
    }

    /// The same with the PostgreSQL at `url`.
    pub async fn start_at(url: &str, password: &str, name: &str, latency: Duration) -> Self {
        let model = Model::start(latency).await;
        let collection = pgstore::unique_collection(name);
        let creds = credentials(&model.base_url(), pgvector(url, &collection), true);
        let db = Db::new(url, &collection);
        Self { url: url.to_owned(), password: password.to_owned(), model, collection, creds, db }
    }
}

/// One decision call seen by the model: the new facts and the stored memories it was shown.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The new facts.
    pub facts: Vec<String>,
    /// The stored memories shown.
    pub stored: Vec<String>,
}

/// The fake OpenAI server scripted as a well-behaved model: extraction returns the text after
/// [`FACT_PREFIX`] in the user's message as the one fact; every decision adds the new facts.
pub struct Model {
    /// The server.
    pub server: FakeOpenAi,
    /// Every decision call, in arrival order.
    pub decisions: Arc<Mutex<Vec<Decision>>>,
}

impl Model {
    /// Starts the model with `latency` before every answer; only [`API_KEY`] is accepted.
    pub async fn start(latency: Duration) -> Self {
        let server = FakeOpenAi::start().await;
        server.set_embedding_dims(DIMS);
        server.set_latency(latency);
        server.require_api_key(API_KEY);
        let decisions = Arc::new(Mutex::new(Vec::new()));
        let seen = decisions.clone();
        server.on_chat(move |body| answer(body, &seen));
        Self { server, decisions }
    }

    /// `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The decision calls seen so far.
    pub fn decisions(&self) -> Vec<Decision> {
        self.decisions.lock().expect("decisions").clone()
    }
}

fn answer(body: &Value, decisions: &Mutex<Vec<Decision>>) -> Reply {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let is_extraction = messages.first().is_some_and(|m| m["role"] == "system");
    if is_extraction {
        let conversation = messages.get(1).and_then(|m| m["content"].as_str()).unwrap_or_default();
        let facts: Vec<&str> =
            conversation.lines().filter_map(|line| line.split_once(FACT_PREFIX).map(|(_, fact)| fact.trim())).collect();
        return Reply::json(&json!({ "facts": facts }));
    }
    let prompt = messages.first().and_then(|m| m["content"].as_str()).unwrap_or_default();
    let section = |marker: &str| -> Vec<Value> {
        prompt
            .split_once(marker)
            .and_then(|(_, rest)| serde_json::Deserializer::from_str(rest).into_iter::<Value>().next())
            .and_then(Result::ok)
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    };
    let facts: Vec<String> =
        section("New facts (JSON):\n").iter().filter_map(|f| f.as_str().map(str::to_owned)).collect();
    let stored: Vec<String> =
        section("Stored memories (JSON):\n").iter().filter_map(|m| m["text"].as_str().map(str::to_owned)).collect();
    decisions.lock().expect("decisions").push(Decision { facts: facts.clone(), stored });
    let items: Vec<Value> = facts.iter().map(|f| json!({"id": "new", "text": f, "event": "ADD"})).collect();
    Reply::json(&json!({ "memory": items }))
}

/// The provider credentials as Dify sends them (JSON text in secret inputs).
pub fn credentials(model_url: &str, vector_store: Value, async_mode: bool) -> Value {
    let model = |extra: Value| {
        let mut config = json!({"api_key": API_KEY, "openai_base_url": model_url, "max_retries": 0});
        config.as_object_mut().expect("object").extend(extra.as_object().expect("object").clone());
        config
    };
    json!({
        "local_llm_json": json!({"provider": "openai", "config": model(json!({"model": "gpt-4o-mini"}))}).to_string(),
        "local_embedder_json": json!({"provider": "openai", "config": model(json!({"embedding_dims": DIMS}))}).to_string(),
        "local_vector_db_json": vector_store.to_string(),
        "async_mode": async_mode,
    })
}

/// A pgvector block for `collection`.
pub fn pgvector(url: &str, collection: &str) -> Value {
    json!({"provider": "pgvector", "config": {
        "connection_string": url, "collection_name": collection, "embedding_model_dims": DIMS}})
}

/// The `data` of an `invoke_tool` request from the Dify end user `end_user`.
pub fn invoke(tool: &str, params: Value, credentials: &Value, end_user: &str) -> Value {
    json!({"user_id": end_user, "type": "tool", "action": "invoke_tool", "provider": "mem0", "tool": tool,
           "credentials": credentials, "credential_type": "api-key", "tool_parameters": params})
}

/// A tool's answer: the JSON message and the text, or the session's protocol error.
#[derive(Debug, Clone)]
pub struct ToolAnswer {
    /// `{"status", "messages", "results", …}` (Null when the session failed).
    pub json: Value,
    /// The text message(s).
    pub text: String,
    /// The session's `error` payload, when it failed at the protocol level.
    pub error: Option<Value>,
}

impl ToolAnswer {
    fn from_messages(messages: &[Value]) -> Self {
        if let Some(error) = messages.iter().find(|m| m["type"] == "error") {
            return Self { json: Value::Null, text: String::new(), error: Some(error["data"].clone()) };
        }
        let chunks: Vec<&Value> =
            messages.iter().filter(|m| m["type"] == "stream").map(|m| &m["data"]).collect::<Vec<_>>();
        let json = chunks
            .iter()
            .find(|c| c["type"] == "json")
            .map(|c| c["message"]["json_object"].clone())
            .unwrap_or(Value::Null);
        let text =
            chunks.iter().filter(|c| c["type"] == "text").filter_map(|c| c["message"]["text"].as_str()).collect();
        Self { json, text, error: None }
    }

    /// `status` is SUCCESS.
    pub fn ok(&self) -> bool {
        self.json["status"] == "SUCCESS"
    }

    /// An add that was accepted for writing.
    pub fn accepted(&self) -> bool {
        self.json["results"][0]["event"] == "ACCEPT"
    }

    /// The write id of an accepted write.
    pub fn write_id(&self) -> Option<String> {
        self.json["write_id"].as_str().map(str::to_owned)
    }

    /// The `messages` text of an ERROR reply.
    pub fn message(&self) -> String {
        self.json["messages"].as_str().map(str::to_owned).unwrap_or_else(|| self.json["messages"].to_string())
    }
}

/// The real plugin binary, started as the daemon starts it, with the daemon's side of its pipes.
pub struct Plugin {
    /// The process.
    pub child: Child,
    /// The daemon's side of stdio.
    pub daemon: DaemonSide,
    stderr: Arc<Mutex<String>>,
    /// Its process id.
    pub pid: u32,
}

impl Plugin {
    /// Starts `mem0-dify serve` in `dir` (its working directory and data directory) with `env`
    /// on top of a clean plugin environment (`INSTALL_METHOD=local`, `RUST_LOG=debug`); an empty
    /// value in `env` unsets the variable.
    pub fn spawn(dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mem0-dify"));
        cmd.arg("serve").current_dir(dir);
        for (key, _) in std::env::vars() {
            if key.starts_with("MEM0_DIFY_") || key.starts_with("REMOTE_INSTALL") || key == "INSTALL_METHOD" {
                cmd.env_remove(key);
            }
        }
        cmd.env("INSTALL_METHOD", "local")
            .env("RUST_LOG", "debug")
            .env("MEM0_DIFY_DATA_DIR", dir)
            .env("HEARTBEAT_INTERVAL", "1");
        for (k, v) in env {
            if v.is_empty() {
                cmd.env_remove(k); // an empty value unsets the variable (e.g. RUST_LOG)
            } else {
                cmd.env(k, v);
            }
        }
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        let mut child = cmd.spawn().expect("start mem0-dify serve");
        let pid = child.id().expect("pid");
        let stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take().expect("stdin");
        let stderr = Arc::new(Mutex::new(String::new()));
        tokio::spawn(collect_stderr(child.stderr.take().expect("stderr"), stderr.clone()));
        let daemon = DaemonSide::new(BufReader::new(stdout), Box::new(stdin));
        Self { child, daemon, stderr, pid }
    }

    /// Sends a request; returns its session id.
    pub async fn send(&self, data: Value) -> String {
        self.daemon.request(data).await
    }

    /// Waits for a session's answer.
    pub async fn answer(&self, session_id: &str, timeout: Duration) -> ToolAnswer {
        ToolAnswer::from_messages(&self.daemon.session(session_id, timeout).await)
    }

    /// Invokes a tool and waits for its answer (60 s at most).
    pub async fn call(&self, tool: &str, params: Value, credentials: &Value) -> ToolAnswer {
        self.call_as(tool, params, credentials, "dify-end-user").await
    }

    /// Invokes a tool as the Dify end user `end_user`.
    pub async fn call_as(&self, tool: &str, params: Value, credentials: &Value, end_user: &str) -> ToolAnswer {
        let sid = self.send(invoke(tool, params, credentials, end_user)).await;
        self.answer(&sid, Duration::from_secs(60)).await
    }

    /// Adds the `k`-th fact of `user`.
    pub async fn add_fact(&self, user: &str, k: usize, credentials: &Value) -> ToolAnswer {
        self.call("add_memory", add_params(user, &fact(user, k)), credentials).await
    }

    /// Adds the `k`-th fact of `user`, which must be accepted; returns its write id.
    pub async fn accept_fact(&self, user: &str, k: usize, credentials: &Value) -> String {
        let answer = self.add_fact(user, k, credentials).await;
        assert!(answer.accepted(), "{answer:?}");
        answer.write_id().expect("write_id")
    }

    /// Everything the plugin wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr").clone()
    }

    /// `kill -9` and reap.
    pub async fn kill9(&mut self) {
        let status = std::process::Command::new("kill").arg("-9").arg(self.pid.to_string()).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -9 {}", self.pid);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }

    /// Closes stdin (the daemon going away) and waits for a clean exit.
    pub async fn stop(&mut self, timeout: Duration) -> std::process::ExitStatus {
        self.daemon.close_input().await;
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => status.expect("wait"),
            Err(_) => panic!("the plugin did not exit within {timeout:?}; stderr tail:\n{}", tail(&self.stderr(), 40)),
        }
    }

    /// (resident, peak resident) memory in KiB, from /proc.
    pub fn memory_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

/// The last `n` lines of a text.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Fails when a log contains a secret, a panic, or (to prove it was captured) no debug line.
pub fn assert_clean_log(log: &str, secrets: &[&str]) {
    assert!(log.contains("DEBUG"), "the log was not captured at debug level:\n{}", tail(log, 20));
    for secret in secrets {
        if let Some(line) = log.lines().find(|l| l.contains(secret)) {
            panic!("a secret ({} chars) appears in the log: {line}", secret.len());
        }
    }
    if let Some(line) = log.lines().find(|l| l.contains("panicked")) {
        panic!("the plugin panicked: {line}");
    }
}

/// One row of the journal.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalRow {
    /// Insertion order.
    pub seq: i64,
    /// The write id.
    pub id: String,
    /// Per-owner ordering key.
    pub key: String,
    /// pending / applied / failed.
    pub state: String,
    /// Attempts made.
    pub attempts: i32,
    /// The last error.
    pub last_error: Option<String>,
    /// Whether a plan was saved.
    pub planned: bool,
    /// Whether a worker holds an unexpired lease on it.
    pub leased: bool,
    /// When it finished, as microseconds since the epoch.
    pub finished_us: Option<i64>,
}

/// Looks into the tables of one pgvector collection, with a fresh connection per look (so the
/// looks survive a server restart).
pub struct Db {
    url: String,
    collection: String,
}

impl Db {
    /// The tables of `collection` in the database at `url`.
    pub fn new(url: &str, collection: &str) -> Self {
        Self { url: url.to_owned(), collection: collection.to_owned() }
    }

    async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    /// Every stored memory as (user_id, text).
    pub async fn memories(&self) -> Vec<(String, String)> {
        let sql = format!(
            "SELECT COALESCE(payload->>'user_id', ''), payload->>'data' FROM \"{}\" ORDER BY 1, 2",
            self.collection
        );
        self.client().await.query(&sql, &[]).await.expect("memories").iter().map(|r| (r.get(0), r.get(1))).collect()
    }

    /// Memories per text (to find duplicates).
    pub async fn memory_counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for (_, text) in self.memories().await {
            *counts.entry(text).or_insert(0) += 1;
        }
        counts
    }

    /// History rows per event.
    pub async fn history_events(&self) -> BTreeMap<String, i64> {
        let sql = format!("SELECT event, count(*) FROM \"{}_history\" GROUP BY event", self.collection);
        self.client().await.query(&sql, &[]).await.expect("history").iter().map(|r| (r.get(0), r.get(1))).collect()
    }

    /// Every journal row, oldest first.
    pub async fn journal(&self) -> Vec<JournalRow> {
        let sql = format!(
            "SELECT seq, id, ordering_key, state, attempts, last_error, plan IS NOT NULL, \
             (extract(epoch from finished_at) * 1000000)::bigint, COALESCE(lease_until > now(), false) \
             FROM \"{}_journal\" ORDER BY seq",
            self.collection
        );
        self.client()
            .await
            .query(&sql, &[])
            .await
            .expect("journal")
            .iter()
            .map(|r| JournalRow {
                seq: r.get(0),
                id: r.get(1),
                key: r.get(2),
                state: r.get(3),
                attempts: r.get(4),
                last_error: r.get(5),
                planned: r.get(6),
                finished_us: r.get(7),
                leased: r.get(8),
            })
            .collect()
    }

    /// Journal rows per state.
    pub async fn journal_states(&self) -> BTreeMap<String, usize> {
        let mut states = BTreeMap::new();
        for row in self.journal().await {
            *states.entry(row.state).or_insert(0) += 1;
        }
        states
    }

    /// Waits until no journal row is pending; returns the rows.
    pub async fn wait_until_finished(&self, timeout: Duration) -> Vec<JournalRow> {
        let started = Instant::now();
        loop {
            let rows = self.journal().await;
            if !rows.is_empty() && rows.iter().all(|r| r.state != "pending") {
                return rows;
            }
            assert!(
                started.elapsed() < timeout,
                "writes still pending after {timeout:?}: {:?}",
                rows.iter().filter(|r| r.state == "pending").collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The fact of the `k`-th write of `user`.
pub fn fact(user: &str, k: usize) -> String {
    format!("Note {k} of {user}")
}

/// The `add_memory` parameters carrying `fact` for `user`.
pub fn add_params(user: &str, fact: &str) -> Value {
    json!({"user": format!("{FACT_PREFIX}{fact}"), "user_id": user})
}
