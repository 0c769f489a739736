//! `mem0-dify package`: builds the `.difypkg` (a zip without directory entries, files sorted by
//! path) with the declarations, `_assets/`, README, PRIVACY, the `main.py` launcher, an empty
//! `requirements.txt` and one static binary per architecture under `bin/linux-<arch>/mem0-dify`.
//! Contract §12 and §13.1.

use super::declaration::{DeclarationError, PluginDeclarations, ASSETS_DIR};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// The largest package Dify's upload accepts by default (`PLUGIN_MAX_PACKAGE_SIZE`, 15 MiB).
pub const MAX_PACKAGE_BYTES: u64 = 15 * 1024 * 1024;
/// The largest total of uncompressed files the daemon accepts (`MAX_PLUGIN_PACKAGE_SIZE`, 50 MiB).
pub const MAX_UNCOMPRESSED_BYTES: u64 = 50 * 1024 * 1024;
/// File name of the binary inside `bin/linux-<arch>/`.
pub const BINARY_NAME: &str = "mem0-dify";
/// The launcher the daemon runs (`python -m main`).
pub const LAUNCHER_FILE: &str = "main.py";
/// The dependency file the daemon requires (kept free of dependencies).
pub const REQUIREMENTS_FILE: &str = "requirements.txt";
/// The readme shown by Dify.
pub const README_FILE: &str = "README.md";
/// The privacy policy.
pub const PRIVACY_FILE: &str = "PRIVACY.md";

/// A CPU architecture of the daemon's host (`meta.arch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    /// x86-64.
    Amd64,
    /// AArch64.
    Arm64,
}

impl Arch {
    /// The name used by Dify and in `bin/linux-<arch>`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Amd64 => "amd64",
            Self::Arm64 => "arm64",
        }
    }

    /// The Rust target of the static build.
    pub fn musl_target(&self) -> &'static str {
        match self {
            Self::Amd64 => "x86_64-unknown-linux-musl",
            Self::Arm64 => "aarch64-unknown-linux-musl",
        }
    }

    /// Parses `amd64` / `arm64` (also `x86_64` / `aarch64`).
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "amd64" | "x86_64" => Some(Self::Amd64),
            "arm64" | "aarch64" => Some(Self::Arm64),
            _ => None,
        }
    }

    /// The path of this architecture's binary inside the package.
    pub fn package_path(&self) -> String {
        format!("bin/linux-{}/{BINARY_NAME}", self.as_str())
    }
}

/// Why the package could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// The declarations are invalid.
    #[error(transparent)]
    Declaration(#[from] DeclarationError),
    /// A file the package needs is missing.
    #[error("{path} is missing: {why}")]
    Missing {
        /// The file.
        path: String,
        /// Why it is needed.
        why: &'static str,
    },
    /// `requirements.txt` lists a dependency (the plugin must not install Python packages).
    #[error("requirements.txt must list no dependency (the runtime is a native binary), found {line:?}")]
    RequirementListed {
        /// The offending line.
        line: String,
    },
    /// No binary was given, or one architecture twice.
    #[error("{0}")]
    Binaries(String),
    /// Reading or writing a file failed.
    #[error("{path}: {detail}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// The package is larger than Dify accepts.
    #[error("the package is {size} bytes, over the {limit}-byte limit ({what}); strip the binaries or build them with --release")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
        /// Which limit.
        what: &'static str,
    },
}

/// What was built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageReport {
    /// The package file.
    pub output: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// The total of the uncompressed files.
    pub uncompressed: u64,
    /// The entries, in archive order.
    pub entries: Vec<String>,
    /// The daemon's package checksum (§12.3).
    pub checksum: String,
    /// `author/name:version@checksum`, as the daemon will name the plugin.
    pub unique_identifier: String,
}

impl std::fmt::Display for PackageReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "wrote {} ({} bytes; {} bytes uncompressed)", self.output.display(), self.size, self.uncompressed)?;
        writeln!(f, "plugin: {}", self.unique_identifier)?;
        write!(f, "files: {}", self.entries.join(", "))
    }
}

