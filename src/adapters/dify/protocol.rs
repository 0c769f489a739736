//! Wire types of the Dify plugin protocol: what the daemon sends (request envelopes) and what the
//! plugin answers (universal events carrying session messages), encoded as whole lines.
//!
//! Daemon → plugin: one compact JSON object per `\n`-terminated line. Plugin → daemon: one JSON
//! object followed by `\n\n` (byte-compatible with the Python SDK). See the protocol contract §2–§5.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Map, Value};

/// The daemon's default limit on one plugin → daemon line (`PLUGIN_RUNTIME_MAX_BUFFER_SIZE`).
pub const DEFAULT_MAX_LINE_BYTES: usize = 5 * 1024 * 1024;
/// Bytes kept free below the daemon's limit, so a line never touches it.
pub const LINE_SAFETY_MARGIN: usize = 1024;
/// Most keys the daemon accepts in `error.args` (more and the error is silently dropped).
pub const MAX_ERROR_ARGS: usize = 10;

/// One line from the daemon: a `request` or a `backwards_response` (§3.1, §3.2).
#[derive(Debug, Clone, Deserialize)]
pub struct InboundMessage {
    /// The session this message belongs to.
    #[serde(default)]
    pub session_id: Option<String>,
    /// `request` or `backwards_response`.
    pub event: String,
    /// The action payload.
    #[serde(default)]
    pub data: Value,
    /// Conversation the request comes from, when the caller said.
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// App the request comes from, when the caller said.
    #[serde(default)]
    pub app_id: Option<String>,
}

/// The `data` of a `request`: routing keys plus the fields of the tool actions (§4.1).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RequestData {
    /// The Dify end user (may be empty).
    #[serde(default, deserialize_with = "null_as_default")]
    pub user_id: String,
    /// `tool`, `model`, `endpoint`, …
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    pub kind: String,
    /// `invoke_tool`, `validate_tool_credentials`, …
    #[serde(default, deserialize_with = "null_as_default")]
    pub action: String,
    /// The tool provider (`identity.name` of the provider YAML).
    #[serde(default, deserialize_with = "null_as_default")]
    pub provider: String,
    /// The tool to run.
    #[serde(default, deserialize_with = "null_as_default")]
    pub tool: String,
    /// Provider credentials (`null` → empty).
    #[serde(default, deserialize_with = "null_as_default")]
    pub credentials: Map<String, Value>,
    /// Tool parameters (`null` → empty).
    #[serde(default, deserialize_with = "null_as_default")]
    pub tool_parameters: Map<String, Value>,
    /// `invoke_endpoint`: the forwarded HTTP request, hex of its HTTP/1.1 bytes.
    #[serde(default, deserialize_with = "null_as_default")]
    pub raw_http_request: String,
    /// `invoke_endpoint`: the endpoint's decrypted settings (`null` → empty).
    #[serde(default, deserialize_with = "null_as_default")]
    pub settings: Map<String, Value>,
}

/// Reads `null` as the type's default (empty string, list or object), as the daemon, written in Go,
/// sends `null` for an absent list or object.
pub fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// The `data` of a `backwards_response` (§3.2): one reply to a backwards invocation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BackwardsResponse {
    /// The id the plugin gave the invocation.
    pub backwards_request_id: String,
    /// `response`, `error` or `end`.
    pub event: String,
    /// `stream` or `struct` for a response; the error text for an error.
    #[serde(default, deserialize_with = "null_as_default")]
    pub message: String,
    /// The payload of a response.
    #[serde(default)]
    pub data: Value,
}

/// A failure reported to the daemon for one session (`{"error_type","message","args"}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorPayload {
    /// A class-like name Dify shows (e.g. `ToolProviderCredentialValidationError`).
    pub error_type: String,
    /// What went wrong, for a person.
    pub message: String,
    /// Extra details; at most [`MAX_ERROR_ARGS`] keys.
    pub args: Map<String, Value>,
}

impl ErrorPayload {
    /// An error without extra details.
    pub fn new(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Self { error_type: error_type.into(), message: message.into(), args: Map::new() }
    }

    /// Keeps `args` within the daemon's limit (drops keys past the tenth).
    pub fn bounded(mut self) -> Self {
        if self.args.len() > MAX_ERROR_ARGS {
            self.args = self.args.into_iter().take(MAX_ERROR_ARGS).collect();
        }
        self
    }
}

