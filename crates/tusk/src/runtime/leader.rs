//! Leader election on a `coordination.k8s.io/v1` Lease, so that of several operator replicas exactly one runs
//! the controller.
//!
//! Written here rather than taken from a crate: of the crates that support kube 5, `kube-lease-manager` 0.13
//! lets a standby wake only when it computes, from the holder's `renewTime` and its own clock, that the lease
//! has expired (so a released lease is not taken over sooner, and clock skew counts), and keeps reporting
//! "leader" while renewals fail. This module follows client-go's `leaderelection` instead:
//!
//! - **Expiry by local observation.** A standby takes the lease over only when it has seen the same lease
//!   record, unchanged, for a whole `leaseDurationSeconds` on its own monotonic clock; the holder's timestamps
//!   are only informational, so clocks need not agree.
//! - **Optimistic concurrency.** Every write is a `replace` carrying the `resourceVersion` that was read (or a
//!   `create`), so of two replicas racing for a free lease one gets `409 Conflict` and stands by.
//! - **Renew deadline.** The leader renews every [`Config::renew_period`]; if it has not renewed for
//!   [`Config::renew_deadline`] (shorter than the lease duration), it must stop: the caller exits.
//! - **Release.** A leader that stops clears `holderIdentity`, and a standby, which looks every
//!   [`Config::retry_period`], takes a lease without a holder at once.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The name of the Lease that the operator's replicas contend for.
pub const LEASE_NAME: &str = "tusk-operator-leader";

/// How the election runs. [`Config::new`] gives the defaults: a 15 s lease, renewed every 5 s, lost if not
/// renewed for 10 s; a standby looks every 2 s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The Lease's name, [`LEASE_NAME`] by default.
    pub name: String,
    /// The Lease's namespace: the operator's own.
    pub namespace: String,
    /// Who this replica is (`holderIdentity`): its pod's name. Must differ between replicas.
    pub identity: String,
    /// How long a lease that is not renewed stays taken (`leaseDurationSeconds`).
    pub lease_duration: Duration,
    /// How often the leader renews.
    pub renew_period: Duration,
    /// How long the leader may go without renewing before it must stop leading. Shorter than the duration.
    pub renew_deadline: Duration,
    /// How often a standby looks at the lease.
    pub retry_period: Duration,
}

impl Config {
    /// The defaults for the Lease [`LEASE_NAME`] in `namespace`, held as `identity`.
    pub fn new(namespace: impl Into<String>, identity: impl Into<String>) -> Config {
        Config {
            name: LEASE_NAME.into(),
            namespace: namespace.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_period: Duration::from_secs(5),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// What one look at the lease found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// This replica holds the lease, newly acquired or renewed.
    Leading,
    /// Another replica holds it (`holder`), or won a race for it (`None`: not known until the next look).
    StandingBy {
        /// The holder's identity, when known.
        holder: Option<String>,
    },
}

/// One replica's side of the election: looks at the lease and writes it.
pub struct Elector {
    api: Api<Lease>,
    config: Config,
    /// The lease record last seen and when it was first seen so (the local clock that expiry is judged by).
    observed: Mutex<Option<(Option<LeaseSpec>, Instant)>>,
}

/// What to do with the lease as it stands.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// There is none: create it, held by us.
    Create,
    /// We hold it: renew.
    Renew,
    /// It is free (no holder) or expired: take it.
    Acquire,
    /// Someone else holds it and it has not expired.
    Wait(String),
}

/// Decides what to do about `lease`, as `identity`, having seen its spec unchanged for `unchanged_for`; a lease
/// that says no duration lasts `default_duration`.
fn decide(
    lease: Option<&Lease>,
    identity: &str,
    unchanged_for: Duration,
    default_duration: Duration,
) -> Step {
    let Some(lease) = lease else {
        return Step::Create;
    };
    let spec = lease.spec.as_ref();
    let holder = spec
        .and_then(|spec| spec.holder_identity.as_deref())
        .filter(|holder| !holder.is_empty());
    let Some(holder) = holder else {
        return Step::Acquire;
    };
    if holder == identity {
        return Step::Renew;
    }
    let duration = spec
        .and_then(|spec| spec.lease_duration_seconds)
        .and_then(|seconds| u64::try_from(seconds).ok())
        .map(Duration::from_secs)
        .unwrap_or(default_duration);
    if unchanged_for >= duration {
        Step::Acquire
    } else {
        Step::Wait(holder.to_string())
    }
}

/// The spec of a lease held by `identity`, renewed now; `previous` is what it said before.
fn held_spec(previous: Option<&LeaseSpec>, config: &Config, now: Timestamp) -> LeaseSpec {
    let previous = previous.cloned().unwrap_or_default();
    let ours = previous.holder_identity.as_deref() == Some(config.identity.as_str());
    let transitions = previous.lease_transitions.unwrap_or(0);
    LeaseSpec {
        holder_identity: Some(config.identity.clone()),
        lease_duration_seconds: Some(
            config
                .lease_duration
                .as_secs()
                .try_into()
                .unwrap_or(i32::MAX),
        ),
        acquire_time: if ours {
            previous.acquire_time.clone()
        } else {
            Some(MicroTime(now))
        },
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(if ours || previous.holder_identity.is_none() {
            transitions
        } else {
            transitions + 1
        }),
        ..previous
    }
}

/// Whether `error` is the API server's `409 Conflict` or `AlreadyExists`: another replica wrote first.
fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409)
}

