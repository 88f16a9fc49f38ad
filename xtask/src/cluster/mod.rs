//! `cargo xtask cluster up|down|status|env`: a real single-node Kubernetes on this machine, made only of
//! upstream components: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kube-proxy
//! built from their Go modules, Debian's containerd and runc, the CNI bridge plugin, CoreDNS and rancher's
//! local-path provisioner, with images built locally from Debian packages (see docs/src/development/local-kubernetes.md).

mod addons;
mod config;
mod daemon;
mod host;
mod pki;
mod smoke;

pub use host::unmount_under;
pub use smoke::run as smoke;

use crate::{gomod, images, testbed};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The node's name.
pub const NODE: &str = "tusk";
/// The bridge the pods are attached to; the host's address on it is the node's and the API server's.
pub const BRIDGE: &str = "tusk0";
/// The host's address on the bridge, with its prefix: the node's subnet is the bridge's.
pub const NODE_IP: &str = "10.244.0.1";
pub const NODE_SUBNET: &str = "10.244.0.0/24";
/// Every pod address of the cluster (one node: one /24 of it is used).
pub const CLUSTER_CIDR: &str = "10.244.0.0/16";
pub const SERVICE_CIDR: &str = "10.96.0.0/16";
/// The `kubernetes` Service's address (the first of the service range) and CoreDNS's.
pub const API_SERVICE_IP: &str = "10.96.0.1";
pub const DNS_SERVICE_IP: &str = "10.96.0.10";
pub const API_PORT: u16 = 6443;
/// etcd's ports on loopback, away from the defaults so that another etcd on the machine does not collide.
pub const ETCD_CLIENT_PORT: u16 = 23790;
pub const ETCD_PEER_PORT: u16 = 23800;

/// How long `up` waits for the node and the add-ons.
const READY_TIMEOUT: Duration = Duration::from_secs(240);

/// Where the cluster keeps its state, configuration, logs and sockets.
pub struct Layout {
    /// Persistent state: `$TUSK_CLUSTER_DIR`, else `/var/lib/tusk-cluster`.
    pub state: PathBuf,
    /// Sockets and containerd's runtime state: `/run/tusk-cluster`.
    pub run: PathBuf,
    /// etcd, kube-apiserver and kubectl (the test bed).
    pub testbed_bin: PathBuf,
    /// The other binaries.
    pub cluster_bin: PathBuf,
    /// Helm, for the end-to-end tests of the chart.
    pub helm_bin: PathBuf,
}

impl Layout {
    /// The layout, building the binaries first if `build` (otherwise their cache directories, which may be empty).
    fn new(build: bool) -> Result<Layout> {
        let state = std::env::var_os("TUSK_CLUSTER_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/var/lib/tusk-cluster"));
        let (testbed_bin, cluster_bin, helm_bin) = if build {
            (
                testbed::build()?,
                testbed::build_set(&gomod::CLUSTER)?,
                testbed::build_set(&gomod::HELM)?,
            )
        } else {
            (
                testbed::cached_dir(&gomod::TESTBED)?,
                testbed::cached_dir(&gomod::CLUSTER)?,
                testbed::cached_dir(&gomod::HELM)?,
            )
        };
        Ok(Layout {
            state,
            run: PathBuf::from("/run/tusk-cluster"),
            testbed_bin,
            cluster_bin,
            helm_bin,
        })
    }

    pub fn pki(&self) -> PathBuf {
        self.state.join("pki")
    }
    pub fn config(&self) -> PathBuf {
        self.state.join("config")
    }
    pub fn logs(&self) -> PathBuf {
        self.state.join("logs")
    }
    pub fn pids(&self) -> PathBuf {
        self.run.join("pids")
    }
    pub fn kubelet_root(&self) -> PathBuf {
        self.state.join("kubelet")
    }
    pub fn containerd_root(&self) -> PathBuf {
        self.state.join("containerd")
    }
    pub fn containerd_state(&self) -> PathBuf {
        self.run.join("containerd")
    }
    pub fn containerd_socket(&self) -> PathBuf {
        self.run.join("containerd.sock")
    }
    pub fn cni_conf(&self) -> PathBuf {
        self.state.join("cni/net.d")
    }
    pub fn cni_ipam(&self) -> PathBuf {
        self.state.join("cni/ipam")
    }
    pub fn volumes(&self) -> PathBuf {
        self.state.join("local-path")
    }
    /// The administrator's kubeconfig, which `cluster env` exports.
    pub fn admin_kubeconfig(&self) -> PathBuf {
        self.state.join("admin.kubeconfig")
    }
    pub fn kubeconfig(&self, component: &str) -> PathBuf {
        self.config().join(format!("{component}.kubeconfig"))
    }
    pub fn kubectl_path(&self) -> PathBuf {
        self.testbed_bin.join("kubectl")
    }

    /// `kubectl` as the administrator.
    pub fn kubectl(&self) -> Command {
        let mut command = Command::new(self.kubectl_path());
        command.arg(format!(
            "--kubeconfig={}",
            self.admin_kubeconfig().display()
        ));
        command
    }

    /// `ctr` in containerd's `k8s.io` namespace, where the CRI plugin keeps its images and containers.
    pub fn ctr(&self) -> Command {
        let mut command = Command::new("ctr");
        command
            .arg(format!("--address={}", self.containerd_socket().display()))
            .args(["--namespace", "k8s.io"]);
        command
    }
}

