//! Pinecone's control plane: describe the index, create it when missing (serverless or pod, as the
//! block says), wait until it is ready, and check it fits (dense, `embedding_model_dims`).

use super::config::{Metric, PineconeConfig};
use super::wire::{CreateIndex, IndexModel};
use super::STORE;
use crate::adapters::http::{join_url, HttpClient, HttpError, Method};
use crate::ports::store::StoreError;
use reqwest::header::HeaderMap;
use std::time::{Duration, Instant};

/// How long to wait for a new or initialising index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadyPolling {
    /// Between two looks.
    pub interval: Duration,
    /// Give up after this long.
    pub max_wait: Duration,
}

impl Default for ReadyPolling {
    /// Every 2 s for up to 5 minutes (a serverless index is usually ready in seconds).
    fn default() -> Self {
        Self { interval: Duration::from_secs(2), max_wait: Duration::from_secs(300) }
    }
}

/// The ready index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexInfo {
    /// Base URL of its data plane.
    pub data_url: String,
    /// Its metric (decides how scores become similarities).
    pub metric: Metric,
}

/// Requests to the control plane for one index.
pub(super) struct ControlPlane<'a> {
    /// The block.
    pub config: &'a PineconeConfig,
    /// The shared client.
    pub http: &'a HttpClient,
    /// `Api-Key`, API version and extra headers.
    pub headers: &'a HeaderMap,
}

impl ControlPlane<'_> {
    /// Finds or creates the index and waits until it serves; checks its type and dimension.
    pub(super) async fn prepare(&self, polling: ReadyPolling) -> Result<IndexInfo, StoreError> {
        let name = &self.config.index_name;
        let mut model = self.describe().await?;
        if model.is_none() {
            tracing::info!(index = %name, spec = %self.config.spec.to_json(), "creating the Pinecone index");
            self.create().await?;
        }
        let started = Instant::now();
        let model = loop {
            match model.take() {
                Some(m) if m.status.state.eq_ignore_ascii_case("InitializationFailed") => {
                    return Err(rejected(format!("index {name:?} failed to initialise (state InitializationFailed)")));
                }
                Some(m) if m.status.ready && m.host.as_deref().is_some_and(|h| !h.trim().is_empty()) => break m,
                seen => {
                    if started.elapsed() >= polling.max_wait {
                        let state = seen.map_or_else(|| "not found".to_owned(), |m| m.status.state);
                        return Err(StoreError::Unavailable {
                            store: STORE,
                            message: format!(
                                "index {name:?} is not ready after {}s (state: {state})",
                                polling.max_wait.as_secs()
                            ),
                        });
                    }
                    tokio::time::sleep(polling.interval).await;
                    model = self.describe().await?;
                }
            }
        };
        self.check(&model)
    }

    fn check(&self, model: &IndexModel) -> Result<IndexInfo, StoreError> {
        let name = &self.config.index_name;
        if model.vector_type.as_deref().is_some_and(|t| t != "dense") {
            return Err(rejected(format!("index {name:?} is not a dense index; Mem0 memories need dense vectors")));
        }
        if model.dimension != Some(self.config.dims) {
            let found = model.dimension.map_or_else(|| "no fixed".to_owned(), |d| d.to_string());
            return Err(rejected(format!(
                "index {name:?} holds vectors of {found} dimensions but embedding_model_dims is {}",
                self.config.dims
            )));
        }
        let metric = Metric::parse(&model.metric)
            .ok_or_else(|| rejected(format!("index {name:?} uses the unknown metric {:?}", model.metric)))?;
        if metric != self.config.metric {
            tracing::warn!(index = %name, index_metric = metric.as_str(), configured = self.config.metric.as_str(),
                "the existing index's metric differs from the configured one; scores follow the index's");
        }
        let host = model.host.as_deref().unwrap_or_default().trim();
        Ok(IndexInfo { data_url: data_url(host, &self.config.controller_url), metric })
    }

    async fn describe(&self) -> Result<Option<IndexModel>, StoreError> {
        let url = join_url(&self.config.controller_url, &format!("indexes/{}", self.config.index_name));
        match self.http.request_json::<(), IndexModel>(Method::GET, &url, self.headers, None).await {
            Ok(model) => Ok(Some(model)),
            Err(HttpError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e.into_store_error(STORE)),
        }
    }

    async fn create(&self) -> Result<(), StoreError> {
        let url = join_url(&self.config.controller_url, "indexes");
        let body = CreateIndex {
            name: &self.config.index_name,
            dimension: self.config.dims,
            metric: self.config.metric.as_str(),
            spec: self.config.spec.to_json(),
            vector_type: "dense",
            deletion_protection: "disabled",
        };
        match self.http.request_json::<_, serde_json::Value>(Method::POST, &url, self.headers, Some(&body)).await {
            // 409: created meanwhile (by another worker, or by a retried attempt that did arrive).
            Ok(_) | Err(HttpError::Status { status: 409, .. }) => Ok(()),
            Err(e) => Err(e.into_store_error(STORE)),
        }
    }
}

/// The data-plane base URL of a described host: as given when it has a scheme, else with the
/// control plane's scheme (`https` for Pinecone, `http` for a local emulator).
pub(super) fn data_url(host: &str, controller_url: &str) -> String {
    if host.starts_with("http://") || host.starts_with("https://") {
        return host.trim_end_matches('/').to_owned();
    }
    let scheme = if controller_url.starts_with("http://") { "http" } else { "https" };
    format!("{scheme}://{}", host.trim_end_matches('/'))
}

fn rejected(message: String) -> StoreError {
    StoreError::Rejected { store: STORE, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_plane_urls_follow_the_control_planes_scheme() {
        assert_eq!(data_url("idx-1.svc.pinecone.io", "https://api.pinecone.io"), "https://idx-1.svc.pinecone.io");
        assert_eq!(data_url("127.0.0.1:5081", "http://127.0.0.1:5080"), "http://127.0.0.1:5081");
        assert_eq!(data_url("http://localhost:5081/", "https://api.pinecone.io"), "http://localhost:5081");
    }
}
