//! `spec.backups`: pgBackRest repositories, schedules, manual backups, in-place restores.

use crate::common::{Metadata, Sidecar, VolumeClaimSpec};
use k8s_openapi::api::core::v1::{
    Affinity, ConfigMapProjection, ResourceRequirements, SecretProjection, Toleration,
    TopologySpreadConstraint, VolumeProjection,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The pattern every pgBackRest repository name follows: `repo1` to `repo4`. PGO's schema leaves the end
/// open (`^repo[1-4]`); pgBackRest knows only these four, so Tusk anchors it.
pub const REPO_NAME_PATTERN: &str = "^repo[1-4]$";

/// Backup configuration of a cluster.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Backups {
    /// pgBackRest: WAL archiving, backups and restores.
    pub pgbackrest: PgBackRestArchive,
}

/// pgBackRest configuration: where WAL and backups go, and how backup Jobs run.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "!has(self.manual) || self.repos.exists(r, r.name == self.manual.repoName)",
    "message": "manual.repoName must be one of repos",
    "fieldPath": ".manual.repoName",
}]))]
pub struct PgBackRestArchive {
    /// Labels and annotations for the pgBackRest objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Projected volumes with extra pgBackRest configuration (for example repository credentials), mounted
    /// under `/etc/pgbackrest/conf.d` beside the configuration Tusk generates.
    /// More info: https://pgbackrest.org/configuration.html
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<Vec<VolumeProjection>>,
    /// Settings for the `[global]` section of the pgBackRest configuration, such as `repo1-retention-full`.
    /// More info: https://pgbackrest.org/configuration.html
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global: Option<BTreeMap<String, String>>,
    /// The image of the pgBackRest containers. Defaults to the operator's `RELATED_IMAGE_PGBACKREST`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Settings shared by every backup Job: manual, scheduled and replica-creation backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<BackupJobs>,
    /// A manual backup, run when the `postgres-operator.crunchydata.com/pgbackrest-backup` annotation changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual: Option<PgBackRestManualBackup>,
    /// The dedicated repository host that serves volume repositories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_host: Option<PgBackRestRepoHost>,
    /// The pgBackRest repositories: one to four of `repo1`..`repo4`, each a volume, S3, GCS or Azure.
    #[schemars(length(min = 1, max = 4))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub repos: Vec<PgBackRestRepo>,
    /// An in-place restore, run when the `postgres-operator.crunchydata.com/pgbackrest-restore` annotation
    /// changes while `enabled` is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<PgBackRestRestore>,
    /// Resources of the pgBackRest sidecar containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecars: Option<PgBackRestSidecars>,
}

/// Settings for every backup Job.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackupJobs {
    /// Priority class of backup Job pods. More info:
    /// https://kubernetes.io/docs/concepts/scheduling-eviction/pod-priority-preemption/
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    /// Compute resources of backup Job pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

/// A manual backup.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PgBackRestManualBackup {
    /// The repository the backup is written to.
    #[schemars(pattern(REPO_NAME_PATTERN))]
    pub repo_name: String,
    /// Extra `pgbackrest backup` options, for example `--type=full`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
}

/// The dedicated repository host.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PgBackRestRepoHost {
    /// Scheduling constraints of the repository host pod. More info:
    /// https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Accepted for manifests written for early PGO v5 releases, where it switched the repository host on;
    /// it has no effect: the repository host is always dedicated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
    pub dedicated: Option<serde_json::Map<String, serde_json::Value>>,
    /// Priority class of the repository host pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    /// Compute resources of the repository host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// A ConfigMap with SSH configuration, for compatibility with PGO releases that used SSH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_config_map: Option<ConfigMapProjection>,
    /// A Secret with SSH keys, for compatibility with PGO releases that used SSH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_secret: Option<SecretProjection>,
    /// Tolerations of the repository host pod. More info:
    /// https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    /// Topology spread constraints of the repository host pod. More info:
    /// https://kubernetes.io/docs/concepts/workloads/pods/pod-topology-spread-constraints/
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology_spread_constraints: Option<Vec<TopologySpreadConstraint>>,
}

