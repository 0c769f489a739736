//! Reading a provider block's `config` object: unknown keys rejected, typed values with errors
//! that name the credential, the key and what was expected.

use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use serde_json::Value;

/// A provider block whose config keys have been checked against the allowed ones.
#[derive(Debug, Clone, Copy)]
pub struct ConfigReader<'a> {
    block: &'a ProviderBlock,
}

impl<'a> ConfigReader<'a> {
    /// Checks that every key of the block's config is one of `allowed`.
    pub fn new(block: &'a ProviderBlock, allowed: &[&str]) -> Result<Self, BuildError> {
        if let Some(key) = block.config.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(BuildError::Config {
                field: block.field,
                message: format!(
                    "unknown key {key:?} in the {provider:?} config; allowed keys are {allowed}",
                    provider = block.provider,
                    allowed = allowed.join(", ")
                ),
            });
        }
        Ok(Self { block })
    }

    /// A non-blank string value; absent, `null` and blank mean `None`.
    pub fn string(&self, key: &str) -> Result<Option<String>, BuildError> {
        match self.block.config.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
            Some(other) => Err(self.error(key, "a string", other)),
        }
    }

    /// A positive integer value (a JSON number, or a string of digits); absent and `null` mean `None`.
    pub fn positive_integer(&self, key: &str) -> Result<Option<usize>, BuildError> {
        let value = match self.block.config.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(value) => value,
        };
        let parsed = match value {
            Value::Number(n) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
            Value::String(s) => s.trim().parse::<usize>().ok(),
            _ => None,
        };
        match parsed {
            Some(n) if n > 0 => Ok(Some(n)),
            _ => Err(self.error(key, "a positive integer", value)),
        }
    }

    fn error(&self, key: &str, expected: &str, got: &Value) -> BuildError {
        let mut shown = got.to_string();
        if shown.chars().count() > 60 {
            shown = format!("{}…", shown.chars().take(60).collect::<String>());
        }
        BuildError::Config {
            field: self.block.field,
            message: format!(
                "config key {key:?} of provider {:?} must be {expected}, got {shown}",
                self.block.provider
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn block(config: Value) -> ProviderBlock {
        ProviderBlock {
            field: "local_vector_db_json",
            provider: "embedded".into(),
            config: config.as_object().unwrap().clone(),
        }
    }

    #[test]
    fn unknown_keys_name_the_allowed_ones() {
        let b = block(json!({"pth": "x"}));
        let err = ConfigReader::new(&b, &["path", "collection_name"]).unwrap_err().to_string();
        assert_eq!(
            err,
            "local_vector_db_json: unknown key \"pth\" in the \"embedded\" config; allowed keys are path, collection_name"
        );
    }

    #[test]
    fn values_are_typed() {
        let b = block(json!({"a": " x ", "b": 384, "c": "512", "d": 0, "e": [1], "f": ""}));
        let r = ConfigReader::new(&b, &["a", "b", "c", "d", "e", "f"]).unwrap();
        assert_eq!(r.string("a").unwrap().as_deref(), Some("x"));
        assert_eq!(r.string("f").unwrap(), None);
        assert_eq!(r.string("zz").unwrap(), None);
        assert_eq!(r.positive_integer("b").unwrap(), Some(384));
        assert_eq!(r.positive_integer("c").unwrap(), Some(512));
        assert!(r
            .positive_integer("d")
            .unwrap_err()
            .to_string()
            .contains("\"d\" of provider \"embedded\" must be a positive integer, got 0"));
        assert!(r.string("e").unwrap_err().to_string().contains("must be a string, got [1]"));
    }
}
