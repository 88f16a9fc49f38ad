//! Carries out rolling updates (`instances::rollout` decides the step): deletes an outdated pod, restarts a
//! member or asks the leader for a switchover through Patroni's REST API, one step per reconcile, each with an
//! Event. Before that, keeps Patroni's dynamic configuration as the spec says.

use super::observe::Observation;
use super::patroni_api;
use super::{Context, events};
use crate::instances::plan::Plan;
use crate::instances::rollout::{self, Member, Step};
use crate::naming::{labels, names};
use crate::patroni::{self, member};
use crate::pods::is_ready;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Preconditions};
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};
use std::sync::Arc;
use tusk_api::PostgresCluster;

/// The pod label the StatefulSet controller sets to the revision a pod was made from.
const REVISION_LABEL: &str = "controller-revision-hash";

/// Takes the next step of a rolling update of `cluster`; whether to look again soon (a step was taken or a
/// request failed). Waiting needs no polling: the pods' and StatefulSets' changes start the next reconcile.
/// `tls` is the operator's client identity for Patroni's REST API.
pub async fn roll(
    context: &Context,
    cluster: &PostgresCluster,
    observation: &Observation,
    plan: &Plan,
    tls: Arc<rustls::ClientConfig>,
) -> Result<bool, kube::Error> {
    if cluster.spec.shutdown == Some(true) {
        return Ok(false);
    }
    let Some(members) = members(observation, plan) else {
        return Ok(false);
    };
    let api = |pod: &str| patroni_member(cluster, observation, pod, tls.clone());
    if let Some(leader) = members.iter().find(|m| m.leader && m.ready)
        && let Some(leader) = leader.pod.as_deref().and_then(api)
    {
        configure(cluster, observation.patroni_configuration.as_ref(), &leader).await;
    }
    let leaving: Vec<String> = plan
        .waiting_for_switchover
        .iter()
        .map(|instance| names::instance_pod(&instance.name))
        .collect();
    let step = rollout::next(&members, &leaving);
    let name = cluster.name_any();
    let (reason, pod) = match &step {
        Step::Replace(pod) => ("RollingUpdate", pod.clone()),
        Step::Restart(pod) => ("RollingRestart", pod.clone()),
        Step::Switchover { leader, .. } => ("Switchover", leader.clone()),
        Step::Done | Step::Wait(_) => ("", String::new()),
    };
    let note = match &step {
        Step::Done => return Ok(false),
        Step::Wait(why) => {
            tracing::debug!(cluster = %name, %why, "rolling update waits");
            return Ok(false);
        }
        Step::Replace(pod) => {
            replace(context, cluster, observation, pod).await?;
            format!("replaced pod {pod}: its template was outdated")
        }
        Step::Restart(pod) => match api(pod) {
            Some(member) => match member.restart().await {
                Ok(_) => format!("restarted PostgreSQL in {pod} for a parameter change"),
                Err(error) => return failed(&name, pod, "restart", &error),
            },
            None => return Ok(true),
        },
        Step::Switchover { leader, candidate } => match api(leader) {
            Some(member) => match member.switchover(leader, candidate.as_deref()).await {
                Ok(answer) => format!("switched over from {leader}: {answer}"),
                Err(error) => return failed(&name, leader, "switchover", &error),
            },
            None => return Ok(true),
        },
    };
    tracing::info!(cluster = %name, %note, "rolling update");
    let about = ("Pod", "v1", pod.as_str());
    events::publish_about(context, cluster, EventType::Normal, reason, about, note).await?;
    Ok(true)
}

/// Logs a Patroni request that did not work; the next reconcile tries again.
fn failed(
    cluster: &str,
    pod: &str,
    what: &str,
    error: &patroni_api::Error,
) -> Result<bool, kube::Error> {
    tracing::warn!(%cluster, %pod, %error, "Patroni {what} failed; trying again");
    Ok(true)
}

