//! Events about what the operator did to a cluster, so `kubectl describe postgrescluster` tells the story.

use super::Context;
use crate::instances::plan::{Observed, Plan};
use kube::Resource;
use kube::runtime::events::{Event, EventType};
use tusk_api::PostgresCluster;

/// Publishes one event about `cluster`.
pub async fn publish(
    context: &Context,
    cluster: &PostgresCluster,
    type_: EventType,
    reason: &str,
    note: String,
) -> Result<(), kube::Error> {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: "Reconcile".into(),
        secondary: None,
    };
    context
        .recorder
        .publish(&event, &cluster.object_ref(&()))
        .await
}

/// Publishes an event for each instance the plan creates or removes.
pub async fn instance_changes(
    context: &Context,
    cluster: &PostgresCluster,
    observed: &[Observed],
    plan: &Plan,
) -> Result<(), kube::Error> {
    for instance in &plan.instances {
        if !observed.iter().any(|o| o.name == instance.name) {
            let note = format!("created instance {} of set {}", instance.name, instance.set);
            publish(context, cluster, EventType::Normal, "InstanceCreated", note).await?;
        }
    }
    for instance in &plan.removed {
        let volumes = if plan.delete_removed_volumes {
            "and its volumes (another instance leads and holds the data)"
        } else {
            "but kept its volumes (no other instance is known to lead)"
        };
        let note = format!(
            "removed instance {} of set {} {volumes}",
            instance.name, instance.set
        );
        publish(context, cluster, EventType::Normal, "InstanceRemoved", note).await?;
    }
    Ok(())
}
