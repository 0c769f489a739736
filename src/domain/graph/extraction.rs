//! The graph model calls: prompts, tool schemas and the tolerant readers of their answers.
//!
//! An add makes one call that returns entities and relations together ([`extraction_prompt`]);
//! only when existing relations of the involved entities exist does it make a second call
//! ([`deletion_prompt`]) deciding which of them the new facts contradict. A search makes one
//! call ([`query_entities_prompt`]).

use super::names::{display_type, entity_name, RelationType};
use crate::domain::json_answer::extract_json;
use crate::domain::model_tools::{ToolCall, ToolSpec};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Name of the extraction tool.
pub const EXTRACT_TOOL: &str = "extract_graph";
/// Name of the deletion tool.
pub const DELETE_TOOL: &str = "delete_relations";
/// Name of the query entity tool.
pub const QUERY_TOOL: &str = "extract_entities";
/// Entity type used when the model names none.
pub const DEFAULT_ENTITY_TYPE: &str = "entity";

/// An entity the model extracted, normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractedEntity {
    /// Normalized name (see [`entity_name`]).
    pub name: String,
    /// Normalized type (see [`display_type`]).
    pub entity_type: String,
}

/// A relation the model extracted, normalized.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Triple {
    /// Normalized source entity name.
    pub source: String,
    /// Relationship type.
    pub relation: RelationType,
    /// Normalized destination entity name.
    pub destination: String,
}

/// What the extraction call found: relations, and every entity they mention (with a type).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extraction {
    /// Entities, each once, in order of first mention.
    pub entities: Vec<ExtractedEntity>,
    /// Relations, each once, without self-loops.
    pub relations: Vec<Triple>,
}

/// One graph call: instructions, the input, and the function the model must call.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphPrompt {
    /// The system message.
    pub system: String,
    /// The user message.
    pub user: String,
    /// The function offered.
    pub tool: ToolSpec,
}

/// A model's answer as the readers take it: its text and its function calls.
#[derive(Debug, Clone, Copy, Default)]
pub struct ModelAnswer<'a> {
    /// The text answer, if any.
    pub content: Option<&'a str>,
    /// The function calls, if any.
    pub tool_calls: &'a [ToolCall],
}

/// The extraction call: entities and relations together.
pub fn extraction_prompt(text: &str, self_name: &str, custom_prompt: Option<&str>) -> GraphPrompt {
    let mut system = format!(
        "You turn a conversation excerpt into a knowledge graph. Call the function {EXTRACT_TOOL} exactly once.\n\
         - entities: every person, organisation, place, object, event or concept the text states a fact about, \
         each with a short type (person, city, company, food, hobby, ...).\n\
         - relations: every fact the text states, as (source entity, relationship, destination entity).\n\
         Rules:\n\
         1. Only facts the text states explicitly. Do not infer, and do not answer questions found in the text.\n\
         2. When the speaker refers to themself (I, me, my, mine), use the entity \"{self_name}\".\n\
         3. A relationship is a short, general, timeless verb phrase in snake_case, such as lives_in, works_at, \
         likes, is_allergic_to, has_child. Never put names, dates or quotes into it.\n\
         4. Every source and destination must also be listed in entities. Keep names as the text writes them, \
         in the text's language.\n\
         5. If the text states no fact, call the function with empty lists."
    );
    if let Some(extra) = custom_prompt {
        system.push_str("\n6. ");
        system.push_str(extra);
    }
    GraphPrompt { system, user: text.to_owned(), tool: extraction_tool() }
}

/// The deletion call: which `existing` relations (numbered from 1) the new text contradicts.
pub fn deletion_prompt(text: &str, existing: &[(String, String, String)], added: &[Triple]) -> GraphPrompt {
    let system = format!(
        "You keep a knowledge graph up to date. You get the existing relations of some entities, numbered, \
         and new information. Call the function {DELETE_TOOL} with the numbers of the existing relations that \
         the new information contradicts or makes outdated.\n\
         Rules:\n\
         1. Delete only on a clear contradiction or an explicit change (moved, changed jobs, no longer likes, ...).\n\
         2. A relationship that can hold several destinations at once (likes, has_friend, speaks, ...) is not \
         contradicted by a new destination: \"alice likes pizza\" does not contradict \"alice likes burgers\".\n\
         3. Never delete a relation the new information does not talk about.\n\
         4. If nothing is contradicted, call the function with an empty list."
    );
    let mut user = String::from("Existing relations:\n");
    for (i, (source, relationship, destination)) in existing.iter().enumerate() {
        user.push_str(&format!("{}. {source} -- {relationship} -- {destination}\n", i + 1));
    }
    user.push_str("\nNew information:\n");
    user.push_str(text);
    if !added.is_empty() {
        user.push_str("\n\nNew relations:\n");
        for t in added {
            user.push_str(&format!("- {} -- {} -- {}\n", t.source, t.relation.display(), t.destination));
        }
    }
    GraphPrompt { system, user, tool: deletion_tool() }
}