/// Builds the `.difypkg` of the plugin at `root` with the given binaries, written to `output`
/// (replaced atomically). Fails without writing when a file is missing or the package is too large.
pub fn build_package(root: &Path, binaries: &[(Arch, PathBuf)], output: &Path) -> Result<PackageReport, PackageError> {
    let declarations = PluginDeclarations::load(root)?;
    let entries = collect_entries(root, &declarations, binaries)?;
    let uncompressed: u64 = entries.iter().map(|e| e.bytes.len() as u64).sum();
    if uncompressed > MAX_UNCOMPRESSED_BYTES {
        return Err(PackageError::TooLarge {
            size: uncompressed,
            limit: MAX_UNCOMPRESSED_BYTES,
            what: "uncompressed files",
        });
    }
    let bytes = write_zip(&entries)?;
    let size = bytes.len() as u64;
    if size > MAX_PACKAGE_BYTES {
        return Err(PackageError::TooLarge { size, limit: MAX_PACKAGE_BYTES, what: "Dify's upload limit" });
    }
    let io_err = |e: std::io::Error| PackageError::Io { path: output.display().to_string(), detail: e.to_string() };
    let dir = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io_err)?;
    let file_name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "package".into());
    let temp = dir.join(format!(".{file_name}.{}.partial", std::process::id()));
    std::fs::write(&temp, &bytes).map_err(io_err)?;
    std::fs::rename(&temp, output).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        io_err(e)
    })?;
    let checksum = package_checksum(entries.iter().map(|e| (e.path.as_str(), e.bytes.as_slice())));
    Ok(PackageReport {
        output: output.to_path_buf(),
        size,
        uncompressed,
        entries: entries.iter().map(|e| e.path.clone()).collect(),
        unique_identifier: format!("{}:{}@{}", declarations.plugin_id, declarations.version, checksum),
        checksum,
    })
}

/// The default package file name: `<name>-<version>.difypkg`.
pub fn default_output_name(root: &Path) -> Result<String, PackageError> {
    let declarations = PluginDeclarations::load(root)?;
    let name = declarations.plugin_id.rsplit('/').next().unwrap_or(BINARY_NAME);
    Ok(format!("{name}-{}.difypkg", declarations.version))
}

/// The daemon's checksum: sha256 over, for every file sorted by path, sha256(path) ‖ sha256(bytes).
pub fn package_checksum<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut files: Vec<(&str, &[u8])> = files.into_iter().collect();
    files.sort_by(|a, b| a.0.cmp(b.0));
    let mut outer = Sha256::new();
    for (path, bytes) in files {
        outer.update(Sha256::digest(path.as_bytes()));
        outer.update(Sha256::digest(bytes));
    }
    hex::encode(outer.finalize())
}

struct Entry {
    path: String,
    bytes: Vec<u8>,
    executable: bool,
}

fn read(root: &Path, rel: &str) -> Result<Vec<u8>, PackageError> {
    std::fs::read(root.join(rel)).map_err(|e| PackageError::Io { path: rel.to_owned(), detail: e.to_string() })
}

fn required(root: &Path, rel: &str, why: &'static str) -> Result<Vec<u8>, PackageError> {
    if !root.join(rel).is_file() {
        return Err(PackageError::Missing { path: rel.to_owned(), why });
    }
    read(root, rel)
}

