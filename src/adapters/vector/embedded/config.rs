//! Configuration of the embedded store, read from Mem0-style `{"provider": "embedded", "config": {…}}`.
//!
//! Keys:
//! - `path`: the SQLite file (default `<data dir>/memories.db`, where the data dir is
//!   `$MEM0_DIFY_DATA_DIR` or `~/.mem0-dify`). `~/…` is under the home directory, a relative path
//!   is under the data dir, and an existing directory gets `memories.db` inside it. It must lie
//!   inside the data dir (any path when no data dir is known and the path is absolute).
//! - `collection_name`: the collection inside the file (default `mem0`); several may share a file.
//!   A name ([`is_store_name`]), never a path: it is also part of the journal's file name.
//! - `embedding_model_dims`: the vector size (default 384, the local embedder's).

use crate::adapters::config::{check_keys, config_error, is_store_name, positive_integer_key, string_key};
use crate::adapters::registry::data_dir::DATA_DIR_ENV;
use crate::adapters::registry::BuildContext;
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The provider name of the embedded store.
pub const PROVIDER: &str = "embedded";
/// The config keys the embedded store accepts.
pub const ALLOWED_KEYS: &[&str] = &["path", "collection_name", "embedding_model_dims"];
/// The file name used under the data directory (or a configured directory).
pub const DEFAULT_FILE_NAME: &str = "memories.db";
/// The default collection.
pub const DEFAULT_COLLECTION: &str = "mem0";
/// The default vector size (all-MiniLM-L6-v2, the local embedder).
pub const DEFAULT_DIMS: usize = 384;
/// Longest collection name accepted.
pub(super) const MAX_COLLECTION_NAME_LEN: usize = 255;

/// Where and how the embedded store keeps its memories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedConfig {
    /// The SQLite file (a directory is given `memories.db` inside it when opened).
    pub path: PathBuf,
    /// The collection inside the file.
    pub collection_name: String,
    /// The vector size.
    pub embedding_model_dims: usize,
}

impl EmbeddedConfig {
    /// The defaults under `data_dir`.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join(DEFAULT_FILE_NAME),
            collection_name: DEFAULT_COLLECTION.to_owned(),
            embedding_model_dims: DEFAULT_DIMS,
        }
    }

    /// The name of the journal file kept beside the store: one per store file and collection, so
    /// two stores in one folder never share a journal (a writer would apply the other's writes to
    /// its own store). The default file keeps the name it always had (`journal-embedded-<name>.db`);
    /// another file adds a digest of its name.
    pub fn journal_file_name(&self) -> String {
        let file = self.path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        if file == DEFAULT_FILE_NAME {
            return format!("journal-embedded-{}.db", self.collection_name);
        }
        let digest = hex::encode(&Sha256::digest(file.as_bytes())[..4]);
        // `+` cannot appear in a collection name, so no other name can produce this one
        format!("journal-embedded-{}+{digest}.db", self.collection_name)
    }
}

