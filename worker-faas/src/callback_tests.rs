use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::json;

use super::*;
use crate::task::Mode;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            )
        })
        .collect()
}

fn base() -> Vec<(&'static str, &'static str)> {
    vec![
        ("X-Call-Id", "c-1"),
        ("X-Function-Status", "200"),
        ("X-Function-Name", "otbcli"),
        ("X-Duration-Seconds", "12.5"),
    ]
}

fn with(extra: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut pairs = base();
    pairs.retain(|(k, _)| !extra.iter().any(|(e, _)| e.eq_ignore_ascii_case(k)));
    pairs.extend_from_slice(extra);
    headers(&pairs)
}

#[test]
fn a_callback_is_read_whole() {
    let r = parse(
        &with(&[("Content-Type", "application/json")]),
        br#"{"ortho": "/out/o.tif"}"#,
    )
    .unwrap();
    assert_eq!(
        r,
        CallbackReport {
            call_id: "c-1".into(),
            function: Some("otbcli".into()),
            status: 200,
            duration_seconds: Some(12.5),
            attempt: None,
            output: json!({"ortho": "/out/o.tif"}),
            output_truncated: false,
            error_text: r#"{"ortho": "/out/o.tif"}"#.into(),
        }
    );
    assert!(r.ok());
}

#[test]
fn essential_headers_are_required_and_checked() {
    let cases: &[(HeaderMap, CallbackError)] = &[
        (
            headers(&[("X-Function-Status", "200")]),
            CallbackError::MissingHeader(CALL_ID),
        ),
        (
            with(&[("X-Call-Id", " ")]),
            CallbackError::MissingHeader(CALL_ID),
        ),
        (
            headers(&[("X-Call-Id", "c")]),
            CallbackError::MissingHeader(FUNCTION_STATUS),
        ),
        (
            with(&[("X-Function-Status", "OK")]),
            CallbackError::InvalidHeader {
                header: FUNCTION_STATUS,
                expected: "an HTTP status between 100 and 599",
                found: "OK".into(),
            },
        ),
        (
            with(&[("X-Function-Status", "600")]),
            CallbackError::InvalidHeader {
                header: FUNCTION_STATUS,
                expected: "an HTTP status between 100 and 599",
                found: "600".into(),
            },
        ),
        (
            with(&[("X-Retry", "one"), ("X-Retry-Max", "3")]),
            CallbackError::InvalidHeader {
                header: RETRY,
                expected: "a whole number",
                found: "one".into(),
            },
        ),
        (
            with(&[("X-Retry", "1")]),
            CallbackError::MissingHeader(RETRY_MAX),
        ),
        (
            with(&[("X-Retry-Max", "1")]),
            CallbackError::MissingHeader(RETRY),
        ),
    ];
    for (h, expected) in cases {
        assert_eq!(parse(h, b"").unwrap_err(), *expected, "{h:?}");
    }
    let mut binary = with(&[]);
    binary.insert(
        "X-Function-Status",
        HeaderValue::from_bytes(b"20\xff").unwrap(),
    );
    assert!(matches!(
        parse(&binary, b""),
        Err(CallbackError::InvalidHeader {
            header: FUNCTION_STATUS,
            ..
        })
    ));
    assert_eq!(
        CallbackError::MissingHeader(FUNCTION_STATUS).to_string(),
        "Expected header 'X-Function-Status' in the callback, but it is missing"
    );
}

#[test]
fn optional_headers_are_lenient() {
    for bad in ["", "soon", "-1", "NaN", "inf"] {
        let r = parse(&with(&[("X-Duration-Seconds", bad)]), b"").unwrap();
        assert_eq!(r.duration_seconds, None, "{bad}");
    }
    let r = parse(
        &headers(&[("X-Call-Id", "c"), ("X-Function-Status", "503")]),
        b"",
    )
    .unwrap();
    assert!(!r.ok());
    assert_eq!(
        (r.function, r.duration_seconds, r.attempt, r.output),
        (None, None, None, json!(null))
    );
    let r = parse(&with(&[("X-Retry", "2"), ("X-Retry-Max", "5")]), b"").unwrap();
    assert_eq!(r.attempt, Some(Attempt { retry: 2, max: 5 }));
    assert!(r.attempt.unwrap().more_to_come());
    assert!(!Attempt { retry: 5, max: 5 }.more_to_come());
}

