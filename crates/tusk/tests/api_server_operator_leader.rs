//! Leader election against a real API server, with the shipped timings (15 s lease, renewed every 5 s, a standby
//! looks every 2 s): of two operator replicas exactly one holds the Lease `tusk-operator-leader` and reconciles;
//! a leader that stops releases the lease and the standby takes over within seconds and reconciles; a leader
//! that dies without releasing is replaced only once its lease has expired. Each replica serves `/healthz`,
//! `/readyz` and `/metrics`, which say who leads and count the reconciles.

mod common;

use common::operator::{create, eventually, hippo};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Service;
use kube::api::Api;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tusk::runtime::leader::{self, LEASE_NAME};
use tusk::runtime::operator::{Options, Outcome};
use tusk::runtime::{Role, Telemetry};
use tusk_api::PostgresCluster;

/// The operator's own namespace, where the Lease lives.
const OPERATOR_NAMESPACE: &str = "postgres-operator";
/// Where the clusters are.
const NAMESPACE: &str = "zoo";

/// One in-process operator replica.
struct Replica {
    identity: &'static str,
    telemetry: Arc<Telemetry>,
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Outcome>,
    server: JoinHandle<()>,
}

async fn start(client: &kube::Client, identity: &'static str) -> Replica {
    let telemetry = Telemetry::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(tusk::runtime::http::serve(listener, telemetry.clone()));
    let (stop, stopped) = oneshot::channel::<()>();
    let options = Options {
        target_namespace: Some(NAMESPACE.into()),
        election: Some(leader::Config::new(OPERATOR_NAMESPACE, identity)),
    };
    let task = tokio::spawn(tusk::runtime::operator::run(
        client.clone(),
        options,
        telemetry.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    Replica {
        identity,
        telemetry,
        address,
        stop: Some(stop),
        task,
        server,
    }
}

impl Replica {
    fn reconciles(&self) -> u64 {
        self.telemetry.metrics.reconciles(true) + self.telemetry.metrics.reconciles(false)
    }
}

/// Sends `GET path` and returns the status code and the body.
async fn get(address: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: tusk\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().expect("an HTTP status line");
    let body = response.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

/// The value of the sample `series` (name and labels, as printed) in a `/metrics` body.
fn sample(body: &str, series: &str) -> f64 {
    body.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in:\n{body}"))
        .parse()
        .unwrap()
}

async fn holder(leases: &Api<Lease>) -> Option<String> {
    leases
        .get_opt(LEASE_NAME)
        .await
        .ok()
        .flatten()
        .and_then(|lease| lease.spec?.holder_identity)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_leads_and_another_takes_over_when_it_stops_or_dies() {
    let plane = common::api_server::control_plane_with_crd().await;
    common::api_server::postgresclusters(&plane, OPERATOR_NAMESPACE).await;
    let clusters: Api<PostgresCluster> =
        common::api_server::typed_postgresclusters(&plane, NAMESPACE).await;
    let client = plane.client().await.expect("an admin client");
    let leases: Api<Lease> = Api::namespaced(client.clone(), OPERATOR_NAMESPACE);
    let services: Api<Service> = Api::namespaced(client.clone(), NAMESPACE);

    // Two replicas: exactly one leads, the other stands by; both are alive and ready.
    let a = start(&client, "tusk-a").await;
    let b = start(&client, "tusk-b").await;
    eventually("one replica leads and the other stands by", || async {
        let roles = [a.telemetry.role(), b.telemetry.role()];
        roles.contains(&Role::Leading) && roles.contains(&Role::StandingBy)
    })
    .await;
    let (mut leader, standby) = if a.telemetry.role() == Role::Leading {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!(holder(&leases).await.as_deref(), Some(leader.identity));
    for replica in [&leader, &standby] {
        assert_eq!(get(replica.address, "/healthz").await.0, 200);
    }
    eventually("both replicas are ready", || async {
        get(leader.address, "/readyz").await.0 == 200
            && get(standby.address, "/readyz").await.0 == 200
    })
    .await;

    // Only the leader reconciles.
    create(&clusters, &hippo()).await;
    eventually("hippo-primary exists", || async {
        matches!(services.get_opt("hippo-primary").await, Ok(Some(_)))
    })
    .await;
    // The reconcile that made it is counted when it ends.
    eventually("/metrics counts a successful reconcile", || async {
        let (_, metrics) = get(leader.address, "/metrics").await;
        sample(&metrics, "tusk_reconciles_total{result=\"ok\"}") >= 1.0
    })
    .await;
    let (_, metrics) = get(leader.address, "/metrics").await;
    assert_eq!(sample(&metrics, "tusk_leader"), 1.0, "{metrics}");
    assert!(sample(&metrics, "tusk_reconcile_duration_seconds_count") >= 1.0);
    // A few more seconds: renewals go on, the standby never reconciles.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (_, metrics) = get(standby.address, "/metrics").await;
    assert_eq!(sample(&metrics, "tusk_leader"), 0.0, "{metrics}");
    assert_eq!(
        sample(&metrics, "tusk_reconciles_total{result=\"ok\"}"),
        0.0,
        "the standby reconciled:\n{metrics}"
    );
    assert_eq!(standby.reconciles(), 0);
    assert_eq!(holder(&leases).await.as_deref(), Some(leader.identity));

    // The leader stops (SIGTERM in a pod): it releases the lease, and the standby takes over within seconds.
    let stopped = Instant::now();
    leader.stop.take().unwrap().send(()).unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(30), &mut leader.task)
        .await
        .expect("the leader stops within 30 s")
        .unwrap();
    assert_eq!(outcome, Outcome::Stopped);
    assert_ne!(
        holder(&leases).await.as_deref(),
        Some(leader.identity),
        "a stopped leader no longer holds the lease"
    );
    eventually("the standby leads", || async {
        standby.telemetry.role() == Role::Leading
    })
    .await;
    let took = stopped.elapsed();
    println!("the standby led {took:.2?} after the leader was asked to stop");
    assert!(
        took < Duration::from_secs(10),
        "a released lease is taken within a few retry periods, not after it expires: {took:?}"
    );
    assert_eq!(holder(&leases).await.as_deref(), Some(standby.identity));
    leader.server.abort();

    // The new leader reconciles: a cluster created now gets its Services.
    let rhino = hippo().replace("name: hippo", "name: rhino");
    create(&clusters, &rhino).await;
    eventually("rhino-primary exists", || async {
        matches!(services.get_opt("rhino-primary").await, Ok(Some(_)))
    })
    .await;
    eventually("the new leader counts its reconciles", || async {
        standby.telemetry.metrics.reconciles(true) >= 1
    })
    .await;
    let (_, metrics) = get(standby.address, "/metrics").await;
    assert_eq!(sample(&metrics, "tusk_leader"), 1.0, "{metrics}");

    // A third replica stands by; the leader dies without releasing the lease (a crashed pod): the third takes
    // over only once the lease has expired, 15 s after the last renewal, which was at most 5 s before the crash.
    let c = start(&client, "tusk-c").await;
    eventually("the third replica stands by", || async {
        c.telemetry.role() == Role::StandingBy
    })
    .await;
    let crashed = Instant::now();
    standby.task.abort();
    standby.server.abort();
    let deadline = Duration::from_secs(25);
    while c.telemetry.role() != Role::Leading {
        assert!(
            crashed.elapsed() < deadline,
            "no takeover {deadline:?} after the leader died"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = crashed.elapsed();
    println!("the third replica led {took:.2?} after the leader died");
    assert!(
        took >= Duration::from_secs(9),
        "an unreleased lease was taken before it expired: after {took:?}"
    );
    assert_eq!(holder(&leases).await.as_deref(), Some(c.identity));
    let transitions = leases
        .get(LEASE_NAME)
        .await
        .unwrap()
        .spec
        .unwrap()
        .lease_transitions;
    assert_eq!(
        transitions,
        Some(1),
        "one forced takeover; the released lease was handed on"
    );
    eventually("the third replica reconciles both clusters", || async {
        c.telemetry.metrics.reconciles(true) >= 2
    })
    .await;
    let (status, metrics) = get(c.address, "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(sample(&metrics, "tusk_leader"), 1.0, "{metrics}");
    c.task.abort();
    c.server.abort();
}
