//! The eight Dify tools: parameters in, one [`MemoryApi`] call, a [`ToolReply`] out.
//!
//! Every reply is a JSON message `{"status": "SUCCESS"|"ERROR", "messages": …, "results": …}`
//! in the shapes of the Python plugin v0.1.1, followed by a readable text. Deliberate
//! differences (documented in `docs/tools.md`):
//! - a synchronous add returns `results` as the list of changes (no nested `results.results`),
//!   with `relations` at the top level when graph memory is configured;
//! - async writes return the guide's ACCEPT results plus a top-level `write_id`;
//! - degraded reads keep `SUCCESS` with empty results but carry a top-level
//!   `"degraded": {"reason": …}` (and say so in the text); a degraded get is not "not found";
//! - `score` is a similarity in `[0, 1]`, higher is better;
//! - invalid input (bad JSON in `metadata`, a non-numeric `top_k`, …) is an `ERROR` naming the
//!   parameter, never a silent default;
//! - id-based tools take optional `user_id` / `agent_id` / `run_id` that confine the lookup;
//! - with `bind_user_to_dify_user`, `user_id` is always the Dify end user of the call.
//!
//! Parameters the tools do not declare are ignored (an agent's LLM sometimes adds some).

mod context;
mod outputs;
mod params;
mod render;
mod reply;
mod requests;

use crate::adapters::dify::constants::{
    results_of, ADD_ACCEPT_RESULT, ADD_SKIP_RESULT, DELETE_ACCEPT_RESULT, DELETE_ALL_ACCEPT_RESULT,
    DELETE_ALL_DONE_MESSAGE, DELETE_DONE_MESSAGE, UPDATE_ACCEPT_RESULT, UPDATE_DONE_MESSAGE,
};
use crate::domain::credentials::CredentialSet;
use crate::domain::operations::MemoryRef;
use crate::ports::memory_api::{ApiError, InvokeContext, MemoryApi, WriteId, WriteOutcome};
use futures::future::BoxFuture;
use outputs::{
    AddOutputs, Degradation, GetOutputs, HistoryOutputs, HitOutput, ListOutputs, MemoryOutput, ScopeOutput,
    ScopeSource, SearchOutputs, Status, WriteOutputs, WriteStatusOutputs, STATE_DONE, STATE_SKIPPED,
};
pub use outputs::{ToolOutputs, Variable};
use params::Params;
use reply::JsonReply;
use requests::{AddInput, Binding, InputError, ScopeUsed};
use serde_json::{json, Map, Value};
use tracing::Instrument;

/// A tool's code: runs one call (a method of [`Call`]).
type Run = for<'a> fn(&'a Call<'a>) -> BoxFuture<'a, Outcome>;

/// One tool of the [`CATALOGUE`]: everything about it besides its YAML declaration
/// (`tools/<name>.yaml`, listed in `provider/mem0.yaml`).
struct Entry {
    /// The name declared in `tools/<name>.yaml`.
    name: &'static str,
    /// What the tool does, for "Failed to …" texts.
    action: &'static str,
    /// True when `results` is a list (an error reply then carries `[]`), false for an object (`{}`).
    lists: bool,
    /// The outputs of a failed call: every output present, empty, with the failed status.
    failed: fn(Status) -> ToolOutputs,
    /// Runs a call.
    run: Run,
}

