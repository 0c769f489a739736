//! Pass two of an add: deciding ADD / UPDATE / DELETE / NONE against what is already stored.
//!
//! Stored memories are shown to the model under small integer ids ("0", "1", …) mapped from
//! their UUIDs, so the model cannot invent ids; answers naming unknown ids are ignored, and only
//! memories retrieved from the add's own scope can be updated or deleted.

use super::fact_screen::{word_share, ECHO_SHARE, GROUNDED_SHARE};
use super::json_answer::{extract_json, UnreadableAnswer};
use super::memory::{ContentHash, MemoryId, MemoryRecord, MemoryText};
use serde_json::{json, Value};
use std::collections::HashSet;

/// The id a decision gives a new fact.
pub const NEW_ID: &str = "new";

/// Memories retrieved for an add, numbered for the model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Candidates {
    records: Vec<MemoryRecord>,
}

impl Candidates {
    /// Numbers the records in order, dropping repeated ids.
    pub fn new(records: impl IntoIterator<Item = MemoryRecord>) -> Self {
        let mut seen = HashSet::new();
        Self { records: records.into_iter().filter(|r| seen.insert(r.id)).collect() }
    }

    /// True when nothing related is stored.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The candidates in the order they are numbered.
    pub fn records(&self) -> &[MemoryRecord] {
        &self.records
    }

    /// How many candidates there are.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// The record shown to the model as `small_id`.
    pub fn get(&self, small_id: &str) -> Option<&MemoryRecord> {
        small_id.trim().parse::<usize>().ok().and_then(|i| self.records.get(i))
    }

    /// The candidates as the model sees them: `[{"id": "0", "text": "…"}, …]`.
    pub fn as_json(&self) -> Value {
        Value::Array(
            self.records
                .iter()
                .enumerate()
                .map(|(i, r)| json!({"id": i.to_string(), "text": r.text.as_str()}))
                .collect(),
        )
    }
}

/// A decided change.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// Store a new memory.
    Add {
        /// Its text.
        text: MemoryText,
    },
    /// Rewrite a stored memory.
    Update {
        /// Which one.
        target: MemoryId,
        /// The text before.
        previous: MemoryText,
        /// The new text.
        text: MemoryText,
    },
    /// Remove a stored memory.
    Delete {
        /// Which one.
        target: MemoryId,
        /// Its text.
        text: MemoryText,
    },
}

/// The single user message of the decision call. `custom` replaces the built-in instructions
/// (Mem0's `custom_update_memory_prompt`); the memories, facts and answer format always follow.
pub fn decision_prompt(candidates: &Candidates, facts: &[MemoryText], custom: Option<&str>) -> String {
    let instructions = custom.unwrap_or(BUILTIN_DECISION_INSTRUCTIONS);
    let facts_json = Value::Array(facts.iter().map(|f| Value::String(f.as_str().to_owned())).collect());
    format!(
        "{instructions}\n\nStored memories (JSON):\n{memories}\n\nNew facts (JSON):\n{facts}\n\n\
Answer with JSON only, in this form:\n\
{{\"memory\": [{{\"id\": \"<id of a stored memory, or new>\", \"text\": \"<text>\", \"event\": \"ADD|UPDATE|DELETE|NONE\", \"old_memory\": \"<previous text, UPDATE only>\"}}]}}",
        memories = candidates.as_json(),
        facts = facts_json,
    )
}

const BUILTIN_DECISION_INSTRUCTIONS: &str = "You maintain a person's long-term memory. Compare each new fact \
with the stored memories and decide, for every stored memory and every new fact, one event:\n\
- ADD: the fact is new information; give it id \"new\".\n\
- UPDATE: the fact is about the same thing as a stored memory but adds to it or changes it; keep that \
memory's id, write the merged text, and put the stored text in old_memory. Prefer the more informative text.\n\
- DELETE: the fact contradicts or cancels a stored memory (\"no longer\", \"not anymore\"); use that memory's id.\n\
- NONE: the stored memory stays as it is, or the fact is already known.\n\
Use only the ids shown. Keep each memory's language.";

/// Reads the decisions out of the model's answer. Unknown ids, unknown events, blank texts,
/// no-op updates and repeated targets are dropped; an ADD of a text already stored is dropped.
pub fn parse_decisions(answer: &str, candidates: &Candidates) -> Vec<Operation> {
    read_decisions(answer, candidates).unwrap_or_default()
}

