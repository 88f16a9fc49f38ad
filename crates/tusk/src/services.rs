//! The Services of a cluster's PostgreSQL instances, named and shaped as PGO's:
//!
//! | Service | shape | who keeps its endpoints |
//! |---|---|---|
//! | `<c>-ha` | `spec.service.type` (ClusterIP by default), no selector | Patroni: the leader's address |
//! | `<c>-ha-config` | headless, no selector, no ports | Patroni: its configuration (DCS) |
//! | `<c>-primary` | headless, no selector | Tusk: the ClusterIP of `<c>-ha`, so clients follow failovers |
//! | `<c>-replicas` | ClusterIP, selects pods Patroni labels `replica` | Kubernetes |
//! | `<c>-pods` | headless, selects every pod, ready or not | Kubernetes: one DNS name per pod |

use crate::metadata::owned_by;
use crate::naming::{labels, names};
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tusk_api::PostgresCluster;
use tusk_api::common::ServiceType;

/// The name of the PostgreSQL port on Services and containers.
pub const POSTGRES_PORT_NAME: &str = "postgres";

/// Every Service of the cluster's instances, in the order of the table above.
pub fn instance_services(cluster: &PostgresCluster) -> Vec<Service> {
    vec![
        leader(cluster),
        patroni_config(cluster),
        primary(cluster),
        replicas(cluster),
        pods(cluster),
    ]
}

