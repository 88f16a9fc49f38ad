//! The identity of the instance pods: ServiceAccount, Role and RoleBinding `<cluster>-instance`, granting
//! Patroni exactly what its Kubernetes DCS needs in the cluster's namespace.

use crate::metadata::owned_by;
use crate::naming::{labels, names};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use tusk_api::PostgresCluster;

/// The instance pods' ServiceAccount. Patroni reads its token to reach the API.
pub fn service_account(cluster: &PostgresCluster) -> ServiceAccount {
    ServiceAccount {
        metadata: meta(cluster),
        automount_service_account_token: Some(true),
        ..ServiceAccount::default()
    }
}

/// What Patroni may do: keep its leader lock and configuration in Endpoints, label and annotate the pods of
/// its cluster with their role and state, and create its `-config` Service (which Tusk already made).
pub fn role(cluster: &PostgresCluster) -> Role {
    let rule = |resource: &str, verbs: &[&str]| PolicyRule {
        api_groups: Some(vec![String::new()]),
        resources: Some(vec![resource.to_string()]),
        verbs: verbs.iter().map(|verb| verb.to_string()).collect(),
        ..PolicyRule::default()
    };
    let mut rules = vec![rule(
        "endpoints",
        &[
            "create",
            "deletecollection",
            "get",
            "list",
            "patch",
            "watch",
        ],
    )];
    if cluster.spec.openshift == Some(true) {
        // OpenShift only lets holders of this permission write Endpoints that contain pod IPs.
        rules.push(rule("endpoints/restricted", &["create"]));
    }
    rules.push(rule("pods", &["get", "list", "patch", "watch"]));
    rules.push(rule("services", &["create"]));
    Role {
        metadata: meta(cluster),
        rules: Some(rules),
    }
}

/// Binds [`role`] to [`service_account`].
pub fn role_binding(cluster: &PostgresCluster) -> RoleBinding {
    let name = names::instance_rbac(cluster_name(cluster));
    RoleBinding {
        metadata: meta(cluster),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: name.clone(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name,
            ..Subject::default()
        }]),
    }
}

fn meta(cluster: &PostgresCluster) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
    let name = cluster_name(cluster);
    owned_by(
        cluster,
        names::instance_rbac(name),
        None,
        labels::cluster(name),
    )
}

fn cluster_name(cluster: &PostgresCluster) -> &str {
    cluster.metadata.name.as_deref().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hippo() -> PostgresCluster {
        tusk_api::manifest::parse(include_str!("../../../../examples/hippo/postgres.yaml")).unwrap()
    }

    #[test]
    fn patroni_gets_its_dcs_and_nothing_else() {
        let rules = role(&hippo()).rules.unwrap();
        let granted: Vec<(String, String)> = rules
            .iter()
            .flat_map(|rule| {
                let resource = rule.resources.as_ref().unwrap()[0].clone();
                rule.verbs
                    .iter()
                    .map(move |verb| (resource.clone(), verb.clone()))
            })
            .collect();
        assert!(granted.contains(&("endpoints".into(), "patch".into())));
        assert!(granted.contains(&("pods".into(), "patch".into())));
        assert!(
            !granted
                .iter()
                .any(|(resource, _)| resource == "secrets" || resource.contains("exec"))
        );
        assert!(
            !granted
                .iter()
                .any(|(_, verb)| verb == "delete" || verb == "*")
        );
        assert!(
            rules
                .iter()
                .all(|rule| rule.api_groups.as_deref() == Some(&[String::new()][..]))
        );
    }

    #[test]
    fn openshift_adds_restricted_endpoints() {
        let mut cluster = hippo();
        cluster.spec.openshift = Some(true);
        let resources: Vec<String> = role(&cluster)
            .rules
            .unwrap()
            .iter()
            .map(|rule| rule.resources.as_ref().unwrap()[0].clone())
            .collect();
        assert!(resources.contains(&"endpoints/restricted".to_string()));
    }

    #[test]
    fn the_binding_ties_the_role_to_the_instance_account() {
        let cluster = hippo();
        let binding = role_binding(&cluster);
        assert_eq!(binding.role_ref.name, "hippo-instance");
        assert_eq!(
            binding.subjects.unwrap()[0].name,
            service_account(&cluster).metadata.name.unwrap()
        );
    }
}
