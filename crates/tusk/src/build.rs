//! The build stage of a reconcile: a checked PostgresCluster in, every Kubernetes object Tusk would create for
//! it out. Pure: no I/O, so `tusk render` prints exactly what the operator applies.
//!
//! Objects that need observed state (the Endpoints of `<c>-primary` need the ClusterIP Kubernetes assigns to
//! `<c>-ha`) are built by the controller once it has observed it; everything else is here.

use crate::services;
use k8s_openapi::api::core::v1::Service;
use serde::Serialize;
use tusk_api::PostgresCluster;

/// Every object of a cluster that can be built from its spec alone, by kind.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Objects {
    /// The Services of the instances.
    pub services: Vec<Service>,
}

/// Builds every object of `cluster` that can be built from its spec alone.
pub fn objects(cluster: &PostgresCluster) -> Objects {
    Objects {
        services: services::instance_services(cluster),
    }
}

impl Objects {
    /// Every object as JSON with `apiVersion` and `kind`, in apply order.
    pub fn to_json(&self) -> Vec<serde_json::Value> {
        self.services.iter().map(to_json).collect()
    }
}

fn to_json(object: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(object).expect("Kubernetes objects serialize to JSON")
}

#[cfg(test)]
mod tests {
    use super::objects;

    #[test]
    fn every_object_says_what_it_is() {
        let cluster =
            tusk_api::manifest::parse(include_str!("../../../examples/hippo/postgres.yaml"))
                .expect("valid");
        let built = objects(&cluster).to_json();
        assert!(!built.is_empty());
        for object in &built {
            assert_eq!(object["apiVersion"], "v1", "{object}");
            assert!(object["kind"].is_string(), "{object}");
            assert!(
                object["metadata"]["name"]
                    .as_str()
                    .is_some_and(|name| name.starts_with("hippo-")),
                "{object}"
            );
        }
    }
}