/// A session message (§3.4) inside an `event: "session"` line.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionMessage {
    /// One response chunk.
    Stream(Value),
    /// A backwards invocation (§6.1): asks Dify, through the daemon, to run `request`.
    Invoke {
        /// What to invoke (`llm`, `text_embedding`, …).
        kind: String,
        /// Echoed in every reply, to route it back.
        request_id: String,
        /// The request body.
        request: Value,
    },
    /// Failure; always followed by [`SessionMessage::End`].
    Error(ErrorPayload),
    /// Terminator.
    End,
}

/// A plugin → daemon event (§3.3).
#[derive(Debug, Clone, PartialEq)]
pub enum OutboundEvent {
    /// Liveness and readiness.
    Heartbeat,
    /// A message for one session.
    Session {
        /// The session.
        session_id: String,
        /// The message.
        message: SessionMessage,
    },
    /// A failure not tied to a session (e.g. an unreadable line); logged by the daemon.
    Error {
        /// What went wrong.
        message: String,
    },
}

impl OutboundEvent {
    /// The event as a JSON value.
    pub fn to_value(&self) -> Value {
        match self {
            Self::Heartbeat => json!({"event": "heartbeat", "session_id": null, "data": {}}),
            Self::Session { session_id, message } => {
                let data = match message {
                    SessionMessage::Stream(chunk) => json!({"type": "stream", "data": chunk}),
                    SessionMessage::Invoke { kind, request_id, request } => json!({
                        "type": "invoke",
                        "data": {"type": kind, "backwards_request_id": request_id, "request": request},
                    }),
                    SessionMessage::Error(payload) => json!({"type": "error", "data": payload.clone().bounded()}),
                    SessionMessage::End => json!({"type": "end", "data": {}}),
                };
                json!({"event": "session", "session_id": session_id, "data": data})
            }
            Self::Error { message } => json!({"event": "error", "session_id": null, "data": {"error": message}}),
        }
    }

    /// The event as one line: compact JSON followed by `\n\n`.
    pub fn to_line(&self) -> Vec<u8> {
        encode_line(&self.to_value())
    }
}

/// Encodes a value as a plugin → daemon line (`json` + `\n\n`).
pub fn encode_line(value: &Value) -> Vec<u8> {
    let mut line = value.to_string().into_bytes();
    line.extend_from_slice(b"\n\n");
    line
}

/// A `text` ToolInvokeMessage (§5.1).
pub fn text_chunk(text: &str) -> Value {
    json!({"type": "text", "message": {"text": text}, "meta": null})
}

/// A `json` ToolInvokeMessage (§5.1).
pub fn json_chunk(object: &Value) -> Value {
    json!({"type": "json", "message": {"json_object": object}, "meta": null})
}

/// A `variable` ToolInvokeMessage (§5.1) setting the root-level workflow variable `name` to
/// `value` (`stream: false`: any JSON value), as the SDK's `create_variable_message` sends it.
pub fn variable_chunk(name: &str, value: &Value) -> Value {
    json!({"type": "variable", "message": {"variable_name": name, "variable_value": value, "stream": false}, "meta": null})
}

/// The longest line the daemon accepts from this plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineLimit {
    max_bytes: usize,
}

impl LineLimit {
    /// A limit of `daemon_buffer` bytes (the daemon's scanner buffer), less a safety margin.
    pub fn new(daemon_buffer: usize) -> Self {
        Self { max_bytes: daemon_buffer.saturating_sub(LINE_SAFETY_MARGIN).max(64 * 1024) }
    }

    /// The largest line allowed, `\n\n` included.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// True when `line` may be sent.
    pub fn admits(&self, line: &[u8]) -> bool {
        line.len() <= self.max_bytes
    }
}

impl Default for LineLimit {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_LINE_BYTES)
    }
}

/// Splits `text` into pieces whose `text` chunk lines for `session_id` fit `limit`, cutting only
/// at character boundaries. JSON escaping can grow a character to six bytes, so pieces are sized
/// for the escaped length.
pub fn split_text_for_lines(text: &str, session_id: &str, limit: LineLimit) -> Vec<String> {
    let overhead =
        OutboundEvent::Session { session_id: session_id.to_owned(), message: SessionMessage::Stream(text_chunk("")) }
            .to_line()
            .len();
    let budget = limit.max_bytes().saturating_sub(overhead).max(1024);
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut current_escaped = 0usize;
    for ch in text.chars() {
        let escaped = escaped_len(ch);
        if current_escaped + escaped > budget && !current.is_empty() {
            pieces.push(std::mem::take(&mut current));
            current_escaped = 0;
        }
        current.push(ch);
        current_escaped += escaped;
    }
    if !current.is_empty() || pieces.is_empty() {
        pieces.push(current);
    }
    pieces
}