/// Every tool, in the order the provider lists them: the guide's eight plus `get_write_status`,
/// which tells what became of an accepted write. Adding a tool is one entry here (with the
/// [`Call`] method it runs) plus its YAML.
const CATALOGUE: [Entry; 9] = [
    Entry {
        name: ADD_MEMORY,
        action: "add memory",
        lists: true,
        failed: |status| ToolOutputs::Add(AddOutputs { status, ..AddOutputs::default() }),
        run: |call| Box::pin(call.add()),
    },
    Entry {
        name: "search_memory",
        action: "search memory",
        lists: true,
        failed: |status| ToolOutputs::Search(SearchOutputs { status, ..SearchOutputs::default() }),
        run: |call| Box::pin(call.search()),
    },
    Entry {
        name: "get_all_memories",
        action: "get memories",
        lists: true,
        failed: |status| ToolOutputs::List(ListOutputs { status, ..ListOutputs::default() }),
        run: |call| Box::pin(call.get_all()),
    },
    Entry {
        name: "get_memory",
        action: "get memory",
        lists: false,
        failed: |status| ToolOutputs::Get(GetOutputs { status, ..GetOutputs::default() }),
        run: |call| Box::pin(call.get()),
    },
    Entry {
        name: "update_memory",
        action: "update memory",
        lists: false,
        failed: |status| ToolOutputs::Write(WriteOutputs { status, ..WriteOutputs::default() }),
        run: |call| Box::pin(call.update()),
    },
    Entry {
        name: "delete_memory",
        action: "delete memory",
        lists: false,
        failed: |status| ToolOutputs::Write(WriteOutputs { status, ..WriteOutputs::default() }),
        run: |call| Box::pin(call.delete()),
    },
    Entry {
        name: "delete_all_memories",
        action: "delete memories",
        lists: false,
        failed: |status| ToolOutputs::Write(WriteOutputs { status, ..WriteOutputs::default() }),
        run: |call| Box::pin(call.delete_all()),
    },
    Entry {
        name: "get_memory_history",
        action: "get memory history",
        lists: true,
        failed: |status| ToolOutputs::History(HistoryOutputs { status, ..HistoryOutputs::default() }),
        run: |call| Box::pin(call.history()),
    },
    Entry {
        name: GET_WRITE_STATUS,
        action: "get write status",
        lists: false,
        failed: write_status_failed,
        run: |call| Box::pin(call.write_status()),
    },
];

/// The outputs of a `get_write_status` call that failed (also for a write it does not know).
fn write_status_failed(status: Status) -> ToolOutputs {
    ToolOutputs::WriteStatus(WriteStatusOutputs { status, ..WriteStatusOutputs::default() })
}

/// The tool that tells what became of an accepted write.
pub const GET_WRITE_STATUS: &str = "get_write_status";
/// The tool that adds memories.
pub const ADD_MEMORY: &str = "add_memory";

/// The names of the tools, in the order the provider lists them ([`CATALOGUE`]'s).
pub const TOOL_NAMES: [&str; CATALOGUE.len()] = {
    let mut names = [""; CATALOGUE.len()];
    let mut i = 0;
    while i < CATALOGUE.len() {
        names[i] = CATALOGUE[i].name;
        i += 1;
    }
    names
};

/// The catalogue entry of the tool named `name` (exactly, as declared).
fn entry(name: &str) -> Option<&'static Entry> {
    CATALOGUE.iter().find(|entry| entry.name == name)
}

impl Entry {
    /// The outputs of a call that failed with `message`: every output present, empty.
    fn failed_outputs(&self, message: &str) -> ToolOutputs {
        (self.failed)(Status::failed(message))
    }

    /// The `results` of an error reply: `[]` for tools that return lists, `{}` for the others.
    fn empty_results(&self) -> Value {
        if self.lists {
            json!([])
        } else {
            json!({})
        }
    }
}

/// What a tool call answers: the JSON message, the text message, then one variable message per
/// output the tool declares, in that order.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolReply {
    /// `{"status", "messages", "results"}` plus `relations` / `write_id` / `degraded` when relevant.
    pub json: Value,
    /// A readable summary of the same outcome.
    pub text: String,
    /// The typed outputs (the tool's `output_schema`).
    pub outputs: ToolOutputs,
}

impl ToolReply {
    /// True when `json.status` is `ERROR`.
    pub fn is_error(&self) -> bool {
        self.json.get("status").and_then(Value::as_str) == Some(reply::ERROR)
    }
}

