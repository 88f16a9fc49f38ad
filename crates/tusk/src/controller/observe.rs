//! The observe stage: what exists of a cluster's instances — their StatefulSets, their volumes, their pods and
//! which one Patroni made the leader, and the Jobs the operator started — and the other kinds it makes, so the
//! prune stage finds what the spec no longer asks for without listing again.

use crate::instances::{plan, volumes};
use crate::naming::{annotations, labels, names};
use crate::pods::is_ready;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, PersistentVolumeClaim, Pod, Secret, Service,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ListParams};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt::Debug;
use tusk_api::PostgresCluster;

/// What was found of a cluster's instances.
#[derive(Clone, Debug, Default)]
pub struct Observation {
    /// Every instance that has a StatefulSet or a data volume.
    pub instances: Vec<plan::Observed>,
    /// The instances' volumes, by name.
    pub volumes: volumes::Existing,
    /// The instances' StatefulSets (their status counts replicas).
    pub statefulsets: Vec<StatefulSet>,
    /// The cluster's Secrets (users, certificates), by name.
    pub secrets: BTreeMap<String, Secret>,
    /// The pgBackRest repository host's StatefulSet, when it exists.
    pub repo_host: Option<StatefulSet>,
    /// The instances' pods.
    pub pods: Vec<Pod>,
    /// The cluster's Jobs (stanza, backups, init SQL, restore).
    pub jobs: Vec<Job>,
    /// Patroni's dynamic configuration as it keeps it in its DCS (the `config` annotation of the
    /// `<c>-ha-config` Endpoints), once Patroni wrote it.
    pub patroni_configuration: Option<serde_json::Value>,
    /// Whether Patroni has initialized the cluster: the `initialize` annotation of the `<c>-ha-config`
    /// Endpoints holds the system identifier. While Patroni bootstraps it is empty (a lock Patroni removes again
    /// when the bootstrap fails), which is not initialized.
    pub patroni_initialized: bool,
    /// Patroni's DCS Endpoints (`<c>-ha`, `<c>-ha-config`...: labelled with the cluster and Patroni's scope).
    pub patroni_endpoints: Vec<Endpoints>,
    /// The Deployments that carry the cluster's label (PgBouncer's).
    pub deployments: Vec<Deployment>,
    /// The Services that carry the cluster's label.
    pub services: Vec<Service>,
    /// The ConfigMaps that carry the cluster's label.
    pub config_maps: Vec<ConfigMap>,
    /// The PodDisruptionBudgets that carry the cluster's label.
    pub disruption_budgets: Vec<PodDisruptionBudget>,
    /// The CronJobs that carry the cluster's label (scheduled backups).
    pub cron_jobs: Vec<CronJob>,
}

impl Observation {
    /// The pod Patroni made the leader, when it is Ready and not being deleted.
    pub fn ready_leader(&self) -> Option<&Pod> {
        self.pods.iter().find(|pod| {
            pod.labels().get(labels::ROLE).map(String::as_str) == Some(labels::ROLE_PATRONI_LEADER)
                && pod.metadata.deletion_timestamp.is_none()
                && is_ready(pod)
        })
    }

    /// The cluster's Jobs that carry `label`.
    pub fn jobs_labelled<'a>(&'a self, label: &'a str) -> impl Iterator<Item = &'a Job> + 'a {
        self.jobs
            .iter()
            .filter(move |job| job.labels().contains_key(label))
    }
}

