//! Embeds a few sentences with the `local` embedder and prints the vectors' heads, cosines and
//! timings: `cargo run --release --features local-embedder --example local_embed [MODEL_DIR]`
//! (default: $MEM0_TEST_MINILM_DIR).

use mem0_dify::adapters::embedder::local::{LocalEmbedder, LocalEmbedderConfig};
use mem0_dify::ports::embedder::{EmbedPurpose, Embedder};
use std::path::PathBuf;
use std::time::Instant;

#[tokio::main]
async fn main() {
    let dir = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("MEM0_TEST_MINILM_DIR").ok())
        .expect("give the model directory as an argument or in MEM0_TEST_MINILM_DIR");
    let embedder = LocalEmbedder::new(LocalEmbedderConfig { model_path: PathBuf::from(dir), embedding_dims: None });
    let sentences: Vec<String> = [
        "This is an example sentence",
        "The cat sits on the mat",
        "A feline is resting on the rug",
        "The tax return is due in April",
        "I like green tea in the morning",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let started = Instant::now();
    let first = embedder.embed(&sentences[..1], EmbedPurpose::Add).await.unwrap();
    println!("load + first sentence: {:.0} ms", started.elapsed().as_secs_f64() * 1000.0);
    println!("\"{}\" -> {:?}", sentences[0], &first[0][..5]);
    let started = Instant::now();
    for _ in 0..10 {
        embedder.embed(&sentences[1..2], EmbedPurpose::Search).await.unwrap();
    }
    println!("one short sentence: {:.1} ms", started.elapsed().as_secs_f64() * 100.0);
    let started = Instant::now();
    let all = embedder.embed(&sentences, EmbedPurpose::Add).await.unwrap();
    println!("batch of {}: {:.1} ms", sentences.len(), started.elapsed().as_secs_f64() * 1000.0);
    let cos = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    println!("cos(cat, feline) = {:.3}, cos(cat, tax) = {:.3}", cos(&all[1], &all[2]), cos(&all[1], &all[3]));
}