/// Why a call failed: its input, or the memory engine.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// Runs the tool `tool` with Dify's `params` against the memory engine and presents the
/// outcome. Never panics and never fails: every problem becomes an `ERROR` reply whose
/// message names the parameter or the cause.
pub async fn invoke_tool(
    api: &dyn MemoryApi,
    credentials: &CredentialSet,
    tool: &str,
    params: &Map<String, Value>,
    ctx: &InvokeContext,
) -> ToolReply {
    let Some(known) = entry(tool) else {
        return unknown_tool(tool);
    };
    let params = Params::new(params);
    let binding = Binding::new(credentials.bind_user_to_dify_user, ctx.end_user.as_deref());
    let call = Call { api, credentials, params, binding };
    let outcome = (known.run)(&call).instrument(tracing::debug_span!("dify.tool")).await;
    outcome.unwrap_or_else(|failure| failed(known, &failure))
}

fn unknown_tool(name: &str) -> ToolReply {
    let message = format!(
        "Unknown tool {:?}; the tools are {}",
        name.chars().take(80).collect::<String>(),
        TOOL_NAMES.join(", ")
    );
    ToolReply { json: JsonReply::error(&message, json!([])).into_value(), text: message, outputs: ToolOutputs::None }
}

fn failed(tool: &Entry, failure: &Failure) -> ToolReply {
    let message = failure.to_string();
    match failure {
        Failure::Input(_) => tracing::debug!(tool = tool.name, %message, "rejected tool parameters"),
        Failure::Api(_) => tracing::warn!(tool = tool.name, %message, "tool call failed"),
    }
    ToolReply {
        json: JsonReply::error(&message, tool.empty_results()).into_value(),
        text: render::failed(tool.action, &message),
        outputs: tool.failed_outputs(&message),
    }
}

/// Reads a call's parameters into a typed request (`dify.params`).
fn checked<T>(read: impl FnOnce() -> Result<T, InputError>) -> Result<T, InputError> {
    tracing::trace_span!("dify.params").in_scope(read)
}

/// `dify.shape`, entered while a call's outcome is turned into its reply (after the last await).
fn shaping() -> tracing::span::EnteredSpan {
    tracing::trace_span!("dify.shape").entered()
}

/// One call's inputs.
struct Call<'a> {
    api: &'a dyn MemoryApi,
    credentials: &'a CredentialSet,
    params: Params<'a>,
    binding: Binding<'a>,
}

type Outcome = Result<ToolReply, Failure>;

