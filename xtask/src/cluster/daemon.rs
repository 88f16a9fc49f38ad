//! The cluster's processes: started in the background in their own process group (they outlive `cargo xtask`),
//! logging to `<state>/logs/<name>.log`, their process IDs in `/run/tusk-cluster/pids/<name>.pid`.

use super::{API_PORT, ETCD_CLIENT_PORT, ETCD_PEER_PORT, Layout, NODE_IP, SERVICE_CIDR, run};
use anyhow::{Context, Result, bail};
use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How a daemon tells that it is healthy.
pub enum Health {
    /// An HTTP(S) URL answers 200 (certificates are not checked: only liveness matters here).
    Url(String),
    /// containerd answers `ctr version`.
    Containerd,
}

/// One process of the cluster.
pub struct Daemon {
    pub name: &'static str,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub health: Health,
}

/// Every process, in start order.
pub fn all(layout: &Layout) -> Vec<Daemon> {
    let pki = |file: &str| layout.pki().join(file).display().to_string();
    let config = |file: &str| layout.config().join(file).display().to_string();
    let kubeconfig = |component: &str| layout.kubeconfig(component).display().to_string();
    let etcd_url = format!("http://127.0.0.1:{ETCD_CLIENT_PORT}");
    let peer_url = format!("http://127.0.0.1:{ETCD_PEER_PORT}");
    vec![
        Daemon {
            name: "containerd",
            program: "containerd".into(),
            args: vec![format!("--config={}", config("containerd.toml"))],
            health: Health::Containerd,
        },
        Daemon {
            name: "etcd",
            program: layout.testbed_bin.join("etcd"),
            args: vec![
                "--name=tusk".into(),
                format!("--data-dir={}", layout.state.join("etcd").display()),
                format!("--listen-client-urls={etcd_url}"),
                format!("--advertise-client-urls={etcd_url}"),
                format!("--listen-peer-urls={peer_url}"),
                format!("--initial-advertise-peer-urls={peer_url}"),
                format!("--initial-cluster=tusk={peer_url}"),
                // A test cluster: losing the last writes on a power cut is fine, waiting for fsync is not.
                "--unsafe-no-fsync".into(),
                "--log-level=warn".into(),
            ],
            health: Health::Url(format!("{etcd_url}/health")),
        },
        Daemon {
            name: "kube-apiserver",
            program: layout.testbed_bin.join("kube-apiserver"),
            args: vec![
                format!("--etcd-servers={etcd_url}"),
                format!("--bind-address={NODE_IP}"),
                format!("--advertise-address={NODE_IP}"),
                format!("--secure-port={API_PORT}"),
                format!("--cert-dir={}", layout.pki().display()),
                format!("--tls-cert-file={}", pki("apiserver.crt")),
                format!("--tls-private-key-file={}", pki("apiserver.key")),
                format!("--client-ca-file={}", pki("ca.crt")),
                format!(
                    "--kubelet-client-certificate={}",
                    pki("apiserver-kubelet-client.crt")
                ),
                format!(
                    "--kubelet-client-key={}",
                    pki("apiserver-kubelet-client.key")
                ),
                format!("--service-account-key-file={}", pki("service-account.pub")),
                format!(
                    "--service-account-signing-key-file={}",
                    pki("service-account.key")
                ),
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
                format!("--service-cluster-ip-range={SERVICE_CIDR}"),
                "--authorization-mode=Node,RBAC".into(),
                // The node's name resolves nowhere: logs, exec and port-forward go to its address.
                "--kubelet-preferred-address-types=InternalIP,Hostname".into(),
                "--enable-admission-plugins=NodeRestriction".into(),
                "--allow-privileged=true".into(),
                "--profiling=false".into(),
                "--v=1".into(),
            ],
            health: Health::Url(format!("https://{NODE_IP}:{API_PORT}/readyz")),
        },
        Daemon {
            name: "kube-controller-manager",
            program: layout.cluster_bin.join("kube-controller-manager"),
            args: vec![
                format!("--kubeconfig={}", kubeconfig("controller-manager")),
                format!(
                    "--authentication-kubeconfig={}",
                    kubeconfig("controller-manager")
                ),
                format!(
                    "--authorization-kubeconfig={}",
                    kubeconfig("controller-manager")
                ),
                format!(
                    "--service-account-private-key-file={}",
                    pki("service-account.key")
                ),
                format!("--root-ca-file={}", pki("ca.crt")),
                format!("--cluster-signing-cert-file={}", pki("ca.crt")),
                format!("--cluster-signing-key-file={}", pki("ca.key")),
                "--use-service-account-credentials=true".into(),
                "--controllers=*".into(),
                format!("--service-cluster-ip-range={SERVICE_CIDR}"),
                "--allocate-node-cidrs=false".into(),
                "--bind-address=127.0.0.1".into(),
                "--leader-elect=false".into(),
                "--v=1".into(),
            ],
            health: Health::Url("https://127.0.0.1:10257/healthz".into()),
        },
        Daemon {
            name: "kube-scheduler",
            program: layout.cluster_bin.join("kube-scheduler"),
            args: vec![
                format!("--kubeconfig={}", kubeconfig("scheduler")),
                format!("--authentication-kubeconfig={}", kubeconfig("scheduler")),
                format!("--authorization-kubeconfig={}", kubeconfig("scheduler")),
                "--bind-address=127.0.0.1".into(),
                "--leader-elect=false".into(),
                "--v=1".into(),
            ],
            health: Health::Url("https://127.0.0.1:10259/healthz".into()),
        },
        Daemon {
            name: "kubelet",
            program: layout.cluster_bin.join("kubelet"),
            args: vec![
                format!("--config={}", config("kubelet.yaml")),
                format!("--kubeconfig={}", kubeconfig("kubelet")),
                format!("--root-dir={}", layout.kubelet_root().display()),
                format!("--hostname-override={}", super::NODE),
                format!("--node-ip={NODE_IP}"),
                // cAdvisor (the kubelet's /metrics/cadvisor) finds containerd here: without it, it knows the
                // pods' cgroups but not which pod and container they are (series without pod labels).
                format!("--containerd={}", layout.containerd_socket().display()),
                "--v=1".into(),
            ],
            health: Health::Url("http://127.0.0.1:10248/healthz".into()),
        },
        Daemon {
            name: "kube-proxy",
            program: layout.cluster_bin.join("kube-proxy"),
            args: vec![
                format!("--config={}", config("kube-proxy.yaml")),
                "--v=1".into(),
            ],
            health: Health::Url("http://127.0.0.1:10256/healthz".into()),
        },
    ]
}

