//! Runaway answers: a model that loops repeats one stretch of text until the token limit. The
//! repetition is found and cut, so the answer can be read or sent back for repair without its tail.

use super::json_answer::JsonLexer;

/// Shortest repeated stretch considered (shorter ones are ordinary: `"a", "a"`, spaces).
pub const MIN_PERIOD: usize = 8;
/// Longest repeated stretch looked for.
pub const MAX_PERIOD: usize = 600;
/// Copies in a row that make a runaway.
pub const MIN_COPIES: usize = 4;

/// A runaway found in an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runaway {
    /// The answer up to the end of the second copy of the repeated stretch (so one whole copy
    /// survives wherever the repetition's phase begins).
    pub kept: String,
    /// The answer up to the end of the first copy only.
    pub once: String,
    /// Whole copies of the stretch in a row.
    pub copies: usize,
    /// Characters cut off.
    pub cut_chars: usize,
}

/// The first place where a stretch of [`MIN_PERIOD`] to [`MAX_PERIOD`] characters repeats at least
/// [`MIN_COPIES`] times in a row (the last copy may be cut short by the token limit), if any.
pub fn find_runaway(answer: &str) -> Option<Runaway> {
    let chars: Vec<char> = answer.chars().collect();
    let n = chars.len();
    let mut best: Option<(usize, usize, usize)> = None; // (start, period, copies)
    for period in MIN_PERIOD..=MAX_PERIOD.min(n / MIN_COPIES) {
        // run = consecutive positions i where chars[i] == chars[i + period]
        let mut run = 0usize;
        for i in 0..n - period {
            if chars[i] == chars[i + period] {
                run += 1;
                // A run of (copies - 1) * period equal pairs means `copies` copies.
                if run >= (MIN_COPIES - 1) * period {
                    let start = i + 1 - run;
                    let whole = run + (i + 1..n - period).take_while(|&j| chars[j] == chars[j + period]).count();
                    if best.is_none_or(|(s, _, _)| start < s) {
                        best = Some((start, period, whole / period + 1));
                    }
                    break;
                }
            } else {
                run = 0;
            }
        }
    }
    let (start, period, copies) = best?;
    let end = start + 2 * period;
    Some(Runaway {
        kept: chars[..end].iter().collect(),
        once: chars[..start + period].iter().collect(),
        copies,
        cut_chars: n - end,
    })
}

/// A JSON text cut off inside a string item of a list (a model repeating itself within one fact),
/// closed there: `{"facts": ["Likes tea. Likes tea. Li` gives `{"facts": ["Likes tea. Likes tea. Li"]}`.
/// `None` when the text does not end inside a string that is an item of a list.
pub fn close_open_string(text: &str) -> Option<String> {
    let start = text.find(['{', '['])?;
    let body = text[start..].trim_end();
    let mut stack: Vec<char> = Vec::new();
    let mut lexer = JsonLexer::default();
    let mut string_in_list = false;
    for c in body.chars() {
        match lexer.outside(c) {
            Some('"') => string_in_list = stack.last() == Some(&']'),
            Some('{') => stack.push('}'),
            Some('[') => stack.push(']'),
            Some(close @ ('}' | ']')) if stack.pop() != Some(close) => return None,
            _ => {}
        }
    }
    if !lexer.inside_string() || !string_in_list {
        return None;
    }
    let closers: String = stack.iter().rev().collect();
    Some(format!("{body}\"{closers}"))
}

