//! Offline checks of the monitoring stack in `deploy/monitoring/` with the promtool of the Prometheus the
//! stack runs ([`gomod::MONITORING`]): the configuration parses (Kubernetes service discovery included), the
//! alert rules are valid, and their unit tests (`deploy/monitoring/tests/`) pass.

use crate::{gomod, testbed};
use anyhow::Result;
use std::path::Path;
use std::process::Command;

/// Runs every check; whether all passed (each failure is printed by promtool).
pub fn check() -> Result<bool> {
    let promtool = testbed::build_set(&gomod::MONITORING)?.join("promtool");
    let stack = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/monitoring");
    let mut ok = true;
    for args in [
        // The rule file's path is the container's; the rules are checked on their own below.
        &["check", "config", "--syntax-only", "prometheus.yml"][..],
        &["check", "rules", "alert-rules.yml"],
        &["test", "rules", "tests/alert-rules.test.yml"],
    ] {
        let status = Command::new(&promtool)
            .args(args)
            .current_dir(&stack)
            .status()?;
        if !status.success() {
            eprintln!("xtask: promtool {} failed ({status})", args.join(" "));
            ok = false;
        }
    }
    Ok(ok)
}