/// `cluster up`: builds what is missing, starts what is not running, and waits until the node is Ready, CoreDNS
/// answers and the default StorageClass exists. Running it again changes nothing.
pub fn up() -> Result<()> {
    let started = Instant::now();
    host::require_root()?;
    host::install_packages()?;
    let layout = Layout::new(true)?;
    let images = images::build_all()?;
    eprintln!(
        "xtask: binaries and images ready after {:.0?}",
        started.elapsed()
    );
    host::prepare(&layout)?;
    pki::ensure(&layout)?;
    let changed = config::write_all(&layout)?;

    for daemon in daemon::all(&layout) {
        if changed.contains(&daemon.name) && daemon.running_pid(&layout).is_some() {
            eprintln!("xtask: the configuration of {} changed", daemon.name);
            daemon.stop(&layout)?;
        }
        daemon.ensure_started(&layout)?;
        if daemon.name == "containerd" {
            daemon.wait_healthy(&layout, Duration::from_secs(30))?;
            images::import_all(&layout, &images)?;
        }
        if daemon.name == "kube-apiserver" {
            daemon.wait_healthy(&layout, Duration::from_secs(90))?;
        }
    }
    for daemon in daemon::all(&layout) {
        daemon.wait_healthy(&layout, Duration::from_secs(60))?;
    }
    addons::apply(&layout)?;
    wait_ready(&layout)?;
    eprintln!("xtask: cluster up in {:.0?}", started.elapsed());
    eprintln!("xtask: use it with: eval \"$(cargo xtask cluster env)\"");
    Ok(())
}

/// The local cluster, brought up first (`up`) when its API server does not answer.
pub fn ensure_up() -> Result<Layout> {
    let layout = Layout::new(false)?;
    let answers = layout.admin_kubeconfig().exists()
        && layout.kubectl_path().exists()
        && layout
            .kubectl()
            .args(["get", "--raw", "/readyz"])
            .output()
            .is_ok_and(|output| output.status.success());
    if answers {
        return Ok(layout);
    }
    eprintln!("xtask: the local cluster does not answer: bringing it up");
    up()?;
    Layout::new(false)
}

/// Makes `psql` available on the host: when it is missing, installs the host packages (which include
/// Debian's PostgreSQL client).
pub fn ensure_psql() -> Result<()> {
    let found = Command::new("psql")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        host::require_root()?;
        host::install_packages()?;
    }
    Ok(())
}

