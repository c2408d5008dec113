//! TLS for the gateway port: a PEM certificate chain and private key read from files, checked when the engine
//! starts (so a bad file stops the start with a sentence naming it, not the first client's handshake), then served
//! by tonic's rustls acceptor. Only the server authenticates itself; clients present no certificate.
//!
//! The crypto provider is aws-lc-rs, the one the rest of the binary already links (see
//! `docs/decisions/0004-gateway-security.md`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tonic::transport::{Identity, ServerTlsConfig};

/// A client that has not finished its TLS handshake by then is dropped (handshakes run concurrently, so a slow
/// client delays only itself).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the TLS files cannot be used. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Expected to read the TLS {what} file {}, but it could not be read", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "Expected the TLS certificate file {} to hold a PEM certificate chain (-----BEGIN CERTIFICATE-----), but {reason}",
        path.display()
    )]
    Certificates { path: PathBuf, reason: String },
    #[error(
        "Expected the TLS key file {} to hold a PEM private key (PKCS#8, PKCS#1 or SEC1), but {reason}",
        path.display()
    )]
    Key { path: PathBuf, reason: String },
    #[error(
        "Expected the private key {} to belong to the certificate {} and to suit TLS, but {reason}",
        key.display(),
        cert.display()
    )]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
}

/// The gateway's TLS identity: a certificate chain and its private key, already checked to parse and to match.
#[derive(Clone)]
pub struct TlsIdentity {
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    cert_path: PathBuf,
}

impl fmt::Debug for TlsIdentity {
    // The key never reaches a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("cert", &self.cert_path)
            .finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// Reads and checks `cert` (the server certificate first, then any intermediates) and `key`.
    pub fn from_files(cert: &Path, key: &Path) -> Result<TlsIdentity, Error> {
        let read = |what, path: &Path| {
            std::fs::read(path).map_err(|source| Error::Read {
                what,
                path: path.to_owned(),
                source,
            })
        };
        let cert_pem = read("certificate", cert)?;
        let key_pem = read("key", key)?;
        let chain = certificates(&cert_pem).map_err(|reason| Error::Certificates {
            path: cert.to_owned(),
            reason,
        })?;
        let private_key = private_key(&key_pem).map_err(|reason| Error::Key {
            path: key.to_owned(),
            reason,
        })?;
        // What tonic will build from the same PEM, built once here to learn now whether the key signs for the
        // certificate and is a kind rustls supports.
        install_provider();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_no_client_auth().with_single_cert(chain, private_key))
            .map_err(|e| Error::Mismatch {
                cert: cert.to_owned(),
                key: key.to_owned(),
                reason: mismatch_reason(&e),
            })?;
        Ok(TlsIdentity {
            cert_pem,
            key_pem,
            cert_path: cert.to_owned(),
        })
    }

    /// The certificate file this identity came from.
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// tonic's server TLS settings for this identity (tonic adds the `h2` ALPN protocol itself).
    pub(crate) fn server_config(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(Identity::from_pem(&self.cert_pem, &self.key_pem))
            .timeout(HANDSHAKE_TIMEOUT)
    }
}

/// Makes aws-lc-rs rustls's process-wide provider, which tonic's acceptor uses, so that the choice never depends on
/// which rustls features some other crate in the build happens to enable. Installing twice is harmless.
pub(crate) fn install_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

fn certificates(pem_bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let chain = CertificateDer::pem_slice_iter(pem_bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_reason(&e))?;
    if chain.is_empty() {
        return Err("it holds no certificate".into());
    }
    Ok(chain)
}

fn private_key(pem_bytes: &[u8]) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_slice(pem_bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => {
            "it holds no private key (an encrypted key must be decrypted first)".into()
        }
        e => pem_reason(&e),
    })
}

fn pem_reason(e: &pem::Error) -> String {
    match e {
        pem::Error::NoItemsFound => "it holds no PEM section of that kind".into(),
        pem::Error::MissingSectionEnd { .. } => "a PEM section has no END line".into(),
        pem::Error::IllegalSectionStart { .. } => "a PEM BEGIN line is malformed".into(),
        pem::Error::Base64Decode(_) => "a PEM section is not valid base64".into(),
        e => format!("it is not valid PEM ({e})"),
    }
}

fn mismatch_reason(e: &rustls::Error) -> String {
    use rustls::{Error as E, InconsistentKeys};
    match e {
        E::InconsistentKeys(InconsistentKeys::KeyMismatch) => {
            "the key's public key is not the certificate's (are the files from the same pair?)"
                .into()
        }
        E::InvalidCertificate(c) => format!("the first certificate cannot be parsed ({c:?})"),
        E::General(m) => format!("rustls refused them ({m})"),
        e => format!("rustls refused them ({e})"),
    }
}
