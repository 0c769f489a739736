//! The environment variables the adapters may fall back to, as one snapshot read once by the
//! composition root (the process environment over `.env`); no adapter reads the process itself.

use std::collections::HashMap;

/// A snapshot of environment variables. Blank values count as unset. Its `Debug` lists the names
/// only: values may be secrets.
#[derive(Clone, Default)]
pub struct Environment {
    vars: HashMap<String, String>,
}

impl Environment {
    /// The variables of `pairs`; a later pair wins over an earlier one of the same name.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Self { vars: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }

    /// The variable's value as set; `None` when unset or blank.
    pub fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).filter(|v| !v.trim().is_empty()).cloned()
    }
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.vars.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("Environment").field("names", &names).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_values_are_unset_and_values_never_show_in_debug() {
        let env = Environment::from_pairs([("A", " "), ("B", "secret-b"), ("B", "b")]);
        assert_eq!(env.var("A"), None);
        assert_eq!(env.var("B").as_deref(), Some("b"));
        assert_eq!(env.var("C"), None);
        let shown = format!("{env:?}");
        assert!(shown.contains("\"B\"") && !shown.contains("secret") && !shown.contains("\"b\""), "{shown}");
    }
}
