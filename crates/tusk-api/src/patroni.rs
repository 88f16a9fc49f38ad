//! `spec.patroni`: the high-availability manager of every instance.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Patroni settings.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatroniSpec {
    /// Patroni's dynamic configuration, stored in its DCS and applied to every instance: `postgresql.parameters`,
    /// `postgresql.pg_hba`, `synchronous_mode` and so on. More info:
    /// https://patroni.readthedocs.io/en/latest/dynamic_configuration.html
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
    pub dynamic_configuration: Option<serde_json::Map<String, serde_json::Value>>,
    /// Seconds the leader lock lasts without renewal: how long a dead primary goes unnoticed before a replica
    /// takes over.
    #[serde(default = "default_leader_lease_duration_seconds")]
    #[schemars(range(min = 3))]
    pub leader_lease_duration_seconds: i32,
    /// The port of Patroni's REST API.
    #[serde(default = "default_patroni_port")]
    #[schemars(range(min = 1024))]
    pub port: i32,
    /// Seconds between Patroni's loops: renewing the leader lock, applying the dynamic configuration.
    #[serde(default = "default_sync_period_seconds")]
    #[schemars(range(min = 1))]
    pub sync_period_seconds: i32,
    /// Switchovers and failovers on request (the API of later PGO releases): while `enabled`, a new value of
    /// the cluster's `postgres-operator.crunchydata.com/trigger-switchover` annotation hands the primary role
    /// to `targetInstance`, or to the replica Patroni finds best.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switchover: Option<PatroniSwitchover>,
}

/// A change of primary on request.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatroniSwitchover {
    /// Whether the `trigger-switchover` annotation is acted on.
    pub enabled: bool,
    /// The instance to become primary (its name, as in `status` and the pods' `instance` label); when empty,
    /// Patroni picks the best replica. Required for a failover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_instance: Option<String>,
    /// `Switchover` needs a healthy primary to hand over; `Failover` promotes `targetInstance` even without one.
    #[serde(default, rename = "type")]
    pub type_: SwitchoverType,
}

/// How the primary role changes hands.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum SwitchoverType {
    /// The primary hands over to a replica.
    #[default]
    Switchover,
    /// A replica is promoted whether or not the primary is healthy.
    Failover,
}

impl Default for PatroniSpec {
    fn default() -> Self {
        PatroniSpec {
            dynamic_configuration: None,
            leader_lease_duration_seconds: default_leader_lease_duration_seconds(),
            port: default_patroni_port(),
            sync_period_seconds: default_sync_period_seconds(),
            switchover: None,
        }
    }
}

fn default_leader_lease_duration_seconds() -> i32 {
    30
}

fn default_patroni_port() -> i32 {
    8008
}

fn default_sync_period_seconds() -> i32 {
    10
}
