//! The `apsis` client commands against a real `apsis engine` serving TLS with authentication: a CA and server
//! certificate made at test time (rcgen), a static token, and OAuth client credentials where a token endpoint on
//! loopback issues JWTs the engine checks against the JWKS served next to it. What is asserted is what a user sees:
//! exit codes and the sentences on stderr. Every wait is bounded and every child is killed when its test ends.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use apsis_testkit::{EngineOpts, EngineProcess, Ran};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use serde_json::{json, Value};

const TOKEN: &str = "cli-static-token-5f1c";
const ISSUER: &str = "https://issuer.test/realms/apsis";
const AUDIENCE: &str = "apsis-gateway";
const CLIENT_ID: &str = "cli-worker";
const CLIENT_SECRET: &str = "cli-client-secret-9a";

const GREET: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="greet" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"#;

/// A temporary directory with a CA (`ca.pem`), a certificate for localhost/127.0.0.1 signed by it with its key,
/// an unrelated CA (`other-ca.pem`), the engine's config and a BPMN file.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        let ca = |name: &str| {
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.distinguished_name.push(DnType::CommonName, name);
            CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
        };
        let (ca, other) = (ca("apsis test CA"), ca("apsis test CA"));
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&key, &*ca)
            .unwrap();
        let files = Files { dir };
        files.write("ca.pem", &ca.pem());
        files.write("other-ca.pem", &other.pem());
        files.write("cert.pem", &format!("{}{}", leaf.pem(), ca.pem()));
        files.write("key.pem", &key.serialize_pem());
        files.write("greet.bpmn", GREET);
        files
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// `apsis engine` serving TLS with `auth` (a `[gateway.auth]` body); its gateway's https URL once it is ready.
fn engine(files: &Files, auth: &str) -> (EngineProcess, String) {
    let config = files.write(
        "apsis.toml",
        &format!(
            "[gateway]\naddress = \"127.0.0.1:0\"\n[gateway.tls]\ncert = {:?}\nkey = {:?}\n[gateway.auth]\n{auth}",
            files.arg("cert.pem"),
            files.arg("key.pem"),
        ),
    );
    let opts = EngineOpts::new(env!("CARGO_BIN_EXE_apsis"))
        .config(config, true)
        .data_dir(files.path("data"));
    let engine = EngineProcess::spawn(opts);
    let url = engine.gateway_url();
    (engine, url)
}

/// Runs `apsis ARGS` with a clean environment plus `env`, bounded.
fn apsis(args: &[&str], env: &[(&str, &str)]) -> Ran {
    let mut command = Command::new(env!("CARGO_BIN_EXE_apsis"));
    command.args(args).env_clear().envs(env.iter().copied());
    Ran::from(apsis_testkit::run(&mut command))
}

/// The refusals of this suite: exit `code` with stderr starting with a sentence.
trait Refused {
    fn refused(self, code: i32, stderr_starts: &str) -> Ran;
}

impl Refused for Ran {
    #[track_caller]
    fn refused(self, code: i32, stderr_starts: &str) -> Ran {
        assert_eq!(self.code, code, "{self:#?}");
        assert!(self.stderr.starts_with(stderr_starts), "{self:#?}");
        self
    }
}

/// `status` and `deploy` work, each with `connection` (flags) and `env`.
fn status_and_deploy_work(files: &Files, connection: &[&str], env: &[(&str, &str)]) {
    let mut args = vec!["status", "--json"];
    args.extend(connection);
    let v: Value = serde_json::from_str(&apsis(&args, env).ok().stdout).unwrap();
    assert_eq!(v["brokers"][0]["partitions"][0]["role"], "LEADER", "{v}");
    let bpmn = files.arg("greet.bpmn");
    let mut args = vec!["deploy", bpmn.as_str()];
    args.extend(connection);
    let r = apsis(&args, env);
    r.ok();
    assert!(r.stdout.contains("process 'greet' version 1"), "{r:#?}");
}