impl Elector {
    /// An elector for the Lease `config` names.
    pub fn new(client: Client, config: Config) -> Elector {
        Elector {
            api: Api::namespaced(client, &config.namespace),
            config,
            observed: Mutex::new(None),
        }
    }

    /// How the election runs.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Looks at the lease once and acquires, renews or leaves it; says who holds it now. An error is a failed
    /// request: the caller tries again later (a leader, until its renew deadline).
    pub async fn try_acquire_or_renew(&self) -> Result<Attempt, kube::Error> {
        let current = self.api.get_opt(&self.config.name).await?;
        let unchanged_for = self.observe(current.as_ref().and_then(|lease| lease.spec.clone()));
        let step = decide(
            current.as_ref(),
            &self.config.identity,
            unchanged_for,
            self.config.lease_duration,
        );
        let now = Timestamp::now();
        let written = match step {
            Step::Wait(holder) => {
                return Ok(Attempt::StandingBy {
                    holder: Some(holder),
                });
            }
            Step::Create => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.config.name.clone()),
                        namespace: Some(self.config.namespace.clone()),
                        labels: Some([("app.kubernetes.io/name".into(), "tusk".into())].into()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(held_spec(None, &self.config, now)),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            Step::Renew | Step::Acquire => {
                let mut lease = current.expect("a lease to renew or acquire was read");
                if step == Step::Acquire {
                    let previous = lease.spec.as_ref().and_then(|s| s.holder_identity.clone());
                    tracing::info!(
                        lease = %self.config.name,
                        previous = previous.as_deref().unwrap_or(""),
                        identity = %self.config.identity,
                        "taking over the leader lease: it is free or expired"
                    );
                }
                lease.spec = Some(held_spec(lease.spec.as_ref(), &self.config, now));
                // `replace` sends the resourceVersion read above: a concurrent write makes it fail with 409.
                self.api
                    .replace(&self.config.name, &PostParams::default(), &lease)
                    .await
            }
        };
        match written {
            Ok(lease) => {
                self.observe(lease.spec);
                Ok(Attempt::Leading)
            }
            Err(error) if is_conflict(&error) => Ok(Attempt::StandingBy { holder: None }),
            Err(error) => Err(error),
        }
    }

