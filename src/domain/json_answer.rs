//! Tolerant reading of JSON answers from language models: code fences, prose around the JSON.

use serde_json::Value;

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

/// The body of the first fenced block, closed by the next fence and, failing that, by the last
/// one (the JSON itself may contain three backticks).
fn fenced_blocks(text: &str) -> impl Iterator<Item = &str> {
    let body = text.find("```").map(|start| {
        let after = &text[start + 3..];
        let body_start = after.find('\n').map_or(0, |nl| nl + 1);
        &after[body_start..]
    });
    let first = body.and_then(|b| b.find("```").map(|end| b[..end].trim()));
    let last = body.and_then(|b| b.rfind("```").map(|end| b[..end].trim())).filter(|last| Some(*last) != first);
    first.into_iter().chain(last)
}

/// Every balanced bracketed span starting at an opening `{` or `[`, in order of appearance.
fn balanced_candidates(text: &str) -> impl Iterator<Item = &str> {
    text.char_indices().filter(|(_, c)| *c == '{' || *c == '[').filter_map(move |(start, _)| {
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        for (offset, c) in text[start..].char_indices() {
            if in_string {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => in_string = false,
                    _ => {}
                }
                continue;
            }
            match c {
                '"' => in_string = true,
                '{' | '[' => depth += 1,
                '}' | ']' => {
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
    fn finds_json_in_fences_and_prose() {
        assert_eq!(extract_json("{\"a\":1}"), Some(json!({"a": 1})));
        assert_eq!(extract_json("```json\n{\"a\": [1]}\n```"), Some(json!({"a": [1]})));
        assert_eq!(extract_json("Sure! Here: {\"a\": \"}\"} hope it helps"), Some(json!({"a": "}"})));
        assert_eq!(extract_json("junk { not json } then [1,2]"), Some(json!([1, 2])));
        assert_eq!(extract_json("no json at all"), None);
        assert_eq!(extract_json("unbalanced ]]] {"), None);
        // Found by fuzzing: a fenced JSON string holding a fence of its own.
        assert_eq!(extract_json("```json\n\"```json\"\n```"), Some(json!("```json")));
    }
}