#[test]
fn tls_with_a_ca_file_and_a_static_token() {
    let files = Files::new();
    let (_engine, url) = engine(
        &files,
        &format!("mode = \"static-token\"\ntoken = {TOKEN:?}\n"),
    );
    let ca = files.arg("ca.pem");
    status_and_deploy_work(
        &files,
        &["--address", &url, "--ca-cert", &ca, "--token", TOKEN],
        &[],
    );
    // The same from the variables Zeebe's clients read, with the address in zbctl's host:port form and TLS on
    // because a CA certificate is given.
    let host_port = url.trim_start_matches("https://");
    status_and_deploy_work(
        &files,
        &[],
        &[
            ("ZEEBE_ADDRESS", host_port),
            ("ZEEBE_CA_CERTIFICATE_PATH", &ca),
            ("APSIS_TOKEN", TOKEN),
        ],
    );

    // A CA that did not sign the gateway's certificate: a TLS sentence saying what to check, exit 3.
    let other = files.arg("other-ca.pem");
    let r = apsis(
        &[
            "status",
            "--address",
            &url,
            "--ca-cert",
            &other,
            "--token",
            TOKEN,
        ],
        &[],
    );
    let r = r.refused(
        3,
        &format!("apsis: Expected a TLS handshake with the gateway at {url}, but it failed ("),
    );
    assert!(
        r.stderr
            .contains("check that the CA certificate (--ca-cert)"),
        "{r:#?}"
    );
    // Plaintext to a TLS port: a sentence that points at TLS.
    let plain = url.replace("https://", "http://");
    apsis(&["status", "--address", &plain, "--token", TOKEN], &[]).refused(
        3,
        &format!("apsis: Expected a plaintext Zeebe gateway at {plain}, but the server broke off the HTTP/2 connection: if it serves TLS, use https://"),
    );
    // Without --ca-cert the system's and Mozilla's roots are trusted, and the test CA is in neither.
    apsis(&["status", "--address", &url, "--token", TOKEN], &[]).refused(
        3,
        &format!("apsis: Expected a TLS handshake with the gateway at {url}, but it failed (invalid peer certificate: UnknownIssuer)"),
    );
    // No token, or a wrong one: refused with what to pass, exit 1; never a raw gRPC dump.
    let r = apsis(&["status", "--address", &url, "--ca-cert", &ca], &[]).refused(
        1,
        "apsis: Could not read the cluster topology: the gateway requires credentials: pass --token, or \
         --client-id and --client-secret for OAuth",
    );
    assert!(!r.stderr.contains("Status {"), "{r:#?}");
    let r = apsis(
        &[
            "status",
            "--address",
            &url,
            "--ca-cert",
            &ca,
            "--token",
            "wrong",
        ],
        &[],
    )
    .refused(
        1,
        "apsis: Could not read the cluster topology: the gateway refused the token; check --token",
    );
    assert!(r.stderr.contains("Expected a valid bearer token"), "{r:#?}");
    assert!(
        !r.stderr.contains(TOKEN) && !r.stderr.contains("wrong"),
        "{r:#?}"
    );
}

// ── OAuth ─────────────────────────────────────────────────────────────────────────────────────────────────────

/// An authorization server on loopback: `POST /token` (client credentials) issues ES256 JWTs, the first
/// `expired_first` of them already expired; `GET /jwks` publishes the key.
struct Issuer {
    url: String,
    jwks_url: String,
    hits: Arc<AtomicUsize>,
    expired_first: Arc<AtomicUsize>,
    forms: Arc<Mutex<Vec<String>>>,
}