impl Call<'_> {
    async fn add(&self) -> Outcome {
        let (request, source) = match checked(|| requests::add(&self.params, self.binding))? {
            AddInput::Skip(used) => {
                let scope = ScopeOutput::new(&used.scope, used.source);
                let json = JsonReply::success(json!([]), results_of(&ADD_SKIP_RESULT)).into_value();
                let outputs = AddOutputs { state: STATE_SKIPPED.into(), ..AddOutputs::default() };
                let reply = ToolReply { json, text: render::skipped(), outputs: ToolOutputs::Add(outputs) };
                return Ok(with_scope(reply, scope));
            }
            AddInput::Add(request, source) => (*request, source),
        };
        let scope = ScopeOutput::new(&request.scope, source);
        let messages = reply::conversation_json(&request.conversation);
        let outcome = self.api.add(self.credentials, request).await?;
        let _shaping = shaping();
        let reply = match outcome {
            WriteOutcome::Accepted(id) => {
                let pending = Pending::new(messages, &ADD_ACCEPT_RESULT, "memory addition", &id, false);
                let outputs = AddOutputs { state: pending.state.into(), write_id: id.0, ..AddOutputs::default() };
                pending.reply(ToolOutputs::Add(outputs))
            }
            WriteOutcome::Running(id) => {
                let pending = Pending::new(messages, &ADD_ACCEPT_RESULT, "memory addition", &id, true);
                let outputs = AddOutputs { state: pending.state.into(), write_id: id.0, ..AddOutputs::default() };
                pending.reply(ToolOutputs::Add(outputs))
            }
            WriteOutcome::Done(report) => {
                let changes = report.results.iter().map(reply::change_item).collect();
                let relations = report.relations.as_ref().map(reply::graph_changes_json);
                ToolReply {
                    json: JsonReply::success(messages, Value::Array(changes))
                        .relations(relations)
                        .graph_degraded(report.graph_degraded.as_deref())
                        .into_value(),
                    text: render::added(&report),
                    outputs: ToolOutputs::Add(AddOutputs::done(&report)),
                }
            }
        };
        Ok(with_scope(reply, scope))
    }

    async fn search(&self) -> Outcome {
        let (request, source) = checked(|| requests::search(&self.params, self.binding))?;
        let max_context_chars = checked(|| requests::max_context_chars(&self.params))?;
        let scope = ScopeOutput::new(&request.scope, source);
        let query = request.query.as_str().to_owned();
        let outcome = self.api.search(self.credentials, request).await?;
        let _shaping = shaping();
        let report = &outcome.value;
        let hits = report.results.iter().map(reply::scored_item).collect();
        let relations = report.relations.as_deref().map(reply::relations_json);
        let outputs = SearchOutputs {
            status: Status::default(),
            memories: report.results.iter().map(HitOutput::new).collect(),
            context: context::context_block(&report.results, max_context_chars),
            count: report.results.len(),
            degradation: Degradation::of(outcome.degraded.as_ref()),
            scope: ScopeOutput::default(),
        };
        let reply = ToolReply {
            json: JsonReply::success(Value::String(query.clone()), Value::Array(hits))
                .relations(relations)
                .graph_degraded(report.graph_degraded.as_deref())
                .degraded(outcome.degraded.as_ref())
                .into_value(),
            text: render::searched(&query, &report.results, report.relations.as_deref(), outcome.degraded.as_ref()),
            outputs: ToolOutputs::Search(outputs),
        };
        Ok(with_scope(reply, scope))
    }

    async fn get_all(&self) -> Outcome {
        let input = checked(|| requests::list(&self.params, self.binding))?;
        let scope = ScopeOutput::new(&input.request.scope, input.source);
        let mut messages = requests::scope_json(&input.request.scope);
        messages.insert("limit".into(), json!(input.request.limit.get()));
        if let Some(filters) = input.filters_json {
            messages.insert("filters".into(), filters);
        }
        let outcome = self.api.get_all(self.credentials, input.request).await?;
        let _shaping = shaping();
        let report = &outcome.value;
        let items = report.results.iter().map(|r| Value::Object(reply::memory_item(r))).collect();
        let relations = report.relations.as_deref().map(reply::relations_json);
        let outputs = ListOutputs {
            status: Status::default(),
            memories: report.results.iter().map(MemoryOutput::new).collect(),
            count: report.results.len(),
            degradation: Degradation::of(outcome.degraded.as_ref()),
            scope: ScopeOutput::default(),
        };
        let reply = ToolReply {
            json: JsonReply::success(Value::Object(messages), Value::Array(items))
                .relations(relations)
                .graph_degraded(report.graph_degraded.as_deref())
                .degraded(outcome.degraded.as_ref())
                .into_value(),
            text: render::listed(&report.results, report.relations.as_deref(), outcome.degraded.as_ref()),
            outputs: ToolOutputs::List(outputs),
        };
        Ok(with_scope(reply, scope))
    }

    async fn get(&self) -> Outcome {
        let target = checked(|| requests::memory_ref(&self.params, self.binding))?;
        let messages = ref_json(&target, Map::new());
        let outcome = self.api.get(self.credentials, target.clone()).await?;
        let _shaping = shaping();
        match (outcome.value, outcome.degraded) {
            (_, Some(degraded)) => Ok(ToolReply {
                json: JsonReply::success(messages, json!({})).degraded(Some(&degraded)).into_value(),
                text: render::get_degraded(&target.id, &degraded),
                outputs: ToolOutputs::Get(GetOutputs {
                    degradation: Degradation::of(Some(&degraded)),
                    ..GetOutputs::default()
                }),
            }),
            // The engine confines lookups to the scope; checking again costs nothing.
            (Some(record), None) if target.admits(&record) => Ok(ToolReply {
                json: JsonReply::success(messages, Value::Object(reply::memory_item(&record))).into_value(),
                text: render::details(&record),
                outputs: ToolOutputs::Get(GetOutputs {
                    memory: MemoryOutput::new(&record),
                    found: true,
                    ..GetOutputs::default()
                }),
            }),
            (_, None) => Err(ApiError::NotFound(target.id).into()),
        }
    }

    async fn update(&self) -> Outcome {
        let request = checked(|| requests::update(&self.params, self.binding))?;
        let mut extra = Map::new();
        extra.insert("text".into(), reply::echo(request.text.as_str()));
        if !request.metadata.is_empty() {
            extra.insert("metadata".into(), reply::echo_json(&Value::Object(request.metadata.as_map().clone())));
        }
        let messages = ref_json(&request.target, extra);
        let outcome = self.api.update(self.credentials, request).await?;
        let _shaping = shaping();
        Ok(match outcome {
            WriteOutcome::Accepted(id) => {
                Pending::new(messages, &UPDATE_ACCEPT_RESULT, "memory update", &id, false).write()
            }
            WriteOutcome::Running(id) => {
                Pending::new(messages, &UPDATE_ACCEPT_RESULT, "memory update", &id, true).write()
            }
            WriteOutcome::Done(record) => {
                let mut results = Map::new();
                results.insert("message".into(), Value::String(UPDATE_DONE_MESSAGE.into()));
                results.extend(reply::memory_item(&record));
                ToolReply {
                    json: JsonReply::success(messages, Value::Object(results)).into_value(),
                    text: render::updated(&record),
                    outputs: write_done(),
                }
            }
        })
    }

    async fn delete(&self) -> Outcome {
        let target = checked(|| requests::memory_ref(&self.params, self.binding))?;
        let messages = ref_json(&target, Map::new());
        let outcome = self.api.delete(self.credentials, target).await?;
        let _shaping = shaping();
        Ok(match outcome {
            WriteOutcome::Accepted(id) => {
                Pending::new(messages, &DELETE_ACCEPT_RESULT, "memory deletion", &id, false).write()
            }
            WriteOutcome::Running(id) => {
                Pending::new(messages, &DELETE_ACCEPT_RESULT, "memory deletion", &id, true).write()
            }
            WriteOutcome::Done(id) => ToolReply {
                json: JsonReply::success(messages, json!({"message": DELETE_DONE_MESSAGE, "id": id.to_string()}))
                    .into_value(),
                text: render::deleted(&id),
                outputs: write_done(),
            },
        })
    }

    async fn delete_all(&self) -> Outcome {
        let ScopeUsed { scope: wiped, source } = checked(|| requests::delete_all(&self.params, self.binding))?;
        let scope = ScopeOutput::new(&wiped, source);
        let filters = Value::Object(requests::scope_json(&wiped));
        let messages = json!({ "filters": filters });
        let outcome = self.api.delete_all(self.credentials, wiped).await?;
        let _shaping = shaping();
        let reply = match outcome {
            WriteOutcome::Accepted(id) => {
                Pending::new(messages, &DELETE_ALL_ACCEPT_RESULT, "batch memory deletion", &id, false).write()
            }
            WriteOutcome::Running(id) => {
                Pending::new(messages, &DELETE_ALL_ACCEPT_RESULT, "batch memory deletion", &id, true).write()
            }
            WriteOutcome::Done(report) => ToolReply {
                json: JsonReply::success(
                    messages,
                    json!({"message": DELETE_ALL_DONE_MESSAGE, "deleted": report.deleted}),
                )
                .into_value(),
                text: render::deleted_all(&filters.to_string(), report.deleted),
                outputs: write_done(),
            },
        };
        Ok(with_scope(reply, scope))
    }

    async fn history(&self) -> Outcome {
        let target = checked(|| requests::memory_ref(&self.params, self.binding))?;
        let messages = ref_json(&target, Map::new());
        let outcome = self.api.history(self.credentials, target.clone()).await?;
        let _shaping = shaping();
        let rows = outcome.value.iter().map(reply::history_item).collect();
        let outputs = HistoryOutputs {
            status: Status::default(),
            history: outcome.value.iter().map(outputs::HistoryOutput::new).collect(),
            count: outcome.value.len(),
            degradation: Degradation::of(outcome.degraded.as_ref()),
        };
        Ok(ToolReply {
            json: JsonReply::success(messages, Value::Array(rows)).degraded(outcome.degraded.as_ref()).into_value(),
            text: render::history(&target.id, &outcome.value, outcome.degraded.as_ref()),
            outputs: ToolOutputs::History(outputs),
        })
    }
}

