//! Named weight tensors read from a safetensors file as `f32` (F32, F16 and BF16 files), each
//! checked against the shape the model expects.

use safetensors::{Dtype, SafeTensors};

/// Why a weight could not be read.
#[derive(Debug, thiserror::Error)]
pub(super) enum WeightsError {
    /// The file is not a safetensors file.
    #[error("not a safetensors file: {0}")]
    Format(#[source] safetensors::SafeTensorError),
    /// A tensor the model needs is absent (under every prefix tried).
    #[error("no tensor `{0}`")]
    Missing(String),
    /// A tensor has another shape than the configuration implies.
    #[error("tensor `{name}` has shape {found:?}, expected {expected:?}")]
    Shape {
        /// The tensor.
        name: String,
        /// What the configuration implies.
        expected: Vec<usize>,
        /// What the file holds.
        found: Vec<usize>,
    },
    /// A tensor's element type is not a float type this reader converts.
    #[error("tensor `{name}` holds {dtype:?} values; F32, F16 or BF16 expected")]
    DType {
        /// The tensor.
        name: String,
        /// Its element type.
        dtype: Dtype,
    },
}

/// The tensors of one file, looked up under a name prefix (`bert.` in some exports, none in
/// sentence-transformers' ones).
pub(super) struct Weights<'a> {
    tensors: SafeTensors<'a>,
    prefix: String,
}

impl<'a> Weights<'a> {
    /// Reads the file's header; `probe` picks the prefix: the first of `prefixes` under which
    /// `probe` exists (no prefix when none does, so the error names the plain tensor).
    pub(super) fn parse(bytes: &'a [u8], prefixes: &[&str], probe: &str) -> Result<Self, WeightsError> {
        let tensors = SafeTensors::deserialize(bytes).map_err(WeightsError::Format)?;
        let prefix = prefixes.iter().find(|p| tensors.tensor(&format!("{p}{probe}")).is_ok()).copied().unwrap_or("");
        Ok(Self { tensors, prefix: prefix.to_owned() })
    }

    /// The tensor `name` as `f32` values, which must have `shape`.
    pub(super) fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, WeightsError> {
        let full = format!("{}{name}", self.prefix);
        let view = self.tensors.tensor(&full).map_err(|_| WeightsError::Missing(full.clone()))?;
        if view.shape() != shape {
            return Err(WeightsError::Shape { name: full, expected: shape.to_vec(), found: view.shape().to_vec() });
        }
        let bytes = view.data();
        Ok(match view.dtype() {
            Dtype::F32 => bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            Dtype::F16 => bytes.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            Dtype::BF16 => bytes.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            dtype => return Err(WeightsError::DType { name: full, dtype }),
        })
    }

    /// The first of `names` present, read as [`Self::get`] does (older exports name a layer
    /// norm's parameters `gamma`/`beta` instead of `weight`/`bias`).
    pub(super) fn get_any(&self, names: &[String], shape: &[usize]) -> Result<Vec<f32>, WeightsError> {
        let mut first_error = None;
        for name in names {
            match self.get(name, shape) {
                Err(WeightsError::Missing(missing)) => {
                    first_error.get_or_insert(WeightsError::Missing(missing));
                }
                other => return other,
            }
        }
        Err(first_error.unwrap_or_else(|| WeightsError::Missing(String::new())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::tensor::TensorView;

    fn file(tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
        let views: Vec<(String, TensorView<'_>)> = tensors
            .iter()
            .map(|(name, dtype, shape, data)| (name.to_string(), TensorView::new(*dtype, shape.clone(), data).unwrap()))
            .collect();
        safetensors::serialize(views, None).unwrap()
    }

    #[test]
    fn floats_of_every_width_are_read_and_shapes_checked() {
        let f32s: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let f16s: Vec<u8> =
            [half::f16::from_f32(0.5), half::f16::from_f32(3.0)].iter().flat_map(|v| v.to_le_bytes()).collect();
        let bf16s: Vec<u8> = [half::bf16::from_f32(-1.0)].iter().flat_map(|v| v.to_le_bytes()).collect();
        let ints: Vec<u8> = 7i64.to_le_bytes().to_vec();
        let bytes = file(&[
            ("bert.a", Dtype::F32, vec![2], f32s),
            ("bert.b", Dtype::F16, vec![1, 2], f16s),
            ("bert.c", Dtype::BF16, vec![1], bf16s),
            ("bert.d", Dtype::I64, vec![1], ints),
        ]);
        let weights = Weights::parse(&bytes, &["", "bert."], "a").unwrap();
        assert_eq!(weights.get("a", &[2]).unwrap(), vec![1.5, -2.0]);
        assert_eq!(weights.get("b", &[1, 2]).unwrap(), vec![0.5, 3.0]);
        assert_eq!(weights.get_any(&["x".into(), "c".into()], &[1]).unwrap(), vec![-1.0]);
        let wrong = weights.get("a", &[3]).unwrap_err().to_string();
        assert!(wrong.contains("`bert.a` has shape [2], expected [3]"), "{wrong}");
        assert!(weights.get("d", &[1]).unwrap_err().to_string().contains("I64"));
        assert!(weights.get_any(&["x".into(), "y".into()], &[1]).unwrap_err().to_string().contains("`bert.x`"));
        assert!(Weights::parse(b"not a file", &[""], "a").is_err());
    }
}
