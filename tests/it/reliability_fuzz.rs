//! Property tests ("fuzzing" with proptest) of every parser that sees outside data: daemon protocol
//! lines and whole sessions, credential JSON and every adapter's `config`, tool parameters,
//! filters (and how the stores apply them), and model answers (fact lists, update decisions, graph
//! tool calls, raw HTTP bodies of chat and embedding responses). Each property asserts that
//! nothing panics, and where it means something, a round trip or an invariant (a bound user stays
//! bound, a store's filtering agrees with the domain's and never leaves the scope).
//!
//! Cases per property: modest in `cargo test` (see [`cases`]); `scripts/fuzz.sh` runs the same
//! properties with `FUZZ_SCALE` times more cases, in release mode. Failures are kept
//! in `fuzz/regressions/<property>.txt` (replayed first on every run) and the corpus of
//! hand-picked inputs in `fuzz/corpus/` is replayed by `corpus_inputs_never_panic`.

use crate::support::fake_api;
use crate::support::fake_openai;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use fake_openai::{FakeOpenAi, Reply};
use mem0_dify::adapters::dify::connection::{run_session_loop, spawn_async_line_reader};
use mem0_dify::adapters::dify::line_writer::spawn_writer;
use mem0_dify::adapters::dify::protocol::{
    split_text_for_lines, text_chunk, ErrorPayload, InboundMessage, LineLimit, OutboundEvent, RequestData,
    SessionMessage,
};
use mem0_dify::adapters::dify::runtime::Dispatcher;
use mem0_dify::adapters::dify::salvage::salvage_request_session;
use mem0_dify::adapters::dify::tools::{invoke_tool, TOOL_NAMES};
use mem0_dify::adapters::embedder::openai::OpenAiEmbedder;
use mem0_dify::adapters::factory::DefaultBackendFactory;
use mem0_dify::adapters::llm::openai::OpenAiChat;
use mem0_dify::adapters::registry::{BuildContext, Environment};
use mem0_dify::adapters::vector::embedded::{EmbeddedConfig, EmbeddedVectorStore};
use mem0_dify::domain::credentials::{strip_code_fence, CredentialSet, ProviderBlock, CREDENTIAL_NAMES};
use mem0_dify::domain::facts::{parse_facts, read_facts};
use mem0_dify::domain::filter::Filter;
use mem0_dify::domain::graph::extraction::{parse_deletions, parse_extraction, parse_query_entities, ModelAnswer};
use mem0_dify::domain::graph::names::RelationType;
use mem0_dify::domain::history::HistoryEntry;
use mem0_dify::domain::json_answer::{extract_json, EXCERPT_CHARS};
use mem0_dify::domain::memory::{MemoryId, MemoryRecord, MemoryText, Metadata};
use mem0_dify::domain::operations::{
    AddReport, AddRequest, DeleteAllReport, ListReport, ListRequest, MemoryRef, SearchReport, SearchRequest,
    UpdateRequest,
};
use mem0_dify::domain::reconcile::{parse_decisions, read_decisions, Candidates, Operation};
use mem0_dify::domain::scope::{EntityId, Scope};
use mem0_dify::ports::backends::BackendFactory;
use mem0_dify::ports::embedder::{EmbedPurpose, Embedder};
use mem0_dify::ports::llm::{ChatMessage, ChatRequest, ChatResponse, Llm, ResponseFormat, ToolCall};
use mem0_dify::ports::memory_api::{
    ApiError, CheckResult, InvokeContext, MemoryApi, ReadOutcome, WriteOutcome, WriteRef, WriteState,
};
use mem0_dify::ports::vector_store::{ListQuery, VectorStore};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

// ------------------------------------------------------------------------------------ harness

/// Cases per property: `PROPTEST_CASES` when set, else `default` times `FUZZ_SCALE` (default 1;
/// `scripts/fuzz.sh` raises it, so the slow properties keep their share of a long run).
fn cases(default: u32) -> u32 {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok());
    env("PROPTEST_CASES").unwrap_or_else(|| default.saturating_mul(env("FUZZ_SCALE").unwrap_or(1).max(1)))
}

/// Runs one property: regressions of earlier failures first (`fuzz/regressions/<name>.txt`),
/// then fresh cases; prints the number of executions (`scripts/fuzz.sh` collects these lines).
fn check<S: Strategy>(name: &str, default_cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions").join(format!("{name}.txt"));
    let path: &'static str = Box::leak(path.to_string_lossy().into_owned().into_boxed_str());
    let config = Config {
        cases: cases(default_cases),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(path))),
        max_shrink_iters: 2048,
        ..Config::default()
    };
    let runs = AtomicU64::new(0);
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |value| {
        runs.fetch_add(1, Ordering::Relaxed);
        test(value)
    });
    println!("fuzz {name}: {} executions", runs.load(Ordering::Relaxed));
    if let Err(e) = result {
        panic!("property {name} failed: {e}");
    }
}

/// A runtime for the async properties (one per property).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

// --------------------------------------------------------------------------------- strategies

