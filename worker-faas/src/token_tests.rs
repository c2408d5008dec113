use super::*;

fn key(byte: u8) -> CallbackKey {
    CallbackKey::new(vec![byte; 32]).unwrap()
}

fn claims() -> Claims {
    Claims {
        call_id: "9f2c.call/ü".into(),
        job_key: 2_251_799_813_685_249,
        mode: Mode::ReceiveTask {
            message_name: "callback-otbcli".into(),
        },
        retries: 3,
        result_variable: Some("ortho".into()),
        expires_at: 1_700_003_600,
        trace: Default::default(),
    }
}

/// Re-signs nothing: swaps the payload of `token` for `payload` (as JSON), keeping its MAC.
fn with_payload(token: &str, payload: &str) -> String {
    let mac = token.rsplit('.').next().unwrap();
    format!("v1.{}.{mac}", URL_SAFE_NO_PAD.encode(payload))
}

fn payload_json(token: &str) -> String {
    let b64 = token.split('.').nth(1).unwrap();
    String::from_utf8(URL_SAFE_NO_PAD.decode(b64).unwrap()).unwrap()
}

#[test]
fn a_signed_token_verifies_to_its_claims_until_it_expires() {
    let k = key(7);
    for c in [
        claims(),
        Claims {
            mode: Mode::Hold,
            result_variable: None,
            retries: 0,
            ..claims()
        },
    ] {
        let token = sign(&c, &k);
        assert!(
            token.starts_with("v1.") && token.split('.').count() == 3,
            "{token}"
        );
        assert_eq!(verify(&token, &k, c.expires_at - 1), Ok(c.clone()));
        assert_eq!(
            verify(&token, &k, c.expires_at),
            Err(TokenError::Expired {
                expired_at: c.expires_at,
                now: c.expires_at
            })
        );
    }
}

#[test]
fn the_format_is_stable_across_releases() {
    // Tokens in flight must survive a worker upgrade: this exact token must keep verifying.
    let token = sign(&claims(), &key(1));
    assert_eq!(
        payload_json(&token),
        format!(
            r#"{{"k":"{}","c":"9f2c.call/ü","j":2251799813685249,"m":"receive-task","n":"callback-otbcli","r":3,"v":"ortho","e":1700003600}}"#,
            key(1).id()
        )
    );
    const PINNED: &str = "v1.eyJrIjoiT2R4UGZyUXUiLCJjIjoiOWYyYy5jYWxsL8O8IiwiaiI6MjI1MTc5OTgxMzY4NTI0OSwibSI6InJlY2VpdmUtdGFzay\
                          IsIm4iOiJjYWxsYmFjay1vdGJjbGkiLCJyIjozLCJ2Ijoib3J0aG8iLCJlIjoxNzAwMDAzNjAwfQ.\
                          1Bp-cqGHZ3BV-i03kaOQcEwSngpYTRmN52Yt49Tvi2k";
    assert_eq!(token, PINNED);
    assert_eq!(verify(PINNED, &key(1), 1_700_000_000), Ok(claims()));
    assert_eq!(key(1).id().len(), 8);
    assert_ne!(key(1).id(), key(2).id());
}

#[test]
fn a_changed_payload_is_tampered() {
    let k = key(7);
    let token = sign(&claims(), &k);
    let forged = payload_json(&token).replace("2251799813685249", "2251799813685250");
    assert_eq!(
        verify(&with_payload(&token, &forged), &k, 0),
        Err(TokenError::Tampered)
    );
    let hold = payload_json(&token).replace(
        r#""m":"receive-task","n":"callback-otbcli""#,
        r#""m":"hold""#,
    );
    assert_eq!(
        verify(&with_payload(&token, &hold), &k, 0),
        Err(TokenError::Tampered)
    );
    let later = payload_json(&token).replace("1700003600", "1900000000");
    assert_eq!(
        verify(&with_payload(&token, &later), &k, 1_800_000_000),
        Err(TokenError::Tampered)
    );
    // A MAC changed in one character.
    let mut bad_mac = token.clone();
    let last = bad_mac.pop().unwrap();
    bad_mac.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(verify(&bad_mac, &k, 0), Err(TokenError::Tampered));
}

