//! The in-memory index of one collection: every memory with its unit vector, plus per-identifier
//! sets so a scope's reads touch only that scope's memories. Searches are exact (brute-force
//! dot products of L2-normalised vectors = cosine similarity).

use crate::domain::filter::Filter;
use crate::domain::memory::{ContentHash, MemoryId, MemoryRecord, ScoredMemory, Similarity};
use crate::domain::scope::{EntityId, Scope};
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

/// A memory held in the index.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The memory.
    pub record: MemoryRecord,
    /// Its vector, of unit length (or all zeros).
    pub vector: Box<[f32]>,
}

/// Every memory of a collection, indexed by id and by each scope identifier.
#[derive(Debug, Default)]
pub struct Index {
    entries: HashMap<MemoryId, Entry>,
    by_user: HashMap<EntityId, HashSet<MemoryId>>,
    by_agent: HashMap<EntityId, HashSet<MemoryId>>,
    by_run: HashMap<EntityId, HashSet<MemoryId>>,
}

impl Index {
    /// How many memories it holds.
    pub fn count(&self) -> usize {
        self.entries.len()
    }

    /// Adds or replaces a memory.
    pub fn upsert(&mut self, entry: Entry) {
        let id = entry.record.id;
        self.remove(id);
        let scope = entry.record.scope.clone();
        for (map, key) in [
            (&mut self.by_user, scope.user_id()),
            (&mut self.by_agent, scope.agent_id()),
            (&mut self.by_run, scope.run_id()),
        ] {
            if let Some(key) = key {
                map.entry(key.clone()).or_default().insert(id);
            }
        }
        self.entries.insert(id, entry);
    }

    /// Removes a memory; false when it was not there.
    pub fn remove(&mut self, id: MemoryId) -> bool {
        let Some(old) = self.entries.remove(&id) else { return false };
        let scope = &old.record.scope;
        for (map, key) in [
            (&mut self.by_user, scope.user_id()),
            (&mut self.by_agent, scope.agent_id()),
            (&mut self.by_run, scope.run_id()),
        ] {
            if let Some(key) = key {
                if let Some(ids) = map.get_mut(key) {
                    ids.remove(&id);
                    if ids.is_empty() {
                        map.remove(key);
                    }
                }
            }
        }
        true
    }

    /// One memory by id.
    pub fn get(&self, id: MemoryId) -> Option<&Entry> {
        self.entries.get(&id)
    }

    /// The memories inside the scope (scanning only the smallest per-identifier set).
    pub fn in_scope<'a>(&'a self, scope: &'a Scope) -> impl Iterator<Item = &'a Entry> + 'a {
        let sets = [
            scope.user_id().map(|k| self.by_user.get(k)),
            scope.agent_id().map(|k| self.by_agent.get(k)),
            scope.run_id().map(|k| self.by_run.get(k)),
        ];
        // A set identifier nobody has means an empty scope.
        let smallest = if sets.iter().any(|s| matches!(s, Some(None))) {
            None
        } else {
            sets.into_iter().flatten().flatten().min_by_key(|ids| ids.len())
        };
        smallest
            .into_iter()
            .flatten()
            .filter_map(|id| self.entries.get(id))
            .filter(move |entry| scope.contains(&entry.record.scope))
    }

    /// The ids of the memories inside the scope.
    pub fn ids_in_scope(&self, scope: &Scope) -> Vec<MemoryId> {
        self.in_scope(scope).map(|e| e.record.id).collect()
    }

    /// The `limit` memories of the scope most similar to the unit vector `query`, best first.
    pub fn search(&self, query: &[f32], scope: &Scope, filter: Option<&Filter>, limit: usize) -> Vec<ScoredMemory> {
        if limit == 0 {
            return Vec::new();
        }
        let mut hits: Vec<(f32, &Entry)> = self
            .in_scope(scope)
            .filter(|e| filter.is_none_or(|f| f.matches(&e.record)))
            .map(|e| (dot(query, &e.vector), e))
            .collect();
        let by_rank = |a: &(f32, &Entry), b: &(f32, &Entry)| {
            b.0.total_cmp(&a.0).then_with(|| newest_first(&a.1.record, &b.1.record))
        };
        if hits.len() > limit {
            hits.select_nth_unstable_by(limit - 1, by_rank);
            hits.truncate(limit);
        }
        hits.sort_unstable_by(by_rank);
        hits.into_iter()
            .map(|(cosine, e)| ScoredMemory {
                record: e.record.clone(),
                score: Similarity::from_cosine(cosine),
                rerank_score: None,
            })
            .collect()
    }

    /// The scope's memories matching the filter, newest first, at most `limit`.
    pub fn list(&self, scope: &Scope, filter: Option<&Filter>, limit: usize) -> Vec<MemoryRecord> {
        let mut found: Vec<&MemoryRecord> =
            self.in_scope(scope).map(|e| &e.record).filter(|r| filter.is_none_or(|f| f.matches(r))).collect();
        found.sort_unstable_by(|a, b| newest_first(a, b));
        found.into_iter().take(limit).cloned().collect()
    }

    /// The scope's memories whose text has one of the hashes.
    pub fn find_by_hash(&self, scope: &Scope, hashes: &[ContentHash]) -> Vec<MemoryRecord> {
        if hashes.is_empty() {
            return Vec::new();
        }
        let wanted: HashSet<&ContentHash> = hashes.iter().collect();
        let mut found: Vec<MemoryRecord> =
            self.in_scope(scope).filter(|e| wanted.contains(&e.record.hash)).map(|e| e.record.clone()).collect();
        found.sort_unstable_by(newest_first);
        found
    }
}

