//! Which instances a cluster has: the ones it already has (found by their StatefulSets or volumes), kept up to
//! each set's `replicas`, plus new ones with fresh names. Pure: the caller observes and supplies name suffixes.
//!
//! Safety rules, so that scaling never loses data:
//! - the current leader is kept first within its set, so scaling down removes replicas;
//! - a leader whose whole set was removed is neither removed nor rebuilt: it waits for a switchover;
//! - a removed instance's volumes are deleted only while a leader runs in a kept instance (which holds the
//!   data); otherwise they stay, and the instance is adopted again if the set grows.

use crate::naming::names;
use std::collections::BTreeSet;
use tusk_api::PostgresCluster;

/// An instance as found in the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    /// The instance (StatefulSet) name.
    pub name: String,
    /// Its instance set, from its labels.
    pub set: String,
    /// Whether its pod is Patroni's leader.
    pub leader: bool,
}

/// An instance the cluster should have.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instance {
    /// The instance (StatefulSet) name.
    pub name: String,
    /// Its instance set.
    pub set: String,
}

/// What to do with the cluster's instances.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// The instances to build and apply, in the order of the spec's sets.
    pub instances: Vec<Instance>,
    /// Instances to remove: their StatefulSet, configuration and certificates.
    pub removed: Vec<Instance>,
    /// Whether the volumes of removed instances may be deleted now (a kept instance leads).
    pub delete_removed_volumes: bool,
    /// Leaders of removed sets, kept until a switchover moves the leader elsewhere.
    pub waiting_for_switchover: Vec<Instance>,
}

/// Plans the instances of `cluster` from what was `observed`; `new_suffix` supplies candidate name suffixes
/// (a suffix already in use is skipped).
pub fn plan(
    cluster: &PostgresCluster,
    observed: &[Observed],
    new_suffix: &mut dyn FnMut() -> String,
) -> Plan {
    let cluster_name = cluster.metadata.name.as_deref().unwrap_or_default();
    let mut taken: BTreeSet<String> = observed.iter().map(|o| o.name.clone()).collect();
    let mut plan = Plan::default();
    for set in &cluster.spec.instances {
        let mut found: Vec<&Observed> = observed.iter().filter(|o| o.set == set.name).collect();
        found.sort_by(|a, b| b.leader.cmp(&a.leader).then_with(|| a.name.cmp(&b.name)));
        let wanted = usize::try_from(set.replicas).unwrap_or(0);
        for (index, instance) in found.iter().enumerate() {
            let instance = Instance {
                name: instance.name.clone(),
                set: set.name.clone(),
            };
            if index < wanted {
                plan.instances.push(instance);
            } else {
                plan.removed.push(instance);
            }
        }
        for _ in found.len()..wanted {
            let name = loop {
                let candidate = names::instance(cluster_name, &set.name, &new_suffix());
                if taken.insert(candidate.clone()) {
                    break candidate;
                }
            };
            plan.instances.push(Instance {
                name,
                set: set.name.clone(),
            });
        }
    }
    let sets: BTreeSet<&str> = cluster
        .spec
        .instances
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    for orphan in observed.iter().filter(|o| !sets.contains(o.set.as_str())) {
        let instance = Instance {
            name: orphan.name.clone(),
            set: orphan.set.clone(),
        };
        if orphan.leader {
            plan.waiting_for_switchover.push(instance);
        } else {
            plan.removed.push(instance);
        }
    }
    let kept: BTreeSet<&str> = plan.instances.iter().map(|i| i.name.as_str()).collect();
    plan.delete_removed_volumes = observed
        .iter()
        .any(|o| o.leader && kept.contains(o.name.as_str()));
    plan
}

