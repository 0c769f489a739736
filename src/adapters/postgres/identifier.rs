//! Table names built from Mem0's `collection_name`: validated, then always double-quoted.

/// Longest collection name accepted (PostgreSQL truncates identifiers at 63 bytes, and the longest
/// derived name adds `_history_memory_idx`).
pub const MAX_COLLECTION_NAME_LEN: usize = 40;

/// A validated collection name: 1–40 ASCII letters, digits, `_` or `-`, not starting with a digit or `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionName(String);

impl CollectionName {
    /// Validates `raw`; the error says what is allowed.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = !raw.is_empty()
            && raw.len() <= MAX_COLLECTION_NAME_LEN
            && raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            && raw.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!(
                "must be 1-{MAX_COLLECTION_NAME_LEN} ASCII letters, digits, '_' or '-', starting with a letter or '_'; got {:?}",
                raw.chars().take(80).collect::<String>()
            ))
        }
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The quoted identifier of the name with `suffix` appended (e.g. `"mem0_history"`).
    pub fn quoted(&self, suffix: &str) -> String {
        format!("\"{}{}\"", self.0, suffix)
    }

    /// The unquoted name with `suffix` appended, as stored in the catalogs.
    pub fn with_suffix(&self, suffix: &str) -> String {
        format!("{}{}", self.0, suffix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_quoted() {
        assert_eq!(CollectionName::parse("Mem0-dify_1").unwrap().quoted("_history"), "\"Mem0-dify_1_history\"");
        for bad in ["", "1abc", "a\"b", "a b", "x;drop", &"a".repeat(41)] {
            assert!(CollectionName::parse(bad).is_err(), "{bad}");
        }
    }
}
