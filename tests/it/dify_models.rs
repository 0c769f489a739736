//! The `dify` model provider end to end through the plugin binary: `mem0-dify serve` over stdio,
//! with this test playing the daemon (contract §3, §6): it sends tool requests, and answers the
//! plugin's backwards invocations (`llm`, `text_embedding`) with `backwards_response` lines in the
//! daemon's envelope, as Dify's workspace models would. The memories go to the embedded store.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::support::dify_workspace;

use dify_workspace::{credentials, embedding_result, llm_chunk, ANSWER, FACT};

/// How the stand-in Dify answers one backwards invocation: the `backwards_response` data items
/// (without the id) it sends back.
type Answer = fn(&str, &Value) -> Vec<Value>;

fn workspace_models(kind: &str, request: &Value) -> Vec<Value> {
    let end = json!({"event": "end", "message": "", "data": null});
    match kind {
        "llm" => {
            let mut replies: Vec<Value> = ANSWER
                .iter()
                .map(|piece| json!({"event": "response", "message": "stream", "data": llm_chunk(&request["model"], piece)}))
                .collect();
            replies.push(end);
            replies
        }
        "text_embedding" => {
            vec![json!({"event": "response", "message": "struct", "data": embedding_result(request)}), end]
        }
        other => panic!("unexpected backwards invocation {other:?}: {request}"),
    }
}

fn permission_denied(_kind: &str, _request: &Value) -> Vec<Value> {
    vec![
        json!({"event": "error", "message": "permission denied, you need to enable llm access in plugin manifest", "data": null}),
        json!({"event": "end", "message": "", "data": null}),
    ]
}

/// The plugin process and the daemon's side of its pipes.
struct Plugin {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    _data: tempfile::TempDir,
}

/// What one session produced: its session messages, and the invocations it made (`type`, `request`).
struct Session {
    messages: Vec<Value>,
    invocations: Vec<(String, Value)>,
}

impl Session {
    /// The tool's JSON reply.
    fn json(&self) -> Value {
        let chunk = self.messages.iter().find(|m| m["type"] == "stream" && m["data"]["type"] == "json");
        chunk.unwrap_or_else(|| panic!("no json chunk: {:#?}", self.messages))["data"]["message"]["json_object"].clone()
    }
}

impl Plugin {
    fn start() -> Self {
        let data = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_mem0-dify"))
            .arg("serve")
            .env("INSTALL_METHOD", "local")
            .env("MEM0_DIFY_DATA_DIR", data.path())
            .env("RUST_LOG", "info")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start mem0-dify serve");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Self { child, stdin, stdout, _data: data }
    }

