//! PGO's condition `PostgresDataInitialized`, for a cluster whose data comes from elsewhere than `initdb`: a
//! backup (`restore`) or adopted volumes (`adopt`). Both report each step in it, with an Event when it changes.

use super::{Context, events, status};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::events::EventType;
use tusk_api::PostgresCluster;
use tusk_api::status::{Condition, ConditionStatus};

/// PGO's condition: whether the cluster's data exists (restored or adopted, and bootstrapped by Patroni).
pub const DATA_INITIALIZED: &str = "PostgresDataInitialized";

/// Whether the status says the cluster's data is initialized.
pub fn recorded(cluster: &PostgresCluster) -> bool {
    status::previous(cluster, DATA_INITIALIZED).is_some_and(|c| c.status == ConditionStatus::True)
}

/// The condition, True once `done`, with an Event when it is news: Normal when done or when `reason` is one of
/// the steps `under_way`, a Warning otherwise (a problem).
pub async fn report(
    context: &Context,
    cluster: &PostgresCluster,
    done: bool,
    reason: &str,
    message: String,
    under_way: &[&str],
) -> Result<Condition, kube::Error> {
    let state = if done {
        ConditionStatus::True
    } else {
        ConditionStatus::False
    };
    let condition = status::condition(
        cluster,
        DATA_INITIALIZED,
        state,
        reason,
        message,
        Time(Timestamp::now()),
    );
    if status::is_news(cluster, &condition) {
        let kind = if done || under_way.contains(&reason) {
            EventType::Normal
        } else {
            EventType::Warning
        };
        let note = condition.message.clone();
        tracing::info!(cluster = %cluster.name_any(), %reason, %note, "data initialization");
        events::publish(context, cluster, kind, reason, note).await?;
    }
    Ok(condition)
}