fn escaped_len(ch: char) -> usize {
    match ch {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{08}' | '\u{0c}' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeat_and_session_lines_match_the_sdk_bytes() {
        assert_eq!(
            OutboundEvent::Heartbeat.to_line(),
            b"{\"event\":\"heartbeat\",\"session_id\":null,\"data\":{}}\n\n"
        );
        let end = OutboundEvent::Session { session_id: "S".into(), message: SessionMessage::End };
        assert_eq!(
            String::from_utf8(end.to_line()).unwrap(),
            "{\"event\":\"session\",\"session_id\":\"S\",\"data\":{\"type\":\"end\",\"data\":{}}}\n\n"
        );
        let stream =
            OutboundEvent::Session { session_id: "S".into(), message: SessionMessage::Stream(text_chunk("hi")) };
        assert_eq!(
            String::from_utf8(stream.to_line()).unwrap(),
            "{\"event\":\"session\",\"session_id\":\"S\",\"data\":{\"type\":\"stream\",\"data\":{\"type\":\"text\",\"message\":{\"text\":\"hi\"},\"meta\":null}}}\n\n"
        );
    }

    #[test]
    fn invoke_lines_and_backwards_responses_have_the_sdk_shape() {
        let invoke = OutboundEvent::Session {
            session_id: "S".into(),
            message: SessionMessage::Invoke {
                kind: "storage".into(),
                request_id: "R".into(),
                request: json!({"opt": "get", "key": "k"}),
            },
        };
        assert_eq!(
            invoke.to_value(),
            json!({"event": "session", "session_id": "S", "data": {"type": "invoke", "data": {
                "type": "storage", "backwards_request_id": "R", "request": {"opt": "get", "key": "k"}}}})
        );
        let line = r#"{"session_id":"S","conversation_id":null,"message_id":null,"app_id":null,"endpoint_id":null,"context":null,"event":"backwards_response","data":{"backwards_request_id":"R","event":"end","message":"","data":null}}"#;
        let message: InboundMessage = serde_json::from_str(line).unwrap();
        let reply: BackwardsResponse = serde_json::from_value(message.data).unwrap();
        assert_eq!((reply.backwards_request_id.as_str(), reply.event.as_str()), ("R", "end"));
        assert!(reply.data.is_null());
    }

    #[test]
    fn error_args_are_bounded_to_ten_keys() {
        let mut payload = ErrorPayload::new("ValueError", "boom");
        for i in 0..15 {
            payload.args.insert(format!("k{i}"), json!(i));
        }
        let event = OutboundEvent::Session { session_id: "S".into(), message: SessionMessage::Error(payload) };
        let value = event.to_value();
        assert_eq!(value["data"]["data"]["args"].as_object().unwrap().len(), MAX_ERROR_ARGS);
        assert_eq!(value["data"]["data"]["error_type"], "ValueError");
    }

    #[test]
    fn requests_tolerate_null_maps_and_missing_fields() {
        let line = r#"{"session_id":"S","conversation_id":null,"message_id":null,"app_id":null,"endpoint_id":null,"context":null,"event":"request","data":{"action":"invoke_tool","credentials":null,"provider":"mem0","tool":"search_memory","tool_parameters":null,"type":"tool","user_id":"u"}}"#;
        let message: InboundMessage = serde_json::from_str(line).unwrap();
        let data: RequestData = serde_json::from_value(message.data).unwrap();
        assert_eq!((data.kind.as_str(), data.action.as_str()), ("tool", "invoke_tool"));
        assert!(data.credentials.is_empty() && data.tool_parameters.is_empty());
        assert_eq!(data.user_id, "u");
    }

    #[test]
    fn long_text_is_split_into_lines_under_the_limit() {
        let limit = LineLimit::new(100 * 1024);
        let text = "é\"".repeat(60_000);
        let pieces = split_text_for_lines(&text, "S", limit);
        assert!(pieces.len() > 1);
        assert_eq!(pieces.concat(), text);
        for piece in &pieces {
            let line =
                OutboundEvent::Session { session_id: "S".into(), message: SessionMessage::Stream(text_chunk(piece)) }
                    .to_line();
            assert!(limit.admits(&line), "{} > {}", line.len(), limit.max_bytes());
        }
    }
}
