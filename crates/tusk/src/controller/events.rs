//! Events about what the operator did to a cluster, so `kubectl describe postgrescluster` tells the story.
//!
//! The event recorder folds events with the same type, reason, action and objects into one series that keeps
//! the first note, so an event about one of the cluster's objects names that object as its related one:
//! replacing two pods in a row gives two events, not one series with the first pod's note.

use super::Context;
use crate::instances::plan::{Observed, Plan};
use k8s_openapi::api::core::v1::ObjectReference;
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
    send(context, cluster, type_, reason, None, note).await
}

/// Publishes one event about `cluster` and, as its related object, the `kind` named `name` in its namespace.
pub async fn publish_about(
    context: &Context,
    cluster: &PostgresCluster,
    type_: EventType,
    reason: &str,
    (kind, api_version, name): (&str, &str, &str),
    note: String,
) -> Result<(), kube::Error> {
    let related = ObjectReference {
        api_version: Some(api_version.into()),
        kind: Some(kind.into()),
        name: Some(name.into()),
        namespace: cluster.meta().namespace.clone(),
        ..ObjectReference::default()
    };
    send(context, cluster, type_, reason, Some(related), note).await
}

async fn send(
    context: &Context,
    cluster: &PostgresCluster,
    type_: EventType,
    reason: &str,
    secondary: Option<ObjectReference>,
    note: String,
) -> Result<(), kube::Error> {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: "Reconcile".into(),
        secondary,
    };
    context
        .recorder
        .publish(&event, &cluster.object_ref(&()))
        .await
}

/// The related object of an event about an instance.
fn statefulset(name: &str) -> (&'static str, &'static str, &str) {
    ("StatefulSet", "apps/v1", name)
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
            let about = statefulset(&instance.name);
            publish_about(
                context,
                cluster,
                EventType::Normal,
                "InstanceCreated",
                about,
                note,
            )
            .await?;
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
        let about = statefulset(&instance.name);
        publish_about(
            context,
            cluster,
            EventType::Normal,
            "InstanceRemoved",
            about,
            note,
        )
        .await?;
    }
    Ok(())
}
