//! The controller: watches PostgresClusters and the objects they own, and reconciles each cluster through the
//! pipeline observe → validate → build (pure, `crate::build`) → apply, on every change and periodically.

mod adopt;
mod apply;
mod archiving;
mod backups;
mod certificates;
mod client_tls;
mod custom_tls;
mod data_initialized;
mod delete;
mod events;
mod healing;
mod in_place_restore;
mod init_sql;
mod jobs;
mod monitoring;
mod observe;
mod patroni_api;
mod patroni_dcs;
mod pgbouncer;
mod pod_changes;
pub mod preview;
mod prune;
mod reconcile;
mod refuse;
mod restore;
mod retire;
mod rollout;
mod sql;
mod stanza;
pub mod status;
mod switchover;
mod users;

use crate::images::Images;
use crate::runtime::Telemetry;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, PersistentVolumeClaim, Pod, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::ResourceExt;
use kube::core::DeserializeGuard;
use kube::runtime::controller::Action;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::runtime::{Controller, controller};
use kube::{Api, Client};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tusk_api::PostgresCluster;

pub use reconcile::Error;

/// The field manager of every server-side apply: PGO's, so that Tusk adopts the fields of objects PGO made.
pub const FIELD_MANAGER: &str = "postgrescluster-controller";

/// What every reconcile shares.
pub struct Context {
    /// The API client.
    pub client: Client,
    /// Publishes Events about clusters (`kubectl describe` shows them).
    pub recorder: Recorder,
    /// The images the operator was deployed with (`RELATED_IMAGE_*`).
    pub images: Images,
    /// Metrics and readiness of the operator process (`/metrics`, `/readyz`).
    pub telemetry: Arc<Telemetry>,
    /// Since when each cluster's unhealthy members have been seen (`healing`).
    pub healing: healing::Memory,
    /// When each cluster's members were asked to reload the user's certificate (`custom_tls`).
    pub tls_reloads: custom_tls::Memory,
}

/// Runs the controller until the process is asked to stop (SIGINT or SIGTERM): over every namespace, or over
/// `namespace` alone.
pub async fn run(client: Client, namespace: Option<&str>) {
    let telemetry = Telemetry::new();
    let controller = controller(&client, namespace).shutdown_on_signal();
    drive(controller, client, telemetry).await;
}

/// Runs the controller until `shutdown` resolves, then lets running reconciles finish. `telemetry` counts the
/// reconciles and learns when the watch of PostgresClusters has synced.
pub async fn run_with(
    client: Client,
    namespace: Option<&str>,
    telemetry: Arc<Telemetry>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let controller = controller(&client, namespace).graceful_shutdown_on(shutdown);
    drive(controller, client, telemetry).await;
}

/// How many clusters are reconciled at once. Unbounded (kube's default), a burst of new clusters runs every
/// reconcile at once: the API server answers with timeouts and the operator's memory peaks (and glibc keeps
/// what it peaked at). Reconciles wait on the API, not the CPU, so a few per core keep it busy.
const CONCURRENT_RECONCILES: u16 = 16;

/// The controller with every watch, not yet running.
fn controller(
    client: &Client,
    namespace: Option<&str>,
) -> Controller<DeserializeGuard<PostgresCluster>> {
    // A cluster that does not deserialize (say, written under a newer CRD) reaches the reconciler as an error
    // to report, instead of stalling the watch.
    let clusters: Api<DeserializeGuard<PostgresCluster>> = scoped(client, namespace);
    // Only objects that carry the cluster label are watched: Tusk labels all it creates.
    let owned = watcher::Config::default().labels(crate::naming::labels::CLUSTER);
    let pod_changes = pod_changes::PodChanges::default();
    let controller = Controller::new(clusters, watcher::Config::default());
    let known = controller.store();
    controller
        .with_config(controller::Config::default().concurrency(CONCURRENT_RECONCILES))
        .watches(
            scoped::<Pod>(client, namespace),
            owned.clone(),
            move |pod| {
                let cluster = pod.labels().get(crate::naming::labels::CLUSTER)?.clone();
                let namespace = pod.namespace()?;
                pod_changes
                    .is_news(&pod)
                    .then(|| ObjectRef::new(&cluster).within(&namespace))
            },
        )
        .owns(scoped::<Service>(client, namespace), owned.clone())
        .owns(scoped::<Endpoints>(client, namespace), owned.clone())
        .owns(scoped::<ServiceAccount>(client, namespace), owned.clone())
        .owns(scoped::<Role>(client, namespace), owned.clone())
        .owns(scoped::<RoleBinding>(client, namespace), owned.clone())
        .owns(
            scoped::<PodDisruptionBudget>(client, namespace),
            owned.clone(),
        )
        .owns(scoped::<ConfigMap>(client, namespace), owned.clone())
        .owns(
            scoped::<PersistentVolumeClaim>(client, namespace),
            owned.clone(),
        )
        .owns(scoped::<StatefulSet>(client, namespace), owned.clone())
        .owns(scoped::<Deployment>(client, namespace), owned.clone())
        .owns(scoped::<CronJob>(client, namespace), owned.clone())
        // By label, not owner: a scheduled backup's Job belongs to its CronJob.
        .watches(scoped::<Job>(client, namespace), owned.clone(), |job| {
            let cluster = job.labels().get(crate::naming::labels::CLUSTER)?.clone();
            Some(ObjectRef::new(&cluster).within(&job.namespace()?))
        })
        // The user's TLS Secrets are not Tusk's and carry no label: every Secret is watched, once, and a
        // change wakes the cluster that owns it and the clusters that reference it (a rotation is loaded
        // within seconds, not at the resync).
        .watches(
            scoped::<Secret>(client, namespace),
            watcher::Config::default(),
            move |secret| {
                let mut clusters = referencing(&known.state(), &secret);
                clusters.extend(owner(&secret));
                clusters
            },
        )
}

