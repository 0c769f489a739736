//! `mem0-dify`: the composition root. Parses the command line, wires the adapters into the
//! memory application and runs the chosen command.

mod composition;

use clap::{Parser, Subcommand};
use composition::Composition;
use mem0_dify::adapters::cli;
use mem0_dify::adapters::console::{self, Console, ConsoleAccess};
use mem0_dify::adapters::dify::{self, build_package, init_stderr_logging, Arch, CLI_DEFAULT_LOG, SERVE_DEFAULT_LOG};
use mem0_dify::adapters::history::read_mem0_history;
use mem0_dify::adapters::span_timings::TimingsFile;
use mem0_dify::app::api::MemoryApp;
use mem0_dify::domain::credentials::CredentialSet;
use mem0_dify::ports::memory_admin::MemoryAdmin;
use mem0_dify::ports::memory_api::MemoryApi;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// mimalloc instead of the C library's allocator: the static musl build's malloc unmaps and faults
/// in large blocks on every tensor of the embedding model (measured: a third of the CPU time).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The variable holding the access key of `mem0-dify console`.
const CONSOLE_KEY_VAR: &str = "MEM0_DIFY_CONSOLE_KEY";

/// How long `call` waits for the writes it accepted before exiting.
const CALL_DRAIN_DEADLINE: Duration = Duration::from_secs(300);

#[derive(Parser)]
#[command(name = "mem0-dify", version, about = "Long-term memory for LLM agents, as a Dify tool plugin")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run as a Dify plugin: stdio when the daemon starts it, TCP remote debugging when
    /// INSTALL_METHOD=remote (settings from the environment and ./.env).
    Serve,
    /// Run one tool and print its {"status","messages","results"} JSON (text on stderr). A write
    /// accepted in async mode is applied before exiting; its final state is added as `write_status`.
    Call {
        /// The tool: add_memory, search_memory, get_all_memories, get_memory, update_memory,
        /// delete_memory, delete_all_memories, get_memory_history, get_write_status.
        tool: String,
        /// A JSON file holding the credentials as Dify sends them; without it, the zero-setup defaults.
        #[arg(long)]
        credentials: Option<PathBuf>,
        /// The tool's parameters as a JSON object.
        #[arg(long, default_value = "{}")]
        params: String,
    },
    /// Check every configured backend for real and report per credential.
    Validate {
        /// A JSON file holding the credentials as Dify sends them.
        #[arg(long)]
        credentials: Option<PathBuf>,
    },
    /// Serve the memory console (REST API and web page, docs/console.md) over HTTP, outside Dify.
    /// The access key is read from MEM0_DIFY_CONSOLE_KEY (at least 16 characters).
    Console {
        /// A JSON file holding the credentials as Dify sends them; without it, the zero-setup defaults.
        #[arg(long)]
        credentials: Option<PathBuf>,
        /// Where to listen (a loopback address unless --allow-remote).
        #[arg(long, default_value = "127.0.0.1:8765")]
        listen: SocketAddr,
        /// Allow a non-loopback --listen address (the API then travels unencrypted).
        #[arg(long)]
        allow_remote: bool,
    },
    /// Copy the change history of a Mem0 SQLite history.db (the Python plugin's) into this
    /// plugin's history store; rows already there are kept. Prints how many rows were offered.
    ImportMem0History {
        /// The Mem0 history.db file.
        file: PathBuf,
        /// A JSON file holding the credentials as Dify sends them; without it, the zero-setup defaults.
        #[arg(long)]
        credentials: Option<PathBuf>,
    },
    /// Build the .difypkg package from the plugin files and the release binaries.
    Package {
        /// Where to write the package (default: <name>-<version>.difypkg in the current folder).
        #[arg(long)]
        output: Option<PathBuf>,
        /// The plugin's root folder (manifest.yaml, provider/, tools/, _assets/).
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// A linux/amd64 binary to ship (default: target/x86_64-unknown-linux-musl/release/mem0-dify).
        #[arg(long)]
        amd64: Option<PathBuf>,
        /// A linux/arm64 binary to ship, when one was built.
        #[arg(long)]
        arm64: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The daemon relays every stderr line to Dify's logs as a warning: under serve, warnings only.
    let timings =
        init_stderr_logging(if matches!(cli.command, Command::Serve) { SERVE_DEFAULT_LOG } else { CLI_DEFAULT_LOG });
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("mem0-dify: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        if let Some(Err(e)) = timings.as_ref().map(TimingsFile::restart_on_signal) {
            eprintln!("mem0-dify: span timings: cannot listen for SIGUSR1 ({e})");
        }
        run(cli.command).await
    });
    if let Some(timings) = &timings {
        if let Err(e) = timings.write_last() {
            eprintln!("mem0-dify: cannot write the span timings to {}: {e}", timings.path().display());
        }
    }
    code
}

/// The settings loader's snapshot (process environment over `.env`); the exit code of the
/// failure, reported, when `.env` cannot be read.
fn load() -> Result<Composition, ExitCode> {
    Composition::load().map_err(|e| fail(&e))
}

/// The credentials of `--credentials` (or the zero-setup defaults) and the started application;
/// the exit code of the failure, reported, when either cannot be had.
fn credentials_and_app(
    composition: &Composition,
    path: Option<&std::path::Path>,
) -> Result<(CredentialSet, Arc<MemoryApp>), ExitCode> {
    let credentials = cli::read_credentials(path, composition.env()).map_err(|e| fail(&e))?;
    let app = composition.start_app().map_err(|e| fail(&e))?;
    Ok((credentials, app))
}

