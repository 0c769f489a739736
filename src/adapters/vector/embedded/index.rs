//! The in-memory index of one collection: every memory with its unit vector, plus per-identifier
//! sets so a scope's reads touch only that scope's memories. Searches are exact (brute-force
//! dot products of L2-normalised vectors = cosine similarity).

use crate::domain::filter::Filter;
use crate::domain::memory::{ContentHash, MemoryId, MemoryRecord, ScoredMemory, Similarity};
use crate::domain::scope::{count_by_owner, EntityId, Scope, ScopeCount};
use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};

/// Every memory of a collection, indexed by id and by each scope identifier.
///
/// Memories live in numbered slots; the vectors of all slots sit in one contiguous array, and
/// the per-identifier sets are ordered by slot, so a scan walks memory in order.
#[derive(Debug)]
pub(super) struct Index {
    dims: usize,
    records: Vec<Option<MemoryRecord>>,
    vectors: Vec<f32>,
    free: Vec<u32>,
    by_id: HashMap<MemoryId, u32>,
    by_user: HashMap<EntityId, BTreeSet<u32>>,
    by_agent: HashMap<EntityId, BTreeSet<u32>>,
    by_run: HashMap<EntityId, BTreeSet<u32>>,
}

impl Index {
    /// An empty index of `dims`-dimensional vectors.
    pub(super) fn new(dims: usize) -> Self {
        Self {
            dims,
            records: Vec::new(),
            vectors: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            by_user: HashMap::new(),
            by_agent: HashMap::new(),
            by_run: HashMap::new(),
        }
    }

    /// How many memories it holds.
    pub(super) fn count(&self) -> usize {
        self.by_id.len()
    }

