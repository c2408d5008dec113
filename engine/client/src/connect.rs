//! From [`ClientOptions`] to a connected [`Gateway`]: the endpoint (timeouts, keepalive), TLS with the configured
//! CA or else the system's and Mozilla's roots, and the credentials layer.

use std::path::Path;

use apsis_proto::gateway_client::GatewayClient;
use http::HeaderValue;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

use crate::address::Target;
use crate::auth::{AuthChannel, Credentials};
use crate::oauth::TokenProvider;
use crate::options::{Auth, ClientOptions};
use crate::Error;

/// The generated Zeebe gateway client over a channel that authenticates every call.
pub type Gateway = GatewayClient<AuthChannel>;

/// Connects now (TCP, and the TLS handshake when TLS is on), then with OAuth fetches the first token, so that
/// "nothing listens there", "the certificate is not trusted" and "the credentials were refused" are each told at
/// once, before any request is sent.
pub async fn connect(options: &ClientOptions) -> Result<Gateway, Error> {
    let target = options.target()?;
    let ca = options.ca_certificate.as_deref().map(read_ca).transpose()?;
    let mut endpoint = Endpoint::from_shared(target.url.clone())
        .map_err(|e| Error::Address {
            value: target.url.clone(),
            origin: "the client options".to_owned(),
            reason: format!("it is not a valid URL ({e})"),
        })?
        .connect_timeout(options.connect_timeout)
        .tcp_nodelay(true);
    if !options.keepalive.is_zero() {
        endpoint = endpoint
            .http2_keep_alive_interval(options.keepalive)
            .keep_alive_while_idle(true);
    }
    if target.tls {
        let mut tls = ClientTlsConfig::new()
            .domain_name(target.host.clone())
            .timeout(options.connect_timeout);
        tls = match &ca {
            // Only the given CA, as Zeebe's clients do with a certificate path: a private gateway's certificate
            // is not expected to chain to a public root.
            Some(pem) => tls.ca_certificate(Certificate::from_pem(pem)),
            None => tls.with_webpki_roots().trust_anchors(system_roots()),
        };
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|source| Error::TlsSettings {
                url: target.url.clone(),
                source,
            })?;
    }
    let credentials = match &options.auth {
        Auth::None => Credentials::None,
        Auth::StaticToken { token } => {
            let mut header = HeaderValue::try_from(format!("Bearer {}", token.expose()))
                .map_err(|_| Error::TokenNotAHeader)?;
            header.set_sensitive(true);
            Credentials::Static(header)
        }
        Auth::OAuth(oauth) => Credentials::OAuth(std::sync::Arc::new(TokenProvider::new(
            oauth,
            &target.host,
            ca.as_deref(),
            options.connect_timeout,
        )?)),
    };
    let channel = match tokio::time::timeout(options.connect_timeout, endpoint.connect()).await {
        Ok(Ok(channel)) => channel,
        Ok(Err(source)) => return Err(connect_error(&target, source)),
        Err(_) => {
            return Err(Error::ConnectTimeout {
                url: target.url,
                after: options.connect_timeout,
            })
        }
    };
    if let Credentials::OAuth(provider) = &credentials {
        provider.header().await?;
    }
    Ok(GatewayClient::new(AuthChannel::new(channel, credentials)))
}

fn read_ca(path: &Path) -> Result<Vec<u8>, Error> {
    let pem = std::fs::read(path).map_err(|source| Error::CaCertificateUnreadable {
        path: path.to_owned(),
        source,
    })?;
    let marker = b"-----BEGIN CERTIFICATE-----";
    if !pem.windows(marker.len()).any(|w| w == marker) {
        return Err(Error::CaCertificateEmpty {
            path: path.to_owned(),
        });
    }
    Ok(pem)
}

/// The system's trusted roots (a corporate CA installed there works); none found is not an error, since Mozilla's
/// roots are added next to them.
fn system_roots() -> Vec<rustls::pki_types::TrustAnchor<'static>> {
    rustls_native_certs::load_native_certs()
        .certs
        .iter()
        .filter_map(|der| webpki::anchor_from_trusted_cert(der).ok())
        .map(|anchor| anchor.to_owned())
        .collect()
}

/// A TLS failure told as one, with what to check; anything else as "could not connect" with its cause.
fn connect_error(target: &Target, source: tonic::transport::Error) -> Error {
    match target.tls.then(|| tls_failure(&source)).flatten() {
        Some(reason) => Error::TlsHandshake {
            url: target.url.clone(),
            reason,
        },
        None => Error::Connect {
            url: target.url.clone(),
            source,
        },
    }
}

/// The TLS error in a transport error's causes: rustls's own (an untrusted certificate, a plaintext answer), or a
/// connection closed during the handshake (a plaintext server hanging up on a ClientHello).
pub(crate) fn tls_failure(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause = Some(e);
    let mut eof = None;
    while let Some(e) = cause {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        // io::Error::source() skips the error it wraps, so look inside.
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                return Some(tls.to_string());
            }
            if io.kind() == std::io::ErrorKind::UnexpectedEof {
                eof = Some(format!(
                    "the connection was closed during the handshake: {io}"
                ));
            }
        }
        cause = e.source();
    }
    eof
}
