//! `mem0-dify console`: the console served directly over HTTP/1.1 (one request per connection),
//! for self-hosters. Listens on loopback unless told otherwise.

use super::http::{head_end, parse_head, HttpResponse, MAX_HEAD_BYTES};
use super::routes::{Console, ConsoleAccess};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long a client may take to send its request.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the console cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A non-loopback address without the explicit opt-in.
    #[error("{0} is not a loopback address; pass --allow-remote to listen on it (the API then travels unencrypted)")]
    NotLoopback(SocketAddr),
    /// The address cannot be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Binds `address` (loopback unless `allow_remote`).
pub async fn bind(address: SocketAddr, allow_remote: bool) -> Result<TcpListener, ServeError> {
    if !address.ip().is_loopback() && !allow_remote {
        return Err(ServeError::NotLoopback(address));
    }
    TcpListener::bind(address).await.map_err(|source| ServeError::Bind { address, source })
}

/// Serves connections until the listener fails.
pub async fn serve(listener: TcpListener, console: Arc<Console>, access: Arc<ConsoleAccess>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "console: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let console = console.clone();
        let access = access.clone();
        tokio::spawn(async move {
            if let Err(e) = answer(stream, &console, &access).await {
                tracing::debug!(%peer, error = %e, "console: connection ended early");
            }
        });
    }
}

async fn answer(mut stream: TcpStream, console: &Console, access: &ConsoleAccess) -> std::io::Result<()> {
    let response = match tokio::time::timeout(READ_TIMEOUT, read_request(&mut stream)).await {
        Err(_) => HttpResponse::error(408, "timeout", "the request was not received in time"),
        Ok(Err(response)) => response,
        Ok(Ok(request)) => console.handle(&request, Ok(access)).await,
    };
    stream.write_all(&response.to_bytes()).await?;
    stream.shutdown().await
}

async fn read_request(stream: &mut TcpStream) -> Result<super::http::HttpRequest, HttpResponse> {
    let io = |e: std::io::Error| HttpResponse::error(400, "bad_request", format!("reading the request failed: {e}"));
    let mut buffer = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    let end = loop {
        if let Some(end) = head_end(&buffer) {
            break end;
        }
        if buffer.len() > MAX_HEAD_BYTES {
            return Err(HttpResponse::error(431, "head_too_large", "the request head is too large"));
        }
        let n = stream.read(&mut chunk).await.map_err(io)?;
        if n == 0 {
            return Err(HttpResponse::error(400, "bad_request", "the connection closed before the request head ended"));
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let bad = |e: super::http::HttpError| HttpResponse::error(400, "bad_request", e);
    let mut request = parse_head(&buffer[..end]).map_err(bad)?;
    let length = request.content_length().map_err(|e| HttpResponse::error(413, "too_large", e))?;
    let mut body = buffer.split_off(end + 4);
    while body.len() < length {
        let n = stream.read(&mut chunk).await.map_err(io)?;
        if n == 0 {
            return Err(bad(super::http::HttpError::ShortBody { expected: length, got: body.len() }));
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    request.body = body;
    Ok(request)
}