/// [`credentials_and_app`] with the settings loaded here.
fn load_credentials_and_app(path: Option<&std::path::Path>) -> Result<(CredentialSet, Arc<MemoryApp>), ExitCode> {
    credentials_and_app(&load()?, path)
}

async fn run(command: Command) -> ExitCode {
    match command {
        Command::Serve => {
            let composition = match load() {
                Ok(composition) => composition,
                Err(code) => return code,
            };
            let settings = match composition.runtime_settings() {
                Ok(settings) => settings,
                Err(e) => return fail(&e),
            };
            let app = match composition.start_app() {
                Ok(app) => app,
                Err(e) => return fail(&e),
            };
            match dify::serve(app, settings).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e),
            }
        }
        Command::Call { tool, credentials, params } => {
            let composition = match load() {
                Ok(composition) => composition,
                Err(code) => return code,
            };
            let (credentials, params) =
                match (cli::read_credentials(credentials.as_deref(), composition.env()), cli::parse_params(&params)) {
                    (Ok(c), Ok(p)) => (c, p),
                    (Err(e), _) | (_, Err(e)) => return fail(&e),
                };
            let app = match composition.start_app() {
                Ok(app) => app,
                Err(e) => return fail(&e),
            };
            let reply = cli::call(app.as_ref(), &credentials, &tool, &params).await;
            eprintln!("{}", reply.text);
            if let Some(note) = cli::draining_note(&reply, CALL_DRAIN_DEADLINE) {
                eprintln!("{note}");
            }
            app.shutdown(CALL_DRAIN_DEADLINE).await;
            let settled = cli::settle(app.as_ref(), &credentials, reply).await;
            println!("{}", serde_json::to_string_pretty(&settled.json).unwrap_or_default());
            if let Some(text) = settled.text {
                eprintln!("{text}");
            }
            if settled.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Validate { credentials } => {
            let (credentials, app) = match load_credentials_and_app(credentials.as_deref()) {
                Ok(started) => started,
                Err(code) => return code,
            };
            match cli::validate(app.as_ref(), &credentials).await {
                Ok((checks, ok)) => {
                    for check in &checks {
                        match &check.error {
                            None => println!("{}: ok", check.credential),
                            Some(error) => println!("{}: {error}", check.credential),
                        }
                    }
                    if ok {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(e) => fail(&e),
            }
        }
        Command::Console { credentials, listen, allow_remote } => {
            let composition = match load() {
                Ok(composition) => composition,
                Err(code) => return code,
            };
            let key = composition.var(CONSOLE_KEY_VAR).unwrap_or_default();
            if key.trim().chars().count() < console::access::MIN_KEY_LEN {
                return fail(&format!(
                    "{CONSOLE_KEY_VAR}: an access key of at least {} characters is required",
                    console::access::MIN_KEY_LEN
                ));
            }
            let (credentials, app) = match credentials_and_app(&composition, credentials.as_deref()) {
                Ok(started) => started,
                Err(code) => return code,
            };
            let listener = match console::server::bind(listen, allow_remote).await {
                Ok(listener) => listener,
                Err(e) => return fail(&e),
            };
            let address = listener.local_addr().map_or(listen, |a| a);
            // the line a test or a script waits for
            println!("console listening on http://{address}/");
            let stop_requested = match dify::serve::stop_requested() {
                Ok(stop_requested) => stop_requested,
                Err(e) => return fail(&e),
            };
            let access = Arc::new(ConsoleAccess { key: key.trim().to_owned(), credentials });
            let console = Arc::new(Console::new(app.clone()));
            tokio::select! {
                () = console::server::serve(listener, console, access) => {}
                () = stop_requested => {}
            }
            app.shutdown(CALL_DRAIN_DEADLINE).await;
            ExitCode::SUCCESS
        }
        Command::ImportMem0History { file, credentials } => {
            let rows = match read_mem0_history(&file) {
                Ok(rows) => rows,
                Err(e) => return fail(&e),
            };
            let (credentials, app) = match load_credentials_and_app(credentials.as_deref()) {
                Ok(started) => started,
                Err(code) => return code,
            };
            let outcome = app.import_history(&credentials, rows).await;
            app.shutdown(CALL_DRAIN_DEADLINE).await;
            match outcome {
                Ok(offered) => {
                    println!("{offered} history rows imported from {}", file.display());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Command::Package { output, root, amd64, arm64 } => {
            let amd64 = amd64.unwrap_or_else(|| root.join("target/x86_64-unknown-linux-musl/release/mem0-dify"));
            let mut binaries = vec![(Arch::Amd64, amd64)];
            if let Some(arm64) = arm64 {
                binaries.push((Arch::Arm64, arm64));
            }
            let output = match output {
                Some(output) => output,
                None => match dify::package::default_output_name(&root) {
                    Ok(name) => PathBuf::from(name),
                    Err(e) => return fail(&e),
                },
            };
            match build_package(&root, &binaries, &output) {
                Ok(report) => {
                    println!(
                        "{} ({:.1} MiB, {} files) — {}",
                        report.output.display(),
                        report.size as f64 / 1_048_576.0,
                        report.entries.len(),
                        report.unique_identifier
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
    }
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("mem0-dify: {error}");
    ExitCode::FAILURE
}
