//! The PostgresCluster resource and the top level of its spec.

use crate::common::{ImagePullPolicy, Metadata, ServiceSpec};
use crate::datasource::DataSource;
use crate::instance::PostgresInstanceSetSpec;
use crate::monitoring::MonitoringSpec;
use crate::patroni::PatroniSpec;
use crate::pgbackrest::{Backups, REPO_NAME_PATTERN};
use crate::proxy::PostgresProxySpec;
use crate::status::PostgresClusterStatus;
use crate::users::PostgresUserSpec;
use k8s_openapi::api::core::v1::{LocalObjectReference, SecretProjection};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The oldest PostgreSQL major version Tusk accepts.
pub const POSTGRES_VERSION_MIN: i32 = 10;
/// The newest PostgreSQL major version Tusk accepts. PGO v5.0 stopped at 14; later PGO releases and the
/// published examples go to 18.
pub const POSTGRES_VERSION_MAX: i32 = 18;

/// The desired state of a PostgreSQL cluster: its instances, backups, users, proxy and monitoring.
#[derive(CustomResource, Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "postgres-operator.crunchydata.com",
    version = "v1beta1",
    kind = "PostgresCluster",
    plural = "postgresclusters",
    namespaced,
    status = "PostgresClusterStatus",
    doc = "A highly available PostgreSQL cluster with backups, a connection pooler and monitoring.",
    printcolumn = r#"{"name":"Version","type":"integer","jsonPath":".spec.postgresVersion","description":"PostgreSQL major version"}"#,
    printcolumn = r#"{"name":"Instances","type":"string","jsonPath":".status.instances[*].readyReplicas","description":"Ready instances of each set"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "!has(self.standby) || self.backups.pgbackrest.repos.exists(r, r.name == self.standby.repoName)",
    "message": "standby.repoName must be one of backups.pgbackrest.repos",
    "fieldPath": ".standby.repoName",
}]))]
pub struct PostgresClusterSpec {
    /// Labels and annotations added to every object of the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Where the cluster's data starts from: a backup of another cluster, or existing volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_source: Option<DataSource>,
    /// Backups: WAL archiving and backup repositories.
    pub backups: Backups,
    /// A ConfigMap with SQL that runs once, as `psql` would run it, after the cluster is first ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "databaseInitSQL")]
    pub database_init_sql: Option<DatabaseInitSql>,
    /// Turns off the default pod scheduling constraints (spreading instances over nodes and zones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_default_pod_scheduling: Option<bool>,
    /// The image of the PostgreSQL containers. Defaults to the operator's `RELATED_IMAGE_POSTGRES_<version>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// When the kubelet pulls images. More info:
    /// https://kubernetes.io/docs/concepts/containers/images/#updating-images
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<ImagePullPolicy>,
    /// Secrets used to pull images from a private registry. Changing them rolls every pod. More info:
    /// https://kubernetes.io/docs/tasks/configure-pod-container/pull-image-private-registry/
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<Vec<LocalObjectReference>>,
    /// The sets of PostgreSQL instances. One instance of all of them is the primary.
    #[schemars(length(min = 1))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub instances: Vec<PostgresInstanceSetSpec>,
    /// Whether the cluster runs on OpenShift, where pods must not set a user or group. Detected when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openshift: Option<bool>,
    /// Patroni, which keeps one instance the primary and fails over when it is lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patroni: Option<PatroniSpec>,
    /// The port PostgreSQL listens on.
    #[serde(default = "default_port")]
    #[schemars(range(min = 1024))]
    pub port: i32,
    /// The PostGIS version installed in the image, when the image has PostGIS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "postGISVersion")]
    pub post_gis_version: Option<String>,
    /// The PostgreSQL major version of the image.
    #[schemars(range(min = POSTGRES_VERSION_MIN, max = POSTGRES_VERSION_MAX))]
    pub postgres_version: i32,
    /// The proxies in front of PostgreSQL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<PostgresProxySpec>,
    /// How the Service of the primary is exposed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceSpec>,
    /// Stops the cluster: every pod is removed, volumes and data stay. Set back to false to start it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown: Option<bool>,
    /// Runs the cluster as a read-only copy of another cluster, following its WAL from a repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby: Option<PostgresStandbySpec>,
    /// Group IDs added to the processes of every container. More info:
    /// https://kubernetes.io/docs/tasks/configure-pod-container/security-context/
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(inner(range(min = 1, max = 2147483647)))]
    pub supplemental_groups: Option<Vec<i64>>,
    /// Users to create in PostgreSQL, and the databases they may use. When omitted, a user and a database
    /// named after the cluster are created. Removing a user from the list does not drop it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub users: Option<Vec<PostgresUserSpec>>,
    /// The monitoring tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<MonitoringSpec>,
    /// A Secret with the certificate (`tls.crt`), key (`tls.key`) and CA (`ca.crt`) PostgreSQL presents.
    /// By default Tusk issues one from the cluster's CA. More info:
    /// https://www.postgresql.org/docs/current/ssl-tcp.html
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "customTLSSecret")]
    pub custom_tls_secret: Option<SecretProjection>,
    /// A Secret with the client certificate of the `_crunchyrepl` replication user, from the same CA as
    /// `customTLSSecret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "customReplicationTLSSecret")]
    pub custom_replication_tls_secret: Option<SecretProjection>,
}

fn default_port() -> i32 {
    5432
}

/// A ConfigMap key with SQL to run once.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DatabaseInitSql {
    /// The ConfigMap's name.
    pub name: String,
    /// The key whose value is the SQL.
    pub key: String,
}

/// Standby settings.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PostgresStandbySpec {
    /// Whether the cluster is a standby. Set to false to promote it.
    #[serde(default = "default_standby_enabled")]
    pub enabled: bool,
    /// The repository the standby reads WAL from.
    #[schemars(pattern(REPO_NAME_PATTERN))]
    pub repo_name: String,
}

fn default_standby_enabled() -> bool {
    true
}
