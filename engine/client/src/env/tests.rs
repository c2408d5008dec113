use super::*;

fn env(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(n, v)| (*n, (*v).to_owned())).collect()
}

fn url(flags: &Flags, vars: &[(&'static str, &str)]) -> String {
    resolve(flags, &env(vars)).unwrap().target().unwrap().url
}

fn oauth(o: &ClientOptions) -> &OAuthOptions {
    match &o.auth {
        Auth::OAuth(oauth) => oauth,
        other => panic!("expected OAuth, got {other:?}"),
    }
}

#[test]
fn the_flag_wins_then_apsis_then_zeebe_then_the_sdk_then_the_default() {
    let vars = [
        ("ZEEBE_GRPC_ADDRESS", "grpc://s:4"),
        ("ZEEBE_ADDRESS", "z:2"),
        ("APSIS_ADDRESS", "http://a:1"),
    ];
    let flag = Flags {
        address: Some("f:3".to_owned()),
        ..Flags::default()
    };
    assert_eq!(url(&flag, &vars), "http://f:3");
    assert_eq!(url(&Flags::default(), &vars), "http://a:1");
    assert_eq!(url(&Flags::default(), &vars[..2]), "http://z:2");
    assert_eq!(url(&Flags::default(), &vars[..1]), "http://s:4");
    assert_eq!(url(&Flags::default(), &[]), crate::DEFAULT_ADDRESS);
    // Blank variables count as unset.
    assert_eq!(
        url(
            &Flags::default(),
            &[("APSIS_ADDRESS", " "), ("ZEEBE_ADDRESS", "z:2")]
        ),
        "http://z:2"
    );
}

#[test]
fn bad_addresses_say_why_and_where_from() {
    let flag = Flags {
        address: Some("ftp://h:1".to_owned()),
        ..Flags::default()
    };
    let e = resolve(&flag, &[]).unwrap_err().to_string();
    assert!(e.contains("'ftp://h:1' (from --address)"), "{e}");
    let e = resolve(&Flags::default(), &env(&[("ZEEBE_ADDRESS", "h:port")]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("(from ZEEBE_ADDRESS)") && e.contains("'port'"),
        "{e}"
    );
}

#[test]
fn a_camunda_saas_credentials_file_resolves_to_tls_and_oauth() {
    // The lines Camunda's console offers to download for a client.
    let o = resolve(
        &Flags::default(),
        &env(&[
            ("ZEEBE_ADDRESS", "abc-123.bru-2.zeebe.camunda.io:443"),
            ("ZEEBE_CLIENT_ID", "client-x"),
            ("ZEEBE_CLIENT_SECRET", "secret-x"),
            (
                "ZEEBE_AUTHORIZATION_SERVER_URL",
                "https://login.cloud.camunda.io/oauth/token",
            ),
            ("ZEEBE_TOKEN_AUDIENCE", "zeebe.camunda.io"),
        ]),
    )
    .unwrap();
    let t = o.target().unwrap();
    assert_eq!(t.url, "https://abc-123.bru-2.zeebe.camunda.io:443");
    assert!(t.tls);
    let a = oauth(&o);
    assert_eq!(a.client_id, "client-x");
    assert_eq!(a.client_secret.expose(), "secret-x");
    assert_eq!(a.audience.as_deref(), Some("zeebe.camunda.io"));
    assert_eq!(a.scope, None);
}

#[test]
fn camunda_sdk_names_are_read() {
    let o = resolve(
        &Flags::default(),
        &env(&[
            ("ZEEBE_GRPC_ADDRESS", "grpcs://gw.example:26500"),
            ("CAMUNDA_CLIENT_ID", "id"),
            ("CAMUNDA_CLIENT_SECRET", "s"),
            ("CAMUNDA_OAUTH_URL", "https://idp.example/token"),
            ("CAMUNDA_TOKEN_AUDIENCE", "zeebe-api"),
            ("CAMUNDA_TOKEN_SCOPE", "zeebe"),
            ("CAMUNDA_CUSTOM_ROOT_CERT_PATH", "/etc/ca.pem"),
        ]),
    )
    .unwrap();
    let a = oauth(&o);
    assert_eq!(a.authorization_server_url, "https://idp.example/token");
    assert_eq!(a.audience.as_deref(), Some("zeebe-api"));
    assert_eq!(a.scope.as_deref(), Some("zeebe"));
    assert_eq!(o.ca_certificate, Some("/etc/ca.pem".into()));
    // Without an authorization server, Camunda SaaS's (as zbctl and the Java client do).
    let o = resolve(
        &Flags::default(),
        &env(&[("ZEEBE_CLIENT_ID", "id"), ("ZEEBE_CLIENT_SECRET", "s")]),
    )
    .unwrap();
    assert_eq!(
        oauth(&o).authorization_server_url,
        SAAS_AUTHORIZATION_SERVER_URL
    );
}

#[test]
fn variables_can_only_force_plaintext_and_flags_decide_both_ways() {
    let tls = |flags: &Flags, vars: &[(&'static str, &str)]| {
        resolve(flags, &env(vars)).unwrap().target().unwrap().tls
    };
    let saas = ("ZEEBE_ADDRESS", "h:443");
    assert!(tls(&Flags::default(), &[saas]));
    assert!(!tls(
        &Flags::default(),
        &[saas, ("ZEEBE_INSECURE_CONNECTION", "true")]
    ));
    assert!(!tls(
        &Flags::default(),
        &[saas, ("CAMUNDA_SECURE_CONNECTION", "false")]
    ));
    // "Not insecure" does not turn TLS on for a plaintext address.
    let local = ("ZEEBE_ADDRESS", "http://h:1");
    assert!(!tls(
        &Flags::default(),
        &[local, ("ZEEBE_INSECURE_CONNECTION", "false")]
    ));
    assert!(!tls(
        &Flags::default(),
        &[local, ("CAMUNDA_SECURE_CONNECTION", "true")]
    ));
    let on = Flags {
        tls: Some(true),
        ..Flags::default()
    };
    assert!(tls(&on, &[local, ("ZEEBE_INSECURE_CONNECTION", "true")]));
    let off = Flags {
        tls: Some(false),
        ..Flags::default()
    };
    assert!(!tls(&off, &[saas]));
    let e = resolve(
        &Flags::default(),
        &env(&[("ZEEBE_INSECURE_CONNECTION", "sure")]),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "Expected ZEEBE_INSECURE_CONNECTION to be true or false, but it is 'sure'"
    );
}

#[test]
fn a_token_is_sent_as_is_and_a_flag_hides_variables_of_the_other_kind() {
    let o = resolve(&Flags::default(), &env(&[("APSIS_TOKEN", "t1")])).unwrap();
    assert_eq!(
        o.auth,
        Auth::StaticToken {
            token: Secret::new("t1")
        }
    );
    let by_flag = Flags {
        client_id: Some("id".to_owned()),
        client_secret: Some(Secret::new("s")),
        ..Flags::default()
    };
    let o = resolve(&by_flag, &env(&[("APSIS_TOKEN", "t1")])).unwrap();
    assert_eq!(oauth(&o).client_id, "id");
    let token_flag = Flags {
        token: Some(Secret::new("t2")),
        ..Flags::default()
    };
    let o = resolve(
        &token_flag,
        &env(&[("ZEEBE_CLIENT_ID", "id"), ("ZEEBE_CLIENT_SECRET", "s")]),
    )
    .unwrap();
    assert_eq!(
        o.auth,
        Auth::StaticToken {
            token: Secret::new("t2")
        }
    );
}

#[test]
fn a_client_id_without_a_secret_says_where_to_give_one() {
    let e = resolve(&Flags::default(), &env(&[("ZEEBE_CLIENT_ID", "id")]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "Expected a client secret because a client id is given, but none was given (--client-secret or \
         APSIS_CLIENT_SECRET, ZEEBE_CLIENT_SECRET, CAMUNDA_CLIENT_SECRET)"
    );
}

#[test]
fn every_variable_is_in_the_one_table_once() {
    let mut names: Vec<&str> = VARIABLES.iter().map(|(_, n)| *n).collect();
    let all = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), all);
    for required in [
        "ZEEBE_ADDRESS",
        "ZEEBE_GRPC_ADDRESS",
        "ZEEBE_CLIENT_ID",
        "ZEEBE_CLIENT_SECRET",
        "ZEEBE_AUTHORIZATION_SERVER_URL",
        "ZEEBE_TOKEN_AUDIENCE",
        "ZEEBE_TOKEN_SCOPE",
        "ZEEBE_CA_CERTIFICATE_PATH",
        "ZEEBE_INSECURE_CONNECTION",
        "CAMUNDA_OAUTH_URL",
        "APSIS_TOKEN",
    ] {
        assert!(names.contains(&required), "{required}");
    }
}
