//! PostgreSQL users and their Secrets `<cluster>-pguser-<user>` (docs: User Management).
//!
//! Which users exist is [`wanted`]; a user's password and SCRAM verifier are [`credentials::Credentials`],
//! created once and then kept from the Secret, so a reconcile never rotates them and a password a person writes
//! into the Secret (the docs' Custom Passwords) stays; [`secret::user_secret`] builds the Secret.

pub mod credentials;
pub mod secret;

use crate::naming::names;
use k8s_openapi::api::core::v1::Secret;
use std::collections::BTreeMap;
use tusk_api::PostgresCluster;
use tusk_api::users::PostgresUserSpec;

/// The users the cluster should have: `spec.users`, or, when it is absent or empty, a user named after the
/// cluster with a database of the same name.
pub fn wanted(cluster: &PostgresCluster) -> Vec<PostgresUserSpec> {
    match cluster.spec.users.as_deref() {
        Some(users) if !users.is_empty() => users.to_vec(),
        _ => {
            let name = cluster.metadata.name.clone().unwrap_or_default();
            vec![PostgresUserSpec {
                name: name.clone(),
                databases: Some(vec![name]),
                options: None,
            }]
        }
    }
}

/// The Secret of every wanted user, keeping the credentials of `existing` Secrets (by name). A Secret built
/// over an existing one carries its `resourceVersion`, so applying it fails, instead of overwriting, if a
/// person changed the password after it was read.
pub fn secrets(cluster: &PostgresCluster, existing: &BTreeMap<String, Secret>) -> Vec<Secret> {
    let cluster_name = cluster.metadata.name.as_deref().unwrap_or_default();
    wanted(cluster)
        .iter()
        .map(|user| {
            let current = existing.get(&names::user_secret(cluster_name, &user.name));
            let credentials = credentials::credentials(current);
            let mut secret = secret::user_secret(cluster, user, &credentials);
            secret.metadata.resource_version =
                current.and_then(|current| current.metadata.resource_version.clone());
            secret
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::wanted;

    #[test]
    fn without_spec_users_the_cluster_gets_its_namesake() {
        let cluster =
            tusk_api::manifest::parse(include_str!("../../../../examples/hippo/postgres.yaml"))
                .unwrap();
        let users = wanted(&cluster);
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].name, "hippo");
        assert_eq!(
            users[0].databases.as_deref(),
            Some(&["hippo".to_string()][..])
        );
    }

    #[test]
    fn spec_users_replace_the_default() {
        let text = include_str!("../../../../examples/hippo/postgres.yaml").replace(
            "  postgresVersion: 13\n",
            "  postgresVersion: 13\n  users: [{name: rhino}, {name: postgres}]\n",
        );
        let cluster = tusk_api::manifest::parse(&text).unwrap();
        let names: Vec<String> = wanted(&cluster).into_iter().map(|user| user.name).collect();
        assert_eq!(names, ["rhino", "postgres"]);
    }
}
