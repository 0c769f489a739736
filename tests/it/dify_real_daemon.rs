//! End to end with the REAL dify-plugin-daemon (contract §13.4), started by
//! `scripts/dify-daemon/daemon.sh start` (which exports `MEM0_TEST_DIFY_*`):
//! (a) its `plugin run` command loads our `.difypkg` through its real local runtime (uv venv with
//!     Python 3.12, `python -m main`) and the tools are driven through it;
//! (b) the daemon server (PostgreSQL + Redis) accepts the plugin over remote debugging with a key
//!     created through its HTTP API, and tools invoked through `/plugin/{tenant}/dispatch/tool/*`
//!     return our results.
//! (c) the same server relays the plugin's backwards invocations (the `dify` model provider) to a
//!     stand-in of Dify's inner API (`tests/support/dify_workspace.rs`) and back.
//! (d) after (c), the memory console: an endpoint set up through the daemon's API (settings
//!     encrypted through the stand-in inner API) answers through the daemon's own `/e/{hook}` route.
//! The packaged binary of (a) and (b) serves the fake engine of `tests/support/fake_api.rs`; (c)
//! runs the real engine binary.
//! Without the daemon's variables these tests fail, unless `MEM0_SKIP_SERVICE_TESTS=1`.

use crate::support::daemon;
use crate::support::dify_workspace as workspace;
use crate::support::fake_api;
use crate::support::not_run;

use daemon::{collect_stderr, launch, packaged_plugin};
use fake_api::{successful_tool_calls, KNOWN_MEMORY_ID};
use mem0_dify::adapters::dify::tools::TOOL_NAMES;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use workspace::FakeInnerApi;

/// The daemon's variables, or `None` when `test` cannot run (after recording that it did not).
fn daemon_env(test: &str) -> Option<HashMap<&'static str, String>> {
    let names = [
        "MEM0_TEST_DIFY_DAEMON_URL",
        "MEM0_TEST_DIFY_DAEMON_KEY",
        "MEM0_TEST_DIFY_DEBUG_ADDR",
        "MEM0_TEST_DIFY_COMMANDLINE",
        "MEM0_TEST_DIFY_UV",
        "MEM0_TEST_DIFY_PYTHON312_DIR",
    ];
    if std::env::var("MEM0_TEST_DIFY_DAEMON_URL").is_err() {
        if let Ok(reason) = std::env::var("MEM0_DIFY_DAEMON_NOT_RUN") {
            not_run::not_run(test, &format!("the real Dify daemon is not available: {reason}"));
            return None;
        }
        if std::env::var("MEM0_SKIP_SERVICE_TESTS").as_deref() == Ok("1") {
            not_run::not_run(test, "no real Dify daemon (MEM0_SKIP_SERVICE_TESTS=1)");
            return None;
        }
        panic!("MEM0_TEST_DIFY_DAEMON_URL is not set: run `scripts/dify-daemon/daemon.sh start` and source $MEM0_RUN_DIR/dify-daemon.env (or set MEM0_SKIP_SERVICE_TESTS=1)");
    }
    Some(names.into_iter().map(|n| (n, std::env::var(n).unwrap_or_default())).collect())
}

fn credentials() -> Value {
    json!({
        "local_llm_json": "{\"provider\": \"openai\", \"config\": {\"model\": \"gpt-4o-mini\"}}",
        "local_embedder_json": "{\"provider\": \"openai\", \"config\": {}}",
        "local_vector_db_json": "{\"provider\": \"pgvector\", \"config\": {}}",
        "async_mode": false,
    })
}

fn broken_credentials() -> Value {
    let mut c = credentials();
    c["local_llm_json"] = json!("{\"provider\": \"broken\", \"config\": {}}");
    c
}

/// Checks a tool's chunks (json, then text, then one variable per output the packaged tool
/// declares in its `output_schema`, each valid against it) and returns the JSON object. The
/// daemon relays what it accepted: the declarations with `output_schema` were loaded and the
/// variable messages passed its ToolInvokeMessage schema.
fn check_tool_chunks(tool: &str, chunks: &[Value]) -> Value {
    assert!(chunks.len() >= 2, "{tool}: expected a json and a text message, got {chunks:#?}");
    assert_eq!(chunks[0]["type"], "json", "{tool}: {chunks:#?}");
    let texts = chunks[1..].iter().take_while(|c| c["type"] == "text").count();
    assert!(texts >= 1, "{tool}: {chunks:#?}");
    let variables = &chunks[1 + texts..];
    assert!(
        variables.iter().all(|c| c["type"] == "variable" && c["message"]["stream"] == false),
        "{tool}: {chunks:#?}"
    );
    check_variables_against_output_schema(tool, variables);
    let object = chunks[0]["message"]["json_object"].clone();
    assert_eq!(object["status"], "SUCCESS", "{tool}: {object}");
    object
}

