//! Pinecone's REST wire format (API version [`API_VERSION`]): control-plane index descriptions and
//! data-plane requests and answers, plus the conversion of Mem0's payload to Pinecone metadata.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The REST API version sent in `X-Pinecone-API-Version` (the one the official clients pin).
pub const API_VERSION: &str = "2025-10";

/// An index as `GET /indexes/{name}` describes it.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct IndexModel {
    /// Vector size (absent for sparse indexes).
    #[serde(default)]
    pub dimension: Option<usize>,
    /// `cosine`, `dotproduct` or `euclidean`.
    pub metric: String,
    /// Data-plane host, usually without a scheme (empty while the index initialises).
    #[serde(default)]
    pub host: Option<String>,
    /// `dense` or `sparse`.
    #[serde(default)]
    pub vector_type: Option<String>,
    /// Readiness.
    pub status: IndexStatus,
}

/// `status` of an index.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct IndexStatus {
    /// True when the index serves requests.
    pub ready: bool,
    /// `Initializing`, `Ready`, `InitializationFailed`, …
    pub state: String,
}

/// `POST /indexes`.
#[derive(Debug, Serialize)]
pub(super) struct CreateIndex<'a> {
    /// Index name.
    pub name: &'a str,
    /// Vector size.
    pub dimension: usize,
    /// Metric.
    pub metric: &'a str,
    /// `{"serverless": …}` or `{"pod": …}`.
    pub spec: Value,
    /// Always `dense`.
    pub vector_type: &'a str,
    /// Always `disabled` (Mem0 does not protect the index either).
    pub deletion_protection: &'a str,
}

/// One record to upsert.
#[derive(Debug, Serialize)]
pub(super) struct UpsertVector<'a> {
    /// Record id (the memory's UUID).
    pub id: String,
    /// Dense values.
    pub values: &'a [f32],
    /// Mem0's flat payload.
    pub metadata: Map<String, Value>,
}

/// `POST /vectors/upsert`.
#[derive(Debug, Serialize)]
pub(super) struct Upsert<'a> {
    /// Records.
    pub vectors: Vec<UpsertVector<'a>>,
    /// Namespace (omitted: the default one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<&'a str>,
}

/// `POST /query`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Query<'a> {
    /// Query vector.
    pub vector: &'a [f32],
    /// Matches wanted.
    pub top_k: usize,
    /// Never: values are not needed.
    pub include_values: bool,
    /// Whether to return metadata.
    pub include_metadata: bool,
    /// Metadata filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<&'a Value>,
    /// Namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<&'a str>,
}

/// The answer to a query.
#[derive(Debug, Deserialize)]
pub(super) struct QueryAnswer {
    /// Best first.
    #[serde(default)]
    pub matches: Vec<Match>,
}

/// One query match.
#[derive(Debug, Deserialize)]
pub(super) struct Match {
    /// Record id.
    pub id: String,
    /// Similarity (cosine, dot product) or squared distance (euclidean).
    #[serde(default)]
    pub score: f32,
    /// Metadata, when asked for.
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
}

/// A record as fetched.
#[derive(Debug, Deserialize)]
pub(super) struct Record {
    /// Dense values.
    #[serde(default)]
    pub values: Vec<f32>,
    /// Metadata.
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
}

/// The answer to `GET /vectors/fetch` and `POST /vectors/fetch_by_metadata`.
#[derive(Debug, Deserialize)]
pub(super) struct FetchAnswer {
    /// Found records by id (missing ids are simply absent).
    #[serde(default)]
    pub vectors: HashMap<String, Record>,
    /// The next page (`fetch_by_metadata` only).
    #[serde(default)]
    pub pagination: Option<Pagination>,
}

/// A page token.
#[derive(Debug, Deserialize)]
pub(super) struct Pagination {
    /// Token of the next page.
    #[serde(default)]
    pub next: Option<String>,
}

/// `POST /vectors/fetch_by_metadata`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FetchByMetadata<'a> {
    /// Metadata filter.
    pub filter: &'a Value,
    /// Namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<&'a str>,
    /// Records per page.
    pub limit: usize,
    /// Token of the page wanted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagination_token: Option<&'a str>,
}

/// `POST /vectors/delete` by ids.
#[derive(Debug, Serialize)]
pub(super) struct DeleteIds<'a> {
    /// Record ids.
    pub ids: &'a [String],
    /// Namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<&'a str>,
}

/// Mem0's payload as Pinecone metadata, which holds only strings, numbers, booleans and lists of
/// strings: `null` values are dropped (Pinecone's advice), anything else is refused naming the key.
pub(super) fn to_metadata(payload: Value) -> Result<Map<String, Value>, String> {
    let Value::Object(map) = payload else { return Err("the payload is not a JSON object".into()) };
    let mut metadata = Map::new();
    for (key, value) in map {
        let kept = match &value {
            Value::Null => continue,
            Value::String(_) | Value::Number(_) | Value::Bool(_) => true,
            Value::Array(items) => items.iter().all(Value::is_string),
            Value::Object(_) => false,
        };
        if !kept {
            return Err(format!(
                "metadata key {key:?}: Pinecone stores only strings, numbers, booleans and lists of strings"
            ));
        }
        metadata.insert(key, value);
    }
    Ok(metadata)
}

/// Pinecone metadata read back as Mem0's payload. Pinecone keeps every number as a float (`3` comes
/// back as `3.0`); whole numbers are turned back into integers so what was written reads back equal.
pub(super) fn from_metadata(metadata: Option<Map<String, Value>>) -> Value {
    let mut map = metadata.unwrap_or_default();
    for value in map.values_mut() {
        if let Some(f) = value.as_f64().filter(|f| value.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15) {
            *value = Value::from(f as i64);
        }
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_use_pinecones_field_names() {
        let filter = json!({"user_id": {"$eq": "a"}});
        let query = Query {
            vector: &[1.0],
            top_k: 3,
            include_values: false,
            include_metadata: true,
            filter: Some(&filter),
            namespace: None,
        };
        assert_eq!(
            serde_json::to_value(&query).unwrap(),
            json!({"vector": [1.0], "topK": 3, "includeValues": false, "includeMetadata": true, "filter": filter})
        );
        let fetch = FetchByMetadata { filter: &filter, namespace: Some("ns"), limit: 100, pagination_token: Some("t") };
        assert_eq!(
            serde_json::to_value(&fetch).unwrap(),
            json!({"filter": filter, "namespace": "ns", "limit": 100, "paginationToken": "t"})
        );
    }

    #[test]
    fn metadata_keeps_what_pinecone_stores() {
        let metadata = to_metadata(json!({"a": "x", "n": 1.5, "b": true, "tags": ["x"], "gone": null})).unwrap();
        assert_eq!(Value::Object(metadata), json!({"a": "x", "n": 1.5, "b": true, "tags": ["x"]}));
        let err = to_metadata(json!({"deep": {"x": 1}})).unwrap_err();
        assert!(err.contains("\"deep\""), "{err}");
        assert!(to_metadata(json!({"nums": [1, 2]})).is_err());
    }

    #[test]
    fn whole_floats_read_back_as_integers() {
        let metadata = json!({"n": 3.0, "x": 2.5, "s": "3.0"}).as_object().cloned();
        assert_eq!(from_metadata(metadata), json!({"n": 3, "x": 2.5, "s": "3.0"}));
        assert_eq!(from_metadata(None), json!({}));
    }
}
