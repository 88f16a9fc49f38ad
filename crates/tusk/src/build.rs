//! The build stage of a reconcile: a checked PostgresCluster and what was observed of it in, every Kubernetes
//! object Tusk would create for it out. Pure: no I/O, so `tusk render` prints exactly what the operator applies.
//!
//! What was observed comes in as [`Inputs`]: the instance plan, the existing volumes and Secrets (passwords and
//! certificates are kept from them). Only the Endpoints of `<c>-primary` are built by the controller, since
//! they need the ClusterIP Kubernetes assigns to `<c>-ha`.

use crate::images::Images;
use crate::instances::plan::Plan;
use crate::instances::{self, volumes};
use crate::{monitoring, patroni, pgbackrest, pki, services, users};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::SystemTime;
use tusk_api::PostgresCluster;

/// What a build needs besides the cluster: which instances it has, and what was observed of them.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    /// The instances to build (`crate::instances::plan`).
    pub plan: &'a Plan,
    /// The instance volumes that exist, by name (their fixed fields are kept).
    pub volumes: &'a volumes::Existing,
    /// The images the operator was deployed with.
    pub images: &'a Images,
    /// The Secrets that exist, by name: the cluster's (they keep passwords and certificates), the namespace's
    /// root CA and the user's custom TLS Secrets.
    pub secrets: &'a BTreeMap<String, Secret>,
    /// The current time (certificates are renewed by it).
    pub now: SystemTime,
    /// Whether the build runs without a cluster to observe (`tusk render`): the user's Secrets are then out of
    /// reach and taken as declared.
    pub offline: bool,
}

/// Every object of a cluster that can be built from its spec and inputs, by kind.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Objects {
    /// The ServiceAccounts of the cluster's pods.
    pub service_accounts: Vec<ServiceAccount>,
    /// The Roles of those accounts.
    pub roles: Vec<Role>,
    /// What binds each Role to its account.
    pub role_bindings: Vec<RoleBinding>,
    /// The Services of the instances.
    pub services: Vec<Service>,
    /// Patroni's configuration: the cluster's part and each instance's part.
    pub config_maps: Vec<ConfigMap>,
    /// The instances' data and WAL volumes.
    pub volumes: Vec<PersistentVolumeClaim>,
    /// One StatefulSet per instance.
    pub statefulsets: Vec<StatefulSet>,
    /// PgBouncer's Deployment, with `spec.proxy.pgBouncer`.
    pub deployments: Vec<Deployment>,
    /// The disruption budgets of instance sets with more than one instance.
    pub disruption_budgets: Vec<PodDisruptionBudget>,
    /// The Secrets of the cluster's users.
    pub user_secrets: Vec<Secret>,
    /// The Secrets of Tusk's own roles: `<c>-monitoring` with the exporter.
    pub role_secrets: Vec<Secret>,
    /// The scheduled backups.
    pub cron_jobs: Vec<CronJob>,
    /// The Job that creates the stanza in the repositories (the controller creates it once the primary runs).
    pub stanza_job: Option<Job>,
    /// The full backup taken once the stanza exists (the controller creates it then).
    pub replica_create_job: Option<Job>,
    /// The hash of the configuration backup Jobs read, for the manual backup Jobs the controller builds.
    pub pgbackrest_repo_hash: String,
    /// The namespace's root CA (shared by its clusters: no owner), and whether it was made by this build.
    pub root_ca: Option<(Secret, bool)>,
    /// The cluster's certificate Secrets: server, replication client, one per instance, pgBackRest.
    pub certificates: Vec<Secret>,
    /// When a certificate is next due for renewal.
    pub renew_at: Option<SystemTime>,
    /// The user's certificates, checked, when the cluster brings its own (not offline).
    pub custom_tls: Option<pki::custom::Custom>,
}

/// Why a cluster's objects could not be built from a valid spec: a problem with what it references.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The certificates (the user's custom TLS Secrets, or making new ones).
    #[error(transparent)]
    Tls(#[from] pki::TlsError),
    /// pgBackRest's configuration would hold a value that is unsafe in its files.
    #[error(transparent)]
    Backups(#[from] pgbackrest::ConfigError),
    /// PgBouncer's configuration would hold a value that is unsafe in its file.
    #[error("{0}")]
    Proxy(pgbackrest::ConfigError),
}

impl BuildError {
    /// The `reason` of the status condition and Event that report this error.
    pub fn reason(&self) -> &'static str {
        match self {
            BuildError::Tls(error) => error.reason(),
            BuildError::Backups(_) => "InvalidBackupConfiguration",
            BuildError::Proxy(_) => "InvalidProxyConfiguration",
        }
    }
}

/// The cluster as the builders see it: PGO's defaults that the API server does not store, filled in (the
/// names of unnamed instance sets).
pub fn completed(cluster: &PostgresCluster) -> PostgresCluster {
    let mut cluster = cluster.clone();
    tusk_api::instance::name_unnamed_sets(&mut cluster.spec.instances);
    cluster
}