/// Words that mean something to one parser or another.
const KEYWORDS: &[&str] = &[
    "AND",
    "OR",
    "NOT",
    "$and",
    "$or",
    "$not",
    "eq",
    "ne",
    "in",
    "nin",
    "gt",
    "gte",
    "lt",
    "lte",
    "contains",
    "icontains",
    "$eq",
    "$in",
    "user_id",
    "agent_id",
    "run_id",
    "actor_id",
    "role",
    "created_at",
    "facts",
    "fact",
    "memory",
    "memories",
    "event",
    "ADD",
    "UPDATE",
    "DELETE",
    "NONE",
    "id",
    "text",
    "old_memory",
    "provider",
    "config",
    "session_id",
    "event",
    "request",
    "data",
    "type",
    "action",
    "tool",
    "tool_parameters",
    "credentials",
    "invoke_tool",
    "validate_tool_credentials",
    "```json",
    "```",
    "{",
    "}",
    "[",
    "]",
    "\"",
    "\\",
    "null",
    "NaN",
    "-0",
    "1e999",
    "\u{0}",
    "\u{7f}",
    "\u{202e}",
    "é",
    "喜欢",
    "🙂",
    "\n",
    "\r\n",
];

fn keyword() -> impl Strategy<Value = String> {
    proptest::sample::select(KEYWORDS).prop_map(str::to_owned)
}

/// Strings mixing arbitrary text, keywords and structure characters.
fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        3 => keyword(),
        2 => "[a-z_.$-]{0,12}",
        1 => "[0-9eE.+-]{1,12}",
        1 => proptest::collection::vec(prop_oneof![keyword(), any::<String>()], 0..6).prop_map(|v| v.concat()),
        1 => (any::<char>(), 0usize..3000).prop_map(|(c, n)| std::iter::repeat_n(c, n).collect()),
    ]
}

/// Arbitrary JSON with keys that parsers look for.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        nasty_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((prop_oneof![keyword(), nasty_string()], inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// A JSON value, or its text with noise around it (what models and users send).
fn json_text() -> impl Strategy<Value = String> {
    prop_oneof![
        arb_json().prop_map(|v| v.to_string()),
        (arb_json(), nasty_string(), nasty_string()).prop_map(|(v, a, b)| format!("{a}{v}{b}")),
        arb_json().prop_map(|v| format!("```json\n{v}\n```")),
        (arb_json(), 0usize..200).prop_map(|(v, cut)| v.to_string().chars().take(cut).collect()),
        nasty_string(),
    ]
}

fn record(user: &str, text: &str, metadata: Value, n: u128) -> MemoryRecord {
    MemoryRecord::new(
        MemoryId::from_uuid(Uuid::from_u128(n)),
        MemoryText::parse("text", text).unwrap(),
        Metadata::parse(metadata).unwrap(),
        Scope::parse(Some(user), None, None).unwrap(),
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(n as i64),
    )
}

// ------------------------------------------------------------------------------- protocol

#[test]
fn protocol_lines_never_panic() {
    let line = prop_oneof![
        nasty_string(),
        json_text(),
        arb_json().prop_map(|data| json!({"session_id": "s", "event": "request", "data": data}).to_string()),
    ];
    check("protocol_lines", 2000, line, |line| {
        if let Ok(message) = serde_json::from_str::<InboundMessage>(&line) {
            let _ = serde_json::from_value::<RequestData>(message.data);
        }
        Ok(())
    });
}

#[test]
fn outbound_lines_are_one_json_object_and_text_splits_losslessly() {
    let input =
        (nasty_string(), nasty_string(), 0usize..4, proptest::collection::btree_map(nasty_string(), arb_json(), 0..14));
    check("outbound_lines", 300, input, |(session, text, repeat, args)| {
        let mut payload = ErrorPayload::new(text.clone(), text.clone());
        payload.args = args.into_iter().collect();
        for message in [SessionMessage::Stream(text_chunk(&text)), SessionMessage::Error(payload), SessionMessage::End]
        {
            let line = OutboundEvent::Session { session_id: session.clone(), message }.to_line();
            prop_assert!(line.ends_with(b"\n\n"));
            let body = &line[..line.len() - 2];
            prop_assert!(!body.contains(&b'\n'), "a raw newline inside a line");
            let value: Value = serde_json::from_slice(body).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(value["session_id"].as_str(), Some(session.as_str()));
            if let Some(args) = value["data"]["data"]["args"].as_object() {
                prop_assert!(args.len() <= 10);
            }
        }
        // Long texts are cut into lines under the limit and glue back to the same text.
        let long = text.repeat(1 + repeat * 40_000 / text.len().max(1));
        let limit = LineLimit::new(64 * 1024);
        let pieces = split_text_for_lines(&long, &session, limit);
        prop_assert_eq!(pieces.concat(), long);
        for piece in &pieces {
            let line = OutboundEvent::Session {
                session_id: session.clone(),
                message: SessionMessage::Stream(text_chunk(piece)),
            }
            .to_line();
            prop_assert!(limit.admits(&line) || piece.chars().count() == 1, "{} > {}", line.len(), limit.max_bytes());
        }
        Ok(())
    });
}

/// One line of the `sessions` property.
#[derive(Debug, Clone)]
enum SessionLine {
    /// A well-formed request with this `data`.
    Request(Value),
    /// A request with this `data` that the parser refuses because of the part, with
    /// `session_id` before (true) or after the part.
    Unreadable(Value, UnreadablePart, bool),
    /// Anything (the session it might name is never one of ours).
    Garbage(String),
    /// A request with an empty `session_id`.
    NoSession,
}

/// What makes a request line unreadable for the JSON parser.
#[derive(Debug, Clone)]
enum UnreadablePart {
    /// A value nested this deep inside `data` (the parser stops at 128).
    Deep(usize),
    /// A number out of range inside `data` (`1e5000`, `-1e999`…).
    Number(String),
    /// `event` given twice (same value).
    DuplicateEvent,
    /// `session_id` given twice (same value).
    DuplicateSession,
    /// The line cut at this fraction of the `data` (the session id comes first).
    Cut(u8),
}

