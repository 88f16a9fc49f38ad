//! `cargo xtask bench`: builds the operator and the benchmark in release mode and runs it against a real
//! etcd and kube-apiserver. The release build has its own target directory in the cache, so a fresh clone on
//! the same machine reuses it and the debug builds of the tests are left alone.

use crate::cargo::cargo;
use crate::{cache, cluster, testbed};
use anyhow::{Result, bail};

/// Builds `tusk` and `tusk-bench` (release), then runs the benchmark with `arguments` passed through.
pub fn run(arguments: &[String]) -> Result<()> {
    let bin = testbed::build()?;
    let target = cache::dir()?.join("bench-target");
    let built = cargo()
        .args(["build", "--release", "-p", "tusk", "-p", "tusk-bench"])
        .env("CARGO_TARGET_DIR", &target)
        .status()?;
    if !built.success() {
        bail!("the release build failed");
    }
    let release = target.join("release");
    let ran = std::process::Command::new(release.join("tusk-bench"))
        .arg("--tusk")
        .arg(release.join("tusk"))
        .args(arguments)
        .env("TUSK_TESTBED_BIN", bin)
        .status()?;
    if !ran.success() {
        bail!("the benchmark failed");
    }
    Ok(())
}

/// `cargo xtask bench-backup`: the backup and restore benchmark (`crates/tusk-e2e/src/bin/backup-bench.rs`) on
/// the local Kubernetes, brought up first when it does not answer; `arguments` are passed through.
pub fn backup(arguments: &[String]) -> Result<()> {
    let layout = cluster::ensure_up()?;
    let mut bench = cargo();
    bench
        .args([
            "run",
            "--release",
            "-p",
            "tusk-e2e",
            "--bin",
            "backup-bench",
            "--",
        ])
        .args(arguments);
    if !cluster::with_env(&mut bench, &layout)?.status()?.success() {
        bail!("the backup benchmark failed");
    }
    Ok(())
}
