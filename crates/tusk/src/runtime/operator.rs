//! The operator process's main loop: stand by until this replica holds the leader lease, then run the
//! controller while renewing the lease; stop on shutdown (releasing the lease) or when the lease is lost.

use super::leader::{Attempt, Config, Elector};
use super::{Role, Telemetry};
use futures::FutureExt;
use kube::Client;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How long a stopping leader lets running reconciles finish before it releases the lease anyway.
const GRACE: Duration = Duration::from_secs(20);

/// How the operator runs.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The only namespace whose PostgresClusters are reconciled (`PGO_TARGET_NAMESPACE`); `None`: all.
    pub target_namespace: Option<String>,
    /// The leader election; `None` runs the controller at once (`--no-leader-election`, for local runs).
    pub election: Option<Config>,
}

/// Why [`run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `shutdown` fired (or the controller ended by itself); the lease, if held, was released.
    Stopped,
    /// This replica lost the lease, or could not renew it in time: another may lead now, so the controller was
    /// stopped at once. The process should exit (non-zero) and be restarted as a standby.
    LostLease,
}

/// Runs the operator until `shutdown` resolves or the lease is lost. `telemetry` is updated as the replica
/// stands by, leads and reconciles; serve it with [`super::http::serve`].
pub async fn run(
    client: Client,
    options: Options,
    telemetry: Arc<Telemetry>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> Outcome {
    let namespace = options.target_namespace.clone();
    let Some(config) = options.election else {
        telemetry.set_role(Role::Leading);
        crate::controller::run_with(client, namespace.as_deref(), telemetry.clone(), shutdown)
            .await;
        telemetry.set_role(Role::Starting);
        return Outcome::Stopped;
    };
    let elector = Elector::new(client.clone(), config);
    let mut shutdown = Box::pin(shutdown.fuse());
    let outcome = lead(&elector, &telemetry, &mut shutdown, |stop| {
        crate::controller::run_with(client, namespace.as_deref(), telemetry.clone(), stop)
    })
    .await;
    telemetry.set_role(Role::Starting);
    telemetry.set_synced(false);
    outcome
}

/// Resolves when the controller should stop gracefully.
type Stop = futures::future::Map<oneshot::Receiver<()>, fn(Result<(), oneshot::error::RecvError>)>;

/// Stands by until `elector` holds the lease, then runs `work` while renewing it. `work` gets a future that
/// resolves when it should stop gracefully (on `shutdown`); when the lease is lost, `work` is dropped instead.
async fn lead<W, F>(
    elector: &Elector,
    telemetry: &Telemetry,
    shutdown: &mut (impl futures::future::FusedFuture<Output = ()> + Unpin),
    work: W,
) -> Outcome
where
    W: FnOnce(Stop) -> F,
    F: Future<Output = ()>,
{
    let config = elector.config().clone();
    let (identity, lease) = (config.identity.as_str(), config.name.as_str());
    let mut last_holder = None;
    loop {
        let attempt = tokio::select! {
            () = &mut *shutdown => return Outcome::Stopped,
            attempt = tokio::time::timeout(config.retry_period * 2, elector.try_acquire_or_renew()) => attempt,
        };
        match attempt {
            Ok(Ok(Attempt::Leading)) => break,
            Ok(Ok(Attempt::StandingBy { holder })) => {
                if holder.is_some() && holder != last_holder {
                    tracing::info!(%lease, %identity, holder = holder.as_deref().unwrap_or(""), "standing by: another replica leads");
                }
                last_holder = holder.or(last_holder);
                telemetry.set_role(Role::StandingBy);
            }
            Ok(Err(error)) => {
                tracing::warn!(%lease, %error, "cannot read or write the leader lease")
            }
            Err(_) => {
                tracing::warn!(%lease, "the API server did not answer about the leader lease in time")
            }
        }
        tokio::select! {
            () = &mut *shutdown => return Outcome::Stopped,
            () = tokio::time::sleep(config.retry_period) => {}
        }
    }

    tracing::info!(%lease, %identity, "acquired the leader lease: running the controller");
    telemetry.set_role(Role::Leading);
    let (stop, stopped) = oneshot::channel::<()>();
    let stopped = stopped.map(drop_result as fn(_));
    let work = work(stopped);
    tokio::pin!(work);
    let mut renewed = Instant::now();
    loop {
        tokio::select! {
            () = &mut work => {
                tracing::info!("the controller stopped");
                break;
            }
            () = &mut *shutdown => {
                tracing::info!("shutting down: letting running reconciles finish");
                let _ = stop.send(());
                if tokio::time::timeout(GRACE, &mut work).await.is_err() {
                    tracing::warn!("reconciles still running after {GRACE:?}; stopping them");
                }
                break;
            }
            () = tokio::time::sleep(config.renew_period) => {
                let left = config.renew_deadline.saturating_sub(renewed.elapsed());
                match tokio::time::timeout(left, elector.try_acquire_or_renew()).await {
                    Ok(Ok(Attempt::Leading)) => renewed = Instant::now(),
                    Ok(Ok(Attempt::StandingBy { holder })) => {
                        tracing::error!(%lease, %identity, holder = holder.as_deref().unwrap_or("unknown"),
                            "lost the leader lease to another replica: stopping the controller");
                        return Outcome::LostLease;
                    }
                    Ok(Err(error)) => tracing::warn!(%lease, %error, "cannot renew the leader lease; retrying"),
                    Err(_) => {}
                }
                if renewed.elapsed() >= config.renew_deadline {
                    tracing::error!(%lease, %identity, deadline = ?config.renew_deadline,
                        "could not renew the leader lease in time: stopping the controller");
                    return Outcome::LostLease;
                }
            }
        }
    }
    match elector.release().await {
        Ok(()) => tracing::info!(%lease, %identity, "released the leader lease"),
        Err(error) => {
            tracing::warn!(%lease, %error, "cannot release the leader lease; it expires by itself")
        }
    }
    Outcome::Stopped
}

fn drop_result(_: Result<(), oneshot::error::RecvError>) {}