/// A JSON text cut off mid-way (what is left of a runaway answer), closed after the last complete
/// item of a list: `{"facts": ["a", "b", "b` gives `{"facts": ["a", "b"]}`. `None` when no item is complete
/// (an empty list is never made up) or the text does not start a JSON object or array.
pub fn close_after_cut(text: &str) -> Option<String> {
    let start = text.find(['{', '['])?;
    let body = &text[start..];
    let mut stack: Vec<char> = Vec::new();
    let mut lexer = JsonLexer::default();
    // The longest prefix ending with a complete item of a list, and its closers.
    let mut best: Option<(usize, Vec<char>)> = None;
    for (i, c) in body.char_indices() {
        match lexer.outside(c) {
            Some('{') => stack.push('}'),
            Some('[') => stack.push(']'),
            // (The guard pops the bracket it closes.) A mismatch, or complete already: nothing to close.
            Some(close @ ('}' | ']')) if stack.pop() != Some(close) || stack.is_empty() => return None,
            // Only between the items of a list: a cut object would lose its other keys.
            Some(',') if stack.last() == Some(&']') => best = Some((i, stack.clone())),
            _ => {}
        }
    }
    let (end, open) = best?;
    let closers: String = open.iter().rev().collect();
    Some(format!("{}{closers}", body[..end].trim_end()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_looping_answer_is_cut_after_its_first_copy() {
        let answer = format!("{{\"facts\": [\"Likes tea\", {}\"Likes t", "\"Has a dog named Rex\", ".repeat(30));
        let runaway = find_runaway(&answer).unwrap();
        assert!((1..=3).contains(&runaway.kept.matches("Has a dog named Rex").count()), "{}", runaway.kept);
        assert!(runaway.kept.starts_with("{\"facts\": [\"Likes tea\""), "{}", runaway.kept);
        let closed = close_after_cut(&runaway.kept).unwrap();
        let facts: serde_json::Value = serde_json::from_str(&closed).unwrap();
        assert!(facts["facts"].as_array().unwrap().contains(&"Has a dog named Rex".into()), "{closed}");
        assert!(runaway.kept.len() < 80, "{}", runaway.kept);
        assert!(runaway.copies >= 29 && runaway.cut_chars > 600, "{runaway:?}");
        let blank = format!("{{\"facts\": [\"Likes tea\"]{}", "\n".repeat(500));
        let runaway = find_runaway(&blank).unwrap();
        assert_eq!(runaway.kept.trim_end(), "{\"facts\": [\"Likes tea\"]", "a loop of line breaks is cut too");
    }

    #[test]
    fn cut_json_is_closed_after_its_last_complete_item() {
        assert_eq!(close_after_cut("{\"facts\": [\"a\", \"b, c\", \"b"), Some("{\"facts\": [\"a\", \"b, c\"]}".into()));
        let cut = "{\"memory\": [{\"id\": \"0\", \"event\": \"NONE\"}, {\"id\": \"new\", \"te";
        assert_eq!(close_after_cut(cut), Some("{\"memory\": [{\"id\": \"0\", \"event\": \"NONE\"}]}".into()));
        for nothing in ["{\"facts\": [\"cut", "{\"facts\": []}", "no json", "{\"a\": 1]"] {
            assert_eq!(close_after_cut(nothing), None, "{nothing}");
        }
    }

    #[test]
    fn a_list_cut_inside_a_string_item_is_closed_there() {
        let text = "{\"facts\": [\"Likes tea\", \"Thinks of jobs. Thinks of";
        assert_eq!(close_open_string(text), Some("{\"facts\": [\"Likes tea\", \"Thinks of jobs. Thinks of\"]}".into()));
        assert_eq!(close_open_string("{\"memory\": [{\"id\": \"0\", \"text\": \"Lik"), None, "an object's value");
        assert_eq!(close_open_string("{\"facts\": [\"done\"]}"), None);
        let looping = format!("{{\"facts\": [\"{}", "Melanie thinks of careers in software and data. ".repeat(20));
        let runaway = find_runaway(&looping).unwrap();
        let closed = close_open_string(&runaway.once).unwrap();
        let facts: serde_json::Value = serde_json::from_str(&closed).unwrap();
        assert_eq!(facts["facts"][0].as_str().unwrap().matches("Melanie thinks").count(), 1, "{closed}");
    }

    #[test]
    fn ordinary_answers_are_left_alone() {
        for answer in [
            "{\"facts\": [\"Likes tea\", \"Likes coffee\", \"Likes cake\"]}",
            "{\"memory\": [{\"id\": \"0\", \"text\": \"a\", \"event\": \"NONE\", \"old_memory\": \"\"}, {\"id\": \"1\", \"text\": \"b\", \"event\": \"NONE\", \"old_memory\": \"\"}, {\"id\": \"2\", \"text\": \"c\", \"event\": \"NONE\", \"old_memory\": \"\"}]}",
            "",
        ] {
            assert_eq!(find_runaway(answer), None, "{answer}");
        }
    }
}
