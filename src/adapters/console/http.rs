//! The HTTP messages the console handles: a request parsed from raw HTTP/1.1 bytes (the daemon
//! forwards endpoint calls as the hex of such bytes; `mem0-dify console` reads them from a socket)
//! and a response with a status, headers and a body.

use std::collections::BTreeMap;

/// Most bytes of a request head (request line and headers).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most bytes of a request body (the daemon's own limit is 10 MiB).
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Why bytes are not a request this console can handle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The head does not end (no blank line) within [`MAX_HEAD_BYTES`].
    #[error("the request head is incomplete or longer than {MAX_HEAD_BYTES} bytes")]
    Head,
    /// The request line is not `METHOD TARGET HTTP/x.y`.
    #[error("the request line {0:?} is not METHOD TARGET HTTP/1.x")]
    RequestLine(String),
    /// A header line has no colon, or is not UTF-8.
    #[error("header line {0:?} is malformed")]
    Header(String),
    /// `Content-Length` is not a number, or the body is larger than allowed.
    #[error("Content-Length {0:?} is invalid or above {MAX_BODY_BYTES} bytes")]
    Length(String),
    /// Chunked bodies are not accepted (the daemon always sends a length).
    #[error("Transfer-Encoding {0:?} is not supported; send Content-Length")]
    Encoding(String),
    /// Fewer body bytes than `Content-Length` announced.
    #[error("the body has {got} bytes, Content-Length announced {expected}")]
    ShortBody {
        /// Announced.
        expected: usize,
        /// Received.
        got: usize,
    },
}

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Upper-case method.
    pub method: String,
    /// The path, percent-decoded, without the query.
    pub path: String,
    /// Query parameters, decoded; a name given twice keeps its last value.
    pub query: BTreeMap<String, String>,
    /// Headers with lower-case names.
    pub headers: BTreeMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A header by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// Parses a complete request (head and body).
    pub fn parse(bytes: &[u8]) -> Result<Self, HttpError> {
        let head_end = head_end(bytes).ok_or(HttpError::Head)?;
        let mut request = parse_head(&bytes[..head_end])?;
        let length = request.content_length()?;
        let body = &bytes[head_end + 4..];
        if body.len() < length {
            return Err(HttpError::ShortBody { expected: length, got: body.len() });
        }
        request.body = body[..length].to_vec();
        Ok(request)
    }

    /// The `Content-Length` (0 when absent); refuses chunked bodies and oversized ones.
    pub fn content_length(&self) -> Result<usize, HttpError> {
        if let Some(encoding) = self.header("transfer-encoding") {
            return Err(HttpError::Encoding(encoding.to_owned()));
        }
        match self.header("content-length") {
            None => Ok(0),
            Some(raw) => match raw.trim().parse::<usize>() {
                Ok(n) if n <= MAX_BODY_BYTES => Ok(n),
                _ => Err(HttpError::Length(raw.to_owned())),
            },
        }
    }
}

/// Where the head ends: the index of the `\r\n\r\n` that closes it.
pub fn head_end(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).take(MAX_HEAD_BYTES).position(|w| w == b"\r\n\r\n")
}

/// Parses the head (request line and headers, without the closing blank line); the body is empty.
pub fn parse_head(head: &[u8]) -> Result<HttpRequest, HttpError> {
    let text = std::str::from_utf8(head).map_err(|_| HttpError::Header(String::from_utf8_lossy(head).into()))?;
    let mut lines = text.split("\r\n");
    let line = lines.next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpError::RequestLine(line.to_owned()));
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() || !target.starts_with('/') {
        return Err(HttpError::RequestLine(line.to_owned()));
    }
    let (raw_path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    let path = percent_encoding::percent_decode_str(raw_path).decode_utf8_lossy().into_owned();
    let query = form_urlencoded::parse(raw_query.as_bytes()).into_owned().collect();
    let mut headers = BTreeMap::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').ok_or_else(|| HttpError::Header(line.to_owned()))?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    Ok(HttpRequest { method: method.to_ascii_uppercase(), path, query, headers, body: Vec::new() })
}

/// A response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers (`Content-Type` always set).
    pub headers: BTreeMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A response with a body of the given content type.
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        let mut headers = BTreeMap::new();
        headers.insert("Content-Type".to_owned(), content_type.to_owned());
        headers.insert("Cache-Control".to_owned(), "no-store".to_owned());
        headers.insert("X-Content-Type-Options".to_owned(), "nosniff".to_owned());
        Self { status, headers, body }
    }

    /// A JSON response.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self::new(status, "application/json; charset=utf-8", value.to_string().into_bytes())
    }

    /// A JSON error `{"error": {"code", "message"}}`.
    pub fn error(status: u16, code: &str, message: impl std::fmt::Display) -> Self {
        Self::json(status, &serde_json::json!({"error": {"code": code, "message": message.to_string()}}))
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.insert(name.to_owned(), value.to_owned());
        self
    }

    /// The whole response as HTTP/1.1 bytes, closing the connection after it.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status)).into_bytes();
        for (name, value) in &self.headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(format!("Content-Length: {}\r\nConnection: close\r\n\r\n", self.body.len()).as_bytes());
        out.extend_from_slice(&self.body);
        out
    }
}

/// The reason phrase of the statuses the console uses.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_go_http_request_write_produces() {
        // the bytes of the daemon's captured endpoint request (contract §4.2)
        let raw = hex::decode("474554202f68656c6c6f2f776f726c643f783d3120485454502f312e310d0a486f73743a206c6f63616c686f73743a353030320d0a557365722d4167656e743a206375726c2f382e300d0a4163636570743a202a2f2a0d0a446966792d486f6f6b2d49643a20303132333435363738396162636465660d0a446966792d486f6f6b2d55726c3a20687474703a2f2f6c6f63616c686f73743a353030322f652f303132333435363738396162636465662f68656c6c6f2f776f726c640d0a0d0a").unwrap();
        let request = HttpRequest::parse(&raw).unwrap();
        assert_eq!(request.method, "GET");
        assert_eq!(request.path, "/hello/world");
        assert_eq!(request.query.get("x").map(String::as_str), Some("1"));
        assert_eq!(request.header("dify-hook-id"), Some("0123456789abcdef"));
        assert!(request.body.is_empty());
    }

    #[test]
    fn body_is_cut_at_content_length_and_short_bodies_are_refused() {
        let req = HttpRequest::parse(b"POST /api/x?q=a%20b HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}extra").unwrap();
        assert_eq!(req.body, b"{}");
        assert_eq!(req.query["q"], "a b");
        let err = HttpRequest::parse(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n{}").unwrap_err();
        assert_eq!(err, HttpError::ShortBody { expected: 5, got: 2 });
        let err = HttpRequest::parse(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap_err();
        assert!(matches!(err, HttpError::Encoding(_)));
        assert!(matches!(HttpRequest::parse(b"GARBAGE\r\n\r\n").unwrap_err(), HttpError::RequestLine(_)));
        assert_eq!(HttpRequest::parse(b"GET / HTTP/1.1\r\n").unwrap_err(), HttpError::Head);
    }

    #[test]
    fn response_bytes_carry_length_and_close() {
        let bytes = HttpResponse::json(200, &serde_json::json!({"a": 1})).to_bytes();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains("Content-Length: 7\r\n") && text.ends_with("\r\n\r\n{\"a\":1}"), "{text}");
    }
}
