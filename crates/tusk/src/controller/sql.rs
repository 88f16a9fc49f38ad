//! The operator's SQL connection to a cluster's primary: TLS to the primary pod's address, the server
//! verified against the namespace's root CA under the name `<c>-primary.<ns>.svc` (a name of the cluster
//! certificate) — under custom TLS against the user's CA, under any name of the primary Service — the
//! operator authenticated as [`postgres::OPERATOR_USER`] by a client certificate it issues itself from that
//! root for each connection. No `pods/exec`.

use super::client_tls;
use crate::build;
use crate::naming::names;
use crate::pgbouncer;
use crate::pki::root::Root;
use crate::postgres::{self, users};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use rustls::pki_types::ServerName;
use std::collections::BTreeSet;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_postgres::tls::{ChannelBinding, TlsConnect};
use tusk_api::PostgresCluster;
use tusk_api::status::WalArchivingStatus;

/// How long one round of SQL may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(15);

/// Why the SQL round did not happen or failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No pod carries the leader's role label yet, or it has no address.
    #[error("no primary pod with an address yet")]
    NoPrimary,
    /// The root CA cannot sign (it is being replaced).
    #[error("the root CA cannot sign a client certificate")]
    NoRoot,
    /// TLS setup failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// Connecting or a statement failed.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The TCP connection failed.
    #[error("connecting: {0}")]
    Io(#[from] io::Error),
    /// The round took longer than [`TIMEOUT`].
    #[error("timed out after {TIMEOUT:?}")]
    Timeout,
}

/// Where the cluster's primary is and how to reach it as the operator.
pub struct Primary {
    address: String,
    port: i32,
    server_name: String,
    root: Root,
    /// Under custom TLS, the user's CA (PEM) and the names the server's certificate may carry.
    custom: Option<(Vec<u8>, Vec<String>)>,
}

/// How to reach the cluster's primary, the pod `leader` (Patroni's Ready leader, from the observation), with
/// the namespace's root CA and, under custom TLS, the user's checked certificates from the built `objects`.
pub fn primary(
    cluster: &PostgresCluster,
    objects: &build::Objects,
    leader: Option<&Pod>,
) -> Result<Primary, Error> {
    let leader = leader.ok_or(Error::NoPrimary)?;
    let (root_secret, _) = objects.root_ca.as_ref().ok_or(Error::NoRoot)?;
    let custom = objects.custom_tls.as_ref();
    let name = cluster.name_any();
    let namespace = cluster.namespace().unwrap_or_default();
    let address = leader
        .status
        .as_ref()
        .and_then(|status| status.pod_ip.clone())
        .filter(|ip| !ip.is_empty())
        .ok_or(Error::NoPrimary)?;
    let root = Root::from_secret(Some(root_secret), SystemTime::now()).ok_or(Error::NoRoot)?;
    let service = names::primary_service(&name);
    let [qualified, short_qualified, with_namespace, bare] =
        names::dns_names(&service, &namespace, names::DEFAULT_CLUSTER_DOMAIN);
    Ok(Primary {
        address,
        port: cluster.spec.port,
        server_name: short_qualified.clone(),
        root,
        custom: custom.map(|custom| {
            let names = vec![short_qualified, qualified, with_namespace, bare];
            (custom.ca.clone(), names)
        }),
    })
}

