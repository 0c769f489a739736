//! Qdrant's REST answers (`{"result": …, "status": "ok", "time": …}`) and request bodies.

use crate::adapters::vector::pushdown::{Bounds, Pushdown, Scalar};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Every answer wraps its result.
#[derive(Debug, Deserialize)]
pub(super) struct Envelope<T> {
    /// The result.
    pub result: T,
}

/// `GET /collections/{name}`.
#[derive(Debug, Deserialize)]
pub(super) struct CollectionInfo {
    /// Configuration.
    pub config: CollectionConfig,
    /// Payload indexes by field.
    #[serde(default)]
    pub payload_schema: Map<String, Value>,
}

/// `config` of a collection.
#[derive(Debug, Deserialize)]
pub(super) struct CollectionConfig {
    /// Parameters.
    pub params: CollectionParams,
}

/// `config.params` of a collection.
#[derive(Debug, Deserialize)]
pub(super) struct CollectionParams {
    /// `{"size", "distance"}` for the unnamed vector, or named vectors.
    #[serde(default)]
    pub vectors: Value,
}

impl CollectionParams {
    /// Size and distance of the unnamed (default) vector Mem0 uses; `None` for named vectors only.
    pub(super) fn default_vector(&self) -> Option<(usize, String)> {
        let size = self.vectors.get("size")?.as_u64()?;
        let distance = self.vectors.get("distance")?.as_str()?.to_owned();
        Some((usize::try_from(size).ok()?, distance))
    }
}

/// A point as query, scroll and retrieve return it.
#[derive(Debug, Deserialize)]
pub(super) struct Point {
    /// A UUID string or an integer.
    pub id: Value,
    /// The payload, when asked for.
    #[serde(default)]
    pub payload: Option<Map<String, Value>>,
    /// Score (query only).
    #[serde(default)]
    pub score: Option<f32>,
}

impl Point {
    /// The id as text.
    pub(super) fn id_text(&self) -> String {
        match &self.id {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    /// The payload (empty when absent).
    pub(super) fn payload_value(&mut self) -> Value {
        Value::Object(self.payload.take().unwrap_or_default())
    }
}

/// `POST /points/query`.
#[derive(Debug, Deserialize)]
pub(super) struct QueryResult {
    /// Best first.
    #[serde(default)]
    pub points: Vec<Point>,
}

/// `POST /points/scroll`.
#[derive(Debug, Deserialize)]
pub(super) struct ScrollResult {
    /// A page of points.
    #[serde(default)]
    pub points: Vec<Point>,
    /// Offset of the next page; `null` at the end.
    #[serde(default)]
    pub next_page_offset: Value,
}

/// `POST /points/count`.
#[derive(Debug, Deserialize)]
pub(super) struct CountResult {
    /// Matching points.
    pub count: u64,
}

/// The body creating Mem0's collection: the unnamed dense vector with cosine distance, and (as Mem0 2.x
/// does) an IDF sparse slot `bm25` for Mem0's keyword search.
pub(super) fn create_collection(dims: usize, on_disk: bool) -> Value {
    json!({
        "vectors": {"size": dims, "distance": "Cosine", "on_disk": on_disk},
        "sparse_vectors": {"bm25": {"modifier": "idf"}},
    })
}

/// A [`Pushdown`] as a Qdrant filter (`must` / `should` of field conditions). Numbers compare by
/// range so integers and floats match alike.
pub(super) fn to_filter(pushdown: &Pushdown) -> Value {
    match pushdown {
        Pushdown::All(parts) => json!({ "must": parts.iter().map(to_filter).collect::<Vec<_>>() }),
        Pushdown::Any(parts) => json!({ "should": parts.iter().map(to_filter).collect::<Vec<_>>() }),
        Pushdown::Equals { field, value: Scalar::Text(text) } => json!({"key": field, "match": {"value": text}}),
        Pushdown::Equals { field, value: Scalar::Bool(flag) } => json!({"key": field, "match": {"value": flag}}),
        Pushdown::Equals { field, value: Scalar::Number(n) } => json!({"key": field, "range": {"gte": n, "lte": n}}),
        Pushdown::Range { field, bounds } => json!({"key": field, "range": range(bounds)}),
    }
}

fn range(bounds: &Bounds) -> Value {
    let mut ops = Map::new();
    for (op, bound) in [("gt", bounds.gt), ("gte", bounds.gte), ("lt", bounds.lt), ("lte", bounds.lte)] {
        if let Some(bound) = bound {
            ops.insert(op.to_owned(), json!(bound));
        }
    }
    Value::Object(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::vector::pushdown::plan;
    use crate::domain::filter::Filter;
    use crate::domain::scope::Scope;

    #[test]
    fn filters_use_must_and_should() {
        let scope = Scope::parse(Some("alice"), None, None).unwrap();
        let filter = Filter::parse(&json!({"OR": [{"topic": "food"}, {"n": 2}], "ok": true, "x": {"lt": 3}})).unwrap();
        assert_eq!(
            to_filter(&plan(&scope, Some(&filter), &|_: &str| true)),
            json!({"must": [
                {"key": "user_id", "match": {"value": "alice"}},
                {"should": [{"key": "topic", "match": {"value": "food"}}, {"key": "n", "range": {"gte": 2.0, "lte": 2.0}}]},
                {"key": "ok", "match": {"value": true}},
                {"key": "x", "range": {"lt": 3.0}},
            ]})
        );
    }

    #[test]
    fn the_unnamed_vector_is_found() {
        let params: CollectionParams =
            serde_json::from_value(json!({"vectors": {"size": 8, "distance": "Cosine", "on_disk": false}})).unwrap();
        assert_eq!(params.default_vector(), Some((8, "Cosine".to_owned())));
        let named: CollectionParams =
            serde_json::from_value(json!({"vectors": {"dense": {"size": 8, "distance": "Cosine"}}})).unwrap();
        assert_eq!(named.default_vector(), None);
    }
}
