//! Functions offered to a chat model and the calls it makes: plain data shared by the prompts
//! of the domain and the model port.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A function the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Function name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// JSON Schema of its arguments.
    pub parameters: Value,
}

/// A function call the model made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Function name.
    pub name: String,
    /// Parsed arguments (an object; `{}` when the model sent none).
    pub arguments: Value,
}
