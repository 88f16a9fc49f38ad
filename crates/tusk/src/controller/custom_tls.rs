//! Carries out `pki::reload` for a cluster with `spec.customTLSSecret`: reads the certificate each running
//! member's PostgreSQL serves (a TLS handshake on its port, nothing sent after it), and asks Patroni to reload
//! (`POST /reload`) the members that serve another than the Secret's, until they serve it. Events
//! `CustomTLSReloading` and `CustomTLSReloaded` say when each member was first asked and when it served the
//! new certificate.
//!
//! The referenced Secrets are not Tusk's, so the controller watches every Secret and wakes the clusters that
//! reference one when it changes (`super::controller`); the periodic resync is only the fallback.

use super::observe::Observation;
use super::rollout::patroni_member;
use super::{Context, events};
use crate::build;
use crate::pki::reload::{self, Asked};
use kube::ResourceExt;
use kube::runtime::events::EventType;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tusk_api::PostgresCluster;

/// How long reading one member's certificate may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// PostgreSQL's `SSLRequest`: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// When each cluster's members were asked to reload, by cluster UID and pod.
#[derive(Debug, Default)]
pub struct Memory {
    clusters: Mutex<HashMap<String, BTreeMap<String, Asked>>>,
}

impl Memory {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, BTreeMap<String, Asked>>> {
        self.clusters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Makes every running member serve the certificate `spec.customTLSSecret` holds now; how soon to look again
/// (`None`: when something changes). `tls` is the operator's client identity for Patroni's REST API.
pub async fn reload(
    context: &Context,
    cluster: &PostgresCluster,
    observation: &Observation,
    objects: &build::Objects,
    tls: Arc<rustls::ClientConfig>,
) -> Result<Option<Duration>, kube::Error> {
    let key = cluster.uid().unwrap_or_else(|| cluster.name_any());
    let Some(custom) = objects.custom_tls.as_ref() else {
        context.tls_reloads.lock().remove(&key);
        return Ok(None);
    };
    let port = u16::try_from(cluster.spec.port).unwrap_or(5432);
    let mut members = Vec::new();
    for pod in &observation.pods {
        let running = pod
            .status
            .as_ref()
            .and_then(|status| status.pod_ip.as_deref())
            .filter(|ip| !ip.is_empty());
        let served = match running {
            Some(address) => probe(address, port).await,
            None => None,
        };
        let served = reload::served(&custom.server_certificate, served.as_deref());
        members.push((pod.name_any(), served));
    }
    let before = context.tls_reloads.lock().remove(&key).unwrap_or_default();
    let now = Instant::now();
    let plan = reload::decide(&members, &before, now);
    if !plan.asked.is_empty() {
        context.tls_reloads.lock().insert(key, plan.asked.clone());
    }
    let secret = cluster
        .spec
        .custom_tls_secret
        .as_ref()
        .map(|s| s.name.clone())
        .unwrap_or_default();
    for pod in &plan.reload {
        let outcome = match patroni_member(cluster, observation, pod, tls.clone()) {
            Some(member) => member.reload().await.map_err(|e| e.to_string()),
            None => Err("the pod has no address".into()),
        };
        match outcome {
            Ok(_) => {
                tracing::info!(cluster = %cluster.name_any(), %pod, "asked to reload its certificate")
            }
            Err(error) => {
                tracing::warn!(cluster = %cluster.name_any(), %pod, %error, "cannot ask to reload");
            }
        }
        if plan.first.contains(pod) {
            let note = format!(
                "{pod} serves a certificate other than Secret {secret}'s: asking Patroni to reload"
            );
            let about = ("Pod", "v1", pod.as_str());
            events::publish_about(
                context,
                cluster,
                EventType::Normal,
                "CustomTLSReloading",
                about,
                note,
            )
            .await?;
        }
    }
    for pod in &plan.loaded {
        let since = before
            .get(pod)
            .map(|asked| now.duration_since(asked.first).as_secs())
            .unwrap_or_default();
        let note = format!(
            "{pod} serves the certificate of Secret {secret} ({since} s after the first ask)"
        );
        let about = ("Pod", "v1", pod.as_str());
        events::publish_about(
            context,
            cluster,
            EventType::Normal,
            "CustomTLSReloaded",
            about,
            note,
        )
        .await?;
    }
    Ok(plan.again)
}

/// The DER of the certificate PostgreSQL at `address:port` serves, or `None` when it cannot be read.
async fn probe(address: &str, port: u16) -> Option<Vec<u8>> {
    let read = async {
        let mut tcp = TcpStream::connect((address, port)).await.ok()?;
        tcp.write_all(&SSL_REQUEST).await.ok()?;
        if tcp.read_u8().await.ok()? != b'S' {
            return None;
        }
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .ok()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Capture(provider())))
            .with_no_client_auth();
        // Any name: the certificate is read, not trusted, and nothing is sent over this connection.
        let name = ServerName::try_from("postgres").ok()?;
        let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .ok()?;
        let certificate = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|der| der.to_vec());
        let _ = tls.shutdown().await;
        certificate
    };
    tokio::time::timeout(PROBE_TIMEOUT, read)
        .await
        .ok()
        .flatten()
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Accepts any certificate whose handshake signatures are valid: used only to read what a server serves.
#[derive(Debug)]
struct Capture(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
