//! The plugin's YAML declarations (manifest, tool provider, tools, `_assets/`) loaded, checked
//! against the stricter of the SDK's and the daemon's rules (contract §11), and turned into the
//! JSON forms the Python SDK sends at remote registration (§8.3, §11.5).

use base64::Engine;
use chrono::{DateTime, SecondsFormat};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

mod endpoints;

/// The manifest file name at the plugin root.
pub const MANIFEST_FILE: &str = "manifest.yaml";
/// The asset directory at the plugin root.
pub const ASSETS_DIR: &str = "_assets";
/// Raw bytes per `asset_chunk` (the SDK's size).
pub const ASSET_CHUNK_BYTES: usize = 8192;

/// The tool parameter `type`s the daemon accepts.
pub const PARAMETER_TYPES: &[&str] = &[
    "string",
    "number",
    "boolean",
    "select",
    "secret-input",
    "file",
    "files",
    "app-selector",
    "model-selector",
    "any",
    "dynamic-select",
    "array",
    "object",
    "checkbox",
    "date",
    "date-range",
];
/// The tool parameter `form`s the daemon accepts.
pub const PARAMETER_FORMS: &[&str] = &["schema", "form", "llm"];
/// The provider credential `type`s the daemon accepts.
pub const CREDENTIAL_TYPES: &[&str] =
    &["secret-input", "text-input", "select", "boolean", "model-selector", "app-selector", "array[tools]"];

/// Why the declarations cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DeclarationError {
    /// A file is missing or unreadable.
    #[error("cannot read {path}: {detail}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// A YAML file does not have the expected structure.
    #[error("{path} is not a valid declaration: {detail}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message (with line and column).
        detail: String,
    },
    /// A field breaks a rule of the daemon or the SDK.
    #[error("{path}: {field} {problem}")]
    Invalid {
        /// The file.
        path: String,
        /// The field.
        field: String,
        /// What is wrong and what is expected.
        problem: String,
    },
}

/// Translations of one text; `en_US` is required.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct I18nText {
    /// English (required).
    #[serde(rename = "en_US", default)]
    pub en_us: Option<String>,
    /// Simplified Chinese.
    #[serde(rename = "zh_Hans", default)]
    pub zh_hans: Option<String>,
    /// Brazilian Portuguese.
    #[serde(rename = "pt_BR", default)]
    pub pt_br: Option<String>,
    /// Japanese.
    #[serde(rename = "ja_JP", default)]
    pub ja_jp: Option<String>,
}

