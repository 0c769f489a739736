//! The fixed results the Dify tools answer with, named as in the user's guide (the Python
//! plugin's `utils/constants.py`). They are presentation: the app layer never sees them.
//!
//! Each `*_RESULT` is the guide's `{"results": …}` object; a tool reply carries its inner
//! `results` value (see [`results_of`]).

use serde_json::{json, Value};
use std::sync::LazyLock;

/// The `event` of an add whose write was accepted for the background.
pub const ACCEPT_EVENT: &str = "ACCEPT";
/// The `event` of an add that had nothing to remember.
pub const SKIP_EVENT: &str = "SKIP";
/// `message` of an accepted update.
pub const UPDATE_ACCEPT_MESSAGE: &str = "Memory update has been accepted";
/// `message` of an accepted delete.
pub const DELETE_ACCEPT_MESSAGE: &str = "Memory deletion has been accepted";
/// `message` of an accepted delete_all.
pub const DELETE_ALL_ACCEPT_MESSAGE: &str = "Batch memory deletion has been accepted";
/// `message` of a synchronous update.
pub const UPDATE_DONE_MESSAGE: &str = "Memory updated successfully!";
/// `message` of a synchronous delete.
pub const DELETE_DONE_MESSAGE: &str = "Memory deleted successfully!";
/// `message` of a synchronous delete_all.
pub const DELETE_ALL_DONE_MESSAGE: &str = "Memories deleted successfully!";

/// Add with only blank messages: nothing was sent to the engine.
pub static ADD_SKIP_RESULT: LazyLock<Value> =
    LazyLock::new(|| json!({"results": [{"id": "", "memory": "", "event": SKIP_EVENT}]}));
/// Add accepted in async mode.
pub static ADD_ACCEPT_RESULT: LazyLock<Value> =
    LazyLock::new(|| json!({"results": [{"id": "", "memory": "", "event": ACCEPT_EVENT}]}));
/// Update accepted in async mode.
pub static UPDATE_ACCEPT_RESULT: LazyLock<Value> =
    LazyLock::new(|| json!({"results": {"message": UPDATE_ACCEPT_MESSAGE}}));
/// Delete accepted in async mode.
pub static DELETE_ACCEPT_RESULT: LazyLock<Value> =
    LazyLock::new(|| json!({"results": {"message": DELETE_ACCEPT_MESSAGE}}));
/// Delete_all accepted in async mode.
pub static DELETE_ALL_ACCEPT_RESULT: LazyLock<Value> =
    LazyLock::new(|| json!({"results": {"message": DELETE_ALL_ACCEPT_MESSAGE}}));

/// The inner `results` value of one of the `*_RESULT` constants.
pub fn results_of(constant: &Value) -> Value {
    constant.get("results").cloned().unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_have_the_guides_shapes() {
        assert_eq!(ADD_SKIP_RESULT.to_string(), r#"{"results":[{"id":"","memory":"","event":"SKIP"}]}"#);
        assert_eq!(ADD_ACCEPT_RESULT.to_string(), r#"{"results":[{"id":"","memory":"","event":"ACCEPT"}]}"#);
        assert_eq!(UPDATE_ACCEPT_RESULT.to_string(), r#"{"results":{"message":"Memory update has been accepted"}}"#);
        assert_eq!(DELETE_ACCEPT_RESULT.to_string(), r#"{"results":{"message":"Memory deletion has been accepted"}}"#);
        assert_eq!(
            DELETE_ALL_ACCEPT_RESULT.to_string(),
            r#"{"results":{"message":"Batch memory deletion has been accepted"}}"#
        );
        assert_eq!(results_of(&UPDATE_ACCEPT_RESULT), json!({"message": "Memory update has been accepted"}));
    }
}
