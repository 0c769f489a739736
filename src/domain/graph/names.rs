//! Normalization of what a model names: entities, entity types and relationship types.
//!
//! Entity names and types only ever travel as query parameters, so they are merely tidied
//! (lower case, `_` for whitespace, bounded). A relationship type, however, has to be written
//! into the Cypher text (Cypher cannot take it as a parameter), so [`RelationType::cypher`] is
//! restricted to `[a-z0-9_]`, non-empty, bounded and never starting with a digit.

/// Longest entity name kept, in characters.
pub const MAX_ENTITY_NAME_CHARS: usize = 200;
/// Longest relationship or entity type kept, in characters.
pub const MAX_TYPE_CHARS: usize = 64;

/// Normalizes an entity name the way Mem0 does (lower case, whitespace runs become `_`),
/// dropping control characters and bounding the length. `None` when nothing is left.
pub fn entity_name(raw: &str) -> Option<String> {
    let words: Vec<String> = raw
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect();
    let joined: String = words.join("_").chars().take(MAX_ENTITY_NAME_CHARS).collect();
    let trimmed = joined.trim_matches('_');
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// Normalizes a free-form type (entity type or relationship) to lower-case letters and digits
/// of any script joined by single `_`, bounded. `None` when nothing is left.
pub fn display_type(raw: &str) -> Option<String> {
    let mut out = String::new();
    for c in raw.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    let bounded: String = out.chars().take(MAX_TYPE_CHARS).collect();
    let trimmed = bounded.trim_matches('_');
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// A relationship type in two forms: what users see and what Cypher gets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RelationType {
    display: String,
    cypher: String,
}

impl RelationType {
    /// Normalizes a relationship named by a model. `None` when it has no letter or digit.
    pub fn parse(raw: &str) -> Option<Self> {
        let display = display_type(raw)?;
        let cypher = cypher_identifier(&display)?;
        Some(Self { display, cypher })
    }

    /// The readable form: letters and digits of any script joined by `_` (e.g. `lives_in`, `喜欢`).
    pub fn display(&self) -> &str {
        &self.display
    }

    /// The form written into Cypher: only `[a-z0-9_]`, at most [`MAX_TYPE_CHARS`] bytes,
    /// non-empty and not starting with a digit. Letters outside ASCII become `u<hex>`.
    pub fn cypher(&self) -> &str {
        &self.cypher
    }
}

/// Maps text to the safe alphabet `[a-z0-9_]`: ASCII letters and digits are kept (lower-cased),
/// other letters and digits become `u<hex code point>`, everything else separates words.
fn cypher_identifier(text: &str) -> Option<String> {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            current.push(c);
        } else if c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            words.push(format!("u{:x}", u32::from(c)));
        } else if !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    let mut joined = words.join("_");
    if joined.is_empty() {
        return None;
    }
    if joined.starts_with(|c: char| c.is_ascii_digit()) {
        joined.insert_str(0, "r_");
    }
    joined.truncate(MAX_TYPE_CHARS);
    Some(joined.trim_end_matches('_').to_owned())
}

/// True when `label` is safe to write into Cypher as a node label: ASCII letters, digits and
/// `_`, not starting with a digit, 1 to [`MAX_TYPE_CHARS`] bytes.
pub fn is_safe_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= MAX_TYPE_CHARS
        && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !label.starts_with(|c: char| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn entity_names_are_tidied() {
        assert_eq!(entity_name("  New   York City ").as_deref(), Some("new_york_city"));
        assert_eq!(entity_name("Zoë\u{0}Ünal").as_deref(), Some("zoë_ünal"));
        assert_eq!(entity_name(" \t "), None);
        assert_eq!(entity_name(&"x".repeat(500)).map(|n| n.chars().count()), Some(MAX_ENTITY_NAME_CHARS));
    }

    #[test]
    fn relationship_types_reach_the_safe_alphabet() {
        let lives = RelationType::parse("Lives In").unwrap();
        assert_eq!((lives.display(), lives.cypher()), ("lives_in", "lives_in"));
        let hostile = RelationType::parse("likes`}) DETACH DELETE n //'\"").unwrap();
        assert_eq!(hostile.cypher(), "likes_detach_delete_n");
        assert_eq!(hostile.display(), "likes_detach_delete_n");
        let chinese = RelationType::parse("喜欢").unwrap();
        assert_eq!((chinese.display(), chinese.cypher()), ("喜欢", "u559c_u6b22"));
        assert_eq!(RelationType::parse("2nd-best friend").unwrap().cypher(), "r_2nd_best_friend");
        assert_eq!(RelationType::parse("`'\"}) //"), None);
        assert_eq!(RelationType::parse(""), None);
    }

    #[test]
    fn labels_are_checked() {
        assert!(is_safe_label("__Entity__"));
        assert!(is_safe_label("Mem0_Test"));
        assert!(!is_safe_label("1abc"));
        assert!(!is_safe_label("a`b"));
        assert!(!is_safe_label(""));
    }

    proptest! {
        #[test]
        fn any_input_gives_a_safe_cypher_type(raw in any::<String>()) {
            if let Some(t) = RelationType::parse(&raw) {
                let c = t.cypher();
                prop_assert!(!c.is_empty() && c.len() <= MAX_TYPE_CHARS);
                prop_assert!(c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
                prop_assert!(!c.starts_with(|ch: char| ch.is_ascii_digit()));
                prop_assert!(!c.starts_with('_') && !c.ends_with('_'));
            }
        }
    }
}
