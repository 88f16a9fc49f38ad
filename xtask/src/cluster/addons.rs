//! The add-ons `up` applies once the API server runs: CoreDNS and the local-path provisioner with the default
//! StorageClass (manifests in `xtask/cluster/`).

use super::Layout;
use anyhow::{Result, bail};
use std::io::Write;
use std::process::Stdio;

const MANIFESTS: &[(&str, &str)] = &[
    ("coredns", include_str!("../../cluster/coredns.yaml")),
    ("local-path", include_str!("../../cluster/local-path.yaml")),
];

/// The state directory the manifests are written for; replaced by the layout's.
const DEFAULT_STATE: &str = "/var/lib/tusk-cluster";

pub fn apply(layout: &Layout) -> Result<()> {
    for (name, manifest) in MANIFESTS {
        let manifest = manifest.replace(DEFAULT_STATE, &layout.state.display().to_string());
        let mut child = layout
            .kubectl()
            .args(["apply", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(manifest.as_bytes())?;
        }
        let output = child.wait_with_output()?;
        if !output.status.success() {
            bail!(
                "kubectl apply of the {name} add-on failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    Ok(())
}
