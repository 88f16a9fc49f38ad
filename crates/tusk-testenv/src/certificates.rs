//! The certificates of a test control plane: a CA, the API server's serving certificate, an administrator's
//! client certificate, and the key pair that signs service-account tokens.

use anyhow::Result;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
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
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.distinguished_name
            .push(DnType::CommonName, "tusk-testenv-ca");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca.self_signed(&ca_key)?.pem();
        let issuer = Issuer::new(ca, ca_key);

        let mut serving = CertificateParams::new(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "kubernetes.default.svc".to_string(),
        ])?;
        serving
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let serving_key = KeyPair::generate()?;
        let serving_cert = serving.signed_by(&serving_key, &issuer)?.pem();

        let mut admin = CertificateParams::new(Vec::<String>::new())?;
        admin
            .distinguished_name
            .push(DnType::CommonName, "tusk-admin");
        admin
            .distinguished_name
            .push(DnType::OrganizationName, "system:masters");
        admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let admin_key = KeyPair::generate()?;
        let admin_cert = admin.signed_by(&admin_key, &issuer)?.pem();

        Ok(Certificates {
            ca_cert,
            serving: (serving_cert, serving_key.serialize_pem()),
            admin: (admin_cert, admin_key.serialize_pem()),
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
