//! Which members must reload the user's certificate (docs: Rotating TLS Certificates — "PGO automatically
//! detects and loads changes to the contents of PostgreSQL server and replication Secrets without downtime").
//!
//! The operator compares the certificate each member serves with the one `spec.customTLSSecret` holds now.
//! A member that serves another is asked to reload (Patroni's `POST /reload`, which makes PostgreSQL re-read
//! its TLS files). The kubelet writes a changed Secret into the pods only at its next sync of each pod (up to
//! about a minute), and the operator cannot see the files without `pods/exec`, so it asks again every
//! [`ASK_AGAIN`] until the member serves the new certificate: a reload of unchanged files changes nothing.
//! Replication client certificates need no reload: libpq reads them at each connection.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How soon a member that still serves another certificate is asked to reload again.
pub const ASK_AGAIN: Duration = Duration::from_secs(10);
/// How soon to look again while a member serves another certificate.
pub const LOOK_AGAIN: Duration = Duration::from_secs(5);

/// What a member serves, compared with the Secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    /// The Secret's certificate.
    Current,
    /// Another certificate (the Secret's previous one, or one the kubelet has not replaced yet).
    Other,
    /// Nothing could be read (the member is not running or does not answer).
    Unknown,
}

/// Compares the DER `served` by a member (`None`: nothing read) with the Secret's `expected` DER.
pub fn served(expected: &[u8], served: Option<&[u8]>) -> Served {
    match served {
        None => Served::Unknown,
        Some(der) if der == expected => Served::Current,
        Some(_) => Served::Other,
    }
}

/// What to do now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// The members to ask for a reload now.
    pub reload: Vec<String>,
    /// Of those, the ones asked for the first time for this change (worth an Event).
    pub first: Vec<String>,
    /// Members that were asked and now serve the Secret's certificate (worth an Event).
    pub loaded: Vec<String>,
    /// How soon to look again (`None`: when something changes).
    pub again: Option<Duration>,
    /// When each member still serving another certificate was first and last asked, to remember.
    pub asked: BTreeMap<String, Asked>,
}

/// When a member was asked to reload for the current change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Asked {
    /// The first time.
    pub first: Instant,
    /// The last time.
    pub last: Instant,
}

/// Decides from what each member serves (by pod name) and what was `asked` before.
pub fn decide(members: &[(String, Served)], asked: &BTreeMap<String, Asked>, now: Instant) -> Plan {
    let mut plan = Plan::default();
    for (pod, served) in members {
        let before = asked.get(pod).copied();
        match served {
            Served::Current => {
                if before.is_some() {
                    plan.loaded.push(pod.clone());
                }
            }
            Served::Unknown => {
                if let Some(before) = before {
                    plan.asked.insert(pod.clone(), before);
                }
            }
            Served::Other => {
                plan.again = Some(LOOK_AGAIN);
                let entry = match before {
                    None => {
                        plan.first.push(pod.clone());
                        plan.reload.push(pod.clone());
                        Asked {
                            first: now,
                            last: now,
                        }
                    }
                    Some(before) if now.duration_since(before.last) >= ASK_AGAIN => {
                        plan.reload.push(pod.clone());
                        Asked {
                            last: now,
                            ..before
                        }
                    }
                    Some(before) => before,
                };
                plan.asked.insert(pod.clone(), entry);
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(list: &[(&str, Served)]) -> Vec<(String, Served)> {
        list.iter().map(|(pod, s)| (pod.to_string(), *s)).collect()
    }

    #[test]
    fn served_compares_the_der() {
        assert_eq!(served(b"new", Some(b"new")), Served::Current);
        assert_eq!(served(b"new", Some(b"old")), Served::Other);
        assert_eq!(served(b"new", None), Served::Unknown);
    }

    #[test]
    fn nothing_to_do_when_every_member_serves_the_secret() {
        let plan = decide(
            &members(&[("a", Served::Current), ("b", Served::Current)]),
            &BTreeMap::new(),
            Instant::now(),
        );
        assert_eq!(plan, Plan::default());
    }

    #[test]
    fn a_stale_member_is_asked_at_once_then_again_only_after_the_pause() {
        let start = Instant::now();
        let stale = members(&[("a", Served::Other), ("b", Served::Current)]);
        let first = decide(&stale, &BTreeMap::new(), start);
        assert_eq!(first.reload, ["a"]);
        assert_eq!(first.first, ["a"]);
        assert_eq!(first.again, Some(LOOK_AGAIN));
        assert!(first.loaded.is_empty());

        let soon = decide(&stale, &first.asked, start + LOOK_AGAIN);
        assert!(soon.reload.is_empty(), "asked {LOOK_AGAIN:?} ago: not yet");
        assert_eq!(soon.again, Some(LOOK_AGAIN), "but looked at again");
        assert_eq!(soon.asked, first.asked);

        let later = decide(&stale, &soon.asked, start + ASK_AGAIN);
        assert_eq!(later.reload, ["a"]);
        assert!(later.first.is_empty(), "not the first ask: no second Event");
        assert_eq!(later.asked["a"].first, start);
        assert_eq!(later.asked["a"].last, start + ASK_AGAIN);
    }

    #[test]
    fn a_member_that_loaded_is_reported_once_and_forgotten() {
        let start = Instant::now();
        let first = decide(&members(&[("a", Served::Other)]), &BTreeMap::new(), start);
        let done = decide(
            &members(&[("a", Served::Current)]),
            &first.asked,
            start + ASK_AGAIN,
        );
        assert_eq!(done.loaded, ["a"]);
        assert!(done.asked.is_empty());
        assert_eq!(done.again, None);
        let after = decide(&members(&[("a", Served::Current)]), &done.asked, start);
        assert!(after.loaded.is_empty());
    }

    #[test]
    fn an_unreadable_member_keeps_its_memory_without_being_asked() {
        let start = Instant::now();
        let first = decide(&members(&[("a", Served::Other)]), &BTreeMap::new(), start);
        let down = decide(
            &members(&[("a", Served::Unknown)]),
            &first.asked,
            start + ASK_AGAIN,
        );
        assert!(down.reload.is_empty());
        assert_eq!(down.asked, first.asked);
        assert_eq!(down.again, None);
    }
}
