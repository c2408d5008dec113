//! The crate's one error type. Every message is a sentence a person can act on; none carries a secret.

use std::path::PathBuf;
use std::time::Duration;

/// A failure to resolve options, connect, or obtain a token.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Expected the gateway address '{value}' (from {origin}) to be http(s)://HOST:PORT, grpc(s)://HOST:PORT or HOST:PORT, but {reason}")]
    Address {
        value: String,
        origin: String,
        reason: String,
    },
    /// A setting that needs another one, e.g. a client id without its secret.
    #[error("Expected {needed} because {because}, but none was given ({set_by})")]
    MissingSetting {
        needed: &'static str,
        because: &'static str,
        set_by: String,
    },
    #[error("Expected {name} to be true or false, but it is '{value}'")]
    NotABoolean { name: String, value: String },
    #[error("Expected to read the CA certificate file {}, but it could not be read", path.display())]
    CaCertificateUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Expected the CA certificate file {} to hold PEM certificates (-----BEGIN CERTIFICATE-----), but it holds none", path.display())]
    CaCertificateEmpty { path: PathBuf },
    #[error("Expected to set up TLS for {url}, but tonic refused the settings")]
    TlsSettings {
        url: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error(
        "Expected the bearer token to be printable ASCII (a valid header value), but it is not"
    )]
    TokenNotAHeader,
    #[error("Expected to set up the OAuth client, but it could not be built")]
    HttpClient(#[source] reqwest::Error),
    #[error("Expected a TLS handshake with the gateway at {url}, but it failed ({reason}): check that the CA certificate (--ca-cert) is the one that signed the gateway's certificate and that it names the host you connect to, or use http:// (--insecure) if the gateway is plaintext")]
    TlsHandshake { url: String, reason: String },
    #[error("Expected a Zeebe gateway at {url}, but could not connect")]
    Connect {
        url: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error(
        "Expected a Zeebe gateway at {url} to accept a connection within {after:?}, but it did not"
    )]
    ConnectTimeout { url: String, after: Duration },
    #[error("Expected an OAuth token from {url}, but the request failed")]
    TokenRequest {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("Expected an OAuth token from {url}, but the server answered {status}: {body}")]
    TokenRefused {
        url: String,
        status: u16,
        body: String,
    },
    #[error("Expected an OAuth token from {url}, but its answer {reason}")]
    TokenResponse { url: String, reason: String },
}

impl Error {
    /// True for failures of the authorization server to issue a token (as opposed to not reaching it).
    pub fn is_credentials_refused(&self) -> bool {
        matches!(
            self,
            Error::TokenRefused { .. } | Error::TokenResponse { .. }
        )
    }
}