    /// Adds or replaces a memory; `vector` (of the index's size, already unit length) is copied.
    pub(super) fn upsert(&mut self, record: MemoryRecord, vector: &[f32]) {
        debug_assert_eq!(vector.len(), self.dims);
        self.remove(record.id);
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.records.push(None);
                self.vectors.resize(self.vectors.len() + self.dims, 0.0);
                (self.records.len() - 1) as u32
            }
        };
        let at = slot as usize * self.dims;
        self.vectors[at..at + self.dims].copy_from_slice(vector);
        let scope = &record.scope;
        for (map, key) in [
            (&mut self.by_user, scope.user_id()),
            (&mut self.by_agent, scope.agent_id()),
            (&mut self.by_run, scope.run_id()),
        ] {
            if let Some(key) = key {
                map.entry(key.clone()).or_default().insert(slot);
            }
        }
        self.by_id.insert(record.id, slot);
        self.records[slot as usize] = Some(record);
    }

    /// Removes a memory; false when it was not there.
    pub(super) fn remove(&mut self, id: MemoryId) -> bool {
        let Some(slot) = self.by_id.remove(&id) else { return false };
        let Some(old) = self.records[slot as usize].take() else { return false };
        let scope = &old.scope;
        for (map, key) in [
            (&mut self.by_user, scope.user_id()),
            (&mut self.by_agent, scope.agent_id()),
            (&mut self.by_run, scope.run_id()),
        ] {
            if let Some(key) = key {
                if let Some(slots) = map.get_mut(key) {
                    slots.remove(&slot);
                    if slots.is_empty() {
                        map.remove(key);
                    }
                }
            }
        }
        self.free.push(slot);
        true
    }

    /// One memory by id.
    pub(super) fn get(&self, id: MemoryId) -> Option<&MemoryRecord> {
        self.by_id.get(&id).and_then(|&slot| self.record(slot))
    }

    /// The stored (unit) vector of a memory.
    #[cfg(test)]
    pub(super) fn vector_of(&self, id: MemoryId) -> Option<&[f32]> {
        self.by_id.get(&id).map(|&slot| self.vector(slot))
    }

    fn record(&self, slot: u32) -> Option<&MemoryRecord> {
        self.records.get(slot as usize).and_then(Option::as_ref)
    }

    fn vector(&self, slot: u32) -> &[f32] {
        let at = slot as usize * self.dims;
        &self.vectors[at..at + self.dims]
    }

    /// The slots of the memories inside the scope, scanning only the smallest per-identifier set.
    fn in_scope<'a>(&'a self, scope: &'a Scope) -> impl Iterator<Item = (u32, &'a MemoryRecord)> + 'a {
        let sets = [
            scope.user_id().map(|k| self.by_user.get(k)),
            scope.agent_id().map(|k| self.by_agent.get(k)),
            scope.run_id().map(|k| self.by_run.get(k)),
        ];
        // A set identifier nobody has means an empty scope.
        let smallest = if sets.iter().any(|s| matches!(s, Some(None))) {
            None
        } else {
            sets.into_iter().flatten().flatten().min_by_key(|slots| slots.len())
        };
        // With one identifier the set is exactly the scope; with more, the others are checked too.
        let exact = scope.pairs().count() == 1;
        smallest
            .into_iter()
            .flatten()
            .filter_map(|&slot| self.record(slot).map(|r| (slot, r)))
            .filter(move |(_, r)| exact || scope.contains(&r.scope))
    }

    /// The ids of the memories inside the scope.
    pub(super) fn ids_in_scope(&self, scope: &Scope) -> Vec<MemoryId> {
        self.in_scope(scope).map(|(_, r)| r.id).collect()
    }

    /// The `limit` memories of the scope most similar to the unit vector `query`, best first.
    pub(super) fn search(
        &self,
        query: &[f32],
        scope: &Scope,
        filter: Option<&Filter>,
        limit: usize,
    ) -> Vec<ScoredMemory> {
        if limit == 0 {
            return Vec::new();
        }
        // A min-heap of the best `limit` so far.
        let mut best: BinaryHeap<Reverse<Hit<'_>>> = BinaryHeap::with_capacity(limit + 1);
        for (slot, record) in self.in_scope(scope) {
            if filter.is_some_and(|f| !f.matches(record)) {
                continue;
            }
            let hit = Hit { cosine: dot(query, self.vector(slot)), record };
            if best.len() < limit {
                best.push(Reverse(hit));
            } else if best.peek().is_some_and(|Reverse(worst)| hit > *worst) {
                best.pop();
                best.push(Reverse(hit));
            }
        }
        let mut hits: Vec<Hit<'_>> = best.into_iter().map(|Reverse(h)| h).collect();
        hits.sort_unstable_by(|a, b| b.cmp(a));
        hits.into_iter()
            .map(|h| ScoredMemory {
                record: h.record.clone(),
                score: Similarity::from_cosine(h.cosine),
                rerank_score: None,
                parts: None,
            })
            .collect()
    }

    /// A memory by id with its cosine similarity to the unit vector `query`, when it is inside
    /// the scope and matches the filter.
    pub(super) fn scored(
        &self,
        id: MemoryId,
        query: &[f32],
        scope: &Scope,
        filter: Option<&Filter>,
    ) -> Option<(&MemoryRecord, Similarity)> {
        let slot = *self.by_id.get(&id)?;
        let record = self.record(slot)?;
        if !scope.contains(&record.scope) || filter.is_some_and(|f| !f.matches(record)) {
            return None;
        }
        Some((record, Similarity::from_cosine(dot(query, self.vector(slot)))))
    }

    /// The scope's memories matching the filter, newest first, at most `limit`.
    pub(super) fn list(&self, scope: &Scope, filter: Option<&Filter>, limit: usize) -> Vec<MemoryRecord> {
        let mut found: Vec<&MemoryRecord> =
            self.in_scope(scope).map(|(_, r)| r).filter(|r| filter.is_none_or(|f| f.matches(r))).collect();
        found.sort_unstable_by(|a, b| newest_first(a, b));
        found.into_iter().take(limit).cloned().collect()
    }

    /// Every owner with memories, with how many.
    pub(super) fn scopes(&self) -> Vec<ScopeCount> {
        count_by_owner(self.records.iter().flatten().map(|r| &r.scope))
    }

    /// The scope's memories whose text has one of the hashes.
    pub(super) fn find_by_hash(&self, scope: &Scope, hashes: &[ContentHash]) -> Vec<MemoryRecord> {
        if hashes.is_empty() {
            return Vec::new();
        }
        let wanted: HashSet<&ContentHash> = hashes.iter().collect();
        let mut found: Vec<MemoryRecord> =
            self.in_scope(scope).filter(|(_, r)| wanted.contains(&r.hash)).map(|(_, r)| r.clone()).collect();
        found.sort_unstable_by(newest_first);
        found
    }
}

/// A search candidate, ordered by similarity, then newer first.
struct Hit<'a> {
    cosine: f32,
    record: &'a MemoryRecord,
}

impl Ord for Hit<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.cosine.total_cmp(&other.cosine).then_with(|| newest_first(other.record, self.record))
    }
}

impl PartialOrd for Hit<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Hit<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Hit<'_> {}

/// Orders newer memories first, then by id (so equal timestamps still give a stable order).
fn newest_first(a: &MemoryRecord, b: &MemoryRecord) -> Ordering {
    b.created_at.cmp(&a.created_at).then_with(|| b.id.cmp(&a.id))
}

