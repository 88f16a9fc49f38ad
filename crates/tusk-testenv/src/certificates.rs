//! The certificates of a test control plane: a CA, the API server's serving certificate, an administrator's
//! client certificate, and the key pair that signs service-account tokens.

use crate::pki::Authority;
use anyhow::Result;
use rcgen::KeyPair;
use std::path::{Path, PathBuf};

/// Certificates and keys in PEM.
pub struct Certificates {
    ca_cert: String,
    serving: (String, String),
    admin: (String, String),
    service_account: KeyPair,
}

/// Where [`Certificates::write_to`] put each file.
pub struct Files {
    pub ca_cert: PathBuf,
    pub serving_cert: PathBuf,
    pub serving_key: PathBuf,
    pub admin_cert: PathBuf,
    pub admin_key: PathBuf,
    pub service_account_key: PathBuf,
    pub service_account_public_key: PathBuf,
}

impl Certificates {
    /// Makes a new CA and everything it signs.
    pub fn generate() -> Result<Certificates> {
        let ca = Authority::generate("tusk-testenv-ca")?;
        let serving = ca.server(
            "kube-apiserver",
            &["localhost", "127.0.0.1", "kubernetes.default.svc"],
        )?;
        let admin = ca.client("tusk-admin", &["system:masters"])?;
        Ok(Certificates {
            ca_cert: ca.cert_pem().to_string(),
            serving: (serving.cert, serving.key),
            admin: (admin.cert, admin.key),
            service_account: KeyPair::generate()?,
        })
    }

    /// Writes every file into `dir`.
    pub fn write_to(&self, dir: &Path) -> Result<Files> {
        let write = |name: &str, contents: &str| -> Result<PathBuf> {
            let path = dir.join(name);
            std::fs::write(&path, contents)?;
            Ok(path)
        };
        Ok(Files {
            ca_cert: write("ca.crt", &self.ca_cert)?,
            serving_cert: write("apiserver.crt", &self.serving.0)?,
            serving_key: write("apiserver.key", &self.serving.1)?,
            admin_cert: write("admin.crt", &self.admin.0)?,
            admin_key: write("admin.key", &self.admin.1)?,
            service_account_key: write(
                "service-account.key",
                &self.service_account.serialize_pem(),
            )?,
            service_account_public_key: write(
                "service-account.pub",
                &self.service_account.public_key_pem(),
            )?,
        })
    }
}
