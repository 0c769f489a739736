//! A BERT encoder (the all-MiniLM-L6-v2 class: absolute positions, post-layer-norm) run over
//! several texts at once without padding: the texts' tokens are stacked into one matrix for every
//! linear layer, and attention runs per text over its own tokens. A pass costs what its tokens
//! cost, whatever the mix of lengths, and every weight is read once per pass.

use super::matmul::{matmul_t, Rows, Weight};
use super::weights::{Weights, WeightsError};
use serde::Deserialize;

/// The part of a Hugging Face BERT `config.json` the encoder uses.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct BertConfig {
    /// Width of a token's vector.
    pub(super) hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    /// Longest input the position table covers.
    pub(super) max_position_embeddings: usize,
    vocab_size: usize,
    #[serde(default = "default_type_vocab_size")]
    type_vocab_size: usize,
    #[serde(default = "default_layer_norm_eps")]
    layer_norm_eps: f64,
    #[serde(default = "default_hidden_act")]
    hidden_act: String,
    #[serde(default = "default_position_embedding_type")]
    position_embedding_type: String,
}

fn default_type_vocab_size() -> usize {
    2
}
fn default_layer_norm_eps() -> f64 {
    1e-12
}
fn default_hidden_act() -> String {
    "gelu".to_owned()
}
fn default_position_embedding_type() -> String {
    "absolute".to_owned()
}

/// Why a model could not be built from its config and weights.
#[derive(Debug, thiserror::Error)]
pub(super) enum LoadError {
    /// The configuration describes something this encoder does not run.
    #[error("unsupported config: {0}")]
    Unsupported(String),
    /// A weight is missing or has the wrong shape or type.
    #[error(transparent)]
    Weights(#[from] WeightsError),
}

/// Why a pass could not run.
#[derive(Debug, thiserror::Error)]
pub(super) enum ForwardError {
    /// A token id outside the vocabulary (the tokenizer does not belong to the model).
    #[error("token id {id} is outside the model's vocabulary of {vocab}")]
    TokenId {
        /// The id.
        id: u32,
        /// The vocabulary's size.
        vocab: usize,
    },
    /// A token type outside the model's table.
    #[error("token type {0} is outside the model's table")]
    TokenType(u32),
    /// A text longer than the position table.
    #[error("{len} tokens exceed the model's {max} positions")]
    TooLong {
        /// The text's tokens.
        len: usize,
        /// The positions the model has.
        max: usize,
    },
}

/// One text's tokens.
pub(super) struct Tokens<'a> {
    /// Vocabulary ids.
    pub(super) ids: &'a [u32],
    /// Segment ids (all 0 for a single sentence).
    pub(super) type_ids: &'a [u32],
}

/// The activation function of the feed-forward layers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Activation {
    /// `x·Φ(x)` with the exact normal CDF (`gelu`).
    Gelu,
    /// The tanh approximation of GELU (`gelu_new`, `gelu_pytorch_tanh`).
    GeluTanh,
    /// `max(x, 0)`.
    Relu,
}