/// `cluster down`: stops every process `up` started, its pods' containers, and removes the mounts, network
/// namespaces, links and iptables rules they made. The state directory is removed too unless `keep_state`.
pub fn down(keep_state: bool) -> Result<()> {
    host::require_root()?;
    let layout = Layout::new(false)?;
    let daemons = daemon::all(&layout);
    // The node first, so that nothing restarts the pods that are being removed.
    for name in ["kubelet", "kube-proxy"] {
        if let Some(daemon) = daemons.iter().find(|daemon| daemon.name == name) {
            daemon.stop(&layout)?;
        }
    }
    host::remove_pods(&layout)?;
    for daemon in daemons.iter().rev() {
        daemon.stop(&layout)?;
    }
    host::kill_shims(&layout)?;
    host::clean(&layout)?;
    if !keep_state {
        host::unmount_under(&layout.state)?;
        if layout.state.exists() {
            std::fs::remove_dir_all(&layout.state)
                .with_context(|| format!("removing {}", layout.state.display()))?;
        }
    }
    if layout.run.exists() {
        host::unmount_under(&layout.run)?;
        std::fs::remove_dir_all(&layout.run)?;
    }
    eprintln!("xtask: cluster down");
    Ok(())
}

/// `cluster status`: each component's process and health, then the node and the add-ons. Fails when a component
/// is not healthy.
pub fn status() -> Result<()> {
    let layout = Layout::new(false)?;
    let mut healthy = true;
    println!("{:<26} {:<8} {:<8} detail", "COMPONENT", "PID", "HEALTH");
    for daemon in daemon::all(&layout) {
        let pid = daemon.running_pid(&layout);
        let (health, detail) = match pid {
            None if daemon.pid_file(&layout).exists() => {
                healthy = false;
                ("DIED", format!("see {}", daemon.log(&layout).display()))
            }
            None => {
                healthy = false;
                ("STOPPED", String::new())
            }
            Some(_) => match daemon.check(&layout) {
                Ok(()) => ("ok", String::new()),
                Err(error) => {
                    healthy = false;
                    ("FAILING", format!("{error:#}"))
                }
            },
        };
        println!(
            "{:<26} {:<8} {:<8} {detail}",
            daemon.name,
            pid.map(|pid| pid.to_string()).unwrap_or_else(|| "-".into()),
            health
        );
    }
    if layout.admin_kubeconfig().exists() && layout.kubectl_path().exists() {
        println!();
        let _ = layout
            .kubectl()
            .args(["get", "nodes", "-o", "wide"])
            .status();
        println!();
        let _ = layout
            .kubectl()
            .args(["get", "pods", "-A", "-o", "wide"])
            .status();
    }
    if !healthy {
        bail!("the cluster is not healthy");
    }
    Ok(())
}

/// The end-to-end tier of `cargo xtask test`: brings the cluster up (unless it already runs), runs the smoke tests,
/// then the end-to-end tests of `crates/tusk-e2e` (the operator installed from `deploy/install`, the docs'
/// clusters), and takes down the cluster it brought up. Prints how long each part took. Skipped, with a message,
/// when not run as root.
pub fn end_to_end() -> Result<bool> {
    if host::require_root().is_err() {
        eprintln!("xtask: skipping the end-to-end tests: the local cluster needs root");
        return Ok(true);
    }
    let layout = Layout::new(false)?;
    let was_running = daemon::all(&layout)
        .iter()
        .all(|daemon| daemon.running_pid(&layout).is_some());
    let mut took = Vec::new();
    let mut timed = |name: &'static str, part: &dyn Fn() -> Result<()>| {
        let started = Instant::now();
        let result = part();
        took.push((name, started.elapsed()));
        result
    };
    let result = timed("cluster up", &up)
        .and_then(|()| timed("smoke tests", &smoke))
        .and_then(|()| {
            timed("end-to-end tests (cargo test -p tusk-e2e)", &|| {
                e2e(&layout)
            })
        });
    for (name, took) in &took {
        eprintln!("xtask: end-to-end: {name} took {took:.1?}");
    }
    if !was_running {
        if let Err(error) = &result {
            eprintln!("xtask: {error:#}");
            let _ = status();
        }
        down(false)?;
    }
    result.map(|()| true)
}

