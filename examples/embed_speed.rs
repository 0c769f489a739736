//! The `local` embedder's cost per text for forward passes of 1, 2, 3, 4, 8 and 16 texts, one pass
//! at a time on one thread:
//! `cargo run --release --example embed_speed -- MODEL_DIR TEXTS_FILE [N]`
//! (TEXTS_FILE: one text per line, the first N used, 400 by default). bench/results/locomo_notes.md
//! used the LoCoMo development turns.

use mem0_dify::adapters::embedder::local::{LocalEmbedder, LocalEmbedderConfig};
use mem0_dify::ports::embedder::{EmbedPurpose, Embedder};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str = "usage: embed_speed MODEL_DIR TEXTS_FILE [N]";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(model), Some(file)) = (args.first(), args.get(1)) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let Ok(n) = args.get(2).map_or(Ok(400), |s| s.parse::<usize>()) else {
        eprintln!("N must be a whole number; {USAGE}");
        return ExitCode::from(2);
    };
    let texts: Vec<String> = match std::fs::read_to_string(file) {
        Ok(body) => body.lines().filter(|l| !l.trim().is_empty()).take(n).map(str::to_owned).collect(),
        Err(e) => {
            eprintln!("cannot read {file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if texts.is_empty() {
        eprintln!("{file} holds no text");
        return ExitCode::FAILURE;
    }
    let embedder = LocalEmbedder::new(LocalEmbedderConfig { model_path: PathBuf::from(model), embedding_dims: None });
    // The first call loads the model.
    if let Err(e) = embedder.embed(&texts[..1], EmbedPurpose::Add).await {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    for size in [1usize, 2, 3, 4, 8, 16] {
        let started = Instant::now();
        for pass in texts.chunks(size) {
            if let Err(e) = embedder.embed(pass, EmbedPurpose::Add).await {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
        let per_text = started.elapsed().as_secs_f64() * 1000.0 / texts.len() as f64;
        println!("pass of {size:>2}: {per_text:.2} ms per text");
    }
    ExitCode::SUCCESS
}