/// Orders newer memories first, then by id (so equal timestamps still give a stable order).
fn newest_first(a: &MemoryRecord, b: &MemoryRecord) -> Ordering {
    b.created_at.cmp(&a.created_at).then_with(|| b.id.cmp(&a.id))
}

/// Scales a vector to unit length in place (an all-zero vector stays zero).
pub fn normalize(vector: &mut [f32]) {
    let norm = dot(vector, vector).sqrt();
    if norm > 0.0 && norm.is_finite() {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
}

/// The dot product, with eight accumulators so the compiler can vectorise it.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
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

    fn entry(n: u128, user: &str, agent: Option<&str>, vector: &[f32], meta: serde_json::Value) -> Entry {
        let mut vector = vector.to_vec();
        normalize(&mut vector);
        Entry {
            record: MemoryRecord::new(
                MemoryId::from_uuid(Uuid::from_u128(n)),
                MemoryText::parse("t", &format!("memory {n}")).unwrap(),
                Metadata::parse(meta).unwrap(),
                Scope::parse(Some(user), agent, None).unwrap(),
                Utc.timestamp_opt(1_700_000_000 + n as i64, 0).unwrap(),
            ),
            vector: vector.into_boxed_slice(),
        }
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
        let mut index = Index::default();
        index.upsert(entry(1, "alice", None, &[1.0, 0.0], json!({})));
        index.upsert(entry(2, "alice", Some("bot"), &[0.8, 0.6], json!({"k": 1})));
        index.upsert(entry(3, "bob", None, &[1.0, 0.0], json!({})));
        index.upsert(entry(4, "alice", None, &[-1.0, 0.0], json!({})));
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
        let mut index = Index::default();
        index.upsert(entry(1, "alice", None, &[1.0, 0.0], json!({})));
        index.upsert(entry(1, "bob", None, &[1.0, 0.0], json!({})));
        let alice = Scope::parse(Some("alice"), None, None).unwrap();
        let bob = Scope::parse(Some("bob"), None, None).unwrap();
        assert!(index.ids_in_scope(&alice).is_empty());
        assert_eq!(index.ids_in_scope(&bob).len(), 1);
        assert!(index.remove(MemoryId::from_uuid(Uuid::from_u128(1))));
        assert!(!index.remove(MemoryId::from_uuid(Uuid::from_u128(1))));
        assert!(index.count() == 0 && index.by_user.is_empty());
    }

    #[test]
    fn list_is_newest_first_and_hashes_match() {
        let mut index = Index::default();
        for n in 1..=3 {
            index.upsert(entry(n, "alice", None, &[1.0, 0.0], json!({})));
        }
        let alice = Scope::parse(Some("alice"), None, None).unwrap();
        let listed: Vec<u128> = index.list(&alice, None, 2).iter().map(|r| r.id.as_uuid().as_u128()).collect();
        assert_eq!(listed, vec![3, 2]);
        let hash = index.get(MemoryId::from_uuid(Uuid::from_u128(2))).unwrap().record.hash.clone();
        assert_eq!(index.find_by_hash(&alice, &[hash.clone()]).len(), 1);
        let bob = Scope::parse(Some("bob"), None, None).unwrap();
        assert!(index.find_by_hash(&bob, &[hash]).is_empty());
    }
}
