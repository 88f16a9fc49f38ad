//! Carries out healing (`instances::healing` decides): a replica that Patroni reports down (`start failed`,
//! `crashed`, `stopped`) for longer than the grace period is reinitialized through Patroni's REST API, with
//! an Event. Patroni then restores it with pgBackRest (`--delta`, keeping its files) and it rejoins.
//!
//! Members are read from what Patroni writes to each pod's `status` annotation (its Kubernetes DCS record,
//! the same data `GET /cluster` serves), so observing costs no request to Patroni and a change of state
//! wakes the controller (`pod_changes`). Since when a member is unhealthy is remembered in memory: an
//! operator that restarts, or a new operator leader, only starts the grace period again (healing comes later,
//! never sooner), and nothing is written to pods whose annotations Patroni owns.

use super::observe::Observation;
use super::patroni_api;
use super::rollout::patroni_member;
use super::{Context, events};
use crate::instances::healing::{self, Decision, Member, Seen};
use crate::naming::labels;
use crate::patroni::member;
use crate::pods::is_ready;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::runtime::events::EventType;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tusk_api::PostgresCluster;
use tusk_api::status::{Condition, ConditionStatus};

/// The container that runs Patroni.
const DATABASE_CONTAINER: &str = "database";

/// What the operator remembers of each cluster's unhealthy members, by cluster UID.
#[derive(Debug, Default)]
pub struct Memory {
    clusters: Mutex<HashMap<String, BTreeMap<String, Seen>>>,
}

impl Memory {
    fn take(&self, cluster: &str) -> BTreeMap<String, Seen> {
        self.lock().remove(cluster).unwrap_or_default()
    }

