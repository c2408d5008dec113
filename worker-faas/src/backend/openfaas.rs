//! The OpenFaaS backend (and the local runtime's, which serves the same contract): `POST
//! {gateway}/async-function/{function}` with our `X-Call-Id` and `X-Callback-Url`, the body and its content type.
//! The gateway answers 202 and runs the function later; its queue-worker then POSTs the result to the callback URL.
//!
//! Every answer (or its absence) is judged by [`outcome::on_invocation`]: 2xx accepted; 408, 429, 5xx or no
//! answer retried after a jittered exponential backoff up to the policy's attempts; any other status fails the
//! job at once with the gateway's answer.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use tracing::{debug, warn};

use super::{jitter, Backend, Invoked};
use crate::outcome::{self, Invocation, InvocationDecision, InvocationResult, Policy};
use crate::request::FunctionRequest;
use crate::{metrics, Error};

/// How long one POST may take: the gateway only queues the call, so a slow answer is a sick gateway.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// An OpenFaaS gateway (or the local runtime) at one URL.
#[derive(Debug, Clone)]
pub struct OpenFaas {
    /// `openfaas` or `local`, for logs.
    name: &'static str,
    gateway: String,
    client: reqwest::Client,
    policy: Policy,
}

impl OpenFaas {
    pub fn new(name: &'static str, gateway: &str, policy: Policy) -> Result<OpenFaas, Error> {
        let client = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| Error::HttpClient(e.to_string()))?;
        Ok(OpenFaas {
            name,
            gateway: gateway.trim_end_matches('/').to_owned(),
            client,
            policy,
        })
    }

    /// The URL a call of `function` is posted to.
    pub fn url(&self, function: &str) -> String {
        format!("{}/async-function/{function}", self.gateway)
    }

    async fn attempt(&self, request: &FunctionRequest) -> InvocationResult {
        let sent = self
            .client
            .post(self.url(&request.function))
            .header("X-Call-Id", &request.call_id)
            .header("X-Callback-Url", &request.callback_url)
            .header(reqwest::header::CONTENT_TYPE, request.content_type)
            .body(request.body.clone())
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.text().await.unwrap_or_default();
                InvocationResult::Answered { status, body }
            }
            Err(e) => InvocationResult::Unreachable {
                reason: describe(&e),
            },
        }
    }

    async fn invoke_all(&self, request: &FunctionRequest) -> Invoked {
        let mut attempt = 1;
        loop {
            let started = Instant::now();
            let result = self.attempt(request).await;
            let invocation = Invocation {
                job_key: request.job_key,
                job_retries: request.job_retries,
                function: &request.function,
                attempt,
            };
            let decision = outcome::on_invocation(&invocation, &result, &self.policy, jitter());
            let label = match &decision {
                InvocationDecision::Accepted => "accepted",
                InvocationDecision::RetryAfter(_) => "retry",
                InvocationDecision::Fail(_) => "failed",
            };
            metrics::invocation(&request.function, label, started.elapsed());
            match decision {
                InvocationDecision::Accepted => {
                    debug!(backend = self.name, attempt, "function call accepted");
                    return Invoked::Accepted;
                }
                InvocationDecision::RetryAfter(pause) => {
                    warn!(
                        backend = self.name,
                        attempt,
                        ?result,
                        ?pause,
                        "function call not accepted; retrying"
                    );
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                InvocationDecision::Fail(fail) => return Invoked::Failed(fail),
            }
        }
    }
}

impl Backend for OpenFaas {
    fn invoke<'a>(
        &'a self,
        request: &'a FunctionRequest,
    ) -> Pin<Box<dyn Future<Output = Invoked> + Send + 'a>> {
        Box::pin(self.invoke_all(request))
    }
}

/// A transport error as a short reason: the kind, then the innermost cause.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    format!("{kind}: {cause}")
}