/// WAL archiving as the primary reports it (`pg_stat_archiver`).
pub async fn wal_archiving(primary: &Primary) -> Result<WalArchivingStatus, Error> {
    let round = async {
        let db = primary.connect("postgres").await?;
        let row = db
            .query_one(
                "SELECT last_archived_wal, \
                 to_char(last_archived_time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
                 failed_count, last_failed_wal, \
                 to_char(last_failed_time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') \
                 FROM pg_catalog.pg_stat_archiver",
                &[],
            )
            .await?;
        let time = |index: usize| {
            row.get::<_, Option<String>>(index)
                .and_then(|text| text.parse::<Timestamp>().ok())
                .map(Time)
        };
        Ok::<_, Error>(WalArchivingStatus {
            last_archived_wal: row.get(0),
            last_archived_time: time(1),
            failed_count: Some(row.get(2)),
            last_failed_wal: row.get(3),
            last_failed_time: time(4),
        })
    };
    within_timeout(round).await
}

/// Makes every user and database of `wanted` exist on the primary (`postgres::users`); on PostgreSQL 15 and
/// later, also grants each user its databases' `public` schema. Returns the users whose options were not
/// applied, with the reason.
pub async fn users(
    primary: &Primary,
    wanted: &[users::User<'_>],
) -> Result<Vec<(String, String)>, Error> {
    let round = async {
        let db = primary.connect("postgres").await?;
        let existing: BTreeSet<String> = db
            .query("SELECT datname FROM pg_catalog.pg_database", &[])
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        let plan = users::statements(wanted, &existing);
        for statement in &plan.statements {
            db.batch_execute(statement).await?;
        }
        let version: i32 = db
            .query_one(
                "SELECT pg_catalog.current_setting('server_version_num')::int",
                &[],
            )
            .await?
            .get(0);
        if version >= 150000 {
            for (database, grants) in users::schema_grants(wanted) {
                let db = primary.connect(&database).await?;
                for statement in grants {
                    db.batch_execute(&statement).await?;
                }
            }
        }
        Ok::<_, Error>(plan.rejected_options)
    };
    within_timeout(round).await
}

/// Runs `statements` (one batch) in the database `postgres` on the primary.
pub async fn execute(primary: &Primary, statements: &str) -> Result<(), Error> {
    let round = async {
        let db = primary.connect("postgres").await?;
        db.batch_execute(statements).await?;
        Ok::<_, Error>(())
    };
    within_timeout(round).await
}

/// Runs `statements` (one batch) in every database that takes connections on the primary, `template1`
/// included.
pub async fn execute_in_every_database(primary: &Primary, statements: &str) -> Result<(), Error> {
    let round = async {
        let db = primary.connect("postgres").await?;
        in_every_database(primary, &db, statements).await
    };
    within_timeout(round).await
}

/// Installs PgBouncer's lookup (`pgbouncer::sql`) on the primary: its role with the password whose SCRAM
/// `verifier` PgBouncer's Secret holds, then the schema and function in every database that takes
/// connections.
pub async fn install_pgbouncer(primary: &Primary, verifier: &str) -> Result<(), Error> {
    let round = async {
        let db = primary.connect("postgres").await?;
        db.batch_execute(&pgbouncer::sql::role(verifier)).await?;
        in_every_database(primary, &db, &pgbouncer::sql::install_in_database()).await
    };
    within_timeout(round).await
}

/// Removes PgBouncer's lookup from every database, then its role.
pub async fn remove_pgbouncer(primary: &Primary) -> Result<(), Error> {
    let round = async {
        let db = primary.connect("postgres").await?;
        in_every_database(primary, &db, &pgbouncer::sql::uninstall_in_database()).await?;
        db.batch_execute(&pgbouncer::sql::drop_role()).await?;
        Ok::<_, Error>(())
    };
    within_timeout(round).await
}

/// `round` (one stage's SQL), given up after [`TIMEOUT`].
async fn within_timeout<T>(round: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
    tokio::time::timeout(TIMEOUT, round)
        .await
        .map_err(|_| Error::Timeout)?
}

/// Runs `statements` (one batch) in every database that takes connections, listed through `postgres` (a
/// connection to the database `postgres`).
async fn in_every_database(
    primary: &Primary,
    postgres: &tokio_postgres::Client,
    statements: &str,
) -> Result<(), Error> {
    for database in connectable_databases(postgres).await? {
        let db = primary.connect(&database).await?;
        db.batch_execute(statements).await?;
    }
    Ok(())
}

/// The databases that take connections (`template1` among them; not `template0`).
async fn connectable_databases(db: &tokio_postgres::Client) -> Result<Vec<String>, Error> {
    Ok(db
        .query(
            "SELECT datname FROM pg_catalog.pg_database WHERE datallowconn ORDER BY datname",
            &[],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect())
}

impl Primary {
    /// A connection to database `dbname` as the operator's role.
    pub async fn connect(&self, dbname: &str) -> Result<tokio_postgres::Client, Error> {
        let custom = self
            .custom
            .as_ref()
            .map(|(ca, names)| client_tls::CustomServer {
                ca,
                names: names.clone(),
            });
        let config =
            client_tls::postgres_config(&self.root, postgres::OPERATOR_USER, custom.as_ref())
                .map_err(Error::Tls)?;
        connect(&self.address, self.port, &self.server_name, config, dbname).await
    }
}

/// A connection to `address` as the operator's role, in database `dbname`.
async fn connect(
    address: &str,
    port: i32,
    server_name: &str,
    config: Arc<rustls::ClientConfig>,
    dbname: &str,
) -> Result<tokio_postgres::Client, Error> {
    let server_name =
        ServerName::try_from(server_name.to_string()).map_err(|e| Error::Tls(e.to_string()))?;
    let stream = TcpStream::connect((address, u16::try_from(port).unwrap_or(5432))).await?;
    let mut config_pg = tokio_postgres::Config::new();
    config_pg
        .user(postgres::OPERATOR_USER)
        .dbname(dbname)
        .application_name("tusk")
        .ssl_mode(tokio_postgres::config::SslMode::Require);
    let (db, connection) = config_pg
        .connect_raw(
            stream,
            Tls {
                config,
                server_name,
            },
        )
        .await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "SQL connection ended");
        }
    });
    Ok(db)
}

/// rustls for tokio-postgres, with one server name.
struct Tls {
    config: Arc<rustls::ClientConfig>,
    server_name: ServerName<'static>,
}

impl<S> TlsConnect<S> for Tls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Stream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Stream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let connector = tokio_rustls::TlsConnector::from(self.config);
            Ok(Stream(connector.connect(self.server_name, stream).await?))
        })
    }
}

/// A TLS stream tokio-postgres can use (no channel binding: the operator authenticates by certificate).
struct Stream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Stream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Stream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for Stream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}