fn unreadable_part() -> impl Strategy<Value = UnreadablePart> {
    prop_oneof![
        (129usize..20_000).prop_map(UnreadablePart::Deep),
        prop_oneof![Just("1e5000"), Just("-1e999"), Just("1E400"), Just("123e4567")]
            .prop_map(|n| UnreadablePart::Number(n.to_owned())),
        Just(UnreadablePart::DuplicateEvent),
        Just(UnreadablePart::DuplicateSession),
        (1u8..100).prop_map(UnreadablePart::Cut),
    ]
}

/// The text of a request line for `sid` that the parser refuses because of `part`.
fn unreadable_request(sid: &str, data: &Value, part: &UnreadablePart, session_first: bool) -> String {
    let session = format!("\"session_id\":{}", json!(sid));
    let mut keys = vec![session.clone(), "\"event\":\"request\"".to_owned()];
    let data_text = match part {
        UnreadablePart::Deep(levels) => {
            format!("{{\"deep\":{}1{},\"rest\":{data}}}", "[".repeat(*levels), "]".repeat(*levels))
        }
        UnreadablePart::Number(n) => format!("{{\"n\":{n},\"rest\":{data}}}"),
        UnreadablePart::DuplicateEvent => {
            keys.push("\"event\":\"request\"".to_owned());
            data.to_string()
        }
        UnreadablePart::DuplicateSession => {
            keys.push(session);
            data.to_string()
        }
        UnreadablePart::Cut(_) => data.to_string(),
    };
    let data_key = format!("\"data\":{data_text}");
    if session_first || matches!(part, UnreadablePart::Cut(_)) {
        keys.push(data_key);
    } else {
        keys.insert(0, data_key);
    }
    let line = format!("{{{}}}", keys.join(","));
    match part {
        UnreadablePart::Cut(percent) => {
            // cut inside data, never before it (the session id and event come first)
            let start = line.find("\"data\":").unwrap_or(0) + 7;
            let mut end = start + (line.len() - start) * usize::from(*percent) / 100;
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            let cut = &line[..end.max(start).min(line.len() - 1)];
            // the closing brace is gone, so the cut line never parses
            cut.to_owned()
        }
        _ => line,
    }
}

/// Whole sessions: any mix of lines in, only well-formed lines out, one `end` per request, also
/// for requests the parser refuses (nested too deep, numbers out of range, duplicate keys, cut).
#[test]
fn sessions_answer_every_request_once_whatever_the_input() {
    let request = (proptest::sample::select(&TOOL_NAMES[..]), arb_json(), arb_json(), any::<bool>())
        .prop_map(|(tool, params, credentials, validate)| {
            let action = if validate { "validate_tool_credentials" } else { "invoke_tool" };
            json!({"user_id": "u", "type": "tool", "action": action, "tool": tool,
                   "tool_parameters": params, "credentials": credentials})
        })
        .boxed();
    let line = prop_oneof![
        2 => request.clone().prop_map(SessionLine::Request),
        1 => (request, unreadable_part(), any::<bool>()).prop_map(|(data, part, first)| SessionLine::Unreadable(data, part, first)),
        1 => nasty_string().prop_map(SessionLine::Garbage),
        1 => Just(SessionLine::NoSession),
    ];
    let rt = runtime();
    check("sessions", 48, proptest::collection::vec(line, 1..12), |lines| {
        rt.block_on(async {
            let mut input = Vec::new();
            let mut expected = BTreeSet::new();
            let mut unreadable = BTreeSet::new();
            for (i, line) in lines.iter().enumerate() {
                let sid = format!("s{i}");
                match line {
                    SessionLine::Garbage(raw) => input.extend(raw.replace('\n', " ").into_bytes()),
                    SessionLine::Request(data) => {
                        expected.insert(sid.clone());
                        input.extend(
                            json!({"session_id": sid, "event": "request", "data": data}).to_string().into_bytes(),
                        );
                    }
                    SessionLine::Unreadable(data, part, session_first) => {
                        // a request the parser refuses still ends its session (error, then end)
                        expected.insert(sid.clone());
                        unreadable.insert(sid.clone());
                        input.extend(unreadable_request(&sid, data, part, *session_first).into_bytes());
                    }
                    SessionLine::NoSession => input.extend(b"{\"event\":\"request\",\"session_id\":\"\"}"),
                }
                input.push(b'\n');
            }
            let api: Arc<dyn MemoryApi> = Arc::new(fake_api::FakeMemoryApi::new());
            let dispatcher = Arc::new(Dispatcher::new(api, LineLimit::default(), Duration::from_secs(20), 64));
            let (plugin_out, mut daemon_in) = tokio::io::duplex(1 << 20);
            let (out, writer) = spawn_writer(plugin_out);
            let mut lines_rx = spawn_async_line_reader(std::io::Cursor::new(input));
            let (_stop_tx, mut stop) = tokio::sync::watch::channel(false);
            let mut sessions = tokio::task::JoinSet::new();
            run_session_loop(&mut lines_rx, &out, &dispatcher, &mut stop, &mut sessions, false).await;
            while sessions.join_next().await.is_some() {}
            drop(out);
            writer.await.unwrap().unwrap();
            let mut bytes = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut daemon_in, &mut bytes).await.unwrap();
            let text = String::from_utf8(bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut ended = Vec::new();
            let mut refused_before_end = BTreeSet::new();
            for line in text.split("\n\n").filter(|l| !l.is_empty()) {
                let value: Value =
                    serde_json::from_str(line).map_err(|e| TestCaseError::fail(format!("{e}: {line}")))?;
                let session = value["session_id"].as_str().unwrap_or_default().to_owned();
                if value["data"]["type"] == "end" {
                    ended.push(session.clone());
                }
                if value["data"]["data"]["error_type"] == "InvalidRequestError" && !ended.contains(&session) {
                    refused_before_end.insert(session);
                }
                if value["data"]["type"] == "error" {
                    prop_assert_ne!(
                        &value["data"]["data"]["error_type"],
                        "InternalError",
                        "a session panicked: {}",
                        line
                    );
                }
            }
            let ended_set: BTreeSet<String> = ended.iter().cloned().collect();
            prop_assert_eq!(ended.len(), ended_set.len(), "a session ended twice");
            prop_assert_eq!(ended_set, expected);
            for unreadable in &unreadable {
                prop_assert!(refused_before_end.contains(unreadable), "{} got no error before its end", unreadable);
            }
            Ok(())
        })
    });
}

