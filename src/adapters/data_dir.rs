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

/// [`resolve`], refusing a path that leads out of `base` (through `..`, an absolute path or `~`):
/// every file the plugin writes stays inside its data directory. The check is lexical (symbolic
/// links are not followed). An empty `base` (no data directory known) admits absolute paths only.
pub fn resolve_inside(configured: &str, base: &Path) -> Result<PathBuf, PathBuf> {
    let path = normalize(&resolve(configured, base));
    let inside = if base.as_os_str().is_empty() { path.is_absolute() } else { path.starts_with(normalize(base)) };
    if inside && path != normalize(base) {
        Ok(path)
    } else {
        Err(path)
    }
}

/// `path` with `.` dropped and each `..` taking away the component before it (lexically).
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_paths_stay_inside_the_base() {
        let base = Path::new("/data");
        assert_eq!(resolve_inside("x/./memories.db", base), Ok(PathBuf::from("/data/x/memories.db")));
        assert_eq!(resolve_inside("/data/y/../m.db", base), Ok(PathBuf::from("/data/m.db")));
        assert_eq!(resolve_inside("../../../outside/x", base), Err(PathBuf::from("/outside/x")));
        assert_eq!(resolve_inside("x/../../etc/m.db", base), Err(PathBuf::from("/etc/m.db")));
        assert_eq!(resolve_inside("/abs/m.db", base), Err(PathBuf::from("/abs/m.db")));
        assert_eq!(resolve_inside("/data-other/m.db", base), Err(PathBuf::from("/data-other/m.db")));
        assert!(resolve_inside(".", base).is_err(), "the data directory itself is not a file in it");
        assert_eq!(resolve_inside("/abs/m.db", Path::new("")), Ok(PathBuf::from("/abs/m.db")));
        assert!(resolve_inside("rel.db", Path::new("")).is_err());
    }

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
