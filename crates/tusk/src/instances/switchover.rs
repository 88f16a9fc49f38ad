//! A change of primary on request (`spec.patroni.switchover` and the `trigger-switchover` annotation, the API
//! of later PGO releases): whether one is asked for, and what to do about it. Pure; the controller calls
//! Patroni's REST API and records the annotation's value in `status.patroni.switchover` once done.

use crate::naming::{annotations, names};
use tusk_api::PostgresCluster;
use tusk_api::patroni::SwitchoverType;

/// A switchover or failover the user asked for and the operator has not carried out yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The annotation's value, recorded once done.
    pub id: String,
    /// The instance to promote, if named.
    pub target: Option<String>,
    /// Whether to promote even without a healthy primary.
    pub failover: bool,
}

/// The request `cluster` carries: `spec.patroni.switchover.enabled`, and a `trigger-switchover` value other
/// than the one `status.patroni.switchover` records.
pub fn requested(cluster: &PostgresCluster) -> Option<Request> {
    let switchover = cluster.spec.patroni.as_ref()?.switchover.as_ref()?;
    let id = cluster
        .metadata
        .annotations
        .as_ref()?
        .get(annotations::TRIGGER_SWITCHOVER)?;
    let done = cluster
        .status
        .as_ref()
        .and_then(|s| s.patroni.as_ref())
        .and_then(|p| p.switchover.as_ref());
    (switchover.enabled && !id.is_empty() && done != Some(id)).then(|| Request {
        id: id.clone(),
        target: switchover.target_instance.clone().filter(|t| !t.is_empty()),
        failover: switchover.type_ == SwitchoverType::Failover,
    })
}

/// What to do about a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing is left to do (the target already leads): record the request as done.
    Record,
    /// Ask Patroni (through `through`, a member's pod) to hand the primary role over.
    Call {
        /// The pod whose REST API is asked.
        through: String,
        /// The current leader's pod, for a switchover.
        leader: Option<String>,
        /// The pod to promote.
        candidate: Option<String>,
        /// A failover rather than a switchover.
        failover: bool,
    },
    /// The request cannot be carried out as written; the reason says what to change.
    Refuse(String),
    /// Not now: the reason says what it waits for.
    Wait(String),
}

/// What to do about `request`, given the cluster's `instances` (names) and the instance that leads now.
pub fn next(request: &Request, instances: &[String], leader: Option<&str>) -> Action {
    if let Some(target) = &request.target
        && !instances.contains(target)
    {
        return Action::Refuse(format!(
            "targetInstance {target:?} is not an instance of the cluster; its instances are {}",
            instances.join(", ")
        ));
    }
    if request.failover && request.target.is_none() {
        return Action::Refuse("a failover needs targetInstance: the instance to promote".into());
    }
    if request.target.is_some() && request.target.as_deref() == leader {
        return Action::Record;
    }
    let candidate = request.target.as_deref().map(names::instance_pod);
    match (leader, request.failover) {
        (Some(leader), false) => Action::Call {
            through: names::instance_pod(leader),
            leader: Some(names::instance_pod(leader)),
            candidate,
            failover: false,
        },
        (None, false) => Action::Wait(
            "a switchover needs a primary to hand over; a failover (type: Failover) does not"
                .into(),
        ),
        (_, true) => {
            let candidate = candidate.expect("a failover has a target");
            Action::Call {
                through: candidate.clone(),
                leader: None,
                candidate: Some(candidate),
                failover: true,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hippo(switchover: &str, trigger: Option<&str>, done: Option<&str>) -> PostgresCluster {
        let mut cluster = tusk_api::manifest::parse(&format!(
            "apiVersion: postgres-operator.crunchydata.com/v1beta1
kind: PostgresCluster
metadata: {{name: hippo}}
spec:
  postgresVersion: 16
  patroni: {{switchover: {switchover}}}
  instances: [{{replicas: 2, dataVolumeClaimSpec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}}}]
  backups: {{pgbackrest: {{repos: [{{name: repo1, volume: {{volumeClaimSpec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}}}}}]}}}}
"
        ))
        .expect("valid");
        if let Some(trigger) = trigger {
            cluster.metadata.annotations = Some(
                [(
                    annotations::TRIGGER_SWITCHOVER.to_string(),
                    trigger.to_string(),
                )]
                .into(),
            );
        }
        if let Some(done) = done {
            cluster.status = Some(
                serde_json::from_value(serde_json::json!({"patroni": {"switchover": done}}))
                    .unwrap(),
            );
        }
        cluster
    }

    #[test]
    fn a_new_trigger_value_of_an_enabled_switchover_is_a_request() {
        let enabled = "{enabled: true, targetInstance: hippo-b}";
        assert_eq!(
            requested(&hippo(enabled, Some("t2"), Some("t1"))),
            Some(Request {
                id: "t2".into(),
                target: Some("hippo-b".into()),
                failover: false
            })
        );
        assert_eq!(requested(&hippo(enabled, Some("t1"), Some("t1"))), None);
        assert_eq!(requested(&hippo(enabled, None, None)), None);
        assert_eq!(
            requested(&hippo("{enabled: false}", Some("t2"), None)),
            None
        );
        let failover = requested(&hippo(
            "{enabled: true, type: Failover, targetInstance: hippo-b}",
            Some("t"),
            None,
        ));
        assert!(failover.is_some_and(|r| r.failover));
    }

    #[test]
    fn the_leader_hands_over_to_the_target_or_patronis_choice() {
        let instances = ["hippo-a".to_string(), "hippo-b".to_string()];
        let request = |target: Option<&str>, failover| Request {
            id: "t".into(),
            target: target.map(str::to_string),
            failover,
        };
        assert_eq!(
            next(
                &request(Some("hippo-b"), false),
                &instances,
                Some("hippo-a")
            ),
            Action::Call {
                through: "hippo-a-0".into(),
                leader: Some("hippo-a-0".into()),
                candidate: Some("hippo-b-0".into()),
                failover: false
            }
        );
        assert_eq!(
            next(&request(None, false), &instances, Some("hippo-a")),
            Action::Call {
                through: "hippo-a-0".into(),
                leader: Some("hippo-a-0".into()),
                candidate: None,
                failover: false
            }
        );
        assert_eq!(
            next(
                &request(Some("hippo-a"), false),
                &instances,
                Some("hippo-a")
            ),
            Action::Record
        );
        assert_eq!(
            next(&request(Some("hippo-b"), true), &instances, None),
            Action::Call {
                through: "hippo-b-0".into(),
                leader: None,
                candidate: Some("hippo-b-0".into()),
                failover: true
            }
        );
        assert!(matches!(
            next(&request(None, false), &instances, None),
            Action::Wait(_)
        ));
        assert!(matches!(
            next(&request(None, true), &instances, Some("hippo-a")),
            Action::Refuse(_)
        ));
        let Action::Refuse(why) = next(&request(Some("rhino"), false), &instances, Some("hippo-a"))
        else {
            panic!("an unknown target is refused");
        };
        assert!(why.contains("hippo-a, hippo-b"), "{why}");
    }
}
