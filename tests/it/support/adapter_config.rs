//! What the tests of configured adapters share: a provider block built from its JSON config, an empty
//! environment, and a retry policy fast enough for tests.

#![allow(dead_code)]

use mem0_dify::adapters::http::RetryPolicy;
use mem0_dify::domain::credentials::ProviderBlock;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

/// The block `{"provider": provider, "config": config}` of credential `field`.
pub fn block(field: &'static str, provider: &str, config: Value) -> ProviderBlock {
    ProviderBlock::parse(field, &json!({"provider": provider, "config": config})).unwrap().unwrap()
}

/// An environment with no variables set.
pub fn no_env() -> HashMap<String, String> {
    HashMap::new()
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
