//! The PodDisruptionBudget `<cluster>-set-<set>` that keeps one instance of a set running through voluntary
//! disruptions (node drains), when the set has more than one.

use crate::metadata::owned_by;
use crate::naming::{labels, names};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tusk_api::PostgresCluster;
use tusk_api::instance::PostgresInstanceSetSpec;

/// The budget of every set that has more than one replica: a set of one has nothing to keep.
pub fn disruption_budgets(cluster: &PostgresCluster) -> Vec<PodDisruptionBudget> {
    cluster
        .spec
        .instances
        .iter()
        .filter(|set| set.replicas > 1)
        .map(|set| budget(cluster, set))
        .collect()
}

fn budget(cluster: &PostgresCluster, set: &PostgresInstanceSetSpec) -> PodDisruptionBudget {
    let name = cluster.metadata.name.as_deref().unwrap_or_default();
    let mut selected = labels::cluster(name);
    selected.insert(labels::INSTANCE_SET.into(), set.name.clone());
    PodDisruptionBudget {
        metadata: owned_by(
            cluster,
            names::instance_set_disruption_budget(name, &set.name),
            set.metadata.as_ref(),
            selected.clone(),
        ),
        spec: Some(PodDisruptionBudgetSpec {
            min_available: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(selected),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}

#[cfg(test)]
mod tests {
    use super::disruption_budgets;

    fn hippo(replicas: i32) -> tusk_api::PostgresCluster {
        let text = include_str!("../../../../examples/hippo/postgres.yaml").replace(
            "    - name: instance1\n",
            &format!("    - name: instance1\n      replicas: {replicas}\n"),
        );
        tusk_api::manifest::parse(&text).unwrap()
    }

    #[test]
    fn only_sets_of_several_instances_get_a_budget() {
        assert!(disruption_budgets(&hippo(1)).is_empty());
        let budgets = disruption_budgets(&hippo(2));
        assert_eq!(budgets.len(), 1);
        assert_eq!(
            budgets[0].metadata.name.as_deref(),
            Some("hippo-set-instance1")
        );
        let spec = budgets[0].spec.as_ref().unwrap();
        let selector = spec
            .selector
            .as_ref()
            .unwrap()
            .match_labels
            .as_ref()
            .unwrap();
        assert_eq!(
            selector["postgres-operator.crunchydata.com/instance-set"],
            "instance1"
        );
        assert_eq!(
            selector["postgres-operator.crunchydata.com/cluster"],
            "hippo"
        );
    }
}
