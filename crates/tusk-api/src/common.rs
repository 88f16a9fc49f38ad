//! Small structures shared by several parts of the spec.

use k8s_openapi::api::core::v1::{PersistentVolumeClaimSpec, ResourceRequirements};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Labels and annotations that Tusk adds to the objects it creates for one part of a cluster.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// Annotations added to the objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Labels added to the objects. Tusk's own labels take precedence over these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

/// How a Kubernetes Service exposes a component.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceSpec {
    /// The Service type. More info:
    /// https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types
    #[serde(rename = "type")]
    pub type_: ServiceType,
}

/// The Service types a cluster may be exposed with.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum ServiceType {
    /// A virtual IP reachable inside the cluster.
    ClusterIP,
    /// A port on every node, plus a ClusterIP.
    NodePort,
    /// An external load balancer, plus a NodePort and a ClusterIP.
    LoadBalancer,
}

/// When the kubelet pulls a container image.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum ImagePullPolicy {
    /// Pull on every container start.
    Always,
    /// Never pull; the image must already be on the node.
    Never,
    /// Pull only when the image is not on the node.
    IfNotPresent,
}

/// Resources of a sidecar container.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Sidecar {
    /// Compute resources of the sidecar container. More info:
    /// https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

/// A PersistentVolumeClaim spec that must name its access modes and the storage it requests.
///
/// It is the Kubernetes `PersistentVolumeClaimSpec`; the schema requires at least one access mode and a
/// storage request, as PGO's does, and validation checks the same.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(transparent)]
pub struct VolumeClaimSpec(pub PersistentVolumeClaimSpec);

impl JsonSchema for VolumeClaimSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "VolumeClaimSpec".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut schema = PersistentVolumeClaimSpec::json_schema(generator);
        schema.insert(
            "required".into(),
            serde_json::json!(["accessModes", "resources"]),
        );
        if let Some(properties) = schema.get_mut("properties") {
            properties["accessModes"]["minItems"] = 1.into();
            let resources = &mut properties["resources"];
            resources["required"] = serde_json::json!(["requests"]);
            resources["properties"]["requests"]["required"] = serde_json::json!(["storage"]);
        }
        schema
    }
}
