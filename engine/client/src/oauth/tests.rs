//! The provider against a real token endpoint on loopback (axum), with a clock moved by hand.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use super::*;
use crate::options::Secret;

const SECRET: &str = "s3cret-client-secret";

/// A token endpoint answering each request with the next of `answers` (the last one repeats), recording every form.
struct Endpoint {
    url: String,
    forms: Arc<Mutex<Vec<BTreeMap<String, String>>>>,
    hits: Arc<AtomicUsize>,
}

async fn endpoint(answers: Vec<(StatusCode, String)>) -> Endpoint {
    let forms = Arc::new(Mutex::new(Vec::new()));
    let hits = Arc::new(AtomicUsize::new(0));
    let (f, h) = (forms.clone(), hits.clone());
    let router = axum::Router::new().route(
        "/token",
        axum::routing::post(move |body: String| async move {
            let n = h.fetch_add(1, Ordering::SeqCst);
            f.lock().unwrap().push(
                form_urlencoded::parse(body.as_bytes())
                    .into_owned()
                    .collect(),
            );
            answers[n.min(answers.len() - 1)].clone()
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Endpoint {
        url: format!("http://{addr}/token"),
        forms,
        hits,
    }
}

fn token(access: &str, expires_in: u64) -> (StatusCode, String) {
    (
        StatusCode::OK,
        format!(r#"{{"access_token":"{access}","token_type":"Bearer","expires_in":{expires_in}}}"#),
    )
}

fn options(url: &str, scope: Option<&str>) -> OAuthOptions {
    OAuthOptions {
        client_id: "worker-1".to_owned(),
        client_secret: Secret::new(SECRET),
        authorization_server_url: url.to_owned(),
        audience: None,
        scope: scope.map(str::to_owned),
    }
}

fn provider(e: &Endpoint, scope: Option<&str>) -> (TokenProvider, Arc<Mutex<Instant>>) {
    let now = Arc::new(Mutex::new(Instant::now()));
    let p = TokenProvider::new(
        &options(&e.url, scope),
        "gw.example",
        None,
        Duration::from_secs(5),
    )
    .unwrap()
    .with_clock(Clock::Manual(now.clone()));
    (p, now)
}

#[tokio::test]
async fn a_token_is_fetched_once_and_cached_across_calls() {
    let e = endpoint(vec![token("t-1", 3600), token("t-2", 3600)]).await;
    let (p, _) = provider(&e, Some("zeebe"));
    for _ in 0..3 {
        assert_eq!(p.header().await.unwrap(), "Bearer t-1");
    }
    assert_eq!(e.hits.load(Ordering::SeqCst), 1);
    let form = e.forms.lock().unwrap()[0].clone();
    let expected: BTreeMap<String, String> = [
        ("grant_type", "client_credentials"),
        ("client_id", "worker-1"),
        ("client_secret", SECRET),
        // No audience configured: the gateway's host, as Zeebe's clients ask for.
        ("audience", "gw.example"),
        ("scope", "zeebe"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(form, expected);
    assert!(p.header().await.unwrap().is_sensitive());
}

#[tokio::test]
async fn a_token_is_replaced_before_it_expires() {
    let e = endpoint(vec![token("t-1", 120), token("t-2", 120)]).await;
    let (p, now) = provider(&e, None);
    assert_eq!(p.header().await.unwrap(), "Bearer t-1");
    assert!(!e.forms.lock().unwrap()[0].contains_key("scope"));
    // 89 s into a 120 s token: still used (replaced 30 s before it expires).
    *now.lock().unwrap() += Duration::from_secs(89);
    assert_eq!(p.header().await.unwrap(), "Bearer t-1");
    *now.lock().unwrap() += Duration::from_secs(2);
    assert_eq!(p.header().await.unwrap(), "Bearer t-2");
    assert_eq!(e.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_refused_token_is_fetched_again_unless_already_replaced() {
    let e = endpoint(vec![token("t-1", 3600), token("t-2", 3600)]).await;
    let (p, _) = provider(&e, None);
    let first = p.header().await.unwrap();
    p.invalidate(&first).await;
    let second = p.header().await.unwrap();
    assert_eq!(second, "Bearer t-2");
    // A late refusal of the first token must not throw away the second.
    p.invalidate(&first).await;
    assert_eq!(p.header().await.unwrap(), second);
    assert_eq!(e.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn refusals_and_bad_answers_are_sentences_without_the_secret() {
    let body = format!(r#"{{"error":"invalid_client","echo":"{SECRET}"}}"#);
    let e = endpoint(vec![(StatusCode::UNAUTHORIZED, body)]).await;
    let (p, _) = provider(&e, None);
    let err = p.header().await.unwrap_err();
    assert!(err.is_credentials_refused());
    assert_eq!(
        err.to_string(),
        format!(
            r#"Expected an OAuth token from {}, but the server answered 401: {{"error":"invalid_client","echo":"***"}}"#,
            e.url
        )
    );
    // Nothing is cached after a failure: the next call asks again.
    assert!(p.header().await.is_err());
    assert_eq!(e.hits.load(Ordering::SeqCst), 2);

    let e = endpoint(vec![(
        StatusCode::OK,
        r#"{"token_type":"Bearer"}"#.to_owned(),
    )])
    .await;
    let (p, _) = provider(&e, None);
    assert_eq!(
        p.header().await.unwrap_err().to_string(),
        format!(
            "Expected an OAuth token from {}, but its answer has no access_token",
            e.url
        )
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{closed}/token");
    let p = TokenProvider::new(&options(&url, None), "gw", None, Duration::from_secs(5)).unwrap();
    let err = p.header().await.unwrap_err();
    assert!(!err.is_credentials_refused());
    assert_eq!(
        err.to_string(),
        format!("Expected an OAuth token from {url}, but the request failed")
    );
    assert!(!format!("{p:?} {err:?}").contains(SECRET));
}

#[test]
fn the_refresh_lead_is_at_most_30_s_and_half_the_life() {
    assert_eq!(
        refresh_lead(Duration::from_secs(3600)),
        Duration::from_secs(30)
    );
    assert_eq!(
        refresh_lead(Duration::from_secs(20)),
        Duration::from_secs(10)
    );
    assert_eq!(refresh_lead(Duration::ZERO), Duration::ZERO);
}
