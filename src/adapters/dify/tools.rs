//! STAND-IN — replaced at merge by the tools helper's `src/adapters/dify/tools.rs`.
//!
//! Only the signature matters to the runtime: `invoke_tool` turns one tool call into a
//! [`ToolReply`] (a JSON object `{"status","messages","results"}` plus readable text). This
//! minimal version calls the memory API for each of the eight tools so the runtime's tests
//! exercise a real round trip; it does not implement the tools' full parameter handling.

use crate::domain::credentials::CredentialSet;
use crate::domain::memory::{MemoryId, MemoryRecord, MemoryText, Metadata};
use crate::domain::message::Conversation;
use crate::domain::operations::{AddRequest, Limit, ListRequest, MemoryRef, Query, SearchRequest, UpdateRequest};
use crate::domain::scope::Scope;
use crate::ports::memory_api::{ApiError, InvokeContext, MemoryApi, WriteOutcome};
use serde_json::{json, Map, Value};

/// What a tool answers: the JSON message and the text message, sent in that order.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolReply {
    /// `{"status": "SUCCESS"|"ERROR", "messages": …, "results": …}`.
    pub json: Value,
    /// A readable summary.
    pub text: String,
}

impl ToolReply {
    fn success(messages: Value, results: Value, text: String) -> Self {
        Self { json: json!({"status": "SUCCESS", "messages": messages, "results": results}), text }
    }

    fn error(message: String) -> Self {
        Self { json: json!({"status": "ERROR", "messages": message, "results": []}), text: format!("Error: {message}") }
    }
}

/// Runs one tool (stand-in: see the module documentation).
pub async fn invoke_tool(
    api: &dyn MemoryApi,
    credentials: &CredentialSet,
    tool: &str,
    params: &Map<String, Value>,
    ctx: &InvokeContext,
) -> ToolReply {
    match run(api, credentials, tool, params, ctx).await {
        Ok(reply) => reply,
        Err(message) => ToolReply::error(message),
    }
}

fn text<'a>(params: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    params.get(key).and_then(Value::as_str).filter(|s| !s.trim().is_empty())
}

fn scope(params: &Map<String, Value>, ctx: &InvokeContext) -> Result<Scope, String> {
    let user = text(params, "user_id").or(ctx.end_user.as_deref());
    Scope::parse(user, text(params, "agent_id"), text(params, "run_id")).map_err(|e| e.to_string())
}

fn memory_ref(params: &Map<String, Value>) -> Result<MemoryRef, String> {
    let id = MemoryId::parse(text(params, "memory_id").unwrap_or_default()).map_err(|e| e.to_string())?;
    Ok(MemoryRef { id, scope: None })
}

fn record_json(record: &MemoryRecord) -> Value {
    json!({"id": record.id.to_string(), "memory": record.text.as_str(), "metadata": record.metadata.as_map()})
}

fn written<T>(outcome: WriteOutcome<T>, done: impl FnOnce(T) -> Value) -> Value {
    match outcome {
        WriteOutcome::Done(value) => done(value),
        WriteOutcome::Accepted(id) => json!([{"id": "", "memory": "", "event": "ACCEPT", "write_id": id.0}]),
    }
}

async fn run(
    api: &dyn MemoryApi,
    creds: &CredentialSet,
    tool: &str,
    params: &Map<String, Value>,
    ctx: &InvokeContext,
) -> Result<ToolReply, String> {
    let api_err = |e: ApiError| e.to_string();
    let messages = Value::Object(params.clone());
    let reply = match tool {
        "add_memory" => {
            let conversation =
                Conversation::from_turn(text(params, "user").unwrap_or_default(), text(params, "assistant"));
            let request = AddRequest {
                conversation,
                scope: scope(params, ctx)?,
                metadata: Metadata::default(),
                infer: true,
                actor_id: None,
            };
            let outcome = api.add(creds, request).await.map_err(api_err)?;
            let results = written(outcome, |r| json!(r.results));
            ToolReply::success(messages, results, "Memory added.".into())
        }
        "search_memory" => {
            let query = Query::parse(text(params, "query").unwrap_or_default()).map_err(|e| e.to_string())?;
            let limit = Limit::new("top_k", params.get("top_k").and_then(Value::as_i64).unwrap_or(5))
                .map_err(|e| e.to_string())?;
            let request = SearchRequest {
                query,
                scope: scope(params, ctx)?,
                filter: None,
                limit,
                threshold: None,
                rerank: false,
            };
            let outcome = api.search(creds, request).await.map_err(api_err)?;
            let results: Vec<Value> = outcome
                .value
                .results
                .iter()
                .map(|m| {
                    let mut v = record_json(&m.record);
                    v["score"] = json!(m.score.value());
                    v
                })
                .collect();
            let text = results.iter().map(|r| format!("Memory: {}", r["memory"])).collect::<Vec<_>>().join("\n");
            ToolReply::success(messages, json!(results), text)
        }
        "get_all_memories" => {
            let limit = Limit::new("limit", params.get("limit").and_then(Value::as_i64).unwrap_or(100))
                .map_err(|e| e.to_string())?;
            let outcome = api
                .get_all(creds, ListRequest { scope: scope(params, ctx)?, filter: None, limit })
                .await
                .map_err(api_err)?;
            let results: Vec<Value> = outcome.value.results.iter().map(record_json).collect();
            let text = format!("Found {} memories", results.len());
            ToolReply::success(messages, json!(results), text)
        }
        "get_memory" => {
            let target = memory_ref(params)?;
            let id = target.id;
            match api.get(creds, target).await.map_err(api_err)?.value {
                Some(record) => ToolReply::success(messages, record_json(&record), format!("Memory: {}", record.text)),
                None => return Err(format!("Memory not found: {id}")),
            }
        }
        "update_memory" => {
            let target = memory_ref(params)?;
            let text =
                MemoryText::parse("text", text(params, "text").unwrap_or_default()).map_err(|e| e.to_string())?;
            let request = UpdateRequest { target, text, metadata: Metadata::default() };
            let outcome = api.update(creds, request).await.map_err(api_err)?;
            ToolReply::success(messages, written(outcome, |r| record_json(&r)), "Memory updated.".into())
        }
        "delete_memory" => {
            let outcome = api.delete(creds, memory_ref(params)?).await.map_err(api_err)?;
            ToolReply::success(messages, written(outcome, |id| json!({"id": id.to_string()})), "Memory deleted.".into())
        }
        "delete_all_memories" => {
            let outcome = api.delete_all(creds, scope(params, ctx)?).await.map_err(api_err)?;
            ToolReply::success(messages, written(outcome, |r| json!(r)), "Memories deleted.".into())
        }
        "get_memory_history" => {
            let outcome = api.history(creds, memory_ref(params)?).await.map_err(api_err)?;
            let results: Vec<Value> = outcome
                .value
                .iter()
                .map(|h| json!({"memory_id": h.memory_id.to_string(), "event": h.event.as_str()}))
                .collect();
            let text = format!("Found {} history records", results.len());
            ToolReply::success(messages, json!(results), text)
        }
        other => return Err(format!("unknown tool {other:?}")),
    };
    Ok(reply)
}
