//! `status`: what the operator observed and did.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The observed state of a PostgresCluster.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PostgresClusterStatus {
    /// Observations of the cluster's state, such as `ProxyAvailable` or `PGBackRestReplicaRepoReady`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Option<Vec<Condition>>,
    /// The state of `spec.databaseInitSQL`: set once the SQL has run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "databaseInitSQL")]
    pub database_init_sql: Option<String>,
    /// Identifies the databases that have been created in PostgreSQL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_revision: Option<String>,
    /// The state of each instance set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub instances: Option<Vec<PostgresInstanceSetStatus>>,
    /// The state of the monitoring tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<MonitoringStatus>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub observed_generation: Option<i64>,
    /// The state Patroni reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patroni: Option<PatroniStatus>,
    /// The state of pgBackRest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pgbackrest: Option<PgBackRestStatus>,
    /// The state of the proxies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<PostgresProxyStatus>,
    /// The instance to start first when the cluster starts or restarts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_instance: Option<String>,
    /// The instance set of `startupInstance`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_instance_set: Option<String>,
    /// Identifies the users that have been created in PostgreSQL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users_revision: Option<String>,
}

/// One aspect of the cluster's state, in the shape of Kubernetes' `metav1.Condition` and with its rules.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// The condition's type, in CamelCase or `example.com/CamelCase`.
    #[schemars(length(max = 316))]
    #[schemars(pattern(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"))]
    #[serde(rename = "type")]
    pub type_: String,
    /// Whether the condition holds.
    pub status: ConditionStatus,
    /// The `metadata.generation` the condition was set for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub observed_generation: Option<i64>,
    /// When the status last changed.
    pub last_transition_time: Time,
    /// Why the status last changed: a CamelCase word for programs.
    #[schemars(
        length(min = 1, max = 1024),
        pattern(r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
    )]
    pub reason: String,
    /// Why the status last changed, for people.
    #[schemars(length(max = 32768))]
    pub message: String,
}

/// Whether a condition holds.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum ConditionStatus {
    /// It holds.
    True,
    /// It does not hold.
    False,
    /// The operator cannot tell.
    Unknown,
}

/// The state of one instance set.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PostgresInstanceSetStatus {
    /// The instance set's name.
    pub name: String,
    /// Pods that are ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// Pods that are not terminated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Pods that run the current specification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_replicas: Option<i32>,
}

/// The state of the monitoring tools.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringStatus {
    /// Identifies the exporter configuration in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exporter_configuration: Option<String>,
}

/// The state Patroni reports.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PatroniStatus {
    /// The PostgreSQL system identifier of the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_identifier: Option<String>,
    /// The value of the `trigger-switchover` annotation the operator last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switchover: Option<String>,
}

/// The state of pgBackRest.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PgBackRestStatus {
    /// The latest manual backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual_backup: Option<PgBackRestJobStatus>,
    /// The repository host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_host: Option<RepoHostStatus>,
    /// Each repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub repos: Option<Vec<RepoStatus>>,
    /// The latest in-place restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<PgBackRestJobStatus>,
    /// The latest run of each backup schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_backups: Option<Vec<PgBackRestScheduledBackupStatus>>,
    /// WAL archiving as the primary reports it (PostgreSQL's `pg_stat_archiver`), read when the cluster is
    /// reconciled (a Tusk addition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wal_archiving: Option<WalArchivingStatus>,
}

/// WAL archiving on the primary: the last segment pushed to the repositories and the last failure.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
pub struct WalArchivingStatus {
    /// The last WAL file archived.
    #[serde(
        rename = "lastArchivedWAL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_archived_wal: Option<String>,
    /// When it was archived.
    #[serde(
        rename = "lastArchivedTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_archived_time: Option<Time>,
    /// How many attempts to archive a WAL file failed since the statistics were reset.
    #[serde(
        rename = "failedCount",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub failed_count: Option<i64>,
    /// The WAL file of the last failed attempt.
    #[serde(
        rename = "lastFailedWAL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_failed_wal: Option<String>,
    /// When the last attempt failed.
    #[serde(
        rename = "lastFailedTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_failed_time: Option<Time>,
}

/// The state of a manual backup or restore Job.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PgBackRestJobStatus {
    /// The annotation value that requested the Job.
    pub id: String,
    /// Whether the Job has finished, successfully or not.
    pub finished: bool,
    /// The progress of the Job.
    #[serde(flatten)]
    pub progress: JobProgress,
}

/// The latest run of a backup schedule.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PgBackRestScheduledBackupStatus {
    /// The CronJob of the schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron_job_name: Option<String>,
    /// The repository the schedule backs up to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// The backup type: `full`, `diff` or `incr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// The progress of the Job.
    #[serde(flatten)]
    pub progress: JobProgress,
}

/// The progress of a pgBackRest Job, copied from the Job's status.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct JobProgress {
    /// Pods of the Job that are running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<i32>,
    /// Pods of the Job that succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded: Option<i32>,
    /// Pods of the Job that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<i32>,
    /// When the Job started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    /// When the Job completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
}

/// The state of the repository host.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RepoHostStatus {
    /// The API version of the repository host's workload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// The kind of the repository host's workload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Whether the repository host is ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,
}

/// The state of one repository.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RepoStatus {
    /// The repository's name.
    pub name: String,
    /// Whether the repository's PersistentVolumeClaim is bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<bool>,
    /// Whether a backup that new replicas can be created from exists in the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_create_backup_complete: Option<bool>,
    /// A hash of the cloud repository's options, to notice when they change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_options_hash: Option<String>,
    /// Whether the stanza has been created in the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stanza_created: Option<bool>,
    /// The volume that holds the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
}

/// The state of the proxies.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PostgresProxyStatus {
    /// The state of PgBouncer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pg_bouncer: Option<PgBouncerStatus>,
}

/// The state of PgBouncer.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PgBouncerStatus {
    /// Identifies the PgBouncer objects installed in PostgreSQL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres_revision: Option<String>,
    /// PgBouncer pods that are ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// PgBouncer pods that are not terminated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
}
