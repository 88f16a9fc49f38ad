//! The operator's TLS client identity towards a cluster's pods (PostgreSQL and Patroni's REST API): it trusts
//! only the namespace's root CA and presents a certificate it issues itself from that root for each
//! connection, so no credential of the operator's is stored anywhere.

use crate::pki::leaf::{self, Subject};
use crate::pki::pem;
use crate::pki::root::Root;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;
use std::time::SystemTime;

/// A rustls client configuration that verifies servers against `root` and authenticates as `common_name`.
pub fn config(root: &Root, common_name: &str) -> Result<Arc<rustls::ClientConfig>, String> {
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
    let ca = pem::certificate_der(&root.pair.certificate)
        .ok_or("the root certificate does not parse")?;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca))
        .map_err(|e| e.to_string())?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_client_auth_cert(
        vec![CertificateDer::from(certificate)],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
    )
    .map_err(|e| e.to_string())?;
    Ok(Arc::new(config))
}
