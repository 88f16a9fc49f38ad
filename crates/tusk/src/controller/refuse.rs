//! Reconciles that apply nothing: a cluster Tusk cannot read, or whose spec it cannot build, gets a condition
//! saying why and a Warning Event, and nothing else.

use super::reconcile::Error;
use super::{Context, FIELD_MANAGER, events, status};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::core::error_boundary::InvalidObject;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};
use tusk_api::PostgresCluster;
use tusk_api::status::Condition;

/// Reports a cluster Tusk cannot read (a field it does not know, written under another CRD) and waits for a
/// change: nothing is applied for it.
pub async fn report_unreadable(
    unreadable: &InvalidObject,
    context: &Context,
) -> Result<Action, Error> {
    let metadata = &unreadable.metadata;
    let name = metadata.name.clone().unwrap_or_default();
    let namespace = metadata
        .namespace
        .clone()
        .ok_or_else(|| Error::NoNamespace(name.clone()))?;
    tracing::warn!(cluster = %name, %namespace, error = %unreadable.error, "cannot read the cluster; nothing applied");
    let message = format!(
        "nothing is applied until the spec is fixed: Tusk cannot read it: {}",
        unreadable.error
    );
    let reference = ObjectReference {
        api_version: Some(PostgresCluster::api_version(&()).into_owned()),
        kind: Some(PostgresCluster::kind(&()).into_owned()),
        name: Some(name.clone()),
        namespace: Some(namespace.clone()),
        uid: metadata.uid.clone(),
        ..ObjectReference::default()
    };
    let event = Event {
        type_: EventType::Warning,
        reason: "InvalidSpec".into(),
        note: Some(message.clone()),
        action: "Validate".into(),
        secondary: None,
    };
    context.recorder.publish(&event, &reference).await?;
    let condition = tusk_api::status::Condition {
        type_: status::SPEC_VALID.into(),
        status: tusk_api::status::ConditionStatus::False,
        observed_generation: metadata.generation,
        last_transition_time: Time(Timestamp::now()),
        reason: "UnreadableSpec".into(),
        message,
    };
    let clusters: Api<PostgresCluster> = Api::namespaced(context.client.clone(), &namespace);
    let patch = serde_json::json!({
        "apiVersion": PostgresCluster::api_version(&()),
        "kind": PostgresCluster::kind(&()),
        "status": {"observedGeneration": metadata.generation, "conditions": [condition]},
    });
    clusters
        .patch_status(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(patch),
        )
        .await?;
    Ok(Action::await_change())
}

/// Writes `condition` (why nothing is applied) to the cluster's status, with a Warning Event of `reason` when
/// the condition is news.
pub async fn refuse(
    context: &Context,
    cluster: &PostgresCluster,
    condition: Condition,
    reason: &str,
) -> Result<(), Error> {
    if status::is_news(cluster, &condition) {
        let note = condition.message.clone();
        events::publish(context, cluster, EventType::Warning, reason, note).await?;
    }
    let name = cluster.name_any();
    let clusters: Api<PostgresCluster> = Api::namespaced(
        context.client.clone(),
        &cluster.namespace().unwrap_or_default(),
    );
    clusters
        .patch_status(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(status::patch(
                cluster,
                &[condition],
                status::Observed::default(),
            )),
        )
        .await?;
    Ok(())
}