    fn keep(&self, cluster: &str, seen: BTreeMap<String, Seen>) {
        if !seen.is_empty() {
            self.lock().insert(cluster.to_string(), seen);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, BTreeMap<String, Seen>>> {
        self.clusters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Reinitializes the member of `cluster` that needs it, if one does and its grace period is over; how soon to
/// look again (`None`: when something changes). `initialized` is the fresh `PostgresDataInitialized` of this
/// reconcile, when the cluster has one. `tls` is the operator's client identity for Patroni's REST API.
pub async fn heal(
    context: &Context,
    cluster: &PostgresCluster,
    observation: &Observation,
    initialized: Option<&Condition>,
    tls: Arc<rustls::ClientConfig>,
) -> Result<Option<Duration>, kube::Error> {
    let key = cluster.uid().unwrap_or_else(|| cluster.name_any());
    let before = context.healing.take(&key);
    let paused = observation
        .patroni_configuration
        .as_ref()
        .and_then(|c| c.get("pause"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    if let Some(why) = healing::blocked(cluster, data_initialized(cluster, initialized), paused) {
        tracing::debug!(cluster = %cluster.name_any(), %why, "no healing");
        return Ok(None);
    }
    let leader = observation.ready_leader().map(ResourceExt::name_any);
    let members: Vec<Member> = observation
        .pods
        .iter()
        .map(|pod| observed(pod, leader.as_deref()))
        .collect();
    let now = Instant::now();
    let mut seen = healing::remember(&before, &members, now);
    let decision = healing::decide(&members, &seen, now);
    let (again, event) = match decision {
        Decision::Nothing => (None, None),
        Decision::Wait { pod, why, left } => {
            tracing::info!(cluster = %cluster.name_any(), %pod, %why, "an unhealthy member waits");
            (Some(left + Duration::from_secs(1)), None)
        }
        Decision::Reinitialize {
            pod,
            state,
            unhealthy_for,
            leader,
        } => {
            let why = format!(
                "Patroni reported it {state} for {} s while {leader} leads",
                unhealthy_for.as_secs()
            );
            let api = patroni_member(cluster, observation, &pod, tls);
            let outcome = reinitialize(cluster, api, &pod, &why).await;
            if let Some(entry) = seen.get_mut(&pod) {
                match outcome {
                    // Asked, or the user told: not again before the back-off.
                    Outcome::Asked(_) | Outcome::Told(_) => entry.reinitialized = Some(now),
                    // The grace period starts again, so the next try comes after it.
                    Outcome::Failed(_) => entry.since = Some(now),
                }
            }
            (outcome.again(), Some((outcome.event(), pod)))
        }
    };
    // Remembered before the Event goes out, so a failure to publish it does not ask Patroni again.
    context.healing.keep(&key, seen);
    if let Some(((type_, reason, note), pod)) = event {
        match type_ {
            EventType::Normal => tracing::info!(cluster = %cluster.name_any(), %note, "healing"),
            EventType::Warning => tracing::warn!(cluster = %cluster.name_any(), %note, "healing"),
        }
        let about = ("Pod", "v1", pod.as_str());
        events::publish_about(context, cluster, type_, reason, about, note).await?;
    }
    Ok(again)
}

/// What came of a member that needed reinitializing; each carries its Event's note.
enum Outcome {
    /// Patroni was asked to reinitialize it.
    Asked(String),
    /// The operator does not reinitialize members of this cluster; the user is told.
    Told(String),
    /// Patroni could not be asked, or refused.
    Failed(String),
}

impl Outcome {
    /// How soon to look again.
    fn again(&self) -> Option<Duration> {
        match self {
            Outcome::Asked(_) => None,
            Outcome::Told(_) => Some(healing::BACKOFF),
            Outcome::Failed(_) => Some(healing::GRACE),
        }
    }

    /// The Event's type, reason and note.
    fn event(self) -> (EventType, &'static str, String) {
        match self {
            Outcome::Asked(note) => (EventType::Normal, "InstanceReinitializing", note),
            Outcome::Told(note) => (EventType::Warning, "InstanceNeedsReinitialize", note),
            Outcome::Failed(note) => (EventType::Warning, "InstanceReinitializeFailed", note),
        }
    }
}

/// Asks Patroni (through `api`, the member's REST API when its pod has an address) to reinitialize `pod`,
/// unhealthy because `why`; for a cluster the operator does not reinitialize, only says that it needs it.
async fn reinitialize(
    cluster: &PostgresCluster,
    api: Option<patroni_api::Member>,
    pod: &str,
    why: &str,
) -> Outcome {
    if !healing::reinitializes(cluster) {
        return Outcome::Told(format!(
            "{pod} needs to be reinitialized: {why}. Without a pgBackRest repository Patroni would delete \
             its data directory and copy the leader's, so the operator leaves that to you: patronictl reinit"
        ));
    }
    let answer = match api {
        Some(api) => api.reinitialize().await.map_err(|e| e.to_string()),
        None => Err("the pod has no address".to_string()),
    };
    match answer {
        Ok(answer) => Outcome::Asked(format!(
            "reinitializing {pod}: {why}; it is restored by {} and rejoins as a replica ({answer})",
            method(cluster)
        )),
        Err(error) => Outcome::Failed(format!("cannot reinitialize {pod} ({why}): {error}")),
    }
}

/// Whether the cluster's data is initialized: `PostgresDataInitialized` (fresh from this reconcile, else as
/// recorded) is True, or the cluster has none.
fn data_initialized(cluster: &PostgresCluster, fresh: Option<&Condition>) -> bool {
    let recorded = || {
        cluster
            .status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_ == super::data_initialized::DATA_INITIALIZED)
    };
    fresh
        .or_else(recorded)
        .is_none_or(|c| c.status == ConditionStatus::True)
}

/// How Patroni rebuilds a member of `cluster`: its first replica-creation method, then `pg_basebackup`.
fn method(cluster: &PostgresCluster) -> String {
    let repo = match &cluster.spec.standby {
        Some(standby) if standby.enabled => standby.repo_name.clone(),
        _ => cluster
            .spec
            .backups
            .pgbackrest
            .repos
            .first()
            .map(|r| r.name.clone())
            .unwrap_or_default(),
    };
    format!("a pgBackRest delta restore from {repo} (pg_basebackup if that fails)")
}

/// `pod` as a member; `leader` is the Ready leader's pod.
fn observed(pod: &Pod, leader: Option<&str>) -> Member {
    let patroni = member::status(pod);
    let name = pod.name_any();
    let database_runs = pod
        .status
        .as_ref()
        .and_then(|status| status.container_statuses.as_ref())
        .is_some_and(|containers| {
            containers.iter().any(|c| {
                c.name == DATABASE_CONTAINER
                    && c.state.as_ref().is_some_and(|s| s.running.is_some())
            })
        });
    let phase_running = pod
        .status
        .as_ref()
        .and_then(|status| status.phase.as_deref())
        == Some("Running");
    Member {
        leader: leader == Some(name.as_str()) && is_ready(pod),
        running: phase_running && database_runs && pod.metadata.deletion_timestamp.is_none(),
        uid: pod.uid().unwrap_or_default(),
        state: patroni.state,
        role: patroni.role.or_else(|| {
            // The label Patroni set, when its record has no role.
            pod.labels()
                .get(labels::ROLE)
                .filter(|role| role.as_str() == labels::ROLE_PATRONI_LEADER)
                .cloned()
        }),
        pod: name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_is_read_from_its_pod() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {
                "name": "hippo-instance1-bbbb-0",
                "uid": "u1",
                "labels": {labels::ROLE: "master"},
                "annotations": {"status": r#"{"state":"start failed","role":"replica"}"#},
            },
            "status": {
                "phase": "Running",
                "containerStatuses": [{
                    "name": "database", "image": "i", "imageID": "", "ready": false, "restartCount": 1,
                    "state": {"running": {}},
                }],
            },
        }))
        .expect("a pod");
        let member = observed(&pod, Some("hippo-instance1-aaaa-0"));
        assert_eq!(
            member,
            Member {
                pod: "hippo-instance1-bbbb-0".into(),
                uid: "u1".into(),
                leader: false,
                running: true,
                state: Some("start failed".into()),
                role: Some("replica".into()),
            }
        );
    }

    #[test]
    fn healing_waits_for_the_data_to_be_initialized() {
        let condition = |status: &str| -> Condition {
            serde_json::from_value(serde_json::json!({
                "type": super::super::data_initialized::DATA_INITIALIZED, "status": status,
                "lastTransitionTime": "2026-11-28T00:00:00Z", "reason": "R", "message": "",
            }))
            .expect("a condition")
        };
        let mut cluster: PostgresCluster = serde_json::from_value(serde_json::json!({
            "apiVersion": "postgres-operator.crunchydata.com/v1beta1",
            "kind": "PostgresCluster",
            "metadata": {"name": "hippo"},
            "spec": {
                "postgresVersion": 16,
                "instances": [{"name": "i", "dataVolumeClaimSpec": {}}],
                "backups": {"pgbackrest": {"repos": []}},
            },
        }))
        .expect("a cluster");
        assert!(
            data_initialized(&cluster, None),
            "a cluster without the condition"
        );
        cluster.status = Some(tusk_api::status::PostgresClusterStatus {
            conditions: Some(vec![condition("False")]),
            ..Default::default()
        });
        assert!(!data_initialized(&cluster, None), "as recorded");
        assert!(
            data_initialized(&cluster, Some(&condition("True"))),
            "fresh first"
        );
    }
}
