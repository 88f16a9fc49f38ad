//! Healing: which replica Patroni cannot bring back by itself and must reinitialize. A former primary whose
//! data directory is damaged, or that pg_rewind could not bring onto the new timeline, stays down (Patroni
//! reports `start failed`, `crashed` or `stopped` and tries again forever). Patroni's `POST /reinitialize`
//! rebuilds such a member with its first replica-creation method: for a cluster with a repository that is
//! pgBackRest restoring with `--delta` over the existing files (`keep_data`), so only what differs is copied.
//!
//! What Patroni 3.0 reports of a former primary whose `global/pg_control` is gone, as observed: `crashed`;
//! then, having failed to start it while holding the leader key, it removes the key (a replica is promoted)
//! and the member alternates between `start failed` and `starting` (Patroni tries again every loop or so)
//! forever. So a member is unhealthy from the first time it is seen failed until it is seen in any state other
//! than failed or starting again; it is reinitialized only while it is failed.
//!
//! Pure: the caller observes the members, remembers since when each was seen unhealthy ([`remember`]), and
//! carries out the [`Decision`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tusk_api::PostgresCluster;

/// How long a member stays in the same unhealthy state before it is reinitialized: Patroni gets its own
/// chance first (it retries starting PostgreSQL and pg_rewind every loop of 10 s).
pub const GRACE: Duration = Duration::from_secs(30);
/// How long after a reinitialization the same member is left alone, should it be unhealthy again (the
/// restore failed): a restore takes time and a failing one should not be restarted every grace period.
pub const BACKOFF: Duration = Duration::from_secs(300);

/// Patroni's member states in which PostgreSQL is down and Patroni will not bring it up by itself.
const UNHEALTHY: [&str; 4] = ["start failed", "crashed", "stopped", "restart failed"];
/// Patroni's member states while it tries to start PostgreSQL again: they do not end an unhealthy spell.
const RETRYING: [&str; 2] = ["starting", "restarting"];
/// Patroni's member state while a replica is being made (also after `POST /reinitialize`).
const CREATING_REPLICA: &str = "creating replica";

/// One instance as observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The pod's name (Patroni's member name).
    pub pod: String,
    /// The pod's UID: a new pod of the same name is another member.
    pub uid: String,
    /// Whether this is the Ready leader.
    pub leader: bool,
    /// Whether Patroni itself runs: the pod is Running and not being deleted, its database container runs.
    /// Otherwise what Patroni last reported is stale.
    pub running: bool,
    /// The state Patroni reports (`running`, `start failed`, ...).
    pub state: Option<String>,
    /// The role Patroni reports (`master`/`primary`, `replica`, ...).
    pub role: Option<String>,
}

impl Member {
    /// The unhealthy state Patroni reports of this member, when it reports one and can be believed.
    fn unhealthy(&self) -> Option<&str> {
        let state = self.state.as_deref()?;
        (self.believed() && UNHEALTHY.contains(&state)).then_some(state)
    }

    /// Whether Patroni reports that it is trying to start this member's PostgreSQL again.
    fn retrying(&self) -> bool {
        self.believed() && self.state.as_deref().is_some_and(|s| RETRYING.contains(&s))
    }

    /// Whether this is a replica whose Patroni runs, so what it reports is current.
    fn believed(&self) -> bool {
        self.running && !self.leader && !self.is_primary()
    }

    /// Whether Patroni says this member runs as a primary (then it is never reinitialized).
    fn is_primary(&self) -> bool {
        matches!(
            self.role.as_deref(),
            Some("master" | "primary" | "standby_leader")
        )
    }
}

/// What is remembered of one member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// The pod's UID.
    pub uid: String,
    /// When the member was first seen unhealthy, if it has not been healthy since.
    pub since: Option<Instant>,
    /// When the operator last asked Patroni to reinitialize it.
    pub reinitialized: Option<Instant>,
}

/// What to do about a cluster's members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Every member is healthy, or being made.
    Nothing,
    /// A member is unhealthy; look again after `left`.
    Wait {
        /// The member's pod.
        pod: String,
        /// Why it waits.
        why: String,
        /// How soon to look again.
        left: Duration,
    },
    /// Ask Patroni to reinitialize this member.
    Reinitialize {
        /// The member's pod.
        pod: String,
        /// The state it was in.
        state: String,
        /// For how long.
        unhealthy_for: Duration,
        /// The leader it will follow.
        leader: String,
    },
}

