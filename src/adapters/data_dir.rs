//! The local data directory of the zero-setup backends (embedded store, local model).
//!
//! It is `$MEM0_DIFY_DATA_DIR` when set and not blank, otherwise `~/.mem0-dify`.

use std::path::{Path, PathBuf};

/// The environment variable that chooses the data directory.
pub const DATA_DIR_ENV: &str = "MEM0_DIFY_DATA_DIR";

/// The directory name under the home directory used when [`DATA_DIR_ENV`] is not set.
pub const DEFAULT_DIR_NAME: &str = ".mem0-dify";

/// The data directory, or `None` when neither [`DATA_DIR_ENV`] nor a home directory is known.
pub fn data_dir() -> Option<PathBuf> {
    let from_env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    from_env(DATA_DIR_ENV).or_else(|| home_dir().map(|home| home.join(DEFAULT_DIR_NAME)))
}

/// The user's home directory (`$HOME`, or `%USERPROFILE%` on Windows).
pub fn home_dir() -> Option<PathBuf> {
    ["HOME", "USERPROFILE"].iter().find_map(|name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from))
}

/// The directory a configured path is resolved against: the data directory, or (when there is none)
/// the empty path for an absolute `configured` path; `None` when neither is available.
pub fn base_for(configured: Option<&str>) -> Option<PathBuf> {
    match (data_dir(), configured) {
        (Some(dir), _) => Some(dir),
        // An absolute path needs no data dir.
        (None, Some(path)) if Path::new(path).is_absolute() => Some(PathBuf::new()),
        (None, _) => None,
    }
}

/// Resolves a configured path: `~/…` is under the home directory, a relative path is under `base`.
pub fn resolve(configured: &str, base: &Path) -> PathBuf {
    let expanded = match configured.strip_prefix("~/").or_else(|| (configured == "~").then_some("")) {
        Some(rest) => home_dir().map(|home| home.join(rest)),
        None => None,
    };
    let path = expanded.unwrap_or_else(|| PathBuf::from(configured));
    if path.is_absolute() {
        path
    } else {
        base.join(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_land_under_the_base() {
        let base = Path::new("/data");
        assert_eq!(resolve("x/memories.db", base), PathBuf::from("/data/x/memories.db"));
        assert_eq!(resolve("/abs/m.db", base), PathBuf::from("/abs/m.db"));
        if let Some(home) = home_dir() {
            assert_eq!(resolve("~/m.db", base), home.join("m.db"));
        }
    }
}
