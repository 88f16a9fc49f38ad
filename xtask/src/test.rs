//! `cargo xtask test`: every check and test tier, in order, with a summary of what each step took.

use crate::cargo::cargo;
use crate::{cluster, docs, helm, monitoring, testbed};
use anyhow::{Result, bail};
use std::time::{Duration, Instant};

/// The variable through which the integration tests find the test bed (`tusk_testenv::BIN_DIR_VAR`).
const TESTBED_BIN_VAR: &str = "TUSK_TESTBED_BIN";

/// Checks formatting and lints, builds the test bed, then runs the unit and integration tests of the whole
/// workspace. Every step runs even when an earlier one fails, so one run reports everything.
pub fn run() -> Result<()> {
    let mut steps = Steps::default();
    steps.run("formatting (cargo fmt --check)", || {
        Ok(cargo()
            .args(["fmt", "--all", "--check"])
            .status()?
            .success())
    });
    steps.run("lints (cargo clippy)", || {
        Ok(cargo()
            .args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ])
            .status()?
            .success())
    });
    steps.run("user book: its links resolve (docs/src)", docs::check_links);
    let mut bin = None;
    steps.run("test bed (etcd, kube-apiserver, kubectl)", || {
        bin = Some(testbed::build()?);
        Ok(true)
    });
    steps.run(
        "monitoring stack: config, alert rules and their tests (promtool)",
        monitoring::check,
    );
    steps.run("Helm chart: helm lint, both install modes", helm::check);
    steps.run("unit and integration tests (cargo test)", || {
        let mut test = cargo();
        test.args([
            "test",
            "--workspace",
            "--exclude",
            "tusk-e2e",
            "--all-targets",
            "--no-fail-fast",
            "--",
            "--show-output",
        ]);
        if let Some(bin) = &bin {
            test.env(TESTBED_BIN_VAR, bin);
        }
        Ok(test.status()?.success())
    });
    steps.run(
        "end-to-end: local cluster up, smoke tests, tusk-e2e, down (cargo xtask cluster)",
        cluster::end_to_end,
    );
    steps.report()
}

/// The steps run so far: name, duration, success.
#[derive(Default)]
struct Steps(Vec<(&'static str, Duration, bool)>);

impl Steps {
    /// Runs one step and records how long it took and whether it succeeded; a step that cannot run at all
    /// (its error is printed) counts as failed.
    fn run(&mut self, name: &'static str, step: impl FnOnce() -> Result<bool>) {
        let started = Instant::now();
        let ok = step().unwrap_or_else(|error| {
            eprintln!("xtask: {name}: {error:#}");
            false
        });
        self.0.push((name, started.elapsed(), ok));
    }

    /// Prints the summary; fails if any step failed.
    fn report(&self) -> Result<()> {
        eprintln!("\nxtask test summary:");
        for (name, took, ok) in &self.0 {
            eprintln!(
                "  {}  {took:>8.1?}  {name}",
                if *ok { "ok  " } else { "FAIL" }
            );
        }
        let failed: Vec<&str> = self
            .0
            .iter()
            .filter(|(_, _, ok)| !ok)
            .map(|(name, _, _)| *name)
            .collect();
        if !failed.is_empty() {
            bail!("failed: {}", failed.join(", "));
        }
        Ok(())
    }
}
