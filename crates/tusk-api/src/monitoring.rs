//! `spec.monitoring`: the metrics exporter beside every instance.

use k8s_openapi::api::core::v1::{ResourceRequirements, VolumeProjection};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Monitoring tools that connect to PostgreSQL.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MonitoringSpec {
    /// The pgMonitor tool suite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pgmonitor: Option<PgMonitorSpec>,
}

/// The pgMonitor tool suite.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PgMonitorSpec {
    /// The Prometheus exporter sidecar of every instance pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exporter: Option<ExporterSpec>,
}

/// The Prometheus exporter.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExporterSpec {
    /// Projected volumes with exporter configuration, such as custom queries (`queries.yml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<Vec<VolumeProjection>>,
    /// The exporter image. Defaults to the operator's `RELATED_IMAGE_PGEXPORTER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Compute resources of the exporter container. Changing them restarts the instance pods. More info:
    /// https://kubernetes.io/docs/concepts/configuration/manage-resources-containers
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}
