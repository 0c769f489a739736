//! `local`: an in-process sentence embedding model (all-MiniLM-L6-v2 class BERT, safetensors) read
//! from a model directory and run on the CPU; no network at run time.
//!
//! Config keys: `model_path` (default `<data dir>/models/all-MiniLM-L6-v2`, where the data dir is
//! `$MEM0_DIFY_DATA_DIR` or `~/.mem0-dify`; relative paths are under the data dir) and
//! `embedding_dims` (default: the model's `hidden_size`, 384 for MiniLM; checked at load).
//! The directory holds `config.json`, `tokenizer.json` and `model.safetensors`, as a
//! sentence-transformers model directory does.
//!
//! The model is loaded once, on the first call, and shared by every embedder of this process
//! naming the same directory. Inference runs on tokio's blocking pool.

mod bert;
mod matmul;
mod model;
mod weights;

use crate::adapters::config::{check_keys, positive_integer_key, string_key};
use crate::adapters::registry::BuildContext;
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::embedder::{EmbedError, EmbedPurpose, Embedder};
use async_trait::async_trait;
use model::SentenceModel;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use tokio::sync::OnceCell;
use tracing::info;

/// The provider name.
pub const PROVIDER: &str = "local";
/// The config keys accepted.
pub const ALLOWED_KEYS: &[&str] = &["model_path", "embedding_dims"];
/// The model directory under the data directory used by default.
pub const DEFAULT_MODEL_DIR: &str = "models/all-MiniLM-L6-v2";
/// The vector size assumed when neither the config nor the model directory says.
pub const DEFAULT_DIMS: usize = 384;
/// Texts embedded in one forward pass.
pub const BATCH_SIZE: usize = 32;

/// Where the model is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalEmbedderConfig {
    /// The model directory.
    pub model_path: PathBuf,
    /// The expected vector size, when configured.
    pub embedding_dims: Option<usize>,
}

impl LocalEmbedderConfig {
    /// The default model directory under `data_dir`.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self { model_path: data_dir.join(DEFAULT_MODEL_DIR), embedding_dims: None }
    }
}

/// Reads a `local` embedder block, resolving paths against the context's data directory.
pub fn from_block(block: &ProviderBlock, context: &BuildContext) -> Result<LocalEmbedderConfig, BuildError> {
    check_keys(block, ALLOWED_KEYS)?;
    let mut config = LocalEmbedderConfig::in_data_dir(context.data_dir());
    if let Some(path) = string_key(block, "model_path")? {
        config.model_path = context.resolve(&path);
    }
    config.embedding_dims = positive_integer_key(block, "embedding_dims")?;
    Ok(config)
}

/// The local sentence embedding model.
pub struct LocalEmbedder {
    config: LocalEmbedderConfig,
    dims: usize,
    model: OnceCell<Arc<SentenceModel>>,
    queue: Arc<Queue>,
}

/// Embedding requests waiting for the model, coalesced into batches: while the runners are busy,
/// the requests that arrive meanwhile (other writes and searches) wait and then run together, so
/// concurrent callers share forward passes instead of competing for the CPU. One runner per core
/// (see [`runners`]); each forward pass runs on its runner's thread, which on a small model costs
/// less than splitting every pass's small matrix products across threads.
struct Queue {
    waiting: Mutex<Waiting>,
    runners: usize,
}

impl Default for Queue {
    fn default() -> Self {
        Self { waiting: Mutex::default(), runners: runners() }
    }
}

/// Runners working at once: one per core the process may use (at least 1, at most 8).
fn runners() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 8))
}

#[derive(Default)]
struct Waiting {
    jobs: Vec<Job>,
    /// Runners working now.
    running: usize,
}

struct Job {
    texts: Vec<String>,
    reply: tokio::sync::oneshot::Sender<Result<Vec<Vec<f32>>, String>>,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a job; returns true when the caller must start a runner (fewer than [`Self::runners`]
    /// are working).
    fn push(&self, job: Job) -> bool {
        let mut waiting = self.lock();
        waiting.jobs.push(job);
        let start = waiting.running < self.runners;
        if start {
            waiting.running += 1;
        }
        start
    }

    /// Takes jobs holding up to [`BATCH_SIZE`] texts (at least one job); stops the runner when none wait.
    fn next_batch(&self) -> Vec<Job> {
        let mut waiting = self.lock();
        let mut texts = 0;
        let mut take = 0;
        for job in &waiting.jobs {
            if take > 0 && texts + job.texts.len() > BATCH_SIZE {
                break;
            }
            texts += job.texts.len();
            take += 1;
        }
        if take == 0 {
            waiting.running -= 1;
        }
        waiting.jobs.drain(..take).collect()
    }

    /// Runs batches until no job waits (on a blocking thread).
    fn run(&self, model: &SentenceModel) {
        loop {
            let jobs = self.next_batch();
            if jobs.is_empty() {
                return;
            }
            let texts: Vec<String> = jobs.iter().flat_map(|j| j.texts.iter().cloned()).collect();
            // A panic inside the model must not leave the queue without a runner.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| embed_in_passes(model, &texts)))
                .unwrap_or_else(|_| Err("the local model panicked".to_owned()));
            match outcome {
                Ok(vectors) => {
                    let mut vectors = vectors.into_iter();
                    for job in jobs {
                        let mine: Vec<Vec<f32>> = vectors.by_ref().take(job.texts.len()).collect();
                        let _ = job.reply.send(Ok(mine));
                    }
                }
                Err(e) => {
                    for job in jobs {
                        let _ = job.reply.send(Err(e.clone()));
                    }
                }
            }
        }
    }
}

impl LocalEmbedder {
    /// An embedder for this configuration; the model is loaded on the first call.
    pub fn new(config: LocalEmbedderConfig) -> Self {
        let dims =
            config.embedding_dims.or_else(|| model::declared_hidden_size(&config.model_path)).unwrap_or(DEFAULT_DIMS);
        Self { config, dims, model: OnceCell::new(), queue: Arc::default() }
    }