// ------------------------------------------------------------------------------ credentials

fn block_value() -> impl Strategy<Value = Value> {
    let config = proptest::collection::btree_map(prop_oneof![config_key(), nasty_string()], config_value(), 0..8)
        .prop_map(|m| Value::Object(m.into_iter().collect()));
    let provider = prop_oneof![
        proptest::sample::select(&["openai", "OpenAI ", "pgvector", "embedded", "neo4j", "milvus", ""][..])
            .prop_map(str::to_owned),
        nasty_string()
    ];
    let object = (provider, config).prop_map(|(p, c)| json!({"provider": p, "config": c})).boxed();
    prop_oneof![
        3 => object.clone(),
        2 => object.clone().prop_map(|v| Value::String(v.to_string())),
        1 => object.prop_map(|v| Value::String(format!("```json\n{v}\n```"))),
        1 => arb_json(),
        1 => json_text().prop_map(Value::String),
    ]
}

/// Keys the OpenAI-compatible adapters take beyond the base keys, and one no adapter takes.
const EXTRA_KEYS: &[&str] =
    &["openai_base_url", "openrouter_base_url", "models", "route", "site_url", "app_name", "store", "sslrootcert"];

/// Keys of every adapter's `config`: the adapters' own lists, plus [`EXTRA_KEYS`].
fn config_keys() -> Vec<&'static str> {
    let lists: [&[&'static str]; 6] = [
        mem0_dify::adapters::llm::base::BASE_KEYS,
        mem0_dify::adapters::embedder::base::BASE_KEYS,
        mem0_dify::adapters::vector::pgvector::ALLOWED_KEYS,
        mem0_dify::adapters::vector::embedded::ALLOWED_KEYS,
        mem0_dify::adapters::graph::neo4j::config::ALLOWED_KEYS,
        EXTRA_KEYS,
    ];
    let mut keys: Vec<&'static str> = lists.concat();
    keys.sort_unstable();
    keys.dedup();
    keys
}

fn config_key() -> impl Strategy<Value = String> {
    proptest::sample::select(config_keys()).prop_map(str::to_owned)
}

fn config_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        2 => arb_json(),
        1 => proptest::sample::select(&[
            "postgresql://u:p@127.0.0.1:1/db", "postgres://%zz@[::1:5432/db?sslmode=nope", "postgresql://:@:/",
            "http://127.0.0.1:1", "bolt://[::1]:99999", "http://", "://", "file:///etc/passwd", "-1", "0",
            "18446744073709551616", "1e308", "NaN", "verify-full", "true", "/nonexistent/../x.db", ""
        ][..]).prop_map(|s| Value::String(s.to_owned())),
        1 => proptest::sample::select(&[0i64, -1, 1, 2, 3, 65535, 65536, 2_000_000, i64::MAX, i64::MIN][..]).prop_map(Value::from),
    ]
}

#[test]
fn credentials_and_adapter_configs_never_panic() {
    let key = prop_oneof![
        4 => proptest::sample::select(CREDENTIAL_NAMES).prop_map(str::to_owned),
        1 => nasty_string()
    ];
    let map = proptest::collection::btree_map(key, prop_oneof![block_value(), arb_json()], 0..7);
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let factory = DefaultBackendFactory::new(dir.path());
    check("credentials", 600, map, |map| {
        let map: Map<String, Value> = map.into_iter().collect();
        if let Ok(set) = CredentialSet::from_map(&map) {
            let _ = set.fingerprint();
            // Building reads every adapter's config; it contacts no backend.
            let _ = rt.block_on(factory.build(&set));
        }
        Ok(())
    });
}

#[test]
fn credential_blocks_read_the_same_as_objects_json_text_and_fenced_text() {
    let config = proptest::collection::btree_map(nasty_string(), arb_json(), 0..6);
    check("credential_blocks", 400, ("[a-zA-Z_ ]{1,12}", config, nasty_string()), |(provider, config, noise)| {
        let object = json!({"provider": provider, "config": config});
        let as_object = ProviderBlock::parse("local_llm_json", &object);
        let as_text = ProviderBlock::parse("local_llm_json", &Value::String(object.to_string()));
        let fenced = ProviderBlock::parse("local_llm_json", &Value::String(format!("```json\n{object}\n```")));
        prop_assert_eq!(&as_object, &as_text);
        prop_assert_eq!(&as_object, &fenced);
        let _ = strip_code_fence(&noise);
        let _ = ProviderBlock::parse("local_llm_json", &Value::String(noise));
        Ok(())
    });
}

// ---------------------------------------------------------------------------- tool parameters

/// A memory engine that records the scope of every request and answers with empty results.
#[derive(Default)]
struct RecordingApi {
    scopes: Mutex<Vec<Option<Scope>>>,
}

