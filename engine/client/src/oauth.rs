//! OAuth 2.0 client credentials (RFC 6749 §4.4), as Camunda 8's gateways require: a token is fetched with a form
//! POST, cached, fetched again shortly before `expires_in` runs out, and dropped when the gateway answers
//! UNAUTHENTICATED (revoked or rotated early), so the next call fetches a fresh one.
//!
//! One fetch at a time: callers wait on the cache's lock while a token is fetched, so a burst of calls at start or
//! at expiry makes one request to the authorization server, not one per call.

use std::time::{Duration, Instant};

use http::HeaderValue;
use serde_json::Value;

use crate::options::OAuthOptions;
use crate::Error;

/// How long a token without `expires_in` is used before it is fetched again (an UNAUTHENTICATED answer drops it
/// sooner).
const UNSTATED_LIFETIME: Duration = Duration::from_secs(300);
/// The most an error body from the authorization server adds to a message.
const MAX_BODY: usize = 300;

/// Issues bearer tokens for gateway calls from an authorization server.
pub struct TokenProvider {
    url: String,
    /// The encoded form, secret included: never shown.
    form: String,
    secret: String,
    http: reqwest::Client,
    clock: Clock,
    cached: tokio::sync::Mutex<Option<Cached>>,
}

#[derive(Clone)]
struct Cached {
    header: HeaderValue,
    refresh_at: Instant,
}

/// Where "now" comes from: the system, or in tests a clock moved by hand.
#[derive(Clone)]
pub(crate) enum Clock {
    System,
    #[cfg(test)]
    Manual(std::sync::Arc<std::sync::Mutex<Instant>>),
}

impl Clock {
    fn now(&self) -> Instant {
        match self {
            Clock::System => Instant::now(),
            #[cfg(test)]
            Clock::Manual(now) => *now.lock().unwrap(),
        }
    }
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenProvider")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl TokenProvider {
    /// A provider for `options`; `default_audience` (the gateway's host) when they name none; `ca_pem` trusted in
    /// addition to the usual roots (a self-managed identity provider with the gateway's private CA).
    pub fn new(
        options: &OAuthOptions,
        default_audience: &str,
        ca_pem: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<TokenProvider, Error> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &options.client_id)
            .append_pair("client_secret", options.client_secret.expose())
            .append_pair(
                "audience",
                options.audience.as_deref().unwrap_or(default_audience),
            );
        if let Some(scope) = &options.scope {
            form.append_pair("scope", scope);
        }
        let mut http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout);
        if let Some(pem) = ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(Error::HttpClient)?;
            http = http.tls_certs_merge(certs);
        }
        Ok(TokenProvider {
            url: options.authorization_server_url.clone(),
            form: form.finish(),
            secret: options.client_secret.expose().to_owned(),
            http: http.build().map_err(Error::HttpClient)?,
            clock: Clock::System,
            cached: tokio::sync::Mutex::new(None),
        })
    }

    #[cfg(test)]
    pub(crate) fn with_clock(mut self, clock: Clock) -> TokenProvider {
        self.clock = clock;
        self
    }

    /// The authorization server's token endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `Bearer <token>` for the next call: the cached token while it is fresh, else a new one.
    pub async fn header(&self) -> Result<HeaderValue, Error> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            if self.clock.now() < c.refresh_at {
                return Ok(c.header.clone());
            }
        }
        let fresh = self.fetch().await?;
        let header = fresh.header.clone();
        *cached = Some(fresh);
        Ok(header)
    }

    /// Forgets `stale` (a token the gateway refused) unless it was already replaced.
    pub async fn invalidate(&self, stale: &HeaderValue) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|c| c.header == stale) {
            *cached = None;
        }
    }

    async fn fetch(&self) -> Result<Cached, Error> {
        let fetched_at = self.clock.now();
        let response = self
            .http
            .post(&self.url)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .body(self.form.clone())
            .send()
            .await
            .map_err(|source| Error::TokenRequest {
                url: self.url.clone(),
                source: source.without_url(),
            })?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|source| Error::TokenRequest {
                url: self.url.clone(),
                source: source.without_url(),
            })?;
        if !status.is_success() {
            return Err(Error::TokenRefused {
                url: self.url.clone(),
                status: status.as_u16(),
                body: self.shown(&body),
            });
        }
        let invalid = |reason: &str| Error::TokenResponse {
            url: self.url.clone(),
            reason: reason.to_owned(),
        };
        let json: Value = serde_json::from_str(&body).map_err(|_| invalid("is not JSON"))?;
        let token = json["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| invalid("has no access_token"))?;
        let mut header = HeaderValue::try_from(format!("Bearer {token}"))
            .map_err(|_| invalid("holds an access_token that is not a valid header value"))?;
        header.set_sensitive(true);
        // Some servers send expires_in as a string.
        let lifetime = match &json["expires_in"] {
            Value::Number(n) => n.as_u64().map(Duration::from_secs),
            Value::String(s) => s.parse().ok().map(Duration::from_secs),
            _ => None,
        }
        .unwrap_or(UNSTATED_LIFETIME);
        tracing::debug!(url = %self.url, lifetime_s = lifetime.as_secs(), "OAuth token fetched");
        Ok(Cached {
            header,
            refresh_at: fetched_at + lifetime - refresh_lead(lifetime),
        })
    }

    /// An error body as shown in a message: bounded, and without the secret should the server echo the form.
    fn shown(&self, body: &str) -> String {
        let body = body.trim().replace(&self.secret, "***");
        let mut shown: String = body.chars().take(MAX_BODY).collect();
        if shown.len() < body.len() {
            shown.push('…');
        }
        if shown.is_empty() {
            shown.push_str("(no body)");
        }
        shown
    }
}

/// How long before its expiry a token is replaced: enough for a call in flight to arrive while the token still
/// holds, at most 30 s and at most half its life (a short-lived token is still used at all).
fn refresh_lead(lifetime: Duration) -> Duration {
    (lifetime / 2).min(Duration::from_secs(30))
}

#[cfg(test)]
mod tests;