/// One pgBackRest repository. Exactly one of `volume`, `s3`, `gcs` and `azure` is set.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "[has(self.volume), has(self.s3), has(self.gcs), has(self.azure)].exists_one(x, x)",
    "message": "must set exactly one of volume, s3, gcs and azure",
}]))]
pub struct PgBackRestRepo {
    /// The repository name, `repo1` to `repo4`; it prefixes the repository's options (`repo1-path`, ...).
    #[schemars(pattern(REPO_NAME_PATTERN))]
    pub name: String,
    /// Cron schedules of full, differential and incremental backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedules: Option<PgBackRestBackupSchedules>,
    /// A repository in an Azure Blob Storage container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<RepoAzure>,
    /// A repository in a Google Cloud Storage bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs: Option<RepoGcs>,
    /// A repository in an S3 (or S3-compatible) bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<RepoS3>,
    /// A repository on a PersistentVolume served by the repository host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<RepoPvc>,
}

/// Cron schedules (the standard five fields) of scheduled backups. More info:
/// https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#cron-schedule-syntax
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PgBackRestBackupSchedules {
    /// When to take a full backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 6))]
    pub full: Option<String>,
    /// When to take a differential backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 6))]
    pub differential: Option<String>,
    /// When to take an incremental backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 6))]
    pub incremental: Option<String>,
}

/// An Azure Blob Storage repository.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RepoAzure {
    /// The Azure container of the repository.
    pub container: String,
}

/// A Google Cloud Storage repository.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RepoGcs {
    /// The GCS bucket of the repository.
    pub bucket: String,
}

/// An S3 repository.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RepoS3 {
    /// The S3 bucket of the repository.
    pub bucket: String,
    /// The S3 endpoint, for example `s3.us-east-1.amazonaws.com`.
    pub endpoint: String,
    /// The region of the bucket.
    pub region: String,
}

/// A repository on a PersistentVolumeClaim.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RepoPvc {
    /// The claim that holds the repository. More info:
    /// https://kubernetes.io/docs/concepts/storage/persistent-volumes/#persistentvolumeclaims
    pub volume_claim_spec: VolumeClaimSpec,
}

/// An in-place restore of the cluster from one of its repositories (or another cluster's).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PgBackRestRestore {
    /// Whether in-place restores are allowed. While false, the restore annotation does nothing.
    #[serde(default)]
    pub enabled: bool,
    /// The repository to restore from.
    #[schemars(pattern(REPO_NAME_PATTERN))]
    pub repo_name: String,
    /// Another PostgresCluster whose repository holds the backup; by default this cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// The namespace of `clusterName`; by default this cluster's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_namespace: Option<String>,
    /// Extra `pgbackrest restore` options, for example `--type=time` and `--target=...` for point-in-time
    /// recovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
    /// Scheduling constraints of the restore Job. More info:
    /// https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Priority class of the restore Job pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    /// Compute resources of the restore Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Tolerations of the restore Job. More info:
    /// https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
}

impl PgBackRestRestore {
    /// The restore as a data source of the cluster `own` (the default source cluster): the same fields,
    /// which a restore Job reads alike for a clone and for an in-place restore.
    pub fn as_data_source(&self, own: &str) -> crate::datasource::PostgresClusterDataSource {
        crate::datasource::PostgresClusterDataSource {
            repo_name: self.repo_name.clone(),
            cluster_name: Some(self.cluster_name.clone().unwrap_or_else(|| own.to_string())),
            cluster_namespace: self.cluster_namespace.clone(),
            options: self.options.clone(),
            affinity: self.affinity.clone(),
            priority_class_name: self.priority_class_name.clone(),
            resources: self.resources.clone(),
            tolerations: self.tolerations.clone(),
        }
    }
}

/// Resources of the pgBackRest sidecars.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PgBackRestSidecars {
    /// The pgBackRest sidecar of each instance pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pgbackrest: Option<Sidecar>,
}
