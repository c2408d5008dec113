//! Validation of OAuth-issued JWTs against the issuer's published keys (its JWKS).
//!
//! Contract: a token is accepted when it is a JWS signed with RS256 or ES256 by a key the issuer publishes under the
//! token's `kid`, its `iss` is the configured issuer, its `aud` holds the configured audience (when one is
//! configured), and `exp` (required) and `nbf` (when present) hold at the current time within [`JwtOptions::leeway`].
//! Keys embedded in the token (`jwk`, `jku`, `x5u`) are never trusted; symmetric (`oct`) and encryption keys in the
//! JWKS are ignored, so an `HS256` token signed with a public key is refused.
//!
//! The key set is fetched when the gateway starts, then again when a token names a key it does not hold (the issuer
//! rotated its keys) but at most once per [`JwtOptions::min_refresh_interval`], and every
//! [`JwtOptions::refresh_every`] so that withdrawn keys stop working. A failed refresh keeps the keys already held.

use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{errors::ErrorKind, Algorithm, DecodingKey, Validation};
use tracing::{info, warn};

use super::Error;

/// The signature algorithms accepted (those OAuth issuers use; no symmetric ones).
pub const ALGORITHMS: [Algorithm; 2] = [Algorithm::RS256, Algorithm::ES256];
/// A JWKS larger than this is refused (real ones are a few kilobytes).
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// How JWTs are checked. [`JwtOptions::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct JwtOptions {
    /// The `iss` every token must carry.
    pub issuer: String,
    /// The value `aud` must hold; `None`: `aud` is not checked.
    pub audience: Option<String>,
    /// Where the issuer publishes its signing keys (`http(s)://`).
    pub jwks_url: String,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// Least time between two fetches caused by unknown keys (a flood of made-up `kid`s costs one fetch per interval).
    pub min_refresh_interval: Duration,
    /// The key set is fetched again this often, so withdrawn keys stop being accepted.
    pub refresh_every: Duration,
    /// Bound on one fetch of the key set.
    pub fetch_timeout: Duration,
}

impl JwtOptions {
    pub fn new(issuer: impl Into<String>, jwks_url: impl Into<String>) -> JwtOptions {
        JwtOptions {
            issuer: issuer.into(),
            audience: None,
            jwks_url: jwks_url.into(),
            leeway: Duration::from_secs(30),
            min_refresh_interval: Duration::from_secs(10),
            refresh_every: Duration::from_secs(10 * 60),
            fetch_timeout: Duration::from_secs(10),
        }
    }
}

/// Why a token was refused; its `Display` completes "Expected a valid bearer token, but ...". Never holds token text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    #[error("it is not a well-formed JWT")]
    Malformed,
    #[error("it is signed with {0:?}, and only RS256 and ES256 are accepted")]
    Algorithm(Algorithm),
    #[error("it is signed with {token:?}, while the issuer's key it names is for {key:?}")]
    KeyAlgorithm { token: Algorithm, key: Algorithm },
    #[error("it is signed with a key (kid) the issuer does not publish")]
    UnknownKey,
    #[error("it names no key (kid), and the issuer publishes more than one")]
    NoKeyId,
    #[error("its signature does not verify with the issuer's key")]
    Signature,
    #[error("it has expired (exp)")]
    Expired,
    #[error("it is not valid yet (nbf)")]
    NotYetValid,
    #[error("it was issued by another issuer than the configured one (iss)")]
    Issuer,
    #[error("it is not meant for the configured audience (aud)")]
    Audience,
    #[error("it lacks the required claim '{0}'")]
    MissingClaim(String),
    #[error("its claim '{0}' has the wrong type")]
    ClaimFormat(String),
}

/// One usable signing key of the issuer.
struct SigningKey {
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
}

#[derive(Debug)]
struct Fetched {
    keys: Vec<Arc<SigningKey>>,
    skipped: usize,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({:?}, {:?})", self.kid, self.alg)
    }
}

/// The validator and its cache of the issuer's keys.
#[derive(Debug)]
pub(crate) struct JwtValidator {
    options: JwtOptions,
    http: reqwest::Client,
    keys: RwLock<Vec<Arc<SigningKey>>>,
    /// When the key set was last fetched (or tried); held while fetching, so fetches never overlap.
    last_fetch: tokio::sync::Mutex<Instant>,
}

