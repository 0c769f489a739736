//! The local data directory of the zero-setup backends (embedded store, local model, SQLite history
//! and journals), and the resolution of configured paths against it.
//!
//! It is `$MEM0_DIFY_DATA_DIR` when set and not blank, otherwise `~/.mem0-dify`, otherwise (no home
//! directory known) `./.mem0-dify`. The variables come from the [`Environment`] snapshot.

use super::environment::Environment;
use std::path::{Path, PathBuf};

/// The environment variable that chooses the data directory.
pub const DATA_DIR_ENV: &str = "MEM0_DIFY_DATA_DIR";

/// The directory name under the home directory used when [`DATA_DIR_ENV`] is not set.
pub const DEFAULT_DIR_NAME: &str = ".mem0-dify";

/// The data directory the variables of `env` choose.
pub fn data_dir(env: &Environment) -> PathBuf {
    env.var(DATA_DIR_ENV)
        .map(PathBuf::from)
        .or_else(|| home_dir(env).map(|home| home.join(DEFAULT_DIR_NAME)))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR_NAME))
}

/// The user's home directory (`$HOME`, or `%USERPROFILE%` on Windows).
pub fn home_dir(env: &Environment) -> Option<PathBuf> {
    ["HOME", "USERPROFILE"].iter().find_map(|name| env.var(name)).map(PathBuf::from)
}

/// Resolves a configured path: `~/…` is under `home`, a relative path is under `base`.
pub fn resolve(configured: &str, base: &Path, home: Option<&Path>) -> PathBuf {
    let expanded = match configured.strip_prefix("~/").or_else(|| (configured == "~").then_some("")) {
        Some(rest) => home.map(|home| home.join(rest)),
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
pub fn resolve_inside(configured: &str, base: &Path, home: Option<&Path>) -> Result<PathBuf, PathBuf> {
    let path = normalize(&resolve(configured, base, home));
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
        assert_eq!(resolve_inside("x/./memories.db", base, None), Ok(PathBuf::from("/data/x/memories.db")));
        assert_eq!(resolve_inside("/data/y/../m.db", base, None), Ok(PathBuf::from("/data/m.db")));
        assert_eq!(resolve_inside("../../../outside/x", base, None), Err(PathBuf::from("/outside/x")));
        assert_eq!(resolve_inside("x/../../etc/m.db", base, None), Err(PathBuf::from("/etc/m.db")));
        assert_eq!(resolve_inside("/abs/m.db", base, None), Err(PathBuf::from("/abs/m.db")));
        assert_eq!(resolve_inside("/data-other/m.db", base, None), Err(PathBuf::from("/data-other/m.db")));
        assert!(resolve_inside(".", base, None).is_err(), "the data directory itself is not a file in it");
        assert_eq!(resolve_inside("/abs/m.db", Path::new(""), None), Ok(PathBuf::from("/abs/m.db")));
        assert!(resolve_inside("rel.db", Path::new(""), None).is_err());
    }

    #[test]
    fn relative_paths_land_under_the_base() {
        let base = Path::new("/data");
        let home = Some(Path::new("/home/u"));
        assert_eq!(resolve("x/memories.db", base, home), PathBuf::from("/data/x/memories.db"));
        assert_eq!(resolve("/abs/m.db", base, home), PathBuf::from("/abs/m.db"));
        assert_eq!(resolve("~/m.db", base, home), PathBuf::from("/home/u/m.db"));
        assert_eq!(resolve_inside("~/m.db", Path::new("/home/u"), home), Ok(PathBuf::from("/home/u/m.db")));
    }

    #[test]
    fn the_data_dir_comes_from_the_environment_snapshot() {
        let env = |pairs: &[(&str, &str)]| Environment::from_pairs(pairs.iter().copied());
        assert_eq!(data_dir(&env(&[(DATA_DIR_ENV, "/d"), ("HOME", "/h")])), PathBuf::from("/d"));
        assert_eq!(data_dir(&env(&[(DATA_DIR_ENV, " "), ("HOME", "/h")])), PathBuf::from("/h/.mem0-dify"));
        assert_eq!(data_dir(&env(&[("USERPROFILE", "C:/u")])), PathBuf::from("C:/u/.mem0-dify"));
        assert_eq!(data_dir(&env(&[])), PathBuf::from(".mem0-dify"));
    }
}
