//! Typed outputs: every variable of every tool matches the tool's `output_schema` (on success,
//! error and degraded paths), `context` is bounded and ordered, and a call without `user_id`
//! is confined to the Dify end user of the call.

use super::*;

/// The `output_schema` of `tools/<tool>.yaml`.
fn output_schema(tool: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tools").join(format!("{tool}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap();
    let doc: Value = serde_norway::from_str(&text).unwrap();
    doc["output_schema"].clone()
}

/// Asserts that `reply` has one variable per property of the tool's `output_schema` (no more,
/// no less) and that each value is valid against its property's schema.
fn assert_outputs_match_schema(tool: &str, reply: &ToolReply) {
    let schema = output_schema(tool);
    assert_eq!(schema["type"], "object", "{tool}: output_schema type");
    let properties = schema["properties"].as_object().unwrap();
    let variables = reply.outputs.variables();
    let names: Vec<&str> = variables.iter().map(|v| v.name.as_str()).collect();
    let declared: Vec<&str> = properties.keys().map(String::as_str).collect();
    assert_eq!(names, declared, "{tool}: variables and output_schema properties ({})", reply.text);
    for variable in &variables {
        let property = &properties[&variable.name];
        let validator = jsonschema::validator_for(property).unwrap();
        let errors: Vec<String> = validator.iter_errors(&variable.value).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{tool}.{} = {} violates its schema: {errors:?}", variable.name, variable.value);
    }
    // The whole object too (nested `required` lists hold every field).
    let all: Map<String, Value> = variables.into_iter().map(|v| (v.name, v.value)).collect();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&Value::Object(all)), "{tool}: outputs as a whole");
}

/// Scripts the fake engine for one case.
type Setup = Box<dyn Fn(&FakeApi)>;

fn variable(reply: &ToolReply, name: &str) -> Value {
    reply.outputs.variables().into_iter().find(|v| v.name == name).map(|v| v.value).unwrap_or(Value::Null)
}

fn history_row() -> HistoryEntry {
    let at = Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap();
    HistoryEntry::added(Uuid::new_v4(), mid(ID), MemoryText::parse("t", "Likes green tea").unwrap(), at)
}

#[tokio::test]
async fn schema_validation_catches_a_wrong_output() {
    // The check itself can fail: a count that is not an integer is refused.
    let schema = output_schema("search_memory");
    let validator = jsonschema::validator_for(&schema["properties"]["count"]).unwrap();
    assert!(!validator.is_valid(&json!("3")));
    let validator = jsonschema::validator_for(&schema["properties"]["memories"]).unwrap();
    assert!(!validator.is_valid(&json!([{"id": 1}])));
}

