//! Gateway security, in process and through the real `apsis engine` binary: TLS with a CA and certificate made at
//! test time (the handshake works when the client trusts the CA and fails when not), static bearer tokens, and JWTs
//! checked against a JWKS this test serves on loopback (valid RS256/ES256 tokens; expired, not yet valid, wrong
//! issuer or audience, unknown kid, tampered, wrong algorithm refused; a rotated key picked up on its unknown kid;
//! refetching rate limited; an unusable JWKS stops the start). Every wait is bounded.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use apsis_proto as pb;
use apsis_server::gateway::auth::{self, Authenticator, JwtOptions};
use apsis_server::gateway::tls::{self, TlsIdentity};
use apsis_server::gateway::{self, Advertised, GatewayHub, GatewayService, ServeOptions};
use apsis_server::{Engine, EngineOptions};
use apsis_testkit::{EngineOpts, EngineProcess};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use pb::gateway_client::GatewayClient;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use serde_json::{json, Value};
use tonic::transport::{Certificate, Channel, ClientTlsConfig};
use tonic::{Code, Status};

const WAIT: Duration = Duration::from_secs(30);
const ISSUER: &str = "https://issuer.test/realms/apsis";
const AUDIENCE: &str = "apsis-gateway";

// ── certificates ─────────────────────────────────────────────────────────────────────────────────────────────

/// A test CA, a server certificate for `localhost`/127.0.0.1 signed by it (file: leaf then CA), its key, and an
/// unrelated key.
struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
    cert: PathBuf,
    key: PathBuf,
    other_key: PathBuf,
}

fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "apsis test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &*ca)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    Pki {
        ca_pem: ca.pem(),
        cert: write("cert.pem", format!("{}{}", leaf.pem(), ca.pem())),
        key: write("key.pem", leaf_key.serialize_pem()),
        other_key: write(
            "other-key.pem",
            KeyPair::generate().unwrap().serialize_pem(),
        ),
        dir,
    }
}

// ── the gateway in process ───────────────────────────────────────────────────────────────────────────────────

struct Gateway {
    addr: SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
    _engine: Engine,
    _dir: tempfile::TempDir,
}

async fn gateway(options: ServeOptions) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let hub = GatewayHub::new();
    let mut opts = EngineOptions::new(dir.path());
    opts.on_effects = Some(hub.effects_hook());
    let (engine, _) = Engine::start(opts).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let advertised = Advertised {
        host: "127.0.0.1".into(),
        port: addr.port() as i32,
    };
    let service = GatewayService::new(engine.handle(), &hub, advertised);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(gateway::serve(service, listener, options, async {
        let _ = stopped.await;
    }));
    Gateway {
        addr,
        _stop: stop,
        _engine: engine,
        _dir: dir,
    }
}

async fn plain_client(addr: SocketAddr) -> GatewayClient<Channel> {
    GatewayClient::connect(format!("http://{addr}"))
        .await
        .unwrap()
}

/// A TLS client for `localhost` at `addr`, trusting `ca` (none: trusting nothing).
async fn tls_client(
    addr: SocketAddr,
    ca: Option<&str>,
) -> Result<GatewayClient<Channel>, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new().domain_name("localhost");
    if let Some(ca) = ca {
        tls = tls.ca_certificate(Certificate::from_pem(ca));
    }
    let channel = Channel::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)?
        .connect_timeout(WAIT)
        .connect()
        .await?;
    Ok(GatewayClient::new(channel))
}

fn with_token<T>(message: T, token: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(token) = token {
        let value = format!("Bearer {token}").parse().unwrap();
        request.metadata_mut().insert("authorization", value);
    }
    request
}

async fn topology(
    client: &mut GatewayClient<Channel>,
    token: Option<&str>,
) -> Result<pb::TopologyResponse, Status> {
    tokio::time::timeout(
        WAIT,
        client.topology(with_token(pb::TopologyRequest {}, token)),
    )
    .await
    .expect("Topology answers within the bound")
    .map(|r| r.into_inner())
}

/// The call is refused UNAUTHENTICATED with exactly this message.
fn assert_refused(result: Result<impl std::fmt::Debug, Status>, message: &str) {
    let status = result.expect_err("the call is refused");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(status.message(), message);
}

// ── TLS ──────────────────────────────────────────────────────────────────────────────────────────────────────

