//! Rolling updates: which one step brings a cluster's instances closer to their current pod template and
//! configuration, as the docs' "Rolling Updates" describe — replicas first, one at a time, each back and ready
//! before the next; then a controlled switchover; then the former primary. Pure: the caller observes the
//! members and carries the step out.
//!
//! Two kinds of change reach an instance: a new pod template (its StatefulSet is `OnDelete`, so the pod is
//! replaced) and a PostgreSQL parameter that needs a restart (Patroni reports `pending_restart`; the member
//! is restarted through Patroni's REST API, which is quicker than a new pod).

/// One instance as observed: its pod and what Patroni says of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The instance (StatefulSet) name.
    pub instance: String,
    /// Its pod's name (Patroni's member name), when the pod exists.
    pub pod: Option<String>,
    /// Whether the pod runs an older template than its StatefulSet's update revision.
    pub outdated: bool,
    /// Whether the pod is Ready and Patroni reports PostgreSQL running.
    pub ready: bool,
    /// Whether the pod is being deleted.
    pub terminating: bool,
    /// Whether Patroni made this member the leader.
    pub leader: bool,
    /// Whether Patroni reports a parameter change that needs a restart.
    pub pending_restart: bool,
}

/// What to do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Every member is up to date.
    Done,
    /// A member is on its way (starting, stopping, restarting); look again when it settles.
    Wait(String),
    /// Delete this pod, so its StatefulSet makes it again from the current template.
    Replace(String),
    /// Restart PostgreSQL in this pod through Patroni.
    Restart(String),
    /// Move the leadership away from `leader` (to `candidate`, or to Patroni's best replica).
    Switchover {
        /// The current leader's pod.
        leader: String,
        /// The pod to promote, when it must be a particular one.
        candidate: Option<String>,
    },
}

