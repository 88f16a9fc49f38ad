//! `spec.dataSource`: what a new cluster's data starts from (a backup of another cluster, or existing volumes).

use crate::pgbackrest::REPO_NAME_PATTERN;
use k8s_openapi::api::core::v1::{Affinity, ResourceRequirements, Toleration};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a new cluster's data comes from.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataSource {
    /// Restore a pgBackRest backup of another PostgresCluster: a clone, or a point-in-time recovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres_cluster: Option<PostgresClusterDataSource>,
    /// Existing PersistentVolumeClaims to adopt as this cluster's volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<DataSourceVolumes>,
}

/// A pgBackRest backup of a PostgresCluster to bootstrap from.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PostgresClusterDataSource {
    /// The repository of the source cluster that holds the backup.
    #[schemars(pattern(REPO_NAME_PATTERN))]
    pub repo_name: String,
    /// The source PostgresCluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// The namespace of the source cluster; by default this cluster's namespace.
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

/// Existing volumes to adopt.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataSourceVolumes {
    /// The claim that holds a PostgreSQL data directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pg_data_volume: Option<DataSourceVolume>,
    /// The claim that holds PostgreSQL's write-ahead log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "pgWALVolume")]
    pub pg_wal_volume: Option<DataSourceVolume>,
    /// The claim that holds a pgBackRest repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pg_back_rest_volume: Option<DataSourceVolume>,
}

/// An existing claim, and the directory in it that holds the data.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataSourceVolume {
    /// The PersistentVolumeClaim's name.
    pub pvc_name: String,
    /// The directory inside the volume that holds the data; its contents are moved to where Tusk expects them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<String>,
}
