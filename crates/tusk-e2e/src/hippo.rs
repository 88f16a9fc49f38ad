//! The docs' hippo cluster in a test namespace: its manifest with a test's changes, its instances and their
//! Patroni roles as the pods' labels show them.

use crate::{
    Namespace, get_json, install_operator, local_hippo, pod_ready, require_cluster, wait_for,
};
use anyhow::{Context, Result};
use serde_json::Value;
use std::time::Duration;

/// Selects hippo's pods.
pub const CLUSTER: &str = "postgres-operator.crunchydata.com/cluster=hippo";
/// The label key Patroni sets to `master` or `replica` on each instance pod.
pub const ROLE: &str = "postgres-operator.crunchydata.com/role";
/// The label key naming a pod's instance (and its StatefulSet).
pub const INSTANCE: &str = "postgres-operator.crunchydata.com/instance";

/// The docs' hippo (local images) with `replicas` instances in `instance1` and `spec_lines` (YAML indented as
/// direct children of `spec`, e.g. `"  patroni:\n    ..."`) added at the top of its spec.
pub fn manifest(replicas: u32, spec_lines: &str) -> String {
    let mut out = String::new();
    for line in local_hippo().lines() {
        out.push_str(line);
        out.push('\n');
        if line == "spec:" {
            out.push_str(spec_lines);
            if !spec_lines.is_empty() && !spec_lines.ends_with('\n') {
                out.push('\n');
            }
        }
        if line.trim_start() == "- name: instance1" {
            out.push_str(&format!("      replicas: {replicas}\n"));
        }
    }
    out
}

/// `manifest` (as [`manifest`] makes it) with its `spec.backups` replaced by `backups` (YAML indented as a
/// direct child of `spec`, starting with `  backups:`).
pub fn with_backups(manifest: &str, backups: &str) -> String {
    let kept = manifest
        .split_once("\n  backups:\n")
        .map_or(manifest, |(before, _)| before);
    format!("{kept}\n{}\n", backups.trim_end())
}

/// One instance pod of hippo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The pod's name (`hippo-instance1-xxxx-0`).
    pub pod: String,
    /// The instance's name, which is also its StatefulSet's (`hippo-instance1-xxxx`).
    pub instance: String,
    /// The pod's IP address (empty until it has one).
    pub ip: String,
    /// The Patroni role label (`master`, `replica`, or empty).
    pub role: String,
    /// Whether the pod is Ready.
    pub ready: bool,
}

impl Instance {
    /// Whether this is the Ready leader.
    pub fn is_leader(&self) -> bool {
        self.ready && self.role == "master"
    }

    /// Whether this is a Ready replica.
    pub fn is_replica(&self) -> bool {
        self.ready && self.role == "replica"
    }
}

fn instance(pod: &Value) -> Instance {
    let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
    let labels = &pod["metadata"]["labels"];
    Instance {
        pod: text(&pod["metadata"]["name"]),
        instance: text(&labels[INSTANCE]),
        ip: text(&pod["status"]["podIP"]),
        role: text(&labels[ROLE]),
        ready: pod_ready(pod) && pod["metadata"]["deletionTimestamp"].is_null(),
    }
}

/// hippo's instance pods in `namespace`, by name.
pub fn instances(namespace: &str) -> Result<Vec<Instance>> {
    let selector = format!("{CLUSTER},{INSTANCE}");
    let pods = get_json(namespace, &["pods", "-l", &selector])?;
    let mut found: Vec<Instance> = pods["items"]
        .as_array()
        .context("a pod list")?
        .iter()
        .map(instance)
        .collect();
    found.sort_by(|a, b| a.pod.cmp(&b.pod));
    Ok(found)
}

/// The Ready leader and Ready replicas once there are exactly one leader and `replicas` replicas, all Ready,
/// and no other instance pod.
pub fn wait_for_roles(
    namespace: &str,
    replicas: usize,
    timeout: Duration,
) -> Result<(Instance, Vec<Instance>)> {
    wait_for(
        &format!("one Ready leader and {replicas} Ready replicas of hippo"),
        timeout,
        || {
            let all = instances(namespace)?;
            let leaders: Vec<&Instance> = all.iter().filter(|i| i.is_leader()).collect();
            let others: Vec<Instance> = all.iter().filter(|i| i.is_replica()).cloned().collect();
            Ok(
                (leaders.len() == 1 && others.len() == replicas && all.len() == replicas + 1)
                    .then(|| (leaders[0].clone(), others)),
            )
        },
    )
}

/// The Ready leader pod of any `cluster` in `namespace`, if it has one.
pub fn ready_leader(namespace: &str, cluster: &str) -> Result<Option<String>> {
    let selector = format!("postgres-operator.crunchydata.com/cluster={cluster},{ROLE}=master");
    let pods = get_json(namespace, &["pods", "-l", &selector])?;
    Ok(pods["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|pod| pod_ready(pod))
        .and_then(|pod| pod["metadata"]["name"].as_str())
        .map(str::to_string))
}

/// hippo's `status.<field>` in `namespace`, when it is a string.
pub fn status_text(namespace: &str, field: &str) -> Option<String> {
    let cluster = get_json(namespace, &["postgrescluster", "hippo"]).ok()?;
    cluster["status"][field].as_str().map(str::to_string)
}

/// The start of most tests: the operator installed, `namespace` made afresh, hippo applied in it with
/// `replicas` instances and `spec_lines` (as [`manifest`]), and its Ready leader and replicas once they are.
pub fn start(
    namespace: &str,
    replicas: u32,
    spec_lines: &str,
) -> (Namespace, Instance, Vec<Instance>) {
    require_cluster();
    install_operator().expect("the operator installs and becomes available");
    let made = Namespace::fresh(namespace).expect("namespace");
    made.apply(&manifest(replicas, spec_lines))
        .expect("hippo applies");
    let others = usize::try_from(replicas.saturating_sub(1)).unwrap_or(0);
    let (leader, replicas) = wait_for_roles(namespace, others, Duration::from_secs(420))
        .expect("hippo's instances become Ready, one leading");
    (made, leader, replicas)
}

#[cfg(test)]
mod tests {
    #[test]
    fn manifest_adds_replicas_and_spec_lines() {
        let hippo = super::manifest(
            3,
            "  patroni:\n    dynamicConfiguration: {synchronous_mode: true}",
        );
        assert!(
            hippo.contains("    - name: instance1\n      replicas: 3\n      dataVolumeClaimSpec:")
        );
        assert!(hippo.contains(
            "spec:\n  patroni:\n    dynamicConfiguration: {synchronous_mode: true}\n  image:"
        ));
        assert_eq!(hippo.matches("replicas:").count(), 1);
    }

    #[test]
    fn with_backups_replaces_the_backups_section() {
        let hippo = super::with_backups(
            &super::manifest(1, ""),
            "  backups:\n    pgbackrest:\n      repos: [{name: repo1, gcs: {bucket: b}}]",
        );
        assert!(hippo.ends_with(
            "storage: 1Gi\n  backups:\n    pgbackrest:\n      repos: [{name: repo1, gcs: {bucket: b}}]\n"
        ));
        assert_eq!(hippo.matches("backups:").count(), 1);
        assert!(!hippo.contains("volumeClaimSpec"));
    }
}
