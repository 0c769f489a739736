//! The Dify declaration files (`manifest.yaml`, `provider/mem0.yaml`, `tools/*.yaml`) parse,
//! satisfy the plugin daemon's and the Python SDK's rules (the stricter of both, as in
//! dify-plugin-protocol.md §11), and agree with the code: tool names with `TOOL_NAMES`,
//! credential names with `domain::credentials`, parameters with the Python plugin v0.1.1 plus
//! our documented additions.

use mem0_dify::adapters::dify::declaration::{CREDENTIAL_TYPES, PARAMETER_TYPES};
use mem0_dify::adapters::dify::tools::TOOL_NAMES;
use mem0_dify::domain::credentials::{self, ProviderBlock, CREDENTIAL_NAMES};
use regex::Regex;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const LANGUAGES: [&str; 4] = ["en_US", "zh_Hans", "ja_JP", "pt_BR"];
/// The daemon's `PluginTag` values.
const TAGS: &[&str] = &[
    "search",
    "image",
    "videos",
    "weather",
    "finance",
    "design",
    "travel",
    "social",
    "news",
    "medical",
    "productivity",
    "education",
    "business",
    "entertainment",
    "utilities",
    "agent",
    "rag",
    "other",
    "trigger",
];
/// The launcher every `extra.python.source` points at (the daemon ignores the key; the SDK
/// wants it present).
const LAUNCHER: &str = "main.py";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Parses a YAML file of the repository into JSON values.
fn load(relative: &str) -> Value {
    let path = root().join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let yaml: serde_norway::Value =
        serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{relative} is not valid YAML: {e}"));
    serde_json::to_value(yaml).unwrap_or_else(|e| panic!("{relative} does not map to JSON: {e}"))
}

fn obj<'a>(value: &'a Value, what: &str) -> &'a Map<String, Value> {
    value.as_object().unwrap_or_else(|| panic!("{what} must be a mapping, got {value}"))
}

fn text<'a>(value: &'a Value, what: &str) -> &'a str {
    value.as_str().unwrap_or_else(|| panic!("{what} must be a string, got {value}"))
}

fn only_keys(map: &Map<String, Value>, allowed: &[&str], what: &str) {
    for key in map.keys() {
        assert!(allowed.contains(&key.as_str()), "{what}: unexpected key {key:?} (allowed: {allowed:?})");
    }
}

/// An I18n object with exactly our four languages, each 1..1023 characters.
fn check_i18n(value: &Value, what: &str) {
    let map = obj(value, what);
    let keys: BTreeSet<&str> = map.keys().map(String::as_str).collect();
    assert_eq!(keys, LANGUAGES.into_iter().collect::<BTreeSet<_>>(), "{what}: languages");
    for (lang, v) in map {
        let s = text(v, &format!("{what}.{lang}"));
        let len = s.chars().count();
        assert!((1..1024).contains(&len), "{what}.{lang} must be 1..1023 characters, has {len}");
        assert_eq!(s.trim(), s, "{what}.{lang} has surrounding whitespace");
    }
}

fn check_tags(value: &Value, what: &str) {
    for tag in value.as_array().unwrap_or_else(|| panic!("{what} must be a list")) {
        assert!(TAGS.contains(&text(tag, what)), "{what}: {tag} is not a Dify plugin tag");
    }
}

fn asset_exists(name: &str) -> bool {
    root().join("_assets").join(name).is_file()
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap()
}

// ---------------------------------------------------------------- manifest

