//! Offline checks of the Helm chart in `deploy/helm/tusk` with the Helm of [`gomod::HELM`]: `helm lint --strict`
//! in both install modes.

use crate::{gomod, testbed};
use anyhow::Result;
use std::path::Path;
use std::process::Command;

/// Lints the chart cluster-wide and with `singleNamespace=true`; whether both passed (Helm prints each problem).
pub fn check() -> Result<bool> {
    let helm = testbed::build_set(&gomod::HELM)?.join("helm");
    let chart = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/helm/tusk");
    let mut ok = true;
    for single_namespace in ["false", "true"] {
        let status = Command::new(&helm)
            .args([
                "lint",
                "--strict",
                "--namespace",
                "postgres-operator",
                "--set",
            ])
            .arg(format!("singleNamespace={single_namespace}"))
            .arg(&chart)
            .status()?;
        if !status.success() {
            eprintln!("xtask: helm lint (singleNamespace={single_namespace}) failed ({status})");
            ok = false;
        }
    }
    Ok(ok)
}
