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
}

impl Default for PatroniSpec {
    fn default() -> Self {
        PatroniSpec {
            dynamic_configuration: None,
            leader_lease_duration_seconds: default_leader_lease_duration_seconds(),
            port: default_patroni_port(),
            sync_period_seconds: default_sync_period_seconds(),
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