/// The search call: the entities a query is about.
pub fn query_entities_prompt(query: &str, self_name: &str) -> GraphPrompt {
    let system = format!(
        "List the entities (people, organisations, places, things, concepts) a search query is about by calling \
         the function {QUERY_TOOL}. When the query refers to the speaker (I, me, my), include \"{self_name}\". \
         Do not answer the query."
    );
    GraphPrompt { system, user: query.to_owned(), tool: query_tool() }
}

/// Schema of [`EXTRACT_TOOL`].
pub fn extraction_tool() -> ToolSpec {
    ToolSpec {
        name: EXTRACT_TOOL.to_owned(),
        description: "Record the entities and relations stated in the text.".to_owned(),
        parameters: json!({
            "type": "object",
            "properties": {
                "entities": {"type": "array", "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "type": {"type": "string"}},
                    "required": ["name", "type"], "additionalProperties": false}},
                "relations": {"type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "source": {"type": "string"},
                        "relationship": {"type": "string"},
                        "destination": {"type": "string"}},
                    "required": ["source", "relationship", "destination"], "additionalProperties": false}}
            },
            "required": ["entities", "relations"],
            "additionalProperties": false
        }),
    }
}

/// Schema of [`DELETE_TOOL`].
pub fn deletion_tool() -> ToolSpec {
    ToolSpec {
        name: DELETE_TOOL.to_owned(),
        description: "Delete the numbered existing relations that the new information contradicts.".to_owned(),
        parameters: json!({
            "type": "object",
            "properties": {"ids": {"type": "array", "items": {"type": "integer"}}},
            "required": ["ids"],
            "additionalProperties": false
        }),
    }
}

/// Schema of [`QUERY_TOOL`].
pub fn query_tool() -> ToolSpec {
    ToolSpec {
        name: QUERY_TOOL.to_owned(),
        description: "The entities the query is about.".to_owned(),
        parameters: json!({
            "type": "object",
            "properties": {"entities": {"type": "array", "items": {"type": "string"}}},
            "required": ["entities"],
            "additionalProperties": false
        }),
    }
}

/// Reads the extraction answer. Relation endpoints missing from the entity list are added with
/// the type [`DEFAULT_ENTITY_TYPE`]; malformed items, self-loops and duplicates are dropped.
pub fn parse_extraction(response: &ModelAnswer<'_>) -> Extraction {
    let mut typed: Vec<ExtractedEntity> = Vec::new();
    let mut relations: Vec<Triple> = Vec::new();
    for args in arguments(response, EXTRACT_TOOL) {
        for item in array(&args, &["entities", "nodes"]) {
            let (name, kind) = match item {
                Value::String(name) => (entity_name(name), None),
                other => (
                    text(other, &["name", "entity"]).and_then(|n| entity_name(&n)),
                    text(other, &["type", "entity_type"]).and_then(|t| display_type(&t)),
                ),
            };
            if let Some(name) = name {
                if !typed.iter().any(|e| e.name == name) {
                    let entity_type = kind.unwrap_or_else(|| DEFAULT_ENTITY_TYPE.to_owned());
                    typed.push(ExtractedEntity { name, entity_type });
                }
            }
        }
        for item in array(&args, &["relations", "relationships"]) {
            let source = text(item, &["source"]).and_then(|s| entity_name(&s));
            let relation = text(item, &["relationship", "relation", "type"]).and_then(|r| RelationType::parse(&r));
            let destination = text(item, &["destination", "target"]).and_then(|d| entity_name(&d));
            if let (Some(source), Some(relation), Some(destination)) = (source, relation, destination) {
                let triple = Triple { source, relation, destination };
                if triple.source != triple.destination && !relations.contains(&triple) {
                    relations.push(triple);
                }
            }
        }
    }
    let mut entities: Vec<ExtractedEntity> = Vec::new();
    for name in relations.iter().flat_map(|t| [&t.source, &t.destination]) {
        if !entities.iter().any(|e| &e.name == name) {
            let entity_type = typed
                .iter()
                .find(|e| &e.name == name)
                .map_or_else(|| DEFAULT_ENTITY_TYPE.to_owned(), |e| e.entity_type.clone());
            entities.push(ExtractedEntity { name: name.clone(), entity_type });
        }
    }
    Extraction { entities, relations }
}

/// Reads the deletion answer: valid 1-based numbers turned into 0-based indexes below `count`.
pub fn parse_deletions(response: &ModelAnswer<'_>, count: usize) -> BTreeSet<usize> {
    let mut picked = BTreeSet::new();
    for args in arguments(response, DELETE_TOOL) {
        for item in array(&args, &["ids", "relations"]) {
            let number = match item {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.trim().trim_start_matches('#').parse::<u64>().ok(),
                Value::Object(_) => item.get("id").and_then(|id| id.as_u64()),
                _ => None,
            };
            if let Some(index) = number.and_then(|n| usize::try_from(n).ok()).and_then(|n| n.checked_sub(1)) {
                if index < count {
                    picked.insert(index);
                }
            }
        }
    }
    picked
}