impl I18nText {
    /// The SDK's JSON form: all four languages, missing ones filled with English.
    fn to_json(&self) -> Value {
        let en = self.en_us.clone().unwrap_or_default();
        let or_en = |v: &Option<String>| v.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| en.clone());
        json!({"zh_Hans": or_en(&self.zh_hans), "pt_BR": or_en(&self.pt_br), "ja_JP": or_en(&self.ja_jp), "en_US": en})
    }

    fn check(&self, path: &str, field: &str) -> Result<(), DeclarationError> {
        match &self.en_us {
            Some(en) if !en.trim().is_empty() && en.chars().count() < 1024 => {}
            _ => return Err(invalid(path, field, "needs an en_US text of 1 to 1023 characters")),
        }
        for (lang, v) in [("zh_Hans", &self.zh_hans), ("pt_BR", &self.pt_br), ("ja_JP", &self.ja_jp)] {
            if v.as_ref().is_some_and(|s| s.chars().count() >= 1024) {
                return Err(invalid(path, &format!("{field}.{lang}"), "must be shorter than 1024 characters"));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
struct ManifestYaml {
    version: String,
    #[serde(rename = "type")]
    kind: String,
    author: String,
    name: String,
    #[serde(default)]
    repo: Option<String>,
    label: I18nText,
    description: I18nText,
    icon: String,
    #[serde(default)]
    icon_dark: Option<String>,
    created_at: String,
    resource: ResourceYaml,
    plugins: PluginsYaml,
    meta: MetaYaml,
    #[serde(default)]
    privacy: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ResourceYaml {
    memory: i64,
    #[serde(default)]
    permission: Option<serde_json::Map<String, Value>>,
}

#[derive(Debug, Default, Deserialize)]
struct PluginsYaml {
    #[serde(default)]
    tools: Vec<String>,
    #[serde(default)]
    models: Vec<String>,
    #[serde(default)]
    endpoints: Vec<String>,
    #[serde(default)]
    agent_strategies: Vec<String>,
    #[serde(default)]
    datasources: Vec<String>,
    #[serde(default)]
    triggers: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct MetaYaml {
    version: String,
    arch: Vec<String>,
    runner: RunnerYaml,
    #[serde(default)]
    minimum_dify_version: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
struct RunnerYaml {
    language: String,
    version: String,
    entrypoint: String,
}

#[derive(Debug, Deserialize)]
struct ProviderYaml {
    identity: ProviderIdentityYaml,
    #[serde(default)]
    credentials_for_provider: Option<Value>,
    #[serde(default)]
    credentials_schema: Option<Value>,
    #[serde(default)]
    oauth_schema: Option<Value>,
    #[serde(default)]
    tools: Vec<String>,
    #[serde(default)]
    extra: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct ProviderIdentityYaml {
    author: String,
    name: String,
    #[serde(default)]
    description: Option<I18nText>,
    icon: String,
    #[serde(default)]
    icon_dark: Option<String>,
    label: I18nText,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct CredentialYaml {
    #[serde(default)]
    name: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    default: Option<Value>,
    #[serde(default)]
    options: Option<Vec<OptionYaml>>,
    #[serde(default)]
    multiple: bool,
    label: I18nText,
    #[serde(default)]
    help: Option<I18nText>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    placeholder: Option<I18nText>,
}

#[derive(Debug, Deserialize)]
struct OptionYaml {
    value: Value,
    label: I18nText,
    #[serde(default)]
    icon: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ToolYaml {
    identity: ToolIdentityYaml,
    description: ToolDescriptionYaml,
    #[serde(default)]
    parameters: Vec<ParameterYaml>,
    #[serde(default)]
    output_schema: Option<Value>,
    #[serde(default)]
    extra: Option<Value>,
    #[serde(default)]
    has_runtime_parameters: bool,
}

#[derive(Debug, Deserialize)]
struct ToolIdentityYaml {
    name: String,
    author: String,
    label: I18nText,
}

#[derive(Debug, Deserialize)]
struct ToolDescriptionYaml {
    human: I18nText,
    llm: String,
}

#[derive(Debug, Deserialize)]
struct ParameterYaml {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    form: String,
    #[serde(default)]
    required: bool,
    label: I18nText,
    #[serde(default)]
    human_description: Option<I18nText>,
    #[serde(default)]
    llm_description: Option<String>,
    #[serde(default)]
    default: Option<Value>,
    #[serde(default)]
    min: Option<Value>,
    #[serde(default)]
    max: Option<Value>,
    #[serde(default)]
    precision: Option<Value>,
    #[serde(default)]
    options: Option<Vec<OptionYaml>>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    auto_generate: Option<Value>,
    #[serde(default)]
    template: Option<Value>,
    #[serde(default)]
    multiple: bool,
    #[serde(default)]
    input_schema: Option<Value>,
}

/// One file of `_assets/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// Its file name (no directory).
    pub filename: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// The plugin's declarations, checked, in the JSON forms of remote registration.
#[derive(Debug, Clone)]
pub struct PluginDeclarations {
    /// `author/name` (the `X-Plugin-ID` of the daemon's API).
    pub plugin_id: String,
    /// The plugin version.
    pub version: String,
    /// The tool provider name (`provider` in requests).
    pub provider: String,
    /// The tools, in declaration order.
    pub tool_names: Vec<String>,
    /// `manifest_declaration.data`.
    pub manifest: Value,
    /// `tool_declaration.data[0]`.
    pub tool_provider: Value,
    /// The files of `_assets/`, by name.
    pub assets: Vec<Asset>,
    /// `endpoint_declaration.data`: one `{settings, endpoints}` per endpoint group.
    pub endpoint_groups: Vec<Value>,
    /// Every declaration file, relative to the root (`/`-separated): manifest, provider, tools,
    /// endpoint groups and endpoints, privacy.
    pub files: Vec<String>,
}

impl PluginDeclarations {
    /// Loads and checks the declarations of the plugin at `root`.
    pub fn load(root: &Path) -> Result<Self, DeclarationError> {
        let assets = load_assets(root)?;
        let asset_names: Vec<&str> = assets.iter().map(|a| a.filename.as_str()).collect();
        let manifest: ManifestYaml = read_yaml(root, MANIFEST_FILE)?;
        check_manifest(&manifest, &asset_names)?;
        let mut files = vec![MANIFEST_FILE.to_owned()];
        if let Some(privacy) = manifest.privacy.as_deref().filter(|p| !p.is_empty()) {
            let rel = relative(privacy, MANIFEST_FILE, "privacy")?;
            if !root.join(&rel).is_file() {
                return Err(invalid(MANIFEST_FILE, "privacy", &format!("names {rel}, which does not exist")));
            }
            files.push(rel);
        }
        let provider_path = relative(&manifest.plugins.tools[0], MANIFEST_FILE, "plugins.tools")?;
        let provider: ProviderYaml = read_yaml(root, &provider_path)?;
        files.push(provider_path.clone());
        let mut tools = Vec::new();
        let mut tool_names = Vec::new();
        for (i, tool_file) in provider.tools.iter().enumerate() {
            let tool_path = relative(tool_file, &provider_path, &format!("tools[{i}]"))?;
            let tool: ToolYaml = read_yaml(root, &tool_path)?;
            check_tool(&tool, &tool_path)?;
            if tool_names.contains(&tool.identity.name) {
                return Err(invalid(
                    &tool_path,
                    "identity.name",
                    &format!("{:?} is declared twice", tool.identity.name),
                ));
            }
            tool_names.push(tool.identity.name.clone());
            tools.push(tool_json(&tool));
            files.push(tool_path);
        }
        let tool_provider = provider_json(&provider, &manifest, &provider_path, &asset_names, tools)?;
        let mut endpoint_groups = Vec::new();
        for (i, group_file) in manifest.plugins.endpoints.iter().enumerate() {
            let group_path = relative(group_file, MANIFEST_FILE, &format!("plugins.endpoints[{i}]"))?;
            let (group, group_files) = endpoints::load_group(root, &group_path)?;
            endpoint_groups.push(group);
            files.push(group_path);
            files.extend(group_files);
        }
        Ok(Self {
            plugin_id: format!("{}/{}", manifest.author, manifest.name),
            version: manifest.version.clone(),
            provider: provider.identity.name.clone(),
            tool_names,
            manifest: manifest_json(&manifest)?,
            tool_provider,
            assets,
            endpoint_groups,
            files,
        })
    }

    /// The registration lines of remote debugging, in the SDK's order: handshake (`\n`),
    /// manifest, tool declaration, asset chunks, end (each `\n\n`).
    pub fn registration_lines(&self, key: &str) -> Vec<Vec<u8>> {
        let mut lines = Vec::new();
        let mut handshake = json!({"type": "handshake", "data": {"key": key}}).to_string().into_bytes();
        handshake.push(b'\n');
        lines.push(handshake);
        let mut push = |value: Value| {
            let mut line = value.to_string().into_bytes();
            line.extend_from_slice(b"\n\n");
            lines.push(line);
        };
        push(json!({"type": "manifest_declaration", "data": self.manifest}));
        push(json!({"type": "tool_declaration", "data": [self.tool_provider]}));
        if !self.endpoint_groups.is_empty() {
            push(json!({"type": "endpoint_declaration", "data": self.endpoint_groups}));
        }
        for asset in &self.assets {
            for chunk in asset_chunks(asset) {
                push(json!({"type": "asset_chunk", "data": chunk}));
            }
        }
        push(json!({"type": "end", "data": {}}));
        lines
    }
}

/// Finds the plugin directory (the one holding `manifest.yaml`): `explicit` when given, else the
/// working directory, else a directory above the executable (`bin/linux-amd64/…`, `target/debug/…`).
pub fn find_plugin_root(explicit: Option<&Path>) -> Result<PathBuf, DeclarationError> {
    if let Some(dir) = explicit {
        if dir.join(MANIFEST_FILE).is_file() {
            return Ok(dir.to_path_buf());
        }
        return Err(DeclarationError::Read {
            path: dir.join(MANIFEST_FILE).display().to_string(),
            detail: "not found (MEM0_DIFY_PLUGIN_ROOT)".into(),
        });
    }
    let mut candidates: Vec<PathBuf> = std::env::current_dir().into_iter().collect();
    if let Ok(exe) = std::env::current_exe() {
        candidates.extend(exe.ancestors().skip(1).take(4).map(Path::to_path_buf));
    }
    candidates.into_iter().find(|dir| dir.join(MANIFEST_FILE).is_file()).ok_or_else(|| DeclarationError::Read {
        path: MANIFEST_FILE.into(),
        detail: "not found in the working directory nor above the executable; run from the plugin directory or set MEM0_DIFY_PLUGIN_ROOT".into(),
    })
}

/// The `asset_chunk` payloads of one file: base64 of at most 8 192 raw bytes each, `end` on the last.
pub fn asset_chunks(asset: &Asset) -> Vec<Value> {
    let engine = base64::engine::general_purpose::STANDARD;
    if asset.bytes.is_empty() {
        return vec![json!({"filename": asset.filename, "data": "", "end": true})];
    }
    let count = asset.bytes.len().div_ceil(ASSET_CHUNK_BYTES);
    asset
        .bytes
        .chunks(ASSET_CHUNK_BYTES)
        .enumerate()
        .map(|(i, piece)| json!({"filename": asset.filename, "data": engine.encode(piece), "end": i + 1 == count}))
        .collect()
}

fn invalid(path: &str, field: &str, problem: &str) -> DeclarationError {
    DeclarationError::Invalid { path: path.to_owned(), field: field.to_owned(), problem: problem.to_owned() }
}

fn read_yaml<T: for<'de> Deserialize<'de>>(root: &Path, rel: &str) -> Result<T, DeclarationError> {
    let path = root.join(rel);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| DeclarationError::Read { path: rel.to_owned(), detail: e.to_string() })?;
    serde_norway::from_str(&text).map_err(|e| DeclarationError::Parse { path: rel.to_owned(), detail: e.to_string() })
}

/// A path from a declaration, checked to stay inside the plugin (relative, no `..`).
fn relative(raw: &str, from: &str, field: &str) -> Result<String, DeclarationError> {
    let clean = raw.trim().trim_start_matches("./").to_owned();
    let bad = clean.is_empty()
        || clean.starts_with('/')
        || clean.contains('\\')
        || clean.split('/').any(|part| part == ".." || part.is_empty())
        || clean.len() > 128;
    if bad {
        return Err(invalid(
            from,
            field,
            &format!("{raw:?} must be a relative path inside the plugin (at most 128 characters)"),
        ));
    }
    Ok(clean)
}

fn load_assets(root: &Path) -> Result<Vec<Asset>, DeclarationError> {
    let dir = root.join(ASSETS_DIR);
    let read_err = |e: std::io::Error| DeclarationError::Read { path: ASSETS_DIR.to_owned(), detail: e.to_string() };
    let mut assets = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let path: PathBuf = entry.path();
        if !path.is_file() {
            continue;
        }
        let filename = entry.file_name().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path)
            .map_err(|e| DeclarationError::Read { path: format!("{ASSETS_DIR}/{filename}"), detail: e.to_string() })?;
        assets.push(Asset { filename, bytes });
    }
    assets.sort_by(|a, b| a.filename.cmp(&b.filename));
    Ok(assets)
}

fn is_slug(s: &str, max: usize, upper: bool) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' || (upper && c.is_ascii_uppercase())
        })
}

fn is_version(s: &str) -> bool {
    let (core, pre) = s.split_once('-').map_or((s, None), |(c, p)| (c, Some(p)));
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| (1..=4).contains(&p.len()) && p.chars().all(|c| c.is_ascii_digit()))
        && pre.is_none_or(|p| (1..=16).contains(&p.len()) && p.chars().all(|c| c.is_alphanumeric() || c == '_'))
}

fn check_manifest(m: &ManifestYaml, assets: &[&str]) -> Result<(), DeclarationError> {
    let p = MANIFEST_FILE;
    if !is_version(&m.version) {
        return Err(invalid(p, "version", &format!("{:?} must look like 1.2.3 (optionally -suffix)", m.version)));
    }
    if m.kind != "plugin" {
        return Err(invalid(p, "type", "must be \"plugin\""));
    }
    if !is_slug(&m.author, 64, false) || uuid::Uuid::parse_str(&m.author).is_ok() {
        return Err(invalid(p, "author", &format!("{:?} must match ^[a-z0-9_-]{{1,64}}$ and not be a UUID", m.author)));
    }
    if !is_slug(&m.name, 128, false) {
        return Err(invalid(p, "name", &format!("{:?} must match ^[a-z0-9_-]{{1,128}}$", m.name)));
    }
    m.label.check(p, "label")?;
    m.description.check(p, "description")?;
    check_icon(p, "icon", Some(&m.icon), assets)?;
    check_icon(p, "icon_dark", m.icon_dark.as_deref(), assets)?;
    created_at_json(&m.created_at)?;
    if m.resource.memory <= 0 {
        return Err(invalid(p, "resource.memory", "must be a positive number of bytes"));
    }
    let plugins = &m.plugins;
    if plugins.tools.len() != 1 {
        return Err(invalid(p, "plugins.tools", "must list exactly one tool provider file"));
    }
    let others = [&plugins.models, &plugins.agent_strategies, &plugins.datasources, &plugins.triggers];
    if others.iter().any(|list| !list.is_empty()) {
        return Err(invalid(p, "plugins", "may only list tools and endpoints: this runtime serves nothing else"));
    }
    if !is_version(&m.meta.version) {
        return Err(invalid(p, "meta.version", "must look like 0.0.1"));
    }
    if m.meta.arch.is_empty() || m.meta.arch.iter().any(|a| a != "amd64" && a != "arm64") {
        return Err(invalid(p, "meta.arch", "must list amd64 and/or arm64"));
    }
    if m.meta.runner.language != "python" || m.meta.runner.entrypoint.is_empty() {
        return Err(invalid(p, "meta.runner", "must be {language: python, version: \"3.12\", entrypoint: main}"));
    }
    if let Some(repo) = m.repo.as_deref().filter(|r| !r.is_empty()) {
        if !(repo.starts_with("https://") || repo.starts_with("http://")) {
            return Err(invalid(p, "repo", "must be an http(s) URL"));
        }
    }
    Ok(())
}

fn check_icon(path: &str, field: &str, icon: Option<&str>, assets: &[&str]) -> Result<(), DeclarationError> {
    match icon.filter(|i| !i.is_empty()) {
        None if field == "icon" || field == "identity.icon" => Err(invalid(path, field, "is required")),
        None => Ok(()),
        Some(name) if assets.contains(&name) => Ok(()),
        Some(name) => Err(invalid(path, field, &format!("names {name:?}, which is not a file in {ASSETS_DIR}/"))),
    }
}

fn created_at_json(raw: &str) -> Result<String, DeclarationError> {
    let parsed = DateTime::parse_from_rfc3339(raw.trim()).map_err(|_| {
        invalid(
            MANIFEST_FILE,
            "created_at",
            &format!("{raw:?} must be RFC 3339 with a time zone, e.g. 2025-01-01T00:00:00Z"),
        )
    })?;
    Ok(if parsed.offset().local_minus_utc() == 0 {
        parsed.to_utc().to_rfc3339_opts(SecondsFormat::AutoSi, true)
    } else {
        parsed.to_rfc3339_opts(SecondsFormat::AutoSi, false)
    })
}

fn manifest_json(m: &ManifestYaml) -> Result<Value, DeclarationError> {
    let permission = m.resource.permission.as_ref().map(|p| {
        let get = |k: &str| p.get(k).cloned().unwrap_or(Value::Null);
        json!({"tool": get("tool"), "model": get("model"), "node": get("node"), "endpoint": get("endpoint"), "app": get("app"), "storage": get("storage")})
    });
    let pl = &m.plugins;
    Ok(json!({
        "version": m.version,
        "type": m.kind,
        "author": m.author,
        "name": m.name,
        "repo": m.repo,
        "description": m.description.to_json(),
        "icon": m.icon,
        "icon_dark": m.icon_dark,
        "label": m.label.to_json(),
        "created_at": created_at_json(&m.created_at)?,
        "resource": {"memory": m.resource.memory, "permission": permission},
        "plugins": {"tools": pl.tools, "models": pl.models, "endpoints": pl.endpoints, "agent_strategies": pl.agent_strategies, "datasources": pl.datasources, "triggers": pl.triggers},
        "meta": {"version": m.meta.version, "arch": m.meta.arch, "runner": m.meta.runner, "minimum_dify_version": m.meta.minimum_dify_version},
    }))
}

fn option_json(o: &OptionYaml, with_icon: bool) -> Value {
    if with_icon {
        json!({"value": o.value, "label": o.label.to_json(), "icon": o.icon, "show_on": []})
    } else {
        json!({"value": o.value, "label": o.label.to_json()})
    }
}

fn credentials_json(provider: &ProviderYaml, path: &str) -> Result<Value, DeclarationError> {
    let raw =
        provider.credentials_for_provider.clone().or_else(|| provider.credentials_schema.clone()).unwrap_or(json!([]));
    config_list_json(raw, path, "credentials_for_provider")
}

/// A `ProviderConfig` list (provider credentials, endpoint settings) in the SDK's JSON form;
/// `section` names the YAML key in errors.
fn config_list_json(raw: Value, path: &str, section: &str) -> Result<Value, DeclarationError> {
    let entries: Vec<(Option<String>, Value)> = match raw {
        Value::Object(map) => map.into_iter().map(|(k, v)| (Some(k), v)).collect(),
        Value::Array(items) => items.into_iter().map(|v| (None, v)).collect(),
        Value::Null => Vec::new(),
        _ => return Err(invalid(path, section, "must be a mapping of name to settings, or a list")),
    };
    let mut out = Vec::new();
    for (key, value) in entries {
        let c: CredentialYaml = serde_json::from_value(value)
            .map_err(|e| invalid(path, &format!("{section}.{}", key.clone().unwrap_or_default()), &e.to_string()))?;
        let name = key.or(c.name.clone()).unwrap_or_default();
        let field = format!("{section}.{name}");
        if name.is_empty() {
            return Err(invalid(path, section, "every entry needs a name"));
        }
        if !CREDENTIAL_TYPES.contains(&c.kind.as_str()) {
            return Err(invalid(
                path,
                &format!("{field}.type"),
                &format!("must be one of {}", CREDENTIAL_TYPES.join(", ")),
            ));
        }
        c.label.check(path, &format!("{field}.label"))?;
        out.push(json!({
            "name": name,
            "type": c.kind,
            "scope": c.scope,
            "required": c.required,
            "default": c.default,
            "options": c.options.as_ref().map(|os| os.iter().map(|o| option_json(o, false)).collect::<Vec<_>>()),
            "multiple": c.multiple,
            "label": c.label.to_json(),
            "help": c.help.as_ref().map(I18nText::to_json),
            "url": c.url,
            "placeholder": c.placeholder.as_ref().map(I18nText::to_json),
        }));
    }
    Ok(Value::Array(out))
}

fn provider_json(
    provider: &ProviderYaml,
    manifest: &ManifestYaml,
    path: &str,
    assets: &[&str],
    tools: Vec<Value>,
) -> Result<Value, DeclarationError> {
    let id = &provider.identity;
    if !is_slug(&id.author, 64, true) {
        return Err(invalid(path, "identity.author", "must be a non-empty name of letters, digits, _ or -"));
    }
    if !is_slug(&id.name, 255, true) {
        return Err(invalid(path, "identity.name", &format!("{:?} must match ^[a-zA-Z0-9_-]+$", id.name)));
    }
    id.label.check(path, "identity.label")?;
    if let Some(d) = &id.description {
        d.check(path, "identity.description")?;
    }
    check_icon(path, "identity.icon", Some(&id.icon), assets)?;
    check_icon(path, "identity.icon_dark", id.icon_dark.as_deref(), assets)?;
    if tools.is_empty() {
        return Err(invalid(path, "tools", "must list at least one tool file"));
    }
    let description = id.description.as_ref().unwrap_or(&manifest.description);
    Ok(json!({
        "identity": {
            "author": id.author,
            "name": id.name,
            "description": description.to_json(),
            "icon": id.icon,
            "icon_dark": id.icon_dark,
            "label": id.label.to_json(),
            "tags": id.tags,
        },
        "credentials_schema": credentials_json(provider, path)?,
        "oauth_schema": provider.oauth_schema,
        "tools": tools,
        "extra": provider.extra,
    }))
}

fn check_tool(t: &ToolYaml, path: &str) -> Result<(), DeclarationError> {
    if !is_slug(&t.identity.name, 255, true) {
        return Err(invalid(path, "identity.name", &format!("{:?} must match ^[a-zA-Z0-9_-]+$", t.identity.name)));
    }
    if t.identity.author.trim().is_empty() {
        return Err(invalid(path, "identity.author", "is required"));
    }
    t.identity.label.check(path, "identity.label")?;
    t.description.human.check(path, "description.human")?;
    if t.description.llm.trim().is_empty() {
        return Err(invalid(path, "description.llm", "must not be empty"));
    }
    let mut seen: Vec<&str> = Vec::new();
    for p in &t.parameters {
        let field = format!("parameters.{}", p.name);
        if p.name.is_empty() || p.name.chars().count() > 1023 {
            return Err(invalid(path, "parameters.name", "must be 1 to 1023 characters"));
        }
        if seen.contains(&p.name.as_str()) {
            return Err(invalid(path, &field, "is declared twice"));
        }
        seen.push(&p.name);
        if !PARAMETER_TYPES.contains(&p.kind.as_str()) {
            return Err(invalid(
                path,
                &format!("{field}.type"),
                &format!("must be one of {}", PARAMETER_TYPES.join(", ")),
            ));
        }
        if !PARAMETER_FORMS.contains(&p.form.as_str()) {
            return Err(invalid(path, &format!("{field}.form"), "must be schema, form or llm"));
        }
        p.label.check(path, &format!("{field}.label"))?;
        if let Some(h) = &p.human_description {
            h.check(path, &format!("{field}.human_description"))?;
        }
        if p.kind == "select" && p.options.as_ref().is_none_or(|o| o.is_empty()) {
            return Err(invalid(path, &format!("{field}.options"), "are required for a select parameter"));
        }
    }
    Ok(())
}

fn tool_json(t: &ToolYaml) -> Value {
    let parameters: Vec<Value> = t
        .parameters
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "label": p.label.to_json(),
                "human_description": p.human_description.as_ref().unwrap_or(&p.label).to_json(),
                "type": p.kind,
                "auto_generate": p.auto_generate,
                "template": p.template,
                "scope": p.scope,
                "form": p.form,
                "llm_description": p.llm_description,
                "required": p.required,
                "multiple": p.multiple,
                "default": p.default,
                "min": p.min,
                "max": p.max,
                "precision": p.precision,
                "options": p.options.as_ref().map(|os| os.iter().map(|o| option_json(o, true)).collect::<Vec<_>>()),
                "input_schema": p.input_schema,
                "show_on": [],
            })
        })
        .collect();
    json!({
        "identity": {"author": t.identity.author, "name": t.identity.name, "label": t.identity.label.to_json()},
        "parameters": parameters,
        "description": {"human": t.description.human.to_json(), "llm": t.description.llm},
        "extra": t.extra,
        "has_runtime_parameters": t.has_runtime_parameters,
        "output_schema": t.output_schema,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_slugs_and_dates_follow_the_daemon_rules() {
        assert!(is_version("0.2.0") && is_version("1.2.3-beta_1") && !is_version("1.2") && !is_version("v1.2.3"));
        assert!(is_slug("mem0-dify", 128, false) && !is_slug("Mem0", 64, false) && is_slug("Mem0", 64, true));
        assert_eq!(created_at_json("2025-01-01T00:00:00.000000+00:00").unwrap(), "2025-01-01T00:00:00Z");
        assert_eq!(created_at_json("2025-01-01T08:00:00+08:00").unwrap(), "2025-01-01T08:00:00+08:00");
        let err = created_at_json("2025-01-01T00:00:00").unwrap_err().to_string();
        assert!(err.contains("created_at") && err.contains("time zone"), "{err}");
    }

    #[test]
    fn assets_are_chunked_at_8192_raw_bytes() {
        let asset = Asset { filename: "icon.svg".into(), bytes: vec![b'x'; 20_000] };
        let chunks = asset_chunks(&asset);
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[0]["end"], false);
        assert_eq!(chunks[2]["end"], true);
        let engine = base64::engine::general_purpose::STANDARD;
        let total: usize = chunks.iter().map(|c| engine.decode(c["data"].as_str().unwrap()).unwrap().len()).sum();
        assert_eq!(total, 20_000);
        let empty = asset_chunks(&Asset { filename: "e".into(), bytes: vec![] });
        assert_eq!(empty, vec![json!({"filename": "e", "data": "", "end": true})]);
    }

    fn fixture_copy() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plugin");
        copy(&from, dir.path());
        dir
    }

    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            if entry.path().is_dir() {
                copy(&entry.path(), &to.join(entry.file_name()));
            } else {
                std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
            }
        }
    }

    #[test]
    fn the_repository_declarations_load_in_the_sdk_shape() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let d = PluginDeclarations::load(root).unwrap();
        assert_eq!(d.provider, "mem0");
        assert_eq!(d.tool_names, crate::adapters::dify::tools::TOOL_NAMES);
        assert_eq!(d.manifest["created_at"], "2026-11-20T09:00:00Z");
        assert!(d.tool_provider["credentials_schema"].as_array().is_some_and(|c| !c.is_empty()));
        let lines = d.registration_lines("k");
        assert!(lines[0].ends_with(b"}\n") && !lines[0].ends_with(b"\n\n"), "handshake ends with one newline");
        assert!(lines[1..].iter().all(|l| l.ends_with(b"}\n\n")));
        let last: Value = serde_json::from_slice(lines.last().unwrap()).unwrap();
        assert_eq!(last, json!({"type": "end", "data": {}}));
    }

    #[test]
    fn broken_declarations_name_the_file_and_field() {
        let dir = fixture_copy();
        let manifest = dir.path().join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&manifest).unwrap();
        std::fs::write(&manifest, text.replace("author: mem0ai", "author: Mem0AI")).unwrap();
        let err = PluginDeclarations::load(dir.path()).unwrap_err().to_string();
        assert!(err.starts_with("manifest.yaml: author \"Mem0AI\""), "{err}");

        let dir = fixture_copy();
        std::fs::remove_file(dir.path().join("_assets/icon.svg")).unwrap();
        std::fs::write(dir.path().join("_assets/other.svg"), "<svg/>").unwrap();
        let err = PluginDeclarations::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("icon") && err.contains("not a file in _assets/"), "{err}");

        let dir = fixture_copy();
        let tool = dir.path().join("tools/get_memory.yaml");
        let text = std::fs::read_to_string(&tool).unwrap();
        std::fs::write(&tool, text.replacen("form: llm", "form: prompt", 1)).unwrap();
        let err = PluginDeclarations::load(dir.path()).unwrap_err().to_string();
        assert!(err.starts_with("tools/get_memory.yaml: parameters.memory_id.form"), "{err}");
    }

    #[test]
    fn paths_must_stay_inside_the_plugin() {
        assert_eq!(relative("./tools/a.yaml", "p", "f").unwrap(), "tools/a.yaml");
        assert!(relative("../x.yaml", "p", "f").is_err());
        assert!(relative("/etc/passwd", "p", "f").is_err());
    }
}
