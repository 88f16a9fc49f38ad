//! `spec.proxy`: PgBouncer, the connection pooler in front of the primary.

use crate::common::{Metadata, ServiceSpec, Sidecar};
use k8s_openapi::api::core::v1::{
    Affinity, ResourceRequirements, SecretProjection, Toleration, TopologySpreadConstraint,
    VolumeProjection,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The proxies in front of PostgreSQL.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PostgresProxySpec {
    /// PgBouncer, a connection pooler.
    pub pg_bouncer: PgBouncerPodSpec,
}

/// PgBouncer pods and their configuration.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PgBouncerPodSpec {
    /// Labels and annotations of the PgBouncer objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Scheduling constraints of the PgBouncer pods. More info:
    /// https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// PgBouncer settings. Changes are reloaded without a restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<PgBouncerConfiguration>,
    /// A Secret with the certificate (`tls.crt`), key (`tls.key`) and CA (`ca.crt`) PgBouncer presents to
    /// clients. Its common name must match the PgBouncer Service. By default a certificate of the cluster's CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "customTLSSecret")]
    pub custom_tls_secret: Option<SecretProjection>,
    /// An image that runs PgBouncer 1.15 or newer. Defaults to the operator's `RELATED_IMAGE_PGBOUNCER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The port PgBouncer listens on.
    #[serde(default = "default_pgbouncer_port")]
    #[schemars(range(min = 1024))]
    pub port: i32,
    /// Priority class of the PgBouncer pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    /// How many PgBouncer pods run.
    #[serde(default = "default_pgbouncer_replicas")]
    #[schemars(range(min = 0))]
    pub replicas: i32,
    /// Compute resources of the PgBouncer container. More info:
    /// https://kubernetes.io/docs/concepts/configuration/manage-resources-containers
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// How the PgBouncer Service is exposed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceSpec>,
    /// Resources of the PgBouncer pods' sidecars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecars: Option<PgBouncerSidecars>,
    /// Tolerations of the PgBouncer pods. More info:
    /// https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    /// Topology spread constraints of the PgBouncer pods, added to the default ones. More info:
    /// https://kubernetes.io/docs/concepts/workloads/pods/pod-topology-spread-constraints/
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology_spread_constraints: Option<Vec<TopologySpreadConstraint>>,
}

fn default_pgbouncer_port() -> i32 {
    5432
}

fn default_pgbouncer_replicas() -> i32 {
    1
}

/// PgBouncer's configuration. More info: https://www.pgbouncer.org/config.html
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PgBouncerConfiguration {
    /// Extra files mounted under `/etc/pgbouncer`; settings in them override Tusk's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<VolumeProjection>>,
    /// Settings of the `[pgbouncer]` section, for example `pool_mode: transaction`.
    /// More info: https://www.pgbouncer.org/config.html#generic-settings
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global: Option<BTreeMap<String, String>>,
    /// The `[databases]` section: the key is the database a client asks for, the value its connection string.
    /// By default every database is forwarded to the primary. More info:
    /// https://www.pgbouncer.org/config.html#section-databases
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub databases: Option<BTreeMap<String, String>>,
    /// The `[users]` section: settings for particular users. More info:
    /// https://www.pgbouncer.org/config.html#section-users
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<BTreeMap<String, String>>,
}

/// Resources of a PgBouncer pod's sidecars.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PgBouncerSidecars {
    /// The sidecar that reloads PgBouncer when its configuration changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pgbouncer_config: Option<Sidecar>,
}
