//! The invalid PostgresCluster manifests in `tests/invalid-manifests/`: one file per mistake, each a complete
//! PostgresCluster that is valid except for that one mistake, opened by three header comments:
//!
//! ```yaml
//! # Rejected: a repository named repo5: only repo1..repo4 exist
//! # render: spec.backups.pgbackrest.repos[0].name
//! # apiserver: spec.backups.pgbackrest.repos[0].name
//! ```
//!
//! `render` is the field path `tusk render` names; `apiserver` is the field path a Kubernetes API server names
//! when it rejects the manifest, or `accepts: <why the schema cannot say it>` when the mistake is one only Tusk
//! catches.

use std::path::{Path, PathBuf};

/// One invalid manifest and what its header says about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// The manifest's path.
    pub file: PathBuf,
    /// The file name without `.yaml`: `NN-short-slug`.
    pub name: String,
    /// What is wrong, in words (`# Rejected:`).
    pub rejected: String,
    /// The field path `tusk render` must name (`# render:`).
    pub render_field: String,
    /// The field path the API server names (`# apiserver:`), or `None` when the API server accepts the manifest.
    pub apiserver: Option<String>,
    /// Why the API server accepts it (the text after `accepts:`), when it does.
    pub apiserver_accepts_because: Option<String>,
}

/// The directory of the invalid manifests: `crates/tusk/tests/invalid-manifests`.
pub fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid-manifests")
}

/// Every `*.yaml` file of [`cases_dir`], sorted by name (so by number).
pub fn case_files() -> Vec<PathBuf> {
    let dir = cases_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
}

/// Reads one case's header. The first three lines must be `# Rejected: ...`, `# render: <field>` and
/// `# apiserver: <field>` (or `# apiserver: accepts: <why>`), in that order; field paths have no spaces.
/// The error says what is wrong with the header.
pub fn read_case(path: &Path) -> Result<Case, String> {
    let text = std::fs::read_to_string(path).map_err(|error| format!("cannot read: {error}"))?;
    let name = path
        .file_stem()
        .and_then(|stem| stem.to_str())
        .unwrap_or_default()
        .to_string();
    let bytes = name.as_bytes();
    if bytes.len() < 4
        || !bytes[0].is_ascii_digit()
        || !bytes[1].is_ascii_digit()
        || bytes[2] != b'-'
    {
        return Err(format!("file name {name:?} is not NN-short-slug.yaml"));
    }
    let mut lines = text.lines();
    let mut header = |prefix: &str| -> Result<String, String> {
        let line = lines.next().unwrap_or_default();
        match line.strip_prefix(prefix).map(str::trim) {
            Some(value) if !value.is_empty() => Ok(value.to_string()),
            _ => Err(format!(
                "expected a header line `{prefix}...`, found {line:?}"
            )),
        }
    };
    let rejected = header("# Rejected: ")?;
    let render_field = header("# render: ")?;
    let apiserver_line = header("# apiserver: ")?;
    if render_field.contains(char::is_whitespace) {
        return Err(format!("# render: {render_field:?} is not a field path"));
    }
    let (apiserver, apiserver_accepts_because) = match apiserver_line.strip_prefix("accepts") {
        Some(reason) => {
            let reason = reason.trim_start_matches(':').trim();
            if reason.is_empty() {
                return Err(
                    "# apiserver: accepts must say why the schema cannot say it".to_string()
                );
            }
            (None, Some(reason.to_string()))
        }
        None if apiserver_line.contains(char::is_whitespace) => {
            return Err(format!(
                "# apiserver: {apiserver_line:?} is neither a field path nor `accepts: <why>`"
            ));
        }
        None => (Some(apiserver_line), None),
    };
    Ok(Case {
        file: path.to_path_buf(),
        name,
        rejected,
        render_field,
        apiserver,
        apiserver_accepts_because,
    })
}
