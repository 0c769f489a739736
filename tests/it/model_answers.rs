//! The write path with a scripted model (the fake OpenAI server) through the real application and
//! the embedded store: an unreadable or invalid answer is repaired on the second try (the repair
//! request carries the error and the schema); a runaway answer is cut and repaired; a fact copied
//! from the prompt's own examples is dropped; the assistant's facts are kept only when
//! `fact_roles` says so; relative dates are grounded on the add's `timestamp` (today without one);
//! the additive mode makes one model call per add (a second only when its answer just repeated the
//! memories shown as remembered); the decision schema lists the shown ids only.

use crate::support::fake_openai;
use crate::support::model_world;

use fake_openai::Reply;
use model_world::{fast_writer, World};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Sync adds over the embedded store; `llm` is added to the LLM block's config (a model that is not
/// a reasoning model, so sampling, token limits and stops are sent) and `extra` to the credentials.
async fn world(llm: Value, extra: Value) -> World {
    let mut config = json!({"model": "gpt-4.1-mini"});
    config.as_object_mut().unwrap().extend(llm.as_object().unwrap().clone());
    World::with(false, config, fast_writer(3), false, extra).await.unwrap()
}

async fn add(w: &World, params: Value) -> Value {
    let reply = w.call("add_memory", params).await;
    assert_eq!(reply["status"], "SUCCESS", "{reply}");
    reply
}

async fn memories(w: &World, user: &str) -> Vec<String> {
    let mut texts = w.memories(user).await;
    texts.sort();
    texts
}

/// The chat request bodies received so far.
fn chats(w: &World) -> Vec<Value> {
    w.model.chat_requests().into_iter().map(|r| r.body).collect()
}

/// True for an extraction request (system instructions first), false for a decision.
fn is_extraction(body: &Value) -> bool {
    body["messages"][0]["role"] == "system"
}