#[tokio::test]
async fn every_tool_outputs_match_the_schema_on_success_error_and_degraded_paths() {
    let alice = json!({"user_id": "alice"});
    let by_id = json!({"memory_id": ID, "user_id": "alice"});
    let change =
        MemoryChange { id: mid(ID), memory: "Likes tea".into(), event: ChangeEvent::Add, previous_memory: None };
    let cases: Vec<(&str, Value, Setup)> = vec![
        (
            "add_memory",
            json!({"user": "I like tea", "user_id": "alice"}),
            Box::new(move |api: &FakeApi| {
                script(
                    &api.add,
                    Ok(WriteOutcome::Done(AddReport { results: vec![change.clone()], ..AddReport::default() })),
                )
            }),
        ),
        (
            "add_memory",
            json!({"user": "I like tea", "user_id": "alice"}),
            Box::new(|api: &FakeApi| script(&api.add, Ok(WriteOutcome::Accepted(write_id())))),
        ),
        (
            "add_memory",
            json!({"user": "I like tea", "user_id": "alice"}),
            Box::new(|api: &FakeApi| script(&api.add, Ok(WriteOutcome::Running(write_id())))),
        ),
        ("add_memory", json!({"user": " ", "user_id": "alice"}), Box::new(|_: &FakeApi| {})),
        (
            "search_memory",
            json!({"query": "tea", "user_id": "alice"}),
            Box::new(|api: &FakeApi| {
                let report = SearchReport {
                    results: vec![hit(ID, "Likes tea", 0.9, None)],
                    relations: None,
                    graph_degraded: None,
                };
                script(&api.search, Ok(ReadOutcome::complete(report)))
            }),
        ),
        (
            "search_memory",
            json!({"query": "tea", "user_id": "alice"}),
            Box::new(|api: &FakeApi| {
                script(&api.search, Ok(ReadOutcome { value: SearchReport::default(), degraded: degraded() }))
            }),
        ),
        (
            "get_all_memories",
            alice.clone(),
            Box::new(|api: &FakeApi| {
                let report = ListReport { results: vec![alice_record()], ..ListReport::default() };
                script(&api.get_all, Ok(ReadOutcome::complete(report)))
            }),
        ),
        (
            "get_all_memories",
            alice.clone(),
            Box::new(|api: &FakeApi| {
                script(&api.get_all, Ok(ReadOutcome { value: ListReport::default(), degraded: degraded() }))
            }),
        ),
        (
            "get_memory",
            by_id.clone(),
            Box::new(|api: &FakeApi| script(&api.get, Ok(ReadOutcome::complete(Some(alice_record()))))),
        ),
        (
            "get_memory",
            by_id.clone(),
            Box::new(|api: &FakeApi| script(&api.get, Ok(ReadOutcome { value: None, degraded: degraded() }))),
        ),
        (
            "get_memory_history",
            by_id.clone(),
            Box::new(|api: &FakeApi| script(&api.history, Ok(ReadOutcome::complete(vec![history_row()])))),
        ),
        (
            "get_memory_history",
            by_id.clone(),
            Box::new(|api: &FakeApi| script(&api.history, Ok(ReadOutcome { value: vec![], degraded: degraded() }))),
        ),
        (
            "update_memory",
            json!({"memory_id": ID, "text": "Likes tea", "user_id": "alice"}),
            Box::new(|api: &FakeApi| script(&api.update, Ok(WriteOutcome::Done(alice_record())))),
        ),
        (
            "update_memory",
            json!({"memory_id": ID, "text": "Likes tea"}),
            Box::new(|api: &FakeApi| script(&api.update, Ok(WriteOutcome::Accepted(write_id())))),
        ),
        (
            "delete_memory",
            by_id.clone(),
            Box::new(|api: &FakeApi| script(&api.delete, Ok(WriteOutcome::Done(mid(ID))))),
        ),
        (
            "delete_all_memories",
            alice.clone(),
            Box::new(|api: &FakeApi| script(&api.delete_all, Ok(WriteOutcome::Running(write_id())))),
        ),
        (
            "get_write_status",
            json!({"write_id": "w-1"}),
            Box::new(|api: &FakeApi| {
                script(
                    &api.write_status,
                    Ok(Some(WriteState::Applied {
                        result: Box::new(WriteResult::Delete { id: MemoryId::parse(ID).unwrap() }),
                    })),
                )
            }),
        ),
        (
            "get_write_status",
            json!({"write_id": "w-1"}),
            Box::new(|api: &FakeApi| {
                script(&api.write_status, Ok(Some(WriteState::Failed { error: "boom".into(), attempts: 3 })))
            }),
        ),
        ("get_write_status", json!({"write_id": "w-1"}), Box::new(|api: &FakeApi| script(&api.write_status, Ok(None)))),
    ];
    for (tool, params, setup) in cases {
        let api = FakeApi::default();
        setup(&api);
        let reply = call(&api, tool, params.clone()).await;
        assert_outputs_match_schema(tool, &reply);
        assert_eq!(variable(&reply, "status"), reply.json["status"], "{tool} {params}");
    }
    // Errors: bad input and an engine failure, for every tool; every output is present, empty.
    for tool in TOOL_NAMES {
        let api = FakeApi::default(); // nothing scripted: the engine answers an error
        let params =
            json!({"user_id": "alice", "memory_id": ID, "write_id": "w-1", "query": "q", "user": "u", "text": "t"});
        let failed = call(&api, tool, params).await;
        assert!(failed.is_error(), "{tool}: {}", failed.text);
        assert_outputs_match_schema(tool, &failed);
        assert_eq!(variable(&failed, "status"), "ERROR");
        assert!(!variable(&failed, "error").as_str().unwrap().is_empty(), "{tool}: error output");
        let rejected = call(&api, tool, json!({"user_id": ["not", "a", "string"]})).await;
        assert!(rejected.is_error());
        assert_outputs_match_schema(tool, &rejected);
    }
}