    /// Its configuration.
    pub fn config(&self) -> &LocalEmbedderConfig {
        &self.config
    }

    async fn model(&self) -> Result<Arc<SentenceModel>, EmbedError> {
        let dir = self.config.model_path.clone();
        let dims = self.dims;
        self.model
            .get_or_try_init(|| async move {
                let model = tokio::task::spawn_blocking(move || shared_model(&dir))
                    .await
                    .map_err(|e| EmbedError::Model(format!("the model loading task failed: {e}")))?
                    .map_err(EmbedError::Model)?;
                if model.hidden_size() != dims {
                    return Err(EmbedError::Model(format!(
                        "the model makes {}-dimensional vectors but embedding_dims is {dims}",
                        model.hidden_size()
                    )));
                }
                Ok(model)
            })
            .await
            .cloned()
    }
}

/// The model in `dir`, loaded once per process while anyone holds it.
fn shared_model(dir: &Path) -> Result<Arc<SentenceModel>, String> {
    static LOADED: OnceLock<Mutex<HashMap<PathBuf, Weak<SentenceModel>>>> = OnceLock::new();
    let mut loaded = LOADED.get_or_init(Mutex::default).lock().unwrap_or_else(PoisonError::into_inner);
    let key = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    if let Some(model) = loaded.get(&key).and_then(Weak::upgrade) {
        return Ok(model);
    }
    let started = std::time::Instant::now();
    let model = Arc::new(SentenceModel::load(dir)?);
    info!(path = %dir.display(), elapsed_ms = started.elapsed().as_millis() as u64, "local embedding model loaded");
    loaded.retain(|_, weak| weak.strong_count() > 0);
    loaded.insert(key, Arc::downgrade(&model));
    Ok(model)
}

/// Embeds texts in forward passes of up to [`BATCH_SIZE`] texts (which bounds a pass's memory),
/// returning vectors in the texts' order.
fn embed_in_passes(model: &SentenceModel, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
    let mut vectors = Vec::with_capacity(texts.len());
    for pass in texts.chunks(BATCH_SIZE) {
        vectors.extend(model.embed_batch(pass)?);
    }
    Ok(vectors)
}

#[async_trait]
impl Embedder for LocalEmbedder {
    async fn embed(&self, texts: &[String], _purpose: EmbedPurpose) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let model = self.model().await?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        if self.queue.push(Job { texts: texts.to_vec(), reply }) {
            let queue = self.queue.clone();
            tokio::task::spawn_blocking(move || queue.run(&model));
        }
        answer
            .await
            .map_err(|_| EmbedError::Model("the inference task stopped before answering".to_owned()))?
            .map_err(EmbedError::Model)
    }

    fn dimensions(&self) -> usize {
        self.dims
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::config::test_block;
    use serde_json::{json, Value};

    fn block(config: Value) -> ProviderBlock {
        test_block("local_embedder_json", PROVIDER, config)
    }

    #[test]
    fn one_runner_starts_per_core_and_each_stops_when_no_job_waits() {
        let queue = Queue { waiting: Mutex::default(), runners: 2 };
        let job = || Job { texts: vec!["t".into()], reply: tokio::sync::oneshot::channel().0 };
        assert!(queue.push(job()), "the first job starts a runner");
        assert!(queue.push(job()), "so does the second: a core is free");
        assert!(!queue.push(job()), "the third waits for a working runner");
        assert_eq!(queue.next_batch().len(), 3, "a runner takes every waiting job");
        assert!(queue.next_batch().is_empty(), "no job left: that runner stops");
        assert!(queue.push(job()), "one runner is free again");
        assert_eq!(queue.lock().running, 2);
    }

    #[test]
    fn config_keys_are_checked() {
        let config = from_block(
            &block(json!({"model_path": "/m", "embedding_dims": 384})),
            &crate::adapters::config::test_context(&[]),
        )
        .unwrap();
        assert_eq!(config, LocalEmbedderConfig { model_path: PathBuf::from("/m"), embedding_dims: Some(384) });
        let err = from_block(&block(json!({"model": "all-MiniLM-L6-v2"})), &crate::adapters::config::test_context(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown key \"model\"") && err.contains("model_path, embedding_dims"), "{err}");
    }

    #[tokio::test]
    async fn a_missing_model_is_named_with_its_path() {
        let dir = std::env::temp_dir().join("mem0-dify-no-model-here");
        let embedder = LocalEmbedder::new(LocalEmbedderConfig { model_path: dir.clone(), embedding_dims: None });
        assert_eq!(embedder.dimensions(), DEFAULT_DIMS);
        let err = embedder.embed(&["x".to_owned()], EmbedPurpose::Add).await.unwrap_err().to_string();
        assert!(err.contains(&dir.display().to_string()) && err.contains("model.safetensors"), "{err}");
        assert!(embedder.embed(&[], EmbedPurpose::Add).await.unwrap().is_empty());
    }
}
