//! Hybrid search scores: how the vector similarity and the keyword (BM25) match of a memory make
//! one final score in `[0, 1]`.
//!
//! The rule (chosen on LoCoMo's development conversations, see BENCHMARKS.md):
//! `final = SEMANTIC_WEIGHT × semantic + LEXICAL_WEIGHT × lexical`, where `semantic` is the cosine
//! similarity (clamped to `[0, 1]`) and `lexical` is the square of the memory's BM25 divided by
//! the best BM25 among the candidates of this search (so the best keyword match has 1, a memory
//! sharing no term 0, and one matching half as well as the best 0.25: a match on one common word
//! of the question counts little beside the match of its rare words). The weights add up to 1, so the final score is in `[0, 1]`; `explain` shows both
//! components and weights, and `semantic_weight × semantic + lexical_weight × lexical` gives the
//! score back.

use super::memory::{MemoryRecord, ScoredMemory, Similarity};
pub use super::score_parts::ScoreParts;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// The weight of the vector similarity in a hybrid score.
pub const SEMANTIC_WEIGHT: f32 = 0.5;
/// The weight of the keyword match in a hybrid score.
pub const LEXICAL_WEIGHT: f32 = 1.0 - SEMANTIC_WEIGHT;

/// Which signals a search ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Retrieval {
    /// Vector similarity and keyword match, fused (the default).
    #[default]
    Hybrid,
    /// Vector similarity only (the plugin's search before hybrid retrieval).
    Semantic,
    /// Keyword match only (BM25).
    Lexical,
}

impl Retrieval {
    /// Parses a mode name (`hybrid`, `semantic`, `lexical`).
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "hybrid" => Some(Self::Hybrid),
            "semantic" => Some(Self::Semantic),
            "lexical" => Some(Self::Lexical),
            _ => None,
        }
    }

    /// The weights of the semantic and lexical components in this mode.
    pub fn weights(self) -> (f32, f32) {
        match self {
            Self::Hybrid => (SEMANTIC_WEIGHT, LEXICAL_WEIGHT),
            Self::Semantic => (1.0, 0.0),
            Self::Lexical => (0.0, 1.0),
        }
    }
}

/// A memory found by the vector search, the keyword search or both.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The memory.
    pub record: MemoryRecord,
    /// Its vector similarity to the query.
    pub semantic: Similarity,
    /// Its BM25 for the query's terms (0 when it shares none, or was not a keyword candidate).
    pub bm25: f32,
}

/// Scores the candidates by the mode's rule, best first (ties: newer first).
pub fn fuse(candidates: Vec<Candidate>, mode: Retrieval) -> Vec<ScoredMemory> {
    let (ws, wl) = mode.weights();
    let best_bm25 = candidates.iter().map(|c| c.bm25).fold(0.0f32, f32::max);
    let mut scored: Vec<ScoredMemory> = candidates
        .into_iter()
        .filter(|c| mode != Retrieval::Lexical || c.bm25 > 0.0)
        .map(|c| {
            let semantic = c.semantic.value();
            let lexical = if best_bm25 > 0.0 { (c.bm25 / best_bm25).clamp(0.0, 1.0).powi(2) } else { 0.0 };
            let parts =
                ScoreParts { semantic, lexical, bm25: c.bm25, semantic_weight: ws, lexical_weight: wl, rerank: None };
            ScoredMemory {
                record: c.record,
                score: Similarity::from_cosine(ws * semantic + wl * lexical),
                rerank_score: None,
                parts: Some(parts),
            }
        })
        .collect();
    scored.sort_by(|a, b| {
        b.score
            .value()
            .partial_cmp(&a.score.value())
            .unwrap_or(Ordering::Equal)
            .then_with(|| b.record.created_at.cmp(&a.record.created_at))
    });
    scored
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::memory::{MemoryId, MemoryText, Metadata};
    use crate::domain::scope::Scope;
    use chrono::Utc;
    use uuid::Uuid;

    fn candidate(n: u128, semantic: f32, bm25: f32) -> Candidate {
        let record = MemoryRecord::new(
            MemoryId::from_uuid(Uuid::from_u128(n)),
            MemoryText::parse("t", &format!("m{n}")).unwrap(),
            Metadata::default(),
            Scope::parse(Some("u"), None, None).unwrap(),
            Utc::now(),
        );
        Candidate { record, semantic: Similarity::from_cosine(semantic), bm25 }
    }

    fn ids(found: &[ScoredMemory]) -> Vec<u128> {
        found.iter().map(|s| s.record.id.as_uuid().as_u128()).collect()
    }

    #[test]
    fn hybrid_scores_are_the_weighted_sum_of_the_parts_in_unit_range() {
        let found =
            fuse(vec![candidate(1, 0.9, 0.0), candidate(2, 0.5, 8.0), candidate(3, 0.6, 4.0)], Retrieval::Hybrid);
        // Half the best BM25 counts a quarter: 3 (0.3 + 0.5 × 0.25) ranks below 1 (0.45).
        assert_eq!(ids(&found), vec![2, 1, 3]);
        assert_eq!(found[2].parts.unwrap().lexical, 0.25);
        for hit in &found {
            let p = hit.parts.unwrap();
            assert!((0.0..=1.0).contains(&hit.score.value()));
            assert!((p.semantic_weight * p.semantic + p.lexical_weight * p.lexical - hit.score.value()).abs() < 1e-6);
            assert!((p.semantic_weight + p.lexical_weight - 1.0).abs() < 1e-6);
        }
        assert_eq!(found[0].parts.unwrap().lexical, 1.0);
    }

    #[test]
    fn single_signal_modes_rank_by_their_signal_only() {
        let all = || vec![candidate(1, 0.9, 0.0), candidate(2, 0.5, 8.0), candidate(3, 0.6, 4.0)];
        assert_eq!(ids(&fuse(all(), Retrieval::Semantic)), vec![1, 3, 2]);
        assert_eq!(ids(&fuse(all(), Retrieval::Lexical)), vec![2, 3]);
        assert_eq!(Retrieval::parse(" Lexical "), Some(Retrieval::Lexical));
        assert_eq!(Retrieval::parse("bm25"), None);
    }
}