/// `<c>-ha`: the Service whose endpoints Patroni points at the leader.
pub fn leader(cluster: &PostgresCluster) -> Service {
    let name = cluster_name(cluster);
    Service {
        metadata: owned_by(
            cluster,
            names::patroni_scope(name),
            None,
            patroni_labels(name),
        ),
        spec: Some(ServiceSpec {
            type_: Some(service_type(cluster.spec.service.as_ref()).into()),
            ports: Some(vec![postgres_port(cluster)]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// `<c>-ha-config`: keeps Patroni's configuration Endpoints from being collected as orphans.
pub fn patroni_config(cluster: &PostgresCluster) -> Service {
    let name = cluster_name(cluster);
    Service {
        metadata: owned_by(
            cluster,
            names::patroni_config_service(name),
            None,
            patroni_labels(name),
        ),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// `<c>-primary`: headless, so that its DNS name resolves to the address in [`primary_endpoints`].
pub fn primary(cluster: &PostgresCluster) -> Service {
    let name = cluster_name(cluster);
    let mut ours = labels::cluster(name);
    ours.insert(labels::ROLE.into(), labels::ROLE_PRIMARY.into());
    Service {
        metadata: owned_by(cluster, names::primary_service(name), None, ours),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            ports: Some(vec![postgres_port(cluster)]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// The Endpoints of `<c>-primary`: the ClusterIP of `<c>-ha` (observed once Kubernetes assigns it), so that
/// `<c>-primary` always reaches whichever instance Patroni made the leader.
pub fn primary_endpoints(cluster: &PostgresCluster, leader_cluster_ip: &str) -> Endpoints {
    let name = cluster_name(cluster);
    let mut ours = labels::cluster(name);
    ours.insert(labels::ROLE.into(), labels::ROLE_PRIMARY.into());
    Endpoints {
        metadata: owned_by(cluster, names::primary_service(name), None, ours),
        subsets: Some(vec![EndpointSubset {
            addresses: Some(vec![EndpointAddress {
                ip: leader_cluster_ip.into(),
                ..EndpointAddress::default()
            }]),
            ports: Some(vec![EndpointPort {
                name: Some(POSTGRES_PORT_NAME.into()),
                port: cluster.spec.port,
                protocol: Some("TCP".into()),
                ..EndpointPort::default()
            }]),
            ..EndpointSubset::default()
        }]),
    }
}

/// `<c>-replicas`: balances over the instances Patroni labels `replica`.
pub fn replicas(cluster: &PostgresCluster) -> Service {
    let name = cluster_name(cluster);
    let mut ours = labels::cluster(name);
    ours.insert(labels::ROLE.into(), labels::ROLE_REPLICA.into());
    Service {
        metadata: owned_by(cluster, names::replicas_service(name), None, ours.clone()),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(ours),
            ports: Some(vec![postgres_port(cluster)]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// `<c>-pods`: gives every instance pod a stable DNS name, `<pod>.<c>-pods`, even before it is ready (Patroni
/// and replication need to reach a pod that is still starting).
pub fn pods(cluster: &PostgresCluster) -> Service {
    let name = cluster_name(cluster);
    Service {
        metadata: owned_by(
            cluster,
            names::pods_service(name),
            None,
            labels::cluster(name),
        ),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            publish_not_ready_addresses: Some(true),
            selector: Some(labels::cluster(name)),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

fn cluster_name(cluster: &PostgresCluster) -> &str {
    cluster.metadata.name.as_deref().unwrap_or_default()
}

fn patroni_labels(cluster: &str) -> labels::Labels {
    let mut ours = labels::cluster(cluster);
    ours.insert(labels::PATRONI.into(), names::patroni_scope(cluster));
    ours
}

fn postgres_port(cluster: &PostgresCluster) -> ServicePort {
    ServicePort {
        name: Some(POSTGRES_PORT_NAME.into()),
        port: cluster.spec.port,
        protocol: Some("TCP".into()),
        target_port: Some(IntOrString::String(POSTGRES_PORT_NAME.into())),
        ..ServicePort::default()
    }
}

/// The type's name of a Service the spec may expose (`service.type`), as a Service spec takes it; `ClusterIP`
/// when the spec says nothing.
pub fn service_type(spec: Option<&tusk_api::common::ServiceSpec>) -> &'static str {
    match spec.map_or(ServiceType::ClusterIP, |service| service.type_) {
        ServiceType::ClusterIP => "ClusterIP",
        ServiceType::NodePort => "NodePort",
        ServiceType::LoadBalancer => "LoadBalancer",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hippo(extra: &str) -> PostgresCluster {
        tusk_api::manifest::parse(&format!(
            "apiVersion: postgres-operator.crunchydata.com/v1beta1
kind: PostgresCluster
metadata: {{name: hippo, namespace: zoo}}
spec:
  postgresVersion: 15
  instances:
  - dataVolumeClaimSpec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}
  backups: {{pgbackrest: {{repos: [{{name: repo1, volume: {{volumeClaimSpec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}}}}}]}}}}
{extra}"
        ))
        .expect("valid")
    }

    #[test]
    fn names_and_shapes_are_pgo_s() {
        let services = instance_services(&hippo(""));
        let shapes: Vec<(String, Option<String>, Option<String>, bool)> = services
            .iter()
            .map(|s| {
                let spec = s.spec.as_ref().unwrap();
                (
                    s.metadata.name.clone().unwrap(),
                    spec.type_.clone(),
                    spec.cluster_ip.clone(),
                    spec.selector.is_some(),
                )
            })
            .collect();
        let expected = [
            ("hippo-ha", Some("ClusterIP"), None, false),
            ("hippo-ha-config", None, Some("None"), false),
            ("hippo-primary", None, Some("None"), false),
            ("hippo-replicas", Some("ClusterIP"), None, true),
            ("hippo-pods", None, Some("None"), true),
        ];
        let expected: Vec<_> = expected
            .iter()
            .map(|(n, t, ip, sel)| {
                (
                    n.to_string(),
                    t.map(String::from),
                    ip.map(String::from),
                    *sel,
                )
            })
            .collect();
        assert_eq!(shapes, expected);
    }

    #[test]
    fn spec_service_and_port_reach_the_leader_service() {
        let cluster = hippo("  port: 5433\n  service: {type: LoadBalancer}\n");
        let spec = leader(&cluster).spec.unwrap();
        assert_eq!(spec.type_.as_deref(), Some("LoadBalancer"));
        assert_eq!(spec.ports.unwrap()[0].port, 5433);
    }

    #[test]
    fn replicas_select_patroni_replicas_of_this_cluster_only() {
        let selector = replicas(&hippo("")).spec.unwrap().selector.unwrap();
        assert_eq!(
            labels::selector(&selector),
            "postgres-operator.crunchydata.com/cluster=hippo,postgres-operator.crunchydata.com/role=replica"
        );
    }

    #[test]
    fn primary_endpoints_point_at_the_leader_service() {
        let endpoints = primary_endpoints(&hippo(""), "10.96.0.17");
        let subset = &endpoints.subsets.unwrap()[0];
        assert_eq!(subset.addresses.as_ref().unwrap()[0].ip, "10.96.0.17");
        assert_eq!(subset.ports.as_ref().unwrap()[0].port, 5432);
        assert_eq!(endpoints.metadata.name.as_deref(), Some("hippo-primary"));
    }
}