impl Activation {
    fn parse(name: &str) -> Result<Self, LoadError> {
        match name {
            "gelu" => Ok(Self::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" => Ok(Self::GeluTanh),
            "relu" => Ok(Self::Relu),
            other => Err(LoadError::Unsupported(format!(
                "hidden_act \"{other}\" (expected gelu, gelu_new, gelu_pytorch_tanh or relu)"
            ))),
        }
    }

    fn apply(self, values: &mut [f32]) {
        match self {
            Self::Gelu => values.iter_mut().for_each(|x| *x *= 0.5 * (1.0 + erf(*x * std::f32::consts::FRAC_1_SQRT_2))),
            Self::GeluTanh => values.iter_mut().for_each(|x| {
                let inner = 0.797_884_6 * (*x + 0.044_715 * *x * *x * *x);
                *x *= 0.5 * (1.0 + inner.tanh());
            }),
            Self::Relu => values.iter_mut().for_each(|x| *x = x.max(0.0)),
        }
    }
}

/// The error function as a ratio of two polynomials of `x` (Eigen's fast `erf` for `f32`: at most
/// 4e-7 from the exact value in `f32` arithmetic, and beyond ±4 it is ±1 to `f32` precision).
/// Branch-free, so the compiler vectorises a loop of it; libm's `erff` took a tenth of a pass.
fn erf(x: f32) -> f32 {
    const NUMERATOR: [f32; 7] =
        [-1.609_603_3e-2, -2.954_6e-3, -7.349_906e-4, -5.692_506_4e-5, -2.101_024e-6, 2.770_681_4e-8, -2.726_142_3e-10];
    const DENOMINATOR: [f32; 5] = [-1.426_474e-2, -7.373_329e-3, -1.682_827e-3, -2.133_740_5e-4, -1.456_607_2e-5];
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let p = NUMERATOR.iter().rev().fold(0.0, |acc, c| acc * x2 + c) * x;
    let q = DENOMINATOR.iter().rev().fold(0.0, |acc, c| acc * x2 + c);
    p / q
}

/// `y = x·Wᵀ + b` with `W` stored as `outputs × inputs`.
struct Linear {
    weight: Weight,
    bias: Vec<f32>,
}

/// A linear layer's parameters as read, before they are laid out for the CPU.
struct LinearParts {
    weight: Vec<f32>,
    bias: Vec<f32>,
    inputs: usize,
}

impl LinearParts {
    fn load(weights: &Weights<'_>, name: &str, inputs: usize, outputs: usize) -> Result<Self, WeightsError> {
        Ok(Self {
            weight: weights.get(&format!("{name}.weight"), &[outputs, inputs])?,
            bias: weights.get(&format!("{name}.bias"), &[outputs])?,
            inputs,
        })
    }

    /// Several layers over the same input as one, their outputs side by side.
    fn stacked(parts: Vec<Self>) -> Self {
        let inputs = parts.first().map_or(0, |p| p.inputs);
        let mut joined = Self { weight: Vec::new(), bias: Vec::new(), inputs };
        for part in parts {
            joined.weight.extend(part.weight);
            joined.bias.extend(part.bias);
        }
        joined
    }

    fn laid_out(self) -> Linear {
        Linear { weight: Weight::new(self.weight, self.inputs, self.bias.len()), bias: self.bias }
    }
}

impl Linear {
    fn load(weights: &Weights<'_>, name: &str, inputs: usize, outputs: usize) -> Result<Self, WeightsError> {
        Ok(LinearParts::load(weights, name, inputs, outputs)?.laid_out())
    }

    /// Applies the layer to the rows of `x` (each `inputs` wide) into `out` (rows `outputs` wide).
    fn forward(&self, x: &[f32], out: &mut Vec<f32>) {
        let (inputs, outputs) = (self.weight.inputs(), self.weight.outputs());
        out.resize(x.len() / inputs * outputs, 0.0);
        self.weight.apply(Rows::dense(x, inputs), Some(&self.bias), out, outputs);
    }
}

/// Normalises each row to zero mean and unit variance, then scales and shifts it.
struct LayerNorm {
    weight: Vec<f32>,
    bias: Vec<f32>,
    eps: f32,
}

impl LayerNorm {
    fn load(weights: &Weights<'_>, name: &str, width: usize, eps: f32) -> Result<Self, WeightsError> {
        let get = |new: &str, old: &str| weights.get_any(&[format!("{name}.{new}"), format!("{name}.{old}")], &[width]);
        Ok(Self { weight: get("weight", "gamma")?, bias: get("bias", "beta")?, eps })
    }

    /// `rows = norm(rows + residual)`, row by row.
    fn add_and_apply(&self, rows: &mut [f32], residual: &[f32]) {
        let width = self.weight.len();
        for (row, res) in rows.chunks_exact_mut(width).zip(residual.chunks_exact(width)) {
            row.iter_mut().zip(res).for_each(|(x, r)| *x += r);
            self.apply_row(row);
        }
    }

    fn apply(&self, rows: &mut [f32]) {
        rows.chunks_exact_mut(self.weight.len()).for_each(|row| self.apply_row(row));
    }

