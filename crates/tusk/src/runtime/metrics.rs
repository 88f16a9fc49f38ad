//! The operator's Prometheus metrics, served at `/metrics`: how many reconciles ended well or badly, how long
//! they took, and whether this replica leads.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;

/// The media type of [`Metrics::encode`]'s output (OpenMetrics text, which Prometheus scrapes natively).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// How a reconcile ended: the `result` label of `tusk_reconciles_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

/// The metrics of one operator process. Cheap to share behind an `Arc`; every method takes `&self`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ResultLabel, Counter>,
    duration: Histogram,
    leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Registers `tusk_reconciles_total{result="ok|error"}`, `tusk_reconcile_duration_seconds` and
    /// `tusk_leader`. Both results start at 0, so that a dashboard sees the series before the first error.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let reconciles = Family::<ResultLabel, Counter>::default();
        for result in ["ok", "error"] {
            let _ = reconciles.get_or_create(&ResultLabel { result });
        }
        // 5 ms … ~41 s: a reconcile is a few dozen API requests; longer means the API server struggles.
        let duration = Histogram::new(exponential_buckets(0.005, 2.0, 14));
        let leader = Gauge::default();
        registry.register(
            "tusk_reconciles",
            "Reconciles of PostgresClusters, by how they ended",
            reconciles.clone(),
        );
        registry.register(
            "tusk_reconcile_duration_seconds",
            "How long one reconcile of a PostgresCluster took",
            duration.clone(),
        );
        registry.register(
            "tusk_leader",
            "1 while this replica holds the leader lease and runs the controller, else 0",
            leader.clone(),
        );
        Metrics {
            registry,
            reconciles,
            duration,
            leader,
        }
    }

    /// Counts one reconcile that took `took` and succeeded or not.
    pub fn reconciled(&self, took: Duration, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.reconciles.get_or_create(&ResultLabel { result }).inc();
        self.duration.observe(took.as_secs_f64());
    }

    /// How many reconciles ended with `ok` (true) or an error (false).
    pub fn reconciles(&self, ok: bool) -> u64 {
        let result = if ok { "ok" } else { "error" };
        self.reconciles.get_or_create(&ResultLabel { result }).get()
    }

    /// Says whether this replica leads.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Whether this replica leads, as `tusk_leader` says.
    pub fn is_leader(&self) -> bool {
        self.leader.get() == 1
    }

    /// Every metric in the OpenMetrics text format ([`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_registry_shows_both_results_at_zero_and_no_leader() {
        let text = Metrics::new().encode();
        assert!(
            text.contains("tusk_reconciles_total{result=\"ok\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("tusk_reconciles_total{result=\"error\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("tusk_reconcile_duration_seconds_count 0\n"),
            "{text}"
        );
        assert!(text.contains("tusk_leader 0\n"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn reconciles_are_counted_by_result_and_timed() {
        let metrics = Metrics::new();
        metrics.reconciled(Duration::from_millis(30), true);
        metrics.reconciled(Duration::from_millis(30), true);
        metrics.reconciled(Duration::from_secs(2), false);
        metrics.set_leader(true);
        assert_eq!(
            (metrics.reconciles(true), metrics.reconciles(false)),
            (2, 1)
        );
        let text = metrics.encode();
        assert!(
            text.contains("tusk_reconciles_total{result=\"ok\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("tusk_reconciles_total{result=\"error\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("tusk_reconcile_duration_seconds_count 3\n"),
            "{text}"
        );
        // 30 ms falls in the 0.04 bucket (cumulative: the two fast ones), 2 s only from 2.56 on.
        assert!(
            text.contains("tusk_reconcile_duration_seconds_bucket{le=\"0.04\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("tusk_reconcile_duration_seconds_bucket{le=\"2.56\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("tusk_leader 1\n"), "{text}");
        assert!(metrics.is_leader());
    }
}
