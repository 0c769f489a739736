//! The parts of a search hit's final score, kept on a scored memory when the caller asks
//! (`explain: true`); computed by [`super::fusion`].

use serde::{Deserialize, Serialize};

/// The parts of a hit's final score (`explain: true`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoreParts {
    /// Cosine similarity to the query, in `[0, 1]`.
    pub semantic: f32,
    /// Keyword match, in `[0, 1]` (BM25 relative to the best candidate's).
    pub lexical: f32,
    /// The raw BM25 of the keyword match (0 = no shared term).
    pub bm25: f32,
    /// The weight of `semantic` in the final score.
    pub semantic_weight: f32,
    /// The weight of `lexical` in the final score.
    pub lexical_weight: f32,
    /// The reranker's score, when a reranker reordered the hits (the final score is not changed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rerank: Option<f32>,
}