    async fn send(&mut self, envelope: Value) {
        let mut line = serde_json::to_vec(&envelope).unwrap();
        line.push(b'\n');
        self.stdin.write_all(&line).await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// Sends one request and plays the daemon until its session ends, answering backwards
    /// invocations with `answer`.
    async fn session(&mut self, data: Value, answer: Answer) -> Session {
        let session_id = uuid::Uuid::new_v4().to_string();
        let envelope = |event: &str, data: Value| {
            json!({"session_id": session_id, "conversation_id": null, "message_id": null, "app_id": null,
                "endpoint_id": null, "context": null, "event": event, "data": data})
        };
        self.send(envelope("request", data)).await;
        let mut session = Session { messages: Vec::new(), invocations: Vec::new() };
        loop {
            let line = tokio::time::timeout(Duration::from_secs(30), self.stdout.next_line())
                .await
                .expect("the plugin answered within 30 s")
                .unwrap()
                .expect("the plugin's output is open");
            let Ok(event) = serde_json::from_str::<Value>(&line) else { continue };
            if event["event"] != "session" {
                continue;
            }
            assert_eq!(event["session_id"], session_id.as_str(), "one session at a time: {event}");
            let message = event["data"].clone();
            match message["type"].as_str() {
                Some("invoke") => {
                    let invoke = &message["data"];
                    let (kind, id) =
                        (invoke["type"].as_str().unwrap(), invoke["backwards_request_id"].as_str().unwrap());
                    assert!(!id.is_empty() && invoke["request"].is_object(), "{invoke}");
                    session.invocations.push((kind.to_owned(), invoke["request"].clone()));
                    for mut reply in answer(kind, &invoke["request"]) {
                        reply["backwards_request_id"] = json!(id);
                        self.send(envelope("backwards_response", reply)).await;
                    }
                }
                Some("end") => return session,
                _ => session.messages.push(message),
            }
        }
    }

    async fn tool(&mut self, tool: &str, credentials: Value, params: Value, answer: Answer) -> Session {
        let data = json!({"user_id": "dify-user", "type": "tool", "action": "invoke_tool", "provider": "mem0",
            "tool": tool, "credentials": credentials, "credential_type": "api-key", "tool_parameters": params});
        self.session(data, answer).await
    }
}

#[tokio::test]
async fn workspace_models_serve_add_search_and_validation_through_the_daemon() {
    let mut plugin = Plugin::start();

    let validate = plugin
        .session(
            json!({"user_id": "dify-user", "type": "tool", "action": "validate_tool_credentials", "provider": "mem0",
                "credentials": credentials(true)}),
            workspace_models,
        )
        .await;
    assert_eq!(validate.messages, vec![json!({"type": "stream", "data": {"result": true}})]);
    let kinds: Vec<&str> = validate.invocations.iter().map(|(k, _)| k.as_str()).collect();
    assert!(kinds.contains(&"llm") && kinds.contains(&"text_embedding"), "{kinds:?}");

    // async mode: Dify lends its models only during the call, so the add completes within it
    let add = plugin
        .tool(
            "add_memory",
            credentials(true),
            json!({"user": "I drink green tea every morning", "user_id": "alice"}),
            workspace_models,
        )
        .await;
    let reply = add.json();
    assert_eq!(reply["status"], "SUCCESS", "{reply}");
    assert_eq!(reply["results"][0]["memory"], FACT, "{reply}");
    assert_eq!(reply["results"][0]["event"], "ADD", "{reply}");
    let (kind, llm) = &add.invocations[0];
    assert_eq!(kind, "llm");
    assert_eq!(llm["provider"], "langgenius/openai/openai");
    assert_eq!(llm["model"], "gpt-4o-mini");
    assert_eq!(
        (llm["model_type"].as_str(), llm["mode"].as_str(), llm["stream"].as_bool()),
        (Some("llm"), Some("chat"), Some(false))
    );
    let roles: Vec<&str> =
        llm["prompt_messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles.first(), Some(&"system"), "{llm}");
    assert!(llm["prompt_messages"].to_string().contains("I drink green tea every morning"), "{llm}");
    let embedded: HashMap<&str, &Value> = add
        .invocations
        .iter()
        .filter(|(k, _)| k == "text_embedding")
        .map(|(_, r)| (r["input_type"].as_str().unwrap(), r))
        .collect();
    let document = embedded.get("document").unwrap_or_else(|| panic!("no document embedding: {:#?}", add.invocations));
    assert_eq!(document["texts"], json!([FACT]));
    assert_eq!(
        (document["model"].as_str(), document["model_type"].as_str()),
        (Some("text-embedding-3-small"), Some("text-embedding"))
    );

    let search = plugin
        .tool(
            "search_memory",
            credentials(true),
            json!({"query": "what tea does she like?", "user_id": "alice"}),
            workspace_models,
        )
        .await;
    let reply = search.json();
    assert_eq!(reply["status"], "SUCCESS", "{reply}");
    assert_eq!(reply["results"][0]["memory"], FACT, "{reply}");
    assert_eq!(search.invocations.len(), 1, "{:#?}", search.invocations);
    assert_eq!(search.invocations[0].1["input_type"], "query");
    assert_eq!(search.invocations[0].1["texts"], json!(["what tea does she like?"]));

    // a refusal by Dify (here: the permission check) is the tool's error, naming the cause
    let refused = plugin
        .tool(
            "add_memory",
            credentials(false),
            json!({"user": "I moved to Lisbon", "user_id": "alice"}),
            permission_denied,
        )
        .await;
    let reply = refused.json();
    assert_eq!(reply["status"], "ERROR", "{reply}");
    assert!(reply.to_string().contains("permission denied, you need to enable llm access"), "{reply}");
    let listed =
        plugin.tool("get_all_memories", credentials(true), json!({"user_id": "alice"}), workspace_models).await;
    assert_eq!(listed.json()["results"].as_array().map(Vec::len), Some(1), "nothing was stored by the refused add");

    drop(plugin.stdin);
    let status = tokio::time::timeout(Duration::from_secs(20), plugin.child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn outside_dify_the_dify_provider_says_where_it_works() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("credentials.json");
    std::fs::write(&file, credentials(false).to_string()).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_mem0-dify"))
        .args(["call", "search_memory", "--params", r#"{"query": "tea", "user_id": "alice"}"#, "--credentials"])
        .arg(&file)
        .env("MEM0_DIFY_DATA_DIR", dir.path())
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(text.contains("only while Dify is calling this plugin"), "{text}");
}