/// Lists the objects of `cluster` in `namespace`, and reads the Secrets its build needs.
pub async fn observe(
    client: &Client,
    namespace: &str,
    cluster: &PostgresCluster,
) -> Result<Observation, kube::Error> {
    let name = &cluster.name_any();
    let uid = cluster.uid();
    let of_cluster = ListParams::default().labels(&labels::selector(&labels::cluster(name)));
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let (statefulsets, others): (Vec<StatefulSet>, Vec<StatefulSet>) = statefulsets
        .list(&of_cluster)
        .await?
        .items
        .into_iter()
        .filter(|statefulset| is_ours(statefulset, uid.as_deref()))
        .partition(|s| s.labels().contains_key(labels::INSTANCE));
    let repo_host_name = names::repo_host(name);
    let repo_host = others
        .into_iter()
        .find(|statefulset| statefulset.name_any() == repo_host_name);
    let claims: Vec<PersistentVolumeClaim> = claims
        .list(&of_cluster)
        .await?
        .items
        .into_iter()
        .filter(|claim| is_ours(claim, uid.as_deref()))
        .collect();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut found: BTreeMap<String, Secret> = secrets
        .list(&of_cluster)
        .await?
        .items
        .into_iter()
        .filter(|secret| is_ours(secret, uid.as_deref()))
        .map(|secret| (secret.name_any(), secret))
        .collect();
    // Secrets the build reads that carry no cluster label: the namespace's root CA and the user's own TLS.
    let unlabelled = std::iter::once(names::ROOT_CA_SECRET.to_string())
        .chain(crate::pki::custom::referenced(cluster).map(str::to_string));
    for secret_name in unlabelled {
        if !found.contains_key(&secret_name)
            && let Some(secret) = secrets.get_opt(&secret_name).await?
        {
            found.insert(secret_name, secret);
        }
    }
    let secrets = found;
    let instance_pods: Vec<Pod> = pods
        .list(&ListParams::default().labels(&format!(
            "{},{}",
            labels::selector(&labels::cluster(name)),
            labels::INSTANCE
        )))
        .await?
        .items;
    let jobs: Api<Job> = Api::namespaced(client.clone(), namespace);
    let jobs: Vec<Job> = jobs
        .list(&of_cluster)
        .await?
        .items
        .into_iter()
        // A scheduled backup's Job belongs to its CronJob.
        .filter(|job| {
            is_ours(job, uid.as_deref()) || job.labels().contains_key(labels::PGBACKREST_CRONJOB)
        })
        .collect();
    let mut of_patroni = labels::cluster(name);
    of_patroni.insert(labels::PATRONI.into(), names::patroni_scope(name));
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), namespace);
    let patroni_endpoints = endpoints
        .list(&ListParams::default().labels(&labels::selector(&of_patroni)))
        .await?
        .items;
    let config_name = names::patroni_config_service(name);
    let config = patroni_endpoints
        .iter()
        .find(|found| found.name_any() == config_name)
        .map(|found| found.annotations());
    let patroni_configuration = config
        .and_then(|found| found.get(annotations::PATRONI_DYNAMIC_CONFIGURATION))
        .and_then(|text| serde_json::from_str(text).ok());
    let patroni_initialized = config
        .and_then(|found| found.get(annotations::PATRONI_INITIALIZE))
        .is_some_and(|sysid| !sysid.is_empty());
    let leaders: Vec<String> = instance_pods
        .iter()
        .filter(|pod| {
            pod.labels().get(labels::ROLE).map(String::as_str) == Some(labels::ROLE_PATRONI_LEADER)
        })
        .filter_map(|pod| pod.labels().get(labels::INSTANCE).cloned())
        .collect();

    let mut instances: BTreeMap<String, String> = BTreeMap::new();
    let member = |labels: &BTreeMap<String, String>| {
        Some((
            labels.get(labels::INSTANCE)?.clone(),
            labels.get(labels::INSTANCE_SET)?.clone(),
        ))
    };
    for statefulset in &statefulsets {
        instances.extend(member(statefulset.labels()));
    }
    for claim in &claims {
        if claim.labels().get(labels::ROLE).map(String::as_str) == Some(labels::ROLE_PGDATA) {
            instances.extend(member(claim.labels()));
        }
    }
    Ok(Observation {
        deployments: labelled(client, namespace, &of_cluster).await?,
        services: labelled(client, namespace, &of_cluster).await?,
        config_maps: labelled(client, namespace, &of_cluster).await?,
        disruption_budgets: labelled(client, namespace, &of_cluster).await?,
        cron_jobs: labelled(client, namespace, &of_cluster).await?,
        instances: instances
            .into_iter()
            .map(|(name, set)| plan::Observed {
                leader: leaders.contains(&name),
                name,
                set,
            })
            .collect(),
        volumes: claims
            .into_iter()
            .map(|claim| (claim.name_any(), claim))
            .collect(),
        statefulsets,
        secrets,
        repo_host,
        pods: instance_pods,
        jobs,
        patroni_configuration,
        patroni_initialized,
        patroni_endpoints,
    })
}

/// The objects of kind `K` in `namespace` that `selection` selects.
async fn labelled<K>(
    client: &Client,
    namespace: &str,
    selection: &ListParams,
) -> Result<Vec<K>, kube::Error>
where
    K: Resource<Scope = NamespaceResourceScope> + DeserializeOwned + Clone + Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    Ok(api.list(selection).await?.items)
}

/// Whether `object` may be the cluster's (of UID `uid`): no other object controls it. An object with the
/// cluster's labels that another cluster controls belongs to an earlier cluster of the same name, deleted and not
/// yet collected: it is not this cluster's instance, volume or credential.
pub(super) fn is_ours<K: Resource>(object: &K, uid: Option<&str>) -> bool {
    object
        .owner_references()
        .iter()
        .filter(|owner| owner.controller == Some(true))
        .all(|owner| Some(owner.uid.as_str()) == uid)
}
