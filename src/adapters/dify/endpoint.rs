//! The `invoke_endpoint` action (contract §4.2): the daemon forwards an HTTP request made to the
//! plugin's endpoint URL as the hex of its HTTP/1.1 bytes, with the endpoint's decrypted
//! settings; the answer is `EndpointResponseChunk`s `{status, headers, result}` (hex body).
//! The console ([`crate::adapters::console`]) answers every request.

use super::protocol::ErrorPayload;
use crate::adapters::console::http::{HttpRequest, HttpResponse};
use crate::adapters::console::settings::console_access;
use crate::adapters::console::Console;
use serde_json::{json, Map, Value};

/// Raw body bytes per `result` chunk: 1 MiB, 2 MiB of hex, well within a daemon line.
pub const BODY_CHUNK_BYTES: usize = 1024 * 1024;

/// Answers one endpoint call with the chunks to stream: a single `{status, headers, result}`
/// for a small body, else `{status, headers}` followed by `{result}` pieces.
pub async fn invoke_endpoint(
    console: &Console,
    raw_http_request: &str,
    settings: &Map<String, Value>,
) -> Result<Vec<Value>, ErrorPayload> {
    let bytes = hex::decode(raw_http_request.trim()).map_err(|e| {
        ErrorPayload::new("InvalidRequestError", format!("raw_http_request is not hex-encoded HTTP: {e}"))
    })?;
    let response = match HttpRequest::parse(&bytes) {
        Ok(request) => {
            let access = console_access(settings).map_err(|e| {
                tracing::warn!(error = %e, "console endpoint is not set up");
                e.to_string()
            });
            console.handle(&request, access.as_ref().map_err(Clone::clone)).await
        }
        Err(e) => HttpResponse::error(400, "bad_request", e),
    };
    Ok(chunks(&response))
}

/// The response as `EndpointResponseChunk`s.
pub fn chunks(response: &HttpResponse) -> Vec<Value> {
    let mut headers: Map<String, Value> =
        response.headers.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    headers.insert("Content-Length".into(), Value::String(response.body.len().to_string()));
    if response.body.len() <= BODY_CHUNK_BYTES {
        return vec![json!({"status": response.status, "headers": headers, "result": hex::encode(&response.body)})];
    }
    let mut out = vec![json!({"status": response.status, "headers": headers})];
    out.extend(response.body.chunks(BODY_CHUNK_BYTES).map(|piece| json!({"result": hex::encode(piece)})));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_bodies_are_split_after_a_head_chunk() {
        let small = chunks(&HttpResponse::new(200, "text/plain", b"hi".to_vec()));
        assert_eq!(small.len(), 1);
        assert_eq!(small[0]["result"], "6869");
        assert_eq!(small[0]["headers"]["Content-Length"], "2");
        let big = chunks(&HttpResponse::new(200, "text/plain", vec![b'x'; BODY_CHUNK_BYTES * 2 + 1]));
        assert_eq!(big.len(), 4);
        assert!(big[0].get("result").is_none() && big[0]["status"] == 200);
        let total: usize = big[1..].iter().map(|c| c["result"].as_str().unwrap().len() / 2).sum();
        assert_eq!(total, BODY_CHUNK_BYTES * 2 + 1);
    }
}
