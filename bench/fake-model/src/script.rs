//! The scripted answers: the facts of a corpus turn for an extraction prompt, and NONE / UPDATE /
//! ADD decisions for an update prompt. The corpus tables come from the JSON file
//! bench/harness/model_script.py writes (`turn_facts`, `fact_slot`, `single_valued`); the rules
//! mirror its reference functions, which bench/harness/fake_model_check.py holds this server to.

use std::collections::{HashMap, HashSet};

use regex::Regex;
use serde_json::{json, Value};

use crate::python;

/// The corpus facts the answers are drawn from.
pub struct Script {
    turn_facts: HashMap<String, Vec<String>>,
    fact_slot: HashMap<String, String>,
    single_valued: HashSet<String>,
    user_line: Regex,
    sentence_end: Regex,
}

/// Why a script file could not be used.
#[derive(Debug)]
pub struct ScriptError(pub String);

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn string_map<T>(
    v: &Value,
    field: &str,
    item: impl Fn(&Value) -> Option<T>,
) -> Result<HashMap<String, T>, ScriptError> {
    let obj =
        v.get(field).and_then(Value::as_object).ok_or_else(|| ScriptError(format!("`{field}`: expected an object")))?;
    obj.iter()
        .map(|(k, x)| item(x).map(|t| (k.clone(), t)).ok_or_else(|| ScriptError(format!("`{field}.{k}`: wrong type"))))
        .collect()
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array()?.iter().map(|x| x.as_str().map(str::to_string)).collect()
}

impl Script {
    /// Reads the script JSON (`{"turn_facts": {text: [fact]}, "fact_slot": {fact: slot}, "single_valued": [slot]}`).
    pub fn from_json(v: &Value) -> Result<Self, ScriptError> {
        let single = v
            .get("single_valued")
            .and_then(strings)
            .ok_or_else(|| ScriptError("`single_valued`: expected a list of slot names".into()))?;
        Ok(Script {
            turn_facts: string_map(v, "turn_facts", strings)?,
            fact_slot: string_map(v, "fact_slot", |x| x.as_str().map(str::to_string))?,
            single_valued: single.into_iter().collect(),
            user_line: Regex::new(r"^\s*user(?:\s*\([^)]*\))?\s*:\s*(.*)$").map_err(|e| ScriptError(e.to_string()))?,
            sentence_end: Regex::new(r"[.;!?]\s*").map_err(|e| ScriptError(e.to_string()))?,
        })
    }

    /// The facts for the user lines of a conversation ("user: ..." / "user (context only): ...");
    /// a line the corpus does not know gives one fact per sentence.
    pub fn extract_facts(&self, conversation: &str) -> Vec<String> {
        let mut facts = Vec::new();
        for line in python::splitlines(conversation) {
            let Some(m) = self.user_line.captures(line) else { continue };
            let body = m.get(1).map_or("", |g| g.as_str()).trim();
            if let Some(known) = self.turn_facts.get(body) {
                facts.extend(known.iter().cloned());
                continue;
            }
            facts.extend(self.sentence_end.split(body).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string));
        }
        facts
    }

    /// The decisions for `facts` against the stored memories `old`: NONE for a fact already stored,
    /// UPDATE of a stored memory of the same single-valued slot, else ADD.
    pub fn decide(&self, old: &[Value], facts: &[Value]) -> Vec<Value> {
        let mut out = Vec::new();
        let mut touched: HashSet<String> = HashSet::new();
        let mut by_text: HashMap<String, &Value> = HashMap::new();
        for m in old.iter().filter(|m| m.is_object()) {
            let text = python::str_of(m.get("text").unwrap_or(&json!(""))).trim().to_lowercase();
            by_text.insert(text, m);
        }
        let id_of = |m: &Value| python::str_of(m.get("id").unwrap_or(&Value::Null));
        let text_of = |m: &Value| m.get("text").cloned().unwrap_or(Value::Null);
        for fact in facts {
            let fact = python::str_of(fact);
            if let Some(same) = by_text.get(&fact.trim().to_lowercase()) {
                out.push(json!({"id": id_of(same), "text": text_of(same), "event": "NONE"}));
                touched.insert(id_of(same));
                continue;
            }
            let slot = self.fact_slot.get(&fact);
            let target = slot.filter(|s| self.single_valued.contains(*s)).and_then(|slot| {
                old.iter().find(|m| {
                    m.is_object()
                        && m.get("text").and_then(Value::as_str).and_then(|t| self.fact_slot.get(t)) == Some(slot)
                        && !touched.contains(&id_of(m))
                })
            });
            match target {
                Some(t) => {
                    touched.insert(id_of(t));
                    out.push(json!({"id": id_of(t), "text": fact, "event": "UPDATE", "old_memory": text_of(t)}));
                }
                None => out.push(json!({"id": "new", "text": fact, "event": "ADD"})),
            }
        }
        out
    }
}

