//! The test bed's binaries: built with the machine's Go from the wrapper modules, cached by fingerprint.

use crate::{cache, gomod};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// Makes sure every binary is in the cache and returns their directory.
pub fn build() -> Result<PathBuf> {
    let inputs = gomod::inputs().context("reading xtask/gomod")?;
    let key = cache::fingerprint(inputs.iter().map(Vec::as_slice));
    let testbeds = cache::dir()?.join("testbed");
    let bin = testbeds.join(&key).join("bin");
    std::fs::create_dir_all(&bin)?;
    remove_other_versions(&testbeds, &key)?;
    let missing: Vec<&gomod::GoBinary> = gomod::BINARIES
        .iter()
        .filter(|binary| !bin.join(binary.name).is_file())
        .collect();
    if missing.is_empty() {
        eprintln!("xtask: test bed up to date in {}", bin.display());
    }
    for binary in missing {
        let target = bin.join(binary.name);
        let started = Instant::now();
        eprintln!(
            "xtask: building {} from {} (go build) ...",
            binary.name, binary.package
        );
        let partial = bin.join(format!(".{}.partial", binary.name));
        let status = Command::new("go")
            .args(["build", "-trimpath", "-ldflags"])
            .arg(binary.ldflags()?)
            .arg("-o")
            .arg(&partial)
            .arg(binary.package)
            .current_dir(gomod::root().join(binary.module))
            .status()
            .context("cannot run `go`: the test bed is built with the machine's Go toolchain")?;
        if !status.success() {
            bail!("go build of {} failed ({status})", binary.name);
        }
        std::fs::rename(&partial, &target)?;
        eprintln!("xtask: built {} in {:.0?}", binary.name, started.elapsed());
    }
    Ok(bin)
}

/// Removes the binaries of earlier pins: only the current test bed is kept.
fn remove_other_versions(testbeds: &std::path::Path, key: &str) -> Result<()> {
    for entry in std::fs::read_dir(testbeds)? {
        let entry = entry?;
        if entry.file_name() != key {
            eprintln!(
                "xtask: removing the outdated test bed {}",
                entry.path().display()
            );
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(())
}