    /// Gives the lease up if this replica holds it, so that a standby takes over at its next look instead of
    /// after the lease expires. Does nothing if another replica holds it.
    pub async fn release(&self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
            return Ok(());
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        match self
            .api
            .replace(&lease.name_any(), &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(()),
            // Someone wrote the lease meanwhile, so it is no longer ours to release.
            Err(error) if is_conflict(&error) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Records the lease record seen now; returns how long it has been seen unchanged.
    fn observe(&self, spec: Option<LeaseSpec>) -> Duration {
        let now = Instant::now();
        let mut observed = self
            .observed
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        match observed.as_ref() {
            Some((seen, since)) if *seen == spec => now.duration_since(*since),
            _ => {
                *observed = Some((spec, now));
                Duration::ZERO
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn lease(holder: Option<&str>, duration: Option<i32>) -> Lease {
        Lease {
            metadata: ObjectMeta::default(),
            spec: Some(LeaseSpec {
                holder_identity: holder.map(String::from),
                lease_duration_seconds: duration,
                ..LeaseSpec::default()
            }),
        }
    }

    #[test]
    fn a_missing_lease_is_created() {
        assert_eq!(decide(None, "a", Duration::ZERO, 15 * SECOND), Step::Create);
    }

    #[test]
    fn our_own_lease_is_renewed_whatever_its_age() {
        let ours = lease(Some("a"), Some(15));
        assert_eq!(
            decide(Some(&ours), "a", 100 * SECOND, 15 * SECOND),
            Step::Renew
        );
    }

    #[test]
    fn a_lease_without_holder_is_taken_at_once() {
        for free in [lease(None, Some(1)), lease(Some(""), Some(15))] {
            assert_eq!(
                decide(Some(&free), "b", Duration::ZERO, 15 * SECOND),
                Step::Acquire
            );
        }
        let no_spec = Lease::default();
        assert_eq!(
            decide(Some(&no_spec), "b", Duration::ZERO, 15 * SECOND),
            Step::Acquire
        );
    }

    #[test]
    fn another_holders_lease_is_taken_only_once_seen_unchanged_for_its_duration() {
        let theirs = lease(Some("a"), Some(15));
        assert_eq!(
            decide(Some(&theirs), "b", 14 * SECOND, 60 * SECOND),
            Step::Wait("a".into())
        );
        assert_eq!(
            decide(Some(&theirs), "b", 15 * SECOND, 60 * SECOND),
            Step::Acquire
        );
        // Without a duration in the lease, ours counts.
        let unspecified = lease(Some("a"), None);
        assert_eq!(
            decide(Some(&unspecified), "b", 15 * SECOND, 20 * SECOND),
            Step::Wait("a".into())
        );
        assert_eq!(
            decide(Some(&unspecified), "b", 20 * SECOND, 20 * SECOND),
            Step::Acquire
        );
    }

    #[test]
    fn taking_over_counts_a_transition_and_renewing_keeps_the_acquire_time() {
        let config = Config::new("ns", "b");
        let start = Timestamp::from_second(1_000).unwrap();
        let later = Timestamp::from_second(1_005).unwrap();
        let theirs = LeaseSpec {
            holder_identity: Some("a".into()),
            lease_transitions: Some(3),
            ..LeaseSpec::default()
        };
        let taken = held_spec(Some(&theirs), &config, start);
        assert_eq!(taken.holder_identity.as_deref(), Some("b"));
        assert_eq!(taken.lease_transitions, Some(4));
        assert_eq!(taken.lease_duration_seconds, Some(15));
        assert_eq!(taken.acquire_time, Some(MicroTime(start)));
        let renewed = held_spec(Some(&taken), &config, later);
        assert_eq!(renewed.lease_transitions, Some(4));
        assert_eq!(renewed.acquire_time, Some(MicroTime(start)));
        assert_eq!(renewed.renew_time, Some(MicroTime(later)));
        // A released lease (no holder) taken again is no new transition: nobody lost it by force.
        let released = LeaseSpec {
            holder_identity: None,
            ..renewed
        };
        assert_eq!(
            held_spec(Some(&released), &Config::new("ns", "c"), later).lease_transitions,
            Some(4)
        );
    }

    #[test]
    fn the_defaults_renew_well_within_the_lease() {
        let config = Config::new("postgres-operator", "tusk-0");
        assert_eq!(config.name, "tusk-operator-leader");
        assert!(config.renew_period < config.renew_deadline);
        assert!(config.renew_deadline < config.lease_duration);
        assert!(config.retry_period < config.renew_period);
    }
}
