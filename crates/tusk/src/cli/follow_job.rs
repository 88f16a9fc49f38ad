//! Following a Job the operator runs for a request (a manual backup, an in-place restore) through its record in
//! `status.pgbackrest`: the commands that ask for one print each new state until the Job finished.

use std::time::{Duration, Instant};
use tusk_api::PostgresCluster;
use tusk_api::status::{PgBackRestJobStatus, PgBackRestStatus};

/// How a followed Job ended.
pub enum Ended {
    /// The Job succeeded.
    Succeeded,
    /// The Job finished without success.
    Failed,
    /// It still ran when the wait was over.
    StillRunning,
}

/// What to follow: the record of request `id`, as `pick` finds it in `status.pgbackrest`, for at most `wait`.
pub struct Followed<'a> {
    /// The cluster's name.
    pub cluster: &'a str,
    /// The request's id (the annotation's value), which the record repeats.
    pub id: &'a str,
    /// The record among `status.pgbackrest`'s.
    pub pick: fn(PgBackRestStatus) -> Option<PgBackRestJobStatus>,
    /// What is printed while the operator has not started the Job.
    pub waiting: &'a str,
    /// What is printed while the Job runs.
    pub running: fn(&PgBackRestJobStatus) -> String,
    /// How long to follow.
    pub wait: Duration,
}

/// Follows `followed` in `clusters`, printing each new state, until its Job finished or the wait is over.
pub async fn follow(
    clusters: &kube::Api<PostgresCluster>,
    followed: &Followed<'_>,
) -> Result<Ended, String> {
    let started = Instant::now();
    let mut last = String::new();
    while started.elapsed() < followed.wait {
        let record = clusters
            .get(followed.cluster)
            .await
            .map_err(|e| format!("cannot read the cluster: {e}"))?
            .status
            .and_then(|s| s.pgbackrest)
            .and_then(followed.pick)
            .filter(|r| r.id == followed.id);
        let state = match &record {
            None => followed.waiting.to_string(),
            Some(r) if r.finished && r.progress.succeeded.unwrap_or(0) > 0 => {
                return Ok(Ended::Succeeded);
            }
            Some(r) if r.finished => return Ok(Ended::Failed),
            Some(r) => (followed.running)(r),
        };
        if state != last {
            println!("  {state}");
            last = state;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    Ok(Ended::StillRunning)
}
