//! Reading PEM certificates and private keys, and telling whether a key belongs to a certificate.
//!
//! Keys come in the three PEM forms found in Kubernetes Secrets: PKCS #8 (`PRIVATE KEY`, what Tusk writes),
//! SEC 1 (`EC PRIVATE KEY`, what Go's and OpenSSL's EC tools write) and PKCS #1 (`RSA PRIVATE KEY`). A key
//! matches a certificate when the public key it holds is the certificate's; no signature is made to check it.

use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::ber::{BerObject, BerObjectContent};
use x509_parser::der_parser::der::{parse_der, parse_der_bitstring, parse_der_sequence};
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

/// A certificate and its private key, as the PEM bytes a Secret holds. `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct Pair {
    /// The certificate, PEM.
    pub certificate: Vec<u8>,
    /// The private key, PEM.
    pub private_key: Vec<u8>,
}

impl std::fmt::Debug for Pair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pair")
            .field("certificate", &String::from_utf8_lossy(&self.certificate))
            .field("private_key", &"<redacted>")
            .finish()
    }
}

/// The DER of the first `CERTIFICATE` block of `pem`, if it has one that decodes.
pub fn certificate_der(pem: &[u8]) -> Option<Vec<u8>> {
    Pem::iter_from_buffer(pem)
        .map_while(Result::ok)
        .find(|block| block.label == "CERTIFICATE")
        .map(|block| block.contents)
}

/// Parses a certificate's DER; `None` when it is not an X.509 certificate.
pub fn parse(der: &[u8]) -> Option<X509Certificate<'_>> {
    X509Certificate::from_der(der)
        .ok()
        .filter(|(rest, _)| rest.is_empty())
        .map(|(_, certificate)| certificate)
}

/// The public part of a private key.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Public {
    /// The bits of the subject public key, as a certificate holds them (an EC point, an Ed25519 key, or a DER
    /// `RSAPublicKey`).
    Bits(Vec<u8>),
    /// An RSA modulus and public exponent, big-endian without leading zeros.
    Rsa(Vec<u8>, Vec<u8>),
}

/// Whether `key_pem` holds a private key this module can read.
pub fn is_private_key(key_pem: &[u8]) -> bool {
    public_of(key_pem).is_some()
}

/// Whether `key_pem` is the private key of `certificate`; `false` when the key cannot be read.
pub fn key_matches(certificate: &X509Certificate<'_>, key_pem: &[u8]) -> bool {
    let spki = certificate.public_key();
    match public_of(key_pem) {
        Some(Public::Bits(bits)) => *spki.subject_public_key.data == bits[..],
        Some(Public::Rsa(modulus, exponent)) => match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => {
                trim(rsa.modulus) == modulus && trim(rsa.exponent) == exponent
            }
            _ => false,
        },
        None => false,
    }
}

/// The public part of the first private key block of `key_pem`.
fn public_of(key_pem: &[u8]) -> Option<Public> {
    let block = Pem::iter_from_buffer(key_pem)
        .map_while(Result::ok)
        .find(|block| block.label.ends_with("PRIVATE KEY"))?;
    match block.label.as_str() {
        "PRIVATE KEY" => {
            let text = std::str::from_utf8(key_pem).ok()?;
            let pair = rcgen::KeyPair::from_pem(text).ok()?;
            Some(Public::Bits(
                rcgen::PublicKeyData::der_bytes(&pair).to_vec(),
            ))
        }
        "EC PRIVATE KEY" => sec1_public(&block.contents).map(Public::Bits),
        "RSA PRIVATE KEY" => pkcs1_public(&block.contents),
        _ => None,
    }
}

/// The key of `key_pem` for signing: a PKCS #8 key, or a SEC 1 P-256 key (as PGO writes `root.key`), which is
/// wrapped into PKCS #8 in memory only. `None` for other keys.
pub fn signing_key(key_pem: &[u8]) -> Option<rcgen::KeyPair> {
    let block = Pem::iter_from_buffer(key_pem)
        .map_while(Result::ok)
        .find(|block| block.label.ends_with("PRIVATE KEY"))?;
    let pkcs8 = match block.label.as_str() {
        "PRIVATE KEY" => block.contents,
        "EC PRIVATE KEY" => p256_sec1_to_pkcs8(&block.contents),
        _ => return None,
    };
    rcgen::KeyPair::try_from(pkcs8.as_slice()).ok()
}

