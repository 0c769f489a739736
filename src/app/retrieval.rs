//! Hybrid retrieval: the candidates of a search from the vector and the keyword side, fused into
//! one ranking (the rule is in [`crate::domain::fusion`]).
//!
//! Both sides fetch [`CANDIDATES`] memories (or more when more are asked for), always inside the
//! caller's scope and filter. For a store that keeps no lexical index
//! ([`VectorStore::keeps_lexical_index`] false) BM25 is computed here over [`FALLBACK_CANDIDATES`] vector candidates, so a memory
//! sharing a rare word with the query is found only when it is among them.

use crate::domain::fusion::{self, Candidate, Retrieval};
use crate::domain::lexical;
use crate::domain::memory::{MemoryId, ScoredMemory};
use crate::domain::operations::SearchRequest;
use crate::ports::store::StoreError;
use crate::ports::vector_store::{LexicalQuery, VectorQuery, VectorStore};
use std::collections::HashMap;

/// How many candidates each side of a hybrid search fetches (at least).
///
/// A memory that only one side brings back is fused with 0 for the other side's signal, so the
/// pool must be deeper than the answer: on LoCoMo's development conversations (`top_k` 20) a pool
/// of 20 per side found 65.95 % of the evidence turns in the top 10, 30 found 66.41 %, 50 and
/// 100 66.37 and 66.18 % (bench/results/locomo_notes.md); 30 keeps the extra rows per search few.
pub const CANDIDATES: usize = 30;
/// How many vector candidates are scored by keywords when the store has no lexical index.
pub const FALLBACK_CANDIDATES: usize = 300;

/// The scope's `fetch` best memories for the request's query and mode, best first, each with its
/// score parts (hybrid and lexical modes; semantic mode only when `explain` asks).
pub async fn retrieve(
    store: &dyn VectorStore,
    request: &SearchRequest,
    vector: Vec<f32>,
    fetch: usize,
) -> Result<Vec<ScoredMemory>, StoreError> {
    let terms = lexical::query_terms(request.query.as_str());
    let vector_query = |limit: usize, vector: Vec<f32>| VectorQuery {
        vector,
        scope: request.scope.clone(),
        filter: request.filter.clone(),
        limit,
    };
    if request.retrieval == Retrieval::Semantic || terms.is_empty() {
        if request.retrieval == Retrieval::Lexical {
            return Ok(Vec::new());
        }
        let found = store.search(&vector_query(fetch, vector)).await?;
        if !request.explain {
            return Ok(found);
        }
        let candidates = found.into_iter().map(|m| Candidate { record: m.record, semantic: m.score, bm25: 0.0 });
        return Ok(fusion::fuse(candidates.collect(), Retrieval::Semantic));
    }
    if !store.keeps_lexical_index() {
        let wider = store.search(&vector_query(fetch.max(FALLBACK_CANDIDATES), vector)).await?;
        let documents: Vec<Vec<String>> = wider.iter().map(|m| lexical::terms(m.record.text.as_str())).collect();
        let scores = lexical::bm25_over(&terms, &documents);
        let candidates =
            wider.into_iter().zip(scores).map(|(m, bm25)| Candidate { record: m.record, semantic: m.score, bm25 });
        return Ok(fusion::fuse(candidates.collect(), request.retrieval));
    }
    let depth = fetch.max(CANDIDATES);
    let lexical_query = LexicalQuery {
        terms,
        vector: vector.clone(),
        scope: request.scope.clone(),
        filter: request.filter.clone(),
        limit: depth,
    };
    let semantic_query = vector_query(depth, vector);
    let (semantic, keyword) = futures::join!(store.search(&semantic_query), store.lexical_search(&lexical_query));
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut at: HashMap<MemoryId, usize> = HashMap::new();
    for m in semantic? {
        at.insert(m.record.id, candidates.len());
        candidates.push(Candidate { record: m.record, semantic: m.score, bm25: 0.0 });
    }
    for hit in keyword? {
        match at.get(&hit.record.id) {
            Some(&i) => candidates[i].bm25 = hit.bm25,
            None => candidates.push(Candidate { record: hit.record, semantic: hit.semantic, bm25: hit.bm25 }),
        }
    }
    Ok(fusion::fuse(candidates, request.retrieval))
}
