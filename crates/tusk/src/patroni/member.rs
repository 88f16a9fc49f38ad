//! What Patroni says of one member: it writes the member's state to its pod's `status` annotation (the
//! Kubernetes DCS), e.g. `{"state":"running","role":"replica","pending_restart":true,...}`.

use k8s_openapi::api::core::v1::Pod;

/// The annotation Patroni keeps the member's state in.
pub const STATUS_ANNOTATION: &str = "status";

/// The member state Patroni reports when PostgreSQL runs.
pub const RUNNING: &str = "running";

/// A member's state as Patroni reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// PostgreSQL's state (`running`, `starting`, `restarting`, `stopped`, ...), when reported.
    pub state: Option<String>,
    /// Whether a changed parameter waits for a restart.
    pub pending_restart: bool,
    /// The member's role (`master`/`primary`, `replica`, `standby_leader`, ...), when reported.
    pub role: Option<String>,
    /// The timeline PostgreSQL is on, when reported.
    pub timeline: Option<u64>,
    /// The WAL position at Patroni's last heartbeat: written on a primary, replayed on a replica.
    pub wal_position: Option<u64>,
}

/// The status Patroni reported on `pod` (empty when there is none or it does not parse).
pub fn status(pod: &Pod) -> Status {
    let Some(value) = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(STATUS_ANNOTATION))
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
    else {
        return Status::default();
    };
    Status {
        state: value
            .get("state")
            .and_then(|s| s.as_str())
            .map(str::to_string),
        pending_restart: value
            .get("pending_restart")
            .and_then(|p| p.as_bool())
            .unwrap_or(false),
        role: value
            .get("role")
            .and_then(|r| r.as_str())
            .map(str::to_string),
        timeline: value.get("timeline").and_then(|t| t.as_u64()),
        wal_position: value.get("xlog_location").and_then(|x| x.as_u64()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_state_role_and_pending_restart() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"annotations": {"status": r#"{"state":"running","role":"replica","pending_restart":true,"xlog_location":5,"timeline":2}"#}},
        }))
        .expect("pod");
        assert_eq!(
            status(&pod),
            Status {
                state: Some("running".into()),
                pending_restart: true,
                role: Some("replica".into()),
                timeline: Some(2),
                wal_position: Some(5),
            }
        );
        assert_eq!(status(&Pod::default()), Status::default());
    }
}