/// `PrivateKeyInfo ::= SEQUENCE { version 0, AlgorithmIdentifier { id-ecPublicKey, prime256v1 },
/// privateKey OCTET STRING (the SEC 1 structure) }`. The key library checks the rest.
fn p256_sec1_to_pkcs8(sec1: &[u8]) -> Vec<u8> {
    const VERSION: [u8; 3] = [0x02, 0x01, 0x00];
    const ALGORITHM: [u8; 21] = [
        0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86,
        0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
    ];
    let private_key = der_element(0x04, sec1);
    der_element(0x30, &[&VERSION[..], &ALGORITHM, &private_key].concat())
}

/// A DER element: tag, definite length, content.
fn der_element(tag: u8, content: &[u8]) -> Vec<u8> {
    let length = content.len();
    let mut out = vec![tag];
    if length < 0x80 {
        out.push(length as u8);
    } else {
        let bytes: Vec<u8> = length
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// SEC 1 `ECPrivateKey ::= SEQUENCE { version, privateKey OCTET STRING, [0] parameters OPTIONAL,
/// [1] publicKey BIT STRING OPTIONAL }`: the public key, when present.
fn sec1_public(der: &[u8]) -> Option<Vec<u8>> {
    let (_, sequence) = parse_der_sequence(der).ok()?;
    sequence.as_sequence().ok()?.iter().find_map(|item| {
        let BerObjectContent::Unknown(any) = &item.content else {
            return None;
        };
        if any.tag().0 != 1 {
            return None;
        }
        let (_, bits) = parse_der_bitstring(any.data).ok()?;
        bits.as_bitstring().ok().map(|bits| bits.data.to_vec())
    })
}

/// PKCS #1 `RSAPrivateKey ::= SEQUENCE { version, modulus, publicExponent, ... }`: modulus and exponent.
fn pkcs1_public(der: &[u8]) -> Option<Public> {
    let (_, sequence) = parse_der(der).ok()?;
    let items = sequence.as_sequence().ok()?;
    let integer = |item: Option<&BerObject<'_>>| item?.as_slice().ok().map(trim);
    Some(Public::Rsa(integer(items.get(1))?, integer(items.get(2))?))
}

fn trim(integer: &[u8]) -> Vec<u8> {
    let start = integer
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(integer.len());
    integer[start..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed() -> (Vec<u8>, rcgen::KeyPair) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let params = rcgen::CertificateParams::new(vec!["a.example".to_string()]).unwrap();
        (params.self_signed(&key).unwrap().pem().into_bytes(), key)
    }

    #[test]
    fn a_pkcs8_key_matches_its_certificate_only() {
        let (certificate, key) = self_signed();
        let (_, other) = self_signed();
        let der = certificate_der(&certificate).unwrap();
        let parsed = parse(&der).unwrap();
        assert!(key_matches(&parsed, key.serialize_pem().as_bytes()));
        assert!(!key_matches(&parsed, other.serialize_pem().as_bytes()));
        assert!(!key_matches(&parsed, b"not a key"));
    }

    /// A SEC 1 key as Go's `x509.MarshalECPrivateKey` writes it (PGO's root key), built from a PKCS #8 one:
    /// the PKCS #8 `privateKey` octet string is the SEC 1 structure.
    #[test]
    fn a_sec1_key_matches_its_certificate() {
        let (certificate, key) = self_signed();
        let (_, pkcs8) = parse_der_sequence(key.serialized_der()).unwrap();
        let sec1 = pkcs8.as_sequence().unwrap()[2].as_slice().unwrap().to_vec();
        let pem = ::pem::encode(&::pem::Pem::new("EC PRIVATE KEY", sec1));
        let der = certificate_der(&certificate).unwrap();
        assert!(key_matches(&parse(&der).unwrap(), pem.as_bytes()));
        let signing = signing_key(pem.as_bytes()).expect("a SEC 1 P-256 key signs");
        assert_eq!(
            rcgen::PublicKeyData::der_bytes(&signing),
            rcgen::PublicKeyData::der_bytes(&key)
        );
    }

    #[test]
    fn long_der_lengths_use_the_long_form() {
        assert_eq!(der_element(0x04, &[7; 3]), [0x04, 3, 7, 7, 7]);
        assert_eq!(&der_element(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(&der_element(0x04, &[0; 300])[..4], [0x04, 0x82, 0x01, 0x2c]);
    }

    #[test]
    fn debug_never_shows_the_key() {
        let pair = Pair {
            certificate: b"cert".to_vec(),
            private_key: b"SECRET".to_vec(),
        };
        assert!(!format!("{pair:?}").contains("SECRET"));
    }
}