impl JwtValidator {
    /// Fetches the key set, and starts refreshing it every `refresh_every` for as long as the validator lives.
    pub(crate) async fn connect(options: JwtOptions) -> Result<Arc<JwtValidator>, Error> {
        crate::gateway::tls::install_provider();
        let http = reqwest::Client::builder()
            .timeout(options.fetch_timeout)
            .build()
            .map_err(Error::Client)?;
        let fetched = fetch(&http, &options.jwks_url).await?;
        info!(
            jwks_url = %options.jwks_url,
            keys = fetched.keys.len(),
            ignored = fetched.skipped,
            "fetched the issuer's signing keys"
        );
        let validator = Arc::new(JwtValidator {
            http,
            keys: RwLock::new(fetched.keys),
            last_fetch: tokio::sync::Mutex::new(Instant::now()),
            options,
        });
        tokio::spawn(refresh_periodically(
            Arc::downgrade(&validator),
            validator.options.refresh_every,
        ));
        Ok(validator)
    }

    pub(crate) fn options(&self) -> &JwtOptions {
        &self.options
    }

    /// Checks one token (the text after `Bearer `).
    pub(crate) async fn validate(&self, token: &str) -> Result<(), Reason> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Reason::Malformed)?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(Reason::Algorithm(header.alg));
        }
        let kid = header.kid.as_deref();
        let key = match self.key_for(kid, header.alg)? {
            Some(key) => key,
            None => {
                // Perhaps the issuer rotated its keys: look again once (rate limited) before refusing.
                self.refresh(self.options.min_refresh_interval).await;
                self.key_for(kid, header.alg)?.ok_or(match kid {
                    Some(_) => Reason::UnknownKey,
                    None => Reason::NoKeyId,
                })?
            }
        };
        let mut validation = Validation::new(key.alg);
        validation.leeway = self.options.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.options.issuer]);
        match &self.options.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                validation.set_required_spec_claims(&["exp", "iss", "aud"]);
            }
            None => {
                validation.validate_aud = false;
                validation.set_required_spec_claims(&["exp", "iss"]);
            }
        }
        jsonwebtoken::decode::<serde::de::IgnoredAny>(token, &key.key, &validation)
            .map(|_| ())
            .map_err(|e| reason(e.into_kind()))
    }

    /// The key a token with `kid` and `alg` must verify with; `None` when the key set has none such.
    fn key_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Option<Arc<SigningKey>>, Reason> {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        let found = match kid {
            Some(kid) => keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
            // Without a kid, only an issuer with a single key is unambiguous.
            None if keys.len() == 1 => keys.first(),
            None => None,
        };
        match found {
            Some(k) if k.alg != alg => Err(Reason::KeyAlgorithm {
                token: alg,
                key: k.alg,
            }),
            found => Ok(found.cloned()),
        }
    }

    /// Fetches the key set again unless the last fetch (or attempt) is younger than `unless_within`. Callers that
    /// wait while another fetches see its result and do not fetch again.
    async fn refresh(&self, unless_within: Duration) {
        let mut last = self.last_fetch.lock().await;
        if last.elapsed() < unless_within {
            return;
        }
        *last = Instant::now();
        match fetch(&self.http, &self.options.jwks_url).await {
            Ok(fetched) => {
                info!(
                    jwks_url = %self.options.jwks_url,
                    keys = fetched.keys.len(),
                    ignored = fetched.skipped,
                    "refreshed the issuer's signing keys"
                );
                *self.keys.write().unwrap_or_else(|e| e.into_inner()) = fetched.keys;
            }
            Err(e) => warn!(
                error = %chain(&e),
                "could not refresh the issuer's signing keys; keeping the ones held"
            ),
        }
    }
}

/// An error and its causes on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

async fn refresh_periodically(validator: Weak<JwtValidator>, every: Duration) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        ticks.tick().await;
        let Some(validator) = validator.upgrade() else {
            return;
        };
        // A fetch for an unknown kid within the interval already did the work.
        validator
            .refresh(validator.options.min_refresh_interval)
            .await;
    }
}