#[tokio::test]
async fn tls_handshake_works_with_the_ca_and_fails_without_it() {
    let pki = pki();
    let identity = TlsIdentity::from_files(&pki.cert, &pki.key).unwrap();
    let gw = gateway(ServeOptions {
        tls: Some(identity),
        auth: None,
    })
    .await;

    let mut trusted = tls_client(gw.addr, Some(&pki.ca_pem)).await.unwrap();
    let t = topology(&mut trusted, None).await.unwrap();
    assert_eq!(t.gateway_version, gateway::GATEWAY_VERSION);

    // A client that does not trust the CA: the handshake fails (at connect, or at the first call).
    let untrusted = match tls_client(gw.addr, None).await {
        Err(e) => format!("{e:?}"),
        Ok(mut c) => format!("{:?}", topology(&mut c, None).await.unwrap_err()),
    };
    assert!(untrusted.contains("InvalidCertificate"), "{untrusted}");
    // A client trusting another CA (of the same name) fails the same way.
    let other = self::pki();
    let wrong_ca = match tls_client(gw.addr, Some(&other.ca_pem)).await {
        Err(e) => format!("{e:?}"),
        Ok(mut c) => format!("{:?}", topology(&mut c, None).await.unwrap_err()),
    };
    assert!(wrong_ca.contains("InvalidCertificate"), "{wrong_ca}");
    // A plaintext client gets no gRPC answer from a TLS port.
    let plain = match GatewayClient::connect(format!("http://{}", gw.addr)).await {
        Err(_) => true,
        Ok(mut c) => topology(&mut c, None).await.is_err(),
    };
    assert!(plain, "plaintext is not served on a TLS port");
}

