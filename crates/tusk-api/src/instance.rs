//! `spec.instances`: sets of PostgreSQL instances that share one configuration.

use crate::common::{Metadata, Sidecar, VolumeClaimSpec};
use k8s_openapi::api::core::v1::{
    Affinity, ResourceRequirements, Toleration, TopologySpreadConstraint,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The pattern an instance set name follows: empty, or a DNS label, since it becomes part of object names.
pub const INSTANCE_SET_NAME_PATTERN: &str = "^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$";

/// A set of identical PostgreSQL instances: one pod and its volumes per replica.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PostgresInstanceSetSpec {
    /// The set's name, unique in the cluster. It is part of the name of every instance in the set
    /// (`<cluster>-<set>-<suffix>`).
    #[serde(default)]
    #[schemars(pattern(INSTANCE_SET_NAME_PATTERN), length(max = 63))]
    pub name: String,
    /// Labels and annotations of the set's objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// How many instances the set runs. One of all the instances of the cluster is the primary; the others are
    /// streaming replicas.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 1))]
    pub replicas: i32,
    /// The claim of each instance's data directory. More info:
    /// https://kubernetes.io/docs/concepts/storage/persistent-volumes#persistentvolumeclaims
    pub data_volume_claim_spec: VolumeClaimSpec,
    /// A separate claim for each instance's write-ahead log. More info:
    /// https://www.postgresql.org/docs/current/wal.html
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wal_volume_claim_spec: Option<VolumeClaimSpec>,
    /// Compute resources of the PostgreSQL container. Changing them rolls the instances, replicas first. More
    /// info: https://kubernetes.io/docs/concepts/configuration/manage-resources-containers
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Scheduling constraints of the instance pods. Changing them rolls the instances. More info:
    /// https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Priority class of the instance pods. More info:
    /// https://kubernetes.io/docs/concepts/scheduling-eviction/pod-priority-preemption/
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    /// Tolerations of the instance pods. More info:
    /// https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    /// Topology spread constraints of the instance pods, added to the default ones. More info:
    /// https://kubernetes.io/docs/concepts/workloads/pods/pod-topology-spread-constraints/
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology_spread_constraints: Option<Vec<TopologySpreadConstraint>>,
    /// Resources of the instance pods' sidecars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecars: Option<InstanceSidecars>,
}

fn default_replicas() -> i32 {
    1
}

/// Resources of an instance pod's sidecars.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstanceSidecars {
    /// The sidecar that keeps the replication client certificate in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_cert_copy: Option<Sidecar>,
}

/// Gives every unnamed set PGO's default name, its index in two digits (`00`, `01`, ...), as PGO's operator
/// does before it builds anything (the API server stores the empty name).
pub fn name_unnamed_sets(sets: &mut [PostgresInstanceSetSpec]) {
    for (index, set) in sets.iter_mut().enumerate() {
        if set.name.is_empty() {
            set.name = format!("{index:02}");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn unnamed_sets_are_named_by_index() {
        let mut cluster = crate::manifest::parse(
            "apiVersion: postgres-operator.crunchydata.com/v1beta1
kind: PostgresCluster
metadata: {name: hippo}
spec:
  postgresVersion: 15
  instances:
  - {name: big, dataVolumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}
  - {dataVolumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}
  backups: {pgbackrest: {repos: [{name: repo1, volume: {volumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}}]}}
",
        )
        .expect("valid");
        super::name_unnamed_sets(&mut cluster.spec.instances);
        let names: Vec<&str> = cluster
            .spec
            .instances
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(names, ["big", "01"]);
    }
}