    fn apply_row(&self, row: &mut [f32]) {
        let n = row.len() as f32;
        let mean = row.iter().sum::<f32>() / n;
        let variance = row.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / n;
        let scale = 1.0 / (variance + self.eps).sqrt();
        for ((x, w), b) in row.iter_mut().zip(&self.weight).zip(&self.bias) {
            *x = (*x - mean) * scale * w + b;
        }
    }
}

/// One encoder layer.
struct Layer {
    /// Query, key and value projections side by side (`3·hidden` outputs).
    qkv: Linear,
    attention_output: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

impl Layer {
    fn load(weights: &Weights<'_>, index: usize, config: &BertConfig) -> Result<Self, WeightsError> {
        let (hidden, eps) = (config.hidden_size, config.layer_norm_eps as f32);
        let at = |part: &str| format!("encoder.layer.{index}.{part}");
        let projection =
            |which: &str| LinearParts::load(weights, &at(&format!("attention.self.{which}")), hidden, hidden);
        Ok(Self {
            qkv: LinearParts::stacked(vec![projection("query")?, projection("key")?, projection("value")?]).laid_out(),
            attention_output: Linear::load(weights, &at("attention.output.dense"), hidden, hidden)?,
            attention_norm: LayerNorm::load(weights, &at("attention.output.LayerNorm"), hidden, eps)?,
            intermediate: Linear::load(weights, &at("intermediate.dense"), hidden, config.intermediate_size)?,
            output: Linear::load(weights, &at("output.dense"), config.intermediate_size, hidden)?,
            output_norm: LayerNorm::load(weights, &at("output.LayerNorm"), hidden, eps)?,
        })
    }
}

/// Buffers reused across the layers of a pass.
#[derive(Default)]
struct Scratch {
    qkv: Vec<f32>,
    context: Vec<f32>,
    projected: Vec<f32>,
    intermediate: Vec<f32>,
    scores: Vec<f32>,
}

/// The encoder with its weights.
pub(super) struct Bert {
    config: BertConfig,
    activation: Activation,
    word_embeddings: Vec<f32>,
    position_embeddings: Vec<f32>,
    token_type_embeddings: Vec<f32>,
    embeddings_norm: LayerNorm,
    layers: Vec<Layer>,
}

impl Bert {
    /// Builds the encoder from its configuration and the safetensors file's bytes.
    pub(super) fn load(config: BertConfig, safetensors: &[u8]) -> Result<Self, LoadError> {
        let activation = Activation::parse(&config.hidden_act)?;
        if config.position_embedding_type != "absolute" {
            return Err(LoadError::Unsupported(format!(
                "position_embedding_type \"{}\" (expected absolute)",
                config.position_embedding_type
            )));
        }
        if config.num_attention_heads == 0 || !config.hidden_size.is_multiple_of(config.num_attention_heads) {
            return Err(LoadError::Unsupported(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                config.hidden_size, config.num_attention_heads
            )));
        }
        let probe = "embeddings.word_embeddings.weight";
        let weights = Weights::parse(safetensors, &["", "bert.", "model."], probe)?;
        let hidden = config.hidden_size;
        let eps = config.layer_norm_eps as f32;
        let layers =
            (0..config.num_hidden_layers).map(|i| Layer::load(&weights, i, &config)).collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            activation,
            word_embeddings: weights.get(probe, &[config.vocab_size, hidden])?,
            position_embeddings: weights
                .get("embeddings.position_embeddings.weight", &[config.max_position_embeddings, hidden])?,
            token_type_embeddings: weights
                .get("embeddings.token_type_embeddings.weight", &[config.type_vocab_size, hidden])?,
            embeddings_norm: LayerNorm::load(&weights, "embeddings.LayerNorm", hidden, eps)?,
            layers,
            config,
        })
    }

    /// The width of the vectors.
    pub(super) fn hidden_size(&self) -> usize {
        self.config.hidden_size
    }

    /// Each text's mean token vector (over all its tokens), L2-normalised.
    pub(super) fn embed(&self, texts: &[Tokens<'_>]) -> Result<Vec<Vec<f32>>, ForwardError> {
        let hidden = self.config.hidden_size;
        let mut states = self.embeddings(texts)?;
        let mut scratch = Scratch::default();
        for layer in &self.layers {
            self.layer(layer, texts, &mut states, &mut scratch);
        }
        let mut start = 0;
        Ok(texts
            .iter()
            .map(|text| {
                let rows = &states[start * hidden..(start + text.ids.len()) * hidden];
                start += text.ids.len();
                mean_normalised(rows, hidden)
            })
            .collect())
    }

    /// Word + position + token type embeddings of every token, normalised.
    fn embeddings(&self, texts: &[Tokens<'_>]) -> Result<Vec<f32>, ForwardError> {
        let hidden = self.config.hidden_size;
        let total: usize = texts.iter().map(|t| t.ids.len()).sum();
        let mut states = Vec::with_capacity(total * hidden);
        for text in texts {
            if text.ids.len() > self.config.max_position_embeddings {
                return Err(ForwardError::TooLong { len: text.ids.len(), max: self.config.max_position_embeddings });
            }
            for (position, (&id, &kind)) in text.ids.iter().zip(text.type_ids).enumerate() {
                let word = row(&self.word_embeddings, id as usize, hidden)
                    .ok_or(ForwardError::TokenId { id, vocab: self.config.vocab_size })?;
                let kind =
                    row(&self.token_type_embeddings, kind as usize, hidden).ok_or(ForwardError::TokenType(kind))?;
                let place = &self.position_embeddings[position * hidden..(position + 1) * hidden];
                states.extend(word.iter().zip(place).zip(kind).map(|((w, p), k)| w + p + k));
            }
        }
        self.embeddings_norm.apply(&mut states);
        Ok(states)
    }

    /// One encoder layer over every token of the pass, in place.
    fn layer(&self, layer: &Layer, texts: &[Tokens<'_>], states: &mut Vec<f32>, s: &mut Scratch) {
        let hidden = self.config.hidden_size;
        layer.qkv.forward(states, &mut s.qkv);
        s.context.resize(states.len(), 0.0);
        let mut start = 0;
        for text in texts {
            self.attention(&s.qkv, start, text.ids.len(), &mut s.context, &mut s.scores);
            start += text.ids.len();
        }
        layer.attention_output.forward(&s.context, &mut s.projected);
        layer.attention_norm.add_and_apply(&mut s.projected, states);
        std::mem::swap(states, &mut s.projected);
        layer.intermediate.forward(states, &mut s.intermediate);
        self.activation.apply(&mut s.intermediate);
        layer.output.forward(&s.intermediate, &mut s.projected);
        layer.output_norm.add_and_apply(&mut s.projected, states);
        std::mem::swap(states, &mut s.projected);
        debug_assert_eq!(states.len() % hidden, 0);
    }

    /// Multi-head self-attention of one text (tokens `start..start+len` of `qkv`, whose rows hold
    /// query, key and value side by side) into the same rows of `context`.
    fn attention(&self, qkv: &[f32], start: usize, len: usize, context: &mut [f32], scores: &mut Vec<f32>) {
        let hidden = self.config.hidden_size;
        let heads = self.config.num_attention_heads;
        let head = hidden / heads;
        let stride = 3 * hidden;
        let scale = 1.0 / (head as f32).sqrt();
        if len == 0 {
            return; // a text without tokens (a tokenizer that adds none to an empty string)
        }
        let rows = &qkv[start * stride..(start + len) * stride];
        scores.resize(len * len, 0.0);
        for h in 0..heads {
            let column = h * head;
            let query = Rows::new(&rows[column..], len, head, stride);
            let key = Rows::new(&rows[hidden + column..], len, head, stride);
            matmul_t(query, key, None, scores, len);
            for row in scores.chunks_exact_mut(len) {
                softmax(row, scale);
            }
            for (i, weights) in scores.chunks_exact(len).enumerate() {
                let out = &mut context[(start + i) * hidden + column..(start + i) * hidden + column + head];
                out.fill(0.0);
                for (j, &p) in weights.iter().enumerate() {
                    let value = &rows[j * stride + 2 * hidden + column..j * stride + 2 * hidden + column + head];
                    out.iter_mut().zip(value).for_each(|(o, v)| *o += p * v);
                }
            }
        }
    }
}

/// Row `index` of a table of `width`-wide rows, if it has one.
fn row(table: &[f32], index: usize, width: usize) -> Option<&[f32]> {
    table.get(index * width..(index + 1) * width)
}

/// `row = softmax(row · scale)`.
fn softmax(row: &mut [f32], scale: f32) {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x)) * scale;
    let mut sum = 0.0;
    for x in row.iter_mut() {
        *x = (*x * scale - max).exp();
        sum += *x;
    }
    row.iter_mut().for_each(|x| *x /= sum);
}

