//! `tusk switchover CLUSTER [--to INSTANCE] [--failover]`: a change of primary the way later PGO releases
//! take it: `spec.patroni.switchover` (enabled, `targetInstance`, `type`) and a new value of the
//! `postgres-operator.crunchydata.com/trigger-switchover` annotation; then follows `status.patroni.switchover`
//! until the operator has carried it out, and prints the new primary.

use super::{Target, merge_patch, timestamp};
use clap::Args;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tusk::naming::{annotations, labels};

/// How long `tusk switchover` waits for the operator and Patroni.
const WAIT: Duration = Duration::from_secs(120);

/// Arguments of `tusk switchover`.
#[derive(Args)]
pub struct SwitchoverArgs {
    #[command(flatten)]
    target: Target,
    /// The instance to promote (as `tusk status` and the pods' `instance` label name it); default: the
    /// replica Patroni finds best.
    #[arg(long = "to")]
    to: Option<String>,
    /// Promote `--to` even when the primary is not healthy (a failover; may lose what the primary had not
    /// yet replicated).
    #[arg(long, requires = "to")]
    failover: bool,
}

/// Requests the switchover and waits until it is done; exits 1 when it was refused or took too long.
pub fn run(args: &SwitchoverArgs) -> ExitCode {
    super::block_on(async {
        let id = timestamp();
        let patch = serde_json::json!({
            "metadata": {"annotations": {annotations::TRIGGER_SWITCHOVER: id}},
            "spec": {"patroni": {"switchover": {
                "enabled": true,
                "targetInstance": args.to,
                "type": if args.failover { "Failover" } else { "Switchover" },
            }}},
        });
        let (clusters, namespace) = merge_patch(&args.target, &patch, "the switchover").await?;
        let cluster = &args.target.cluster;
        println!("switchover {id} of {namespace}/{cluster} requested");
        let started = Instant::now();
        while started.elapsed() < WAIT {
            let done = clusters
                .get(cluster)
                .await
                .map_err(|e| format!("cannot read the cluster: {e}"))?
                .status
                .and_then(|s| s.patroni)
                .and_then(|p| p.switchover);
            if done.as_deref() == Some(id.as_str()) {
                let pods: Api<Pod> = Api::namespaced(clusters.clone().into_client(), &namespace);
                let mut selector = labels::cluster(cluster);
                selector.insert(labels::ROLE.into(), labels::ROLE_PATRONI_LEADER.into());
                let primary =
                    wait_for_primary(&pods, &labels::selector(&selector), args.to.as_deref()).await;
                println!(
                    "done after {:.0?}; the primary is {}",
                    started.elapsed(),
                    primary
                        .as_deref()
                        .unwrap_or("not known yet (see `tusk status`)")
                );
                return Ok(());
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Err(format!(
            "switchover {id} is not done after {WAIT:?}; the cluster's events say why: kubectl -n {namespace} describe postgrescluster {cluster}"
        ))
    })
}

/// The pod labelled primary, once it is `expected`'s (when given), within a few seconds: Patroni relabels
/// the pods just after the switchover.
async fn wait_for_primary(
    pods: &Api<Pod>,
    selector: &str,
    expected: Option<&str>,
) -> Option<String> {
    let mut primary = None;
    for _ in 0..15 {
        primary = pods
            .list(&ListParams::default().labels(selector))
            .await
            .ok()
            .and_then(|list| list.items.into_iter().next())
            .and_then(|pod| pod.metadata.name);
        let settled = match (expected, &primary) {
            (Some(instance), Some(pod)) => pod == &tusk::naming::names::instance_pod(instance),
            (None, found) => found.is_some(),
            (Some(_), None) => false,
        };
        if settled {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    primary
}