/// What to remember at `now` of `members`, given what was remembered before: since when each member has been
/// unhealthy (kept while the pod is the same and Patroni reports it failed or starting again), and when it was
/// last reinitialized (kept for the same pod during the back-off).
pub fn remember(
    before: &BTreeMap<String, Seen>,
    members: &[Member],
    now: Instant,
) -> BTreeMap<String, Seen> {
    let mut after = BTreeMap::new();
    for member in members {
        let earlier = before
            .get(&member.pod)
            .filter(|seen| seen.uid == member.uid);
        let earlier_since = earlier.and_then(|seen| seen.since);
        let since = if member.unhealthy().is_some() {
            Some(earlier_since.unwrap_or(now))
        } else if member.retrying() {
            earlier_since
        } else {
            None
        };
        let reinitialized = earlier
            .and_then(|seen| seen.reinitialized)
            .filter(|at| now.duration_since(*at) < BACKOFF);
        if since.is_some() || reinitialized.is_some() {
            let uid = member.uid.clone();
            after.insert(
                member.pod.clone(),
                Seen {
                    uid,
                    since,
                    reinitialized,
                },
            );
        }
    }
    after
}

/// The next thing to do at `now` about `members`, with `seen` as [`remember`] made it. At most one member
/// at a time: nothing while one is being made; only while another member leads and is Ready; the member
/// unhealthy the longest first.
pub fn decide(members: &[Member], seen: &BTreeMap<String, Seen>, now: Instant) -> Decision {
    let Some(leader) = members.iter().find(|m| m.leader && m.running) else {
        return Decision::Nothing;
    };
    if members
        .iter()
        .any(|m| m.running && m.state.as_deref() == Some(CREATING_REPLICA))
    {
        return Decision::Nothing;
    }
    let mut unhealthy: Vec<(&Member, &str, &Seen, Instant)> = members
        .iter()
        .filter_map(|m| {
            let state = m.unhealthy()?;
            let seen = seen.get(&m.pod).filter(|s| s.uid == m.uid)?;
            Some((m, state, seen, seen.since?))
        })
        .collect();
    unhealthy.sort_by_key(|(_, _, _, since)| *since);
    let mut wait: Option<(Duration, String, String)> = None;
    for (member, state, seen, since) in unhealthy {
        let unhealthy_for = now.duration_since(since);
        let backoff_left = seen
            .reinitialized
            .map(|at| BACKOFF.saturating_sub(now.duration_since(at)))
            .filter(|left| !left.is_zero());
        let (left, why) = match backoff_left {
            Some(left) => (
                left,
                format!("{state} again after it was reinitialized; waiting before another try"),
            ),
            None if unhealthy_for < GRACE => (
                GRACE - unhealthy_for,
                format!(
                    "{state} for {} s; Patroni gets its own chance first",
                    unhealthy_for.as_secs()
                ),
            ),
            None => {
                return Decision::Reinitialize {
                    pod: member.pod.clone(),
                    state: state.to_string(),
                    unhealthy_for,
                    leader: leader.pod.clone(),
                };
            }
        };
        if wait
            .as_ref()
            .is_none_or(|(shortest, _, _)| left < *shortest)
        {
            wait = Some((left, member.pod.clone(), why));
        }
    }
    match wait {
        Some((left, pod, why)) => Decision::Wait { pod, why, left },
        None => Decision::Nothing,
    }
}

/// Why members of `cluster` are not looked after at all, if they are not: a cluster that is shut down; one
/// whose data is not initialized yet (a restore or clone in progress, `data_initialized` false); one Patroni
/// was asked to leave alone (`paused`, its maintenance mode); one being restored in place.
pub fn blocked(
    cluster: &PostgresCluster,
    data_initialized: bool,
    paused: bool,
) -> Option<&'static str> {
    if cluster.spec.shutdown == Some(true) {
        Some("the cluster is shut down")
    } else if !data_initialized {
        Some("the cluster's data is not initialized yet")
    } else if crate::pgbackrest::in_place::active(cluster) {
        Some("the cluster is being restored in place")
    } else if paused {
        Some("Patroni is paused")
    } else {
        None
    }
}

