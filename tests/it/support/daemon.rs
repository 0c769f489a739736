//! A stand-in for the Dify plugin daemon (contract §13.3): packages the plugin, extracts it the way
//! the daemon does (files 0644, working directory `<author>/<name>-<version>@<checksum>`), starts
//! it with `python3 -m main`, and plays the daemon's side of the stdio and TCP transports while
//! checking every line the plugin writes against the daemon's rules.
//!
//! The plugin binary packaged is `MEM0_DIFY_PLUGIN_BIN` when set, else the `fake_plugin` example,
//! which the harness builds with `cargo build --example fake_plugin` into the same target
//! directory (a no-op when it is up to date).
#![allow(dead_code)]

use mem0_dify::adapters::dify::package::{build_package, Arch, PackageReport};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// The daemon's limit on one plugin line.
pub const DAEMON_MAX_LINE: usize = 5 * 1024 * 1024;
/// ToolInvokeMessage types the daemon accepts.
pub const CHUNK_TYPES: &[&str] = &[
    "text",
    "file",
    "blob",
    "blob_chunk",
    "json",
    "link",
    "image",
    "image_link",
    "binary_link",
    "variable",
    "log",
    "retriever_resources",
];

/// The plugin, packaged and extracted like the daemon does.
pub struct PackagedPlugin {
    /// The working directory (extracted package).
    pub dir: PathBuf,
    /// The package file.
    pub package: PathBuf,
    /// What the packager reported.
    pub report: PackageReport,
    /// The plugin directory the package was built from.
    pub source_root: PathBuf,
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The binary to package (see the module documentation).
pub fn plugin_binary() -> PathBuf {
    if let Ok(path) = std::env::var("MEM0_DIFY_PLUGIN_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps");
    let example = profile_dir.join("examples").join("fake_plugin");
    // `cargo test --all-targets` builds examples as test harnesses, not as programs: build it
    // (cargo releases its build lock while tests run; this is a no-op when it is up to date)
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = std::process::Command::new(cargo);
    build.args(["build", "--example", "fake_plugin", "--manifest-path"]).arg(repo_root().join("Cargo.toml"));
    if profile_dir.file_name().is_some_and(|p| p == "release") {
        build.arg("--release");
    }
    if let Some(target_dir) = profile_dir.parent() {
        build.env("CARGO_TARGET_DIR", target_dir);
    }
    // the variables cargo sets for a test run would make build scripts that watch them (ring's
    // watches CARGO_MANIFEST_DIR and CARGO_PKG_*) rebuild here, and again in the next outer build
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let set_for_tests = ["CARGO_MANIFEST_", "CARGO_PKG_", "CARGO_BIN_EXE_", "CARGO_CRATE_", "CARGO_PRIMARY_"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
            || ["OUT_DIR", "CARGO_TARGET_TMPDIR"].contains(&name.as_ref());
        if set_for_tests {
            build.env_remove(name.as_ref());
        }
    }
    let status = build.status().expect("run cargo build --example fake_plugin");
    assert!(status.success() && example.is_file(), "cannot build {}; set MEM0_DIFY_PLUGIN_BIN", example.display());
    example
}

/// The plugin directory to package: a copy of the repository's plugin files (declarations,
/// `_assets/`, README, PRIVACY, launcher). Where the root lacks a file (e.g. no README.md yet, or
/// no declarations on an old branch), the stand-in of `tests/fixtures/plugin` is used and named.
pub fn plugin_source_root(scratch: &Path) -> PathBuf {
    let root = repo_root();
    let fixture = root.join("tests/fixtures/plugin");
    let staged = scratch.join("staged-plugin");
    std::fs::create_dir_all(&staged).expect("mkdir staged");
    let declared = root.join("manifest.yaml").is_file();
    for item in [
        "manifest.yaml",
        "provider",
        "tools",
        "group",
        "endpoints",
        "_assets",
        "PRIVACY.md",
        "README.md",
        "main.py",
        "requirements.txt",
    ] {
        let from_root = root.join(item);
        let declaration_item = !matches!(item, "README.md" | "main.py" | "requirements.txt");
        let source = if from_root.exists() && (declared || !declaration_item) {
            from_root
        } else {
            eprintln!("note: packaging tests/fixtures/plugin/{item} (not at the repository root)");
            fixture.join(item)
        };
        if source.is_dir() {
            copy_tree(&source, &staged.join(item));
        } else {
            std::fs::copy(&source, staged.join(item)).unwrap_or_else(|e| panic!("copy {}: {e}", source.display()));
        }
    }
    staged
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read fixture dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy fixture");
        }
    }
}

