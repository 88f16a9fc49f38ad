//! The test bed's binaries, and every other set of Go binaries: built with the machine's Go from the wrapper
//! modules, cached by fingerprint.

use crate::{cache, gomod};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// Makes sure every binary of the test bed is in the cache and returns their directory.
pub fn build() -> Result<PathBuf> {
    build_set(&gomod::TESTBED)
}

/// Makes sure every binary of `set` is in the cache and returns their directory.
pub fn build_set(set: &gomod::BinarySet) -> Result<PathBuf> {
    let inputs = gomod::inputs(set).context("reading xtask/gomod")?;
    let key = cache::fingerprint(inputs.iter().map(Vec::as_slice));
    let testbeds = cache::dir()?.join(set.name);
    let bin = testbeds.join(&key).join("bin");
    std::fs::create_dir_all(&bin)?;
    remove_other_versions(&testbeds, &key)?;
    let missing: Vec<&gomod::GoBinary> = set
        .binaries
        .iter()
        .filter(|binary| !bin.join(binary.name).is_file())
        .collect();
    if missing.is_empty() {
        eprintln!("xtask: {} up to date in {}", set.description, bin.display());
    }
    for binary in missing {
        let target = bin.join(binary.name);
        let started = Instant::now();
        eprintln!(
            "xtask: building {} from {} (go build) ...",
            binary.name, binary.package
        );
        let partial = bin.join(format!(".{}.partial", binary.name));
        let mut go = Command::new("go");
        if set.static_link {
            go.env("CGO_ENABLED", "0");
        }
        go.args(["build", "-trimpath"]);
        if !set.tags.is_empty() {
            go.arg(format!("-tags={}", set.tags));
        }
        let status = go
            .arg("-ldflags")
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

/// The directory of `set`'s binaries in the cache, built or not.
pub fn cached_dir(set: &gomod::BinarySet) -> Result<PathBuf> {
    let inputs = gomod::inputs(set).context("reading xtask/gomod")?;
    let key = cache::fingerprint(inputs.iter().map(Vec::as_slice));
    Ok(cache::dir()?.join(set.name).join(key).join("bin"))
}

/// Removes the binaries of earlier pins: only the current version of a set is kept.
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
