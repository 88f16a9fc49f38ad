//! A real Kubernetes control plane for integration tests: etcd and kube-apiserver, built from upstream
//! sources by `cargo xtask testbed build`, started on free loopback ports with certificates made on the spot.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let plane = tusk_testenv::ControlPlane::start().await?;
//! let client = plane.client().await?;
//! # Ok(()) }
//! ```

mod certificates;
pub mod pki;
mod process;

use anyhow::{Context, Result, bail};
use certificates::Certificates;
use process::Supervised;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The environment variable that names the directory of the test-bed binaries.
pub const BIN_DIR_VAR: &str = "TUSK_TESTBED_BIN";

/// How long etcd and kube-apiserver get to become ready.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(90);

/// How often [`ControlPlane::start`] tries when a port it picked is taken before etcd or the API server binds it.
const START_ATTEMPTS: u32 = 3;

/// A running etcd and kube-apiserver. Dropping it stops both and removes their files.
pub struct ControlPlane {
    // Fields drop in order: the API server before etcd, the directory last.
    apiserver: Supervised,
    etcd: Supervised,
    bin_dir: PathBuf,
    kubeconfig: PathBuf,
    url: String,
    dir: tempfile::TempDir,
}

impl ControlPlane {
    /// Starts etcd and kube-apiserver on free 127.0.0.1 ports and waits until the API server is ready.
    pub async fn start() -> Result<ControlPlane> {
        let started = Instant::now();
        let bin_dir = bin_dir()?;
        let mut attempt = 1;
        let plane = loop {
            match ControlPlane::start_once(&bin_dir).await {
                // Another process took a port between our pick and etcd's or the API server's bind.
                Err(error)
                    if attempt < START_ATTEMPTS
                        && format!("{error:#}").contains("address already in use") =>
                {
                    eprintln!("tusk-testenv: a port was taken, starting again");
                    attempt += 1;
                }
                result => break result?,
            }
        };
        eprintln!(
            "tusk-testenv: etcd and kube-apiserver ready at {} in {:.1?}",
            plane.url,
            started.elapsed()
        );
        Ok(plane)
    }

    /// One attempt of [`ControlPlane::start`], in a fresh directory on fresh ports.
    async fn start_once(bin_dir: &Path) -> Result<ControlPlane> {
        let dir = tempfile::Builder::new().prefix("tusk-testenv-").tempdir()?;
        let certs = Certificates::generate()?.write_to(dir.path())?;
        let [client_port, peer_port, secure_port] = free_ports()?;

        let etcd_url = format!("http://127.0.0.1:{client_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let mut etcd = Command::new(bin_dir.join("etcd"));
        etcd.args([
            format!("--data-dir={}", dir.path().join("etcd").display()),
            format!("--listen-client-urls={etcd_url}"),
            format!("--advertise-client-urls={etcd_url}"),
            format!("--listen-peer-urls={peer_url}"),
            format!("--initial-advertise-peer-urls={peer_url}"),
            format!("--initial-cluster=default={peer_url}"),
            "--unsafe-no-fsync".into(),
            "--log-level=warn".into(),
        ]);
        let etcd = Supervised::spawn("etcd", etcd, dir.path())?;

        let mut apiserver = Command::new(bin_dir.join("kube-apiserver"));
        apiserver.args([
            format!("--etcd-servers={etcd_url}"),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            format!("--secure-port={secure_port}"),
            format!("--cert-dir={}", dir.path().display()),
            format!("--tls-cert-file={}", certs.serving_cert.display()),
            format!("--tls-private-key-file={}", certs.serving_key.display()),
            format!("--client-ca-file={}", certs.ca_cert.display()),
            format!(
                "--service-account-key-file={}",
                certs.service_account_public_key.display()
            ),
            format!(
                "--service-account-signing-key-file={}",
                certs.service_account_key.display()
            ),
            "--service-account-issuer=https://kubernetes.default.svc".into(),
            "--service-cluster-ip-range=10.96.0.0/16".into(),
            "--authorization-mode=RBAC".into(),
            "--v=1".into(),
        ]);
        let apiserver = Supervised::spawn("kube-apiserver", apiserver, dir.path())?;

        let url = format!("https://127.0.0.1:{secure_port}");
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, kubeconfig_yaml(&url, &certs))?;

        let plane = ControlPlane {
            apiserver,
            etcd,
            bin_dir: bin_dir.to_path_buf(),
            kubeconfig,
            url,
            dir,
        };
        plane.wait_ready().await?;
        Ok(plane)
    }