/// Builds the package of [`plugin_binary`] once per test process and extracts it like the daemon.
pub fn packaged_plugin() -> &'static PackagedPlugin {
    static PLUGIN: OnceLock<PackagedPlugin> = OnceLock::new();
    PLUGIN.get_or_init(|| package_binary(&plugin_binary()))
}

/// Packages `plugin` (a runtime binary) with the plugin files and extracts it like the daemon.
pub fn package_binary(plugin: &Path) -> PackagedPlugin {
    {
        let scratch = tempfile::Builder::new().prefix("mem0-dify-daemon-").tempdir().expect("tempdir").keep();
        let binary = scratch.join("mem0-dify");
        std::fs::copy(plugin, &binary).expect("copy plugin binary");
        // debug builds carry symbols; strip like the release build does (keeps the package small)
        let _ = std::process::Command::new("strip").arg(&binary).status();
        let source_root = plugin_source_root(&scratch);
        let package = scratch.join("mem0-dify.difypkg");
        let report = build_package(&source_root, &[(Arch::Amd64, binary)], &package).expect("package builds");
        let (author, rest) = report.unique_identifier.split_once('/').expect("author/name");
        let dir = scratch.join("cwd").join(author).join(rest.replace(':', "-"));
        extract_like_the_daemon(&package, &dir);
        PackagedPlugin { dir, package, report, source_root }
    }
}

/// Extracts every entry with mode 0644 (the daemon keeps no execute bits); fails on directory entries.
pub fn extract_like_the_daemon(package: &Path, dir: &Path) {
    let file = std::fs::File::open(package).expect("open package");
    let mut archive = zip::ZipArchive::new(file).expect("package is a zip");
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).expect("entry");
        let name = entry.name().expect("entry name").into_owned();
        assert!(!entry.is_dir(), "the package must not contain directory entries: {name}");
        let target = dir.join(&name);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).expect("read entry");
        std::fs::write(&target, bytes).expect("write entry");
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).expect("chmod 0644");
    }
}