#[test]
fn another_key_is_a_wrong_key_even_when_the_key_id_is_forged() {
    let token = sign(&claims(), &key(7));
    assert_eq!(
        verify(&token, &key(8), 0),
        Err(TokenError::WrongKey {
            expected: key(8).id().to_owned(),
            found: key(7).id().to_owned()
        })
    );
    // Forging the key id to the verifier's does not help: the MAC is then checked, and fails.
    let forged = payload_json(&token).replace(key(7).id(), key(8).id());
    assert_eq!(
        verify(&with_payload(&token, &forged), &key(8), 0),
        Err(TokenError::Tampered)
    );
}

#[test]
fn malformed_tokens_are_refused_before_any_check() {
    let k = key(7);
    let good = sign(&claims(), &k);
    let cases = [
        ("", "it does not have three parts separated by '.'"),
        ("v1.abc", "it does not have three parts separated by '.'"),
        (
            &format!("{good}.x"),
            "it does not have three parts separated by '.'",
        ),
        ("v1.!!!.AAAA", "its payload is not base64url"),
        (
            &format!("v1.{}.***", URL_SAFE_NO_PAD.encode("{}")),
            "its signature is not base64url",
        ),
        (
            &format!("v1.{}.AAAA", URL_SAFE_NO_PAD.encode("{}")),
            "its payload is not the expected JSON",
        ),
        (
            &with_payload(&good, &payload_json(&good).replace('}', r#","x":1}"#)),
            "its payload is not the expected JSON",
        ),
        (&"v1.".repeat(2000), "it is too long"),
    ];
    for (token, why) in cases {
        assert_eq!(
            verify(token, &k, 0),
            Err(TokenError::Malformed(why)),
            "{token:.60}"
        );
    }
    assert_eq!(
        verify(&good.replacen("v1", "v2", 1), &k, 0),
        Err(TokenError::UnsupportedVersion("v2".into()))
    );
}

#[test]
fn a_signed_but_inconsistent_mode_is_malformed() {
    // Only reachable by a key holder: the checks after the MAC still hold.
    let k = key(7);
    let token = sign(
        &Claims {
            mode: Mode::Hold,
            ..claims()
        },
        &k,
    );
    let json = payload_json(&token).replace(r#""m":"hold""#, r#""m":"later""#);
    let signed = format!("v1.{}", URL_SAFE_NO_PAD.encode(json));
    let tag = URL_SAFE_NO_PAD.encode(mac(&k.secret, signed.as_bytes()).finalize().into_bytes());
    assert_eq!(
        verify(&format!("{signed}.{tag}"), &k, 0),
        Err(TokenError::Malformed(
            "its mode is not 'hold' or 'receive-task' with a message name"
        ))
    );
}

#[test]
fn keys_are_long_enough_and_never_printed() {
    assert_eq!(
        CallbackKey::new(vec![0; 31]).unwrap_err().to_string(),
        "Expected a callback signing key of at least 32 bytes, but the configured key has 31 bytes"
    );
    let k = CallbackKey::new(b"super-secret-super-secret-super-secret".to_vec()).unwrap();
    let debug = format!("{k:?}");
    assert!(
        !debug.contains("super-secret") && !debug.contains("115"),
        "{debug}"
    );
    assert!(debug.contains(k.id()));
}

#[test]
fn the_trace_fields_travel_signed_and_are_optional() {
    let k = key(7);
    let traced = Claims {
        trace: crate::token::Trace {
            process_instance_key: Some(2_251_799_813_685_250),
            function: Some("otbcli".into()),
            invoked_at_ms: Some(1_700_000_000_123),
        },
        ..claims()
    };
    let token = sign(&traced, &k);
    assert_eq!(verify(&token, &k, 0), Ok(traced));
    // A token without them (as signed before they existed) verifies with an empty trace.
    let plain = sign(&claims(), &k);
    assert!(!payload_json(&plain).contains("\"p\""));
    assert_eq!(verify(&plain, &k, 0).unwrap().trace, Default::default());
}
