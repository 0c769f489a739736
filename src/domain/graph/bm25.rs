//! Okapi BM25 over a small in-memory corpus, used to rerank the relations a graph search finds.
//!
//! Unlike Mem0's use of `rank_bm25` (query split on spaces, case-sensitive, punctuation kept,
//! while the documents are lower-case `snake_case` triples), the query and the documents go
//! through the same [`tokenize`]: lower case, split on anything that is not a letter or digit
//! (so `lives_in` gives `lives`, `in`). The IDF is the non-negative
//! `ln(1 + (N − n + 0.5) / (n + 0.5))`, so a term present in most candidates never scores
//! below zero, and callers keep the input order for ties instead of reversing it.

use std::collections::{HashMap, HashSet};

/// Term frequency saturation.
pub const K1: f64 = 1.2;
/// Length normalization.
pub const B: f64 = 0.75;

/// Lower-cases `text` and splits it into runs of letters and digits (any script).
pub fn tokenize(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()).map(str::to_lowercase).collect()
}

/// BM25 score of every document for `query`, in document order. Each distinct query term
/// counts once. All scores are zero when the corpus or the query is empty.
pub fn scores(documents: &[Vec<String>], query: &[String]) -> Vec<f64> {
    let count = documents.len();
    let total_len: usize = documents.iter().map(Vec::len).sum();
    if count == 0 || total_len == 0 {
        return vec![0.0; count];
    }
    let average_len = total_len as f64 / count as f64;
    let terms: HashSet<&str> = query.iter().map(String::as_str).collect();
    let idf: HashMap<&str, f64> = terms
        .iter()
        .map(|term| {
            let containing = documents.iter().filter(|doc| doc.iter().any(|t| t == term)).count() as f64;
            (*term, (1.0 + (count as f64 - containing + 0.5) / (containing + 0.5)).ln())
        })
        .collect();
    documents
        .iter()
        .map(|doc| {
            let norm = K1 * (1.0 - B + B * doc.len() as f64 / average_len);
            idf.iter()
                .map(|(term, weight)| {
                    let tf = doc.iter().filter(|t| t == term).count() as f64;
                    weight * tf * (K1 + 1.0) / (tf + norm)
                })
                .sum()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(texts: &[&str]) -> Vec<Vec<String>> {
        texts.iter().map(|t| tokenize(t)).collect()
    }

    #[test]
    fn tokens_ignore_case_punctuation_and_underscores() {
        assert_eq!(tokenize("Where does Alice_Smith live?"), vec!["where", "does", "alice", "smith", "live"]);
        assert_eq!(tokenize("喜欢 咖啡"), vec!["喜欢", "咖啡"]);
        assert!(tokenize(" ?! ").is_empty());
    }

    #[test]
    fn matching_documents_outrank_others_and_rare_terms_weigh_more() {
        let corpus = docs(&["alice lives_in paris", "alice works_at acme", "bob lives_in berlin"]);
        let s = scores(&corpus, &tokenize("Where does Alice work? acme"));
        assert!(s[1] > s[0] && s[0] > s[2], "{s:?}");
        assert_eq!(s[2], 0.0);
        let s = scores(&corpus, &tokenize("paris"));
        assert!(s[0] > 0.0 && s[1] == 0.0 && s[2] == 0.0);
    }

    #[test]
    fn scores_are_never_negative_even_for_common_terms() {
        let corpus = docs(&["alice likes tea", "alice likes coffee", "alice likes jazz"]);
        let s = scores(&corpus, &tokenize("alice"));
        assert!(s.iter().all(|v| *v > 0.0), "{s:?}");
        assert!((s[0] - s[1]).abs() < 1e-12);
    }

    #[test]
    fn known_value() {
        // N=2, "tea" in 1 doc: idf = ln(1 + 1.5/1.5) = ln 2; equal lengths, tf=1:
        // score = ln2 * 1 * 2.2 / (1 + 1.2) = ln 2.
        let s = scores(&docs(&["alice likes tea", "bob likes jazz"]), &tokenize("tea tea"));
        assert!((s[0] - std::f64::consts::LN_2).abs() < 1e-12, "{s:?}");
        assert_eq!(s[1], 0.0);
    }

    #[test]
    fn empty_inputs() {
        assert!(scores(&[], &tokenize("x")).is_empty());
        assert_eq!(scores(&docs(&["a b"]), &[]), vec![0.0]);
    }
}