impl Call<'_> {
    async fn write_status(&self) -> Outcome {
        let target = checked(|| requests::write_ref(&self.params, self.binding))?;
        let id = target.id.clone();
        let messages = json!({ "write_id": id.0 });
        let state = self.api.write_status(self.credentials, target).await?;
        let _shaping = shaping();
        let Some(state) = state else {
            let message = format!("Write not found: {}", id.0);
            return Ok(ToolReply {
                json: JsonReply::error(&message, json!({})).into_value(),
                text: render::failed("get write status", &message),
                outputs: write_status_failed(Status::failed(&message)),
            });
        };
        let results = serde_json::to_value(&state).unwrap_or(Value::Null);
        Ok(ToolReply {
            json: JsonReply::success(messages, results).into_value(),
            text: render::write_state(&id, &state),
            outputs: ToolOutputs::WriteStatus(WriteStatusOutputs::of(&state)),
        })
    }
}

/// The outputs of an update / delete / delete_all done before the answer.
fn write_done() -> ToolOutputs {
    ToolOutputs::Write(WriteOutputs { state: STATE_DONE.into(), ..WriteOutputs::default() })
}

/// Says which scope a call used: the `scope` output, and a line of the text when the memories
/// are the Dify end user's (no `user_id` was given, or bound). The JSON message keeps the shapes
/// of the Python plugin.
fn with_scope(mut reply: ToolReply, scope: ScopeOutput) -> ToolReply {
    if scope.source == ScopeSource::DifyEndUser {
        reply.text.push('\n');
        reply.text.push_str(&render::end_user_scope(&scope.user_id));
    }
    match &mut reply.outputs {
        ToolOutputs::Add(o) => o.scope = scope,
        ToolOutputs::Search(o) => o.scope = scope,
        ToolOutputs::List(o) => o.scope = scope,
        _ => {}
    }
    reply
}