/// The mean of `rows` (each `width` wide), scaled to unit length.
fn mean_normalised(rows: &[f32], width: usize) -> Vec<f32> {
    let mut mean = vec![0.0f32; width];
    let count = (rows.len() / width).max(1) as f32;
    for row in rows.chunks_exact(width) {
        mean.iter_mut().zip(row).for_each(|(m, x)| *m += x);
    }
    mean.iter_mut().for_each(|m| *m /= count);
    let norm = mean.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    mean.iter_mut().for_each(|m| *m /= norm);
    mean
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(changes: serde_json::Value) -> BertConfig {
        let mut config = serde_json::json!({
            "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16,
            "max_position_embeddings": 4, "vocab_size": 5
        });
        config.as_object_mut().unwrap().extend(changes.as_object().unwrap().clone());
        serde_json::from_value(config).unwrap()
    }

    fn load_error(changes: serde_json::Value) -> String {
        let empty = safetensors::serialize(Vec::<(String, safetensors::tensor::TensorView<'_>)>::new(), None).unwrap();
        Bert::load(config(changes), &empty).err().expect("refused").to_string()
    }

    #[test]
    fn a_model_the_encoder_does_not_run_is_refused_naming_the_key() {
        assert!(load_error(serde_json::json!({"hidden_act": "swish"})).contains("hidden_act \"swish\""));
        let positions = load_error(serde_json::json!({"position_embedding_type": "relative_key"}));
        assert!(positions.contains("position_embedding_type \"relative_key\""), "{positions}");
        assert!(load_error(serde_json::json!({"num_attention_heads": 3})).contains("num_attention_heads 3"));
        let missing = load_error(serde_json::json!({}));
        assert!(missing.contains("no tensor `encoder.layer.0.attention.self.query.weight`"), "{missing}");
    }

    /// A tiny encoder with deterministic weights (hidden 8, 2 heads, 1 layer).
    fn tiny() -> Bert {
        let config = config(serde_json::json!({}));
        let shapes: Vec<(String, Vec<usize>)> = [
            ("embeddings.word_embeddings.weight", vec![5, 8]),
            ("embeddings.position_embeddings.weight", vec![4, 8]),
            ("embeddings.token_type_embeddings.weight", vec![2, 8]),
            ("embeddings.LayerNorm.weight", vec![8]),
            ("embeddings.LayerNorm.bias", vec![8]),
        ]
        .into_iter()
        .map(|(n, s)| (n.to_owned(), s))
        .chain(
            [
                ("attention.self.query", 8, 8),
                ("attention.self.key", 8, 8),
                ("attention.self.value", 8, 8),
                ("attention.output.dense", 8, 8),
                ("intermediate.dense", 8, 16),
                ("output.dense", 16, 8),
            ]
            .into_iter()
            .flat_map(|(n, inputs, outputs)| {
                [
                    (format!("encoder.layer.0.{n}.weight"), vec![outputs, inputs]),
                    (format!("encoder.layer.0.{n}.bias"), vec![outputs]),
                ]
            }),
        )
        .chain(["attention.output.LayerNorm", "output.LayerNorm"].into_iter().flat_map(|n| {
            [(format!("encoder.layer.0.{n}.weight"), vec![8]), (format!("encoder.layer.0.{n}.bias"), vec![8])]
        }))
        .collect();
        let data: Vec<Vec<u8>> = shapes
            .iter()
            .enumerate()
            .map(|(t, (_, shape))| {
                let n: usize = shape.iter().product();
                let mut state = (t as u32 + 1).wrapping_mul(2_654_435_761);
                (0..n)
                    .flat_map(|_| {
                        state ^= state << 13;
                        state ^= state >> 17;
                        state ^= state << 5;
                        ((state % 2000) as f32 / 1000.0 - 1.0).to_le_bytes()
                    })
                    .collect::<Vec<u8>>()
            })
            .collect();
        let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = shapes
            .iter()
            .zip(&data)
            .map(|((name, shape), bytes)| {
                (
                    name.clone(),
                    safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes).unwrap(),
                )
            })
            .collect();
        Bert::load(config, &safetensors::serialize(views, None).unwrap()).unwrap()
    }

    #[test]
    fn texts_side_by_side_get_the_vectors_they_get_alone() {
        let bert = tiny();
        let texts: [&[u32]; 4] = [&[1, 2, 3, 4], &[4], &[], &[2, 0]];
        let zeros = [0u32; 4];
        let tokens: Vec<Tokens<'_>> = texts.iter().map(|ids| Tokens { ids, type_ids: &zeros[..ids.len()] }).collect();
        let together = bert.embed(&tokens).unwrap();
        for (text, vector) in tokens.iter().zip(&together) {
            let alone = bert.embed(std::slice::from_ref(text)).unwrap();
            assert_eq!(alone[0].len(), 8);
            let diff = alone[0].iter().zip(vector).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(diff < 1e-6, "{:?}: {diff}", text.ids);
        }
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm(&together[0]) - 1.0).abs() < 1e-5);
        assert_eq!(together[2], vec![0.0; 8], "no tokens, no direction");
        assert!((together[0].iter().zip(&together[1]).map(|(a, b)| a * b).sum::<f32>() - 1.0).abs() > 1e-3);
    }

    #[test]
    fn ids_outside_the_model_are_errors_not_panics() {
        let bert = tiny();
        let err = |ids: &[u32], types: &[u32]| bert.embed(&[Tokens { ids, type_ids: types }]).unwrap_err().to_string();
        assert!(err(&[9], &[0]).contains("token id 9 is outside the model's vocabulary of 5"));
        assert!(err(&[1], &[2]).contains("token type 2"));
        assert!(err(&[1; 5], &[0; 5]).contains("5 tokens exceed the model's 4 positions"));
    }

    #[test]
    fn softmax_is_a_distribution_that_keeps_the_order() {
        let mut row = [1.0, 3.0, 2.0, 10.0];
        softmax(&mut row, 0.5);
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(row[3] > 0.9 && row[1] > row[2] && row[2] > row[0], "{row:?}");
        let mut large = [1000.0, 1000.0];
        softmax(&mut large, 1.0);
        assert_eq!(large, [0.5, 0.5], "no overflow");
    }

    #[test]
    fn the_fast_error_function_is_within_1e_6_of_the_exact_one() {
        for i in -8000..=8000 {
            let x = i as f32 / 1000.0;
            let (fast, exact) = (erf(x), libm::erf(f64::from(x)));
            assert!((f64::from(fast) - exact).abs() < 1e-6, "erf({x}) = {fast}, exactly {exact}");
        }
    }

    #[test]
    fn activations_match_their_definitions() {
        let mut v = [-1.0f32, 0.0, 2.0];
        Activation::Gelu.apply(&mut v);
        // x·Φ(x): Φ(-1) = 0.158655, Φ(2) = 0.977250.
        assert!((v[0] + 0.158_655).abs() < 1e-5 && v[1] == 0.0 && (v[2] - 1.9545).abs() < 1e-5, "{v:?}");
        let mut t = [2.0f32];
        Activation::GeluTanh.apply(&mut t);
        assert!((t[0] - 1.954_598).abs() < 1e-4, "{t:?}");
        let mut r = [-2.0f32, 3.0];
        Activation::Relu.apply(&mut r);
        assert_eq!(r, [0.0, 3.0]);
        assert!(Activation::parse("swish").unwrap_err().to_string().contains("hidden_act \"swish\""));
    }

    #[test]
    fn a_layer_norm_row_has_zero_mean_and_unit_variance_before_its_scale() {
        let norm = LayerNorm { weight: vec![2.0; 4], bias: vec![1.0; 4], eps: 1e-12 };
        let mut rows = [1.0, 2.0, 3.0, 4.0];
        norm.add_and_apply(&mut rows, &[1.0, 1.0, 1.0, 1.0]);
        let back: Vec<f32> = rows.iter().map(|x| (x - 1.0) / 2.0).collect();
        assert!(back.iter().sum::<f32>().abs() < 1e-5);
        assert!((back.iter().map(|x| x * x).sum::<f32>() / 4.0 - 1.0).abs() < 1e-4, "{back:?}");
    }

    #[test]
    fn the_mean_vector_has_unit_length() {
        let v = mean_normalised(&[3.0, 0.0, 3.0, 8.0], 2);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6, "{v:?}");
    }
}