#[test]
fn tls_files_are_checked_and_errors_name_the_file() {
    let pki = pki();
    let missing = pki.dir.path().join("missing.pem");
    let empty = pki.dir.path().join("empty.pem");
    std::fs::write(&empty, "no PEM here\n").unwrap();
    let broken = pki.dir.path().join("broken.pem");
    std::fs::write(
        &broken,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let cases: [(&Path, &Path, String); 6] = [
        (
            &missing,
            &pki.key,
            format!(
                "Expected to read the TLS certificate file {}, but it could not be read",
                missing.display()
            ),
        ),
        (
            &pki.cert,
            &missing,
            format!(
                "Expected to read the TLS key file {}, but it could not be read",
                missing.display()
            ),
        ),
        (
            &empty,
            &pki.key,
            format!(
                "Expected the TLS certificate file {} to hold a PEM certificate chain (-----BEGIN CERTIFICATE-----), \
                 but it holds no certificate",
                empty.display()
            ),
        ),
        (
            &broken,
            &pki.key,
            format!(
                "Expected the TLS certificate file {} to hold a PEM certificate chain (-----BEGIN CERTIFICATE-----), \
                 but a PEM section has no END line",
                broken.display()
            ),
        ),
        (
            &pki.cert,
            &pki.cert,
            format!(
                "Expected the TLS key file {} to hold a PEM private key (PKCS#8, PKCS#1 or SEC1), but it holds no \
                 private key (an encrypted key must be decrypted first)",
                pki.cert.display()
            ),
        ),
        (
            &pki.cert,
            &pki.other_key,
            format!(
                "Expected the private key {} to belong to the certificate {} and to suit TLS, but the key's public \
                 key is not the certificate's (are the files from the same pair?)",
                pki.other_key.display(),
                pki.cert.display()
            ),
        ),
    ];
    for (cert, key, expected) in cases {
        let e = TlsIdentity::from_files(cert, key).unwrap_err();
        assert_eq!(e.to_string(), expected);
    }
    assert!(matches!(
        TlsIdentity::from_files(&missing, &pki.key),
        Err(tls::Error::Read { .. })
    ));
}

// ── static token ─────────────────────────────────────────────────────────────────────────────────────────────

#[tokio::test]
async fn static_token_is_required_on_every_call() {
    let token = "9f1c-static-token";
    let gw = gateway(ServeOptions {
        tls: None,
        auth: Some(Authenticator::static_token(token)),
    })
    .await;
    let mut c = plain_client(gw.addr).await;

    assert!(topology(&mut c, Some(token)).await.is_ok());
    assert_refused(topology(&mut c, None).await, auth::MISSING);
    assert_refused(
        topology(&mut c, Some("9f1c-static-tokeN")).await,
        "Expected a valid bearer token, but it is not the configured token",
    );
    // Not a bearer token at all.
    let mut basic = tonic::Request::new(pb::TopologyRequest {});
    basic
        .metadata_mut()
        .insert("authorization", "Basic dXNlcjpwYXNz".parse().unwrap());
    let status = c.topology(basic).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(!status.message().contains("dXNlcjpwYXNz"), "{status:?}");

    // A streaming RPC and a command are guarded the same way; with the token they reach the engine.
    let activate = pb::ActivateJobsRequest {
        r#type: "work".into(),
        worker: "w".into(),
        timeout: 1000,
        max_jobs_to_activate: 1,
        request_timeout: -1,
        ..Default::default()
    };
    assert_refused(
        c.activate_jobs(with_token(activate.clone(), None)).await,
        auth::MISSING,
    );
    assert!(c
        .activate_jobs(with_token(activate, Some(token)))
        .await
        .is_ok());
    let publish = pb::PublishMessageRequest {
        name: "m".into(),
        correlation_key: "k".into(),
        ..Default::default()
    };
    assert_refused(
        c.publish_message(with_token(publish.clone(), Some("wrong")))
            .await,
        "Expected a valid bearer token, but it is not the configured token",
    );
    assert!(c
        .publish_message(with_token(publish, Some(token)))
        .await
        .is_ok());
}

// ── JWT ──────────────────────────────────────────────────────────────────────────────────────────────────────

/// A signing key of the test issuer and its public JWK.
struct TestKey {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
}

/// The PKCS#1 key inside a PKCS#8 `PrivateKeyInfo` (jsonwebtoken signs RS256 with PKCS#1 DER).
fn pkcs8_inner(der: &[u8]) -> Vec<u8> {
    // (tag, value, rest) of one DER element.
    fn element(b: &[u8]) -> (u8, &[u8], &[u8]) {
        let (len, head) = if b[1] < 0x80 {
            (b[1] as usize, 2)
        } else {
            let n = (b[1] & 0x7f) as usize;
            let len = b[2..2 + n].iter().fold(0, |a, &x| (a << 8) | x as usize);
            (len, 2 + n)
        };
        (b[0], &b[head..head + len], &b[head + len..])
    }
    let (_, info, _) = element(der);
    let (_, _, rest) = element(info); // version
    let (_, _, rest) = element(rest); // algorithm
    let (tag, key, _) = element(rest);
    assert_eq!(tag, 0x04, "privateKey OCTET STRING");
    key.to_vec()
}

fn test_key(kid: &str, alg: Algorithm) -> TestKey {
    let encoding = match alg {
        Algorithm::RS256 => {
            let pair = KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
            EncodingKey::from_rsa_der(&pkcs8_inner(&pair.serialize_der()))
        }
        Algorithm::ES256 => {
            let pair = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
            EncodingKey::from_ec_der(&pair.serialize_der())
        }
        other => panic!("no test keys for {other:?}"),
    };
    let mut jwk = Jwk::from_encoding_key(&encoding, alg).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    TestKey {
        kid: kid.to_owned(),
        alg,
        encoding,
        jwk: serde_json::to_value(&jwk).unwrap(),
    }
}

/// Keys made once for all tests (RSA generation is slow in a debug build).
struct Keys {
    rsa: TestKey,
    ec: TestKey,
    rotated: TestKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        rsa: test_key("rsa-1", Algorithm::RS256),
        ec: test_key("ec-1", Algorithm::ES256),
        rotated: test_key("rsa-2", Algorithm::RS256),
    })
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Claims a valid token carries; tests change one at a time.
fn claims() -> Value {
    json!({ "iss": ISSUER, "aud": [AUDIENCE, "other"], "sub": "worker-1", "iat": now(), "exp": now() + 300 })
}

