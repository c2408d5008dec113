//! Bearer-token authentication of every gateway call: a tower layer in front of tonic's router, so no RPC, present
//! or future, can be reached without passing it. A call carries `authorization: Bearer <token>`; the token is
//! either compared with a configured static token (in constant time) or validated as an OAuth-issued JWT against
//! the issuer's published keys ([`jwt`]). A refused call gets UNAUTHENTICATED with a sentence saying why, as Zeebe
//! answers; the token itself never appears in a reply or a log line.
//!
//! It is async (a layer, not a tonic interceptor) because a JWT signed with a key the gateway has not seen yet makes
//! it fetch the issuer's key set once before deciding. Health and metrics are served on the monitoring port and
//! never pass here.

pub mod jwt;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::HeaderValue;
use subtle::ConstantTimeEq as _;
use tonic::Status;
use tracing::debug;

pub use jwt::JwtOptions;

/// Zeebe's own wording for a call without credentials.
pub const MISSING: &str =
    "Expected bearer token at header with key [authorization], but found nothing";

/// Why the authenticator could not be built (`jwt` mode: the issuer's keys could not be had).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Expected to build an HTTP client to fetch the issuer's keys, but it failed")]
    Client(#[source] reqwest::Error),
    #[error(
        "Expected to fetch the issuer's signing keys (JWKS) from {url}, but the request failed"
    )]
    Fetch {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("Expected the issuer's signing keys (JWKS) at {url}, but it answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("Expected {url} to serve a JSON Web Key Set ({{\"keys\": [...]}}), but {reason}")]
    Malformed { url: String, reason: String },
    #[error(
        "Expected {url} to publish at least one RS256 or ES256 signing key, but it publishes none \
         ({skipped} other keys ignored)"
    )]
    NoKeys { url: String, skipped: usize },
}

/// Checks the credentials of gateway calls. Cheap to clone; one per gateway.
#[derive(Clone)]
pub struct Authenticator(Arc<Mode>);

enum Mode {
    StaticToken(Vec<u8>),
    Jwt(Arc<jwt::JwtValidator>),
}

impl fmt::Debug for Authenticator {
    // Never the token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Mode::StaticToken(_) => f.write_str("Authenticator(static-token)"),
            Mode::Jwt(v) => write!(f, "Authenticator(jwt, {:?})", v.options()),
        }
    }
}

impl Authenticator {
    /// Accepts exactly `Bearer <token>`.
    pub fn static_token(token: &str) -> Authenticator {
        Authenticator(Arc::new(Mode::StaticToken(token.as_bytes().to_vec())))
    }

    /// Accepts JWTs from `options.issuer`. Fetches the issuer's key set now: an unreachable or unusable JWKS is an
    /// error here, at startup, rather than every call refused later.
    pub async fn jwt(options: JwtOptions) -> Result<Authenticator, Error> {
        let validator = jwt::JwtValidator::connect(options).await?;
        Ok(Authenticator(Arc::new(Mode::Jwt(validator))))
    }

    /// The mode's name as configured (`static-token` or `jwt`).
    pub fn mode(&self) -> &'static str {
        match &*self.0 {
            Mode::StaticToken(_) => "static-token",
            Mode::Jwt(_) => "jwt",
        }
    }

    /// Checks one call's `authorization` header; the error is the status to answer with.
    pub async fn check(&self, authorization: Option<&HeaderValue>) -> Result<(), Status> {
        let token = bearer(authorization)?;
        match &*self.0 {
            Mode::StaticToken(expected) => {
                // Constant time in the content; only the length can show.
                if bool::from(token.as_bytes().ct_eq(expected)) {
                    Ok(())
                } else {
                    Err(invalid("it is not the configured token"))
                }
            }
            Mode::Jwt(validator) => validator
                .validate(token)
                .await
                .map_err(|reason| invalid(&reason.to_string())),
        }
    }
}

/// The token of `Bearer <token>` (the scheme in any case, as RFC 6750 allows).
fn bearer(authorization: Option<&HeaderValue>) -> Result<&str, Status> {
    let value = authorization.ok_or_else(|| Status::unauthenticated(MISSING))?;
    let malformed = || {
        Status::unauthenticated(
            "Expected the authorization header to hold 'Bearer <token>', but it holds something else",
        )
    };
    let text = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = text.trim().split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(malformed());
    }
    Ok(token)
}

fn invalid(reason: &str) -> Status {
    Status::unauthenticated(format!("Expected a valid bearer token, but {reason}"))
}

/// The layer that puts an [`Authenticator`] in front of every call (none: calls pass unchecked).
#[derive(Debug, Clone, Default)]
pub(crate) struct AuthLayer(pub(crate) Option<Authenticator>);

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            auth: self.0.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct AuthService<S> {
    inner: S,
    auth: Option<Authenticator>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> tower::Service<http::Request<B>> for AuthService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let Some(auth) = self.auth.clone() else {
            return Box::pin(self.inner.call(request));
        };
        // The service that was polled ready serves this call; a fresh clone waits for the next one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            // Owned, so the future does not borrow the request across the await.
            let header = request.headers().get(http::header::AUTHORIZATION).cloned();
            if let Err(status) = auth.check(header.as_ref()).await {
                debug!(
                    method = request.uri().path(),
                    reason = status.message(),
                    "gateway call refused"
                );
                return Ok(status.into_http());
            }
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(v: &str) -> HeaderValue {
        HeaderValue::from_str(v).unwrap()
    }

    async fn check(auth: &Authenticator, v: Option<&str>) -> Result<(), String> {
        let h = v.map(header);
        auth.check(h.as_ref())
            .await
            .map_err(|s| format!("{:?}: {}", s.code(), s.message()))
    }

    #[tokio::test]
    async fn static_token_accepts_only_the_configured_bearer_token() {
        let auth = Authenticator::static_token("s3cret");
        assert_eq!(check(&auth, Some("Bearer s3cret")).await, Ok(()));
        assert_eq!(check(&auth, Some("bearer s3cret")).await, Ok(()));
        assert_eq!(
            check(&auth, None).await,
            Err(format!("Unauthenticated: {MISSING}"))
        );
        let wrong = check(&auth, Some("Bearer s3cres")).await.unwrap_err();
        assert_eq!(
            wrong,
            "Unauthenticated: Expected a valid bearer token, but it is not the configured token"
        );
        assert!(!wrong.contains("s3cres"), "the token is never echoed");
        for malformed in [
            "s3cret",
            "Basic s3cret",
            "Bearer",
            "Bearer  ",
            "Bearers3cret",
        ] {
            let e = check(&auth, Some(malformed)).await.unwrap_err();
            assert!(
                e.starts_with("Unauthenticated: Expected the authorization header to hold"),
                "{malformed}: {e}"
            );
        }
        assert_eq!(
            check(&auth, Some("Bearer s3cret2")).await.unwrap_err(),
            wrong,
            "a longer token is refused too"
        );
    }

    #[test]
    fn debug_never_shows_the_token() {
        let auth = Authenticator::static_token("s3cret");
        assert!(!format!("{auth:?}").contains("s3cret"));
    }
}
