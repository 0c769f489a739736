//! Turning a hosted store's candidates into exact answers: every candidate is checked against the scope
//! and the domain filter (the store only evaluated a superset, see [`super::pushdown`]), and when the
//! check drops some, more candidates are fetched, up to the store's limit.

use super::payload;
use crate::domain::filter::Filter;
use crate::domain::memory::{MemoryId, MemoryRecord};
use crate::domain::scope::Scope;
use crate::ports::store::StoreError;
use serde_json::Value;
use std::future::Future;

/// A filtered fetch asks for this many times the wanted count at first…
pub const OVERFETCH_FACTOR: usize = 4;
/// …and at least this many more than wanted.
pub const OVERFETCH_MIN_EXTRA: usize = 20;

/// True when the record belongs to the scope and satisfies the filter.
pub fn admits(record: &MemoryRecord, scope: &Scope, filter: Option<&Filter>) -> bool {
    scope.contains(&record.scope) && filter.is_none_or(|f| f.matches(record))
}

/// Sorts records newest first (then by id, so equal times keep a stable order).
pub fn newest_first(records: &mut [MemoryRecord]) {
    records.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.id.cmp(&b.id)));
}

/// How many candidates to ask for first: `want` when only the scope is checked, more when a filter
/// may drop some; never more than `max`.
pub fn first_batch(want: usize, filtered: bool, max: usize) -> usize {
    let size = if filtered { (want * OVERFETCH_FACTOR).max(want + OVERFETCH_MIN_EXTRA) } else { want };
    size.clamp(1, max.max(1))
}

/// One fetch: the candidates that could be read, and how many the store returned.
#[derive(Debug)]
pub struct Batch<T> {
    /// Decoded candidates, in the store's order.
    pub items: Vec<T>,
    /// How many the store returned (decodable or not).
    pub returned: usize,
}

/// What [`gather`] found.
#[derive(Debug)]
pub struct Gathered<T> {
    /// Admitted candidates, in the store's order.
    pub items: Vec<T>,
    /// True when the store returned fewer than asked: every native match was seen.
    pub exhausted: bool,
}

/// Fetches candidates in growing batches (`first_batch`, then four times as many, up to `max`) until
/// `want` of them pass `admit` or the store has no more. `fetch(k)` asks the store for `k`. Returns every
/// admitted candidate of the last batch (the caller truncates).
pub async fn gather<T, F, Fut, A>(
    want: usize,
    filtered: bool,
    max: usize,
    mut fetch: F,
    admit: A,
) -> Result<Gathered<T>, StoreError>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<Batch<T>, StoreError>>,
    A: Fn(&T) -> bool,
{
    let mut asked = first_batch(want, filtered, max);
    loop {
        let batch = fetch(asked).await?;
        let exhausted = batch.returned < asked;
        let items: Vec<T> = batch.items.into_iter().filter(|item| admit(item)).collect();
        if items.len() >= want || exhausted || asked >= max {
            return Ok(Gathered { items, exhausted });
        }
        asked = (asked * OVERFETCH_FACTOR).min(max);
    }
}

/// A stored point read back as a memory; a point that is not one (foreign id, Mem0-incompatible
/// payload) is logged and skipped, so one bad point cannot break a user's searches.
pub fn decode_or_skip(store: &'static str, id: &str, payload: Value) -> Option<MemoryRecord> {
    match decode(id, payload) {
        Ok(record) => Some(record),
        Err(message) => {
            tracing::warn!(store, point_id = %id, error = %message, "skipping a stored point that is not a memory");
            None
        }
    }
}

/// A stored point read back as a memory; the error says why it is not one.
pub fn decode(id: &str, payload: Value) -> Result<MemoryRecord, String> {
    let id = MemoryId::parse(id).map_err(|_| format!("point id {id:?} is not a memory id (a UUID)"))?;
    payload::from_payload(id, payload)
}

/// The items to write: every vector checked, and for an id given twice only its last occurrence
/// (one request may not write a point twice), in the order given.
pub fn unique_items<'a>(
    store: &'static str,
    dims: usize,
    items: &'a [(MemoryRecord, Vec<f32>)],
) -> Result<Vec<&'a (MemoryRecord, Vec<f32>)>, StoreError> {
    let mut last: std::collections::HashMap<MemoryId, usize> = std::collections::HashMap::new();
    for (i, (record, vector)) in items.iter().enumerate() {
        check_vector(store, dims, &format!("the vector of memory {}", record.id), vector)?;
        last.insert(record.id, i);
    }
    Ok(items
        .iter()
        .enumerate()
        .filter(|(i, (record, _))| last.get(&record.id) == Some(i))
        .map(|(_, item)| item)
        .collect())
}