/// The PostgresCluster that owns `secret`, if one does.
fn owner(secret: &Secret) -> Option<ObjectRef<DeserializeGuard<PostgresCluster>>> {
    let namespace = secret.namespace()?;
    secret
        .owner_references()
        .iter()
        .find(|owner| {
            owner.kind == <PostgresCluster as kube::Resource>::kind(&())
                && owner.api_version == <PostgresCluster as kube::Resource>::api_version(&())
        })
        .map(|owner| ObjectRef::new(&owner.name).within(&namespace))
}

/// The clusters of `known` that reference `secret` as their own TLS (`customTLSSecret`,
/// `customReplicationTLSSecret`, PgBouncer's `customTLSSecret`).
fn referencing(
    known: &[Arc<DeserializeGuard<PostgresCluster>>],
    secret: &Secret,
) -> Vec<ObjectRef<DeserializeGuard<PostgresCluster>>> {
    let (Some(name), Some(namespace)) = (secret.metadata.name.as_deref(), secret.namespace())
    else {
        return Vec::new();
    };
    known
        .iter()
        .filter_map(|guard| guard.0.as_ref().ok())
        .filter(|cluster| cluster.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|cluster| crate::pki::custom::referenced(cluster).any(|n| n == name))
        .map(|cluster| ObjectRef::new(&cluster.name_any()).within(&namespace))
        .collect()
}

/// Runs `controller` to its end, marking `telemetry` synced once the PostgresClusters have been listed.
async fn drive(
    controller: Controller<DeserializeGuard<PostgresCluster>>,
    client: Client,
    telemetry: Arc<Telemetry>,
) {
    let store = controller.store();
    let synced = telemetry.clone();
    // The store wakes only the last of several concurrent waiters (kube-runtime 5's `DelayedInit` keeps one
    // waker, and the controller waits too), so look again every half second rather than wait once.
    let readiness = tokio::spawn(async move {
        loop {
            match tokio::time::timeout(Duration::from_millis(500), store.wait_until_ready()).await {
                Ok(Ok(())) => break,
                // The controller stopped before the first list.
                Ok(Err(_)) => return,
                Err(_) => continue,
            }
        }
        tracing::info!("watching PostgresClusters: the first list is in");
        synced.set_synced(true);
    });
    controller
        .run(
            measured,
            reconcile::error_policy,
            Arc::new(Context {
                recorder: recorder(&client),
                images: Images::from_environment(std::env::vars()),
                client,
                telemetry: telemetry.clone(),
                healing: healing::Memory::default(),
                tls_reloads: custom_tls::Memory::default(),
            }),
        )
        .for_each(|result| async move {
            match result {
                Ok((cluster, _)) => tracing::debug!(cluster = %cluster, "reconciled"),
                Err(error) => tracing::warn!(%error, "reconcile failed"),
            }
        })
        .await;
    readiness.abort();
    telemetry.set_synced(false);
}

/// [`reconcile::reconcile`], counted and timed in the metrics.
async fn measured(
    cluster: Arc<DeserializeGuard<PostgresCluster>>,
    context: Arc<Context>,
) -> Result<Action, Error> {
    let started = Instant::now();
    let result = reconcile::reconcile(cluster, context.clone()).await;
    context
        .telemetry
        .metrics
        .reconciled(started.elapsed(), result.is_ok());
    result
}

fn recorder(client: &Client) -> Recorder {
    let reporter = Reporter {
        controller: FIELD_MANAGER.into(),
        instance: std::env::var("POD_NAME").ok(),
    };
    Recorder::new(client.clone(), reporter)
}

/// An API over every namespace, or one.
fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}