/// The variables of a reply are exactly the outputs of the packaged `tools/<tool>.yaml`, each
/// valid against its schema.
fn check_variables_against_output_schema(tool: &str, variables: &[Value]) {
    let yaml = std::fs::read_to_string(packaged_plugin().dir.join("tools").join(format!("{tool}.yaml"))).unwrap();
    let declaration: Value = serde_norway::from_str(&yaml).unwrap();
    let schema = &declaration["output_schema"];
    let declared: Vec<&String> = schema["properties"].as_object().expect("output_schema.properties").keys().collect();
    let sent: Vec<&str> = variables.iter().map(|v| v["message"]["variable_name"].as_str().unwrap()).collect();
    assert_eq!(sent, declared, "{tool}: variables sent and outputs declared");
    let all: serde_json::Map<String, Value> = variables
        .iter()
        .map(|v| (v["message"]["variable_name"].as_str().unwrap().to_owned(), v["message"]["variable_value"].clone()))
        .collect();
    let validator = jsonschema::validator_for(schema).unwrap();
    assert!(validator.is_valid(&Value::Object(all)), "{tool}: variables violate the output_schema");
}

// ---------------------------------------------------------------- (a) local runtime: plugin run

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_daemon_local_runtime_runs_the_package() {
    let Some(env) = daemon_env("real_daemon_local_runtime_runs_the_package") else { return };
    let python_dir = &env["MEM0_TEST_DIFY_PYTHON312_DIR"];
    if python_dir.is_empty() {
        not_run::not_run(
            "real_daemon_local_runtime_runs_the_package",
            "no Python 3.12 on this machine, so the daemon's local runtime cannot create the plugin's venv \
             (`uv venv --python 3.12`); the remote-debugging path (b) still runs",
        );
        return;
    }
    let plugin = packaged_plugin();
    let scratch = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(&env["MEM0_TEST_DIFY_COMMANDLINE"])
        .args(["plugin", "run"])
        .arg(&plugin.package)
        .args(["--mode", "stdio", "--response-format", "json"])
        .env("UV_PATH", &env["MEM0_TEST_DIFY_UV"])
        .env("UV_PYTHON_DOWNLOADS", "never")
        .env("PATH", format!("{python_dir}:{}", std::env::var("PATH").unwrap_or_default()))
        .env("TMPDIR", scratch.path())
        .env_remove("INSTALL_METHOD")
        .env_remove("MEM0_DIFY_BINARY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start dify-commandline plugin run");
    let stderr = Arc::new(Mutex::new(String::new()));
    tokio::spawn(collect_stderr(child.stderr.take().unwrap(), stderr.clone()));
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();

    // the local runtime prepares the venv (uv, Python 3.12) and waits for our first heartbeat
    let started = Instant::now();
    loop {
        let line = tokio::time::timeout(Duration::from_secs(240), lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("no plugin_ready within 240 s; stderr:\n{}", stderr.lock().unwrap()))
            .unwrap()
            .unwrap_or_else(|| panic!("plugin run exited; stderr:\n{}", stderr.lock().unwrap()));
        if let Ok(v) = serde_json::from_str::<Value>(&line) {
            if v["type"] == "plugin_ready" {
                break;
            }
            assert_ne!(v["type"], "error", "plugin run failed: {v}; stderr:\n{}", stderr.lock().unwrap());
        }
    }
    eprintln!("(a) the daemon's local runtime loaded the package in {:?}", started.elapsed());

    let mut requests: Vec<(String, Value)> = vec![
        (
            "validate-good".into(),
            json!({"type": "tool", "action": "validate_tool_credentials", "request": {"provider": "mem0", "credentials": credentials()}}),
        ),
        (
            "validate-bad".into(),
            json!({"type": "tool", "action": "validate_tool_credentials", "request": {"provider": "mem0", "credentials": broken_credentials()}}),
        ),
        (
            "unknown-tool".into(),
            json!({"type": "tool", "action": "invoke_tool", "request": {"provider": "mem0", "tool": "forget_everything", "credentials": credentials(), "tool_parameters": {}}}),
        ),
        (
            "runtime-parameters".into(),
            json!({"type": "tool", "action": "get_tool_runtime_parameters", "request": {"provider": "mem0", "tool": "search_memory", "credentials": credentials()}}),
        ),
        (
            "failing-backend".into(),
            json!({"type": "tool", "action": "invoke_tool", "request": {"provider": "mem0", "tool": "search_memory", "credentials": credentials(), "tool_parameters": {"query": "tea", "user_id": "fail"}}}),
        ),
    ];
    for (tool, params) in successful_tool_calls() {
        requests.push((
            tool.into(),
            json!({"type": "tool", "action": "invoke_tool", "request": {"provider": "mem0", "tool": tool, "credentials": credentials(), "credential_type": "api-key", "tool_parameters": params}}),
        ));
    }
    // all requests at once: the daemon runs them as concurrent sessions
    for (id, request) in &requests {
        let mut payload = request.clone();
        payload["invoke_id"] = json!(id);
        let mut line = serde_json::to_vec(&payload).unwrap();
        line.push(b'\n');
        stdin.write_all(&line).await.unwrap();
    }
    stdin.flush().await.unwrap();

    let mut responses: HashMap<String, Vec<Value>> = HashMap::new();
    let mut ended = 0;
    while ended < requests.len() {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("responses missing after 60 s: {responses:#?}"))
            .unwrap()
            .expect("plugin run stopped");
        let Ok(v) = serde_json::from_str::<Value>(&line) else { continue };
        let Some(id) = v["invoke_id"].as_str().filter(|s| !s.is_empty()) else { continue };
        match v["type"].as_str() {
            Some("plugin_response") | Some("error") => responses.entry(id.into()).or_default().push(v.clone()),
            Some("plugin_invoke_end") => ended += 1,
            _ => {}
        }
    }
    let chunks = |id: &str| -> Vec<Value> {
        responses.get(id).cloned().unwrap_or_default().into_iter().map(|r| r["response"].clone()).collect()
    };
    let errors = |id: &str| -> String {
        responses
            .get(id)
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter(|r| r["type"] == "error")
            .map(|r| r["response"]["error"].to_string())
            .collect()
    };
    assert_eq!(chunks("validate-good"), vec![json!({"result": true})]);
    assert!(errors("validate-bad").contains("local_llm_json"), "{:#?}", responses.get("validate-bad"));
    assert!(errors("unknown-tool").contains("ToolNotFoundError"), "{:#?}", responses.get("unknown-tool"));
    assert_eq!(chunks("runtime-parameters"), vec![json!({"parameters": []})]);
    let failing = chunks("failing-backend");
    assert_eq!(failing[0]["message"]["json_object"]["status"], "ERROR", "{failing:#?}");
    for (tool, _) in successful_tool_calls() {
        let object = check_tool_chunks(tool, &chunks(tool));
        if tool == "get_memory" {
            assert_eq!(object["results"]["id"], KNOWN_MEMORY_ID);
        }
    }
    eprintln!(
        "(a) passed: validate good/bad, {} tools, failing backend, unknown tool, runtime parameters",
        TOOL_NAMES.len()
    );
    child.kill().await.ok();
}

