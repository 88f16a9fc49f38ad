//! `tusk plan`'s I/O: observes a cluster as a reconcile would, builds its objects for a new spec, and asks the
//! API server what applying each would store (a server-side apply dry run with the operator's field manager),
//! so [`crate::changes`] can say what would change before anything is applied. Nothing is written.

use super::FIELD_MANAGER;
use super::observe::observe;
use crate::build;
use crate::changes::Change;
use crate::images::Images;
use crate::instances::plan;
use crate::naming::labels;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::pinned_kind;
use kube::{Client, ResourceExt};
use serde_json::Value;
use std::time::SystemTime;
use tusk_api::PostgresCluster;

/// What applying a spec would do to a cluster.
#[derive(Debug)]
pub struct Preview {
    /// The objects that would change, in apply order, then the deletions.
    pub changes: Vec<Change>,
    /// The instance Patroni leads now, if any.
    pub leader: Option<String>,
    /// Whether the cluster exists yet.
    pub exists: bool,
}

/// Why a preview could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request to the API server failed.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The spec's objects cannot be built.
    #[error("cannot build the cluster's objects: {0}")]
    Build(#[from] build::BuildError),
}

/// What applying `wanted` (a PostgresCluster in `namespace`) would change, with the operator's `images`.
/// Jobs are left out (the operator creates them once, when their time comes) and so is a root CA that exists.
pub async fn preview(
    client: &Client,
    namespace: &str,
    wanted: &PostgresCluster,
    images: &Images,
) -> Result<Preview, Error> {
    let clusters: Api<PostgresCluster> = Api::namespaced(client.clone(), namespace);
    let live = clusters.get_opt(&wanted.name_any()).await?;
    let mut cluster = build::completed(wanted);
    cluster.metadata.namespace = Some(namespace.into());
    if let Some(live) = &live {
        cluster.metadata.uid = live.metadata.uid.clone();
        cluster.status = live.status.clone();
    }
    let observation = observe(client, namespace, &cluster).await?;
    let plan = plan::plan(&cluster, &observation.instances, &mut plan::random_suffix);
    let objects = build::objects(
        &cluster,
        build::Inputs {
            plan: &plan,
            volumes: &observation.volumes,
            images,
            secrets: &observation.secrets,
            now: SystemTime::now(),
            offline: false,
        },
    )?;
    let mut changes = Vec::new();
    let created_root = objects.root_ca.as_ref().is_some_and(|(_, new)| *new);
    for object in objects.to_json() {
        let kind = object["kind"].as_str().unwrap_or_default();
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        if kind == "Job" || (name == crate::naming::names::ROOT_CA_SECRET && !created_root) {
            continue;
        }
        let api = dynamic_api(client, namespace, &object).await?;
        let current = api.get_opt(name).await?.map(to_value);
        let params = PatchParams::apply(FIELD_MANAGER).force().dry_run();
        let stored = to_value(api.patch(name, &params, &Patch::Apply(&object)).await?);
        changes.extend(Change::between(current.as_ref(), &stored));
    }
    let built_instances: Vec<String> = objects.statefulsets.iter().map(|s| s.name_any()).collect();
    for statefulset in &observation.statefulsets {
        if !built_instances.contains(&statefulset.name_any()) {
            changes.push(Change::deletion(&with_kind(statefulset, "StatefulSet")));
        }
    }
    let built_users: Vec<String> = objects.user_secrets.iter().map(|s| s.name_any()).collect();
    for secret in observation.secrets.values() {
        let user =
            secret.labels().get(labels::ROLE).map(String::as_str) == Some(labels::ROLE_PGUSER);
        if user && !built_users.contains(&secret.name_any()) {
            changes.push(Change::deletion(&with_kind(secret, "Secret")));
        }
    }
    let leader = observation
        .ready_leader()
        .and_then(|pod| pod.labels().get(labels::INSTANCE).cloned());
    Ok(Preview {
        changes,
        leader,
        exists: live.is_some(),
    })
}

/// The API of `object`'s kind in `namespace`, found by discovery.
async fn dynamic_api(
    client: &Client,
    namespace: &str,
    object: &Value,
) -> Result<Api<DynamicObject>, kube::Error> {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, object["kind"].as_str().unwrap_or_default());
    let (resource, _) = pinned_kind(client, &gvk).await?;
    Ok(Api::namespaced_with(client.clone(), namespace, &resource))
}

fn to_value(object: DynamicObject) -> Value {
    serde_json::to_value(object).expect("API objects serialize to JSON")
}

fn with_kind(object: &impl serde::Serialize, kind: &str) -> Value {
    let mut value = serde_json::to_value(object).expect("API objects serialize to JSON");
    value["kind"] = Value::String(kind.into());
    value
}
