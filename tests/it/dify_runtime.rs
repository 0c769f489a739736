//! The plugin runtime driven by a daemon stand-in over stdio and TCP (contract §13.3), against the
//! PACKAGED plugin: `.difypkg` built by `build_package`, extracted 0644, started with
//! `python3 -m main` exactly as the daemon does. The packaged binary serves the fake engine of
//! `tests/support/fake_api.rs` (see `tests/support/daemon.rs` for how to package another one).

use crate::support::daemon;
use crate::support::fake_api;

use daemon::{extract_like_the_daemon, packaged_plugin, DaemonSide, StdioPlugin, TcpDaemon, DAEMON_MAX_LINE};
use fake_api::{successful_tool_calls, KNOWN_MEMORY_ID};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::{Duration, Instant};

const PROVIDER: &str = "mem0";
const TOOLS: [&str; 9] = mem0_dify::adapters::dify::tools::TOOL_NAMES;

fn credentials(async_mode: bool) -> Value {
    json!({
        "local_llm_json": "{\"provider\": \"openai\", \"config\": {\"model\": \"gpt-4o-mini\", \"api_key\": \"sk-test\"}}",
        "local_embedder_json": {"provider": "openai", "config": {"model": "text-embedding-3-small"}},
        "local_vector_db_json": "```json\n{\"provider\": \"pgvector\", \"config\": {\"dbname\": \"mem0\"}}\n```",
        "async_mode": async_mode,
    })
}

fn invoke(tool: &str, params: Value, creds: Value) -> Value {
    json!({"user_id": "dify-user-1", "type": "tool", "action": "invoke_tool", "provider": PROVIDER, "tool": tool,
           "credentials": creds, "credential_type": "api-key", "tool_parameters": params})
}

fn validate(creds: Value) -> Value {
    json!({"user_id": "dify-user-1", "type": "tool", "action": "validate_tool_credentials", "provider": PROVIDER,
           "credentials": creds})
}

/// The tool reply: the JSON message's object and the concatenated text, after checking the
/// JSON → text(s) → variable(s) → end sequence.
fn tool_reply(messages: &[Value]) -> (Value, String) {
    let (object, text, _) = tool_reply_with_variables(messages);
    (object, text)
}

/// [`tool_reply`] and the variable messages (name → value), each in the exact shape of the SDK's
/// `create_variable_message`: `{"type": "variable", "message": {"variable_name", "variable_value",
/// "stream": false}, "meta": null}`.
fn tool_reply_with_variables(messages: &[Value]) -> (Value, String, serde_json::Map<String, Value>) {
    assert!(messages.len() >= 3, "expected json, text, end; got {messages:#?}");
    assert_eq!(messages.last().unwrap()["type"], "end");
    let chunks: Vec<&Value> = messages[..messages.len() - 1].iter().map(|m| &m["data"]).collect();
    assert!(messages[..messages.len() - 1].iter().all(|m| m["type"] == "stream"), "{messages:#?}");
    assert_eq!(chunks[0]["type"], "json", "first message is the JSON one: {messages:#?}");
    let object = chunks[0]["message"]["json_object"].clone();
    for key in ["status", "messages", "results"] {
        assert!(object.get(key).is_some(), "json message lacks {key}: {object}");
    }
    let mut text = String::new();
    let mut variables = serde_json::Map::new();
    for chunk in &chunks[1..] {
        match chunk["type"].as_str() {
            Some("text") => {
                assert!(variables.is_empty(), "text after a variable: {chunk}");
                text.push_str(chunk["message"]["text"].as_str().unwrap());
            }
            Some("variable") => {
                let keys: Vec<&str> = chunk.as_object().unwrap().keys().map(String::as_str).collect();
                assert_eq!(keys, ["type", "message", "meta"], "{chunk}");
                assert_eq!(chunk["meta"], Value::Null, "{chunk}");
                let message = chunk["message"].as_object().unwrap();
                let keys: Vec<&str> = message.keys().map(String::as_str).collect();
                assert_eq!(keys, ["variable_name", "variable_value", "stream"], "{chunk}");
                assert_eq!(message["stream"], false, "{chunk}");
                let name = message["variable_name"].as_str().unwrap().to_owned();
                assert!(variables.insert(name, message["variable_value"].clone()).is_none(), "repeated: {chunk}");
            }
            _ => panic!("unexpected chunk {chunk}"),
        }
    }
    (object, text, variables)
}