#[test]
fn output_is_json_only_when_it_says_so_or_is_structured() {
    let plain = with(&[]);
    let json_type = with(&[("Content-Type", "application/problem+json; charset=utf-8")]);
    let cases: &[(&HeaderMap, &[u8], serde_json::Value)] = &[
        (&plain, b"[1, 2]", json!([1, 2])),
        (&plain, b" {\"a\": null} \n", json!({"a": null})),
        (&plain, b"42", json!("42")),
        (&plain, b"true", json!("true")),
        (&plain, b"{broken", json!("{broken")),
        (&plain, b"Done: /out/o.tif\n", json!("Done: /out/o.tif\n")),
        (&json_type, b"42", json!(42)),
        (&json_type, b"\"s\"", json!("s")),
        (&json_type, b"not json", json!("not json")),
        (&plain, b"bad \xff byte", json!("bad \u{fffd} byte")),
    ];
    for (h, body, expected) in cases {
        let r = parse(h, body).unwrap();
        assert_eq!(
            (&r.output, r.output_truncated),
            (expected, false),
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn long_output_is_cut_on_a_character_boundary() {
    // 'é' is 2 bytes: put one across the limit.
    let mut body = vec![b'a'; OUTPUT_LIMIT - 1];
    body.extend_from_slice("é and more".as_bytes());
    let r = parse(&with(&[]), &body).unwrap();
    assert!(r.output_truncated);
    assert_eq!(r.output.as_str().unwrap().len(), OUTPUT_LIMIT - 1);
    assert!(r.output.as_str().unwrap().bytes().all(|b| b == b'a'));
    // A JSON document over the limit cannot be parsed in part: it is kept as text.
    let big = serde_json::to_vec(&json!({"x": "y".repeat(OUTPUT_LIMIT)})).unwrap();
    let r = parse(&with(&[("Content-Type", "application/json")]), &big).unwrap();
    assert!(r.output_truncated && r.output.as_str().unwrap().starts_with("{\"x\":\"yyy"));
    // Exactly at the limit nothing is cut; a 4-byte character ending exactly at the limit is kept.
    let mut exact = vec![b'b'; OUTPUT_LIMIT - 4];
    exact.extend_from_slice("😀".as_bytes());
    let r = parse(&with(&[]), &exact).unwrap();
    assert!(!r.output_truncated && r.output.as_str().unwrap().ends_with('😀'));
    exact.push(b'!');
    let r = parse(&with(&[]), &exact).unwrap();
    assert!(r.output_truncated && r.output.as_str().unwrap().ends_with('😀'));
    // One byte less and the emoji straddles the cut: it is left out whole.
    let mut straddle = vec![b'b'; OUTPUT_LIMIT - 3];
    straddle.extend_from_slice("😀!".as_bytes());
    let r = parse(&with(&[]), &straddle).unwrap();
    assert_eq!(r.output.as_str().unwrap().len(), OUTPUT_LIMIT - 3);
}

#[test]
fn the_error_text_is_the_end_of_the_body() {
    let mut body = "é".repeat(ERROR_TEXT_LIMIT).into_bytes();
    body.extend_from_slice(b"\nERROR: otbcli_OrthoRectification: cannot open PAN.TIF\n");
    let r = parse(&with(&[("X-Function-Status", "500")]), &body).unwrap();
    assert!(r
        .error_text
        .ends_with("ERROR: otbcli_OrthoRectification: cannot open PAN.TIF"));
    assert!(r.error_text.len() <= ERROR_TEXT_LIMIT);
    assert!(
        !r.error_text.contains('\u{fffd}'),
        "the cut does not split a character"
    );
}

#[test]
fn a_callback_must_be_for_its_tokens_call() {
    let claims = Claims {
        call_id: "c-1".into(),
        job_key: 1,
        mode: Mode::Hold,
        retries: 3,
        result_variable: None,
        expires_at: 10,
        trace: Default::default(),
    };
    let r = parse(&with(&[]), b"").unwrap();
    assert_eq!(r.check_call_id(&claims), Ok(()));
    let other = parse(&with(&[("X-Call-Id", "c-2")]), b"").unwrap();
    assert_eq!(
        other.check_call_id(&claims).unwrap_err().to_string(),
        "Expected a callback for call 'c-1' (its token's), but header X-Call-Id is 'c-2'"
    );
}

#[test]
fn a_deployment_can_bound_the_output_differently() {
    let r = parse_with_limit(&with(&[]), b"0123456789", 4).unwrap();
    assert_eq!(r.output, json!("0123"));
    assert!(r.output_truncated);
    // A JSON object over the smaller bound stays text, as over the default one.
    let r = parse_with_limit(&with(&[]), br#"{"a": 1}"#, 4).unwrap();
    assert_eq!((r.output, r.output_truncated), (json!("{\"a\""), true));
    let r = parse_with_limit(&with(&[]), br#"{"a": 1}"#, 8).unwrap();
    assert_eq!((r.output, r.output_truncated), (json!({"a": 1}), false));
}