impl RecordingApi {
    fn saw(&self, scope: Option<&Scope>) {
        self.scopes.lock().unwrap().push(scope.cloned());
    }
}

#[async_trait]
impl MemoryApi for RecordingApi {
    async fn add(&self, _: &CredentialSet, request: AddRequest) -> Result<WriteOutcome<AddReport>, ApiError> {
        self.saw(Some(&request.scope));
        Ok(WriteOutcome::Done(AddReport::default()))
    }
    async fn search(&self, _: &CredentialSet, request: SearchRequest) -> Result<ReadOutcome<SearchReport>, ApiError> {
        self.saw(Some(&request.scope));
        Ok(ReadOutcome::complete(SearchReport::default()))
    }
    async fn get_all(&self, _: &CredentialSet, request: ListRequest) -> Result<ReadOutcome<ListReport>, ApiError> {
        self.saw(Some(&request.scope));
        Ok(ReadOutcome::complete(ListReport::default()))
    }
    async fn get(&self, _: &CredentialSet, target: MemoryRef) -> Result<ReadOutcome<Option<MemoryRecord>>, ApiError> {
        self.saw(target.scope.as_ref());
        Ok(ReadOutcome::complete(None))
    }
    async fn update(&self, _: &CredentialSet, request: UpdateRequest) -> Result<WriteOutcome<MemoryRecord>, ApiError> {
        self.saw(request.target.scope.as_ref());
        Err(ApiError::NotFound(request.target.id))
    }
    async fn delete(&self, _: &CredentialSet, target: MemoryRef) -> Result<WriteOutcome<MemoryId>, ApiError> {
        self.saw(target.scope.as_ref());
        Ok(WriteOutcome::Done(target.id))
    }
    async fn delete_all(&self, _: &CredentialSet, scope: Scope) -> Result<WriteOutcome<DeleteAllReport>, ApiError> {
        self.saw(Some(&scope));
        Ok(WriteOutcome::Done(DeleteAllReport::default()))
    }
    async fn history(&self, _: &CredentialSet, target: MemoryRef) -> Result<ReadOutcome<Vec<HistoryEntry>>, ApiError> {
        self.saw(target.scope.as_ref());
        Ok(ReadOutcome::complete(Vec::new()))
    }
    async fn write_status(&self, _: &CredentialSet, target: WriteRef) -> Result<Option<WriteState>, ApiError> {
        self.saw(target.scope.as_ref());
        Ok(None)
    }
    async fn validate(&self, _: &CredentialSet) -> Result<Vec<CheckResult>, ApiError> {
        Ok(Vec::new())
    }
    async fn shutdown(&self, _: Duration) {}
}

const PARAM_NAMES: &[&str] = &[
    "user",
    "assistant",
    "user_id",
    "agent_id",
    "run_id",
    "metadata",
    "infer",
    "query",
    "filters",
    "top_k",
    "threshold",
    "rerank",
    "limit",
    "memory_id",
    "text",
    "write_id",
    "output_format",
];

fn param_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => arb_json(),
        2 => json_text().prop_map(Value::String),
        1 => Just(json!("5b0c8c6e-3f7d-4a55-9a0e-2f7a1c0d9e11")),
        1 => proptest::sample::select(&["alice", " ", "", "1e999", "-5", "0.5", "true", "yes", "{}", "[]"][..])
            .prop_map(|s| Value::String(s.to_owned())),
        1 => any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
    ]
}

#[test]
fn tool_parameters_never_panic_and_a_bound_user_stays_bound() {
    let tool = prop_oneof![5 => proptest::sample::select(&TOOL_NAMES[..]).prop_map(str::to_owned), 1 => nasty_string()];
    let params = proptest::collection::btree_map(
        prop_oneof![4 => proptest::sample::select(PARAM_NAMES).prop_map(str::to_owned), 1 => nasty_string()],
        param_value(),
        0..8,
    );
    let end_user = prop_oneof![Just(None), nasty_string().prop_map(Some), Just(Some("end-user-1".to_owned()))];
    let rt = runtime();
    check("tool_parameters", 1500, (tool, params, end_user, any::<bool>()), |(tool, params, end_user, bound)| {
        let params: Map<String, Value> = params.into_iter().collect();
        let mut creds = Map::new();
        creds.insert("bind_user_to_dify_user".into(), json!(bound));
        let creds = CredentialSet::from_map(&creds).unwrap();
        let api = RecordingApi::default();
        let ctx = InvokeContext { end_user: end_user.clone() };
        let reply = rt.block_on(invoke_tool(&api, &creds, &tool, &params, &ctx));
        let status = reply.json["status"].as_str().unwrap_or_default();
        prop_assert!(status == "SUCCESS" || status == "ERROR", "{}", reply.json);
        prop_assert!(reply.json.get("messages").is_some() && reply.json.get("results").is_some());
        prop_assert!(!reply.text.is_empty());
        // Bound to a usable end user: every request reaching the engine is confined to that user.
        let bound_to = end_user.filter(|_| bound).and_then(|u| EntityId::parse("user_id", &u).ok());
        if let Some(user) = bound_to {
            for scope in api.scopes.lock().unwrap().iter() {
                let scope = scope.as_ref().ok_or_else(|| TestCaseError::fail("an unconfined request while bound"))?;
                prop_assert_eq!(scope.user_id(), Some(&user));
            }
        }
        // Bound, with or without an end user: no request reaches the engine without an owner.
        if bound {
            prop_assert!(api.scopes.lock().unwrap().iter().all(Option::is_some), "an unconfined request while bound");
        }
        Ok(())
    });
}

// ----------------------------------------------------------------------------------- filters

