//! Credentials on every gateway call: a tower service in front of tonic's `Channel` rather than a tonic
//! interceptor, because interceptors are synchronous and an OAuth token may have to be fetched (awaited) first.
//!
//! With OAuth, a call the gateway answers UNAUTHENTICATED in its headers (how gateways refuse credentials, Zeebe's
//! and Apsis's alike) is sent once more with a freshly fetched token, when the refused token came from the cache.
//! That needs the request body twice, so it is buffered: every Zeebe gateway RPC sends one request message (unary
//! or server-streaming; there is no client-streaming RPC), so the buffer is one message.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderValue, Request, Response};
use http_body_util::BodyExt as _;
use tonic::body::Body;
use tonic::transport::Channel;
use tower::{Service, ServiceExt as _};

use crate::oauth::TokenProvider;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a call carries.
#[derive(Debug, Clone)]
pub(crate) enum Credentials {
    None,
    /// `Bearer <token>`, marked sensitive so it is never logged.
    Static(HeaderValue),
    OAuth(Arc<TokenProvider>),
}

/// tonic's channel with credentials added to every call; the transport of [`crate::Gateway`].
#[derive(Debug, Clone)]
pub struct AuthChannel {
    inner: Channel,
    credentials: Credentials,
}

impl AuthChannel {
    pub(crate) fn new(inner: Channel, credentials: Credentials) -> AuthChannel {
        AuthChannel { inner, credentials }
    }
}

impl Service<Request<Body>> for AuthChannel {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        // The channel that was polled ready serves this call; a clone takes its place (tower's readiness contract).
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        match &self.credentials {
            Credentials::None => Box::pin(async move { Ok(inner.call(request).await?) }),
            Credentials::Static(header) => {
                request
                    .headers_mut()
                    .insert(http::header::AUTHORIZATION, header.clone());
                Box::pin(async move { Ok(inner.call(request).await?) })
            }
            Credentials::OAuth(provider) => {
                let provider = provider.clone();
                Box::pin(async move { with_oauth(inner, provider, request).await })
            }
        }
    }
}

async fn with_oauth(
    mut inner: Channel,
    provider: Arc<TokenProvider>,
    request: Request<Body>,
) -> Result<Response<Body>, BoxError> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let build = |header: HeaderValue| {
        let mut r = Request::new(Body::new(http_body_util::Full::new(body.clone())));
        *r.method_mut() = parts.method.clone();
        *r.uri_mut() = parts.uri.clone();
        *r.version_mut() = parts.version;
        *r.headers_mut() = parts.headers.clone();
        r.headers_mut().insert(http::header::AUTHORIZATION, header);
        r
    };
    let header = provider.header().await?;
    let response = inner.call(build(header.clone())).await?;
    if !refused(&response) {
        return Ok(response);
    }
    provider.invalidate(&header).await;
    let fresh = provider.header().await?;
    if fresh == header {
        return Ok(response);
    }
    tracing::debug!(
        url = provider.url(),
        "gateway refused the cached OAuth token; sent again with a new one"
    );
    let mut again = inner.clone();
    again.ready().await?;
    Ok(again.call(build(fresh)).await?)
}

/// True when the gateway answered UNAUTHENTICATED (16) before any message: a trailers-only response.
fn refused(response: &Response<Body>) -> bool {
    response
        .headers()
        .get("grpc-status")
        .map(HeaderValue::as_bytes)
        == Some(b"16")
}