/// Checks a vector has the store's size and holds only finite numbers.
pub fn check_vector(store: &'static str, dims: usize, what: &str, vector: &[f32]) -> Result<(), StoreError> {
    if vector.len() != dims {
        return Err(StoreError::Rejected {
            store,
            message: format!(
                "{what} has {} dimensions but the store holds {dims} (embedding_model_dims)",
                vector.len()
            ),
        });
    }
    if vector.iter().any(|x| !x.is_finite()) {
        return Err(StoreError::Rejected { store, message: format!("{what} holds NaN or infinite values") });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::memory::{MemoryText, Metadata};
    use chrono::{TimeZone, Utc};
    use serde_json::json;
    use std::cell::RefCell;
    use uuid::Uuid;

    fn record(n: u128, user: &str, topic: &str) -> MemoryRecord {
        MemoryRecord::new(
            MemoryId::from_uuid(Uuid::from_u128(n)),
            MemoryText::parse("t", "x").unwrap(),
            Metadata::parse(json!({"topic": topic})).unwrap(),
            Scope::parse(Some(user), None, None).unwrap(),
            Utc.timestamp_opt(1_700_000_000 + n as i64, 0).unwrap(),
        )
    }

    #[test]
    fn candidates_are_checked_against_scope_and_filter() {
        let alice = Scope::parse(Some("alice"), None, None).unwrap();
        let filter = Filter::parse(&json!({"topic": {"icontains": "FOO"}})).unwrap();
        assert!(admits(&record(1, "alice", "food"), &alice, Some(&filter)));
        assert!(!admits(&record(1, "alice", "drink"), &alice, Some(&filter)));
        assert!(!admits(&record(1, "bob", "food"), &alice, None));
    }

    #[test]
    fn newest_first_then_by_id() {
        let mut records = vec![record(1, "a", "x"), record(3, "a", "x"), record(2, "a", "x")];
        newest_first(&mut records);
        let order: Vec<u128> = records.iter().map(|r| r.id.as_uuid().as_u128()).collect();
        assert_eq!(order, vec![3, 2, 1]);
    }

    #[test]
    fn batches_grow_only_when_filtered() {
        assert_eq!(first_batch(10, false, 1000), 10);
        assert_eq!(first_batch(10, true, 1000), 40);
        assert_eq!(first_batch(2, true, 1000), 22);
        assert_eq!(first_batch(500, true, 1000), 1000);
        assert_eq!(first_batch(0, false, 1000), 1);
    }

    #[tokio::test]
    async fn gathering_grows_until_enough_pass_or_the_store_runs_out() {
        // 100 candidates, every 10th passes.
        let asked = RefCell::new(Vec::new());
        let fetch = |k: usize| {
            asked.borrow_mut().push(k);
            let items: Vec<usize> = (0..k.min(100)).collect();
            async move { Ok(Batch { returned: items.len(), items }) }
        };
        let got = gather(5, true, 1000, fetch, |n: &usize| n.is_multiple_of(10)).await.unwrap();
        assert_eq!(got.items, vec![0, 10, 20, 30, 40, 50, 60, 70, 80, 90], "all admitted; the caller truncates");
        assert_eq!(*asked.borrow(), vec![25, 100]);
        assert!(!got.exhausted);

        asked.borrow_mut().clear();
        let got = gather(50, true, 1000, fetch, |n: &usize| n.is_multiple_of(10)).await.unwrap();
        assert_eq!((got.items.len(), got.exhausted), (10, true));
        assert_eq!(*asked.borrow(), vec![200]);

        asked.borrow_mut().clear();
        let got = gather(50, true, 60, fetch, |n: &usize| n.is_multiple_of(10)).await.unwrap();
        assert_eq!((got.items.len(), got.exhausted), (6, false), "stops at the store's maximum");
    }

    #[test]
    fn repeated_ids_keep_their_last_occurrence() {
        let a = record(1, "u", "x");
        let b = record(2, "u", "x");
        let items = vec![(a.clone(), vec![1.0]), (b.clone(), vec![2.0]), (a.clone(), vec![3.0])];
        let kept: Vec<f32> = unique_items("s", 1, &items).unwrap().iter().map(|(_, v)| v[0]).collect();
        assert_eq!(kept, vec![2.0, 3.0]);
        assert!(unique_items("s", 2, &items).unwrap_err().to_string().contains("the vector of memory"));
    }

    #[test]
    fn foreign_points_are_named() {
        assert!(decode("7", json!({})).unwrap_err().contains("not a memory id"));
        let ok = decode(
            "0b6f1f5e-4a5a-4b8e-9c1e-2f5a7f0e9d11",
            json!({"data": "x", "user_id": "u", "created_at": "2026-01-01T00:00:00+00:00"}),
        );
        assert!(ok.is_ok());
        assert!(decode_or_skip("s", "7", json!({})).is_none());
        let err = check_vector("s", 3, "the query vector", &[1.0, 2.0]).unwrap_err();
        assert!(err.to_string().contains("2 dimensions but the store holds 3"), "{err}");
        assert!(check_vector("s", 1, "v", &[f32::NAN]).is_err());
    }
}
