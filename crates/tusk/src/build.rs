//! The build stage of a reconcile: a checked PostgresCluster in, every Kubernetes object Tusk would create for
//! it out. Pure: no I/O, so `tusk render` prints exactly what the operator applies.
//!
//! Objects that need observed state (the Endpoints of `<c>-primary` need the ClusterIP Kubernetes assigns to
//! `<c>-ha`) are built by the controller once it has observed it; everything else is here.

use crate::services;
use serde::Serialize;
use tusk_api::PostgresCluster;

/// Every object of `cluster` that can be built from its spec alone, as JSON with `apiVersion` and `kind`.
pub fn objects(cluster: &PostgresCluster) -> Vec<serde_json::Value> {
    services::instance_services(cluster)
        .iter()
        .map(to_json)
        .collect()
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
        let built = objects(&cluster);
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
