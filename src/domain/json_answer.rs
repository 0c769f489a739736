//! Tolerant reading of JSON answers from language models: code fences, prose around the JSON.

use serde_json::Value;

/// Characters of an unreadable answer quoted in the error.
pub const EXCERPT_CHARS: usize = 160;

/// A model answer that does not hold what was asked for (no JSON, or JSON of another shape).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the model's answer cannot be read (expected {expected}): {excerpt}")]
pub struct UnreadableAnswer {
    /// What the answer should have held (e.g. `{"facts": [...]}`).
    pub expected: &'static str,
    /// The start of the answer, quoted and cut to [`EXCERPT_CHARS`] characters.
    pub excerpt: String,
}

impl UnreadableAnswer {
    /// The error for `answer`, quoting its start.
    pub fn of(answer: &str, expected: &'static str) -> Self {
        Self { expected, excerpt: excerpt(answer) }
    }
}

/// The start of `text` quoted, at most [`EXCERPT_CHARS`] characters, with a marker when cut.
pub fn excerpt(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        return "(an empty answer)".to_owned();
    }
    let mut chars = text.chars();
    // Control characters become spaces, nothing is escaped: the quote stays within the bound.
    let head: String = chars.by_ref().take(EXCERPT_CHARS).map(|c| if c.is_control() { ' ' } else { c }).collect();
    match chars.next() {
        Some(_) => format!("\"{head}\" (cut; {} characters in all)", text.chars().count()),
        None => format!("\"{head}\""),
    }
}

/// Finds the JSON value in a model's answer: the whole answer, a fenced block, or the first
/// balanced `{…}` / `[…]` inside prose. Returns `None` when there is none.
pub fn extract_json(answer: &str) -> Option<Value> {
    let trimmed = answer.trim();
    if let Ok(value) = serde_json::from_str::<Value>(trimmed) {
        return Some(value);
    }
    for fenced in fenced_blocks(trimmed) {
        if let Ok(value) = serde_json::from_str::<Value>(fenced) {
            return Some(value);
        }
    }
    balanced_candidates(trimmed).find_map(|candidate| serde_json::from_str::<Value>(candidate).ok())
}

/// The body of the first fenced block (its fence opens a line), closed by the next fence and,
/// failing that, by the last one (the JSON itself may contain three backticks).
fn fenced_blocks(text: &str) -> impl Iterator<Item = &str> {
    let opening = text.match_indices("```").map(|(i, _)| i).find(|&i| i == 0 || text[..i].ends_with('\n'));
    let body = opening.map(|start| {
        let after = &text[start + 3..];
        let body_start = after.find('\n').map_or(0, |nl| nl + 1);
        &after[body_start..]
    });
    let first = body.and_then(|b| b.find("```").map(|end| b[..end].trim()));
    let last = body.and_then(|b| b.rfind("```").map(|end| b[..end].trim())).filter(|last| Some(*last) != first);
    first.into_iter().chain(last)
}

/// Reads JSON text one character at a time, telling the characters outside strings (where
/// brackets and commas mean structure) from those inside.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonLexer {
    in_string: bool,
    escaped: bool,
}

impl JsonLexer {
    /// Feeds `c`; returns it when it is outside a string (a string's opening quote included),
    /// `None` inside one (its closing quote included).
    pub fn outside(&mut self, c: char) -> Option<char> {
        if self.in_string {
            match (self.escaped, c) {
                (true, _) => self.escaped = false,
                (false, '\\') => self.escaped = true,
                (false, '"') => self.in_string = false,
                _ => {}
            }
            return None;
        }
        if c == '"' {
            self.in_string = true;
        }
        Some(c)
    }

    /// True inside a string, after a complete character (not right after a backslash).
    pub fn inside_string(&self) -> bool {
        self.in_string && !self.escaped
    }
}

/// Every balanced bracketed span starting at an opening `{` or `[`, in order of appearance.
fn balanced_candidates(text: &str) -> impl Iterator<Item = &str> {
    text.char_indices().filter(|(_, c)| *c == '{' || *c == '[').filter_map(move |(start, _)| {
        let mut depth = 0usize;
        let mut lexer = JsonLexer::default();
        for (offset, c) in text[start..].char_indices() {
            match lexer.outside(c) {
                Some('{' | '[') => depth += 1,
                Some('}' | ']') => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some(&text[start..start + offset + c.len_utf8()]);
                    }
                }
                _ => {}
            }
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn excerpts_are_short_and_marked_when_cut() {
        assert_eq!(excerpt("  "), "(an empty answer)");
        assert_eq!(excerpt("<html>"), "\"<html>\"");
        let long = excerpt(&"x".repeat(1000));
        assert!(long.len() < 220 && long.ends_with("(cut; 1000 characters in all)"), "{long}");
        let err = UnreadableAnswer::of("oops", "{\"facts\": [...]}");
        assert_eq!(err.to_string(), "the model's answer cannot be read (expected {\"facts\": [...]}): \"oops\"");
    }

    #[test]
    fn finds_json_in_fences_and_prose() {
        assert_eq!(extract_json("{\"a\":1}"), Some(json!({"a": 1})));
        assert_eq!(extract_json("```json\n{\"a\": [1]}\n```"), Some(json!({"a": [1]})));
        assert_eq!(extract_json("Sure! Here: {\"a\": \"}\"} hope it helps"), Some(json!({"a": "}"})));
        assert_eq!(extract_json("junk { not json } then [1,2]"), Some(json!([1, 2])));
        assert_eq!(extract_json("no json at all"), None);
        assert_eq!(extract_json("unbalanced ]]] {"), None);
        // Found by fuzzing: a fenced JSON string holding a fence of its own; backticks inside
        // JSON in prose are no fence.
        assert_eq!(extract_json("```json\n\"```json\"\n```"), Some(json!("```json")));
        assert_eq!(
            extract_json("{\"AND\":{\"```\":null,\"```json\":null}}!"),
            Some(json!({"AND": {"```": null, "```json": null}}))
        );
    }
}