/// The shape the decision answer must have.
pub const DECISIONS_SHAPE: &str = "{\"memory\": [...]}";

/// Like [`parse_decisions`], but an answer with no decision list at all is an error quoting its
/// start (the extracted facts must not be dropped as if the model had decided nothing).
pub fn read_decisions(answer: &str, candidates: &Candidates) -> Result<Vec<Operation>, UnreadableAnswer> {
    check_decisions(answer, candidates).map(|checked| checked.operations)
}

/// Decisions read, with what was wrong in the items that were dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedDecisions {
    /// The usable decisions.
    pub operations: Vec<Operation>,
    /// One line per item dropped for a mistake of the model (an event not in the list, an id not
    /// shown, an UPDATE without text), for a repair request; empty when every item was usable.
    pub problems: Vec<String>,
    /// The texts of the items acted on or answered NONE (not those dropped for a mistake).
    pub mentioned: Vec<MemoryText>,
}

impl CheckedDecisions {
    /// The decisions, plus an ADD for every new fact the answer did not cover (weak models answer
    /// about the stored memories only, or copy them as ADD): a fact is never dropped because the
    /// model left it out. A fact is covered when an item's text holds most of its words (the
    /// merged text of an UPDATE, a NONE for a fact already known), when half of its words are those
    /// of a memory an UPDATE or DELETE replaced, or when it is stored word for word.
    pub fn covering(self, fresh: &[MemoryText], candidates: &Candidates) -> Vec<Operation> {
        let mut operations = self.operations;
        let stored: HashSet<ContentHash> = candidates.records.iter().map(|r| r.hash.clone()).collect();
        let mut texts: Vec<MemoryText> = self.mentioned;
        // The memories an UPDATE or DELETE replaced: a fact about the same thing ("No longer has a
        // cat" for "Has a cat") is what caused it.
        let mut replaced: Vec<MemoryText> = Vec::new();
        for op in &operations {
            match op {
                Operation::Add { text } => texts.push(text.clone()),
                Operation::Update { text, previous, .. } => {
                    texts.push(text.clone());
                    replaced.push(previous.clone());
                }
                Operation::Delete { text, .. } => replaced.push(text.clone()),
            }
        }
        for fact in fresh {
            let covered = stored.contains(&fact.hash())
                || texts.iter().any(|t| t.hash() == fact.hash() || word_share(fact.as_str(), t.as_str()) >= ECHO_SHARE)
                || replaced.iter().any(|t| word_share(fact.as_str(), t.as_str()) >= GROUNDED_SHARE);
            if !covered {
                texts.push(fact.clone());
                operations.push(Operation::Add { text: fact.clone() });
            }
        }
        operations
    }
}

/// [`read_decisions`], also naming the mistakes in the items it dropped.
pub fn check_decisions(answer: &str, candidates: &Candidates) -> Result<CheckedDecisions, UnreadableAnswer> {
    let items = match extract_json(answer) {
        Some(Value::Object(mut map)) => match map.remove("memory") {
            Some(Value::Array(items)) => items,
            _ => return Err(UnreadableAnswer::of(answer, DECISIONS_SHAPE)),
        },
        Some(Value::Array(items)) => items,
        _ => return Err(UnreadableAnswer::of(answer, DECISIONS_SHAPE)),
    };
    let stored_hashes: HashSet<_> = candidates.records.iter().map(|r| r.hash.clone()).collect();
    let mut touched = HashSet::new();
    let mut added = HashSet::new();
    let mut operations = Vec::new();
    let mut problems = Vec::new();
    let mut mentioned = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let Some(obj) = item.as_object() else {
            problems.push(format!("item {index} is not an object"));
            continue;
        };
        let event = obj.get("event").and_then(Value::as_str).unwrap_or("").trim().to_ascii_uppercase();
        let text = obj.get("text").and_then(Value::as_str).and_then(|t| MemoryText::from_model("text", t).ok());
        let id = obj.get("id").and_then(id_text);
        let target = id.as_deref().and_then(|id| candidates.get(id));
        // A text covers a fact (see `covering`) only when its item is acted on or says NONE: the
        // text of an item dropped for a mistake (an UPDATE of an id not shown) is a fact still to add.
        match (event.as_str(), text, target) {
            ("ADD", Some(text), _) => {
                mentioned.push(text.clone());
                let hash = text.hash();
                if !stored_hashes.contains(&hash) && added.insert(hash) {
                    operations.push(Operation::Add { text });
                }
            }
            ("UPDATE", Some(text), Some(record)) if text != record.text && touched.insert(record.id) => {
                mentioned.push(text.clone());
                operations.push(Operation::Update { target: record.id, previous: record.text.clone(), text });
            }
            ("UPDATE", Some(text), Some(record)) if text == record.text => mentioned.push(text),
            ("NONE", Some(text), _) => mentioned.push(text),
            ("DELETE", _, Some(record)) if touched.insert(record.id) => {
                operations.push(Operation::Delete { target: record.id, text: record.text.clone() });
            }
            ("UPDATE" | "DELETE", _, None) => problems.push(format!(
                "item {index}: {event} of id {} which is not one of the stored memories' ids (0 to {})",
                id.as_deref().map_or("(none)".to_owned(), |i| format!("{i:?}")),
                candidates.len().saturating_sub(1)
            )),
            ("ADD" | "UPDATE", None, _) => problems.push(format!("item {index}: {event} without a text")),
            ("UPDATE" | "DELETE" | "NONE", _, _) => {}
            (other, _, _) => problems.push(format!(
                "item {index}: event {other:?} is not one of ADD, UPDATE, DELETE, NONE (one event per item)"
            )),
        }
    }
    Ok(CheckedDecisions { operations, problems, mentioned })
}

fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::memory::Metadata;
    use crate::domain::scope::Scope;
    use chrono::Utc;
    use uuid::Uuid;

    fn record(n: u128, text: &str) -> MemoryRecord {
        MemoryRecord::new(
            MemoryId::from_uuid(Uuid::from_u128(n)),
            MemoryText::parse("t", text).unwrap(),
            Metadata::default(),
            Scope::parse(Some("u"), None, None).unwrap(),
            Utc::now(),
        )
    }

    fn text(s: &str) -> MemoryText {
        MemoryText::parse("t", s).unwrap()
    }

    #[test]
    fn candidates_get_small_ids_and_no_duplicates() {
        let c = Candidates::new([record(1, "Likes tea"), record(2, "Lives in Paris"), record(1, "Likes tea")]);
        assert_eq!(c.len(), 2);
        assert_eq!(c.as_json(), json!([{"id": "0", "text": "Likes tea"}, {"id": "1", "text": "Lives in Paris"}]));
        assert_eq!(c.get(" 1 ").unwrap().id, MemoryId::from_uuid(Uuid::from_u128(2)));
        assert!(c.get("2").is_none() && c.get("x").is_none());
    }

    #[test]
    fn prompt_holds_memories_facts_and_format() {
        let c = Candidates::new([record(1, "Likes tea")]);
        let p = decision_prompt(&c, &[text("Loves coffee")], None);
        assert!(p.contains("[{\"id\":\"0\",\"text\":\"Likes tea\"}]"));
        assert!(p.contains("[\"Loves coffee\"]"));
        assert!(p.contains("\"event\": \"ADD|UPDATE|DELETE|NONE\""));
        let custom = decision_prompt(&c, &[], Some("My rules."));
        assert!(custom.starts_with("My rules.") && custom.contains("Stored memories"));
    }

    #[test]
    fn decisions_map_ids_and_drop_what_is_unsafe() {
        let c = Candidates::new([record(1, "Likes tea"), record(2, "Lives in Paris"), record(3, "Has a cat")]);
        let answer = r#"```json
        {"memory": [
          {"id": "new", "text": "Works as a nurse", "event": "ADD"},
          {"id": "7", "text": "Likes tea", "event": "ADD"},
          {"id": "0", "text": "Likes green tea", "event": "UPDATE", "old_memory": "Likes tea"},
          {"id": "0", "text": "Likes black tea", "event": "UPDATE"},
          {"id": 1, "text": "Lives in Paris", "event": "DELETE"},
          {"id": "2", "text": "Has a cat", "event": "UPDATE"},
          {"id": "12", "text": "Hallucinated", "event": "UPDATE"},
          {"id": "13", "text": "x", "event": "DELETE"},
          {"id": "2", "text": "Has a cat", "event": "NONE"},
          {"id": "new", "text": "Works as a nurse", "event": "add"},
          {"id": "new", "text": "  ", "event": "ADD"},
          {"id": "2", "event": "EXPLODE"}
        ]}```"#;
        let ops = parse_decisions(answer, &c);
        let id = |n| MemoryId::from_uuid(Uuid::from_u128(n));
        assert_eq!(
            ops,
            vec![
                Operation::Add { text: text("Works as a nurse") },
                Operation::Update { target: id(1), previous: text("Likes tea"), text: text("Likes green tea") },
                Operation::Delete { target: id(2), text: text("Lives in Paris") },
            ]
        );
    }

    #[test]
    fn garbage_answers_decide_nothing() {
        let c = Candidates::new([record(1, "Likes tea")]);
        assert!(parse_decisions("no idea", &c).is_empty());
        assert!(parse_decisions("{\"memory\": \"oops\"}", &c).is_empty());
        assert!(parse_decisions("[1, 2, \"x\"]", &c).is_empty());
        assert!(read_decisions("no idea", &c).is_err());
        assert!(read_decisions("{\"memory\": \"oops\"}", &c).is_err());
        assert_eq!(read_decisions("{\"memory\": []}", &c), Ok(vec![]));
    }

    #[test]
    fn facts_the_answer_left_out_are_added() {
        let c = Candidates::new([record(1, "Likes tea")]);
        let fresh =
            [text("Plays chess"), text("Likes coffee"), text("Likes tea"), text("Has a cat"), text("Drinks green tea")];
        // Copies the stored memory as ADD, mentions one fact as NONE, leaves the others out.
        let answer = r#"{"memory": [{"id": "0", "text": "Likes tea", "event": "ADD"},
            {"id": "new", "text": "Likes coffee", "event": "NONE"}, {"id": "new", "text": "Has a cat", "event": "ADD"},
            {"id": "0", "text": "Likes tea, drinks green tea every morning", "event": "UPDATE"}]}"#;
        let ops = check_decisions(answer, &c).unwrap().covering(&fresh, &c);
        let id = MemoryId::from_uuid(Uuid::from_u128(1));
        let merged = text("Likes tea, drinks green tea every morning");
        assert_eq!(
            ops,
            vec![
                Operation::Add { text: text("Has a cat") },
                Operation::Update { target: id, previous: text("Likes tea"), text: merged },
                Operation::Add { text: text("Plays chess") },
            ],
            "the merged UPDATE covers \"Drinks green tea\""
        );
    }

    #[test]
    fn mistakes_are_named_for_a_repair() {
        let c = Candidates::new([record(1, "Likes tea")]);
        let answer = r#"{"memory": [{"id": "0", "text": "Likes green tea", "event": "UPDATE"},
            {"id": "4", "text": "x", "event": "UPDATE"}, {"id": "new", "text": "y", "event": "ADD|UPDATE|DELETE|NONE"},
            {"id": "0", "text": "Likes tea", "event": "NONE"}]}"#;
        let checked = check_decisions(answer, &c).unwrap();
        assert_eq!(checked.operations.len(), 1);
        assert_eq!(checked.problems.len(), 2, "{:?}", checked.problems);
        assert!(checked.problems[0].contains("\"4\" which is not one of the stored memories' ids (0 to 0)"));
        assert!(checked.problems[1].contains("\"ADD|UPDATE|DELETE|NONE\" is not one of"));
        assert!(check_decisions("{\"memory\": []}", &c).unwrap().problems.is_empty());
    }

    #[test]
    fn a_fact_in_an_item_dropped_for_a_mistake_is_still_added() {
        // A small model's answer: the stored memory copied as an ADD, the new fact as an UPDATE
        // of an id that was never shown.
        let c = Candidates::new([record(1, "Likes tea")]);
        let answer = r#"{"memory": [{"id": "0", "text": "Likes tea", "event": "ADD"},
            {"id": "new", "text": "Plays chess on Sundays", "event": "UPDATE", "old_memory": "Likes tea"}]}"#;
        let checked = check_decisions(answer, &c).unwrap();
        assert_eq!(checked.problems.len(), 1, "{:?}", checked.problems);
        let operations = checked.covering(&[text("Plays chess on Sundays")], &c);
        assert_eq!(operations, vec![Operation::Add { text: text("Plays chess on Sundays") }]);
    }
}
