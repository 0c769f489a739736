//! The provider registry: every kind of backend (chat model, embedder, vector store with its
//! history and journal, graph store, reranker) lists its providers in one table of [`Provider`]
//! entries, and [`build`] picks the entry naming a block's `provider`. A build function takes the
//! block, the one [`BuildContext`] and what the kind needs from the kinds built before it (`()` for
//! most; the embedder's vector size for stores, the chat model for graphs and rerankers).
//!
//! An unknown provider is [`BuildError::UnknownProvider`] listing the table's names, for every kind.

pub mod context;
pub mod data_dir;
pub mod environment;

pub use context::BuildContext;
pub use environment::Environment;

use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;

/// Builds one provider's backend from its block.
pub type Build<T, Needs> = fn(&ProviderBlock, &BuildContext, Needs) -> Result<T, BuildError>;

/// One entry of a kind's table: the `provider` names it serves, the config keys each accepts and
/// how to build it.
pub struct Provider<T, Needs = ()> {
    /// The `provider` names, in documentation order.
    pub names: &'static [&'static str],
    /// The config keys a `provider` name of this entry accepts: the list the build function holds
    /// the block to, rejecting any other key with the same error everywhere (`config::check_keys`).
    pub keys: fn(&str) -> Vec<&'static str>,
    /// Reads the block (rejecting unknown keys, naming the key) and builds the backend; nothing
    /// is contacted.
    pub build: Build<T, Needs>,
}

impl<T, Needs> Clone for Provider<T, Needs> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T, Needs> Copy for Provider<T, Needs> {}

/// Every `provider` name of a table, in its order.
pub fn names<T, Needs>(table: &[Provider<T, Needs>]) -> Vec<&'static str> {
    table.iter().flat_map(|entry| entry.names.iter().copied()).collect()
}

/// Builds the backend of the entry whose names include the block's `provider`, or answers
/// [`BuildError::UnknownProvider`] listing every name of the table.
pub fn build<T, Needs>(
    table: &[Provider<T, Needs>],
    block: &ProviderBlock,
    context: &BuildContext,
    needs: Needs,
) -> Result<T, BuildError> {
    match table.iter().find(|entry| entry.names.contains(&block.provider.as_str())) {
        Some(entry) => (entry.build)(block, context, needs),
        None => Err(BuildError::UnknownProvider {
            field: block.field,
            provider: block.provider.clone(),
            supported: match names(table) {
                names if names.is_empty() => "(none yet)".to_owned(),
                names => names.join(", "),
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TABLE: &[Provider<&'static str>] = &[
        Provider { names: &["a", "a2"], keys: |_| vec![], build: |_, _, ()| Ok("built a") },
        Provider {
            names: &["b"],
            keys: |_| vec![],
            build: |b, _, ()| Ok(if b.provider == "b" { "built b" } else { "?" }),
        },
    ];

    fn block(provider: &str) -> ProviderBlock {
        ProviderBlock::parse("local_llm_json", &json!({"provider": provider})).unwrap().unwrap()
    }

    #[test]
    fn the_entry_naming_the_provider_builds_and_others_are_listed() {
        let ctx = BuildContext::new(Environment::default(), "/d");
        assert_eq!(build(TABLE, &block("a2"), &ctx, ()).unwrap(), "built a");
        assert_eq!(build(TABLE, &block("b"), &ctx, ()).unwrap(), "built b");
        assert_eq!(names(TABLE), ["a", "a2", "b"]);
        let err = build(TABLE, &block("c"), &ctx, ()).unwrap_err().to_string();
        assert_eq!(err, "local_llm_json: unknown provider \"c\"; supported providers are a, a2, b");
        let empty: &[Provider<&str>] = &[];
        assert!(build(empty, &block("c"), &ctx, ()).unwrap_err().to_string().ends_with("(none yet)"));
    }
}
