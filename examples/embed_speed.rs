//! Measures the local embedder's cost per text for passes of 1, 2, 4, 8 and 16 texts:
//! `embed_speed MODEL_DIR TEXTS_FILE [N]` (one text per line).
use mem0_dify::adapters::embedder::local::{LocalEmbedder, LocalEmbedderConfig};
use mem0_dify::ports::embedder::{EmbedPurpose, Embedder};
use std::path::PathBuf;
use std::time::Instant;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let embedder =
        LocalEmbedder::new(LocalEmbedderConfig { model_path: PathBuf::from(&args[1]), embedding_dims: None });
    let n: usize = args.get(3).map_or(400, |s| s.parse().unwrap());
    let texts: Vec<String> = std::fs::read_to_string(&args[2]).unwrap().lines().take(n).map(str::to_owned).collect();
    let first = embedder.embed(&texts[..1], EmbedPurpose::Add).await.unwrap();
    println!("head {:?}", &first[0][..4]);
    for size in [1usize, 2, 3, 4, 8, 16] {
        let started = Instant::now();
        for chunk in texts.chunks(size) {
            embedder.embed(chunk, EmbedPurpose::Add).await.unwrap();
        }
        let per = started.elapsed().as_secs_f64() * 1000.0 / texts.len() as f64;
        println!("pass of {size:>2}: {per:.2} ms per text");
    }
}