fn issuer() -> Issuer {
    let pair = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let key = EncodingKey::from_ec_der(&pair.serialize_der());
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap();
    jwk.common.key_id = Some("k1".to_owned());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    let jwks = json!({ "keys": [jwk] }).to_string();
    let (hits, expired_first) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let forms = Arc::new(Mutex::new(Vec::new()));
    let (h, e, f) = (hits.clone(), expired_first.clone(), forms.clone());
    let token = move |form: String| {
        let n = h.fetch_add(1, Ordering::SeqCst);
        let ok = form.contains(&format!("client_secret={CLIENT_SECRET}"))
            && form.contains("grant_type=client_credentials");
        f.lock().unwrap().push(form);
        if !ok {
            return (
                http::StatusCode::UNAUTHORIZED,
                r#"{"error":"invalid_client"}"#.to_owned(),
            );
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let exp = if n < e.load(Ordering::SeqCst) {
            now - 600
        } else {
            now + 300
        };
        let claims =
            json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": CLIENT_ID, "iat": now, "exp": exp });
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("k1".to_owned());
        let jwt = jsonwebtoken::encode(&header, &claims, &key).unwrap();
        // expires_in says an hour even for the expired token: only the gateway's refusal reveals it.
        let body = json!({ "access_token": jwt, "token_type": "Bearer", "expires_in": 3600 });
        (http::StatusCode::OK, body.to_string())
    };
    let router = axum::Router::new()
        .route(
            "/token",
            axum::routing::post(move |form: String| std::future::ready(token(form))),
        )
        .route(
            "/jwks",
            axum::routing::get(move || std::future::ready(jwks.clone())),
        );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, router).await
        })
    });
    Issuer {
        url: format!("http://{addr}/token"),
        jwks_url: format!("http://{addr}/jwks"),
        hits,
        expired_first,
        forms,
    }
}

fn oauth_flags<'a>(issuer: &'a Issuer, url: &'a str, ca: &'a str, secret: &'a str) -> Vec<&'a str> {
    vec![
        "--address",
        url,
        "--ca-cert",
        ca,
        "--client-id",
        CLIENT_ID,
        "--client-secret",
        secret,
        "--authorization-server-url",
        &issuer.url,
        "--audience",
        AUDIENCE,
    ]
}

#[test]
fn tls_with_oauth_client_credentials_checked_by_the_engine_against_the_jwks() {
    let files = Files::new();
    let issuer = issuer();
    let auth = format!(
        "mode = \"jwt\"\nissuer = {ISSUER:?}\naudience = {AUDIENCE:?}\njwks_url = {:?}\n",
        issuer.jwks_url
    );
    let (_engine, url) = engine(&files, &auth);
    let ca = files.arg("ca.pem");

    // One token per run of the CLI, used for every call it makes.
    status_and_deploy_work(&files, &oauth_flags(&issuer, &url, &ca, CLIENT_SECRET), &[]);
    assert_eq!(issuer.hits.load(Ordering::SeqCst), 2);
    let form = issuer.forms.lock().unwrap()[0].clone();
    assert!(
        form.contains(&format!("audience={AUDIENCE}"))
            && form.contains(&format!("client_id={CLIENT_ID}")),
        "{form}"
    );

    // The same from the variables a Camunda credentials file sets.
    let host_port = url.trim_start_matches("https://").to_owned();
    let env = [
        ("ZEEBE_ADDRESS", host_port.as_str()),
        ("ZEEBE_CLIENT_ID", CLIENT_ID),
        ("ZEEBE_CLIENT_SECRET", CLIENT_SECRET),
        ("ZEEBE_AUTHORIZATION_SERVER_URL", &issuer.url),
        ("ZEEBE_TOKEN_AUDIENCE", AUDIENCE),
        ("ZEEBE_CA_CERTIFICATE_PATH", &ca),
    ];
    apsis(&["status"], &env).ok();

    // A token the gateway refuses (expired, though the token endpoint said it lasts an hour) is replaced once.
    let before = issuer.hits.load(Ordering::SeqCst);
    issuer.expired_first.store(before + 1, Ordering::SeqCst);
    let mut args = vec!["status"];
    args.extend(oauth_flags(&issuer, &url, &ca, CLIENT_SECRET));
    apsis(&args, &[]).ok();
    assert_eq!(issuer.hits.load(Ordering::SeqCst), before + 2);

    // A wrong secret: the authorization server's answer, what to check, exit 1, and never the secret.
    let mut args = vec!["status"];
    args.extend(oauth_flags(&issuer, &url, &ca, "wrong-secret-x"));
    let r = apsis(&args, &[]).refused(
        1,
        &format!(
            "apsis: Expected an OAuth token from {}, but the server answered 401: {{\"error\":\"invalid_client\"}}. \
             Check the client id and secret",
            issuer.url
        ),
    );
    assert!(!r.stderr.contains("wrong-secret-x"), "{r:#?}");
}