/// The Python interpreter that runs `-m main` (`MEM0_DIFY_PYTHON`, default `python3`).
pub fn python() -> String {
    std::env::var("MEM0_DIFY_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Starts the extracted plugin as the daemon does: `python -m main` in its directory.
pub fn launch(dir: &Path, env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(python());
    cmd.arg("-m").arg("main").current_dir(dir);
    for var in [
        "INSTALL_METHOD",
        "REMOTE_INSTALL_URL",
        "REMOTE_INSTALL_HOST",
        "REMOTE_INSTALL_PORT",
        "REMOTE_INSTALL_KEY",
        "HEARTBEAT_INTERVAL",
        "MAX_REQUEST_TIMEOUT",
        "MEM0_DIFY_BINARY",
        "MEM0_DIFY_PLUGIN_ROOT",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("INSTALL_METHOD", "local").env("RUST_LOG", "info");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    cmd.spawn().expect("start python3 -m main")
}

/// What the daemon side has seen from the plugin.
#[derive(Debug, Default)]
pub struct Observed {
    /// Session messages (`{"type","data"}`) by session id, in arrival order.
    pub sessions: HashMap<String, Vec<Value>>,
    /// Order in which sessions ended.
    pub ended: Vec<String>,
    /// Arrival times of heartbeats.
    pub heartbeats: Vec<Instant>,
    /// `error` events not tied to a session.
    pub errors: Vec<Value>,
    /// Longest line seen.
    pub max_line: usize,
    /// Broken daemon rules.
    pub violations: Vec<String>,
    /// The plugin closed its output.
    pub closed: bool,
}

type Writer = Box<dyn AsyncWrite + Unpin + Send>;

/// The daemon's end of one connection (stdio pipes or a TCP socket).
pub struct DaemonSide {
    writer: tokio::sync::Mutex<Option<Writer>>,
    /// What was seen.
    pub observed: Arc<Mutex<Observed>>,
}

impl DaemonSide {
    /// Starts reading the plugin's output.
    pub fn new<R>(reader: BufReader<R>, writer: Writer) -> Self
    where
        R: AsyncRead + Unpin + Send + 'static,
    {
        let observed = Arc::new(Mutex::new(Observed::default()));
        tokio::spawn(read_events(reader, Arc::clone(&observed)));
        Self { writer: tokio::sync::Mutex::new(Some(writer)), observed }
    }

    /// Writes raw bytes to the plugin.
    pub async fn send_raw(&self, bytes: &[u8]) {
        let mut guard = self.writer.lock().await;
        let writer = guard.as_mut().expect("input still open");
        writer.write_all(bytes).await.expect("write to plugin");
        writer.flush().await.expect("flush to plugin");
    }

    /// Sends a request (the daemon's envelope, compact JSON + `\n`); returns its session id.
    pub async fn request(&self, data: Value) -> String {
        let session_id = uuid::Uuid::new_v4().to_string();
        let envelope = json!({
            "session_id": session_id, "conversation_id": null, "message_id": null, "app_id": null,
            "endpoint_id": null, "context": null, "event": "request", "data": data,
        });
        let mut line = serde_json::to_vec(&envelope).expect("json");
        line.push(b'\n');
        self.send_raw(&line).await;
        session_id
    }

    /// Closes the plugin's input (end of file).
    pub async fn close_input(&self) {
        if let Some(mut w) = self.writer.lock().await.take() {
            let _ = w.shutdown().await;
        }
    }

    /// Waits for the session's `end` and returns its messages.
    pub async fn session(&self, session_id: &str, timeout: Duration) -> Vec<Value> {
        let start = Instant::now();
        loop {
            {
                let seen = self.observed.lock().expect("lock");
                if let Some(messages) = seen.sessions.get(session_id) {
                    if messages.last().is_some_and(|m| m["type"] == "end") {
                        return messages.clone();
                    }
                }
                assert!(!seen.closed, "the plugin closed its output before session {session_id} ended");
            }
            assert!(start.elapsed() < timeout, "session {session_id} did not end within {timeout:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Sends a request and waits for its messages.
    pub async fn call(&self, data: Value) -> Vec<Value> {
        let sid = self.request(data).await;
        self.session(&sid, Duration::from_secs(30)).await
    }

    /// Waits until `count` heartbeats were seen; returns their times.
    pub async fn heartbeats(&self, count: usize, timeout: Duration) -> Vec<Instant> {
        let start = Instant::now();
        loop {
            {
                let seen = self.observed.lock().expect("lock");
                if seen.heartbeats.len() >= count {
                    return seen.heartbeats.clone();
                }
            }
            assert!(start.elapsed() < timeout, "fewer than {count} heartbeats within {timeout:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Fails the test if any daemon rule was broken.
    pub fn assert_clean(&self) {
        let seen = self.observed.lock().expect("lock");
        assert!(seen.violations.is_empty(), "protocol violations: {:#?}", seen.violations);
        assert!(seen.max_line <= DAEMON_MAX_LINE, "a line of {} bytes", seen.max_line);
    }
}

async fn read_events<R: AsyncRead + Unpin>(mut reader: BufReader<R>, observed: Arc<Mutex<Observed>>) {
    loop {
        let mut line = Vec::new();
        let n = reader.read_until(b'\n', &mut line).await.unwrap_or(0);
        let mut seen = observed.lock().expect("lock");
        if n == 0 {
            seen.closed = true;
            return;
        }
        seen.max_line = seen.max_line.max(line.len());
        if line.len() > DAEMON_MAX_LINE {
            seen.violations.push(format!("line of {} bytes exceeds the daemon's 5 MiB", line.len()));
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let event: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(_) => {
                seen.violations.push(format!("non-JSON line on the protocol stream: {}", &text[..text.len().min(200)]));
                continue;
            }
        };
        check_event(&event, &mut seen);
    }
}

fn check_event(event: &Value, seen: &mut Observed) {
    match event["event"].as_str() {
        Some("heartbeat") => seen.heartbeats.push(Instant::now()),
        Some("log") => {}
        Some("error") => seen.errors.push(event["data"].clone()),
        Some("session") => {
            let Some(sid) = event["session_id"].as_str() else {
                seen.violations.push(format!("session event without session_id: {event}"));
                return;
            };
            let message = event["data"].clone();
            match message["type"].as_str() {
                Some("stream") => {
                    let chunk = &message["data"];
                    if let Some(kind) = chunk.get("type").and_then(Value::as_str) {
                        if !CHUNK_TYPES.contains(&kind) {
                            seen.violations.push(format!("chunk type {kind:?} unknown to the daemon"));
                        }
                    }
                }
                Some("error") => {
                    let data = &message["data"];
                    let args_ok = data["args"].as_object().is_some_and(|a| a.len() <= 10);
                    if !args_ok || !data["message"].is_string() || !data["error_type"].is_string() {
                        seen.violations.push(format!("error message the daemon would drop: {data}"));
                    }
                }
                Some("end") => {
                    if seen.sessions.get(sid).is_some_and(|m| m.iter().any(|x| x["type"] == "end")) {
                        seen.violations.push(format!("second end for session {sid}"));
                    }
                    seen.ended.push(sid.to_owned());
                }
                other => seen.violations.push(format!("session message type {other:?}")),
            }
            if seen.sessions.get(sid).is_some_and(|m| m.iter().any(|x| x["type"] == "end")) && message["type"] != "end"
            {
                seen.violations.push(format!("message after end in session {sid}"));
            }
            seen.sessions.entry(sid.to_owned()).or_default().push(message);
        }
        other => seen.violations.push(format!("unknown event {other:?}: {event}")),
    }
}

/// The plugin started over stdio, with the daemon's side of its pipes.
pub struct StdioPlugin {
    /// The process (`python3 -m main`, exec'd into the runtime).
    pub child: Child,
    /// The daemon's side.
    pub daemon: DaemonSide,
    stderr: Arc<Mutex<String>>,
    /// When it was started.
    pub started: Instant,
}

impl StdioPlugin {
    /// Starts the packaged plugin with extra environment.
    pub fn start(env: &[(&str, &str)]) -> Self {
        Self::start_in(&packaged_plugin().dir, env)
    }

    /// Starts the plugin extracted in `dir` with extra environment.
    pub fn start_in(dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::attach(launch(dir, env))
    }

    /// Starts a runtime binary directly (`BINARY serve`, as the launcher execs it) with extra
    /// environment: for binaries too large to package (debug builds).
    pub fn start_binary(binary: &Path, env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(binary);
        cmd.arg("serve").env_remove("REMOTE_INSTALL_URL").env("INSTALL_METHOD", "local").env("RUST_LOG", "info");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        Self::attach(cmd.spawn().expect("start the runtime binary"))
    }

    fn attach(mut child: Child) -> Self {
        let started = Instant::now();
        let stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take().expect("stdin");
        let stderr = Arc::new(Mutex::new(String::new()));
        tokio::spawn(collect_stderr(child.stderr.take().expect("stderr"), Arc::clone(&stderr)));
        let daemon = DaemonSide::new(BufReader::new(stdout), Box::new(stdin));
        Self { child, daemon, stderr, started }
    }

    /// What the plugin wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("lock").clone()
    }

    /// Waits for the process to exit.
    pub async fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => status.expect("wait"),
            Err(_) => panic!("the plugin did not exit within {timeout:?}; stderr:\n{}", self.stderr()),
        }
    }

    /// Sends a signal to the plugin process.
    pub fn signal(&self, name: &str) {
        let pid = self.child.id().expect("running");
        let status = std::process::Command::new("kill").arg(format!("-{name}")).arg(pid.to_string()).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -{name} {pid}");
    }
}

/// Collects a child's stderr into a string.
pub async fn collect_stderr<R: AsyncRead + Unpin>(stderr: R, into: Arc<Mutex<String>>) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut text = into.lock().expect("lock");
        text.push_str(&line);
        text.push('\n');
    }
}

/// What the plugin sent while registering over TCP.
#[derive(Debug, Clone)]
pub struct Registration {
    /// `type` of each line, in order.
    pub order: Vec<String>,
    /// `manifest_declaration.data`.
    pub manifest: Value,
    /// `tool_declaration.data`.
    pub tools: Value,
    /// `endpoint_declaration.data` (the endpoint groups), `Null` when none was sent.
    pub endpoints: Value,
    /// Assets by file name, reassembled.
    pub assets: HashMap<String, Vec<u8>>,
    /// When `end` arrived.
    pub ended_at: Instant,
}

/// The daemon's remote debugging server, listening on 127.0.0.1.
pub struct TcpDaemon {
    listener: tokio::net::TcpListener,
    /// The debugging key it accepts.
    pub key: String,
}

impl TcpDaemon {
    /// Listens on a free loopback port.
    pub async fn bind(key: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        Self { listener, key: key.to_owned() }
    }

    /// `host:port` for `REMOTE_INSTALL_URL`.
    pub fn address(&self) -> String {
        self.listener.local_addr().expect("addr").to_string()
    }

    /// Accepts one connection and reads the registration as the daemon does (§8.3): the handshake
    /// key, declarations, assets, `end`; anything else before `end` is refused with the daemon's
    /// plain-text error and the connection is closed (then `Err` carries that text).
    pub async fn accept(&self, timeout: Duration) -> Result<(Registration, DaemonSide), String> {
        let (stream, _) = tokio::time::timeout(timeout, self.listener.accept())
            .await
            .map_err(|_| "no connection".to_string())?
            .map_err(|e| e.to_string())?;
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        let mut reg = Registration {
            order: Vec::new(),
            manifest: Value::Null,
            tools: Value::Null,
            endpoints: Value::Null,
            assets: HashMap::new(),
            ended_at: Instant::now(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut line = Vec::new();
            let left = deadline.saturating_duration_since(Instant::now());
            let n = tokio::time::timeout(left, reader.read_until(b'\n', &mut line))
                .await
                .map_err(|_| "registration not finished within 10 s".to_string())?
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("connection closed during registration".into());
            }
            let text = String::from_utf8_lossy(&line).trim().to_owned();
            if text.is_empty() {
                continue;
            }
            let refuse = |msg: String| msg;
            let message: Value = serde_json::from_str(&text).map_err(|_| refuse(format!("non-JSON line {text}")))?;
            let (Some(kind), Some(data)) = (message["type"].as_str(), message.get("data")) else {
                let _ = write.write_all(b"handshake failed, invalid handshake message\n").await;
                return Err(format!("invalid handshake message (heartbeat or log before end?): {text}"));
            };
            if reg.order.is_empty() && kind != "handshake" {
                let _ = write.write_all(b"handshake failed, invalid handshake message\n").await;
                return Err(format!("first line is {kind}, not handshake"));
            }
            if kind != "asset_chunk" && reg.order.iter().any(|k| k == kind) {
                let _ = write.write_all(b"declaration already registered\n").await;
                return Err(format!("{kind} sent twice"));
            }
            reg.order.push(kind.to_owned());
            match kind {
                "handshake" => {
                    if data["key"] != json!(self.key) {
                        let _ = write.write_all(b"handshake failed, invalid key\n").await;
                        return Err("invalid key".into());
                    }
                }
                "manifest_declaration" => reg.manifest = data.clone(),
                "tool_declaration" => reg.tools = data.clone(),
                "endpoint_declaration" => reg.endpoints = data.clone(),
                "asset_chunk" => {
                    use base64::Engine;
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(data["data"].as_str().unwrap_or_default())
                        .map_err(|e| format!("asset chunk is not base64: {e}"))?;
                    if bytes.len() > 8192 {
                        return Err(format!("asset chunk of {} bytes", bytes.len()));
                    }
                    let name = data["filename"].as_str().unwrap_or_default().to_owned();
                    reg.assets.entry(name).or_default().extend(bytes);
                }
                "end" => {
                    reg.ended_at = Instant::now();
                    break;
                }
                other => return Err(format!("unexpected registration type {other}")),
            }
        }
        Ok((reg, DaemonSide::new(reader, Box::new(write))))
    }
}