/// A write that is recorded but not done: accepted in async mode, or a sync write still running
/// past its ceiling (`"still_running": true`). Either way the reply carries the write id.
struct Pending {
    json: Value,
    text: String,
    state: &'static str,
    write_id: String,
}

impl Pending {
    fn new(messages: Value, accepted: &Value, what: &str, id: &WriteId, running: bool) -> Self {
        let mut json = JsonReply::success(messages, results_of(accepted)).write_id(id).into_value();
        let (text, state) = if running {
            if let Some(map) = json.as_object_mut() {
                map.insert("still_running".into(), Value::Bool(true));
            }
            (render::still_running(what, id), outputs::STATE_RUNNING)
        } else {
            (render::accepted(what, id), outputs::STATE_ACCEPTED)
        };
        Self { json, text, state, write_id: id.0.clone() }
    }

    fn reply(self, outputs: ToolOutputs) -> ToolReply {
        ToolReply { json: self.json, text: self.text, outputs }
    }

    /// The reply of an update / delete / delete_all.
    fn write(self) -> ToolReply {
        let outputs =
            WriteOutputs { state: self.state.into(), write_id: self.write_id.clone(), ..WriteOutputs::default() };
        self.reply(ToolOutputs::Write(outputs))
    }
}

/// `{"memory_id": …, <scope ids>, <extra>}`: the `messages` of the id-based tools.
fn ref_json(target: &MemoryRef, extra: Map<String, Value>) -> Value {
    let mut map = Map::new();
    map.insert("memory_id".into(), Value::String(target.id.to_string()));
    if let Some(scope) = &target.scope {
        map.extend(requests::scope_json(scope));
    }
    map.extend(extra);
    Value::Object(map)
}

#[cfg(test)]
mod tests;
