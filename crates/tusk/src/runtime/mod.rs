//! What runs around the controller in the `tusk operator` process: leader election ([`leader`]), the HTTP
//! endpoints `/healthz`, `/readyz` and `/metrics` ([`http`], [`metrics`]), and [`operator::run`], which ties
//! them to the controller.

pub mod http;
pub mod leader;
pub mod metrics;
pub mod operator;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// What the HTTP endpoints report about one operator process: its metrics and whether it is ready.
///
/// Readiness (`/readyz`): a replica is ready when it **stands by** (another replica holds the lease and this one
/// has talked to the API server to learn so), or when it **leads and the controller's watch of
/// PostgresClusters has listed them all once**. A standby counts as ready so that a rolling update of a
/// two-replica Deployment can go on; nothing routes work to the operator, so readiness only tells that the
/// replica is healthy and in its place. It is not ready while it starts, before the first answer about the lease.
#[derive(Debug, Default)]
pub struct Telemetry {
    /// The Prometheus metrics.
    pub metrics: metrics::Metrics,
    role: AtomicU8,
    synced: AtomicBool,
}

/// Where a replica stands in the leader election.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Has not learnt yet who leads.
    Starting,
    /// Another replica leads; this one waits to take over.
    StandingBy,
    /// This replica leads and runs the controller (also when leader election is off).
    Leading,
}

impl Telemetry {
    /// A new process's telemetry, shared by the controller and the HTTP server.
    pub fn new() -> Arc<Telemetry> {
        Arc::new(Telemetry::default())
    }

    /// Says where this replica stands; `tusk_leader` follows.
    pub fn set_role(&self, role: Role) {
        let value = match role {
            Role::Starting => 0,
            Role::StandingBy => 1,
            Role::Leading => 2,
        };
        self.role.store(value, Ordering::SeqCst);
        self.metrics.set_leader(role == Role::Leading);
    }

    /// Where this replica stands.
    pub fn role(&self) -> Role {
        match self.role.load(Ordering::SeqCst) {
            1 => Role::StandingBy,
            2 => Role::Leading,
            _ => Role::Starting,
        }
    }

    /// Says that the controller's watch of PostgresClusters has listed them all once (or, with `false`, that
    /// the controller stopped).
    pub fn set_synced(&self, synced: bool) {
        self.synced.store(synced, Ordering::SeqCst);
    }

    /// Whether `/readyz` answers 200: see [`Telemetry`].
    pub fn is_ready(&self) -> bool {
        match self.role() {
            Role::Starting => false,
            Role::StandingBy => true,
            Role::Leading => self.synced.load(Ordering::SeqCst),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_when_standing_by_or_leading_with_synced_watches() {
        let telemetry = Telemetry::new();
        assert!(!telemetry.is_ready(), "not ready while starting");
        telemetry.set_role(Role::StandingBy);
        assert!(telemetry.is_ready(), "a standby is ready");
        assert!(!telemetry.metrics.is_leader());
        telemetry.set_role(Role::Leading);
        assert!(telemetry.metrics.is_leader());
        assert!(
            !telemetry.is_ready(),
            "a leader is not ready before its watches sync"
        );
        telemetry.set_synced(true);
        assert!(telemetry.is_ready());
        telemetry.set_role(Role::StandingBy);
        assert!(!telemetry.metrics.is_leader());
    }
}