/// The conversation inside an extraction request: the last user-role message, from its last
/// "Input:" (Mem0) or "Conversation:" (this project) marker on.
pub fn conversation_text(messages: &[Value]) -> String {
    let text = messages
        .iter()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .filter_map(|m| m.get("content").and_then(Value::as_str))
        .next_back()
        .unwrap_or("");
    let cut = ["Conversation:", "Input:"].iter().filter_map(|mk| text.rfind(mk)).max();
    cut.map_or(text, |i| &text[i..]).to_string()
}

/// The stored memories and new facts of an update prompt: this project's ("New facts (JSON):") or
/// Mem0's ("new retrieved facts"); `None` for any other prompt.
pub fn decision_inputs(prompt: &str) -> Option<(Vec<Value>, Vec<Value>)> {
    let list = |v: Option<Value>| match v {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    if prompt.contains("New facts (JSON):") {
        let old = list(literal_after(prompt, "Stored memories (JSON):", false));
        let facts = list(literal_after(prompt, "New facts (JSON):", false));
        return Some((old, facts));
    }
    if prompt.contains("new retrieved facts") {
        let old = list(literal_after(prompt, "Below is the current content of my memory", true));
        let facts = list(literal_after(prompt, "The new retrieved facts are mentioned in the triple backticks", true));
        return Some((old, facts));
    }
    None
}

/// The literal after `marker`: the first ```-fenced block (JSON, else a Python literal) or the
/// first JSON value from the next `[`. Falsy values count as absent (Python's `or []`).
fn literal_after(text: &str, marker: &str, fenced: bool) -> Option<Value> {
    let tail = &text[text.find(marker)? + marker.len()..];
    let value = if fenced {
        let open = tail.find("```")? + 3;
        let close = tail[open..].find("```")?;
        let raw = tail[open..open + close].trim();
        serde_json::from_str::<Value>(raw).ok().or_else(|| python::literal_eval(raw))?
    } else {
        let start = tail.find('[')?;
        serde_json::Deserializer::from_str(&tail[start..]).into_iter::<Value>().next()?.ok()?
    };
    python::truthy(&value).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script() -> Script {
        Script::from_json(&json!({
            "turn_facts": {"I just moved to Porto.": ["Lives in Porto"]},
            "fact_slot": {"Lives in Porto": "city", "Lives in Lisbon": "city", "Loves sushi": "food"},
            "single_valued": ["city"]
        }))
        .unwrap()
    }

    #[test]
    fn extraction_uses_the_corpus_else_sentences() {
        let s = script();
        let conv =
            "Conversation:\nuser: I just moved to Porto.\nassistant: Nice.\nuser (context only): Hi there. I cook!";
        assert_eq!(s.extract_facts(conv), ["Lives in Porto", "Hi there", "I cook"]);
    }

    #[test]
    fn decisions_none_update_add() {
        let s = script();
        let old = [json!({"id": "a", "text": "Lives in Lisbon"}), json!({"id": "b", "text": "Loves sushi"})];
        let facts = [json!("Lives in Porto"), json!("loves sushi "), json!("Plays chess")];
        let got = s.decide(&old, &facts);
        assert_eq!(
            got,
            [
                json!({"id": "a", "text": "Lives in Porto", "event": "UPDATE", "old_memory": "Lives in Lisbon"}),
                json!({"id": "b", "text": "Loves sushi", "event": "NONE"}),
                json!({"id": "new", "text": "Plays chess", "event": "ADD"}),
            ]
        );
    }

    #[test]
    fn reads_both_prompt_formats() {
        let ours = "Stored memories (JSON): [{\"id\": \"1\", \"text\": \"x\"}]\nNew facts (JSON): [\"y\"] trailing";
        assert_eq!(decision_inputs(ours), Some((vec![json!({"id": "1", "text": "x"})], vec![json!("y")])));
        let mem0 = "Below is the current content of my memory which...\n```\n[{'id': '0', 'text': 'x'}]\n```\n\
                    The new retrieved facts are mentioned in the triple backticks. ...\n```\n['y', \"it's\"]\n```\n";
        assert_eq!(
            decision_inputs(&format!("{mem0} new retrieved facts")),
            Some((vec![json!({"id": "0", "text": "x"})], vec![json!("y"), json!("it's")]))
        );
        assert_eq!(decision_inputs("Extract the facts"), None);
    }
}
