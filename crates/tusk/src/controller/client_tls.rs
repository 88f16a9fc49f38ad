//! The operator's TLS client identity towards a cluster's pods (PostgreSQL and Patroni's REST API): it
//! presents a certificate it issues itself from the namespace's root CA for each connection, so no credential
//! of the operator's is stored anywhere. It verifies servers against that root, except PostgreSQL under custom
//! TLS, which it verifies against the user's CA ([`postgres_config`]); PostgreSQL still accepts the operator's
//! certificate there because its `ssl_ca_file` bundles both CAs (`pki::custom::client_ca_bundle`).

use crate::pki::leaf::{self, Subject};
use crate::pki::pem;
use crate::pki::root::Root;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;
use std::time::SystemTime;

/// A rustls client configuration that verifies servers against `root` and authenticates as `common_name`.
pub fn config(root: &Root, common_name: &str) -> Result<Arc<rustls::ClientConfig>, String> {
    let ca = pem::certificate_der(&root.pair.certificate)
        .ok_or("the root certificate does not parse")?;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca))
        .map_err(|e| e.to_string())?;
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| e.to_string())?;
    with_client_certificate(root, common_name, verifier)
}

/// The user's CA and the names its server certificate may carry, for PostgreSQL under custom TLS.
pub struct CustomServer<'a> {
    /// Every certificate of the user's `ca.crt` (PEM).
    pub ca: &'a [u8],
    /// The names of which the server certificate must carry one (most specific first). The docs ask for a
    /// common name matching the primary Service, so the Service's short and qualified names all qualify.
    pub names: Vec<String>,
}

/// A rustls client configuration for PostgreSQL: as [`config`] without `custom`, else verifying the server
/// against the user's CA under any of `custom.names`, still authenticating with a root-issued certificate.
pub fn postgres_config(
    root: &Root,
    common_name: &str,
    custom: Option<&CustomServer<'_>>,
) -> Result<Arc<rustls::ClientConfig>, String> {
    let Some(custom) = custom else {
        return config(root, common_name);
    };
    let mut roots = rustls::RootCertStore::empty();
    for block in x509_parser::pem::Pem::iter_from_buffer(custom.ca).map_while(Result::ok) {
        if block.label == "CERTIFICATE" {
            roots
                .add(CertificateDer::from(block.contents))
                .map_err(|e| e.to_string())?;
        }
    }
    if roots.is_empty() {
        return Err("the custom ca.crt holds no certificate".into());
    }
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| e.to_string())?;
    let names = custom
        .names
        .iter()
        .map(|name| ServerName::try_from(name.clone()).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    with_client_certificate(root, common_name, Arc::new(AnyName { inner, names }))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The configuration with `verifier`, presenting a certificate for `common_name` issued now from `root`.
fn with_client_certificate(
    root: &Root,
    common_name: &str,
    verifier: Arc<dyn ServerCertVerifier>,
) -> Result<Arc<rustls::ClientConfig>, String> {
    let client = leaf::issue(
        "operator client",
        &Subject {
            common_name: common_name.into(),
            dns_names: Vec::new(),
        },
        root,
        SystemTime::now(),
    )
    .map_err(|e| e.to_string())?;
    let certificate = pem::certificate_der(&client.pair.certificate)
        .ok_or("the client certificate does not parse")?;
    let key = rcgen::KeyPair::from_pem(&String::from_utf8_lossy(&client.pair.private_key))
        .map_err(|e| e.to_string())?
        .serialize_der();
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(
            vec![CertificateDer::from(certificate)],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
        )
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(config))
}

/// The WebPKI verifier, satisfied when the certificate is valid for any one of `names` (whatever name the
/// connection was opened with).
#[derive(Debug)]
struct AnyName {
    inner: Arc<WebPkiServerVerifier>,
    names: Vec<ServerName<'static>>,
}

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut last = rustls::Error::General("no name to verify".into());
        for name in &self.names {
            match self
                .inner
                .verify_server_cert(end_entity, intermediates, name, ocsp_response, now)
            {
                Ok(verified) => return Ok(verified),
                Err(error) => last = error,
            }
        }
        Err(last)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