impl Daemon {
    pub fn pid_file(&self, layout: &Layout) -> PathBuf {
        layout.pids().join(format!("{}.pid", self.name))
    }

    pub fn log(&self, layout: &Layout) -> PathBuf {
        layout.logs().join(format!("{}.log", self.name))
    }

    /// The process ID when the process of the pid file still runs this daemon's program.
    pub fn running_pid(&self, layout: &Layout) -> Option<u32> {
        let pid: u32 = std::fs::read_to_string(self.pid_file(layout))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let program = cmdline.split(|byte| *byte == 0).next()?;
        let expected = self.program.file_name()?.as_encoded_bytes();
        (program.ends_with(expected) && !is_zombie(pid)).then_some(pid)
    }

    /// Starts the daemon unless it runs.
    pub fn ensure_started(&self, layout: &Layout) -> Result<()> {
        let args_file = layout.pids().join(format!("{}.args", self.name));
        let args = format!("{}\n{}\n", self.program.display(), self.args.join("\n"));
        if let Some(pid) = self.running_pid(layout) {
            if std::fs::read_to_string(&args_file).is_ok_and(|running| running == args) {
                eprintln!("xtask: {} runs (pid {pid})", self.name);
                return Ok(());
            }
            eprintln!("xtask: the command line of {} changed", self.name);
            self.stop(layout)?;
        }
        std::fs::create_dir_all(layout.logs())?;
        std::fs::create_dir_all(layout.pids())?;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log(layout))?;
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // Its own process group: a Ctrl-C in the terminal of `cargo xtask cluster up` does not reach it.
            .process_group(0);
        // SAFETY: only async-signal-safe calls (close_range, fcntl) between fork and exec.
        unsafe { command.pre_exec(close_inherited_on_exec) };
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", self.program.display()))?;
        std::fs::write(self.pid_file(layout), child.id().to_string())?;
        std::fs::write(&args_file, &args)?;
        // Until the child has called exec, its command line is still ours.
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.running_pid(layout).is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "xtask: started {} (pid {}), log {}",
            self.name,
            child.id(),
            self.log(layout).display()
        );
        Ok(())
    }

    /// Checks the daemon's health once.
    pub fn check(&self, layout: &Layout) -> Result<()> {
        match &self.health {
            Health::Url(url) => {
                let mut curl = Command::new("curl");
                curl.args(["--silent", "--show-error", "--fail", "--max-time", "3"]);
                if url.starts_with("https://") {
                    curl.arg("--cacert").arg(layout.pki().join("ca.crt"));
                    if url.contains(&format!(":{API_PORT}/")) {
                        curl.arg("--cert").arg(layout.pki().join("admin.crt"));
                        curl.arg("--key").arg(layout.pki().join("admin.key"));
                    } else {
                        // The controller manager and the scheduler serve with certificates they make themselves.
                        curl.arg("--insecure");
                    }
                }
                run(curl.arg(url)).map(|_| ())
            }
            Health::Containerd => run(layout.ctr().arg("version")).map(|_| ()),
        }
    }

    /// Waits until the daemon is healthy; fails early when its process died.
    pub fn wait_healthy(&self, layout: &Layout, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.running_pid(layout).is_none() {
                bail!(
                    "{} exited; the end of its log:\n{}",
                    self.name,
                    log_tail(&self.log(layout))
                );
            }
            match self.check(layout) {
                Ok(()) => return Ok(()),
                Err(error) if Instant::now() > deadline => bail!(
                    "{} is not healthy after {timeout:?}: {error:#}; the end of its log:\n{}",
                    self.name,
                    log_tail(&self.log(layout))
                ),
                Err(_) => std::thread::sleep(Duration::from_millis(500)),
            }
        }
    }

    /// Stops the daemon (SIGTERM, then SIGKILL after 15 seconds) and removes its pid file.
    pub fn stop(&self, layout: &Layout) -> Result<()> {
        if let Some(pid) = self.running_pid(layout) {
            eprintln!("xtask: stopping {} (pid {pid})", self.name);
            signal(pid, "TERM");
            let deadline = Instant::now() + Duration::from_secs(15);
            while std::path::Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(pid) {
                if Instant::now() > deadline {
                    signal(pid, "KILL");
                    std::thread::sleep(Duration::from_millis(200));
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let _ = std::fs::remove_file(self.pid_file(layout));
        Ok(())
    }
}

/// Marks every descriptor above standard error close-on-exec, so a daemon keeps none of what `cargo xtask`
/// inherited. The cluster's lock is one: `flock /tmp/tusk-cluster.lock cargo xtask cluster up` passes its
/// locked descriptor down, and a daemon that kept it would hold the lock for as long as it runs, so every
/// later `flock` would wait forever.
fn close_inherited_on_exec() -> std::io::Result<()> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range only changes descriptor flags.
    let marked = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    if marked != 0 {
        // Kernels before 5.11: one descriptor at a time.
        for fd in 3..1024 {
            // SAFETY: F_SETFD on a descriptor that may not exist fails harmlessly.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
    Ok(())
}

fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status();
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// The last lines of a log.
pub fn log_tail(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(25)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    /// The descriptors `/proc/self/fd` lists in a child spawned with or without the daemons' `pre_exec`.
    fn inherited(close: bool) -> Vec<String> {
        let mut command = Command::new("ls");
        command.arg("/proc/self/fd");
        if close {
            // SAFETY: as in `ensure_started`.
            unsafe { command.pre_exec(close_inherited_on_exec) };
        }
        let output = command.output().expect("ls runs");
        String::from_utf8_lossy(&output.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn a_daemon_keeps_no_inherited_descriptor() {
        // A descriptor without close-on-exec, as `flock` passes its lock down.
        // A high number, apart from what `ls` opens itself.
        let file = std::fs::File::open("/proc/self/stat").expect("a file");
        let fd = 200;
        // SAFETY: dup2 onto a number nothing else in this test uses (a copy has no close-on-exec); closed below.
        assert_eq!(unsafe { libc::dup2(file.as_raw_fd(), fd) }, fd);
        assert!(
            inherited(false).contains(&fd.to_string()),
            "the test's premise"
        );
        let closed = !inherited(true).contains(&fd.to_string());
        // SAFETY: the copy made above.
        unsafe { libc::close(fd) };
        assert!(closed, "the daemon does not get it");
    }
}