fn text_of(body: &Value, index: usize) -> String {
    body["messages"][index]["content"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_answer_is_repaired_on_the_second_try() {
    let w = world(json!({}), json!({})).await;
    w.model.push_chat(Reply::text("Sure! The user seems to like green tea a lot."));
    w.model.push_chat(Reply::json(&json!({"facts": ["Likes green tea"]})));
    let reply = add(&w, json!({"user": "I like green tea", "user_id": "ana"})).await;
    assert_eq!(memories(&w, "ana").await, vec!["Likes green tea"], "{reply}");

    let chats = chats(&w);
    assert_eq!(chats.len(), 2, "one call and one repair (nothing stored yet: no decision)");
    let first = &chats[0];
    assert_eq!(first["response_format"]["type"], "json_schema");
    assert_eq!(first["response_format"]["json_schema"]["strict"], true);
    assert_eq!(
        first["response_format"]["json_schema"]["schema"]["properties"]["facts"]["items"],
        json!({"type": "string"})
    );
    assert!(first["max_tokens"].as_u64().unwrap() <= 1024, "sized to the task: {}", first["max_tokens"]);
    assert_eq!(first["stop"], json!(["\n\n\n\n"]));
    let repair = &chats[1];
    let messages = repair["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4, "{repair}");
    assert_eq!(messages[2], json!({"role": "assistant", "content": "Sure! The user seems to like green tea a lot."}));
    let ask = text_of(repair, 3);
    assert!(ask.contains("could not be used") && ask.contains("expected {\"facts\": [...]}"), "{ask}");
    assert!(ask.contains("JSON Schema") && ask.contains("\"additionalProperties\":false"), "{ask}");
}

/// A runaway inside one string cannot be salvaged: it is cut before it is shown back, and repaired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runaway_answer_is_cut_and_repaired() {
    let w = world(json!({}), json!({})).await;
    let runaway = format!("{{\"facts\": [\"Walks {}", "the dog every day and ".repeat(150));
    w.model.push_chat(Reply::text(&runaway));
    w.model.push_chat(Reply::json(&json!({"facts": ["Has a dog named Rex", "Walks the dog daily"]})));
    add(&w, json!({"user": "My dog Rex and I walk every day", "user_id": "bo"})).await;
    assert_eq!(memories(&w, "bo").await, vec!["Has a dog named Rex", "Walks the dog daily"]);

    let chats = chats(&w);
    assert_eq!(chats.len(), 2);
    let shown = text_of(&chats[1], 2);
    assert!(shown.len() < 80, "the runaway is cut before it is shown back: {} characters", shown.len());
    let ask = text_of(&chats[1], 3);
    assert!(ask.contains("repeated itself"), "{ask}");
}

/// A weak model may answer the repair with the repair's own words: such a fact is the prompt's, not
/// the conversation's, and is dropped (seen with Qwen2.5-0.5B on LoCoMo).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fact_copied_from_the_repair_request_is_dropped() {
    let w = world(json!({}), json!({})).await;
    let runaway = format!("{{\"facts\": [\"Walks {}", "the dog every day and ".repeat(150));
    w.model.push_chat(Reply::text(&runaway));
    w.model.push_chat(Reply::json(&json!({"facts": [
        "Has a dog named Rex",
        "It repeated itself until it was cut off; give each item once and close the JSON. Answer again with \
         the corrected JSON only, no other text, following this JSON Schema: {",
    ]})));
    add(&w, json!({"user": "My dog Rex and I walk every day", "user_id": "bo"})).await;
    assert_eq!(memories(&w, "bo").await, vec!["Has a dog named Rex"]);
}

/// A list that repeats its items to the token limit keeps its whole items without another call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runaway_list_is_cut_after_its_whole_items() {
    let w = world(json!({}), json!({})).await;
    let runaway =
        format!("{{\"facts\": [\"Has a dog named Rex\", {}\"Walks the d", "\"Walks the dog daily\", ".repeat(150));
    w.model.push_chat(Reply::text(&runaway));
    add(&w, json!({"user": "My dog Rex and I walk every day", "user_id": "bo"})).await;
    assert_eq!(memories(&w, "bo").await, vec!["Has a dog named Rex", "Walks the dog daily"]);
    assert_eq!(chats(&w).len(), 1, "no repair needed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_decision_is_repaired_and_the_schema_lists_only_the_shown_ids() {
    let w = world(json!({}), json!({})).await;
    w.model.push_chat(Reply::json(&json!({"facts": ["Likes tea"]})));
    add(&w, json!({"user": "I like tea", "user_id": "cy"})).await;

    w.model.push_chat(Reply::json(&json!({"facts": ["Likes coffee"]})));
    // Copied the event list and updated an id that does not exist.
    w.model.push_chat(Reply::json(&json!({"memory": [
        {"id": "7", "text": "Likes coffee", "event": "UPDATE", "old_memory": "Likes tea"},
        {"id": "new", "text": "Likes coffee", "event": "ADD|UPDATE|DELETE|NONE", "old_memory": ""}]})));
    w.model.push_chat(Reply::json(&json!({"memory": [
        {"id": "0", "text": "Likes tea", "event": "NONE", "old_memory": ""},
        {"id": "new", "text": "Likes coffee", "event": "ADD", "old_memory": ""}]})));
    add(&w, json!({"user": "I like coffee too", "user_id": "cy"})).await;
    assert_eq!(memories(&w, "cy").await, vec!["Likes coffee", "Likes tea"]);

    let chats = chats(&w);
    assert_eq!(chats.len(), 4, "extraction, extraction, decision, repaired decision");
    let decision = &chats[2];
    assert!(!is_extraction(decision));
    let item = &decision["response_format"]["json_schema"]["schema"]["properties"]["memory"]["items"];
    assert_eq!(item["properties"]["id"]["enum"], json!(["0", "new"]));
    assert_eq!(item["properties"]["event"]["enum"], json!(["ADD", "UPDATE", "DELETE", "NONE"]));
    let ask = text_of(&chats[3], 2);
    assert!(ask.contains("id \"7\" which is not one of the stored memories' ids"), "{ask}");
    assert!(ask.contains("\"ADD|UPDATE|DELETE|NONE\" is not one of"), "{ask}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fact_copied_from_the_prompts_examples_is_dropped() {
    let custom = "Extract personal facts. Example -- Input: \"Hi, I work as a nurse in Lisbon.\" \
Output: {\"facts\": [\"Works as a nurse in Lisbon\"]}. Return JSON.";
    let w = world(json!({}), json!({"custom_fact_extraction_prompt": custom})).await;
    w.model.push_chat(Reply::json(&json!({"facts": ["Works as a nurse in Lisbon", "Plays chess on Sundays"]})));
    add(&w, json!({"user": "I play chess every Sunday", "user_id": "di"})).await;
    assert_eq!(memories(&w, "di").await, vec!["Plays chess on Sundays"]);

    // The built-in prompt's own words ("fact one" of its answer form) are dropped the same way.
    let w2 = world(json!({}), json!({})).await;
    w2.model.push_chat(Reply::json(&json!({"facts": ["fact one", "Hi there!", "What time is it?", "Owns a bike"]})));
    add(&w2, json!({"user": "Hi there! What time is it? I just bought a bike", "user_id": "di"})).await;
    assert_eq!(memories(&w2, "di").await, vec!["Owns a bike"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assistant_facts_are_kept_only_when_configured() {
    let turn = json!({"user": "Yes, I adopted two cats", "assistant": "Berlin shelters offer free vet checks",
        "user_id": "eve"});
    let answer = json!({"facts": ["Adopted two cats", "Berlin shelters offer free vet checks"]});

    let w = world(json!({}), json!({})).await;
    w.model.push_chat(Reply::json(&answer));
    add(&w, turn.clone()).await;
    assert_eq!(memories(&w, "eve").await, vec!["Adopted two cats"]);
    let prompt = text_of(&chats(&w)[0], 1);
    assert!(prompt.contains("assistant (context only): Berlin shelters"), "{prompt}");

    let w = world(json!({"fact_roles": ["user", "assistant"]}), json!({})).await;
    w.model.push_chat(Reply::json(&answer));
    add(&w, turn).await;
    assert_eq!(memories(&w, "eve").await, vec!["Adopted two cats", "Berlin shelters offer free vet checks"]);
    let prompt = text_of(&chats(&w)[0], 1);
    assert!(prompt.contains("\nassistant: Berlin shelters"), "{prompt}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relative_dates_are_grounded_on_the_timestamp() {
    let w = world(json!({}), json!({})).await;
    w.model.on_chat(|_| Reply::json(&json!({"facts": []})));
    add(&w, json!({"user": "I went hiking yesterday", "user_id": "fay", "timestamp": "2023-05-08T13:56:00Z"})).await;
    add(&w, json!({"user": "I went swimming yesterday", "user_id": "fay"})).await;
    let chats = chats(&w);
    assert!(text_of(&chats[0], 0).contains("took place on 2023-05-08"), "{}", text_of(&chats[0], 0));
    let today = chrono::Utc::now().date_naive().format("%Y-%m-%d").to_string();
    assert!(text_of(&chats[1], 0).contains(&format!("took place on {today}")), "{}", text_of(&chats[1], 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_additive_mode_makes_one_call_per_add() {
    let w = world(json!({"extraction_mode": "additive"}), json!({})).await;
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    w.model.on_chat(move |body| {
        let n = count.fetch_add(1, Ordering::SeqCst);
        let prompt = body["messages"][1]["content"].as_str().unwrap_or_default();
        let fact = prompt.lines().find_map(|l| l.strip_prefix("user: ")).unwrap_or("nothing");
        Reply::json(&json!({"facts": [format!("Said: {fact} ({n})")]}))
    });
    for text in ["I like tea", "I like green tea", "I like coffee"] {
        let reply = add(&w, json!({"user": text, "user_id": "gus"})).await;
        let results = reply["results"]["results"].as_array().cloned().unwrap_or_default();
        assert!(results.iter().all(|r| r["event"] == "ADD"), "{reply}");
    }
    let chats = chats(&w);
    assert_eq!(chats.len(), 3, "one call per add, no decision");
    assert!(chats.iter().all(is_extraction));
    let third = text_of(&chats[2], 0);
    assert!(third.contains("Already remembered") && third.contains("- Said: I like tea (0)"), "{third}");
    assert!(!text_of(&chats[2], 1).contains("Already remembered"), "the conversation's message has no memories");
    assert_eq!(memories(&w, "gus").await.len(), 3);
}

/// A weak model shown the memories already remembered copies them instead of reading the
/// conversation: such an answer is sent back once, and copies that remain are dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_additive_answer_that_only_repeats_the_remembered_memories_is_repaired() {
    let w = world(json!({"extraction_mode": "additive"}), json!({})).await;
    w.model.push_chat(Reply::json(&json!({"facts": ["Is keen on counseling or working in mental health"]})));
    add(&w, json!({"user": "I'm keen on counseling or working in mental health", "user_id": "jo"})).await;

    w.model.push_chat(Reply::json(&json!({"facts": ["Is keen on working in mental health counseling"]})));
    w.model.push_chat(Reply::json(&json!({"facts": ["Painted a lake sunrise last year"]})));
    add(&w, json!({"user": "Yeah, I painted that lake sunrise last year!", "user_id": "jo"})).await;
    let sent = chats(&w);
    assert_eq!(sent.len(), 3, "one call, one repair");
    let ask = text_of(&sent[2], 3);
    assert!(ask.contains("only repeats a memory listed as already remembered"), "{ask}");

    // Partly new: the copy is dropped, the new fact kept, no repair.
    w.model.push_chat(Reply::json(&json!({"facts": [
        "Is keen on counseling or working in mental health", "Painted a lake sunrise", "Plays the violin"]})));
    add(&w, json!({"user": "I play the violin too", "user_id": "jo"})).await;
    assert_eq!(chats(&w).len(), 4, "no repair when something is new");
    assert_eq!(
        memories(&w, "jo").await,
        vec![
            "Is keen on counseling or working in mental health",
            "Painted a lake sunrise last year",
            "Plays the violin"
        ]
    );
}

/// A weak model's decision that copies the stored memory and leaves the new facts out loses none:
/// the facts it did not mention are added.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facts_the_decision_leaves_out_are_added() {
    let w = world(json!({}), json!({})).await;
    w.model.push_chat(Reply::json(&json!({"facts": ["Likes tea"]})));
    add(&w, json!({"user": "I like tea", "user_id": "hal"})).await;
    w.model.push_chat(Reply::json(&json!({"facts": ["Likes coffee", "Plays chess"]})));
    w.model.push_chat(Reply::json(&json!({"memory": [
        {"id": "0", "text": "Likes tea", "event": "ADD", "old_memory": "Likes tea"}]})));
    add(&w, json!({"user": "I like coffee and I play chess", "user_id": "hal"})).await;
    assert_eq!(memories(&w, "hal").await, vec!["Likes coffee", "Likes tea", "Plays chess"]);
    assert_eq!(chats(&w).len(), 3, "no repair: the answer was readable, only incomplete");
}

/// An answer cut at the token limit is repaired once (asking for fewer, shorter items and allowing
/// more tokens); cut again, its whole items are kept rather than failing the write over the last one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_cut_twice_keeps_its_whole_items() {
    let w = world(json!({}), json!({})).await;
    w.model.push_chat(Reply::text("{\"facts\": [\"Likes tea\", \"Plays chess every Sunday with her old friend from"));
    w.model.push_chat(Reply::text("{\"facts\": [\"Likes tea\", \"Plays chess every Sunday with her"));
    add(&w, json!({"user": "I like tea. I play chess every Sunday with my old friend from school", "user_id": "ida"}))
        .await;
    assert_eq!(memories(&w, "ida").await, vec!["Likes tea"]);
    let chats = chats(&w);
    assert_eq!(chats.len(), 2);
    let ask = text_of(&chats[1], 3);
    assert!(ask.contains("fewer and shorter items"), "{ask}");
    let (first, second) = (chats[0]["max_tokens"].as_u64().unwrap(), chats[1]["max_tokens"].as_u64().unwrap());
    assert_eq!(second, first + first / 2, "the repair may be longer");
}

/// A model that loops inside one fact twice keeps that fact, up to its first copy, instead of
/// failing the write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fact_that_loops_twice_is_kept_once() {
    let w = world(json!({}), json!({})).await;
    let looping = format!("{{\"facts\": [\"{}", "Thinks of careers in software and data science. ".repeat(40));
    w.model.push_chat(Reply::text(&looping));
    w.model.push_chat(Reply::text(&looping));
    add(&w, json!({"user": "I think of careers in software and data science", "user_id": "jo"})).await;
    assert_eq!(memories(&w, "jo").await, vec!["Thinks of careers in software and data science."]);
    assert_eq!(chats(&w).len(), 2, "one repair, then the first copy is kept");
}
