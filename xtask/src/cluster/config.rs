//! The configuration files of containerd, the CNI network, the kubelet and kube-proxy.

use super::{BRIDGE, CLUSTER_CIDR, DNS_SERVICE_IP, Layout, NODE, NODE_IP, NODE_SUBNET, write_file};
use crate::images::PAUSE;
use anyhow::Result;

/// Writes every file (those that changed), and returns the daemons whose configuration changed.
pub fn write_all(layout: &Layout) -> Result<Vec<&'static str>> {
    let mut changed = Vec::new();
    let files = [
        (
            "containerd",
            layout.config().join("containerd.toml"),
            containerd(layout),
        ),
        (
            "containerd",
            layout.cni_conf().join("10-tusk.conflist"),
            cni(layout),
        ),
        (
            "kubelet",
            layout.config().join("kubelet.yaml"),
            kubelet(layout),
        ),
        (
            "kube-proxy",
            layout.config().join("kube-proxy.yaml"),
            kube_proxy(layout),
        ),
    ];
    for (daemon, path, contents) in files {
        if write_file(&path, &contents)? {
            changed.push(daemon);
        }
    }
    Ok(changed)
}

/// containerd with its CRI plugin, runc with cgroupfs (this host's cgroups are v1 and there is no systemd), and
/// the Debian CNI plugins. Its root, state and socket are its own, so that another containerd can run beside it.
fn containerd(layout: &Layout) -> String {
    format!(
        r#"version = 2
root = "{root}"
state = "{state}"

[grpc]
  address = "{socket}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE}"
  # This machine's root lacks CAP_SYS_RESOURCE: no process may lower its OOM score below its parent's, and runc
  # fails ("can't get final child's PID from pipe: EOF") on the kubelet's -998 for sandboxes. Clamp to containerd's.
  restrict_oom_score_adj = true
  enable_unprivileged_ports = true
  enable_unprivileged_icmp = true

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni}"
"#,
        root = layout.containerd_root().display(),
        state = layout.containerd_state().display(),
        socket = layout.containerd_socket().display(),
        cni = layout.cni_conf().display(),
    )
}

/// One bridge, `tusk0`, that holds the node's address; pods get addresses of its subnet from host-local, are
/// masqueraded when they leave it, and can reach themselves through a Service (hairpin).
fn cni(layout: &Layout) -> String {
    format!(
        r#"{{
  "cniVersion": "1.0.0",
  "name": "tusk",
  "plugins": [
    {{
      "type": "bridge",
      "bridge": "{BRIDGE}",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {{
        "type": "host-local",
        "dataDir": "{ipam}",
        "ranges": [[{{ "subnet": "{NODE_SUBNET}", "gateway": "{NODE_IP}" }}]],
        "routes": [{{ "dst": "0.0.0.0/0" }}]
      }}
    }},
    {{ "type": "portmap", "capabilities": {{ "portMappings": true }} }}
  ]
}}
"#,
        ipam = layout.cni_ipam().display(),
    )
}

/// The kubelet. On this cgroup v1 host without systemd: the cgroupfs driver, `failCgroupV1: false` (Kubernetes
/// 1.31 put cgroup v1 in maintenance mode and the kubelet refuses it when this is true), no swap check. Image
/// garbage collection is off, since the images of this cluster come from no registry and could not be pulled
/// again; eviction thresholds are low so that a full shared disk does not evict the test pods.
fn kubelet(layout: &Layout) -> String {
    let pki = layout.pki();
    format!(
        r#"apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
cgroupsPerQOS: true
enforceNodeAllocatable: ["pods"]
containerRuntimeEndpoint: unix://{socket}
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: {ca}
authorization:
  mode: Webhook
tlsCertFile: {serving_cert}
tlsPrivateKeyFile: {serving_key}
address: {NODE_IP}
healthzBindAddress: 127.0.0.1
healthzPort: 10248
clusterDomain: cluster.local
clusterDNS: ["{DNS_SERVICE_IP}"]
resolvConf: /etc/resolv.conf
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
serializeImagePulls: false
maxPods: 110
"#,
        socket = layout.containerd_socket().display(),
        ca = pki.join("ca.crt").display(),
        serving_cert = pki.join("kubelet-serving.crt").display(),
        serving_key = pki.join("kubelet-serving.key").display(),
    )
}

/// kube-proxy in iptables mode. `conntrack.maxPerCore: 0` leaves the host's conntrack table size alone.
fn kube_proxy(layout: &Layout) -> String {
    format!(
        r#"apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clusterCIDR: {CLUSTER_CIDR}
hostnameOverride: {NODE}
bindAddress: {NODE_IP}
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
clientConnection:
  kubeconfig: {kubeconfig}
conntrack:
  maxPerCore: 0
  min: 0
"#,
        kubeconfig = layout.kubeconfig("kube-proxy").display(),
    )
}
