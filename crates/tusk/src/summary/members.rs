//! The instances of a cluster as Patroni reports them on their pods.

use crate::naming::labels;
use crate::patroni::member;
use crate::pods::is_ready;
use k8s_openapi::api::core::v1::Pod;
use serde::Serialize;

/// One instance.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// The pod's name.
    pub pod: String,
    /// The instance set.
    pub instance_set: String,
    /// `primary`, `standby leader`, `replica`, or `unknown` before Patroni reports.
    pub role: String,
    /// PostgreSQL's state as Patroni reports it (`running`, `starting`, ...).
    pub state: String,
    /// Whether the pod is ready.
    pub ready: bool,
    /// The timeline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<u64>,
    /// How far the replica's replay is behind the primary's WAL, in bytes, at Patroni's last heartbeats
    /// (every 10 s); none for the primary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag_bytes: Option<u64>,
    /// Whether a changed parameter waits for a restart.
    pub pending_restart: bool,
    /// How often the pod's containers restarted.
    pub restarts: i32,
}

impl Member {
    /// Whether this instance leads: the primary, or the standby leader of a standby cluster.
    pub fn leads(&self) -> bool {
        self.role != ROLE_REPLICA && self.role != ROLE_UNKNOWN
    }
}

const ROLE_PRIMARY: &str = "primary";
const ROLE_STANDBY_LEADER: &str = "standby leader";
const ROLE_REPLICA: &str = "replica";
const ROLE_UNKNOWN: &str = "unknown";

/// The instances among `pods` (those with an instance label), the leader first, then by name.
pub fn members(pods: &[Pod]) -> Vec<Member> {
    let instances: Vec<(&Pod, member::Status)> = pods
        .iter()
        .filter(|pod| label(pod, labels::INSTANCE).is_some())
        .map(|pod| (pod, member::status(pod)))
        .collect();
    let leader_position = instances
        .iter()
        .find(|(_, status)| role(status) != ROLE_REPLICA && role(status) != ROLE_UNKNOWN)
        .and_then(|(_, status)| status.wal_position);
    let mut members: Vec<Member> = instances
        .iter()
        .map(|(pod, status)| {
            let role = role(status);
            Member {
                pod: pod.metadata.name.clone().unwrap_or_default(),
                instance_set: label(pod, labels::INSTANCE_SET).unwrap_or_default().into(),
                role: role.into(),
                state: status.state.clone().unwrap_or_else(|| "unknown".into()),
                ready: is_ready(pod),
                timeline: status.timeline,
                lag_bytes: (role == ROLE_REPLICA)
                    .then(|| leader_position.zip(status.wal_position))
                    .flatten()
                    .map(|(leader, own)| leader.saturating_sub(own)),
                pending_restart: status.pending_restart,
                restarts: pod
                    .status
                    .iter()
                    .flat_map(|s| s.container_statuses.iter().flatten())
                    .map(|c| c.restart_count)
                    .sum(),
            }
        })
        .collect();
    members.sort_by(|a, b| b.leads().cmp(&a.leads()).then_with(|| a.pod.cmp(&b.pod)));
    members
}

/// The role a person reads for Patroni's.
fn role(status: &member::Status) -> &'static str {
    match status.role.as_deref() {
        Some(labels::ROLE_PATRONI_LEADER | labels::ROLE_PRIMARY) => ROLE_PRIMARY,
        Some("standby_leader") => ROLE_STANDBY_LEADER,
        Some(_) => ROLE_REPLICA,
        None => ROLE_UNKNOWN,
    }
}

fn label<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata.labels.as_ref()?.get(key).map(String::as_str)
}