/// Reads the query entity answer: normalized names, each once.
pub fn parse_query_entities(response: &ModelAnswer<'_>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for args in arguments(response, QUERY_TOOL) {
        for item in array(&args, &["entities"]) {
            let name = match item {
                Value::String(s) => entity_name(s),
                other => text(other, &["name", "entity"]).and_then(|n| entity_name(&n)),
            };
            if let Some(name) = name.filter(|n| !names.contains(n)) {
                names.push(name);
            }
        }
    }
    names
}

/// The argument objects of the calls to `tool` (any call when none has that name), or the JSON
/// object in the text answer when the model answered without calling a tool.
fn arguments(response: &ModelAnswer<'_>, tool: &str) -> Vec<Value> {
    let named: Vec<Value> =
        response.tool_calls.iter().filter(|c| c.name == tool).map(|c| c.arguments.clone()).collect();
    if !named.is_empty() {
        return named;
    }
    if !response.tool_calls.is_empty() {
        return response.tool_calls.iter().map(|c| c.arguments.clone()).collect();
    }
    response.content.and_then(extract_json).filter(Value::is_object).into_iter().collect()
}

fn array<'a>(args: &'a Value, keys: &[&str]) -> &'a [Value] {
    keys.iter().find_map(|k| args.get(*k).and_then(Value::as_array)).map_or(&[], Vec::as_slice)
}

fn text(item: &Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| item.get(*k).and_then(Value::as_str)).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, arguments: Value) -> Vec<ToolCall> {
        vec![ToolCall { name: name.into(), arguments }]
    }

    fn calls(calls: &[ToolCall]) -> ModelAnswer<'_> {
        ModelAnswer { content: None, tool_calls: calls }
    }

    #[test]
    fn extraction_is_normalized_and_completed() {
        let response = call(
            EXTRACT_TOOL,
            json!({
                "entities": [{"name": "Alice", "type": "Person"}, {"name": "Paris", "type": "city"}, 7],
                "relations": [
                    {"source": "Alice", "relationship": "Lives In", "destination": "Paris"},
                    {"source": "alice", "relationship": "lives_in", "destination": "paris"},
                    {"source": "Alice", "relationship": "works at", "destination": "ACME Corp"},
                    {"source": "Alice", "relationship": "is", "destination": "alice"},
                    {"source": "Alice", "relationship": "!!", "destination": "x"},
                    {"source": "Alice"}
                ]
            }),
        );
        let got = parse_extraction(&calls(&response));
        let names: Vec<_> = got.entities.iter().map(|e| (e.name.as_str(), e.entity_type.as_str())).collect();
        assert_eq!(names, vec![("alice", "person"), ("paris", "city"), ("acme_corp", DEFAULT_ENTITY_TYPE)]);
        let rels: Vec<_> =
            got.relations.iter().map(|t| (t.source.as_str(), t.relation.cypher(), t.destination.as_str())).collect();
        assert_eq!(rels, vec![("alice", "lives_in", "paris"), ("alice", "works_at", "acme_corp")]);
    }

    #[test]
    fn extraction_in_text_answer_is_read() {
        let text = "```json\n{\"relations\": [{\"source\": \"a\", \"relation\": \"knows\", \"target\": \"b\"}]}\n```";
        let response = ModelAnswer { content: Some(text), tool_calls: &[] };
        assert_eq!(parse_extraction(&response).relations.len(), 1);
        assert_eq!(parse_extraction(&ModelAnswer::default()), Extraction::default());
    }

    #[test]
    fn deletions_keep_valid_numbers_only() {
        let response = call(DELETE_TOOL, json!({"ids": [1, "3", 0, 9, "x", {"id": 2}, 1]}));
        assert_eq!(parse_deletions(&calls(&response), 3).into_iter().collect::<Vec<_>>(), vec![0, 1, 2]);
        assert!(parse_deletions(&calls(&call(DELETE_TOOL, json!({"ids": []}))), 3).is_empty());
    }

    #[test]
    fn query_entities_are_normalized() {
        let response = call(QUERY_TOOL, json!({"entities": ["Alice", {"name": "New York"}, "alice", ""]}));
        assert_eq!(parse_query_entities(&calls(&response)), vec!["alice", "new_york"]);
    }

    #[test]
    fn prompts_carry_the_self_name_and_custom_rule() {
        let prompt = extraction_prompt("I live in Paris", "alice", Some("Only record places."));
        assert!(prompt.system.contains("\"alice\""));
        assert!(prompt.system.ends_with("6. Only record places."));
        assert_eq!(prompt.tool.name, EXTRACT_TOOL);
        let existing = vec![("alice".to_owned(), "lives_in".to_owned(), "paris".to_owned())];
        let prompt = deletion_prompt("I moved to Berlin", &existing, &[]);
        assert!(prompt.user.contains("1. alice -- lives_in -- paris"));
    }
}