/// The next step for `members` (the cluster's instances, in a stable order). `leaving` are leaders of
/// instances the spec no longer has (a removed instance set): they hand the leadership to a kept member
/// before anything else happens.
pub fn next(members: &[Member], leaving: &[String]) -> Step {
    let ready_replica = |need_current: bool| {
        members
            .iter()
            .filter(|m| m.ready && !m.leader && !m.terminating)
            .filter(|m| !need_current || (!m.outdated && !m.pending_restart))
            .find_map(|m| m.pod.clone())
    };
    if let Some(leader) = leaving.first() {
        return match ready_replica(false) {
            Some(candidate) => Step::Switchover {
                leader: leader.clone(),
                candidate: Some(candidate),
            },
            None => Step::Wait(format!(
                "{leader} leads but its instance set was removed; waiting for a ready replica to take over"
            )),
        };
    }

    // A member that is down and outdated is replaced at once: it serves nothing, and a new template may be
    // what it needs to start (a fixed image, more memory).
    if let Some(broken) = members
        .iter()
        .find(|m| m.outdated && !m.ready && !m.terminating && m.pod.is_some())
    {
        return Step::Replace(broken.pod.clone().unwrap_or_default());
    }
    if let Some(busy) = members
        .iter()
        .find(|m| m.pod.is_none() || m.terminating || !m.ready)
    {
        return Step::Wait(format!("{} is not ready", busy.instance));
    }

    let replicas = members.iter().filter(|m| !m.leader);
    for replica in replicas {
        let pod = replica.pod.clone().unwrap_or_default();
        if replica.outdated {
            return Step::Replace(pod);
        }
        if replica.pending_restart {
            return Step::Restart(pod);
        }
    }
    let Some(leader) = members.iter().find(|m| m.leader) else {
        return if members.iter().any(|m| m.outdated || m.pending_restart) {
            Step::Wait("no member leads yet".into())
        } else {
            Step::Done
        };
    };
    if !leader.outdated && !leader.pending_restart {
        return Step::Done;
    }
    let pod = leader.pod.clone().unwrap_or_default();
    if ready_replica(true).is_some() {
        return Step::Switchover {
            leader: pod,
            candidate: None,
        };
    }
    if leader.outdated {
        Step::Replace(pod)
    } else {
        Step::Restart(pod)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(instance: &str, leader: bool) -> Member {
        Member {
            instance: instance.into(),
            pod: Some(format!("{instance}-0")),
            outdated: false,
            ready: true,
            terminating: false,
            leader,
            pending_restart: false,
        }
    }

    fn outdated(mut m: Member) -> Member {
        m.outdated = true;
        m
    }

    #[test]
    fn nothing_to_do_when_every_member_is_current() {
        let members = [member("a", true), member("b", false)];
        assert_eq!(next(&members, &[]), Step::Done);
    }

    #[test]
    fn replicas_go_first_one_at_a_time_then_a_switchover_then_the_former_primary() {
        let mut members = vec![
            outdated(member("a", true)),
            outdated(member("b", false)),
            outdated(member("c", false)),
        ];
        assert_eq!(next(&members, &[]), Step::Replace("b-0".into()));

        // b comes back from the new template but is not ready yet: nothing else moves.
        members[1].outdated = false;
        members[1].ready = false;
        assert!(matches!(next(&members, &[]), Step::Wait(_)));
        members[1].ready = true;
        assert_eq!(next(&members, &[]), Step::Replace("c-0".into()));

        members[2].outdated = false;
        assert_eq!(
            next(&members, &[]),
            Step::Switchover {
                leader: "a-0".into(),
                candidate: None
            }
        );

        // b was promoted; a is now an outdated replica.
        members[0].leader = false;
        members[1].leader = true;
        assert_eq!(next(&members, &[]), Step::Replace("a-0".into()));
        members[0].outdated = false;
        assert_eq!(next(&members, &[]), Step::Done);
    }

    #[test]
    fn a_lone_primary_is_replaced_in_place() {
        assert_eq!(
            next(&[outdated(member("a", true))], &[]),
            Step::Replace("a-0".into())
        );
    }

    #[test]
    fn no_switchover_to_a_replica_that_is_not_current() {
        let mut members = vec![outdated(member("a", true)), member("b", false)];
        members[1].ready = false;
        // b is down but current: wait for it rather than replace the primary.
        assert!(matches!(next(&members, &[]), Step::Wait(_)));
    }

    #[test]
    fn pending_restarts_restart_replicas_then_switch_over() {
        let mut members = vec![member("a", true), member("b", false)];
        members[0].pending_restart = true;
        members[1].pending_restart = true;
        assert_eq!(next(&members, &[]), Step::Restart("b-0".into()));
        members[1].pending_restart = false;
        assert_eq!(
            next(&members, &[]),
            Step::Switchover {
                leader: "a-0".into(),
                candidate: None
            }
        );
        let mut alone = member("a", true);
        alone.pending_restart = true;
        assert_eq!(next(&[alone], &[]), Step::Restart("a-0".into()));
    }

    #[test]
    fn a_broken_outdated_member_is_replaced_even_while_others_wait() {
        let mut members = vec![outdated(member("a", true)), outdated(member("b", false))];
        members[0].ready = false;
        assert_eq!(next(&members, &[]), Step::Replace("a-0".into()));
    }

    #[test]
    fn a_leader_of_a_removed_set_hands_over_to_a_kept_replica() {
        let members = [member("b", false)];
        assert_eq!(
            next(&members, &["old-0".into()]),
            Step::Switchover {
                leader: "old-0".into(),
                candidate: Some("b-0".into())
            }
        );
        assert!(matches!(next(&[], &["old-0".into()]), Step::Wait(_)));
    }

    #[test]
    fn missing_or_terminating_pods_are_waited_for() {
        let mut members = vec![member("a", true), outdated(member("b", false))];
        members[1].terminating = true;
        assert!(matches!(next(&members, &[]), Step::Wait(_)));
        members[1].terminating = false;
        members[1].pod = None;
        assert!(matches!(next(&members, &[]), Step::Wait(_)));
    }
}