/// Asserts that `variables` are exactly the outputs `tools/<tool>.yaml` of the packaged plugin
/// declares, each valid against its schema.
fn assert_variables_match_output_schema(tool: &str, variables: &serde_json::Map<String, Value>) {
    let yaml = std::fs::read_to_string(packaged_plugin().dir.join("tools").join(format!("{tool}.yaml"))).unwrap();
    let declaration: Value = serde_norway::from_str(&yaml).unwrap();
    let schema = &declaration["output_schema"];
    let declared: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
    let sent: Vec<&String> = variables.keys().collect();
    assert_eq!(sent, declared, "{tool}: variables sent and outputs declared");
    let validator = jsonschema::validator_for(schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&Value::Object(variables.clone()))
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{tool}: outputs violate the output_schema: {errors:?}");
}

fn failure(messages: &[Value]) -> Value {
    assert_eq!(messages.len(), 2, "expected error then end, got {messages:#?}");
    assert_eq!(messages[0]["type"], "error");
    assert_eq!(messages[1]["type"], "end");
    messages[0]["data"].clone()
}

async fn scenario_validate(d: &DaemonSide) {
    let ok = d.call(validate(credentials(false))).await;
    assert_eq!(ok, vec![json!({"type": "stream", "data": {"result": true}}), json!({"type": "end", "data": {}})]);

    let mut broken = credentials(false);
    broken["local_llm_json"] = json!("{\"provider\": \"broken\", \"config\": {}}");
    let error = failure(&d.call(validate(broken)).await);
    assert_eq!(error["error_type"], "ToolProviderCredentialValidationError");
    assert!(error["message"].as_str().unwrap().contains("local_llm_json"), "{error}");

    let mut not_json = credentials(false);
    not_json["local_embedder_json"] = json!("{provider: openai");
    let error = failure(&d.call(validate(not_json)).await);
    assert!(error["message"].as_str().unwrap().starts_with("local_embedder_json is not valid JSON"), "{error}");

    let mut unknown = credentials(false);
    unknown["local_llm"] = json!("x");
    let error = failure(&d.call(validate(unknown)).await);
    assert!(error["message"].as_str().unwrap().contains("unknown credential \"local_llm\""), "{error}");

    // Dify requires the LLM, the embedder and the vector store: no zero-setup defaults here
    let error = failure(&d.call(validate(json!({}))).await);
    assert_eq!(error["error_type"], "ToolProviderCredentialValidationError");
    assert_eq!(error["message"], "local_llm_json is required", "{error}");
    for required in ["local_llm_json", "local_embedder_json", "local_vector_db_json"] {
        let mut missing = credentials(false);
        missing.as_object_mut().unwrap().remove(required);
        let error = failure(&d.call(validate(missing)).await);
        assert_eq!(error["message"], format!("{required} is required"), "{error}");
    }

    let mut twice = credentials(false);
    twice["local_llm_json"] = json!(r#"{"provider": "openai", "config": {"api_key": "sk-a", "api_key": "sk-b"}}"#);
    let error = failure(&d.call(validate(twice)).await);
    assert_eq!(
        error["message"], "local_llm_json gives the key \"config.api_key\" more than once; write each key once",
        "{error}"
    );
}

async fn scenario_every_tool(d: &DaemonSide) {
    for (tool, params) in successful_tool_calls() {
        let (object, text, variables) =
            tool_reply_with_variables(&d.call(invoke(tool, params, credentials(false))).await);
        assert_eq!(object["status"], "SUCCESS", "{tool}: {object}");
        assert_variables_match_output_schema(tool, &variables);
        assert_eq!(variables["status"], "SUCCESS", "{tool}");
        assert!(!text.is_empty(), "{tool}: empty text message");
        if matches!(tool, "search_memory" | "get_all_memories" | "get_memory") {
            assert!(object["results"].to_string().contains(KNOWN_MEMORY_ID), "{tool}: {object}");
        }
    }
    // async mode: the write is accepted at once
    let (object, _) = tool_reply(
        &d.call(invoke("add_memory", json!({"user": "I like tea", "user_id": "alice"}), credentials(true))).await,
    );
    assert_eq!(object["status"], "SUCCESS");
    assert!(object["results"].to_string().contains("ACCEPT"), "{object}");
}

async fn scenario_failures(d: &DaemonSide) {
    // a failing backend: the tool answers with status ERROR (json, text, variables, end), no
    // protocol error; every declared output is present, empty
    let (object, text, variables) = tool_reply_with_variables(
        &d.call(invoke("search_memory", json!({"query": "tea", "user_id": "fail"}), credentials(false))).await,
    );
    assert_eq!(object["status"], "ERROR", "{object}");
    assert_variables_match_output_schema("search_memory", &variables);
    assert_eq!(
        (&variables["status"], &variables["count"], &variables["context"]),
        (&json!("ERROR"), &json!(0), &json!(""))
    );
    // bad input: the same
    let (_, _, variables) = tool_reply_with_variables(
        &d.call(invoke("add_memory", json!({"user": "hi", "user_id": ["x"]}), credentials(false))).await,
    );
    assert_variables_match_output_schema("add_memory", &variables);
    assert_eq!(variables["status"], "ERROR");
    assert!(
        object.to_string().contains("fake backend failure") || text.contains("fake backend failure"),
        "{object} {text}"
    );

    // a panicking engine: error + end, and the plugin keeps serving
    let error = failure(
        &d.call(invoke("search_memory", json!({"query": "tea", "user_id": "panic"}), credentials(false))).await,
    );
    assert_eq!(error["error_type"], "InternalError");
    let (object, _) =
        tool_reply(&d.call(invoke("get_memory", json!({"memory_id": KNOWN_MEMORY_ID}), credentials(false))).await);
    assert_eq!(object["status"], "SUCCESS");

    // a bad credential block on invoke names the credential
    let mut bad = credentials(false);
    bad["local_vector_db_json"] = json!("[1, 2]");
    let error = failure(&d.call(invoke("search_memory", json!({"query": "tea", "user_id": "alice"}), bad)).await);
    assert_eq!(error["error_type"], "ToolProviderCredentialValidationError");
    assert!(error["message"].as_str().unwrap().contains("local_vector_db_json"), "{error}");

    // request lines the JSON parser refuses still end their session: error, then end
    let deep = format!("{}1{}", "[".repeat(500), "]".repeat(500));
    let unreadable = [
        (
            "nested deeper than the parser allows",
            format!(r#""data":{{"type":"tool","tool_parameters":{{"q":{deep}}}}}"#),
        ),
        ("a number out of range", r#""data":{"type":"tool","tool_parameters":{"top_k":1e5000}}"#.to_owned()),
        ("a duplicate key", r#""data":{"type":"tool"},"event":"request""#.to_owned()),
    ];
    for (what, rest) in unreadable {
        let sid = uuid::Uuid::new_v4().to_string();
        d.send_raw(format!(r#"{{"session_id":"{sid}","event":"request",{rest}}}"#).as_bytes()).await;
        d.send_raw(b"\n").await;
        let error = failure(&d.session(&sid, Duration::from_secs(10)).await);
        assert_eq!(error["error_type"], "InvalidRequestError", "{what}: {error}");
        assert!(error["message"].as_str().unwrap().starts_with("the request could not be read: "), "{what}: {error}");
    }
}

async fn scenario_unknown_and_runtime_parameters(d: &DaemonSide) {
    let error = failure(&d.call(invoke("forget_everything", json!({}), credentials(false))).await);
    assert_eq!(error["error_type"], "ToolNotFoundError");
    assert!(error["message"].as_str().unwrap().contains("add_memory"), "{error}");

    let error =
        failure(&d.call(json!({"user_id": "u", "type": "model", "action": "invoke_llm", "provider": "x"})).await);
    assert_eq!(error["error_type"], "NotImplementedError");
    assert!(error["message"].as_str().unwrap().contains("invoke_llm"), "{error}");
    // an endpoint call whose bytes are not HTTP is answered as HTTP: 400
    let answer = d.call(json!({"user_id": "", "type": "endpoint", "action": "invoke_endpoint", "raw_http_request": "00", "settings": null})).await;
    assert_eq!(answer.len(), 2, "{answer:#?}");
    assert_eq!(answer[0]["type"], "stream");
    assert_eq!(answer[0]["data"]["status"], 400, "{answer:#?}");
    assert_eq!(answer[1]["type"], "end");
    let error = failure(&d.call(json!({"user_id": "u", "type": "tool", "action": "invoke_tool_v2"})).await);
    assert_eq!(error["error_type"], "NotImplementedError");

    let params = d
        .call(json!({"user_id": "u", "type": "tool", "action": "get_tool_runtime_parameters", "provider": PROVIDER,
                     "tool": "search_memory", "credentials": null}))
        .await;
    assert_eq!(params, vec![json!({"type": "stream", "data": {"parameters": []}}), json!({"type": "end", "data": {}})]);

    // null maps are empty maps: no credentials at all → a tool error, still a complete session
    let messages = d.call(invoke("search_memory", Value::Null, Value::Null)).await;
    assert_eq!(messages.last().unwrap()["type"], "end");

    // an unreadable line is reported as an error event and does not stop the plugin
    d.send_raw(b"this is not json\n\n").await;
    let (object, _) =
        tool_reply(&d.call(invoke("get_memory", json!({"memory_id": KNOWN_MEMORY_ID}), credentials(false))).await);
    assert_eq!(object["status"], "SUCCESS");
    assert!(!d.observed.lock().unwrap().errors.is_empty(), "no error event for the unreadable line");
}

async fn scenario_concurrent_sessions(d: &DaemonSide) {
    let started = Instant::now();
    let mut ids = Vec::new();
    let mut total_delay = 0u64;
    for i in 0..100u64 {
        let delay = (100 - i) * 4; // later requests finish first
        total_delay += delay;
        let params = json!({"query": format!("slow:{delay}"), "user_id": "alice", "top_k": 1});
        ids.push((d.request(invoke("search_memory", params, credentials(false))).await, delay));
    }
    for (sid, delay) in &ids {
        let (object, _) = tool_reply(&d.session(sid, Duration::from_secs(60)).await);
        assert_eq!(object["status"], "SUCCESS");
        assert!(
            object.to_string().contains(&format!("slow:{delay}")),
            "session got another session's answer: {object}"
        );
    }
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(total_delay / 4), "sessions ran one after another: {elapsed:?}");
    let seen = d.observed.lock().unwrap();
    let ours: HashSet<&String> = ids.iter().map(|(s, _)| s).collect();
    let order: Vec<&String> = seen.ended.iter().filter(|s| ours.contains(s)).collect();
    let sent: Vec<&String> = ids.iter().map(|(s, _)| s).collect();
    assert_ne!(order, sent, "sessions ended in request order: they were not interleaved");
}

async fn scenario_line_limits(d: &DaemonSide) {
    // a 9 MiB request line is read whole
    let long_query = "q".repeat(9 * 1024 * 1024);
    let messages =
        d.call(invoke("search_memory", json!({"query": long_query, "user_id": "alice"}), credentials(false))).await;
    assert_eq!(messages.last().unwrap()["type"], "end");
    // a ~3 MB answer passes in lines under the limit
    let (object, _) = tool_reply(
        &d.call(invoke("get_all_memories", json!({"user_id": "huge", "limit": 150}), credentials(false))).await,
    );
    assert_eq!(object["status"], "SUCCESS");
    assert_eq!(
        object["results"].as_array().map(Vec::len),
        Some(150),
        "results: {}",
        object["results"].to_string().len()
    );
    // an answer that cannot fit one line is refused cleanly
    let messages =
        d.call(invoke("get_all_memories", json!({"user_id": "huge", "limit": 400}), credentials(false))).await;
    let error = failure(&messages);
    assert_eq!(error["error_type"], "ResponseTooLargeError", "{error}");
    assert!(d.observed.lock().unwrap().max_line <= DAEMON_MAX_LINE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn package_layout_is_what_the_daemon_expects() {
    let plugin = packaged_plugin();
    let entries = &plugin.report.entries;
    for required in
        ["manifest.yaml", "main.py", "requirements.txt", "README.md", "_assets/icon.svg", "bin/linux-amd64/mem0-dify"]
    {
        assert!(entries.iter().any(|e| e == required), "{required} missing from {entries:?}");
    }
    assert!(entries.iter().all(|e| !e.ends_with('/')), "directory entries: {entries:?}");
    let mut sorted = entries.clone();
    sorted.sort();
    assert_eq!(&sorted, entries, "entries are sorted by path");
    assert!(plugin.report.size < 15 * 1024 * 1024, "package of {} bytes", plugin.report.size);
    assert!(plugin.report.unique_identifier.contains(&format!("@{}", plugin.report.checksum)));
    // A fresh extraction: the shared one gains its exec bit when another test launches the plugin.
    let fresh = tempfile::tempdir().unwrap();
    extract_like_the_daemon(&plugin.package, fresh.path());
    let mode = std::fs::metadata(fresh.path().join("bin/linux-amd64/mem0-dify")).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o644,
        "extracted without exec bit, like the daemon"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_heartbeats_at_start_and_every_interval() {
    let plugin = StdioPlugin::start(&[("HEARTBEAT_INTERVAL", "0.3")]);
    let beats = plugin.daemon.heartbeats(5, Duration::from_secs(20)).await;
    assert!(beats[0].duration_since(plugin.started) < Duration::from_secs(10), "first heartbeat late");
    for pair in beats.windows(2).skip(1) {
        let gap = pair[1].duration_since(pair[0]);
        assert!(gap > Duration::from_millis(150) && gap < Duration::from_millis(1500), "heartbeat gap {gap:?}");
    }
    plugin.daemon.assert_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_validate_tools_failures_and_unknown_requests() {
    let plugin = StdioPlugin::start(&[]);
    plugin.daemon.heartbeats(1, Duration::from_secs(20)).await;
    scenario_validate(&plugin.daemon).await;
    scenario_every_tool(&plugin.daemon).await;
    scenario_failures(&plugin.daemon).await;
    scenario_unknown_and_runtime_parameters(&plugin.daemon).await;
    plugin.daemon.assert_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_hundred_interleaved_sessions() {
    let plugin = StdioPlugin::start(&[]);
    plugin.daemon.heartbeats(1, Duration::from_secs(20)).await;
    scenario_concurrent_sessions(&plugin.daemon).await;
    plugin.daemon.assert_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_line_limits() {
    let plugin = StdioPlugin::start(&[]);
    plugin.daemon.heartbeats(1, Duration::from_secs(20)).await;
    scenario_line_limits(&plugin.daemon).await;
    plugin.daemon.assert_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_eof_finishes_sessions_drains_writes_and_exits() {
    let mut plugin = StdioPlugin::start(&[]);
    plugin.daemon.heartbeats(1, Duration::from_secs(20)).await;
    let (object, _) = tool_reply(
        &plugin
            .daemon
            .call(invoke("add_memory", json!({"user": "I like tea", "user_id": "alice"}), credentials(true)))
            .await,
    );
    assert!(object["results"].to_string().contains("ACCEPT"));
    let slow = plugin
        .daemon
        .request(invoke("search_memory", json!({"query": "slow:600", "user_id": "alice"}), credentials(false)))
        .await;
    plugin.daemon.close_input().await;
    let status = plugin.wait_exit(Duration::from_secs(20)).await;
    assert!(status.success(), "exit status {status:?}; stderr:\n{}", plugin.stderr());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (object, _) = tool_reply(&plugin.daemon.observed.lock().unwrap().sessions[&slow]);
    assert_eq!(object["status"], "SUCCESS", "the running session finished before exit");
    let stderr = plugin.stderr();
    assert!(
        stderr.contains("fake-api: shutdown") && stderr.contains("applied=1"),
        "accepted write not drained:\n{stderr}"
    );
    plugin.daemon.assert_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_sigterm_drains_and_exits() {
    let mut plugin = StdioPlugin::start(&[]);
    plugin.daemon.heartbeats(1, Duration::from_secs(20)).await;
    plugin.daemon.call(invoke("delete_memory", json!({"memory_id": KNOWN_MEMORY_ID}), credentials(true))).await;
    plugin.signal("TERM");
    let status = plugin.wait_exit(Duration::from_secs(20)).await;
    assert!(status.success(), "exit status {status:?}; stderr:\n{}", plugin.stderr());
    let stderr = plugin.stderr();
    assert!(stderr.contains("SIGTERM") && stderr.contains("applied=1"), "{stderr}");
    plugin.daemon.assert_clean();
}

fn remote_env(address: &str, key: &str) -> Vec<(String, String)> {
    vec![
        ("INSTALL_METHOD".into(), "remote".into()),
        ("REMOTE_INSTALL_URL".into(), address.into()),
        ("REMOTE_INSTALL_KEY".into(), key.into()),
        ("HEARTBEAT_INTERVAL".into(), "0.5".into()),
    ]
}

/// Starts the packaged plugin with `env`; its stderr is gathered into the returned text.
fn launch_remote(env: &[(String, String)]) -> (tokio::process::Child, std::sync::Arc<std::sync::Mutex<String>>) {
    let (child, stderr, _collector) = launch_remote_collecting(env);
    (child, stderr)
}

/// [`launch_remote`], also returning the task that gathers stderr: it ends once the plugin has
/// closed stderr, so awaiting it after the exit sees every line the plugin wrote.
fn launch_remote_collecting(
    env: &[(String, String)],
) -> (tokio::process::Child, std::sync::Arc<std::sync::Mutex<String>>, tokio::task::JoinHandle<()>) {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut child = daemon::launch(&packaged_plugin().dir, &pairs);
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let collector = tokio::spawn(daemon::collect_stderr(child.stderr.take().unwrap(), stderr.clone()));
    (child, stderr, collector)
}

fn check_registration(reg: &daemon::Registration) {
    assert_eq!(reg.order[..4], ["handshake", "manifest_declaration", "tool_declaration", "endpoint_declaration"]);
    assert_eq!(reg.order.last().unwrap(), "end");
    assert!(reg.order[4..reg.order.len() - 1].iter().all(|t| t == "asset_chunk"), "{:?}", reg.order);
    // the memory console's group: its settings and its routes
    let groups = reg.endpoints.as_array().expect("endpoint groups");
    assert_eq!(groups.len(), 1, "{groups:?}");
    let settings: Vec<&str> =
        groups[0]["settings"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert!(settings.contains(&"console_access_key"), "{settings:?}");
    let paths: Vec<&str> =
        groups[0]["endpoints"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert!(paths.contains(&"/console") && paths.contains(&"/api/<path:rest>"), "{paths:?}");
    // the manifest as the SDK dumps it: every field present
    let keys: Vec<&str> = reg.manifest.as_object().unwrap().keys().map(String::as_str).collect();
    for key in [
        "version",
        "type",
        "author",
        "name",
        "repo",
        "description",
        "icon",
        "icon_dark",
        "label",
        "created_at",
        "resource",
        "plugins",
        "meta",
    ] {
        assert!(keys.contains(&key), "manifest lacks {key}: {keys:?}");
    }
    let created = reg.manifest["created_at"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(created).is_ok(), "created_at {created} is not RFC 3339 with zone");
    for lang in ["en_US", "zh_Hans", "pt_BR", "ja_JP"] {
        assert!(reg.manifest["label"][lang].is_string(), "label.{lang}");
    }
    let providers = reg.tools.as_array().unwrap();
    assert_eq!(providers.len(), 1);
    let provider = &providers[0];
    assert_eq!(provider["identity"]["name"], PROVIDER);
    assert!(provider["credentials_schema"].is_array(), "credentials_schema must be present");
    let names: Vec<&str> =
        provider["tools"].as_array().unwrap().iter().map(|t| t["identity"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, TOOLS);
    for tool in provider["tools"].as_array().unwrap() {
        for param in tool["parameters"].as_array().unwrap() {
            for key in [
                "name",
                "label",
                "human_description",
                "type",
                "form",
                "llm_description",
                "required",
                "default",
                "options",
            ] {
                assert!(param.get(key).is_some(), "parameter lacks {key}: {param}");
            }
        }
    }
    // every referenced icon was transferred, byte for byte
    let root = &packaged_plugin().source_root;
    for icon in [&reg.manifest["icon"], &provider["identity"]["icon"]] {
        let name = icon.as_str().unwrap();
        let expected = std::fs::read(root.join("_assets").join(name)).unwrap();
        assert_eq!(reg.assets.get(name), Some(&expected), "asset {name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_registers_then_serves_the_matrix() {
    let server = TcpDaemon::bind("0f1e2d3c-aaaa-bbbb-cccc-123456789abc").await;
    let (mut child, stderr) = launch_remote(&remote_env(&server.address(), &server.key));
    let (reg, d) = server
        .accept(Duration::from_secs(20))
        .await
        .unwrap_or_else(|e| panic!("{e}; stderr:\n{}", stderr.lock().unwrap()));
    check_registration(&reg);
    let beats = d.heartbeats(3, Duration::from_secs(10)).await;
    assert!(beats[0].duration_since(reg.ended_at) < Duration::from_secs(5), "first heartbeat after end is late");
    scenario_validate(&d).await;
    scenario_every_tool(&d).await;
    scenario_failures(&d).await;
    scenario_unknown_and_runtime_parameters(&d).await;
    scenario_concurrent_sessions(&d).await;
    d.assert_clean();
    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_reconnects_and_registers_again_after_a_lost_connection() {
    let server = TcpDaemon::bind("key-1").await;
    let (mut child, stderr) = launch_remote(&remote_env(&server.address(), &server.key));
    let (_, first) =
        server.accept(Duration::from_secs(20)).await.unwrap_or_else(|e| panic!("{e}; {}", stderr.lock().unwrap()));
    first.heartbeats(1, Duration::from_secs(10)).await;
    drop(first); // the daemon goes away
    let (reg, second) =
        server.accept(Duration::from_secs(20)).await.unwrap_or_else(|e| panic!("{e}; {}", stderr.lock().unwrap()));
    check_registration(&reg);
    let (object, _) =
        tool_reply(&second.call(invoke("get_memory", json!({"memory_id": KNOWN_MEMORY_ID}), credentials(false))).await);
    assert_eq!(object["status"], "SUCCESS");
    second.assert_clean();
    child.signal_term();
    let status =
        tokio::time::timeout(Duration::from_secs(20), child.wait()).await.expect("exit after SIGTERM").unwrap();
    assert!(status.success(), "{status:?}; {}", stderr.lock().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_wrong_key_stops_the_plugin_with_the_daemons_reason() {
    let server = TcpDaemon::bind("the-right-key").await;
    let (mut child, stderr, collector) = launch_remote_collecting(&remote_env(&server.address(), "a-wrong-key"));
    let refused = server.accept(Duration::from_secs(20)).await;
    assert_eq!(refused.err().as_deref(), Some("invalid key"));
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .unwrap_or_else(|_| panic!("the plugin did not exit within 20 s; stderr:\n{}", stderr.lock().unwrap()))
        .unwrap();
    assert!(!status.success());
    // the exit can be seen before the last stderr lines are read: wait for the end of stderr
    tokio::time::timeout(Duration::from_secs(10), collector)
        .await
        .expect("stderr closes after the exit")
        .expect("the stderr collector does not panic");
    let stderr = stderr.lock().unwrap().clone();
    assert!(stderr.contains("invalid key"), "{stderr}");
}

trait SignalTerm {
    fn signal_term(&self);
}

impl SignalTerm for tokio::process::Child {
    fn signal_term(&self) {
        let pid = self.id().expect("running");
        let ok =
            std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status().is_ok_and(|s| s.success());
        assert!(ok, "kill -TERM {pid}");
    }
}