/// Scales a vector to unit length in place (an all-zero vector stays zero).
pub(super) fn normalize(vector: &mut [f32]) {
    let norm = dot(vector, vector).sqrt();
    if norm > 0.0 && norm.is_finite() {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
}

/// The dot product, with eight accumulators so the compiler can vectorise it.
pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks.remainder().iter().zip(b_chunks.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::memory::{MemoryText, Metadata};
    use chrono::{TimeZone, Utc};
    use serde_json::json;
    use uuid::Uuid;

    fn add(index: &mut Index, n: u128, user: &str, agent: Option<&str>, vector: &[f32], meta: serde_json::Value) {
        let mut vector = vector.to_vec();
        normalize(&mut vector);
        let record = MemoryRecord::new(
            MemoryId::from_uuid(Uuid::from_u128(n)),
            MemoryText::parse("t", &format!("memory {n}")).unwrap(),
            Metadata::parse(meta).unwrap(),
            Scope::parse(Some(user), agent, None).unwrap(),
            Utc.timestamp_opt(1_700_000_000 + n as i64, 0).unwrap(),
        );
        index.upsert(record, &vector);
    }

    fn ids(found: &[ScoredMemory]) -> Vec<u128> {
        found.iter().map(|s| s.record.id.as_uuid().as_u128()).collect()
    }

    #[test]
    fn dot_and_normalize() {
        let a: Vec<f32> = (0..19).map(|i| i as f32).collect();
        assert_eq!(dot(&a, &a), (0..19).map(|i| (i * i) as f32).sum::<f32>());
        let mut v = vec![3.0, 4.0];
        normalize(&mut v);
        assert_eq!(v, vec![0.6, 0.8]);
        let mut zero = vec![0.0; 3];
        normalize(&mut zero);
        assert_eq!(zero, vec![0.0; 3]);
    }

    #[test]
    fn search_ranks_within_the_scope_only() {
        let mut index = Index::new(2);
        add(&mut index, 1, "alice", None, &[1.0, 0.0], json!({}));
        add(&mut index, 2, "alice", Some("bot"), &[0.8, 0.6], json!({"k": 1}));
        add(&mut index, 3, "bob", None, &[1.0, 0.0], json!({}));
        add(&mut index, 4, "alice", None, &[-1.0, 0.0], json!({}));
        let alice = Scope::parse(Some("alice"), None, None).unwrap();
        let found = index.search(&[1.0, 0.0], &alice, None, 10);
        assert_eq!(ids(&found), vec![1, 2, 4]);
        assert!((found[0].score.value() - 1.0).abs() < 1e-6 && (found[1].score.value() - 0.8).abs() < 1e-6);
        assert_eq!(found[2].score.value(), 0.0);
        assert_eq!(ids(&index.search(&[1.0, 0.0], &alice, None, 1)), vec![1]);
        let bot = Scope::parse(Some("alice"), Some("bot"), None).unwrap();
        assert_eq!(ids(&index.search(&[1.0, 0.0], &bot, None, 10)), vec![2]);
        let nobody = Scope::parse(Some("alice"), Some("nobody"), None).unwrap();
        assert!(index.search(&[1.0, 0.0], &nobody, None, 10).is_empty());
        let filter = Filter::parse(&json!({"k": 1})).unwrap();
        assert_eq!(ids(&index.search(&[1.0, 0.0], &alice, Some(&filter), 10)), vec![2]);
    }

    #[test]
    fn upsert_moves_between_scopes_and_remove_cleans_up() {
        let mut index = Index::new(2);
        add(&mut index, 1, "alice", None, &[1.0, 0.0], json!({}));
        add(&mut index, 1, "bob", None, &[1.0, 0.0], json!({}));
        let alice = Scope::parse(Some("alice"), None, None).unwrap();
        let bob = Scope::parse(Some("bob"), None, None).unwrap();
        assert!(index.ids_in_scope(&alice).is_empty());
        assert_eq!(index.ids_in_scope(&bob).len(), 1);
        assert!(index.remove(MemoryId::from_uuid(Uuid::from_u128(1))));
        assert!(!index.remove(MemoryId::from_uuid(Uuid::from_u128(1))));
        assert!(index.count() == 0 && index.by_user.is_empty());
        // The freed slot is reused.
        add(&mut index, 2, "carol", None, &[0.0, 1.0], json!({}));
        assert_eq!(index.records.len(), 1);
        assert_eq!(index.vector_of(MemoryId::from_uuid(Uuid::from_u128(2))).unwrap(), &[0.0, 1.0]);
    }

    #[test]
    fn list_is_newest_first_and_hashes_match() {
        let mut index = Index::new(2);
        for n in 1..=3 {
            add(&mut index, n, "alice", None, &[1.0, 0.0], json!({}));
        }
        let alice = Scope::parse(Some("alice"), None, None).unwrap();
        let listed: Vec<u128> = index.list(&alice, None, 2).iter().map(|r| r.id.as_uuid().as_u128()).collect();
        assert_eq!(listed, vec![3, 2]);
        let hash = index.get(MemoryId::from_uuid(Uuid::from_u128(2))).unwrap().hash.clone();
        assert_eq!(index.find_by_hash(&alice, std::slice::from_ref(&hash)).len(), 1);
        let bob = Scope::parse(Some("bob"), None, None).unwrap();
        assert!(index.find_by_hash(&bob, &[hash]).is_empty());
    }
}
