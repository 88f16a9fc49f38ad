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

/// A set of binaries built and cached together: the cache keeps one directory per set, named after the
/// fingerprint of its inputs, `<cache>/<name>/<fingerprint>/bin`.
pub struct BinarySet {
    /// The set's directory in the cache.
    pub name: &'static str,
    /// What the set is, for messages.
    pub description: &'static str,
    /// Its binaries.
    pub binaries: &'static [GoBinary],
    /// Whether its binaries are linked statically (`CGO_ENABLED=0`), to run in images without a libc.
    pub static_link: bool,
    /// The Go build tags of its binaries (`go build -tags`), empty for none.
    pub tags: &'static str,
}

/// The test bed of the integration tests: etcd, kube-apiserver, kubectl.
pub const TESTBED: BinarySet = BinarySet {
    name: "testbed",
    description: "test bed",
    binaries: BINARIES,
    static_link: false,
    tags: "",
};

/// The rest of the local cluster (`cargo xtask cluster`), beside the test bed's etcd, kube-apiserver and kubectl:
/// the other Kubernetes components of the same release, CoreDNS and the local-path provisioner.
pub const CLUSTER: BinarySet = BinarySet {
    name: "cluster-bin",
    description: "cluster binaries",
    binaries: CLUSTER_BINARIES,
    static_link: true,
    tags: "",
};

/// The object stores of the end-to-end tests' test bed (`tusk-objstore` image): an S3 server and a Google Cloud
/// Storage emulator.
pub const OBJSTORE: BinarySet = BinarySet {
    name: "objstore-bin",
    description: "object-store servers",
    binaries: OBJSTORE_BINARIES,
    static_link: true,
    tags: "",
};

/// The monitoring stack's server (`tusk-monitoring` image, `deploy/monitoring/`): Prometheus and its promtool
/// with no service discovery but Kubernetes' (and the file and HTTP ones Prometheus always has), as Debian's
/// Prometheus has no Kubernetes service discovery at all.
pub const MONITORING: BinarySet = BinarySet {
    name: "monitoring-bin",
    description: "Prometheus",
    binaries: MONITORING_BINARIES,
    static_link: true,
    tags: "remove_all_sd,enable_kubernetes_sd",
};

/// Helm, for the chart in `deploy/helm/tusk`: `helm lint` in `cargo xtask test`, install and upgrade in the
/// end-to-end tests (on the `PATH` of `cargo xtask cluster env`).
pub const HELM: BinarySet = BinarySet {
    name: "helm-bin",
    description: "Helm",
    binaries: &[GoBinary {
        name: "helm",
        module: "helm",
        package: "helm.sh/helm/v3/cmd/helm",
        kubernetes_version: false,
    }],
    static_link: true,
    tags: "",
};

/// Prometheus and promtool, from one wrapper module.
pub const MONITORING_BINARIES: &[GoBinary] = &[
    GoBinary {
        name: "prometheus",
        module: "prometheus",
        package: "github.com/prometheus/prometheus/cmd/prometheus",
        kubernetes_version: false,
    },
    GoBinary {
        name: "promtool",
        module: "prometheus",
        package: "github.com/prometheus/prometheus/cmd/promtool",
        kubernetes_version: false,
    },
];

/// The object-store servers: versitygw (S3, Apache-2.0; MinIO is under the AGPL) and fake-gcs-server.
pub const OBJSTORE_BINARIES: &[GoBinary] = &[
    GoBinary {
        name: "versitygw",
        module: "versitygw",
        package: "github.com/versity/versitygw/cmd/versitygw",
        kubernetes_version: false,
    },
    GoBinary {
        name: "fake-gcs-server",
        module: "fake-gcs-server",
        package: "github.com/fsouza/fake-gcs-server",
        kubernetes_version: false,
    },
];

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

/// The local cluster's binaries that the test bed does not have.
pub const CLUSTER_BINARIES: &[GoBinary] = &[
    GoBinary {
        name: "kube-controller-manager",
        module: "kubernetes-node",
        package: "k8s.io/kubernetes/cmd/kube-controller-manager",
        kubernetes_version: true,
    },
    GoBinary {
        name: "kube-scheduler",
        module: "kubernetes-node",
        package: "k8s.io/kubernetes/cmd/kube-scheduler",
        kubernetes_version: true,
    },
    GoBinary {
        name: "kubelet",
        module: "kubernetes-node",
        package: "k8s.io/kubernetes/cmd/kubelet",
        kubernetes_version: true,
    },
    GoBinary {
        name: "kube-proxy",
        module: "kubernetes-node",
        package: "k8s.io/kubernetes/cmd/kube-proxy",
        kubernetes_version: true,
    },
    GoBinary {
        name: "coredns",
        module: "coredns",
        package: "github.com/coredns/coredns",
        kubernetes_version: false,
    },
    GoBinary {
        name: "local-path-provisioner",
        module: "local-path-provisioner",
        package: "github.com/rancher/local-path-provisioner",
        kubernetes_version: false,
    },
];

/// The directory of the wrapper modules.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("gomod")
}

/// A set's whole input, in a fixed order: the `go.mod` and `go.sum` of every wrapper module, and how each
/// binary is linked.
pub fn inputs(set: &BinarySet) -> std::io::Result<Vec<Vec<u8>>> {
    let mut modules: Vec<&str> = set.binaries.iter().map(|binary| binary.module).collect();
    modules.dedup();
    let mut inputs = Vec::new();
    for module in modules {
        for file in ["go.mod", "go.sum"] {
            inputs.push(std::fs::read(root().join(module).join(file))?);
        }
    }
    for binary in set.binaries {
        inputs.push(binary.ldflags()?.into_bytes());
    }
    if set.static_link {
        inputs.push(b"CGO_ENABLED=0".to_vec());
    }
    if !set.tags.is_empty() {
        inputs.push(format!("-tags={}", set.tags).into_bytes());
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