fn sign(key: &TestKey, claims: &Value) -> String {
    let mut header = Header::new(key.alg);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

/// A JWKS served on loopback; its keys can be changed, and its fetches are counted.
struct Jwks {
    url: String,
    addr: SocketAddr,
    keys: Arc<Mutex<Vec<Value>>>,
    hits: Arc<AtomicUsize>,
}

async fn serve_jwks(keys: Vec<Value>) -> Jwks {
    let keys = Arc::new(Mutex::new(keys));
    let hits = Arc::new(AtomicUsize::new(0));
    let (k, h) = (keys.clone(), hits.clone());
    let router = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || async move {
            h.fetch_add(1, Ordering::SeqCst);
            let body = json!({ "keys": *k.lock().unwrap() }).to_string();
            ([(http::header::CONTENT_TYPE, "application/json")], body)
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Jwks {
        url: format!("http://{addr}/jwks"),
        addr,
        keys,
        hits,
    }
}

fn jwt_options(jwks: &Jwks) -> JwtOptions {
    let mut o = JwtOptions::new(ISSUER, &jwks.url);
    o.audience = Some(AUDIENCE.to_owned());
    o
}

async fn jwt_gateway(options: JwtOptions) -> (Gateway, GatewayClient<Channel>) {
    let auth = Authenticator::jwt(options).await.unwrap();
    let gw = gateway(ServeOptions {
        tls: None,
        auth: Some(auth),
    })
    .await;
    let client = plain_client(gw.addr).await;
    (gw, client)
}

#[tokio::test]
async fn jwt_signed_by_the_issuer_is_accepted() {
    let k = keys();
    let jwks = serve_jwks(vec![k.rsa.jwk.clone(), k.ec.jwk.clone()]).await;
    let (_gw, mut c) = jwt_gateway(jwt_options(&jwks)).await;
    for key in [&k.rsa, &k.ec] {
        let token = sign(key, &claims());
        let t = topology(&mut c, Some(&token)).await;
        assert!(t.is_ok(), "{:?}: {t:?}", key.alg);
    }
    // `aud` as a single string, and no audience configured at all.
    let mut single = claims();
    single["aud"] = json!(AUDIENCE);
    assert!(topology(&mut c, Some(&sign(&k.rsa, &single))).await.is_ok());
    let (_gw2, mut any_audience) = jwt_gateway(JwtOptions::new(ISSUER, &jwks.url)).await;
    let mut no_aud = claims();
    no_aud.as_object_mut().unwrap().remove("aud");
    assert!(topology(&mut any_audience, Some(&sign(&k.ec, &no_aud)))
        .await
        .is_ok());
}

#[tokio::test]
async fn jwt_refusals_say_why_and_never_echo_the_token() {
    let k = keys();
    let jwks = serve_jwks(vec![k.rsa.jwk.clone(), k.ec.jwk.clone()]).await;
    let (_gw, mut c) = jwt_gateway(jwt_options(&jwks)).await;
    let with = |field: &str, value: Value| {
        let mut c = claims();
        c[field] = value;
        c
    };
    let without = |field: &str| {
        let mut c = claims();
        c.as_object_mut().unwrap().remove(field);
        c
    };
    let valid = sign(&k.rsa, &claims());
    let parts: Vec<&str> = valid.split('.').collect();
    // The signature with one byte in its middle changed.
    let mut signature = parts[2].to_owned().into_bytes();
    let middle = signature.len() / 2;
    signature[middle] = if signature[middle] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let tampered_signature = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        String::from_utf8(signature).unwrap()
    );
    // Another payload under the original signature.
    let other_payload = sign(&k.rsa, &with("sub", json!("admin")));
    let tampered_payload = format!(
        "{}.{}.{}",
        parts[0],
        other_payload.split('.').nth(1).unwrap(),
        parts[2]
    );
    // HS256 "signed" with the issuer's public key material, naming the RSA key.
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(k.rsa.kid.clone());
    let hs256 = jsonwebtoken::encode(
        &hs,
        &claims(),
        &EncodingKey::from_secret(k.rsa.jwk.to_string().as_bytes()),
    )
    .unwrap();
    let mut wrong_kid = Header::new(Algorithm::RS256);
    wrong_kid.kid = Some(k.ec.kid.clone());
    let rs_under_ec_kid = jsonwebtoken::encode(&wrong_kid, &claims(), &k.rsa.encoding).unwrap();

    let cases: Vec<(&str, String, &str)> = vec![
        (
            "expired",
            sign(&k.rsa, &with("exp", json!(now() - 120))),
            "it has expired (exp)",
        ),
        (
            "not yet valid",
            sign(&k.ec, &with("nbf", json!(now() + 120))),
            "it is not valid yet (nbf)",
        ),
        (
            "wrong issuer",
            sign(&k.rsa, &with("iss", json!("https://evil.test"))),
            "it was issued by another issuer than the configured one (iss)",
        ),
        (
            "no issuer",
            sign(&k.rsa, &without("iss")),
            "it lacks the required claim 'iss'",
        ),
        (
            "wrong audience",
            sign(&k.ec, &with("aud", json!(["other"]))),
            "it is not meant for the configured audience (aud)",
        ),
        (
            "no audience",
            sign(&k.ec, &without("aud")),
            "it lacks the required claim 'aud'",
        ),
        (
            "no expiry",
            sign(&k.rsa, &without("exp")),
            "it lacks the required claim 'exp'",
        ),
        (
            "unknown kid",
            sign(&k.rotated, &claims()),
            "it is signed with a key (kid) the issuer does not publish",
        ),
        (
            "tampered signature",
            tampered_signature,
            "its signature does not verify with the issuer's key",
        ),
        (
            "tampered payload",
            tampered_payload,
            "its signature does not verify with the issuer's key",
        ),
        (
            "HS256",
            hs256,
            "it is signed with HS256, and only RS256 and ES256 are accepted",
        ),
        (
            "key of another algorithm",
            rs_under_ec_kid,
            "it is signed with RS256, while the issuer's key it names is for ES256",
        ),
        (
            "alg none",
            format!("{}.{}.", b64(r#"{"alg":"none"}"#), parts[1]),
            "it is not a well-formed JWT",
        ),
        (
            "garbage",
            "not-a-jwt".to_owned(),
            "it is not a well-formed JWT",
        ),
    ];
    for (name, token, reason) in cases {
        let status = topology(&mut c, Some(&token)).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{name}: {status:?}");
        assert_eq!(
            status.message(),
            format!("Expected a valid bearer token, but {reason}"),
            "{name}"
        );
        assert!(
            !status.message().contains(&token),
            "{name} echoes the token"
        );
    }
    assert!(
        topology(&mut c, Some(&valid)).await.is_ok(),
        "the untampered token still works"
    );
}

/// Unpadded base64url, as JWTs use.
fn b64(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |a, (i, &b)| a | (b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[tokio::test]
async fn jwt_signed_with_a_rotated_key_is_accepted_once_the_jwks_publishes_it() {
    let k = keys();
    let jwks = serve_jwks(vec![k.rsa.jwk.clone()]).await;
    let mut options = jwt_options(&jwks);
    options.min_refresh_interval = Duration::ZERO;
    let (_gw, mut c) = jwt_gateway(options).await;
    assert_eq!(jwks.hits.load(Ordering::SeqCst), 1, "fetched at start");
    let rotated = sign(&k.rotated, &claims());

    // Not published yet: the unknown kid makes the gateway look again, then refuse.
    assert_refused(
        topology(&mut c, Some(&rotated)).await,
        "Expected a valid bearer token, but it is signed with a key (kid) the issuer does not publish",
    );
    assert_eq!(jwks.hits.load(Ordering::SeqCst), 2);

    // The issuer rotates: the new key is published next to the old one.
    jwks.keys.lock().unwrap().push(k.rotated.jwk.clone());
    assert!(topology(&mut c, Some(&rotated)).await.is_ok());
    assert_eq!(jwks.hits.load(Ordering::SeqCst), 3);
    // Known keys are served from the cache.
    assert!(topology(&mut c, Some(&rotated)).await.is_ok());
    assert!(topology(&mut c, Some(&sign(&k.rsa, &claims())))
        .await
        .is_ok());
    assert_eq!(jwks.hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn jwt_unknown_kids_cause_at_most_one_fetch_per_interval() {
    let k = keys();
    let jwks = serve_jwks(vec![k.rsa.jwk.clone()]).await;
    let mut options = jwt_options(&jwks);
    options.min_refresh_interval = Duration::from_secs(3600);
    let (_gw, mut c) = jwt_gateway(options).await;
    jwks.keys.lock().unwrap().push(k.rotated.jwk.clone());
    let rotated = sign(&k.rotated, &claims());
    for _ in 0..5 {
        assert_refused(
            topology(&mut c, Some(&rotated)).await,
            "Expected a valid bearer token, but it is signed with a key (kid) the issuer does not publish",
        );
    }
    assert_eq!(
        jwks.hits.load(Ordering::SeqCst),
        1,
        "no fetch within the minimum interval after the start"
    );
}

#[tokio::test]
async fn jwt_mode_does_not_start_without_the_issuers_keys() {
    let k = keys();
    // Nothing listens there.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let url = format!("http://{closed}/jwks");
    let e = Authenticator::jwt(JwtOptions::new(ISSUER, &url))
        .await
        .unwrap_err();
    assert!(matches!(e, auth::Error::Fetch { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "Expected to fetch the issuer's signing keys (JWKS) from {url}, but the request failed"
        )
    );

    let jwks = serve_jwks(Vec::new()).await;
    let not_found = format!("http://{}/no-such-path", jwks.addr);
    let e = Authenticator::jwt(JwtOptions::new(ISSUER, &not_found))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "Expected the issuer's signing keys (JWKS) at {not_found}, but it answered HTTP 404"
        )
    );

    let e = Authenticator::jwt(JwtOptions::new(ISSUER, &jwks.url))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "Expected {} to publish at least one RS256 or ES256 signing key, but it publishes none (0 other keys \
             ignored)",
            jwks.url
        )
    );
    jwks.keys.lock().unwrap().push(k.ec.jwk.clone());
    assert!(Authenticator::jwt(JwtOptions::new(ISSUER, &jwks.url))
        .await
        .is_ok());
}

// ── the real binary ──────────────────────────────────────────────────────────────────────────────────────────

/// `apsis engine` with a clean environment, JSON logs, free ports and `config`; killed if the test ends first.
fn start_apsis(config: &Path) -> EngineProcess {
    EngineProcess::spawn(EngineOpts::new(env!("CARGO_BIN_EXE_apsis")).config(config, true))
}

fn config_file(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("apsis.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn apsis_engine_serves_tls_with_a_static_token() {
    let pki = pki();
    let token = "binary-test-token-7d2e";
    let config = config_file(
        pki.dir.path(),
        &format!(
            "[gateway]\naddress = \"127.0.0.1:0\"\n[gateway.tls]\ncert = {:?}\nkey = {:?}\n\
             [gateway.auth]\nmode = \"static-token\"\ntoken = {token:?}\n",
            pki.cert.display().to_string(),
            pki.key.display().to_string()
        ),
    );
    let apsis = start_apsis(&config);
    let configured = apsis.wait_for_log("gateway security configured");
    assert_eq!(configured["tls"], true);
    assert_eq!(configured["auth"], "static-token");
    let ready = apsis.wait_for_log("apsis engine ready");
    let addr: SocketAddr = ready["gateway_address"].as_str().unwrap().parse().unwrap();

    let mut c = tls_client(addr, Some(&pki.ca_pem)).await.unwrap();
    let t = topology(&mut c, Some(token)).await.unwrap();
    assert_eq!(t.gateway_version, gateway::GATEWAY_VERSION);
    assert_eq!(t.brokers[0].port, addr.port() as i32);
    assert_refused(topology(&mut c, None).await, auth::MISSING);
    assert_refused(
        topology(&mut c, Some("binary-test-token-7d2f")).await,
        "Expected a valid bearer token, but it is not the configured token",
    );

    apsis.terminate();
    let (code, log) = apsis.exit();
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains(token), "the token never reaches the log");
}

#[test]
fn apsis_engine_refuses_to_start_with_unusable_security_settings() {
    let pki = pki();
    let missing = pki.dir.path().join("missing-cert.pem");
    let config = config_file(
        pki.dir.path(),
        &format!(
            "[gateway]\naddress = \"127.0.0.1:0\"\n[gateway.tls]\ncert = {:?}\nkey = {:?}\n",
            missing.display().to_string(),
            pki.key.display().to_string()
        ),
    );
    let (code, log) = start_apsis(&config).exit();
    assert_eq!(code, Some(2), "{log}");
    assert!(
        log.contains(&format!(
            "apsis: Expected to read the TLS certificate file {}, but it could not be read",
            missing.display()
        )),
        "{log}"
    );
    assert!(!log.contains("panicked"), "{log}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = config_file(
        pki.dir.path(),
        &format!(
            "[gateway]\naddress = \"127.0.0.1:0\"\n[gateway.auth]\nmode = \"jwt\"\nissuer = {ISSUER:?}\n\
             jwks_url = \"http://{closed}/jwks\"\n"
        ),
    );
    let (code, log) = start_apsis(&config).exit();
    assert_eq!(code, Some(2), "{log}");
    assert!(
        log.contains(
            "apsis: Expected to load the signing keys of gateway.auth.issuer from gateway.auth.jwks_url, but could not"
        ),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "because: Expected to fetch the issuer's signing keys (JWKS) from http://{closed}/jwks, but the request failed"
        )),
        "{log}"
    );
}