/// Whether the operator reinitializes a failed member of `cluster` itself: only with a repository, where
/// pgBackRest restores over the member's files. Without one Patroni would delete the member's data directory
/// and copy it anew from the leader (`pg_basebackup`), losing the only copy of what the member had not
/// replicated: that is left to the user (`patronictl reinit`), who is told so.
pub fn reinitializes(cluster: &PostgresCluster) -> bool {
    !cluster.spec.backups.pgbackrest.repos.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(pod: &str, leader: bool, state: &str) -> Member {
        Member {
            pod: pod.into(),
            uid: format!("uid-{pod}"),
            leader,
            running: true,
            state: Some(state.into()),
            role: Some(if leader { "master" } else { "replica" }.into()),
        }
    }

    fn at(start: Instant, seconds: u64) -> Instant {
        start + Duration::from_secs(seconds)
    }

    /// `remember` then `decide`, at `now`, from `before`; what is remembered and the decision.
    fn step(
        before: &BTreeMap<String, Seen>,
        members: &[Member],
        now: Instant,
    ) -> (BTreeMap<String, Seen>, Decision) {
        let seen = remember(before, members, now);
        let decision = decide(members, &seen, now);
        (seen, decision)
    }

    #[test]
    fn a_failed_replica_is_reinitialized_after_the_grace_period() {
        let t = Instant::now();
        let members = [
            member("a-0", true, "running"),
            member("b-0", false, "start failed"),
        ];
        let (seen, first) = step(&BTreeMap::new(), &members, t);
        assert!(
            matches!(first, Decision::Wait { ref pod, left, .. } if pod == "b-0" && left == GRACE)
        );
        let (seen, later) = step(&seen, &members, at(t, 10));
        assert!(
            matches!(later, Decision::Wait { left, .. } if left == Duration::from_secs(20)),
            "{later:?}"
        );
        let (_, due) = step(&seen, &members, at(t, 30));
        assert_eq!(
            due,
            Decision::Reinitialize {
                pod: "b-0".into(),
                state: "start failed".into(),
                unhealthy_for: GRACE,
                leader: "a-0".into(),
            }
        );
    }

    #[test]
    fn patroni_trying_again_does_not_end_the_spell_but_a_new_pod_does() {
        // As observed: crashed, then start failed and starting in turn.
        let t = Instant::now();
        let leader = member("a-0", true, "running");
        let mut seen = BTreeMap::new();
        for (second, state) in [(0, "crashed"), (10, "start failed"), (15, "starting")] {
            let (next, decision) = step(
                &seen,
                &[leader.clone(), member("b-0", false, state)],
                at(t, second),
            );
            assert!(
                !matches!(decision, Decision::Reinitialize { .. }),
                "{decision:?}"
            );
            seen = next;
        }
        let failed = [leader.clone(), member("b-0", false, "start failed")];
        let (seen, decision) = step(&seen, &failed, at(t, 30));
        assert!(
            matches!(decision, Decision::Reinitialize { ref state, unhealthy_for, .. }
                if state == "start failed" && unhealthy_for == GRACE),
            "{decision:?}"
        );
        let mut replaced = member("b-0", false, "start failed");
        replaced.uid = "another".into();
        let (_, decision) = step(&seen, &[leader, replaced], at(t, 80));
        assert!(
            matches!(decision, Decision::Wait { left, .. } if left == GRACE),
            "{decision:?}"
        );
    }

    #[test]
    fn a_member_that_recovers_is_forgotten() {
        let t = Instant::now();
        let leader = member("a-0", true, "running");
        let (seen, _) = step(
            &BTreeMap::new(),
            &[leader.clone(), member("b-0", false, "stopped")],
            t,
        );
        let (seen, decision) = step(
            &seen,
            &[leader.clone(), member("b-0", false, "running")],
            at(t, 5),
        );
        assert_eq!(decision, Decision::Nothing);
        assert!(seen.is_empty());
        let (_, decision) = step(&seen, &[leader, member("b-0", false, "stopped")], at(t, 40));
        assert!(
            matches!(decision, Decision::Wait { left, .. } if left == GRACE),
            "{decision:?}"
        );
    }

    #[test]
    fn never_the_leader_nor_a_member_that_says_it_is_primary() {
        let t = Instant::now();
        let mut stale = member("b-0", false, "start failed");
        stale.role = Some("primary".into());
        let members = [member("a-0", true, "start failed"), stale];
        let (seen, _) = step(&BTreeMap::new(), &members, t);
        assert_eq!(decide(&members, &seen, at(t, 600)), Decision::Nothing);
    }

    #[test]
    fn nothing_without_a_running_leader() {
        let t = Instant::now();
        let mut leader = member("a-0", true, "running");
        leader.running = false;
        let members = [leader, member("b-0", false, "start failed")];
        let (seen, _) = step(&BTreeMap::new(), &members, t);
        assert_eq!(decide(&members, &seen, at(t, 600)), Decision::Nothing);
    }

    #[test]
    fn what_a_dead_patroni_last_said_is_not_believed() {
        let t = Instant::now();
        let mut dead = member("b-0", false, "start failed");
        dead.running = false;
        let members = [member("a-0", true, "running"), dead];
        let (seen, decision) = step(&BTreeMap::new(), &members, t);
        assert_eq!(decision, Decision::Nothing);
        assert!(seen.is_empty());
    }

    #[test]
    fn one_at_a_time_the_longest_unhealthy_first() {
        let t = Instant::now();
        let leader = member("a-0", true, "running");
        let (seen, _) = step(
            &BTreeMap::new(),
            &[leader.clone(), member("c-0", false, "crashed")],
            t,
        );
        let both = [
            leader.clone(),
            member("b-0", false, "start failed"),
            member("c-0", false, "crashed"),
        ];
        let (seen, decision) = step(&seen, &both, at(t, 20));
        assert!(
            matches!(decision, Decision::Wait { ref pod, .. } if pod == "c-0"),
            "{decision:?}"
        );
        let (_, decision) = step(&seen, &both, at(t, 60));
        assert!(
            matches!(decision, Decision::Reinitialize { ref pod, .. } if pod == "c-0"),
            "{decision:?}"
        );
        let making = [
            leader,
            member("b-0", false, "start failed"),
            member("c-0", false, "creating replica"),
        ];
        let (_, decision) = step(&seen, &making, at(t, 120));
        assert_eq!(decision, Decision::Nothing);
    }

    #[test]
    fn a_reinitialized_member_that_fails_again_waits_for_the_back_off() {
        let t = Instant::now();
        let leader = member("a-0", true, "running");
        let failed = [leader.clone(), member("b-0", false, "start failed")];
        let (mut seen, _) = step(&BTreeMap::new(), &failed, t);
        if let Some(b) = seen.get_mut("b-0") {
            b.reinitialized = Some(at(t, 30));
        }
        assert!(seen.contains_key("b-0"));
        let making = [leader.clone(), member("b-0", false, "creating replica")];
        let (seen, decision) = step(&seen, &making, at(t, 40));
        assert_eq!(decision, Decision::Nothing);
        let (seen, decision) = step(&seen, &failed, at(t, 100));
        assert!(
            matches!(decision, Decision::Wait { left, .. } if left == BACKOFF - Duration::from_secs(70)),
            "{decision:?}"
        );
        let (_, decision) = step(&seen, &failed, at(t, 30 + 300));
        assert!(
            matches!(decision, Decision::Reinitialize { .. }),
            "{decision:?}"
        );
    }

    #[test]
    fn blocked_while_shut_down_restoring_or_paused_and_reinitialized_only_with_a_repository() {
        let with_repo: PostgresCluster = serde_json::from_value(serde_json::json!({
            "apiVersion": "postgres-operator.crunchydata.com/v1beta1",
            "kind": "PostgresCluster",
            "metadata": {"name": "hippo", "namespace": "ns"},
            "spec": {
                "postgresVersion": 16,
                "instances": [{"name": "instance1", "dataVolumeClaimSpec": {}}],
                "backups": {"pgbackrest": {"repos": [{"name": "repo1", "volume": {"volumeClaimSpec": {}}}]}},
            },
        }))
        .expect("a cluster");
        assert_eq!(blocked(&with_repo, true, false), None);
        assert!(blocked(&with_repo, false, false).is_some());
        assert!(blocked(&with_repo, true, true).is_some());
        let mut shut = with_repo.clone();
        shut.spec.shutdown = Some(true);
        assert!(blocked(&shut, true, false).is_some());
        assert!(reinitializes(&with_repo));
        let mut bare = with_repo;
        bare.spec.backups.pgbackrest.repos.clear();
        assert_eq!(blocked(&bare, true, false), None);
        assert!(!reinitializes(&bare));
    }
}
