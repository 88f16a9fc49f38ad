//! The build stage of a reconcile: a checked PostgresCluster in, every Kubernetes object Tusk would create for
//! it out. Pure: no I/O, so `tusk render` prints exactly what the operator applies.
//!
//! Objects that need observed state are built by the controller once it has observed it: the Endpoints of
//! `<c>-primary` (they need the ClusterIP Kubernetes assigns to `<c>-ha`) and the user Secrets (they keep the
//! passwords already in them). Everything else is here.

use crate::{instances, patroni, services};
use k8s_openapi::api::core::v1::{Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use serde::Serialize;
use tusk_api::PostgresCluster;

/// Every object of a cluster that can be built from its spec alone, by kind.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Objects {
    /// The ServiceAccounts of the cluster's pods.
    pub service_accounts: Vec<ServiceAccount>,
    /// The Roles of those accounts.
    pub roles: Vec<Role>,
    /// What binds each Role to its account.
    pub role_bindings: Vec<RoleBinding>,
    /// The Services of the instances.
    pub services: Vec<Service>,
    /// The disruption budgets of instance sets with more than one instance.
    pub disruption_budgets: Vec<PodDisruptionBudget>,
}

/// Builds every object of `cluster` that can be built from its spec alone.
pub fn objects(cluster: &PostgresCluster) -> Objects {
    Objects {
        service_accounts: vec![patroni::rbac::service_account(cluster)],
        roles: vec![patroni::rbac::role(cluster)],
        role_bindings: vec![patroni::rbac::role_binding(cluster)],
        services: services::instance_services(cluster),
        disruption_budgets: instances::disruption_budget::disruption_budgets(cluster),
    }
}

impl Objects {
    /// Every object as JSON with `apiVersion` and `kind`, in apply order.
    pub fn to_json(&self) -> Vec<serde_json::Value> {
        let mut out: Vec<serde_json::Value> = self.service_accounts.iter().map(to_json).collect();
        out.extend(self.roles.iter().map(to_json));
        out.extend(self.role_bindings.iter().map(to_json));
        out.extend(self.services.iter().map(to_json));
        out.extend(self.disruption_budgets.iter().map(to_json));
        out
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
            assert!(object["apiVersion"].is_string(), "{object}");
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