#[test]
fn filters_never_panic() {
    let records = [
        record("alice", "Likes tea", json!({"topic": "food", "n": 3, "tags": ["a", "b"], "x": null}), 1),
        record("bob", "Lives in Paris", json!({"topic": "FOOD", "n": 2.5, "flag": true}), 2),
    ];
    check(
        "filters",
        3000,
        prop_oneof![arb_json(), json_text().prop_map(|t| serde_json::from_str(&t).unwrap_or(Value::String(t)))],
        |value| {
            if let Ok(filter) = Filter::parse(&value) {
                for r in &records {
                    let _ = filter.matches(r);
                }
            }
            Ok(())
        },
    );
}

/// Valid filters over the fields the test records carry, with values that look like injections.
fn valid_filter() -> impl Strategy<Value = Value> {
    let field = proptest::sample::select(
        &[
            "topic",
            "n",
            "tags",
            "user_id",
            "agent_id",
            "run_id",
            "role",
            "missing",
            "created_at",
            "data",
            "hash",
            "weird.key-1",
        ][..],
    );
    let scalar = prop_oneof![
        proptest::sample::select(
            &["food", "FOOD", "alice", "bob", "a", "", "x' OR '1'='1", "%", "_", "\\", "oo", "2026"][..]
        )
        .prop_map(|s| json!(s)),
        (-3i64..5).prop_map(|n| json!(n)),
        Just(json!(2.5)),
        Just(json!(true)),
        Just(Value::Null),
    ];
    let condition = prop_oneof![
        scalar.clone(),
        (proptest::sample::select(&["eq", "ne", "contains", "$eq", "$ne"][..]), scalar.clone())
            .prop_map(|(op, v)| json!({ op: v })),
        (proptest::sample::select(&["in", "nin"][..]), proptest::collection::vec(scalar.clone(), 0..4))
            .prop_map(|(op, v)| json!({ op: v })),
        (
            proptest::sample::select(&["gt", "gte", "lt", "lte"][..]),
            prop_oneof![
                (-3i64..5).prop_map(|n| json!(n)),
                proptest::sample::select(&["a", "food", "2026", ""][..]).prop_map(|s| json!(s))
            ]
        )
            .prop_map(|(op, v)| json!({ op: v })),
        proptest::sample::select(&["FO", "od", "x'", "%"][..]).prop_map(|s| json!({"icontains": s})),
    ];
    let leaf = (field, condition).prop_map(|(f, c)| json!({ f: c }));
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            (
                proptest::sample::select(&["AND", "OR", "NOT", "$or", "$and", "$not"][..]),
                proptest::collection::vec(inner.clone(), 1..3)
            )
                .prop_map(|(op, items)| json!({ op: items })),
            (inner.clone(), inner).prop_map(|(a, b)| {
                let mut map = a.as_object().cloned().unwrap_or_default();
                map.extend(b.as_object().cloned().unwrap_or_default());
                Value::Object(map)
            }),
        ]
    })
}

fn store_records() -> Vec<MemoryRecord> {
    let metas = [
        json!({"topic": "food", "n": 3, "tags": ["a", "b"]}),
        json!({"topic": "FOOD", "n": 2.5}),
        json!({"topic": "x' OR '1'='1", "n": -1, "tags": ["%"]}),
        json!({"topic": "%", "flag": true}),
        json!({}),
        json!({"n": 0, "tags": []}),
    ];
    let mut records = Vec::new();
    for (u, user) in ["alice", "bob", "alice%"].iter().enumerate() {
        for (i, meta) in metas.iter().enumerate() {
            records.push(record(user, &format!("memory {i} of {user}"), meta.clone(), (u * 10 + i) as u128 + 1));
        }
    }
    records
}

/// The embedded store applies any valid filter exactly like `Filter::matches`, within the scope.
#[test]
fn store_filters_agree_with_the_domain_and_stay_in_scope() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedVectorStore::new(EmbeddedConfig {
        path: dir.path().join("memories.db"),
        collection_name: "fuzz".into(),
        embedding_model_dims: 4,
    });
    let records = store_records();
    rt.block_on(async {
        store.ensure_ready().await.unwrap();
        let items: Vec<(MemoryRecord, Vec<f32>)> =
            records.iter().map(|r| (r.clone(), vec![1.0, 0.5, 0.25, 0.0])).collect();
        store.insert(&items).await.unwrap();
    });
    let alice = Scope::parse(Some("alice"), None, None).unwrap();
    check("store_filters", 300, valid_filter(), |value| {
        let filter = Filter::parse(&value)
            .map_err(|e| TestCaseError::fail(format!("a valid filter was refused: {e}: {value}")))?;
        let query = ListQuery { scope: alice.clone(), filter: Some(filter.clone()), limit: 100 };
        let listed = rt.block_on(store.list(&query)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let got: BTreeSet<MemoryId> = listed.iter().map(|r| r.id).collect();
        let expected: BTreeSet<MemoryId> =
            records.iter().filter(|r| alice.contains(&r.scope) && filter.matches(r)).map(|r| r.id).collect();
        prop_assert!(listed.iter().all(|r| alice.contains(&r.scope)), "left the scope");
        prop_assert_eq!(got, expected, "store and domain disagree on {}", value);
        Ok(())
    });
}

// ----------------------------------------------------------------------------- model answers

