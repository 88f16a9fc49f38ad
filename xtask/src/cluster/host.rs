//! What `up` and `down` do to the host: Debian packages, kernel settings, the bridge, and the clean-up of
//! everything the cluster's processes leave behind (containers, cgroups, mounts, network namespaces, iptables).

use super::{BRIDGE, Layout, NODE_IP, run};
use anyhow::{Context, Result, bail};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The Debian packages the cluster and its images need (`cargo xtask cluster up` installs the missing ones).
pub const PACKAGES: &[&str] = &[
    "containerd",
    "runc",
    "containernetworking-plugins",
    "iptables",
    "conntrack",
    "iproute2",
    "curl",
    "debootstrap",
    "umoci",
    "busybox-static",
    "gcc",
    "libc6-dev",
    // psql for `cargo xtask demo`, the major version of images/tusk-postgres.
    "postgresql-client-15",
];

pub fn require_root() -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the local cluster runs containers, mounts and iptables rules: run it as root");
    }
    Ok(())
}

/// Installs the missing packages with apt-get.
pub fn install_packages() -> Result<()> {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .copied()
        .filter(|package| {
            Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", package])
                .output()
                .map(|output| {
                    !String::from_utf8_lossy(&output.stdout).contains("install ok installed")
                })
                .unwrap_or(true)
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing Debian packages: {}", missing.join(" "));
    run(Command::new("apt-get").args(["update", "-q"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    Ok(())
}

/// Directories, kernel settings, the shared root mount and the bridge.
pub fn prepare(layout: &Layout) -> Result<()> {
    for dir in [
        layout.state.clone(),
        layout.run.clone(),
        layout.logs(),
        layout.pids(),
        layout.kubelet_root(),
        layout.volumes(),
    ] {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    for (setting, value) in [
        ("net/ipv4/ip_forward", "1"),
        ("net/bridge/bridge-nf-call-iptables", "1"),
        ("net/bridge/bridge-nf-call-ip6tables", "1"),
    ] {
        let path = Path::new("/proc/sys").join(setting);
        if std::fs::read_to_string(&path)
            .map(|v| v.trim() != value)
            .unwrap_or(true)
        {
            std::fs::write(&path, value).with_context(|| format!("setting {}", path.display()))?;
        }
    }
    // Volumes mounted by the kubelet reach containers only through shared mount propagation.
    let root_shared = std::fs::read_to_string("/proc/self/mountinfo")?
        .lines()
        .any(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            fields.get(4) == Some(&"/") && fields.iter().any(|field| field.starts_with("shared:"))
        });
    if !root_shared {
        run(Command::new("mount").args(["--make-rshared", "/"]))?;
    }
    if !Command::new("ip")
        .args(["link", "show", BRIDGE])
        .output()?
        .status
        .success()
    {
        run(Command::new("ip").args(["link", "add", BRIDGE, "type", "bridge"]))?;
    }
    run(Command::new("ip").args(["addr", "replace", &format!("{NODE_IP}/24"), "dev", BRIDGE]))?;
    run(Command::new("ip").args(["link", "set", BRIDGE, "up"]))?;
    Ok(())
}

/// Kills and removes every container of the CRI namespace, while containerd still runs.
pub fn remove_pods(layout: &Layout) -> Result<()> {
    if !layout.containerd_socket().exists() {
        return Ok(());
    }
    let list = |what: &str| -> Vec<String> {
        layout
            .ctr()
            .args([what, "ls", "-q"])
            .output()
            .map(|output| {
                String::from_utf8_lossy(&output.stdout)
                    .lines()
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let tasks = list("tasks");
    for task in &tasks {
        let _ = layout
            .ctr()
            .args(["tasks", "kill", "-s", "SIGKILL", task])
            .output();
    }
    if !tasks.is_empty() {
        std::thread::sleep(Duration::from_secs(1));
    }
    for task in &tasks {
        let _ = layout.ctr().args(["tasks", "delete", "-f", task]).output();
    }
    for container in list("containers") {
        let _ = layout
            .ctr()
            .args(["containers", "delete", &container])
            .output();
    }
    Ok(())
}

/// Kills the containerd shims of this cluster's containerd (they outlive containerd by design).
pub fn kill_shims(layout: &Layout) -> Result<()> {
    let address = layout.containerd_socket().display().to_string();
    for pid in processes() {
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|byte| *byte == 0)
            .map(|arg| String::from_utf8_lossy(arg).into_owned())
            .collect();
        if args
            .first()
            .is_some_and(|program| program.contains("containerd-shim"))
            && args.iter().any(|arg| arg == &address)
        {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
    Ok(())
}

/// Everything else `up` and its processes made: the pods' cgroups and leftover processes, mounts, network
/// namespaces, the bridge, and the iptables chains of kube-proxy, the kubelet and the CNI plugins.
pub fn clean(layout: &Layout) -> Result<()> {
    remove_pod_cgroups();
    for dir in [
        layout.kubelet_root(),
        layout.containerd_root(),
        layout.containerd_state(),
    ] {
        unmount_under(&dir)?;
    }
    if let Ok(namespaces) = std::fs::read_dir("/run/netns") {
        for namespace in namespaces.flatten() {
            let name = namespace.file_name().to_string_lossy().into_owned();
            if name.starts_with("cni-") {
                let _ = Command::new("ip").args(["netns", "delete", &name]).output();
            }
        }
    }
    let _ = Command::new("ip").args(["link", "delete", BRIDGE]).output();
    for (save, restore) in [
        ("iptables-save", "iptables-restore"),
        ("ip6tables-save", "ip6tables-restore"),
    ] {
        for table in ["nat", "filter", "mangle"] {
            remove_chains(save, restore, table)?;
        }
    }
    Ok(())
}

/// Removes the chains named `KUBE-*` and `CNI-*` from one table, and every rule that jumps to them.
fn remove_chains(save: &str, restore: &str, table: &str) -> Result<()> {
    let Ok(output) = Command::new(save).args(["-t", table]).output() else {
        return Ok(());
    };
    let dump = String::from_utf8_lossy(&output.stdout);
    let ours = |word: &str| word.starts_with("KUBE-") || word.starts_with("CNI-");
    let mut changed = false;
    let kept: Vec<&str> = dump
        .lines()
        .filter(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let drop = match words.first() {
                Some(chain) if chain.starts_with(':') => ours(&chain[1..]),
                Some(&"-A") => {
                    words.get(1).is_some_and(|chain| ours(chain))
                        || words
                            .windows(2)
                            .any(|pair| (pair[0] == "-j" || pair[0] == "-g") && ours(pair[1]))
                }
                _ => false,
            };
            changed |= drop;
            !drop
        })
        .collect();
    if changed {
        let mut child = Command::new(restore)
            .args(["-T", table])
            .stdin(std::process::Stdio::piped())
            .spawn()?;
        use std::io::Write;
        child
            .stdin
            .take()
            .context("iptables-restore's input")?
            .write_all((kept.join("\n") + "\n").as_bytes())?;
        if !child.wait()?.success() {
            bail!("{restore} -T {table} failed");
        }
    }
    Ok(())
}

/// Kills what is left in the pods' cgroups (`kubepods`, cgroupfs driver) and removes those cgroups.
fn remove_pod_cgroups() {
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    let roots: Vec<PathBuf> = hierarchies
        .flatten()
        .map(|entry| entry.path().join("kubepods"))
        .filter(|path| path.is_dir())
        .collect();
    for root in &roots {
        for dir in subdirs_deepest_first(root) {
            if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
                for pid in procs.lines() {
                    let _ = Command::new("kill").args(["-KILL", pid]).status();
                }
            }
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    for root in &roots {
        for dir in subdirs_deepest_first(root) {
            let _ = std::fs::remove_dir(&dir);
        }
    }
}

fn subdirs_deepest_first(root: &Path) -> Vec<PathBuf> {
    let mut found = vec![root.to_path_buf()];
    let mut index = 0;
    while index < found.len() {
        if let Ok(entries) = std::fs::read_dir(&found[index]) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                    found.push(entry.path());
                }
            }
        }
        index += 1;
    }
    found.reverse();
    found
}

/// Unmounts every mount at or below `dir`, deepest first.
pub fn unmount_under(dir: &Path) -> Result<()> {
    let prefix = dir.display().to_string();
    let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")?
        .lines()
        .filter_map(|line| line.split(' ').nth(4).map(unescape))
        .filter(|point| point == &prefix || point.starts_with(&format!("{prefix}/")))
        .collect();
    mounts.sort_by_key(|point| std::cmp::Reverse(point.len()));
    mounts.dedup();
    for point in mounts {
        if !Command::new("umount")
            .arg(&point)
            .output()?
            .status
            .success()
        {
            let _ = Command::new("umount").args(["-l", &point]).output();
        }
    }
    Ok(())
}

/// Mount points in mountinfo escape spaces and a few other characters as octal.
fn unescape(field: &str) -> String {
    field
        .replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

fn processes() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Asks a DNS server for the A record of `name` and returns the first address (a minimal client: one UDP query).
pub fn dns_query(server: &str, name: &str) -> Result<String> {
    let socket = UdpSocket::bind("0.0.0.0:0")?;
    socket.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut query = vec![0x54, 0x4b, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.trim_end_matches('.').split('.') {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 1, 0, 1]);
    socket.send_to(&query, (server, 53))?;
    let mut answer = [0u8; 512];
    let length = socket.recv(&mut answer)?;
    let answer = &answer[..length];
    if answer.len() < 12 || answer[..2] != query[..2] {
        bail!("not an answer to the query");
    }
    let rcode = answer[3] & 0x0f;
    let count = u16::from_be_bytes([answer[6], answer[7]]);
    if rcode != 0 || count == 0 {
        bail!("no address (rcode {rcode})");
    }
    // Skip the question (same bytes as ours), then walk the answers to the first A record.
    let mut at = query.len();
    for _ in 0..count {
        // The name: a pointer (2 bytes) or labels.
        while at < answer.len() {
            let byte = answer[at];
            if byte & 0xc0 == 0xc0 {
                at += 2;
                break;
            }
            at += 1 + byte as usize;
            if byte == 0 {
                break;
            }
        }
        let header = answer.get(at..at + 10).context("short answer")?;
        let (kind, length) = (
            u16::from_be_bytes([header[0], header[1]]),
            u16::from_be_bytes([header[8], header[9]]) as usize,
        );
        let data = answer
            .get(at + 10..at + 10 + length)
            .context("short answer")?;
        if kind == 1 && length == 4 {
            return Ok(format!("{}.{}.{}.{}", data[0], data[1], data[2], data[3]));
        }
        at += 10 + length;
    }
    bail!("no A record")
}