/// Builds every object of `cluster` (already [`completed`]) for the planned instances.
pub fn objects(cluster: &PostgresCluster, inputs: Inputs<'_>) -> Result<Objects, BuildError> {
    let instance_names: Vec<String> = inputs
        .plan
        .instances
        .iter()
        .map(|instance| instance.name.clone())
        .collect();
    let has_repo_host = cluster
        .spec
        .backups
        .pgbackrest
        .repos
        .iter()
        .any(|repo| repo.volume.is_some());
    let certificates = pki::certificates(
        cluster,
        inputs.secrets,
        pki::Request {
            instances: &instance_names,
            has_repo_host,
            domain: crate::naming::names::DEFAULT_CLUSTER_DOMAIN,
            now: inputs.now,
            offline: inputs.offline,
        },
    )?;
    let backups = pgbackrest::backups(cluster, &instance_names, inputs.volumes, inputs.images)?;
    let mut objects = Objects {
        root_ca: Some((certificates.root, certificates.root_is_new)),
        certificates: certificates.secrets,
        renew_at: Some(certificates.renew_at),
        custom_tls: certificates.custom,
        service_accounts: vec![patroni::rbac::service_account(cluster)],
        roles: vec![patroni::rbac::role(cluster)],
        role_bindings: vec![patroni::rbac::role_binding(cluster)],
        services: services::instance_services(cluster),
        config_maps: vec![
            patroni::config_maps::cluster_config_map(cluster),
            backups.config_map,
        ],
        volumes: backups.repo_volumes,
        statefulsets: backups.repo_host.into_iter().collect(),
        cron_jobs: backups.cron_jobs,
        stanza_job: backups.stanza_job,
        replica_create_job: backups.replica_create_job,
        pgbackrest_repo_hash: backups.repo_config_hash.clone(),
        disruption_budgets: instances::disruption_budget::disruption_budgets(cluster),
        user_secrets: users::secrets(cluster, inputs.secrets),
        role_secrets: Vec::new(),
        deployments: Vec::new(),
    };
    if monitoring::exporter(cluster).is_some() {
        let name = crate::naming::names::monitoring_secret(
            cluster.metadata.name.as_deref().unwrap_or_default(),
        );
        objects
            .role_secrets
            .push(monitoring::secret(cluster, inputs.secrets.get(&name)));
        objects
            .config_maps
            .push(monitoring::queries_config_map(cluster));
    }
    if let Some(bouncer) = crate::pgbouncer::spec(cluster) {
        let file = crate::pgbouncer::config::file(cluster, bouncer).map_err(BuildError::Proxy)?;
        objects
            .config_maps
            .push(crate::pgbouncer::config::config_map(cluster, bouncer, file));
        objects
            .services
            .push(crate::pgbouncer::service::service(cluster, bouncer));
        objects
            .deployments
            .push(crate::pgbouncer::deployment::deployment(
                cluster,
                bouncer,
                inputs.images,
            ));
    }
    for instance in &inputs.plan.instances {
        let Some(set) = cluster
            .spec
            .instances
            .iter()
            .find(|s| s.name == instance.set)
        else {
            continue;
        };
        objects
            .config_maps
            .push(patroni::config_maps::instance_config_map(cluster, instance));
        objects
            .volumes
            .extend(volumes::claims(cluster, set, instance, inputs.volumes));
        objects
            .statefulsets
            .push(instances::statefulset::statefulset(
                cluster,
                set,
                instance,
                inputs.images,
                &backups.instance_config_hash,
                &volumes::claim_names(instance, inputs.volumes),
            ));
    }
    objects.service_accounts.extend(backups.service_account);
    Ok(objects)
}

impl Objects {
    /// Every object as JSON with `apiVersion` and `kind`, in apply order.
    pub fn to_json(&self) -> Vec<serde_json::Value> {
        let mut out: Vec<serde_json::Value> = self.service_accounts.iter().map(to_json).collect();
        out.extend(self.roles.iter().map(to_json));
        out.extend(self.role_bindings.iter().map(to_json));
        out.extend(self.services.iter().map(to_json));
        out.extend(self.config_maps.iter().map(to_json));
        out.extend(self.volumes.iter().map(to_json));
        out.extend(self.statefulsets.iter().map(to_json));
        out.extend(self.deployments.iter().map(to_json));
        out.extend(self.disruption_budgets.iter().map(to_json));
        out.extend(self.cron_jobs.iter().map(to_json));
        out.extend(self.stanza_job.iter().map(to_json));
        out.extend(self.replica_create_job.iter().map(to_json));
        out.extend(self.root_ca.iter().map(|(root, _)| to_json(root)));
        out.extend(self.certificates.iter().map(to_json));
        out.extend(self.user_secrets.iter().map(to_json));
        out.extend(self.role_secrets.iter().map(to_json));
        out
    }
}

fn to_json(object: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(object).expect("Kubernetes objects serialize to JSON")
}

/// Builds what `tusk render` shows: the objects of a new cluster, with repeatable instance names.
pub fn render(cluster: &PostgresCluster, images: &Images) -> Result<Objects, BuildError> {
    let cluster = completed(cluster);
    let plan = instances::plan::plan(&cluster, &[], &mut instances::plan::repeatable_suffixes());
    objects(
        &cluster,
        Inputs {
            plan: &plan,
            volumes: &volumes::Existing::new(),
            images,
            secrets: &BTreeMap::new(),
            now: SystemTime::now(),
            offline: true,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::render;
    use crate::images::Images;

    #[test]
    fn every_object_says_what_it_is() {
        let cluster =
            tusk_api::manifest::parse(include_str!("../../../examples/hippo/postgres.yaml"))
                .expect("valid");
        let built = render(&cluster, &Images::default()).expect("hippo builds");
        assert_eq!(
            built.statefulsets.len(),
            2,
            "the instance and the repository host"
        );
        assert_eq!(built.volumes.len(), 2, "pgdata and repo1");
        assert_eq!(built.config_maps.len(), 3, "Patroni's two and pgBackRest's");
        assert_eq!(
            built.certificates.len(),
            4,
            "server, replication, instance, pgBackRest"
        );
        for object in &built.to_json() {
            assert!(object["apiVersion"].is_string(), "{object}");
            assert!(object["kind"].is_string(), "{object}");
            assert!(
                object["metadata"]["name"]
                    .as_str()
                    .is_some_and(|name| name.starts_with("hippo-")
                        || name == crate::naming::names::ROOT_CA_SECRET),
                "{object}"
            );
        }
    }
}
