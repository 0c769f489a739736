//! What the tests of configured adapters share: a provider block built from its JSON config, a build
//! context with an empty environment, and a retry policy fast enough for tests.

#![allow(dead_code)]

use mem0_dify::adapters::http::RetryPolicy;
use mem0_dify::adapters::registry::{BuildContext, Environment};
use mem0_dify::domain::credentials::ProviderBlock;
use serde_json::{json, Value};
use std::time::Duration;

/// The block `{"provider": provider, "config": config}` of credential `field`.
pub fn block(field: &'static str, provider: &str, config: Value) -> ProviderBlock {
    ProviderBlock::parse(field, &json!({"provider": provider, "config": config})).unwrap().unwrap()
}

/// A build context whose environment has no variables set (its data directory is never written).
pub fn no_env() -> BuildContext {
    with_env(&[])
}

/// A build context whose environment holds exactly `vars`.
pub fn with_env(vars: &[(&str, &str)]) -> BuildContext {
    BuildContext::new(Environment::from_pairs(vars.iter().copied()), std::env::temp_dir().join("mem0-dify-unused"))
}

/// Two retries, waiting 5 to 20 ms (a `Retry-After` of up to 1 s is honoured).
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 2,
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(1),
    }
}
