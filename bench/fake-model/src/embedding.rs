//! The deterministic text embedding of bench/harness/embedding.py, bit for bit: a weighted, hashed
//! bag of stemmed content words (two signed buckets per word), L2-normalised. The harness computes
//! the same vectors for its ground truth; bench/harness/fake_model_check.py compares the two.

use crate::blake2b;

const STOPWORDS: &[&str] = &[
    "a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "at", "for", "with", "from", "by", "about", "as",
    "is", "am", "are", "was", "were", "be", "been", "being", "do", "does", "did", "i", "me", "my", "mine", "we", "our",
    "you", "your", "he", "she", "his", "her", "it", "its", "they", "them", "their", "this", "that", "these", "those",
    "there", "here", "what", "which", "who", "whom", "whose", "where", "when", "why", "how", "can", "could", "would",
    "should", "will", "shall", "may", "might", "must", "have", "has", "had", "not", "no", "so", "very", "really",
    "just", "also", "too", "than", "then", "usually", "every", "some", "any", "user", "users",
];

/// Python's `stem`: a light suffix stripper (lives/live/lived/living -> liv, cities -> city).
/// Tokens are ASCII (`[a-z0-9]+`), so byte slicing is character slicing.
fn stem(word: &str) -> String {
    if word.len() <= 3 {
        return word.to_string();
    }
    let mut w = word.to_string();
    if w.ends_with("ies") && w.len() > 4 {
        w.truncate(w.len() - 3);
        w.push('y');
    } else if ["sses", "xes", "zes", "ches", "shes"].iter().any(|s| w.ends_with(s)) {
        w.truncate(w.len() - 2);
    } else if w.ends_with('s') && !["ss", "us", "is"].iter().any(|s| w.ends_with(s)) {
        w.truncate(w.len() - 1);
    }
    for suffix in ["ing", "ed"] {
        if w.ends_with(suffix) && w.len() >= suffix.len() + 3 {
            w.truncate(w.len() - suffix.len());
            let b = w.as_bytes();
            if b.len() > 3 && b[b.len() - 1] == b[b.len() - 2] && !b"lsz".contains(&b[b.len() - 1]) {
                w.truncate(w.len() - 1);
            }
            break;
        }
    }
    if w.ends_with('e') && w.len() > 3 {
        w.truncate(w.len() - 1);
    }
    w
}

/// Python's `tokens`: runs of `[a-z0-9]` in the lower-cased text, stop words dropped, stemmed.
pub fn tokens(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    lower
        .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
        .filter(|t| !t.is_empty() && !STOPWORDS.contains(t))
        .map(stem)
        .collect()
}

/// CPython 3.12's `sum()` of floats: Neumaier's compensated summation, compensation added last.
fn python_sum(xs: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut c) = (0.0f64, 0.0f64);
    for x in xs {
        let t = sum + x;
        if sum.abs() >= x.abs() {
            c += (sum - t) + x;
        } else {
            c += (x - t) + sum;
        }
        sum = t;
    }
    if c != 0.0 && c.is_finite() {
        sum += c;
    }
    sum
}

/// The embedding of `text` with `dims` dimensions (Python's `embed`).
pub fn embed(text: &str, dims: usize) -> Vec<f64> {
    let dims = dims.max(1);
    let mut v = vec![0.0f64; dims];
    for tok in tokens(text) {
        let h: [u8; 12] = blake2b::digest(tok.as_bytes());
        let weight = 0.5 + f64::from(u32::from_le_bytes([h[8], h[9], h[10], h[11]])) / 4_294_967_296.0;
        let sign = if h[4] & 1 == 1 { 1.0 } else { -1.0 };
        let first = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize % dims;
        let second = u32::from_le_bytes([h[5], h[6], h[7], 0]) as usize % dims;
        v[first] += sign * weight;
        v[second] += 0.5 * sign * weight;
    }
    let n = python_sum(v.iter().map(|x| x * x)).sqrt();
    if n == 0.0 {
        v[0] = 1.0;
        return v;
    }
    v.iter().map(|x| x / n).collect()
}

#[cfg(test)]
mod tests {
    use super::{embed, stem, tokens};

    #[test]
    fn stems_like_the_python_harness() {
        for (word, want) in [
            ("lives", "liv"),
            ("living", "liv"),
            ("lived", "liv"),
            ("cities", "city"),
            ("watches", "watch"),
            ("running", "run"),
            ("likes", "lik"),
            ("bus", "bus"),
        ] {
            assert_eq!(stem(word), want, "{word}");
        }
        assert_eq!(tokens("I live in Porto, and I LOVE sushi!"), ["liv", "porto", "lov", "sushi"]);
    }

    #[test]
    fn empty_text_is_the_first_unit_vector() {
        let v = embed("the and of", 8);
        assert_eq!(v, [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn vectors_are_unit_length() {
        let v = embed("Lives in Porto and works as a nurse", 384);
        let n: f64 = v.iter().map(|x| x * x).sum();
        assert!((n - 1.0).abs() < 1e-12, "{n}");
    }
}