/// Reads an `embedded` block, resolving paths against the context's data directory.
pub fn from_block(block: &ProviderBlock, context: &BuildContext) -> Result<EmbeddedConfig, BuildError> {
    check_keys(block, ALLOWED_KEYS)?;
    let data_dir = context.data_dir();
    let mut config = EmbeddedConfig::in_data_dir(data_dir);
    if let Some(path) = string_key(block, "path")? {
        config.path = context.resolve_inside(&path).map_err(|outside| {
            config_error(
                block,
                format!(
                    "config key \"path\" must name a file inside the data directory {} ({} moves it), got {:?} \
                     (resolved to {})",
                    data_dir.display(),
                    DATA_DIR_ENV,
                    path.chars().take(200).collect::<String>(),
                    outside.display()
                ),
            )
        })?;
    }
    if let Some(name) = string_key(block, "collection_name")? {
        // the name becomes part of file and table names: a name, never a path
        if !is_store_name(&name, MAX_COLLECTION_NAME_LEN) {
            return Err(config_error(
                block,
                format!(
                    "config key \"collection_name\" must be 1-{MAX_COLLECTION_NAME_LEN} ASCII letters, digits, '_', \
                     '-' or '.', not starting with '.', got {:?}",
                    name.chars().take(80).collect::<String>()
                ),
            ));
        }
        config.collection_name = name;
    }
    if let Some(dims) = positive_integer_key(block, "embedding_model_dims")? {
        config.embedding_model_dims = dims;
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::config::test_block;
    use serde_json::{json, Value};
    use std::collections::BTreeSet;

    fn block(config: Value) -> ProviderBlock {
        test_block("local_vector_db_json", PROVIDER, config)
    }

    /// A context whose data directory is `/d`.
    fn in_d() -> BuildContext {
        BuildContext::new(crate::adapters::registry::Environment::default(), "/d")
    }

    #[test]
    fn defaults_live_in_the_data_dir() {
        let config = from_block(&block(json!({})), &in_d()).unwrap();
        assert_eq!(config, EmbeddedConfig::in_data_dir(Path::new("/d")));
        assert_eq!(config.path, PathBuf::from("/d/memories.db"));
        assert_eq!((config.collection_name.as_str(), config.embedding_model_dims), ("mem0", 384));
    }

    #[test]
    fn keys_are_read_and_checked() {
        let config = from_block(
            &block(json!({"path": "sub/m.db", "collection_name": "c1", "embedding_model_dims": 1536})),
            &in_d(),
        )
        .unwrap();
        assert_eq!(config.path, PathBuf::from("/d/sub/m.db"));
        assert_eq!((config.collection_name.as_str(), config.embedding_model_dims), ("c1", 1536));
        let err = from_block(&block(json!({"dims": 3})), &in_d()).unwrap_err().to_string();
        assert!(err.contains("unknown key \"dims\"") && err.contains("path, collection_name, embedding_model_dims"));
        let err = from_block(&block(json!({"embedding_model_dims": -1})), &in_d()).unwrap_err();
        assert!(err.to_string().contains("embedding_model_dims"));
        let err = from_block(&block(json!({"collection_name": "a\nb"})), &in_d()).unwrap_err();
        assert!(err.to_string().contains("collection_name"));
    }

    #[test]
    fn each_store_file_and_collection_has_its_own_journal() {
        let config = |path: &str, collection: &str| {
            from_block(&block(json!({"path": path, "collection_name": collection})), &in_d()).unwrap()
        };
        assert_eq!(config("memories.db", "mem0").journal_file_name(), "journal-embedded-mem0.db", "unchanged");
        let names: BTreeSet<String> = [("a.db", "mem0"), ("b.db", "mem0"), ("a.db", "other"), ("sub/memories.db", "x")]
            .iter()
            .map(|(path, collection)| config(path, collection).journal_file_name())
            .collect();
        assert_eq!(names.len(), 4, "{names:?}");
        assert!(names.iter().all(|n| n.starts_with("journal-embedded-") && !n.contains('/')), "{names:?}");
    }

    #[test]
    fn names_are_names_and_paths_stay_in_the_data_dir() {
        let err = |config: Value| from_block(&block(config), &in_d()).unwrap_err().to_string();
        for name in ["../../../outside/x", "a/b", "a\\b", "..", ".hidden", "x\u{0}", &"n".repeat(256)] {
            let e = err(json!({ "collection_name": name }));
            assert!(e.starts_with("local_vector_db_json: config key \"collection_name\" must be"), "{name:?}: {e}");
        }
        for name in ["mem0", "Team-1_memories.v2", &"n".repeat(255)] {
            assert!(from_block(&block(json!({ "collection_name": name })), &in_d()).is_ok(), "{name}");
        }
        for path in ["../outside.db", "/etc/m.db", "sub/../../x.db", "/d/../e/m.db"] {
            let e = err(json!({ "path": path }));
            assert!(e.contains("config key \"path\" must name a file inside the data directory /d"), "{path}: {e}");
        }
        let config = from_block(&block(json!({"path": "/d/sub/m.db"})), &in_d()).unwrap();
        assert_eq!(config.path, PathBuf::from("/d/sub/m.db"));
    }
}