#[test]
fn manifest_satisfies_the_daemon() {
    let manifest = load("manifest.yaml");
    let m = obj(&manifest, "manifest");
    only_keys(
        m,
        &[
            "version",
            "type",
            "author",
            "name",
            "label",
            "description",
            "icon",
            "icon_dark",
            "resource",
            "plugins",
            "meta",
            "created_at",
            "privacy",
            "repo",
            "tags",
        ],
        "manifest",
    );
    let version_re = regex(r"^\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?$");
    let version = text(&m["version"], "version");
    assert!(version_re.is_match(version), "version {version}");
    assert_eq!(version, env!("CARGO_PKG_VERSION"), "manifest version must match Cargo.toml");
    assert_eq!(m["type"], "plugin");
    let author = text(&m["author"], "author");
    assert!(regex(r"^[a-z0-9_-]{1,64}$").is_match(author), "author must be lower case: {author}");
    assert!(uuid::Uuid::parse_str(author).is_err(), "author must not be a UUID");
    assert_eq!(author, "mem0-dify");
    let name = text(&m["name"], "name");
    assert!(regex(r"^[a-z0-9_-]{1,128}$").is_match(name));
    assert_eq!(name, "mem0_dify");
    check_i18n(&m["label"], "manifest.label");
    check_i18n(&m["description"], "manifest.description");

    let icon = text(&m["icon"], "icon");
    assert!(icon.len() <= 128 && asset_exists(icon), "icon {icon} must exist in _assets/");
    assert_eq!(icon, "icon.svg");

    // created_at: RFC 3339 with a zone (Go's time.Time), and in the past (Marketplace rule).
    let created = text(&m["created_at"], "created_at");
    let at = chrono::DateTime::parse_from_rfc3339(created)
        .unwrap_or_else(|e| panic!("created_at {created} is not RFC 3339 with a zone: {e}"));
    assert!(at < chrono::Utc::now(), "created_at must be in the past");

    let resource = obj(&m["resource"], "resource");
    only_keys(resource, &["memory", "permission"], "resource");
    let memory = resource["memory"].as_u64().expect("resource.memory must be a whole number of bytes");
    assert!((64 << 20..=2 << 30).contains(&memory), "resource.memory {memory} is not realistic");
    // Only the permissions the plugin uses: tools, its endpoint (the memory console), and the
    // workspace's LLM and embedding models (the `dify` model provider's backwards invocations).
    let permission = obj(&resource["permission"], "permission");
    let mut requested: Vec<&String> = permission.keys().collect();
    requested.sort();
    assert_eq!(requested, ["endpoint", "model", "tool"], "only tool, endpoint and model permissions");
    assert_eq!(permission["endpoint"], serde_json::json!({"enabled": true}));
    assert_eq!(permission["tool"], serde_json::json!({"enabled": true}));
    assert_eq!(permission["model"], serde_json::json!({"enabled": true, "llm": true, "text_embedding": true}));

    let plugins = obj(&m["plugins"], "plugins");
    let mut kinds: Vec<&String> = plugins.keys().collect();
    kinds.sort();
    assert_eq!(kinds, ["endpoints", "tools"], "tools and the console's endpoint group");
    assert_eq!(plugins["endpoints"], serde_json::json!(["group/console.yaml"]));
    assert_eq!(plugins["tools"], serde_json::json!(["provider/mem0.yaml"]));
    assert!(root().join("provider/mem0.yaml").is_file());

    let meta = obj(&m["meta"], "meta");
    only_keys(meta, &["version", "arch", "runner", "minimum_dify_version"], "meta");
    assert!(version_re.is_match(text(&meta["version"], "meta.version")));
    assert_eq!(meta["version"], "0.0.1");
    assert_eq!(meta["arch"], serde_json::json!(["amd64", "arm64"]));
    // "3.12" must stay a string (unquoted it would be the number 3.12).
    assert_eq!(meta["runner"], serde_json::json!({"language": "python", "version": "3.12", "entrypoint": "main"}));

    let privacy = text(&m["privacy"], "privacy");
    assert!(root().join(privacy).is_file(), "{privacy} must exist");
    check_tags(&m["tags"], "manifest.tags");
}

#[test]
fn privacy_policy_says_where_data_goes() {
    let policy = std::fs::read_to_string(root().join("PRIVACY.md")).unwrap();
    assert!(policy.contains("Only to the services **you** configure"), "{policy}");
    assert!(policy.contains("no telemetry"));
}

#[test]
fn icon_is_an_svg() {
    let icon = std::fs::read_to_string(root().join("_assets/icon.svg")).unwrap();
    assert!(icon.trim_start().starts_with("<svg") && icon.trim_end().ends_with("</svg>"));
    assert!(icon.contains("viewBox="));
}

// ---------------------------------------------------------------- provider