#[test]
fn model_answers_never_panic_and_decisions_stay_safe() {
    let candidates = Candidates::new([
        record("u", "Likes tea", json!({}), 1),
        record("u", "Lives in Paris", json!({}), 2),
        record("u", "Has a cat", json!({}), 3),
    ]);
    let known: HashSet<MemoryId> = candidates.records().iter().map(|r| r.id).collect();
    let decision = (
        prop_oneof![
            proptest::sample::select(&["0", "1", "2", "3", "new", "-1", " 1 "][..]).prop_map(|s| json!(s)),
            arb_json()
        ],
        prop_oneof![
            proptest::sample::select(&["ADD", "update", "DELETE", "NONE", "X"][..]).prop_map(|s| json!(s)),
            arb_json()
        ],
        prop_oneof![
            proptest::sample::select(&["Likes tea", "Likes coffee", " ", "Has a dog"][..]).prop_map(|s| json!(s)),
            arb_json()
        ],
    )
        .prop_map(|(id, event, text)| json!({"id": id, "event": event, "text": text}));
    let structured = proptest::collection::vec(decision, 0..8).prop_map(|items| json!({"memory": items}).to_string());
    let answer = prop_oneof![json_text(), structured];
    check("model_answers", 3000, answer, |answer| {
        let _ = extract_json(&answer);
        let facts = parse_facts(&answer);
        prop_assert!(facts.len() <= 50);
        // The strict readers agree with the tolerant ones, and an unreadable answer's reason
        // quotes a bounded excerpt (never the whole answer).
        match read_facts(&answer) {
            Ok(read) => prop_assert_eq!(&read, &facts),
            Err(e) => {
                prop_assert!(facts.is_empty(), "unreadable yet facts were found");
                prop_assert!(e.excerpt.chars().count() <= EXCERPT_CHARS + 60, "excerpt too long");
            }
        }
        let operations = parse_decisions(&answer, &candidates);
        match read_decisions(&answer, &candidates) {
            Ok(read) => prop_assert_eq!(&read, &operations),
            Err(_) => prop_assert!(operations.is_empty(), "unreadable yet decisions were found"),
        }
        let mut targets = HashSet::new();
        for op in &operations {
            match op {
                Operation::Update { target, .. } | Operation::Delete { target, .. } => {
                    prop_assert!(known.contains(target), "a decision targets an unknown memory");
                    prop_assert!(targets.insert(*target), "two decisions on one memory");
                }
                Operation::Add { text } => {
                    prop_assert!(candidates.records().iter().all(|r| r.text != *text), "re-adds a stored text")
                }
            }
        }
        Ok(())
    });
}

#[test]
fn json_answers_are_found_in_fences_and_prose() {
    let prose = "[a-zA-Z0-9 .,!?:;'\\n-]{0,40}";
    check("json_answers", 1500, (arb_json(), prose, prose), |(value, before, after)| {
        let text = value.to_string();
        prop_assert_eq!(extract_json(&text), Some(value.clone()));
        prop_assert_eq!(extract_json(&format!("```json\n{text}\n```")), Some(value.clone()));
        if value.is_object() || value.is_array() {
            prop_assert_eq!(extract_json(&format!("{before}{text}{after}")), Some(value.clone()));
        }
        // Facts read the same in every wrapping.
        let facts = json!({"facts": value});
        let plain = parse_facts(&facts.to_string());
        prop_assert_eq!(&parse_facts(&format!("{before} ```json\n{facts}\n``` {after}")), &plain);
        prop_assert_eq!(&parse_facts(&format!("{before}{facts}{after}")), &plain);
        Ok(())
    });
}

#[test]
fn graph_tool_calls_never_panic_and_relation_names_stay_cypher_safe() {
    let call = (
        prop_oneof![
            proptest::sample::select(
                &["extract_entities", "establish_relationships", "delete_graph_memory", "search_entities", "noop"][..]
            )
            .prop_map(str::to_owned),
            nasty_string()
        ],
        arb_json(),
    )
        .prop_map(|(name, arguments)| ToolCall { name, arguments });
    let response = (proptest::option::of(json_text()), proptest::collection::vec(call, 0..4))
        .prop_map(|(content, tool_calls)| ChatResponse { content, tool_calls, usage: None });
    check("graph_answers", 2000, (response, 0usize..20, nasty_string()), |(response, count, relation)| {
        let response = ModelAnswer { content: response.content.as_deref(), tool_calls: &response.tool_calls };
        let extraction = parse_extraction(&response);
        for triple in &extraction.relations {
            let cypher = triple.relation.cypher();
            prop_assert!(
                !cypher.is_empty() && cypher.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            );
        }
        prop_assert!(parse_deletions(&response, count).iter().all(|&i| i < count));
        let _ = parse_query_entities(&response);
        if let Some(relation) = RelationType::parse(&relation) {
            let cypher = relation.cypher();
            prop_assert!(cypher.len() <= 64 && !cypher.starts_with(|c: char| c.is_ascii_digit()));
            prop_assert!(
                cypher.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{}",
                cypher
            );
        }
        Ok(())
    });
}

// --------------------------------------------------------------------- raw provider responses

