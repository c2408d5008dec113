//! One function's HTTP server: the function's routes (its calls come on any path: the watchdog forwards the
//! function's path), plus the health endpoints of of-watchdog (`/_/health`) and OpenFaaS (`/healthz`) and
//! `/metrics`. Stopping it stops accepting connections and waits for the requests in progress to be answered.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::Error;

/// Renders every recorded metric in Prometheus text format (the binary's exporter).
pub type RenderFn = Arc<dyn Fn() -> String + Send + Sync>;

/// A running server.
#[derive(Debug)]
pub struct Server {
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Binds `listen` and serves `app` with the health endpoints and `/metrics` (`render`: `None` answers 404)
    /// until [`Server::shutdown`].
    pub async fn start(
        listen: SocketAddr,
        app: Router,
        render: Option<RenderFn>,
    ) -> Result<Server, Error> {
        let bind = |source| Error::Bind {
            address: listen,
            source,
        };
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(bind)?;
        let address = listener.local_addr().map_err(bind)?;
        let metrics = move || async move {
            match render {
                Some(render) => render().into_response(),
                None => (StatusCode::NOT_FOUND, "no metrics exporter installed\n").into_response(),
            }
        };
        let router = app
            .route("/_/health", get(health))
            .route("/healthz", get(health))
            .route("/metrics", get(metrics));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Server {
            address,
            stop: Some(stop),
            task,
        })
    }

    /// The address it listens on (the port chosen when `listen` had port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Stops accepting connections and waits for the requests in progress to be answered.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result.map_err(Error::Serve),
            Err(join) => Err(Error::Serve(std::io::Error::other(join))),
        }
    }
}

async fn health() -> &'static str {
    "ok\n"
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::routing::post;

    use super::*;

    #[tokio::test]
    async fn serves_health_metrics_and_the_function_then_drains_on_shutdown() {
        let app = Router::new().fallback(post(|| async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            "done"
        }));
        let render: RenderFn = Arc::new(|| "runs_total 1\n".to_owned());
        let server = Server::start("127.0.0.1:0".parse().unwrap(), app, Some(render))
            .await
            .unwrap();
        let base = format!("http://{}", server.local_addr());
        let client = reqwest::Client::new();
        let get = |path: &str| client.get(format!("{base}{path}")).send();
        for path in ["/_/health", "/healthz"] {
            assert_eq!(get(path).await.unwrap().text().await.unwrap(), "ok\n");
        }
        assert_eq!(
            get("/metrics").await.unwrap().text().await.unwrap(),
            "runs_total 1\n"
        );
        // A call in progress when the server is stopped is still answered; a new connection is refused.
        let call = tokio::spawn(client.post(format!("{base}/function/x")).send());
        tokio::time::sleep(Duration::from_millis(100)).await;
        let address = server.local_addr();
        server.shutdown().await.unwrap();
        assert_eq!(call.await.unwrap().unwrap().text().await.unwrap(), "done");
        assert!(tokio::net::TcpStream::connect(address).await.is_err());

        let e = {
            let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let busy = taken.local_addr().unwrap();
            let e = Server::start(busy, Router::new(), None).await.unwrap_err();
            (busy, e.to_string())
        };
        assert_eq!(e.1, format!("Expected to listen on {}, but it failed", e.0));
    }

    #[tokio::test]
    async fn metrics_without_an_exporter_is_a_404() {
        let server = Server::start("127.0.0.1:0".parse().unwrap(), Router::new(), None)
            .await
            .unwrap();
        let res = reqwest::get(format!("http://{}/metrics", server.local_addr()))
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
        server.shutdown().await.unwrap();
    }
}
