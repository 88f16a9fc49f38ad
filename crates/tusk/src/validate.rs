//! The validate stage: the API's own rules (`tusk_api::validation`) and the limits object names put on a spec.

use crate::naming::names;
use tusk_api::PostgresCluster;
use tusk_api::validation::Violation;

/// Every reason Tusk cannot build `cluster` as its spec says; empty when it can.
pub fn validate(cluster: &PostgresCluster) -> Vec<Violation> {
    let mut violations = tusk_api::validation::validate(cluster);
    violations.extend(name_lengths(cluster));
    violations.extend(restore_options(cluster));
    violations
}

/// The options of a restore (from another cluster, or in place) are pgBackRest options Tusk can pass on
/// (`pgbackrest::restore::options`).
fn restore_options(cluster: &PostgresCluster) -> Vec<Violation> {
    use crate::pgbackrest::restore::{IN_PLACE_OPTIONS_FIELD, OPTIONS_FIELD, options};
    let mut violations = Vec::new();
    if let Some(source) = cluster
        .spec
        .data_source
        .as_ref()
        .and_then(|source| source.postgres_cluster.as_ref())
    {
        violations.extend(options(source, OPTIONS_FIELD).err().unwrap_or_default());
    }
    if let Some(restore) = &cluster.spec.backups.pgbackrest.restore {
        let source = restore.as_data_source(cluster.metadata.name.as_deref().unwrap_or_default());
        violations.extend(
            options(&source, IN_PLACE_OPTIONS_FIELD)
                .err()
                .unwrap_or_default(),
        );
    }
    violations
}

/// The names the spec leads to fit Kubernetes' limits. Instance StatefulSets are named `<cluster>-<set>-<suffix>`, and a StatefulSet name may have at most
/// [`names::STATEFULSET_NAME_MAX`] characters.
pub fn name_lengths(cluster: &PostgresCluster) -> Vec<Violation> {
    let cluster_name = cluster.metadata.name.as_deref().unwrap_or_default();
    let suffix = "x".repeat(names::INSTANCE_SUFFIX_LEN);
    cluster
        .spec
        .instances
        .iter()
        .enumerate()
        .filter_map(|(i, set)| {
            let longest = names::instance(cluster_name, &set.name, &suffix);
            (longest.len() > names::STATEFULSET_NAME_MAX).then(|| Violation {
                field: format!("spec.instances[{i}].name"),
                rule: format!(
                    "with the cluster name, instance names ({longest}) would have {} characters; a StatefulSet \
                     name may have at most {}: shorten the cluster or instance set name",
                    longest.len(),
                    names::STATEFULSET_NAME_MAX
                ),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::validate;

    fn cluster(name: &str, set: &str) -> tusk_api::PostgresCluster {
        let text = include_str!("../../../examples/hippo/postgres.yaml")
            .replace("name: hippo", &format!("name: {name}"))
            .replace("name: instance1", &format!("name: {set}"));
        tusk_api::manifest::parse(&text).expect("valid to the API")
    }

    #[test]
    fn instance_names_must_fit_a_statefulset_name() {
        assert!(validate(&cluster("hippo", "instance1")).is_empty());
        let long = validate(&cluster(&"h".repeat(30), &"i".repeat(20)));
        assert_eq!(long.len(), 1);
        assert_eq!(long[0].field, "spec.instances[0].name");
        assert!(long[0].rule.contains("at most 52"), "{}", long[0].rule);
    }
}
