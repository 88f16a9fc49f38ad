//! The Service `<c>-pgbouncer` clients connect to: PgBouncer's pods on their named port (so the number may
//! change during a rolling update), exposed as `service.type` says.

use super::deployment::PORT_NAME;
use crate::metadata::owned_by;
use crate::naming::{labels, names};
use crate::services::service_type;
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use tusk_api::PostgresCluster;
use tusk_api::proxy::PgBouncerPodSpec;

/// The Service of `cluster`'s PgBouncer `bouncer`.
pub fn service(cluster: &PostgresCluster, bouncer: &PgBouncerPodSpec) -> Service {
    let name = cluster.name_any();
    let selector = labels::pgbouncer(&name);
    Service {
        metadata: owned_by(
            cluster,
            names::pgbouncer(&name),
            bouncer.metadata.as_ref(),
            selector.clone(),
        ),
        spec: Some(ServiceSpec {
            type_: Some(service_type(bouncer.service.as_ref()).into()),
            selector: Some(selector),
            ports: Some(vec![ServicePort {
                name: Some(PORT_NAME.into()),
                port: bouncer.port,
                target_port: Some(IntOrString::String(PORT_NAME.into())),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_named_port_of_pgbouncer_pods_as_the_spec_exposes_it() {
        let cluster =
            crate::pgbouncer::hippo_with_proxy("port: 6432, service: {type: NodePort}", "");
        let service = service(&cluster, super::super::spec(&cluster).unwrap());
        assert_eq!(service.metadata.name.as_deref(), Some("hippo-pgbouncer"));
        let spec = service.spec.unwrap();
        assert_eq!(spec.type_.as_deref(), Some("NodePort"));
        assert_eq!(spec.selector, Some(labels::pgbouncer("hippo")));
        let port = &spec.ports.unwrap()[0];
        assert_eq!(port.port, 6432);
        assert_eq!(
            port.target_port,
            Some(IntOrString::String("pgbouncer".into()))
        );
    }
}
