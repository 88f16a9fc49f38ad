//! Which changes of an instance pod are worth a reconcile. Patroni rewrites its pods' `status` annotation every
//! loop (its WAL position moves), about every 10 s per cluster; reacting to each would be a reconcile storm.
//! Only what the operator acts on counts: the role Patroni gives the pod, its readiness, PostgreSQL's state,
//! whether it needs a restart, and its deletion.

use crate::naming::labels;
use crate::patroni::member;
use crate::pods::is_ready;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use std::collections::HashMap;
use std::sync::Mutex;

/// What of a pod the operator acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Significant {
    role: Option<String>,
    ready: bool,
    patroni: member::Status,
    deleting: bool,
}

/// The significant state of `pod`.
pub fn significant(pod: &Pod) -> Significant {
    Significant {
        role: pod.labels().get(labels::ROLE).cloned(),
        ready: is_ready(pod),
        patroni: member::Status {
            wal_position: None,
            ..member::status(pod)
        },
        deleting: pod.metadata.deletion_timestamp.is_some(),
    }
}

/// Remembers the significant state of each pod it has seen, and says whether a change is news.
#[derive(Debug, Default)]
pub struct PodChanges {
    seen: Mutex<HashMap<String, Significant>>,
}

impl PodChanges {
    /// Whether `pod` differs, in what matters, from when it was last seen (a pod not seen before is news).
    pub fn is_news(&self, pod: &Pod) -> bool {
        let key = pod.uid().unwrap_or_else(|| pod.name_any());
        let now = significant(pod);
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if now.deleting {
            return seen.remove(&key).is_none_or(|before| !before.deleting);
        }
        seen.insert(key, now.clone()).as_ref() != Some(&now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(role: &str, status: &str) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {
                "name": "hippo-instance1-bbbb-0",
                "uid": "1",
                "labels": {labels::ROLE: role},
                "annotations": {"status": status},
            },
        }))
        .expect("a pod")
    }

    #[test]
    fn patroni_heartbeats_are_not_news_but_role_and_restart_changes_are() {
        let changes = PodChanges::default();
        assert!(changes.is_news(&pod("replica", r#"{"state":"running","xlog_location":1}"#)));
        assert!(!changes.is_news(&pod("replica", r#"{"state":"running","xlog_location":2}"#)));
        assert!(changes.is_news(&pod("master", r#"{"state":"running","xlog_location":3}"#)));
        assert!(changes.is_news(&pod(
            "master",
            r#"{"state":"running","xlog_location":4,"pending_restart":true}"#
        )));
        assert!(!changes.is_news(&pod(
            "master",
            r#"{"state":"running","xlog_location":5,"pending_restart":true}"#
        )));
    }
}