/// The tests of `crates/tusk-e2e`, with `KUBECONFIG` and `PATH` as `cluster env` sets them.
fn e2e(layout: &Layout) -> Result<()> {
    let mut test = crate::cargo::cargo();
    test.args([
        "test",
        "-p",
        "tusk-e2e",
        "--no-fail-fast",
        "--",
        "--nocapture",
        "--test-threads=1",
    ]);
    let status = with_env(&mut test, layout)?.status()?;
    if !status.success() {
        bail!("the end-to-end tests failed");
    }
    Ok(())
}

/// `command` with `KUBECONFIG`, `CONTAINERD_ADDRESS` (for `ctr`) and `PATH` as `cluster env` sets them.
pub fn with_env<'a>(command: &'a mut Command, layout: &Layout) -> Result<&'a mut Command> {
    let path = std::env::join_paths(
        [
            layout.testbed_bin.clone(),
            layout.cluster_bin.clone(),
            layout.helm_bin.clone(),
        ]
        .into_iter()
        .chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )),
    )?;
    Ok(command
        .env("KUBECONFIG", layout.admin_kubeconfig())
        .env("CONTAINERD_ADDRESS", layout.containerd_socket())
        .env("PATH", path))
}

/// `cluster env`: shell lines that point `kubectl`, `helm` and `ctr` at the cluster.
pub fn env() -> Result<()> {
    let layout = Layout::new(false)?;
    println!("export KUBECONFIG={}", layout.admin_kubeconfig().display());
    println!(
        "export CONTAINERD_ADDRESS={}",
        layout.containerd_socket().display()
    );
    println!(
        "export PATH={}:{}:{}:\"$PATH\"",
        layout.testbed_bin.display(),
        layout.cluster_bin.display(),
        layout.helm_bin.display()
    );
    Ok(())
}

/// Waits until the node is Ready, CoreDNS and the provisioner run, and CoreDNS answers for the API's name.
fn wait_ready(layout: &Layout) -> Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let checks: [(&str, &[&str]); 3] = [
        (
            "the node to be Ready",
            &["wait", "--for=condition=Ready", "node/tusk", "--timeout=5s"],
        ),
        (
            "CoreDNS",
            &[
                "-n",
                "kube-system",
                "wait",
                "--for=condition=Available",
                "deployment/coredns",
                "--timeout=5s",
            ],
        ),
        (
            "the local-path provisioner",
            &[
                "-n",
                "local-path-storage",
                "wait",
                "--for=condition=Available",
                "deployment/local-path-provisioner",
                "--timeout=5s",
            ],
        ),
    ];
    for (what, args) in checks {
        eprintln!("xtask: waiting for {what} ...");
        loop {
            let output = layout.kubectl().args(args).output()?;
            if output.status.success() {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "timed out waiting for {what}: {}\nsee `cargo xtask cluster status` and the logs in {}",
                    String::from_utf8_lossy(&output.stderr).trim(),
                    layout.logs().display()
                );
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    }
    eprintln!("xtask: waiting for CoreDNS to answer ...");
    loop {
        match host::dns_query(DNS_SERVICE_IP, "kubernetes.default.svc.cluster.local") {
            Ok(address) if address == API_SERVICE_IP => break,
            result if Instant::now() > deadline => {
                bail!(
                    "CoreDNS does not answer for kubernetes.default.svc.cluster.local: {result:?}"
                )
            }
            _ => std::thread::sleep(Duration::from_secs(1)),
        }
    }
    Ok(())
}

/// Runs `command`, failing with its output when it fails.
pub fn run(command: &mut Command) -> Result<String> {
    let output = command
        .output()
        .with_context(|| format!("cannot run {:?}", command.get_program()))?;
    if !output.status.success() {
        bail!(
            "{:?} failed ({}): {}{}",
            command,
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Writes `contents` to `path` (creating its directory) when it differs, and says whether it changed.
pub fn write_file(path: &Path, contents: &str) -> Result<bool> {
    if std::fs::read_to_string(path).is_ok_and(|existing| existing == contents) {
        return Ok(false);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))?;
    Ok(true)
}
