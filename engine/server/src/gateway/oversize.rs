//! Zeebe's gateway (grpc-java) answers a request above its max message size with RESOURCE_EXHAUSTED; tonic's codec
//! answers OUT_OF_RANGE. [`Oversize`] wraps the gateway service and rewrites exactly that answer, so clients see
//! Zeebe's status (`../shared/notes/zeebe-compat.md`). Other OUT_OF_RANGE answers pass unchanged.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::HeaderValue;
use tonic::server::NamedService;

/// The gateway service with Zeebe's status for oversize requests.
#[derive(Debug, Clone)]
pub struct Oversize<S>(pub(crate) S);

impl<S: NamedService> NamedService for Oversize<S> {
    const NAME: &'static str = S::NAME;
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> tower::Service<http::Request<B>> for Oversize<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let answer = self.0.call(request);
        Box::pin(async move {
            let mut response = answer.await?;
            rewrite(response.headers_mut());
            Ok(response)
        })
    }
}

/// The codec refuses an oversize request before the handler runs, so its status is in the (trailers-only) headers.
fn rewrite(headers: &mut http::HeaderMap) {
    const OUT_OF_RANGE: &[u8] = b"11";
    let oversize = headers.get("grpc-status").map(HeaderValue::as_bytes) == Some(OUT_OF_RANGE)
        && headers.get("grpc-message").is_some_and(|m| {
            let m = String::from_utf8_lossy(m.as_bytes()).replace("%20", " ");
            m.contains("message length too large")
        });
    if oversize {
        headers.insert("grpc-status", HeaderValue::from_static("8"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_codec_size_refusal_becomes_resource_exhausted() {
        let mut h = http::HeaderMap::new();
        h.insert("grpc-status", HeaderValue::from_static("11"));
        h.insert(
            "grpc-message",
            HeaderValue::from_static("Error,%20decoded%20message%20length%20too%20large"),
        );
        rewrite(&mut h);
        assert_eq!(h["grpc-status"], "8");
        let mut other = http::HeaderMap::new();
        other.insert("grpc-status", HeaderValue::from_static("11"));
        other.insert("grpc-message", HeaderValue::from_static("other"));
        rewrite(&mut other);
        assert_eq!(other["grpc-status"], "11");
    }
}