/// Chat completion and embedding bodies, well-formed, mutated or garbage, with any status.
fn provider_body() -> impl Strategy<Value = (u16, String)> {
    let message = (proptest::option::of(nasty_string()), proptest::collection::vec((nasty_string(), json_text()), 0..3))
        .prop_map(|(content, calls)| {
            let calls: Vec<Value> = calls
                .into_iter()
                .map(|(name, args)| json!({"id": "c", "type": "function", "function": {"name": name, "arguments": args}}))
                .collect();
            json!({"role": "assistant", "content": content, "tool_calls": calls})
        });
    let chat = (message, arb_json(), proptest::sample::select(&["stop", "length", "tool_calls", "content_filter"][..]))
        .prop_map(|(message, usage, finish)| json!({"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage}));
    let embedding = (proptest::collection::vec((any::<i64>(), proptest::collection::vec(any::<f32>(), 0..6)), 0..4))
        .prop_map(|items| {
            let data: Vec<Value> = items
                .into_iter()
                .map(|(index, v)| json!({"object": "embedding", "index": index, "embedding": v}))
                .collect();
            json!({"object": "list", "data": data})
        });
    let body = prop_oneof![
        2 => chat.prop_map(|v| v.to_string()),
        2 => embedding.prop_map(|v| v.to_string()),
        1 => arb_json().prop_map(|v| v.to_string()),
        1 => arb_json().prop_map(|v| json!({"error": v}).to_string()),
        1 => nasty_string(),
    ];
    let status = prop_oneof![4 => Just(200u16), 1 => proptest::sample::select(&[400u16, 401, 404, 408, 429, 500, 502, 503, 529][..])];
    (status, body)
}

#[test]
fn provider_responses_never_panic() {
    let rt = runtime();
    let (server, chat, embedder) = rt.block_on(async {
        let server = FakeOpenAi::start().await;
        let config =
            json!({"api_key": "sk-fuzz", "openai_base_url": server.base_url(), "max_retries": 0, "timeout": 5});
        let block = |field, extra: Value| {
            let mut config = config.clone();
            config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            ProviderBlock::parse(field, &json!({"provider": "openai", "config": config})).unwrap().unwrap()
        };
        let context = BuildContext::new(Environment::default(), std::env::temp_dir().join("mem0-dify-unused"));
        let chat = OpenAiChat::from_block(&block("local_llm_json", json!({})), &context).unwrap();
        let embedder =
            OpenAiEmbedder::from_block(&block("local_embedder_json", json!({"embedding_dims": 4})), &context).unwrap();
        (server, chat, embedder)
    });
    check("provider_responses", 400, provider_body(), |(status, body)| {
        rt.block_on(async {
            server.fail_next(1, Reply::Raw { status, body: body.clone() });
            let request = ChatRequest {
                messages: vec![ChatMessage::user("hi")],
                response_format: ResponseFormat::JsonObject,
                tools: Vec::new(),
                ..ChatRequest::default()
            };
            let answer = chat.chat(request).await;
            // An HTTP 200 without any choice (an error body, not JSON, another shape) is transient.
            let has_choice = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v.get("choices").and_then(Value::as_array).map(|c| !c.is_empty()))
                .unwrap_or(false);
            if status == 200 && !has_choice {
                prop_assert!(answer.as_ref().is_err_and(|e| e.is_transient()), "{answer:?} for {body}");
            }
            server.fail_next(1, Reply::Raw { status, body });
            if let Ok(vectors) = embedder.embed(&["a".to_owned(), "b".to_owned()], EmbedPurpose::Add).await {
                prop_assert_eq!(vectors.len(), 2, "one vector per text");
            }
            Ok(())
        })
    });
}

// ---------------------------------------------------------------------------------- corpus

/// Replays every input kept in `fuzz/corpus/<target>/` through its parser.
#[test]
fn corpus_inputs_never_panic() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let candidates = Candidates::new([record("u", "Likes tea", json!({}), 1)]);
    let rt = runtime();
    let api = RecordingApi::default();
    let mut replayed = 0;
    for target in ["protocol", "credentials", "filters", "model_answers", "tool_parameters"] {
        let dir = root.join(target);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            let input = std::fs::read_to_string(&path).unwrap();
            match target {
                "protocol" => {
                    let parsed = serde_json::from_str::<InboundMessage>(&input);
                    let salvaged = salvage_request_session(&input);
                    let name = path.file_name().unwrap_or_default().to_string_lossy();
                    if name.starts_with("unreadable_request") {
                        assert!(parsed.is_err(), "{name} parses");
                        assert_eq!(salvaged.as_deref(), Some("s"), "{name}: its session is not recovered");
                    }
                    if name.starts_with("unrecoverable") {
                        assert_eq!(salvaged, None, "{name}");
                    }
                    if let Ok(m) = parsed {
                        let _ = serde_json::from_value::<RequestData>(m.data);
                    }
                }
                "credentials" => {
                    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&input) {
                        if let Ok(set) = CredentialSet::from_map(&map) {
                            let _ = rt.block_on(DefaultBackendFactory::new(root.join("unused")).build(&set));
                        }
                    }
                    let _ = ProviderBlock::parse("local_llm_json", &Value::String(input.clone()));
                }
                "filters" => {
                    let value = serde_json::from_str(&input).unwrap_or(Value::String(input.clone()));
                    if let Ok(filter) = Filter::parse(&value) {
                        let _ = filter.matches(&candidates.records()[0]);
                    }
                }
                "model_answers" => {
                    let _ = parse_facts(&input);
                    let _ = parse_decisions(&input, &candidates);
                    let _ = read_facts(&input);
                    let _ = read_decisions(&input, &candidates);
                    let _ = extract_json(&input);
                }
                _ => {
                    let value: Value = serde_json::from_str(&input).unwrap_or_default();
                    let tool = value["tool"].as_str().unwrap_or("search_memory");
                    let params = value["params"].as_object().cloned().unwrap_or_default();
                    let creds = CredentialSet::from_map(&Map::new()).unwrap();
                    let reply = rt.block_on(invoke_tool(&api, &creds, tool, &params, &InvokeContext::default()));
                    assert!(reply.json["status"].is_string(), "{}", path.display());
                }
            }
            replayed += 1;
        }
    }
    assert!(replayed >= 50, "the corpus has {replayed} inputs");
    println!("fuzz corpus: {replayed} inputs replayed");
}