#[test]
fn provider_declares_the_credentials_of_the_domain() {
    let provider = load("provider/mem0.yaml");
    let p = obj(&provider, "provider");
    only_keys(p, &["identity", "credentials_for_provider", "tools", "extra"], "provider");

    let identity = obj(&p["identity"], "provider.identity");
    only_keys(identity, &["author", "name", "label", "description", "icon", "icon_dark", "tags"], "identity");
    let manifest = load("manifest.yaml");
    assert_eq!(identity["author"], manifest["author"]);
    let name = text(&identity["name"], "provider name");
    assert!(regex(r"^[a-zA-Z0-9_-]+$").is_match(name));
    assert_eq!(name, "mem0");
    check_i18n(&identity["label"], "provider.label");
    check_i18n(&identity["description"], "provider.description");
    assert!(asset_exists(text(&identity["icon"], "provider icon")));
    check_tags(&identity["tags"], "provider.tags");

    let creds = obj(&p["credentials_for_provider"], "credentials_for_provider");
    let names: Vec<&str> = creds.keys().map(String::as_str).collect();
    assert_eq!(names, CREDENTIAL_NAMES, "credential names and order must equal domain::credentials");

    let blocks = [
        (credentials::LLM, true),
        (credentials::EMBEDDER, true),
        (credentials::VECTOR_STORE, true),
        (credentials::GRAPH_STORE, false),
        (credentials::RERANKER, false),
    ];
    for (name, cred) in creds {
        let what = format!("credential {name}");
        let c = obj(cred, &what);
        only_keys(c, &["type", "required", "default", "options", "label", "help", "url", "placeholder"], &what);
        assert!(CREDENTIAL_TYPES.contains(&text(&c["type"], &what)), "{what}: type");
        assert!(c["required"].is_boolean(), "{what}: required must be a boolean");
        check_i18n(&c["label"], &format!("{what}.label"));
        check_i18n(&c["help"], &format!("{what}.help"));
        if let Some(placeholder) = c.get("placeholder") {
            check_i18n(placeholder, &format!("{what}.placeholder"));
        }
    }
    for (name, required) in blocks {
        let c = &creds[name];
        assert_eq!(c["type"], "secret-input", "{name} holds keys and passwords");
        assert_eq!(c["required"], required, "{name}: required");
        // The example is a block the domain accepts, in every language.
        for lang in LANGUAGES {
            let example = text(&c["placeholder"][lang], name);
            let field = CREDENTIAL_NAMES.iter().copied().find(|n| *n == name).unwrap();
            let block = ProviderBlock::parse(field, &Value::String(example.into()))
                .unwrap_or_else(|e| panic!("{name} placeholder is not a valid block: {e}"))
                .unwrap_or_else(|| panic!("{name} placeholder is empty"));
            assert!(!block.config.is_empty(), "{name} placeholder shows a config");
        }
    }
    for (name, default) in [(credentials::ASYNC_MODE, true), (credentials::BIND_USER_TO_DIFY_USER, false)] {
        assert_eq!(creds[name]["type"], "boolean", "{name}");
        assert_eq!(creds[name]["required"], false, "{name}");
        assert_eq!(creds[name]["default"], default, "{name} default");
    }
    for name in
        [credentials::CUSTOM_FACT_EXTRACTION_PROMPT, credentials::CUSTOM_UPDATE_MEMORY_PROMPT, credentials::LANGUAGE]
    {
        assert_eq!(creds[name]["type"], "text-input", "{name}");
        assert_eq!(creds[name]["required"], false, "{name}");
    }

    let tools: Vec<&str> = p["tools"].as_array().expect("tools list").iter().map(|t| text(t, "tools[]")).collect();
    let expected: Vec<String> = TOOL_NAMES.iter().map(|n| format!("tools/{n}.yaml")).collect();
    assert_eq!(tools, expected, "provider tools must be TOOL_NAMES in order");
    assert_eq!(p["extra"]["python"]["source"], LAUNCHER);
}