/// The kept instances as rollout members; `None` while a StatefulSet's status does not show its latest
/// template yet (which pods are outdated is not known).
fn members(observation: &Observation, plan: &Plan) -> Option<Vec<Member>> {
    let mut members = Vec::new();
    for instance in &plan.instances {
        let Some(statefulset) = observation
            .statefulsets
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(instance.name.as_str()))
        else {
            // Not made yet: it is new and has nothing to roll.
            continue;
        };
        let status = statefulset.status.as_ref()?;
        if status.observed_generation != statefulset.metadata.generation {
            return None;
        }
        let pod_name = names::instance_pod(&instance.name);
        let pod = observation
            .pods
            .iter()
            .find(|p| p.metadata.name.as_deref() == Some(pod_name.as_str()));
        let patroni = pod.map(member::status).unwrap_or_default();
        members.push(Member {
            instance: instance.name.clone(),
            pod: pod.map(|_| pod_name.clone()),
            outdated: pod.is_some_and(|pod| {
                pod.labels().get(REVISION_LABEL) != status.update_revision.as_ref()
            }),
            ready: pod.is_some_and(is_ready) && patroni.state.as_deref() == Some(member::RUNNING),
            terminating: pod.is_some_and(|pod| pod.metadata.deletion_timestamp.is_some()),
            leader: pod.is_some_and(|pod| {
                pod.labels().get(labels::ROLE).map(String::as_str)
                    == Some(labels::ROLE_PATRONI_LEADER)
            }),
            pending_restart: patroni.pending_restart,
        });
    }
    Some(members)
}

/// Patroni's REST API in `pod`, when the pod has an address.
pub(super) fn patroni_member(
    cluster: &PostgresCluster,
    observation: &Observation,
    pod: &str,
    tls: Arc<rustls::ClientConfig>,
) -> Option<patroni_api::Member> {
    let address = observation
        .pods
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some(pod))?
        .status
        .as_ref()?
        .pod_ip
        .clone()
        .filter(|ip| !ip.is_empty())?;
    Some(patroni_api::Member::new(
        tls,
        &cluster.name_any(),
        &cluster.namespace().unwrap_or_default(),
        pod,
        &address,
        u16::try_from(patroni::config::patroni_port(cluster)).unwrap_or(8008),
    ))
}

/// Makes Patroni's dynamic configuration what the spec says (`patroni::config::dynamic_configuration`),
/// keeping what Patroni's users set at run time (`patroni::config::keeping_runtime_keys`: a pause).
/// `observed` is the configuration Patroni keeps in its DCS, as observed: when it is what the spec says,
/// Patroni is not asked at all. A failure is logged and tried again at the next reconcile.
async fn configure(
    cluster: &PostgresCluster,
    observed: Option<&serde_json::Value>,
    leader: &patroni_api::Member,
) {
    let wanted = patroni::config::dynamic_configuration(cluster);
    if let Some(observed) = observed
        && patroni::config::keeping_runtime_keys(wanted.clone(), observed) == *observed
    {
        return;
    }
    let outcome = match leader.configuration().await {
        Ok(current) => {
            let wanted = patroni::config::keeping_runtime_keys(wanted, &current);
            if current == wanted {
                return;
            }
            leader.replace_configuration(&wanted).await.map(|_| ())
        }
        Err(error) => Err(error),
    };
    match outcome {
        Ok(()) => {
            tracing::info!(cluster = %cluster.name_any(), "Patroni's dynamic configuration updated")
        }
        Err(error) => {
            tracing::warn!(cluster = %cluster.name_any(), %error, "cannot update Patroni's dynamic configuration")
        }
    }
}

/// Deletes `pod` (the very pod observed, by UID) so that its StatefulSet makes it again.
async fn replace(
    context: &Context,
    cluster: &PostgresCluster,
    observation: &Observation,
    pod: &str,
) -> Result<(), kube::Error> {
    let uid = observation
        .pods
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some(pod))
        .and_then(|p| p.meta().uid.clone());
    let pods: Api<Pod> = Api::namespaced(
        context.client.clone(),
        &cluster.namespace().unwrap_or_default(),
    );
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid,
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match pods.delete(pod, &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(()),
        Err(error) => Err(error),
    }
}
