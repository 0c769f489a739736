//! Endpoint groups (contract §11.4): a group file lists the endpoint's settings (a
//! `ProviderConfig` list, like provider credentials) and the endpoint files, each one
//! `{path, method, hidden}` in werkzeug rule syntax.

use super::{config_list_json, invalid, read_yaml, relative, DeclarationError};
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::Path;

/// The HTTP methods an endpoint may declare.
pub(super) const ENDPOINT_METHODS: &[&str] = &["HEAD", "GET", "POST", "PUT", "DELETE", "OPTIONS"];

#[derive(Debug, Deserialize)]
struct GroupYaml {
    #[serde(default)]
    settings: Option<Value>,
    endpoints: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct EndpointYaml {
    path: String,
    method: String,
    #[serde(default)]
    hidden: bool,
    #[serde(default)]
    extra: Option<Value>,
}

/// Loads and checks one group: its JSON form and the endpoint files it names.
pub(super) fn load_group(root: &Path, group_path: &str) -> Result<(Value, Vec<String>), DeclarationError> {
    let group: GroupYaml = read_yaml(root, group_path)?;
    let settings = config_list_json(group.settings.unwrap_or(json!([])), group_path, "settings")?;
    if group.endpoints.is_empty() {
        return Err(invalid(group_path, "endpoints", "must list at least one endpoint file"));
    }
    let mut files = Vec::new();
    let mut endpoints = Vec::new();
    for (i, file) in group.endpoints.iter().enumerate() {
        let path = relative(file, group_path, &format!("endpoints[{i}]"))?;
        let endpoint: EndpointYaml = read_yaml(root, &path)?;
        if !endpoint.path.starts_with('/') {
            return Err(invalid(&path, "path", "must start with /"));
        }
        if !ENDPOINT_METHODS.contains(&endpoint.method.as_str()) {
            return Err(invalid(&path, "method", &format!("must be one of {}", ENDPOINT_METHODS.join(", "))));
        }
        endpoints.push(json!({"path": endpoint.path, "method": endpoint.method, "hidden": endpoint.hidden, "extra": endpoint.extra}));
        files.push(path);
    }
    Ok((json!({"settings": settings, "endpoints": endpoints}), files))
}
