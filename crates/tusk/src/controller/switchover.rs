//! Carries out a change of primary on request (`instances::switchover` decides what to do): asks Patroni's REST
//! API for the switchover or failover, with an Event either way, and says which request `status.patroni.switchover`
//! records as done.

use super::observe::Observation;
use super::rollout::patroni_member;
use super::{Context, events};
use crate::instances::plan::Plan;
use crate::instances::switchover::{self, Action};
use crate::naming::labels;
use kube::ResourceExt;
use kube::runtime::events::EventType;
use std::sync::Arc;
use tusk_api::PostgresCluster;

/// What a reconcile did about a requested switchover.
pub struct Outcome {
    /// The `trigger-switchover` value to record in `status.patroni.switchover`.
    pub recorded: Option<String>,
    /// Whether to look again soon: Patroni was asked, or the request waits for something.
    pub again: bool,
}

/// Acts on the switchover `cluster` requests, if any; `tls` is the operator's client identity for Patroni.
pub async fn carry_out(
    context: &Context,
    cluster: &PostgresCluster,
    observation: &Observation,
    plan: &Plan,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<Outcome, kube::Error> {
    let recorded = cluster
        .status
        .as_ref()
        .and_then(|s| s.patroni.as_ref())
        .and_then(|p| p.switchover.clone());
    let unchanged = |again| Outcome {
        recorded: recorded.clone(),
        again,
    };
    let Some(request) = switchover::requested(cluster) else {
        return Ok(unchanged(false));
    };
    let instances: Vec<String> = plan.instances.iter().map(|i| i.name.clone()).collect();
    let leader = observation
        .pods
        .iter()
        .find(|pod| {
            pod.labels().get(labels::ROLE).map(String::as_str) == Some(labels::ROLE_PATRONI_LEADER)
        })
        .and_then(|pod| pod.labels().get(labels::INSTANCE).cloned());
    let name = cluster.name_any();
    match switchover::next(&request, &instances, leader.as_deref()) {
        Action::Record => {
            let note = format!(
                "switchover {}: {} already is the primary",
                request.id,
                leader.unwrap_or_default()
            );
            events::publish(context, cluster, EventType::Normal, "Switchover", note).await?;
            Ok(Outcome {
                recorded: Some(request.id),
                again: false,
            })
        }
        Action::Refuse(why) => {
            let note = format!("switchover {} refused: {why}", request.id);
            events::publish(
                context,
                cluster,
                EventType::Warning,
                "SwitchoverRefused",
                note,
            )
            .await?;
            Ok(unchanged(false))
        }
        Action::Wait(why) => {
            tracing::info!(cluster = %name, id = %request.id, %why, "switchover waits");
            Ok(unchanged(true))
        }
        Action::Call {
            through,
            leader,
            candidate,
            failover,
        } => {
            let Some(member) =
                tls.and_then(|tls| patroni_member(cluster, observation, &through, tls))
            else {
                return Ok(unchanged(true));
            };
            let answer = match (&candidate, failover) {
                (Some(candidate), true) => member.failover(candidate).await,
                _ => {
                    let leader = leader.as_deref().unwrap_or(&through);
                    member.switchover(leader, candidate.as_deref()).await
                }
            };
            let kind = if failover { "Failover" } else { "Switchover" };
            match answer {
                Ok(answer) => {
                    let note = format!("{kind} {}: {}", request.id, answer.trim());
                    events::publish(context, cluster, EventType::Normal, kind, note).await?;
                    Ok(Outcome {
                        recorded: Some(request.id),
                        again: true,
                    })
                }
                Err(error) => {
                    let note = format!("{kind} {} failed, trying again: {error}", request.id);
                    events::publish(
                        context,
                        cluster,
                        EventType::Warning,
                        "SwitchoverFailed",
                        note,
                    )
                    .await?;
                    Ok(unchanged(true))
                }
            }
        }
    }
}
