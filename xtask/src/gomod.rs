//! The Go wrapper modules in `xtask/gomod/`, which pin the upstream sources of the test bed's binaries.

use std::path::{Path, PathBuf};

/// One binary built from a wrapper module.
pub struct GoBinary {
    /// The binary's file name.
    pub name: &'static str,
    /// The wrapper module it is built in (a directory of `xtask/gomod/`).
    pub module: &'static str,
    /// The Go package of its `main`.
    pub package: &'static str,
    /// Whether it reports a Kubernetes version (stamped at link time, as Kubernetes' own build does).
    pub kubernetes_version: bool,
}

/// Every binary of the test bed.
pub const BINARIES: &[GoBinary] = &[
    GoBinary {
        name: "etcd",
        module: "etcd",
        package: "go.etcd.io/etcd/server/v3",
        kubernetes_version: false,
    },
    GoBinary {
        name: "kube-apiserver",
        module: "kubernetes",
        package: "k8s.io/kubernetes/cmd/kube-apiserver",
        kubernetes_version: true,
    },
    GoBinary {
        name: "kubectl",
        module: "kubernetes",
        package: "k8s.io/kubernetes/cmd/kubectl",
        kubernetes_version: true,
    },
];

/// The directory of the wrapper modules.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("gomod")
}

/// The test bed's whole input, in a fixed order: the `go.mod` and `go.sum` of every wrapper module, and how
/// each binary is linked.
pub fn inputs() -> std::io::Result<Vec<Vec<u8>>> {
    let mut modules: Vec<&str> = BINARIES.iter().map(|binary| binary.module).collect();
    modules.dedup();
    let mut inputs = Vec::new();
    for module in modules {
        for file in ["go.mod", "go.sum"] {
            inputs.push(std::fs::read(root().join(module).join(file))?);
        }
    }
    for binary in BINARIES {
        inputs.push(binary.ldflags()?.into_bytes());
    }
    Ok(inputs)
}

impl GoBinary {
    /// The `-ldflags` of its build: Kubernetes binaries learn their version (`v1.34.4`, major `1`, minor `34`)
    /// from the `k8s.io/kubernetes` requirement of their wrapper module, so that `kubectl version` and the
    /// API server's `/version` tell the truth.
    pub fn ldflags(&self) -> std::io::Result<String> {
        if !self.kubernetes_version {
            return Ok(String::new());
        }
        let go_mod = std::fs::read_to_string(root().join(self.module).join("go.mod"))?;
        let version = go_mod
            .lines()
            .find_map(|line| line.trim().strip_prefix("k8s.io/kubernetes v"))
            .and_then(|rest| rest.split_whitespace().next())
            .ok_or_else(|| std::io::Error::other("go.mod does not require k8s.io/kubernetes"))?;
        let mut numbers = version.split('.');
        let (major, minor) = (
            numbers.next().unwrap_or_default(),
            numbers.next().unwrap_or_default(),
        );
        let mut flags = Vec::new();
        for package in [
            "k8s.io/component-base/version",
            "k8s.io/client-go/pkg/version",
        ] {
            flags.push(format!("-X {package}.gitVersion=v{version}"));
            flags.push(format!("-X {package}.gitMajor={major}"));
            flags.push(format!("-X {package}.gitMinor={minor}"));
            flags.push(format!("-X {package}.gitTreeState=clean"));
        }
        Ok(flags.join(" "))
    }
}