/// A random instance name suffix, from the alphabet Kubernetes uses for generated names.
pub fn random_suffix() -> String {
    use rand::Rng;
    let alphabet = names::INSTANCE_SUFFIX_ALPHABET.as_bytes();
    let mut rng = rand::rng();
    (0..names::INSTANCE_SUFFIX_LEN)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// Suffixes that are the same on every run, for output that must not change between runs (`tusk render`).
pub fn repeatable_suffixes() -> impl FnMut() -> String {
    let alphabet = names::INSTANCE_SUFFIX_ALPHABET.as_bytes();
    let mut counter: usize = 0;
    move || {
        counter += 1;
        let mut value = counter.wrapping_mul(2_654_435_761);
        (0..names::INSTANCE_SUFFIX_LEN)
            .map(|_| {
                let letter = alphabet[value % alphabet.len()];
                value /= alphabet.len();
                char::from(letter)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(sets: &str) -> PostgresCluster {
        tusk_api::manifest::parse(&format!(
            "apiVersion: postgres-operator.crunchydata.com/v1beta1
kind: PostgresCluster
metadata: {{name: hippo}}
spec:
  postgresVersion: 15
  instances: {sets}
  backups: {{pgbackrest: {{repos: [{{name: repo1, volume: {{volumeClaimSpec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}}}}}]}}}}
"
        ))
        .expect("valid")
    }

    fn set(name: &str, replicas: i32) -> String {
        format!(
            "{{name: {name}, replicas: {replicas}, dataVolumeClaimSpec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}}}"
        )
    }

    fn observed(name: &str, set: &str, leader: bool) -> Observed {
        Observed {
            name: name.into(),
            set: set.into(),
            leader,
        }
    }

    fn names(instances: &[Instance]) -> Vec<&str> {
        instances.iter().map(|i| i.name.as_str()).collect()
    }

    #[test]
    fn new_instances_get_unused_names() {
        let mut suffixes = ["bbbb", "cccc", "bbbb", "dddd"]
            .into_iter()
            .map(String::from);
        let plan = plan(
            &cluster(&format!("[{}]", set("one", 3))),
            &[observed("hippo-one-bbbb", "one", true)],
            &mut || suffixes.next().expect("enough suffixes"),
        );
        assert_eq!(
            names(&plan.instances),
            ["hippo-one-bbbb", "hippo-one-cccc", "hippo-one-dddd"]
        );
        assert!(plan.removed.is_empty());
    }

    #[test]
    fn scaling_down_keeps_the_leader() {
        let plan = plan(
            &cluster(&format!("[{}]", set("one", 1))),
            &[
                observed("hippo-one-bbbb", "one", false),
                observed("hippo-one-zzzz", "one", true),
            ],
            &mut || unreachable!("no new instance"),
        );
        assert_eq!(names(&plan.instances), ["hippo-one-zzzz"]);
        assert_eq!(names(&plan.removed), ["hippo-one-bbbb"]);
        assert!(plan.delete_removed_volumes);
    }

    #[test]
    fn volumes_stay_while_no_kept_instance_leads() {
        let plan = plan(
            &cluster(&format!("[{}]", set("one", 1))),
            &[
                observed("hippo-one-bbbb", "one", false),
                observed("hippo-one-cccc", "one", false),
            ],
            &mut || unreachable!("no new instance"),
        );
        assert_eq!(names(&plan.removed), ["hippo-one-cccc"]);
        assert!(!plan.delete_removed_volumes);
    }

    #[test]
    fn a_removed_sets_leader_waits_for_a_switchover() {
        let mut suffixes = std::iter::repeat_with(|| "dddd".to_string());
        let plan = plan(
            &cluster(&format!("[{}]", set("two", 1))),
            &[
                observed("hippo-one-bbbb", "one", true),
                observed("hippo-one-cccc", "one", false),
            ],
            &mut || suffixes.next().expect("suffix"),
        );
        assert_eq!(names(&plan.instances), ["hippo-two-dddd"]);
        assert_eq!(names(&plan.removed), ["hippo-one-cccc"]);
        assert_eq!(names(&plan.waiting_for_switchover), ["hippo-one-bbbb"]);
        assert!(!plan.delete_removed_volumes);
    }

    #[test]
    fn suffixes_are_from_the_safe_alphabet() {
        assert!(names::is_instance_suffix(&random_suffix()));
        let mut repeatable = repeatable_suffixes();
        let first = repeatable();
        assert!(names::is_instance_suffix(&first));
        assert_ne!(first, repeatable());
        assert_eq!(first, repeatable_suffixes()());
    }
}
