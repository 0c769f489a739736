//! The benchmark's scripted OpenAI-format model server, shared by both stacks.
//!
//! ```text
//! bench-fake-model --port P --script script.json [--dims 384] [--delay-ms 0] [--threads N] [--record FILE]
//! ```
//!
//! `script.json` is written by bench/harness/model_script.py from the generated corpus. Answers,
//! counters and admin endpoints are those of model_script.py's reference rules (see
//! bench/README.md); bench/harness/fake_model_check.py compares the two on every run. `--record
//! FILE` appends every model request (`{"path": ..., "body": ...}` per line) so that the check can
//! replay what the plugins really sent (`--replay FILE`).

mod blake2b;
mod embedding;
mod python;
mod script;
mod server;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The command line.
struct Args {
    port: u16,
    script: String,
    dims: u64,
    delay_ms: f64,
    threads: usize,
    /// Where to append every model request (path and body, one JSON line each), if anywhere.
    record: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { port: 0, script: String::new(), dims: 384, delay_ms: 0.0, threads: 2, record: None };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag}: expected a value after it"))?;
        let bad = |what: &str| format!("{flag} {value:?}: expected {what}");
        match flag.as_str() {
            "--port" => args.port = value.parse().map_err(|_| bad("a port number"))?,
            "--script" => args.script = value,
            "--dims" => args.dims = value.parse().map_err(|_| bad("a positive integer"))?,
            "--delay-ms" => args.delay_ms = value.parse().map_err(|_| bad("milliseconds"))?,
            "--threads" => args.threads = value.parse().map_err(|_| bad("a positive integer"))?,
            "--record" => args.record = Some(value),
            _ => {
                return Err(format!(
                    "unknown option {flag} (expected --port, --script, --dims, --delay-ms, --threads, --record)"
                ))
            }
        }
    }
    if args.port == 0 || args.script.is_empty() {
        return Err("--port and --script are required".into());
    }
    if args.dims == 0 || args.threads == 0 {
        return Err("--dims and --threads must be positive".into());
    }
    Ok(args)
}

fn load_script(path: &str) -> Result<script::Script, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("script {path}: {e}"))?;
    let value = serde_json::from_str(&text).map_err(|e| format!("script {path}: not JSON: {e}"))?;
    script::Script::from_json(&value).map_err(|e| format!("script {path}: {e}"))
}

async fn serve(addr: SocketAddr, state: Arc<server::State>) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    eprintln!("bench-fake-model listening on http://{addr}");
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| server::handle(state.clone(), req));
            // writev off: the head and body leave in one buffer, one write per response.
            if let Err(e) = http1::Builder::new().writev(false).serve_connection(TokioIo::new(stream), service).await {
                eprintln!("connection: {e}");
            }
        });
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench-fake-model: {e}");
            return ExitCode::from(2);
        }
    };
    let script = match load_script(&args.script) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bench-fake-model: {e}");
            return ExitCode::from(2);
        }
    };
    let record = match &args.record {
        None => None,
        Some(path) => match std::fs::OpenOptions::new().create(true).append(true).open(path) {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("bench-fake-model: --record {path}: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let state = Arc::new(server::State::new(script, args.dims, args.delay_ms, record));
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bench-fake-model: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(SocketAddr::from(([127, 0, 0, 1], args.port)), state)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-fake-model: {e}");
            ExitCode::FAILURE
        }
    }
}
