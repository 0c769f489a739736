//! Graph memory against real Bolt servers: ArcadeDB (Bolt plugin) and Neo4j 5 community.
//!
//! Start them with `eval "$(scripts/services/arcadedb.sh start)"` and
//! `eval "$(scripts/services/neo4j.sh start)"`. Each case runs against both; a server whose env
//! variables are missing fails the case unless `MEM0_SKIP_SERVICE_TESTS=1`.
//!
//! The LLM is a scripted test double answering tool calls (the adapter under test is the graph
//! adapter, the server is real); the embedder is deterministic: bags of hashed character
//! trigrams, so equal names get equal vectors and spelling variants get close ones.

use async_trait::async_trait;
use mem0_dify::adapters::graph::neo4j::{from_block, Deadlines, Neo4jConfig, Neo4jGraphStore};
use mem0_dify::app::graph_memory::GraphMemory;
use mem0_dify::domain::credentials::{ProviderBlock, GRAPH_STORE};
use mem0_dify::domain::graph::{GraphPlan, Relation};
use mem0_dify::domain::scope::Scope;
use mem0_dify::ports::embedder::{EmbedError, EmbedPurpose, Embedder};
use mem0_dify::ports::graph_store::{GraphBackend, GraphError};
use mem0_dify::ports::llm::{ChatRequest, ChatResponse, Llm, LlmError, ToolCall};
use mem0_dify::ports::store::StoreError;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Servers

#[derive(Debug, Clone, Copy)]
enum Server {
    ArcadeDb,
    Neo4j,
}

struct Target {
    url: String,
    username: String,
    password: String,
    database: String,
}

impl Server {
    fn prefix(self) -> &'static str {
        match self {
            Server::ArcadeDb => "MEM0_TEST_ARCADEDB",
            Server::Neo4j => "MEM0_TEST_NEO4J",
        }
    }

    fn script(self) -> &'static str {
        match self {
            Server::ArcadeDb => "scripts/services/arcadedb.sh",
            Server::Neo4j => "scripts/services/neo4j.sh",
        }
    }

    /// The server's address from the service script's env file; `None` only when skipping is allowed.
    fn target(self) -> Option<Target> {
        let prefix = self.prefix();
        let var = |suffix: &str| std::env::var(format!("{prefix}_{suffix}")).ok().filter(|v| !v.is_empty());
        match var("BOLT") {
            Some(bolt) => Some(Target {
                url: format!("bolt://{bolt}"),
                username: var("USER").unwrap_or_else(|| panic!("{prefix}_USER is not set")),
                password: var("PASSWORD").unwrap_or_else(|| panic!("{prefix}_PASSWORD is not set")),
                database: var("DB").unwrap_or_else(|| panic!("{prefix}_DB is not set")),
            }),
            None if std::env::var("MEM0_SKIP_SERVICE_TESTS").as_deref() == Ok("1") => {
                eprintln!("skipping: {prefix}_BOLT is not set and MEM0_SKIP_SERVICE_TESTS=1");
                None
            }
            None => panic!(
                "{prefix}_BOLT is not set: run `eval \"$({} start)\"` first (or set MEM0_SKIP_SERVICE_TESTS=1 to skip)",
                self.script()
            ),
        }
    }
}

fn config_for(target: &Target, extra: Value) -> Neo4jConfig {
    let mut config = json!({
        "url": target.url, "username": target.username, "password": target.password, "database": target.database,
    });
    if let (Some(config), Value::Object(extra)) = (config.as_object_mut(), extra) {
        config.extend(extra);
    }
    let block = ProviderBlock::parse(GRAPH_STORE, &json!({"provider": "neo4j", "config": config})).unwrap().unwrap();
    from_block(&block).unwrap()
}

/// Graph memory over a Bolt store built from `config`, deciding with `llm` and the trigram embedder.
fn graph_memory(config: Neo4jConfig, llm: &Arc<ScriptedLlm>, deadlines: Deadlines) -> GraphMemory {
    let settings = config.settings();
    let store = Arc::new(Neo4jGraphStore::new(config).with_deadlines(deadlines));
    GraphMemory::new(GraphBackend { store, settings }, llm.clone(), Arc::new(TrigramEmbedder))
}