    /// The kubeconfig of the cluster administrator (group `system:masters`).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The API server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A client with the administrator's credentials.
    pub async fn client(&self) -> Result<kube::Client> {
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.kubeconfig)?;
        let config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await?;
        Ok(kube::Client::try_from(config)?)
    }

    /// A client that acts as `user` in `groups` (impersonated by the administrator), to test what an identity
    /// with given RBAC can and cannot do: a service account is `system:serviceaccount:<namespace>:<name>` in
    /// `system:serviceaccounts` and `system:serviceaccounts:<namespace>`.
    pub async fn client_as(&self, user: &str, groups: &[&str]) -> Result<kube::Client> {
        let mut kubeconfig = kube::config::Kubeconfig::read_from(&self.kubeconfig)?;
        for named in &mut kubeconfig.auth_infos {
            if let Some(auth) = named.auth_info.as_mut() {
                auth.impersonate = Some(user.to_string());
                auth.impersonate_groups =
                    Some(groups.iter().map(|group| group.to_string()).collect());
            }
        }
        let config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await?;
        Ok(kube::Client::try_from(config)?)
    }

    /// `kubectl`, built from the same Kubernetes release, pointed at this API server.
    pub fn kubectl(&self) -> Command {
        let mut command = Command::new(self.bin_dir.join("kubectl"));
        command.arg(format!("--kubeconfig={}", self.kubeconfig.display()));
        command
    }

    /// The directory that holds the certificates, the kubeconfig and the logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The process IDs of etcd and kube-apiserver, while they run.
    pub fn pids(&self) -> [u32; 2] {
        [self.etcd.pid(), self.apiserver.pid()]
    }

    async fn wait_ready(&self) -> Result<()> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let client = self.client().await?;
        loop {
            for process in [&self.etcd, &self.apiserver] {
                process.ensure_running()?;
            }
            let request = http::Request::get("/readyz").body(Vec::new())?;
            match client.request_text(request).await {
                Ok(body) if body.trim() == "ok" => return Ok(()),
                Ok(_) | Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await
                }
                Ok(body) => bail!(
                    "kube-apiserver is not ready after {STARTUP_TIMEOUT:?}: {body}\n{}",
                    self.apiserver.log_tail()
                ),
                Err(error) => bail!(
                    "kube-apiserver is not ready after {STARTUP_TIMEOUT:?}: {error}\n{}",
                    self.apiserver.log_tail()
                ),
            }
        }
    }
}

/// The directory of the test-bed binaries: `$TUSK_TESTBED_BIN`, which `cargo xtask test` sets.
fn bin_dir() -> Result<PathBuf> {
    let dir = std::env::var_os(BIN_DIR_VAR).map(PathBuf::from).with_context(|| {
        format!(
            "{BIN_DIR_VAR} is not set: run the tests with `cargo xtask test`, or build the test bed and point at it: \
             {BIN_DIR_VAR}=$(cargo xtask testbed path) cargo test"
        )
    })?;
    for binary in ["etcd", "kube-apiserver", "kubectl"] {
        if !dir.join(binary).is_file() {
            bail!(
                "{} has no {binary}: run `cargo xtask testbed build`",
                dir.display()
            );
        }
    }
    Ok(dir)
}

/// Distinct ports that were free a moment ago on 127.0.0.1 (held together while picked, so they differ).
fn free_ports<const N: usize>() -> Result<[u16; N]> {
    let listeners = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    let mut ports = [0; N];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener.local_addr()?.port();
    }
    Ok(ports)
}

fn kubeconfig_yaml(url: &str, certs: &certificates::Files) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: testenv
  cluster:
    server: {url}
    certificate-authority: {ca}
users:
- name: admin
  user:
    client-certificate: {cert}
    client-key: {key}
contexts:
- name: testenv
  context:
    cluster: testenv
    user: admin
current-context: testenv
",
        ca = certs.ca_cert.display(),
        cert = certs.admin_cert.display(),
        key = certs.admin_key.display(),
    )
}