#[test]
fn tool_files_are_exactly_the_listed_tools() {
    let mut files: Vec<String> = std::fs::read_dir(root().join("tools"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut names: Vec<String> = TOOL_NAMES.iter().map(|n| n.to_string()).collect();
    names.sort();
    assert_eq!(files, names);
}

// ---------------------------------------------------------------- tools

/// `(name, type, form, required)` of every parameter, in order: the Python plugin v0.1.1's
/// parameters (seed-plugin.md §3) plus our additions (`infer`, `threshold`, `rerank`, the
/// optional scope of the id-based tools, `metadata` of update).
fn expected_parameters(tool: &str) -> Vec<(&'static str, &'static str, &'static str, bool)> {
    // user_id is optional everywhere: the scope tools default to the Dify end user of the call.
    let optional_scope =
        [("user_id", "string", "llm", false), ("agent_id", "string", "llm", false), ("run_id", "string", "llm", false)];
    let memory_id = ("memory_id", "string", "llm", true);
    match tool {
        "add_memory" => [
            vec![("user", "string", "llm", true), ("assistant", "string", "llm", false)],
            optional_scope.to_vec(),
            vec![
                ("metadata", "string", "llm", false),
                ("infer", "boolean", "form", false),
                ("timestamp", "string", "llm", false),
                ("expiration_date", "string", "llm", false),
                ("idempotency_key", "string", "llm", false),
                ("output_format", "select", "form", false),
            ],
        ]
        .concat(),
        "search_memory" => [
            vec![("query", "string", "llm", true)],
            optional_scope.to_vec(),
            vec![
                ("filters", "string", "llm", false),
                ("top_k", "number", "llm", false),
                ("threshold", "number", "form", false),
                ("rerank", "boolean", "form", false),
                ("retrieval", "select", "form", false),
                ("explain", "boolean", "form", false),
                ("max_context_chars", "number", "form", false),
                ("show_expired", "boolean", "form", false),
            ],
        ]
        .concat(),
        "get_all_memories" => [
            optional_scope.to_vec(),
            vec![
                ("limit", "number", "llm", false),
                ("filters", "string", "llm", false),
                ("show_expired", "boolean", "form", false),
            ],
        ]
        .concat(),
        "get_memory" | "delete_memory" | "get_memory_history" => [vec![memory_id], optional_scope.to_vec()].concat(),
        "update_memory" => [
            vec![memory_id, ("text", "string", "llm", true), ("metadata", "string", "llm", false)],
            optional_scope.to_vec(),
            vec![("expiration_date", "string", "llm", false)],
        ]
        .concat(),
        "delete_all_memories" => optional_scope.to_vec(),
        "get_write_status" => [vec![("write_id", "string", "llm", true)], optional_scope.to_vec()].concat(),
        other => panic!("no expectation for {other}"),
    }
}

/// Defaults the tools document and the tool layer applies.
fn expected_default(tool: &str, parameter: &str) -> Option<Value> {
    match (tool, parameter) {
        ("add_memory", "infer") | ("search_memory", "rerank") => Some(Value::Bool(true)),
        ("add_memory", "output_format") => Some("v1.1".into()),
        ("search_memory", "top_k") => Some(5.into()),
        ("search_memory", "max_context_chars") => Some(2000.into()),
        ("search_memory", "retrieval") => Some("hybrid".into()),
        ("search_memory", "explain") | ("search_memory" | "get_all_memories", "show_expired") => {
            Some(Value::Bool(false))
        }
        ("get_all_memories", "limit") => Some(100.into()),
        _ => None,
    }
}

#[test]
fn every_tool_satisfies_the_daemon_and_matches_the_python_plugin() {
    let manifest = load("manifest.yaml");
    let name_re = regex(r"^[a-zA-Z0-9_-]+$");
    for tool in TOOL_NAMES {
        let file = format!("tools/{tool}.yaml");
        let doc = load(&file);
        let t = obj(&doc, &file);
        only_keys(
            t,
            &["identity", "description", "parameters", "output_schema", "has_runtime_parameters", "extra"],
            &file,
        );

        let identity = obj(&t["identity"], &file);
        only_keys(identity, &["name", "author", "label"], &file);
        assert_eq!(identity["name"], tool, "{file}: identity.name must equal the file name");
        assert!(name_re.is_match(tool));
        assert_eq!(identity["author"], manifest["author"], "{file}: author");
        check_i18n(&identity["label"], &format!("{file} label"));

        let description = obj(&t["description"], &file);
        only_keys(description, &["human", "llm"], &file);
        check_i18n(&description["human"], &format!("{file} description.human"));
        assert!(text(&description["llm"], "description.llm").len() > 20, "{file}: description.llm");

        let parameters = t["parameters"].as_array().unwrap_or_else(|| panic!("{file}: parameters"));
        let mut seen = BTreeSet::new();
        let mut declared = Vec::new();
        for parameter in parameters {
            let p = obj(parameter, &file);
            let name = text(&p["name"], "parameter name");
            let what = format!("{file} parameter {name}");
            only_keys(
                p,
                &[
                    "name",
                    "type",
                    "form",
                    "required",
                    "default",
                    "min",
                    "max",
                    "options",
                    "label",
                    "human_description",
                    "llm_description",
                ],
                &what,
            );
            assert!((1..1024).contains(&name.len()) && seen.insert(name), "{what}: name empty, long or repeated");
            let ty = text(&p["type"], &what);
            let form = text(&p["form"], &what);
            assert!(PARAMETER_TYPES.contains(&ty), "{what}: type {ty}");
            assert!(["schema", "form", "llm"].contains(&form), "{what}: form {form}");
            let required = p["required"].as_bool().unwrap_or_else(|| panic!("{what}: required must be a boolean"));
            check_i18n(&p["label"], &format!("{what} label"));
            check_i18n(&p["human_description"], &format!("{what} human_description"));
            if form == "llm" {
                let llm = text(&p["llm_description"], &format!("{what} llm_description"));
                assert!(llm.len() > 10, "{what}: llm_description too short");
            }
            match (ty, p.get("default")) {
                (_, None) => {}
                ("boolean", Some(d)) => assert!(d.is_boolean(), "{what}: default"),
                ("number", Some(d)) => {
                    let d = d.as_f64().unwrap_or_else(|| panic!("{what}: default must be a number"));
                    let min = p.get("min").and_then(Value::as_f64).unwrap_or(f64::MIN);
                    let max = p.get("max").and_then(Value::as_f64).unwrap_or(f64::MAX);
                    assert!((min..=max).contains(&d), "{what}: default outside min/max");
                }
                ("select", Some(d)) => {
                    let values: Vec<&Value> =
                        p["options"].as_array().expect("options").iter().map(|o| &o["value"]).collect();
                    assert!(values.contains(&d), "{what}: default is not an option");
                }
                (_, Some(d)) => assert!(d.is_string(), "{what}: default"),
            }
            if ty == "select" {
                let options = p["options"].as_array().unwrap_or_else(|| panic!("{what}: options"));
                assert!(!options.is_empty() && options.len() < 128);
                for option in options {
                    assert!(text(&option["value"], "option value").len() < 128);
                    check_i18n(&option["label"], &format!("{what} option label"));
                }
            }
            assert_eq!(p.get("default").cloned(), expected_default(tool, name), "{what}: default");
            declared.push((name, ty, form, required));
        }
        let expected = expected_parameters(tool);
        assert_eq!(declared, expected, "{file}: parameters (name, type, form, required)");
        assert_eq!(t["extra"]["python"]["source"], LAUNCHER, "{file}: extra.python.source");
        check_output_schema(&t["output_schema"], &file);
    }
}

/// Every tool declares its typed outputs: a JSON Schema object whose properties each have a
/// type (the tool layer's tests check that the variables sent match it exactly).
fn check_output_schema(schema: &Value, file: &str) {
    assert_eq!(schema["type"], "object", "{file}: output_schema.type");
    let properties = obj(&schema["properties"], &format!("{file} output_schema.properties"));
    assert!(properties.contains_key("status") && properties.contains_key("error"), "{file}: status and error outputs");
    for (name, property) in properties {
        let ty = text(&property["type"], &format!("{file} output {name} type"));
        assert!(
            ["string", "integer", "number", "boolean", "array", "object"].contains(&ty),
            "{file}: output {name} type {ty}"
        );
        if ty == "array" {
            assert!(property["items"].is_object(), "{file}: output {name} items");
        }
    }
}

#[test]
fn yaml_files_quote_every_string_that_needs_it() {
    // The seed's packaging bug: an unquoted `: ` or JSON inside a description breaks the
    // daemon's YAML parser. Every value line that carries prose or JSON must be quoted.
    for file in ["manifest.yaml", "provider/mem0.yaml"]
        .into_iter()
        .map(String::from)
        .chain(TOOL_NAMES.iter().map(|n| format!("tools/{n}.yaml")))
    {
        let text = std::fs::read_to_string(root().join(&file)).unwrap();
        for (n, line) in text.lines().enumerate() {
            let trimmed = line.trim_start().trim_start_matches("- ");
            if trimmed.starts_with('#') {
                continue;
            }
            let Some((_, value)) = trimmed.split_once(": ") else { continue };
            let quoted = value.starts_with('"') || value.starts_with('\'');
            let risky = value.contains(": ") || value.contains('{') || value.contains('[') || value.contains(" #");
            assert!(quoted || !risky, "{file}:{}: quote this value: {line}", n + 1);
        }
    }
}

#[test]
fn files_referenced_by_declarations_exist() {
    let provider = load("provider/mem0.yaml");
    for tool in provider["tools"].as_array().unwrap() {
        let path = text(tool, "tool path");
        assert!(path.len() <= 128, "{path}");
        assert!(Path::new(&root()).join(path).is_file(), "{path} is listed but missing");
    }
}