fn reason(kind: ErrorKind) -> Reason {
    match kind {
        ErrorKind::InvalidSignature => Reason::Signature,
        ErrorKind::ExpiredSignature => Reason::Expired,
        ErrorKind::ImmatureSignature => Reason::NotYetValid,
        ErrorKind::InvalidIssuer => Reason::Issuer,
        ErrorKind::InvalidAudience => Reason::Audience,
        ErrorKind::MissingRequiredClaim(c) => Reason::MissingClaim(c),
        ErrorKind::InvalidClaimFormat(c) => Reason::ClaimFormat(c),
        // Anything else (base64, JSON, a key that cannot verify) is a token that is not what it claims to be.
        _ => Reason::Malformed,
    }
}

/// GETs and parses the key set, keeping the usable signing keys.
async fn fetch(http: &reqwest::Client, url: &str) -> Result<Fetched, Error> {
    let failed = |source| Error::Fetch {
        url: url.to_owned(),
        source,
    };
    let mut response = http
        .get(url)
        .header(http::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(failed)?;
    let status = response.status();
    if !status.is_success() {
        return Err(Error::Status {
            url: url.to_owned(),
            status: status.as_u16(),
        });
    }
    let malformed = |reason: String| Error::Malformed {
        url: url.to_owned(),
        reason,
    };
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(malformed(format!(
                "it is larger than {MAX_JWKS_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    let fetched = parse_jwks(&body).map_err(malformed)?;
    if fetched.keys.is_empty() {
        return Err(Error::NoKeys {
            url: url.to_owned(),
            skipped: fetched.skipped,
        });
    }
    Ok(fetched)
}

/// The RS256 and ES256 signature keys of a JWKS document; other keys (encryption, symmetric, other curves and
/// algorithms, kinds this library does not know) are counted and skipped rather than failing the whole set.
fn parse_jwks(body: &[u8]) -> Result<Fetched, String> {
    #[derive(serde::Deserialize)]
    struct Set {
        keys: Vec<serde_json::Value>,
    }
    let set: Set = serde_json::from_slice(body)
        .map_err(|e| format!("it is not a JSON object with a 'keys' array ({e})"))?;
    let mut fetched = Fetched {
        keys: Vec::new(),
        skipped: 0,
    };
    for value in set.keys {
        match signing_key(value) {
            Some(key) => fetched.keys.push(Arc::new(key)),
            None => fetched.skipped += 1,
        }
    }
    Ok(fetched)
}

fn signing_key(value: serde_json::Value) -> Option<SigningKey> {
    let jwk: Jwk = serde_json::from_value(value).ok()?;
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return None;
    }
    let alg = match (&jwk.algorithm, jwk.common.key_algorithm) {
        (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
        (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
            if ec.curve == EllipticCurve::P256 =>
        {
            Algorithm::ES256
        }
        _ => return None,
    };
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some(SigningKey {
        kid: jwk.common.key_id,
        alg,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_keeps_rs256_and_es256_signature_keys_only() {
        let n = "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw";
        let body = serde_json::json!({ "keys": [
            { "kty": "RSA", "kid": "r", "use": "sig", "alg": "RS256", "n": n, "e": "AQAB" },
            { "kty": "RSA", "kid": "r-no-alg", "n": n, "e": "AQAB" },
            { "kty": "RSA", "kid": "enc", "use": "enc", "n": n, "e": "AQAB" },
            { "kty": "RSA", "kid": "ps", "alg": "PS256", "n": n, "e": "AQAB" },
            { "kty": "oct", "kid": "hmac", "k": "c2VjcmV0" },
            { "kty": "EC", "kid": "p384", "crv": "P-384", "x": "AA", "y": "AA" },
            { "kty": "weird", "kid": "unknown" },
        ]});
        let fetched = parse_jwks(body.to_string().as_bytes()).unwrap();
        let kept: Vec<_> = fetched
            .keys
            .iter()
            .map(|k| (k.kid.clone().unwrap(), k.alg))
            .collect();
        assert_eq!(
            kept,
            [
                ("r".to_owned(), Algorithm::RS256),
                ("r-no-alg".to_owned(), Algorithm::RS256)
            ]
        );
        assert_eq!(fetched.skipped, 5);
    }

    #[test]
    fn a_document_without_keys_is_malformed() {
        let e = parse_jwks(b"{\"issuer\": \"x\"}").unwrap_err();
        assert!(
            e.starts_with("it is not a JSON object with a 'keys' array"),
            "{e}"
        );
        assert!(parse_jwks(b"not json").is_err());
    }
}