#[tokio::test]
async fn search_outputs_a_bounded_context_most_relevant_first() {
    let api = FakeApi::default();
    let mut second = hit(ID2, "Lives in Lisbon", 0.4, None);
    second.record.observed_at = Some(Utc.with_ymd_and_hms(2024, 5, 8, 13, 56, 0).unwrap());
    let report = SearchReport {
        results: vec![hit(ID, "Likes green tea", 0.9, None), second],
        relations: None,
        graph_degraded: None,
    };
    script(&api.search, Ok(ReadOutcome::complete(report.clone())));
    let reply = call(&api, "search_memory", json!({"query": "tea", "user_id": "alice"})).await;
    assert_eq!(variable(&reply, "context"), "- [2025-01-02] Likes green tea\n- [2024-05-08] Lives in Lisbon");
    assert_eq!(variable(&reply, "count"), 2);
    assert_eq!(variable(&reply, "memories")[0]["id"], ID);
    assert_eq!(variable(&reply, "memories")[0]["score"], 0.9);

    script(&api.search, Ok(ReadOutcome::complete(report)));
    let reply = call(&api, "search_memory", json!({"query": "tea", "user_id": "alice", "max_context_chars": 50})).await;
    assert_eq!(variable(&reply, "context"), "- [2025-01-02] Likes green tea");
    assert_eq!(variable(&reply, "count"), 2, "the bound cuts the context, not the memories");

    for bad in [json!(10), json!(2.5), json!("lots")] {
        let reply =
            call(&api, "search_memory", json!({"query": "tea", "user_id": "alice", "max_context_chars": bad})).await;
        assert!(reply.is_error() && reply.text.contains("max_context_chars"), "{}", reply.text);
    }
}

#[tokio::test]
async fn without_user_id_the_memories_are_the_dify_end_users() {
    for tool in ["add_memory", "search_memory", "get_all_memories", "delete_all_memories"] {
        let api = FakeApi::default();
        script(&api.add, Ok(WriteOutcome::Accepted(write_id())));
        script(&api.search, Ok(ReadOutcome::complete(SearchReport::default())));
        script(&api.get_all, Ok(ReadOutcome::complete(ListReport::default())));
        script(&api.delete_all, Ok(WriteOutcome::Accepted(write_id())));
        let params = json!({"user": "I like tea", "query": "tea", "agent_id": "helper"});
        let reply = call_as(&api, &creds(), &end_user("eve"), tool, params).await;
        assert!(!reply.is_error(), "{tool}: {}", reply.text);
        let seen_scope = match api.only_seen() {
            Seen::Add(r) => r.scope,
            Seen::Search(r) => r.scope,
            Seen::GetAll(r) => r.scope,
            Seen::DeleteAll(s) => s,
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(seen_scope, scope(Some("eve"), Some("helper"), None), "{tool}");
        // delete_all_memories declares no scope output; its text says it.
        let expected_scope = (tool != "delete_all_memories")
            .then(|| json!({"user_id": "eve", "agent_id": "helper", "run_id": "", "source": "dify_end_user"}));
        assert_eq!(Some(variable(&reply, "scope")).filter(|v| !v.is_null()), expected_scope, "{tool}");
        assert!(reply.text.contains("the Dify end user of this call (user_id eve)"), "{tool}: {}", reply.text);
    }
}

#[tokio::test]
async fn a_given_user_id_is_used_unless_bound_and_without_end_user_it_is_required() {
    let api = FakeApi::default();
    script(&api.search, Ok(ReadOutcome::complete(SearchReport::default())));
    let reply =
        call_as(&api, &creds(), &end_user("eve"), "search_memory", json!({"query": "q", "user_id": "alice"})).await;
    let Seen::Search(request) = api.only_seen() else { panic!("expected a search") };
    assert_eq!(request.scope, scope(Some("alice"), None, None));
    assert_eq!(variable(&reply, "scope")["source"], "parameters");
    assert!(!reply.text.contains("Dify end user"));

    let api = FakeApi::default();
    script(&api.search, Ok(ReadOutcome::complete(SearchReport::default())));
    let reply =
        call_as(&api, &bound_creds(), &end_user("eve"), "search_memory", json!({"query": "q", "user_id": "alice"}))
            .await;
    let Seen::Search(request) = api.only_seen() else { panic!("expected a search") };
    assert_eq!(request.scope, scope(Some("eve"), None, None), "bound: a given user_id is ignored");
    assert_eq!(variable(&reply, "scope")["source"], "dify_end_user");

    let api = FakeApi::default();
    let reply = call_as(&api, &creds(), &InvokeContext::default(), "search_memory", json!({"query": "q"})).await;
    assert_error(&reply, "user_id is required", json!([]));
    assert!(api.seen().is_empty());
}

#[tokio::test]
async fn idempotency_key_reaches_the_engine_and_is_checked() {
    let api = FakeApi::default();
    script(&api.add, Ok(WriteOutcome::Accepted(write_id())));
    call(&api, "add_memory", json!({"user": "I like tea", "user_id": "alice", "idempotency_key": " m-1 "})).await;
    let Seen::Add(request) = api.only_seen() else { panic!("expected an add") };
    assert_eq!(request.idempotency_key.as_deref(), Some("m-1"));
    let reply =
        call(&api, "add_memory", json!({"user": "hi", "user_id": "alice", "idempotency_key": "k".repeat(201)})).await;
    assert!(reply.is_error() && reply.text.contains("idempotency_key"), "{}", reply.text);
}
