//! The one settings loader: reads the process environment and `.env` in the working directory
//! once (the process environment wins) into an [`Environment`] snapshot that every setting of the
//! program — runtime, application tunables, data directory, provider fallbacks, console key — is
//! read from.

use mem0_dify::adapters::registry::Environment;
use std::path::Path;

/// `.env` exists but cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read {path}: {detail}")]
pub struct DotEnvError {
    /// The file.
    pub path: String,
    /// Why.
    pub detail: String,
}

/// The process environment over `./.env`. Variables whose name or value is not UTF-8 are skipped.
pub fn load() -> Result<Environment, DotEnvError> {
    let process = std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    merge(read_dotenv(Path::new(".env"))?, process)
}

/// `process` over `dotenv`: a variable set in both keeps the process's value (even a blank one).
fn merge(
    dotenv: Vec<(String, String)>,
    process: impl Iterator<Item = (String, String)>,
) -> Result<Environment, DotEnvError> {
    Ok(Environment::from_pairs(dotenv.into_iter().chain(process)))
}

/// The variables of a `.env` file, in file order; none when there is no file.
fn read_dotenv(path: &Path) -> Result<Vec<(String, String)>, DotEnvError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let error = |detail: String| DotEnvError { path: path.display().to_string(), detail };
    let iter = dotenvy::from_path_iter(path).map_err(|e| error(described(&e)))?;
    iter.map(|item| item.map_err(|e| error(described(&e)))).collect()
}

/// A `.env` error in words that never quote the file's lines (they may hold secrets).
fn described(error: &dotenvy::Error) -> String {
    match error {
        dotenvy::Error::LineParse(_, at) => {
            format!("a line cannot be parsed at character {at} (its text is not shown)")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_file_is_read_and_the_environment_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, "INSTALL_METHOD=remote\nREMOTE_INSTALL_KEY=from-file\nBLANKED=file\n").unwrap();
        let process = [("REMOTE_INSTALL_KEY", "from-env"), ("BLANKED", " ")].map(|(k, v)| (k.to_owned(), v.to_owned()));
        let env = merge(read_dotenv(&path).unwrap(), process.into_iter()).unwrap();
        assert_eq!(env.var("INSTALL_METHOD").as_deref(), Some("remote"));
        assert_eq!(env.var("REMOTE_INSTALL_KEY").as_deref(), Some("from-env"));
        assert_eq!(env.var("BLANKED"), None, "a blank process variable still wins over .env");
        assert!(read_dotenv(&dir.path().join("absent")).unwrap().is_empty());
        std::fs::write(&path, "API_KEY='sk-secret\n").unwrap();
        let err = read_dotenv(&path).unwrap_err().to_string();
        assert!(err.starts_with(&format!("cannot read {}", path.display())), "{err}");
        assert!(!err.contains("sk-secret"), "a line of .env is never quoted: {err}");
    }
}