// ------------------------------------------------- (b) daemon server: remote debugging + dispatch

struct Daemon {
    url: String,
    key: String,
    http: reqwest::Client,
}

impl Daemon {
    async fn post(&self, path: &str, plugin_id: Option<&str>, body: Value) -> (u16, String) {
        let mut request = self.http.post(format!("{}{path}", self.url)).header("X-Api-Key", &self.key).json(&body);
        if let Some(id) = plugin_id {
            request = request.header("X-Plugin-ID", id);
        }
        let response = request.send().await.expect("daemon reachable");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let response =
            self.http.get(format!("{}{path}", self.url)).header("X-Api-Key", &self.key).send().await.expect("daemon");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// The daemon of the environment's variables.
    fn from_env(env: &HashMap<&'static str, String>) -> Self {
        Self {
            url: env["MEM0_TEST_DIFY_DAEMON_URL"].clone(),
            key: env["MEM0_TEST_DIFY_DAEMON_KEY"].clone(),
            http: reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap(),
        }
    }

    /// A new tenant and a remote-debugging key for it, from the daemon's HTTP API.
    async fn debugging_key(&self) -> (String, String) {
        let tenant = uuid::Uuid::new_v4().to_string();
        let (status, body) = self.post(&format!("/plugin/{tenant}/debugging/key"), None, json!({})).await;
        assert_eq!(status, 200, "{body}");
        let key = serde_json::from_str::<Value>(&body).unwrap()["data"]["key"].as_str().expect("key").to_owned();
        (tenant, key)
    }

    /// Validates `credentials` until the daemon routes to the registered plugin and it answers
    /// without error (the daemon installs a debugging plugin once its registration ends).
    async fn validate_once_routed(
        &self,
        tenant: &str,
        plugin_id: &str,
        credentials: Value,
        stderr: &Mutex<String>,
    ) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let data = json!({"provider": "mem0", "credentials": credentials});
            let (status, events) = self.dispatch(tenant, plugin_id, "validate_credentials", data).await;
            if status == 200 && !events.is_empty() && events.iter().all(|e| e["code"] == 0) {
                eprintln!("the daemon routed to the plugin after {:?}", started.elapsed());
                return events;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the daemon did not route to the plugin within 60 s (last: {status} {events:?}); plugin stderr:\n{}",
                stderr.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Dispatches and returns the SSE `data:` payloads.
    async fn dispatch(&self, tenant: &str, plugin_id: &str, route: &str, data: Value) -> (u16, Vec<Value>) {
        let body = json!({"user_id": "dify-user-1", "conversation_id": null, "app_id": null, "message_id": null, "data": data});
        let (status, text) = self.post(&format!("/plugin/{tenant}/dispatch/tool/{route}"), Some(plugin_id), body).await;
        let events = text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
            .collect();
        (status, events)
    }
}

fn payloads(events: &[Value]) -> Vec<Value> {
    events
        .iter()
        .map(|e| {
            assert_eq!(e["code"], 0, "daemon error: {e}");
            e["data"].clone()
        })
        .collect()
}

fn error_text(events: &[Value]) -> String {
    events.iter().filter(|e| e["code"] != 0).map(|e| e["message"].as_str().unwrap_or_default().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_daemon_accepts_remote_debugging_and_dispatches_tools() {
    let Some(env) = daemon_env("real_daemon_accepts_remote_debugging_and_dispatches_tools") else { return };
    let daemon = Daemon::from_env(&env);
    let (tenant, key) = daemon.debugging_key().await;

    let plugin = packaged_plugin();
    let remote = [
        ("INSTALL_METHOD", "remote"),
        ("REMOTE_INSTALL_URL", env["MEM0_TEST_DIFY_DEBUG_ADDR"].as_str()),
        ("REMOTE_INSTALL_KEY", key.as_str()),
    ];
    let mut child = launch(&plugin.dir, &remote);
    let stderr = Arc::new(Mutex::new(String::new()));
    tokio::spawn(collect_stderr(child.stderr.take().unwrap(), stderr.clone()));
    let plugin_id = plugin.report.unique_identifier.split(':').next().unwrap().to_owned();

    let ok = daemon.validate_once_routed(&tenant, &plugin_id, credentials(), &stderr).await;
    assert_eq!(payloads(&ok), vec![json!({"result": true})]);

    let (_, events) = daemon
        .dispatch(
            &tenant,
            &plugin_id,
            "validate_credentials",
            json!({"provider": "mem0", "credentials": broken_credentials()}),
        )
        .await;
    let error = error_text(&events);
    assert!(error.contains("local_llm_json") && error.contains("ToolProviderCredentialValidationError"), "{events:?}");

    for (tool, params) in successful_tool_calls() {
        let data = json!({"provider": "mem0", "tool": tool, "credentials": credentials(), "credential_type": "api-key", "tool_parameters": params});
        let (status, events) = daemon.dispatch(&tenant, &plugin_id, "invoke", data).await;
        assert_eq!(status, 200, "{tool}: {events:?}");
        let object = check_tool_chunks(tool, &payloads(&events));
        if tool == "get_memory" {
            assert_eq!(object["results"]["memory"], fake_api::KNOWN_MEMORY_TEXT);
        }
    }

    let data =
        json!({"provider": "mem0", "tool": "forget_everything", "credentials": credentials(), "tool_parameters": {}});
    let (_, events) = daemon.dispatch(&tenant, &plugin_id, "invoke", data).await;
    assert!(error_text(&events).contains("ToolNotFoundError"), "{events:?}");

    let data = json!({"provider": "mem0", "tool": "search_memory", "credentials": credentials(), "tool_parameters": {"query": "tea", "user_id": "fail"}});
    let (_, events) = daemon.dispatch(&tenant, &plugin_id, "invoke", data).await;
    assert_eq!(payloads(&events)[0]["message"]["json_object"]["status"], "ERROR", "{events:?}");

    let data = json!({"provider": "mem0", "tool": "search_memory", "credentials": credentials()});
    let (_, events) = daemon.dispatch(&tenant, &plugin_id, "get_runtime_parameters", data).await;
    assert_eq!(payloads(&events), vec![json!({"parameters": []})], "{events:?}");

    // concurrent dispatches through the daemon
    let mut handles = Vec::new();
    let daemon = Arc::new(daemon);
    for i in 0..20 {
        let (daemon, tenant, plugin_id) = (daemon.clone(), tenant.clone(), plugin_id.clone());
        handles.push(tokio::spawn(async move {
            let query = format!("slow:{}", 200 - i * 10);
            let data = json!({"provider": "mem0", "tool": "search_memory", "credentials": credentials(), "tool_parameters": {"query": query, "user_id": "alice"}});
            let (_, events) = daemon.dispatch(&tenant, &plugin_id, "invoke", data).await;
            let object = check_tool_chunks("search_memory", &payloads(&events));
            assert!(object.to_string().contains(&query), "{object}");
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    eprintln!("(b) passed: key via HTTP API, remote registration, validate good/bad, {} tools, unknown tool, failing backend, runtime parameters, 20 concurrent dispatches", TOOL_NAMES.len());
    child.kill().await.ok();
}

// ------------------------- (c) the `dify` model provider: backwards invocation through the daemon

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_daemon_relays_the_workspace_models_to_the_dify_provider() {
    let Some(env) = daemon_env("real_daemon_relays_the_workspace_models_to_the_dify_provider") else { return };
    let (Ok(inner_addr), Ok(inner_key)) =
        (std::env::var("MEM0_TEST_DIFY_INNER_API_ADDR"), std::env::var("MEM0_TEST_DIFY_INNER_API_KEY"))
    else {
        panic!("MEM0_TEST_DIFY_INNER_API_ADDR/_KEY are not set: restart the daemon with scripts/dify-daemon/daemon.sh")
    };
    let inner = FakeInnerApi::start(&inner_addr, &inner_key).await;
    let daemon = Daemon::from_env(&env);
    let (tenant, key) = daemon.debugging_key().await;

    // the real engine (not the fake one), straight from the repository's declarations
    let data = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mem0-dify"))
        .arg("serve")
        .env("INSTALL_METHOD", "remote")
        .env("REMOTE_INSTALL_URL", &env["MEM0_TEST_DIFY_DEBUG_ADDR"])
        .env("REMOTE_INSTALL_KEY", &key)
        .env("MEM0_DIFY_PLUGIN_ROOT", env!("CARGO_MANIFEST_DIR"))
        .env("MEM0_DIFY_DATA_DIR", data.path())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start mem0-dify serve");
    let stderr = Arc::new(Mutex::new(String::new()));
    tokio::spawn(collect_stderr(child.stderr.take().unwrap(), stderr.clone()));
    let plugin_id = "mem0-dify/mem0_dify";

    // validation calls both models: the daemon relays them to Dify's inner API and back
    let validated = daemon.validate_once_routed(&tenant, plugin_id, workspace::credentials(true), &stderr).await;
    assert_eq!(payloads(&validated), vec![json!({"result": true})]);

    let invoke = |tool: &str, params: Value| json!({"provider": "mem0", "tool": tool, "credentials": workspace::credentials(true), "credential_type": "api-key", "tool_parameters": params});
    let (status, events) = daemon
        .dispatch(
            &tenant,
            plugin_id,
            "invoke",
            invoke("add_memory", json!({"user": "I drink green tea every morning", "user_id": "alice"})),
        )
        .await;
    assert_eq!(status, 200, "{events:?}");
    let added = check_tool_chunks("add_memory", &payloads(&events));
    assert_eq!(added["results"][0]["memory"], workspace::FACT, "{added}");
    assert_eq!(added["results"][0]["event"], "ADD", "{added}");

    let (_, events) = daemon
        .dispatch(
            &tenant,
            plugin_id,
            "invoke",
            invoke("search_memory", json!({"query": "which tea?", "user_id": "alice"})),
        )
        .await;
    let found = check_tool_chunks("search_memory", &payloads(&events));
    assert_eq!(found["results"][0]["memory"], workspace::FACT, "{found}");

    let calls = inner.calls();
    let llm: Vec<&Value> = calls.iter().filter(|c| c.route == "llm").map(|c| &c.body).collect();
    let embeddings: Vec<&Value> = calls.iter().filter(|c| c.route == "text-embedding").map(|c| &c.body).collect();
    assert!(llm.len() >= 2 && embeddings.len() >= 3, "{calls:#?}");
    for body in llm.iter().chain(&embeddings) {
        assert_eq!(body["tenant_id"], tenant.as_str(), "the daemon names the tenant: {body}");
        assert_eq!(body["provider"], "langgenius/openai/openai", "{body}");
    }
    let extraction =
        llm.iter().find(|b| b.to_string().contains("I drink green tea every morning")).expect("extraction");
    assert_eq!((extraction["model"].as_str(), extraction["mode"].as_str()), (Some("gpt-4o-mini"), Some("chat")));
    assert!(embeddings.iter().any(|b| b["input_type"] == "document" && b["texts"] == json!([workspace::FACT])));
    assert!(embeddings.iter().any(|b| b["input_type"] == "query" && b["texts"] == json!(["which tea?"])));
    eprintln!(
        "(c) passed: validation, add and search with the workspace's models relayed by the daemon ({} inner API calls)",
        calls.len()
    );

    // (d) the memory console: an endpoint set up through the daemon's API (its secret settings
    // encrypted and decrypted by the inner API), reached through the daemon's own `/e/` route
    let (status, listed) = daemon.get(&format!("/plugin/{tenant}/management/list?page=1&page_size=10")).await;
    assert_eq!(status, 200, "{listed}");
    let identifier = find_string(&serde_json::from_str(&listed).unwrap(), "plugin_unique_identifier", plugin_id)
        .unwrap_or_else(|| panic!("the debugging installation is listed: {listed}"));
    let access_key = "console-key-0123456789";
    let mut settings = workspace::credentials(false);
    settings["console_access_key"] = json!(access_key);
    settings["async_mode"] = json!(false);
    let setup = json!({"plugin_unique_identifier": identifier, "user_id": "dify-user-1", "name": "memory console",
        "settings": settings});
    let (status, body) = daemon.post(&format!("/plugin/{tenant}/endpoint/setup"), None, setup).await;
    assert!(status == 200 && serde_json::from_str::<Value>(&body).unwrap()["code"] == 0, "endpoint setup: {body}");
    let (_, endpoints) = daemon.get(&format!("/plugin/{tenant}/endpoint/list?page=1&page_size=10")).await;
    let hook = find_string(&serde_json::from_str(&endpoints).unwrap(), "hook_id", "")
        .unwrap_or_else(|| panic!("the endpoint is listed: {endpoints}"));
    let console = |path: &str, key: &str| {
        daemon.http.get(format!("{}/e/{hook}/api/{path}", daemon.url)).header("X-Console-Key", key.to_owned()).send()
    };
    let refused = console("scopes", "wrong-key-0123456789").await.expect("daemon");
    assert_eq!(refused.status().as_u16(), 401, "a wrong key is refused through the daemon");
    let answered = console("scopes", access_key).await.expect("daemon");
    assert_eq!(answered.status().as_u16(), 200);
    let scopes: Value = answered.json().await.expect("JSON");
    assert!(scopes.to_string().contains("alice"), "alice's memory is listed through the daemon's route: {scopes}");
    let encrypted = inner.calls().iter().filter(|c| c.route == "encrypt").count();
    assert!(encrypted >= 2, "the daemon encrypted the settings and decrypted them for the call");
    eprintln!("(d) passed: the memory console endpoint set up and reached through the daemon's /e/ route");
    child.kill().await.ok();
}

/// The first string at `key` anywhere in `value` that contains `containing`.
fn find_string(value: &Value, key: &str, containing: &str) -> Option<String> {
    match value {
        Value::Object(map) => map
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| s.contains(containing))
            .map(str::to_owned)
            .or_else(|| map.values().find_map(|v| find_string(v, key, containing))),
        Value::Array(items) => items.iter().find_map(|v| find_string(v, key, containing)),
        _ => None,
    }
}
