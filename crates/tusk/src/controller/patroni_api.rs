//! Patroni's REST API, the operator's handle on a running cluster: switchover, failover, restart, reinitialize and the
//! dynamic configuration. HTTPS to the member pod's address, the server verified as `<pod>.<c>-pods.<ns>.svc` (a name
//! of the instance certificate) against the namespace's root CA; Patroni accepts the operator's requests
//! because `verify_client: optional` asks a client certificate from that root for every change.

use crate::naming::names;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// How long one request may take; a switchover waits for the new leader, which Patroni bounds by its loop.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Connecting or TLS failed.
    #[error("connecting to {0}: {1}")]
    Connect(String, String),
    /// The HTTP exchange failed.
    #[error("HTTP: {0}")]
    Http(String),
    /// Patroni answered with an error status.
    #[error("Patroni answered {0}: {1}")]
    Refused(StatusCode, String),
    /// The request took longer than [`TIMEOUT`].
    #[error("no answer within {TIMEOUT:?}")]
    Timeout,
}

/// One member's REST API.
pub struct Member {
    /// The TLS client configuration (the operator's certificate, the root it trusts).
    pub tls: Arc<rustls::ClientConfig>,
    /// The pod's IP address.
    pub address: String,
    /// The name the member's certificate carries.
    pub server_name: String,
    /// The REST API's port.
    pub port: u16,
}

impl Member {
    /// The member `pod` of `cluster` in `namespace`, reached at `address`.
    pub fn new(
        tls: Arc<rustls::ClientConfig>,
        cluster: &str,
        namespace: &str,
        pod: &str,
        address: &str,
        port: u16,
    ) -> Member {
        Member {
            tls,
            address: address.to_string(),
            server_name: format!("{}.{namespace}.svc", names::pod_host(cluster, pod)),
            port,
        }
    }

    /// Asks the leader `leader` to hand over to `candidate` (or to the replica Patroni finds best).
    pub async fn switchover(&self, leader: &str, candidate: Option<&str>) -> Result<String, Error> {
        let mut body = serde_json::json!({ "leader": leader });
        if let Some(candidate) = candidate {
            body["candidate"] = candidate.into();
        }
        self.call(Method::POST, "/switchover", Some(&body)).await
    }

    /// Promotes `candidate` whether or not the leader is healthy.
    pub async fn failover(&self, candidate: &str) -> Result<String, Error> {
        let body = serde_json::json!({ "candidate": candidate });
        self.call(Method::POST, "/failover", Some(&body)).await
    }

    /// Restarts PostgreSQL in this member.
    pub async fn restart(&self) -> Result<String, Error> {
        self.call(Method::POST, "/restart", Some(&serde_json::json!({})))
            .await
    }

    /// Reloads this member's configuration: Patroni re-reads its own (and its REST API certificate, when its
    /// serial changed) and PostgreSQL re-reads its files, the TLS ones included.
    pub async fn reload(&self) -> Result<String, Error> {
        self.call(Method::POST, "/reload", None).await
    }

    /// Rebuilds this member's data with its first working replica-creation method (for a cluster with a
    /// repository, pgBackRest's delta restore over the data it has). `force` cancels what Patroni is busy
    /// with, such as trying to start PostgreSQL again. Patroni refuses on the leader, and when there is none.
    pub async fn reinitialize(&self) -> Result<String, Error> {
        let body = serde_json::json!({ "force": true });
        self.call(Method::POST, "/reinitialize", Some(&body)).await
    }

    /// The cluster's dynamic configuration as Patroni keeps it.
    pub async fn configuration(&self) -> Result<Value, Error> {
        let text = self.call(Method::GET, "/config", None).await?;
        serde_json::from_str(&text).map_err(|e| Error::Http(e.to_string()))
    }

    /// Replaces the cluster's dynamic configuration with `configuration`.
    pub async fn replace_configuration(&self, configuration: &Value) -> Result<String, Error> {
        self.call(Method::PUT, "/config", Some(configuration)).await
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<String, Error> {
        tokio::time::timeout(TIMEOUT, self.exchange(method, path, body))
            .await
            .map_err(|_| Error::Timeout)?
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<String, Error> {
        let connect =
            |e: &dyn std::fmt::Display| Error::Connect(self.server_name.clone(), e.to_string());
        let http = |e: &dyn std::fmt::Display| Error::Http(e.to_string());
        let server_name =
            ServerName::try_from(self.server_name.clone()).map_err(|e| connect(&e))?;
        let tcp = TcpStream::connect((self.address.as_str(), self.port))
            .await
            .map_err(|e| connect(&e))?;
        let stream = tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(server_name, tcp)
            .await
            .map_err(|e| connect(&e))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| http(&e))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "Patroni connection ended");
            }
        });
        let payload = body.map(Value::to_string).unwrap_or_default();
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, &self.server_name)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(payload)))
            .map_err(|e| http(&e))?;
        let response = sender.send_request(request).await.map_err(|e| http(&e))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| http(&e))?
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes).trim().to_string();
        if status.is_success() {
            Ok(text)
        } else {
            Err(Error::Refused(status, text))
        }
    }
}