fn collect_entries(
    root: &Path,
    declarations: &PluginDeclarations,
    binaries: &[(Arch, PathBuf)],
) -> Result<Vec<Entry>, PackageError> {
    if binaries.is_empty() {
        return Err(PackageError::Binaries("at least one binary (amd64 or arm64) is needed".into()));
    }
    let mut entries: Vec<Entry> = Vec::new();
    let mut add = |path: String, bytes: Vec<u8>, executable: bool| {
        if !entries.iter().any(|e| e.path == path) {
            entries.push(Entry { path, bytes, executable });
        }
    };
    for rel in &declarations.files {
        add(rel.clone(), read(root, rel)?, false);
    }
    for asset in &declarations.assets {
        add(format!("{ASSETS_DIR}/{}", asset.filename), asset.bytes.clone(), false);
    }
    add(README_FILE.into(), required(root, README_FILE, "Dify shows it on the plugin page")?, false);
    if root.join(PRIVACY_FILE).is_file() {
        add(PRIVACY_FILE.into(), read(root, PRIVACY_FILE)?, false);
    }
    add(
        LAUNCHER_FILE.into(),
        required(root, LAUNCHER_FILE, "the daemon starts the plugin with `python -m main`")?,
        false,
    );
    let requirements = required(root, REQUIREMENTS_FILE, "the daemon refuses a plugin without a dependency file")?;
    if let Some(line) =
        String::from_utf8_lossy(&requirements).lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#'))
    {
        return Err(PackageError::RequirementListed { line: line.to_owned() });
    }
    add(REQUIREMENTS_FILE.into(), requirements, false);
    let mut seen = Vec::new();
    for (arch, path) in binaries {
        if seen.contains(arch) {
            return Err(PackageError::Binaries(format!("two binaries for {}", arch.as_str())));
        }
        seen.push(*arch);
        let bytes = std::fs::read(path)
            .map_err(|e| PackageError::Io { path: path.display().to_string(), detail: e.to_string() })?;
        add(arch.package_path(), bytes, true);
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}

fn write_zip(entries: &[Entry]) -> Result<Vec<u8>, PackageError> {
    let zip_err = |e: zip::result::ZipError| PackageError::Io { path: "package".into(), detail: e.to_string() };
    let mut writer = ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for entry in entries {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(9))
            .unix_permissions(if entry.executable { 0o755 } else { 0o644 });
        writer.start_file(entry.path.as_str(), options).map_err(zip_err)?;
        writer
            .write_all(&entry.bytes)
            .map_err(|e| PackageError::Io { path: entry.path.clone(), detail: e.to_string() })?;
    }
    Ok(writer.finish().map_err(zip_err)?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_follows_the_daemon_formula_and_ignores_order() {
        let a = package_checksum([("b.txt", b"2".as_slice()), ("a.txt", b"1".as_slice())]);
        let b = package_checksum([("a.txt", b"1".as_slice()), ("b.txt", b"2".as_slice())]);
        assert_eq!(a, b);
        let mut outer = Sha256::new();
        for (p, d) in [("a.txt", "1"), ("b.txt", "2")] {
            outer.update(Sha256::digest(p));
            outer.update(Sha256::digest(d));
        }
        assert_eq!(a, hex::encode(outer.finalize()));
    }

    fn plugin_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let status = std::process::Command::new("cp")
            .arg("-r")
            .arg(repo.join("tests/fixtures/plugin/."))
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success());
        for file in [LAUNCHER_FILE, REQUIREMENTS_FILE] {
            std::fs::copy(repo.join(file), dir.path().join(file)).unwrap();
        }
        dir
    }

    #[test]
    fn packages_are_sorted_flat_zips_with_the_binary_under_bin() {
        let dir = plugin_dir();
        let binary = dir.path().join("fake-binary");
        std::fs::write(&binary, b"\x7fELF fake").unwrap();
        let output = dir.path().join("out/p.difypkg");
        let report = build_package(dir.path(), &[(Arch::Amd64, binary)], &output).unwrap();
        assert!(report.entries.contains(&"bin/linux-amd64/mem0-dify".to_string()));
        assert!(report.entries.contains(&"provider/mem0.yaml".to_string()));
        let mut archive = zip::ZipArchive::new(std::fs::File::open(&output).unwrap()).unwrap();
        let names: Vec<String> =
            (0..archive.len()).map(|i| archive.by_index(i).unwrap().name().unwrap().to_string()).collect();
        assert_eq!(names, report.entries);
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert!(names.iter().all(|n| !n.ends_with('/')));
        assert!(report.unique_identifier.starts_with("mem0ai/mem0_dify:0.2.0@"));
        assert!(report.to_string().contains("plugin: mem0ai/mem0_dify:0.2.0@"));
    }

    #[test]
    fn dependencies_missing_files_and_oversized_packages_are_refused() {
        let dir = plugin_dir();
        let binary = dir.path().join("fake-binary");
        std::fs::write(&binary, b"bin").unwrap();
        let output = dir.path().join("p.difypkg");
        std::fs::write(dir.path().join(REQUIREMENTS_FILE), "# none\nrequests==2.0\n").unwrap();
        let err = build_package(dir.path(), &[(Arch::Amd64, binary.clone())], &output).unwrap_err();
        assert!(err.to_string().contains("\"requests==2.0\""), "{err}");
        std::fs::write(dir.path().join(REQUIREMENTS_FILE), "").unwrap();
        std::fs::remove_file(dir.path().join(README_FILE)).unwrap();
        let err = build_package(dir.path(), &[(Arch::Amd64, binary.clone())], &output).unwrap_err();
        assert!(err.to_string().starts_with("README.md is missing"), "{err}");
        std::fs::write(dir.path().join(README_FILE), "# r").unwrap();
        let err = build_package(dir.path(), &[], &output).unwrap_err();
        assert!(err.to_string().contains("at least one binary"), "{err}");
        // incompressible bytes over Dify's upload limit
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let noise: Vec<u8> = (0..16 * 1024 * 1024)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        std::fs::write(&binary, noise).unwrap();
        let err = build_package(dir.path(), &[(Arch::Amd64, binary)], &output).unwrap_err();
        assert!(matches!(err, PackageError::TooLarge { .. }), "{err}");
        assert!(!output.exists(), "nothing is written when the package is refused");
    }

    #[test]
    fn arch_names() {
        assert_eq!(Arch::parse("x86_64"), Some(Arch::Amd64));
        assert_eq!(Arch::Arm64.package_path(), "bin/linux-arm64/mem0-dify");
        assert_eq!(Arch::parse("riscv"), None);
    }
}
