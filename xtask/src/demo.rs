//! `cargo xtask demo`: shows what Tusk does today on the docs' hippo cluster.

use crate::cargo::cargo;
use anyhow::{Result, bail};
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

/// The docs' quickstart manifest.
const HIPPO: &str = "examples/hippo/postgres.yaml";

/// Renders the hippo cluster with every default filled in, then shows the same manifest with two mistakes
/// rejected, each naming its field.
pub fn run() -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let hippo = std::fs::read_to_string(root.join(HIPPO))?;

    println!("$ tusk render -f {HIPPO}");
    let rendered = tusk(&root, &["render", "-f", HIPPO], None)?;
    if !rendered.status.success() {
        bail!(
            "tusk render rejected the docs' hippo cluster:\n{}",
            String::from_utf8_lossy(&rendered.stderr)
        );
    }
    print!("{}", String::from_utf8_lossy(&rendered.stdout));

    let broken = hippo
        .replace("name: repo1", "name: repo5")
        .replace("postgresVersion: 13", "postgresVersion: 9");
    println!("\n$ tusk render -f -   # the same cluster with repo5 and postgresVersion 9");
    let rejected = tusk(&root, &["render", "-f", "-"], Some(&broken))?;
    if rejected.status.success() {
        bail!("tusk render accepted a broken manifest");
    }
    print!("{}", String::from_utf8_lossy(&rejected.stderr));
    println!("(exit code {})", rejected.status.code().unwrap_or(-1));
    Ok(())
}

fn tusk(root: &Path, args: &[&str], stdin: Option<&str>) -> Result<std::process::Output> {
    let mut child = cargo()
        .args(["run", "-q", "-p", "tusk", "--"])
        .args(args)
        .current_dir(root)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())?;
    }
    Ok(child.wait_with_output()?)
}
