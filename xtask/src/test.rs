//! `cargo xtask test`: every test tier, in order, with a summary of what each step took.

use crate::testbed;
use anyhow::{Result, bail};
use std::process::Command;
use std::time::{Duration, Instant};

/// The variable through which the integration tests find the test bed (`tusk_testenv::BIN_DIR_VAR`).
const TESTBED_BIN_VAR: &str = "TUSK_TESTBED_BIN";

/// Builds the test bed, then runs the unit and integration tests of the whole workspace.
pub fn run() -> Result<()> {
    let mut timings: Vec<(&str, Duration)> = Vec::new();

    let started = Instant::now();
    let bin = testbed::build()?;
    timings.push(("test bed (etcd, kube-apiserver, kubectl)", started.elapsed()));

    let started = Instant::now();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["test", "--workspace", "--all-targets", "--no-fail-fast", "--", "--show-output"])
        .env(TESTBED_BIN_VAR, &bin)
        .status()?;
    timings.push(("unit and integration tests (cargo test)", started.elapsed()));

    eprintln!("\nxtask test summary:");
    for (step, took) in &timings {
        eprintln!("  {took:>8.1?}  {step}");
    }
    if !status.success() {
        bail!("tests failed ({status})");
    }
    Ok(())
}
