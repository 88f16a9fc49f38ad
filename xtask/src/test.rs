//! `cargo xtask test`: every check and test tier, in order, with a summary of what each step took.

use crate::cargo::cargo;
use crate::testbed;
use anyhow::{Result, bail};
use std::time::{Duration, Instant};

/// The variable through which the integration tests find the test bed (`tusk_testenv::BIN_DIR_VAR`).
const TESTBED_BIN_VAR: &str = "TUSK_TESTBED_BIN";

/// Checks formatting and lints, builds the test bed, then runs the unit and integration tests of the whole
/// workspace. Every step runs even when an earlier one fails, so one run reports everything.
pub fn run() -> Result<()> {
    let mut steps: Vec<(&str, Duration, bool)> = Vec::new();

    let started = Instant::now();
    let formatted = cargo()
        .args(["fmt", "--all", "--check"])
        .status()?
        .success();
    steps.push((
        "formatting (cargo fmt --check)",
        started.elapsed(),
        formatted,
    ));

    let started = Instant::now();
    let linted = cargo()
        .args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ])
        .status()?
        .success();
    steps.push(("lints (cargo clippy)", started.elapsed(), linted));

    let started = Instant::now();
    let bin = testbed::build()?;
    steps.push((
        "test bed (etcd, kube-apiserver, kubectl)",
        started.elapsed(),
        true,
    ));

    let started = Instant::now();
    let tested = cargo()
        .args([
            "test",
            "--workspace",
            "--all-targets",
            "--no-fail-fast",
            "--",
            "--show-output",
        ])
        .env(TESTBED_BIN_VAR, &bin)
        .status()?
        .success();
    steps.push((
        "unit and integration tests (cargo test)",
        started.elapsed(),
        tested,
    ));

    eprintln!("\nxtask test summary:");
    for (step, took, ok) in &steps {
        eprintln!(
            "  {}  {took:>8.1?}  {step}",
            if *ok { "ok  " } else { "FAIL" }
        );
    }
    let failed: Vec<&str> = steps
        .iter()
        .filter(|(_, _, ok)| !ok)
        .map(|(step, _, _)| *step)
        .collect();
    if !failed.is_empty() {
        bail!("failed: {}", failed.join(", "));
    }
    Ok(())
}
