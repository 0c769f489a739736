//! The `local` embedder on the real all-MiniLM-L6-v2 files.
//!
//! Needs the model directory in MEM0_TEST_MINILM_DIR:
//! `export MEM0_TEST_MINILM_DIR="$(scripts/services/minilm.sh install)"`.
//! Without it the tests fail, unless MEM0_SKIP_SERVICE_TESTS=1.
#![cfg(feature = "local-embedder")]

use crate::support::minilm;

use mem0_dify::adapters::embedder::local::{LocalEmbedder, LocalEmbedderConfig};
use mem0_dify::ports::embedder::{EmbedPurpose, Embedder};
use std::path::PathBuf;

fn embedder(dir: PathBuf) -> LocalEmbedder {
    LocalEmbedder::new(LocalEmbedderConfig { model_path: dir, embedding_dims: None })
}

fn texts(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[tokio::test]
async fn reproduces_the_published_reference_vector() {
    let Some(dir) = minilm::model_dir() else { return };
    let embedder = embedder(dir);
    assert_eq!(embedder.dimensions(), 384);
    let vectors = embedder.embed(&texts(&["This is an example sentence"]), EmbedPurpose::Add).await.unwrap();
    assert_eq!(vectors.len(), 1);
    let v = &vectors[0];
    assert_eq!(v.len(), 384);
    // sentence-transformers/all-MiniLM-L6-v2, model card values.
    let reference = [0.06766, 0.06350, 0.04871, 0.07930, 0.03745];
    for (i, (got, want)) in v.iter().zip(reference).enumerate() {
        assert!((got - want).abs() < 1e-3, "component {i}: got {got}, published {want}");
    }
    let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
}

#[tokio::test]
async fn similar_sentences_are_closer_than_unrelated_ones() {
    let Some(dir) = minilm::model_dir() else { return };
    let embedder = embedder(dir);
    let v = embedder
        .embed(
            &texts(&["The cat sits on the mat", "A feline is resting on the rug", "The tax return is due in April"]),
            EmbedPurpose::Search,
        )
        .await
        .unwrap();
    let (close, far) = (cosine(&v[0], &v[1]), cosine(&v[0], &v[2]));
    assert!(close > 0.4 && far < 0.2 && close > far + 0.3, "similar {close}, unrelated {far}");
}

#[tokio::test]
async fn a_batch_equals_the_texts_embedded_one_by_one() {
    let Some(dir) = minilm::model_dir() else { return };
    let embedder = embedder(dir);
    let long = "memory ".repeat(600); // beyond the 256-token limit: truncated, not an error
    let inputs = texts(&[
        "I like green tea in the morning",
        "Paris",
        "My sister's name is Ana and she lives in Porto with her two children",
        &long,
        "Paris",
    ]);
    let batch = embedder.embed(&inputs, EmbedPurpose::Add).await.unwrap();
    assert_eq!(batch.len(), inputs.len());
    for (text, batched) in inputs.iter().zip(&batch) {
        let single = embedder.embed(std::slice::from_ref(text), EmbedPurpose::Add).await.unwrap();
        let diff = single[0].iter().zip(batched).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(diff < 1e-4, "batched and single differ by {diff} for {:?}", &text[..text.len().min(40)]);
    }
    assert_eq!(batch[1], batch[4]);
    assert!(cosine(&batch[0], &batch[1]) < 0.9);
}

#[tokio::test]
async fn a_wrong_embedding_dims_is_reported_at_load() {
    let Some(dir) = minilm::model_dir() else { return };
    let embedder = LocalEmbedder::new(LocalEmbedderConfig { model_path: dir, embedding_dims: Some(768) });
    assert_eq!(embedder.dimensions(), 768);
    let err = embedder.embed(&texts(&["x"]), EmbedPurpose::Add).await.unwrap_err().to_string();
    assert!(err.contains("384-dimensional") && err.contains("embedding_dims is 768"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_are_coalesced_and_each_gets_its_own_vectors() {
    let Some(dir) = minilm::model_dir() else { return };
    let embedder = std::sync::Arc::new(embedder(dir));
    let sentences: Vec<String> = (0..40).map(|n| format!("memory number {n} about topic {}", n % 7)).collect();
    let alone: Vec<Vec<f32>> = embedder.embed(&sentences, EmbedPurpose::Add).await.unwrap();
    // 40 callers at once, one or two texts each: every answer is the caller's own texts' vectors.
    let calls = (0..40).map(|n| {
        let embedder = embedder.clone();
        let mine: Vec<String> =
            if n % 2 == 0 { vec![sentences[n].clone()] } else { vec![sentences[n].clone(), sentences[n - 1].clone()] };
        tokio::spawn(async move { (n, embedder.embed(&mine, EmbedPurpose::Search).await.unwrap()) })
    });
    for call in futures::future::join_all(calls).await {
        let (n, vectors) = call.unwrap();
        assert_eq!(vectors.len(), if n % 2 == 0 { 1 } else { 2 });
        let expected = if n % 2 == 0 { vec![n] } else { vec![n, n - 1] };
        for (vector, i) in vectors.iter().zip(expected) {
            let diff = vector.iter().zip(&alone[i]).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(diff < 1e-4, "caller {n} got another text's vector (diff {diff})");
        }
    }
}