struct Harness {
    store: GraphMemory,
    llm: Arc<ScriptedLlm>,
    graph: neo4rs::Graph,
}

async fn harness(server: Server) -> Option<Harness> {
    let target = server.target()?;
    let llm = Arc::new(ScriptedLlm::default());
    let deadlines = Deadlines { connect: Duration::from_secs(5), statement: Duration::from_secs(30) };
    let store = graph_memory(config_for(&target, json!({})), &llm, deadlines);
    store.store().ensure_ready().await.unwrap();
    let graph = neo4rs::Graph::connect(
        neo4rs::ConfigBuilder::default()
            .uri(target.url.as_str())
            .user(target.username.as_str())
            .password(target.password.as_str())
            .db(target.database.as_str())
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    Some(Harness { store, llm, graph })
}

impl Harness {
    /// Runs a read statement directly (not through the adapter) and returns column `column` as integers.
    async fn count(&self, statement: neo4rs::Query) -> i64 {
        let mut rows = self.graph.execute(statement).await.unwrap();
        let row = rows.next().await.unwrap().unwrap();
        row.get::<i64>("c").unwrap()
    }

    async fn nodes_of(&self, user: &str) -> i64 {
        self.count(neo4rs::query("MATCH (n:`__Entity__`) WHERE n.user_id = $u RETURN count(n) AS c").param("u", user))
            .await
    }
}

fn unique(name: &str) -> String {
    format!("{name}-{}", uuid::Uuid::new_v4().simple())
}

fn user(id: &str) -> Scope {
    Scope::parse(Some(id), None, None).unwrap()
}

fn rel(source: &str, relationship: &str, destination: &str) -> Relation {
    Relation { source: source.into(), relationship: relationship.into(), destination: destination.into() }
}

fn sorted(mut relations: Vec<Relation>) -> Vec<Relation> {
    relations.sort_by(|a, b| {
        (&a.source, &a.relationship, &a.destination).cmp(&(&b.source, &b.relationship, &b.destination))
    });
    relations
}

// ---------------------------------------------------------------------------------------------
// Test doubles

type Answer = Box<dyn Fn(&ChatRequest) -> ChatResponse + Send>;

/// An LLM that answers from a script, one entry per expected call, and records every request.
/// An unscripted call fails, so tests also pin the number of calls.
#[derive(Default)]
struct ScriptedLlm {
    script: Mutex<VecDeque<Answer>>,
    requests: Mutex<Vec<ChatRequest>>,
}

impl ScriptedLlm {
    fn then(&self, answer: impl Fn(&ChatRequest) -> ChatResponse + Send + 'static) {
        self.script.lock().unwrap().push_back(Box::new(answer));
    }

    /// Scripts an extraction answer and checks the request carried the text and the tool.
    fn extracts(&self, text: &'static str, relations: &[(&str, &str, &str)]) {
        let relations: Vec<Value> =
            relations.iter().map(|(s, r, d)| json!({"source": s, "relationship": r, "destination": d})).collect();
        let entities: Vec<Value> = relations
            .iter()
            .flat_map(|r| [r["source"].clone(), r["destination"].clone()])
            .map(|name| json!({"name": name, "type": "thing"}))
            .collect();
        self.then(move |request| {
            assert_eq!(request.tools[0].name, "extract_graph");
            assert_eq!(request.messages.last().unwrap().content, text);
            tool("extract_graph", json!({"entities": entities, "relations": relations}))
        });
    }

    /// Scripts a deletion answer picking the listed relations whose line contains one of `lines`.
    fn deletes_lines_containing(&self, lines: &'static [&'static str]) {
        self.then(move |request| {
            assert_eq!(request.tools[0].name, "delete_relations");
            let listing = &request.messages.last().unwrap().content;
            let ids: Vec<u64> = listing
                .lines()
                .filter_map(|line| {
                    let (number, rest) = line.split_once(". ")?;
                    let number: u64 = number.parse().ok()?;
                    lines.iter().any(|wanted| rest.contains(wanted)).then_some(number)
                })
                .collect();
            tool("delete_relations", json!({ "ids": ids }))
        });
    }

    fn calls(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    fn request(&self, index: usize) -> ChatRequest {
        self.requests.lock().unwrap()[index].clone()
    }
}

fn tool(name: &str, arguments: Value) -> ChatResponse {
    ChatResponse { tool_calls: vec![ToolCall { name: name.into(), arguments }], ..ChatResponse::default() }
}

#[async_trait]
impl Llm for ScriptedLlm {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, LlmError> {
        self.requests.lock().unwrap().push(request.clone());
        let next = self.script.lock().unwrap().pop_front();
        match next {
            Some(answer) => Ok(answer(&request)),
            None => Err(LlmError::Protocol(format!("unscripted LLM call: {:?}", request.messages))),
        }
    }
}

/// Deterministic embeddings: hashed character trigrams of `#text#`, L2-normalized.
struct TrigramEmbedder;

const DIMS: usize = 256;

impl TrigramEmbedder {
    fn vector(text: &str) -> Vec<f32> {
        let padded: Vec<char> = format!("#{text}#").chars().collect();
        let mut v = vec![0f32; DIMS];
        for gram in padded.windows(3) {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for c in gram {
                h ^= u64::from(u32::from(*c));
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            v[(h % DIMS as u64) as usize] += 1.0;
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
        v.iter().map(|x| x / norm).collect()
    }
}

#[async_trait]
impl Embedder for TrigramEmbedder {
    async fn embed(&self, texts: &[String], _purpose: EmbedPurpose) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts.iter().map(|t| Self::vector(t)).collect())
    }

    fn dimensions(&self) -> usize {
        DIMS
    }
}

fn cosine(a: &str, b: &str) -> f32 {
    TrigramEmbedder::vector(a).iter().zip(TrigramEmbedder::vector(b)).map(|(x, y)| x * y).sum()
}

// ---------------------------------------------------------------------------------------------
// Cases (each runs on both servers, see the macro at the end)

async fn entities_and_relations_are_stored_per_scope(server: Server) {
    let Some(h) = harness(server).await else { return };
    let alice = unique("alice");
    let scope = user(&alice);
    h.llm.extracts("I live in Paris and work at ACME.", &[(&alice, "lives in", "Paris"), (&alice, "works_at", "ACME")]);
    let changes = h.store.add("I live in Paris and work at ACME.", &scope).await.unwrap();
    assert_eq!(sorted(changes.added_entities), vec![rel(&alice, "lives_in", "paris"), rel(&alice, "works_at", "acme")]);
    assert!(changes.deleted_entities.is_empty());
    assert_eq!(h.llm.calls(), 1, "a first add costs one LLM call");
    assert!(h.llm.request(0).messages[0].content.contains(&format!("\"{alice}\"")), "self name in the prompt");

    assert_eq!(
        sorted(h.store.list(&scope, 100).await.unwrap()),
        vec![rel(&alice, "lives_in", "paris"), rel(&alice, "works_at", "acme")]
    );
    assert_eq!(h.store.list(&scope, 1).await.unwrap().len(), 1, "limit applies");
    assert_eq!(h.nodes_of(&alice).await, 3);
    let stored = h
        .count(
            neo4rs::query(
                "MATCH (n:`__Entity__` {name: 'paris'}) WHERE n.user_id = $u AND n.scope_key = $k \
                 AND size(n.embedding) = $d AND n.agent_id IS NULL RETURN count(n) AS c",
            )
            .param("u", alice.as_str())
            .param("k", scope.key())
            .param("d", DIMS as i64),
        )
        .await;
    assert_eq!(stored, 1, "nodes carry the scope, its key and the embedding");

    // A run inside the user's scope: visible from the user, the user's facts not from the run.
    let run = Scope::parse(Some(&alice), None, Some("run-1")).unwrap();
    h.llm.extracts("Today I am reading Dune.", &[(&alice, "is_reading", "Dune")]);
    let changes = h.store.add("Today I am reading Dune.", &run).await.unwrap();
    assert_eq!(changes.added_entities, vec![rel(&alice, "is_reading", "dune")]);
    assert_eq!(h.llm.calls(), 2, "no existing relations in the run scope, so no contradiction check");
    assert_eq!(h.store.list(&run, 100).await.unwrap(), vec![rel(&alice, "is_reading", "dune")]);
    assert_eq!(h.store.list(&scope, 100).await.unwrap().len(), 3);

    // Nothing extracted: nothing written, one call.
    h.llm.then(|_| tool("extract_graph", json!({"entities": [], "relations": []})));
    let changes = h.store.add("Hello!", &scope).await.unwrap();
    assert!(changes.added_entities.is_empty() && changes.deleted_entities.is_empty());
    assert_eq!(h.llm.calls(), 3);
    h.store.delete_scope(&scope).await.unwrap();
}

async fn similar_entity_is_merged_not_duplicated(server: Server) {
    let Some(h) = harness(server).await else { return };
    assert!(cosine("alexandra_smith", "alexandra_smyth") > 0.7, "the test pair must be similar");
    assert!(cosine("alexandra_smith", "bob") < 0.3, "and unrelated names not");
    let owner = unique("u");
    let scope = user(&owner);
    h.llm.extracts("Alexandra Smith lives in Paris.", &[("Alexandra Smith", "lives_in", "Paris")]);
    h.store.add("Alexandra Smith lives in Paris.", &scope).await.unwrap();

    h.llm.extracts(
        "Alexandra Smyth likes jazz; Bob likes jazz.",
        &[("Alexandra Smyth", "likes", "jazz"), ("Bob", "likes", "jazz")],
    );
    h.llm.deletes_lines_containing(&[]);
    let changes = h.store.add("Alexandra Smyth likes jazz; Bob likes jazz.", &scope).await.unwrap();
    assert_eq!(
        sorted(changes.added_entities),
        vec![rel("alexandra_smith", "likes", "jazz"), rel("bob", "likes", "jazz")],
        "the spelling variant is written to the existing node"
    );
    assert_eq!(h.llm.calls(), 3, "second add: extraction + contradiction check (existing relations involved)");
    let check = h.llm.request(2).messages[1].content.clone();
    assert!(check.contains("1. alexandra_smith -- lives_in -- paris"), "{check}");
    let alexandras = h
        .count(
            neo4rs::query(
                "MATCH (n:`__Entity__`) WHERE n.user_id = $u AND n.name STARTS WITH 'alexandra' RETURN count(n) AS c",
            )
            .param("u", owner.as_str()),
        )
        .await;
    assert_eq!(alexandras, 1);
    assert_eq!(h.nodes_of(&owner).await, 4, "alexandra_smith, paris, jazz, bob");
    assert_eq!(
        sorted(h.store.list(&scope, 100).await.unwrap()),
        vec![
            rel("alexandra_smith", "likes", "jazz"),
            rel("alexandra_smith", "lives_in", "paris"),
            rel("bob", "likes", "jazz")
        ]
    );

    // The same relation again is merged (no duplicate edge) and not offered for deletion.
    h.llm.extracts("Bob likes jazz.", &[("Bob", "likes", "jazz")]);
    h.llm.deletes_lines_containing(&[]);
    h.store.add("Bob likes jazz.", &scope).await.unwrap();
    let offered = h.llm.request(4).messages[1].content.clone();
    assert!(offered.contains("1. alexandra_smith -- likes -- jazz"), "{offered}");
    assert!(!offered.contains(". bob -- likes -- jazz"), "re-added relations are not offered: {offered}");
    assert_eq!(h.store.list(&scope, 100).await.unwrap().len(), 3);
    h.store.delete_scope(&scope).await.unwrap();
}

/// A fresh user who lives in Paris and likes tea, with the model scripted for "I moved to
/// Berlin." (extracted, then contradicting `lives_in paris`).
async fn lives_in_paris_then_moves(h: &Harness) -> (String, Scope) {
    let alice = unique("alice");
    let scope = user(&alice);
    h.llm.extracts("I live in Paris and like tea.", &[(&alice, "lives_in", "Paris"), (&alice, "likes", "tea")]);
    h.store.add("I live in Paris and like tea.", &scope).await.unwrap();
    h.llm.extracts("I moved to Berlin.", &[(&alice, "lives_in", "Berlin")]);
    h.llm.deletes_lines_containing(&["lives_in -- paris"]);
    (alice, scope)
}

async fn contradicted_relation_is_removed(server: Server) {
    let Some(h) = harness(server).await else { return };
    let (alice, scope) = lives_in_paris_then_moves(&h).await;
    let changes = h.store.add("I moved to Berlin.", &scope).await.unwrap();
    assert_eq!(changes.deleted_entities, vec![rel(&alice, "lives_in", "paris")]);
    assert_eq!(changes.added_entities, vec![rel(&alice, "lives_in", "berlin")]);
    assert_eq!(h.llm.calls(), 3);
    assert_eq!(
        sorted(h.store.list(&scope, 100).await.unwrap()),
        vec![rel(&alice, "likes", "tea"), rel(&alice, "lives_in", "berlin")]
    );
    h.store.delete_scope(&scope).await.unwrap();
}

/// The write path journals a graph plan and may apply it more than once (a retry after a
/// failure): the plan survives JSON, and applying it again asks no model and changes nothing.
async fn a_journaled_plan_applies_the_same_however_often(server: Server) {
    let Some(h) = harness(server).await else { return };
    let (alice, scope) = lives_in_paris_then_moves(&h).await;
    let plan = h.store.plan("I moved to Berlin.", &scope).await.unwrap();
    assert_eq!(plan.llm_calls, 2);
    assert_eq!(plan.merge, vec![rel(&alice, "lives_in", "berlin")]);
    assert_eq!(plan.remove.iter().map(|r| r.relation()).collect::<Vec<_>>(), vec![rel(&alice, "lives_in", "paris")]);
    let nothing_written = sorted(h.store.list(&scope, 100).await.unwrap());
    assert_eq!(nothing_written, vec![rel(&alice, "likes", "tea"), rel(&alice, "lives_in", "paris")]);

    let journaled: GraphPlan = serde_json::from_value(serde_json::to_value(&plan).unwrap()).unwrap();
    let first = h.store.apply(&journaled, &scope).await.unwrap();
    let nodes = h.nodes_of(&alice).await;
    let again = h.store.apply(&journaled, &scope).await.unwrap();
    assert_eq!(first, again, "a replay reports the same changes");
    assert_eq!(first.deleted_entities, vec![rel(&alice, "lives_in", "paris")]);
    assert_eq!(first.added_entities, vec![rel(&alice, "lives_in", "berlin")]);
    assert_eq!(h.nodes_of(&alice).await, nodes, "a replay creates no node");
    assert_eq!(
        sorted(h.store.list(&scope, 100).await.unwrap()),
        vec![rel(&alice, "likes", "tea"), rel(&alice, "lives_in", "berlin")]
    );
    assert_eq!(h.llm.calls(), 3, "applying asks no model");
    h.store.delete_scope(&scope).await.unwrap();
}

async fn search_returns_relations_reranked_by_bm25(server: Server) {
    let Some(h) = harness(server).await else { return };
    let owner = unique("u");
    let scope = user(&owner);
    h.llm.extracts(
        "Alice lives in Paris and works at ACME. Bob lives in Berlin.",
        &[("Alice", "lives_in", "Paris"), ("Alice", "works_at", "ACME"), ("Bob", "lives_in", "Berlin")],
    );
    h.store.add("Alice lives in Paris and works at ACME. Bob lives in Berlin.", &scope).await.unwrap();

    h.llm.then(|request| {
        assert_eq!(request.tools[0].name, "extract_entities");
        tool("extract_entities", json!({"entities": ["Alice"]}))
    });
    let found = h.store.search("Which company does Alice work at?", &scope, 10).await.unwrap();
    assert_eq!(
        found,
        vec![rel("alice", "works_at", "acme"), rel("alice", "lives_in", "paris")],
        "only Alice's relations; the one matching the query's words (\"at\") first"
    );
    h.llm.then(|_| tool("extract_entities", json!({"entities": ["alice"]})));
    assert_eq!(h.store.search("Which company does Alice work at?", &scope, 1).await.unwrap().len(), 1);
    h.llm.then(|_| tool("extract_entities", json!({"entities": ["zzzz qqqq"]})));
    assert!(h.store.search("Who is zzzz qqqq?", &scope, 10).await.unwrap().is_empty());
    assert_eq!(h.llm.calls(), 4, "one LLM call per search");
    h.store.delete_scope(&scope).await.unwrap();
}

async fn two_users_never_see_each_other(server: Server) {
    let Some(h) = harness(server).await else { return };
    let (a, b) = (unique("a"), unique("b"));
    h.llm.extracts("Alexandra Smith lives in Paris.", &[("Alexandra Smith", "lives_in", "Paris")]);
    h.store.add("Alexandra Smith lives in Paris.", &user(&a)).await.unwrap();
    h.llm.extracts("Alexandra Smyth lives in Rome.", &[("Alexandra Smyth", "lives_in", "Rome")]);
    let changes = h.store.add("Alexandra Smyth lives in Rome.", &user(&b)).await.unwrap();
    assert_eq!(changes.added_entities, vec![rel("alexandra_smyth", "lives_in", "rome")], "no merge across users");
    assert_eq!(h.llm.calls(), 2, "A's relations are not B's existing relations");

    assert_eq!(h.store.list(&user(&a), 100).await.unwrap(), vec![rel("alexandra_smith", "lives_in", "paris")]);
    assert_eq!(h.store.list(&user(&b), 100).await.unwrap(), vec![rel("alexandra_smyth", "lives_in", "rome")]);
    h.llm.then(|_| tool("extract_entities", json!({"entities": ["Alexandra Smith"]})));
    assert_eq!(
        h.store.search("Where does Alexandra Smith live?", &user(&b), 10).await.unwrap(),
        vec![rel("alexandra_smyth", "lives_in", "rome")]
    );
    let agent_only = Scope::parse(None, Some(&unique("agent")), None).unwrap();
    assert!(h.store.list(&agent_only, 100).await.unwrap().is_empty());
    h.store.delete_scope(&user(&a)).await.unwrap();
    h.store.delete_scope(&user(&b)).await.unwrap();
}

async fn delete_scope_removes_only_that_scope(server: Server) {
    let Some(h) = harness(server).await else { return };
    let (a, b) = (unique("a"), unique("b"));
    let run = Scope::parse(Some(&a), None, Some("r1")).unwrap();
    h.llm.extracts("Alice likes tea.", &[("Alice", "likes", "tea")]);
    h.store.add("Alice likes tea.", &user(&a)).await.unwrap();
    h.llm.extracts("Alice reads Dune.", &[("Alice", "reads", "Dune")]);
    h.store.add("Alice reads Dune.", &run).await.unwrap();
    h.llm.extracts("Bob likes tea.", &[("Bob", "likes", "tea")]);
    h.store.add("Bob likes tea.", &user(&b)).await.unwrap();
    // Data that is not the plugin's: another label, same user id.
    h.graph
        .run(
            neo4rs::query(
                "CREATE (:ForeignThing {name: 'keep', user_id: $u})-[:OWNS]->(:ForeignThing {name: 'me', user_id: $u})",
            )
            .param("u", a.as_str()),
        )
        .await
        .unwrap();

    h.store.delete_scope(&run).await.unwrap();
    assert!(h.store.list(&run, 100).await.unwrap().is_empty());
    assert_eq!(h.store.list(&user(&a), 100).await.unwrap(), vec![rel("alice", "likes", "tea")]);

    h.store.delete_scope(&user(&a)).await.unwrap();
    assert!(h.store.list(&user(&a), 100).await.unwrap().is_empty());
    assert_eq!(h.nodes_of(&a).await, 0);
    assert_eq!(h.store.list(&user(&b), 100).await.unwrap(), vec![rel("bob", "likes", "tea")]);
    let foreign = h
        .count(
            neo4rs::query("MATCH (:ForeignThing {user_id: $u})-[r:OWNS]->(:ForeignThing) RETURN count(r) AS c")
                .param("u", a.as_str()),
        )
        .await;
    assert_eq!(foreign, 1, "nodes outside the plugin's label survive");
    h.graph
        .run(neo4rs::query("MATCH (n:ForeignThing) WHERE n.user_id = $u DETACH DELETE n").param("u", a.as_str()))
        .await
        .unwrap();
    h.store.delete_scope(&user(&b)).await.unwrap();
    assert_eq!(h.nodes_of(&b).await, 0);
}

async fn hostile_names_are_harmless(server: Server) {
    let Some(h) = harness(server).await else { return };
    let (a, b) = (unique("a"), unique("b"));
    h.llm.extracts("Bob likes tea.", &[("Bob", "likes", "tea")]);
    h.store.add("Bob likes tea.", &user(&b)).await.unwrap();
    assert_eq!(h.nodes_of(&b).await, 2);

    let text = "evil";
    h.llm.extracts(
        text,
        &[
            ("Mallory", "likes`}) DETACH DELETE n //", "tea"),
            ("x'}) MATCH (n) DETACH DELETE n //", "knows\"'`", "Mallory"),
            ("Mallory", "`}) //", "nothing"),
        ],
    );
    let changes = h.store.add(text, &user(&a)).await.unwrap();
    assert_eq!(
        sorted(changes.added_entities),
        vec![
            rel("mallory", "likes_detach_delete_n", "tea"),
            rel("x'})_match_(n)_detach_delete_n_//", "knows", "mallory")
        ],
        "types reduced to the safe alphabet, names kept as plain data, a type with no letters dropped"
    );
    assert_eq!(h.store.list(&user(&b), 100).await.unwrap(), vec![rel("bob", "likes", "tea")]);
    assert_eq!(h.nodes_of(&b).await, 2, "the other user's graph is intact");
    assert_eq!(h.nodes_of(&a).await, 3, "mallory, tea and the quoted name; nothing for the dropped relation");
    let types = h
        .count(
            neo4rs::query("MATCH (n:`__Entity__`)-[r]->() WHERE n.user_id = $u AND type(r) IN $t RETURN count(r) AS c")
                .param("u", a.as_str())
                .param("t", vec!["likes_detach_delete_n".to_owned(), "knows".to_owned()]),
        )
        .await;
    assert_eq!(types, 2, "the stored relationship types are the normalized ones");
    h.store.delete_scope(&user(&a)).await.unwrap();
    h.store.delete_scope(&user(&b)).await.unwrap();
}

async fn unreachable_server_is_unavailable_promptly(server: Server) {
    let Some(target) = server.target() else { return };
    let deadlines = Deadlines { connect: Duration::from_secs(3), statement: Duration::from_secs(10) };
    let secret = "wrong-secret";
    let at = |url: String| Target { url, ..clone_target(&target) };
    // Nothing listens on the port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    // Accepts connections and never answers (a hung server).
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let wrong = Target { username: "mem0_no_such_user".into(), password: secret.into(), ..clone_target(&target) };
    // (case, target, longest acceptable time, expected error kind)
    let cases = [
        ("closed port", at(format!("bolt://127.0.0.1:{closed_port}")), Duration::from_secs(1), "unavailable"),
        ("silent server", at(format!("bolt://127.0.0.1:{silent_port}")), Duration::from_millis(4500), "unavailable"),
        // Both servers refuse bad credentials at once. (neo4rs' `Graph::execute` would retry the
        // failed connection for up to a minute; the adapter uses explicit transactions, which do not.)
        ("wrong credentials", wrong, Duration::from_secs(1), "rejected"),
    ];
    for (what, target, limit, kind) in cases {
        let llm = Arc::new(ScriptedLlm::default());
        let store = graph_memory(config_for(&target, json!({})), &llm, deadlines);
        let started = Instant::now();
        let err = store.add("I live in Paris.", &user("alice")).await.unwrap_err();
        let took = started.elapsed();
        assert!(took < limit, "{what}: took {took:?}: {err}");
        assert!(!err.to_string().contains(secret), "{what}: {err}");
        match kind {
            "unavailable" => assert!(matches!(err, GraphError::Store(StoreError::Unavailable { .. })), "{what}: {err}"),
            _ => assert!(matches!(err, GraphError::Store(StoreError::Rejected { .. })), "{what}: {err}"),
        }
        assert_eq!(llm.calls(), 0, "{what}: no LLM spend when the graph is down");
        assert!(store.list(&user("alice"), 10).await.is_err());
        assert!(store.delete_scope(&user("alice")).await.is_err());
    }
}

async fn server_going_down_is_unavailable_promptly(server: Server) {
    let Some(target) = server.target() else { return };
    let upstream = target.url.trim_start_matches("bolt://").to_owned();
    let proxy = Proxy::start(upstream).await;
    let llm = Arc::new(ScriptedLlm::default());
    let store = graph_memory(
        config_for(&Target { url: format!("bolt://127.0.0.1:{}", proxy.port), ..clone_target(&target) }, json!({})),
        &llm,
        Deadlines { connect: Duration::from_secs(5), statement: Duration::from_secs(20) },
    );
    let alice = unique("alice");
    h_add(&store, &llm, &alice).await;

    proxy.kill().await;
    let started = Instant::now();
    h_llm_extracts_once(&llm);
    let err = store.add("I live in Rome.", &user(&alice)).await.unwrap_err();
    assert!(matches!(err, GraphError::Store(StoreError::Unavailable { .. })), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}: {err}", started.elapsed());
    let err = store.list(&user(&alice), 10).await.unwrap_err();
    assert!(matches!(err, GraphError::Store(StoreError::Unavailable { .. })), "{err}");

    // Clean up through a healthy store.
    let healthy = graph_memory(config_for(&target, json!({})), &llm, Deadlines::default());
    healthy.delete_scope(&user(&alice)).await.unwrap();
}

async fn h_add(store: &GraphMemory, llm: &ScriptedLlm, alice: &str) {
    h_llm_extracts_once(llm);
    let changes = store.add("I live in Paris.", &user(alice)).await.unwrap();
    assert_eq!(changes.added_entities.len(), 1);
}

fn h_llm_extracts_once(llm: &ScriptedLlm) {
    llm.then(|request| {
        let who = request.messages[0].content.split('"').nth(1).unwrap_or("me").to_owned();
        let city = if request.messages[1].content.contains("Rome") { "rome" } else { "paris" };
        tool(
            "extract_graph",
            json!({"entities": [], "relations": [{"source": who, "relationship": "lives_in", "destination": city}]}),
        )
    });
}

/// A TCP relay in front of the real server that can be killed, to take the server away.
struct Proxy {
    port: u16,
    acceptor: tokio::task::JoinHandle<()>,
    links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let links = Arc::new(Mutex::new(Vec::new()));
        let registry = links.clone();
        let acceptor = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                registry.lock().unwrap().push(link);
            }
        });
        Self { port, acceptor, links }
    }

    /// Stops accepting and cuts every relayed connection.
    async fn kill(&self) {
        self.acceptor.abort();
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn clone_target(t: &Target) -> Target {
    Target {
        url: t.url.clone(),
        username: t.username.clone(),
        password: t.password.clone(),
        database: t.database.clone(),
    }
}

macro_rules! on_both_servers {
    ($($case:ident),* $(,)?) => {
        mod arcadedb {
            $(#[tokio::test] async fn $case() { super::$case(super::Server::ArcadeDb).await; })*
        }
        mod neo4j {
            $(#[tokio::test] async fn $case() { super::$case(super::Server::Neo4j).await; })*
        }
    };
}

on_both_servers!(
    entities_and_relations_are_stored_per_scope,
    a_journaled_plan_applies_the_same_however_often,
    similar_entity_is_merged_not_duplicated,
    contradicted_relation_is_removed,
    search_returns_relations_reranked_by_bm25,
    two_users_never_see_each_other,
    delete_scope_removes_only_that_scope,
    hostile_names_are_harmless,
    unreachable_server_is_unavailable_promptly,
    server_going_down_is_unavailable_promptly,
);
