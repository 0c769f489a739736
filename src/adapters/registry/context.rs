//! What every provider's build function may use besides its block: the [`BuildContext`].

use super::data_dir;
use super::environment::Environment;
use std::path::{Path, PathBuf};

/// Built once by the composition root and handed to every build function: the environment
/// snapshot (fallbacks for API keys and base URLs), the data directory of local files and the home
/// directory (`~/…` in configured paths). Adapters read nothing of the process themselves.
#[derive(Debug, Clone)]
pub struct BuildContext {
    env: Environment,
    data_dir: PathBuf,
    home: Option<PathBuf>,
}

impl BuildContext {
    /// The context of `env`, with the data directory it chooses ([`data_dir::data_dir`]).
    pub fn from_environment(env: Environment) -> Self {
        let data_dir = data_dir::data_dir(&env);
        Self::new(env, data_dir)
    }

    /// The context of `env` keeping local files under `data_dir` (tests use a temporary one).
    pub fn new(env: Environment, data_dir: impl Into<PathBuf>) -> Self {
        let home = data_dir::home_dir(&env);
        Self { env, data_dir: data_dir.into(), home }
    }

    /// An environment variable ([`Environment::var`]).
    pub fn var(&self, name: &str) -> Option<String> {
        self.env.var(name)
    }

    /// The environment snapshot.
    pub fn env(&self) -> &Environment {
        &self.env
    }

    /// Where the local stores, journals and models live.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// A configured path resolved against the data directory (`~/…` under the home directory).
    pub fn resolve(&self, configured: &str) -> PathBuf {
        data_dir::resolve(configured, &self.data_dir, self.home.as_deref())
    }

    /// [`BuildContext::resolve`], refusing a path outside the data directory (the path it
    /// resolved to is the error).
    pub fn resolve_inside(&self, configured: &str) -> Result<PathBuf, PathBuf> {
        data_dir::resolve_inside(configured, &self.data_dir, self.home.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_reads_its_snapshot_only() {
        let env = Environment::from_pairs([("MEM0_DIFY_DATA_DIR", "/d"), ("HOME", "/h"), ("K", "v")]);
        let ctx = BuildContext::from_environment(env);
        assert_eq!(ctx.data_dir(), Path::new("/d"));
        assert_eq!(ctx.var("K").as_deref(), Some("v"));
        assert_eq!(ctx.resolve("~/m"), PathBuf::from("/h/m"));
        assert_eq!(ctx.resolve("m"), PathBuf::from("/d/m"));
        assert!(ctx.resolve_inside("../m").is_err());
    }
}
