//! The operator under test: the `tusk operator` binary as its own process, so its memory is its own.

use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running `tusk operator`; dropping it stops the process.
pub struct Operator(Child);

impl Operator {
    /// Starts `tusk operator` from `binary` against the API server of `kubeconfig`, logging warnings only.
    pub fn start(binary: &Path, kubeconfig: &Path) -> Result<Operator> {
        let child = Command::new(binary)
            .args([
                "operator",
                "--no-leader-election",
                "--listen",
                "127.0.0.1:0",
            ])
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        Ok(Operator(child))
    }

    /// The process's resident memory now and at its peak, in bytes (Linux `/proc/<pid>/status`).
    pub fn memory(&mut self) -> Result<Memory> {
        if let Some(status) = self.0.try_wait()? {
            bail!("the operator exited: {status}");
        }
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0.id()))?;
        let field = |name: &str| -> Result<u64> {
            let line = status
                .lines()
                .find(|line| line.starts_with(name))
                .with_context(|| format!("{name} in /proc/<pid>/status"))?;
            let kib: u64 = line
                .trim_start_matches(name)
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()?;
            Ok(kib * 1024)
        };
        Ok(Memory {
            resident: field("VmRSS:")?,
            peak: field("VmHWM:")?,
        })
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Resident memory of a process, in bytes.
pub struct Memory {
    /// Resident now.
    pub resident: u64,
    /// The most it was resident.
    pub peak: u64,
}

impl std::fmt::Display for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
        write!(
            f,
            "{:.1} MiB (peak {:.1} MiB)",
            mib(self.resident),
            mib(self.peak)
        )
    }
}
