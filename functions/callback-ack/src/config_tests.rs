use std::io::Write;

use super::*;

const KEY: &str = "0123456789abcdef0123456789abcdef";

use apsis_function_kit::settings::env_of as env;

fn no_file() -> PathBuf {
    PathBuf::from("/nonexistent/apsis-callback-key")
}

fn resolve(pairs: &[(&str, &str)]) -> Result<Options, Error> {
    Options::resolve(&Flags::default(), &env(pairs), &no_file())
}

#[test]
fn defaults_with_a_key() {
    let o = resolve(&[("APSIS_CALLBACK_KEY", KEY)]).unwrap();
    assert_eq!(o.common.listen.to_string(), "127.0.0.1:8082");
    assert_eq!(o.max_output_bytes, OUTPUT_LIMIT);
    assert_eq!(o.gateway_retry_for, Duration::from_secs(300));
    assert_eq!(o.job_retry_backoff, Duration::from_secs(30));
    assert!(!o.act_before_answer);
    assert_eq!(o.zeebe.address, apsis_client::DEFAULT_ADDRESS);
    assert_eq!(o.key_origin, "APSIS_CALLBACK_KEY");
}

#[test]
fn flags_win_over_the_environment() {
    let flags = Flags {
        listen: Some("127.0.0.1:9999".to_owned()),
        address: Some("http://gw:1".to_owned()),
        ..Flags::default()
    };
    let e = env(&[
        ("APSIS_CALLBACK_KEY", KEY),
        ("APSIS_LISTEN", "127.0.0.1:1234"),
        ("ZEEBE_ADDRESS", "other:26500"),
    ]);
    let o = Options::resolve(&flags, &e, &no_file()).unwrap();
    assert_eq!(o.common.listen.port(), 9999);
    assert_eq!(o.zeebe.address, "http://gw:1");
    let o = Options::resolve(&Flags::default(), &e, &no_file()).unwrap();
    assert_eq!(o.common.listen.port(), 1234);
    assert_eq!(o.zeebe.address, "other:26500");
}

#[test]
fn the_key_comes_from_a_file_without_its_line_break() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "{KEY}").unwrap();
    let path = file.path().display().to_string();
    let from_file = resolve(&[("APSIS_CALLBACK_KEY_FILE", &path)]).unwrap();
    let from_value = resolve(&[("APSIS_CALLBACK_KEY", KEY)]).unwrap();
    assert_eq!(from_file.key.id(), from_value.key.id());
    assert!(
        from_file.key_origin.contains(&path),
        "{}",
        from_file.key_origin
    );
    // The OpenFaaS secret path is the default when it exists.
    let o = Options::resolve(&Flags::default(), &env(&[]), file.path()).unwrap();
    assert_eq!(o.key.id(), from_value.key.id());
    assert!(o.key_origin.ends_with("(the default)"));
}

#[test]
fn startup_errors_are_sentences_naming_the_source() {
    let missing = resolve(&[]).unwrap_err().to_string();
    assert!(
        missing.starts_with("Expected a callback key in APSIS_CALLBACK_KEY"),
        "{missing}"
    );
    assert!(missing.contains(DEFAULT_KEY_FILE), "{missing}");
    let short = resolve(&[("APSIS_CALLBACK_KEY", "short")])
        .unwrap_err()
        .to_string();
    assert_eq!(
        short,
        "Expected to use the callback key from APSIS_CALLBACK_KEY, but it was refused: \
         Expected a callback signing key of at least 32 bytes, but the configured key has 5 bytes"
    );
    let unreadable = resolve(&[("APSIS_CALLBACK_KEY_FILE", "/nonexistent/k")])
        .unwrap_err()
        .to_string();
    assert!(unreadable.contains("/nonexistent/k"), "{unreadable}");
    let listen = resolve(&[("APSIS_CALLBACK_KEY", KEY), ("APSIS_LISTEN", "localhost")])
        .unwrap_err()
        .to_string();
    assert!(
        listen.starts_with(
            "Expected the listen address (from APSIS_LISTEN) to be an IP address and port"
        ),
        "{listen}"
    );
    let zeebe = resolve(&[("APSIS_CALLBACK_KEY", KEY), ("ZEEBE_ADDRESS", "ftp://x")])
        .unwrap_err()
        .to_string();
    assert!(zeebe.contains("ZEEBE_ADDRESS"), "{zeebe}");
    for (name, bad) in [
        ("APSIS_MAX_OUTPUT_BYTES", "0"),
        ("APSIS_MAX_OUTPUT_BYTES", "2000000"),
        ("APSIS_GATEWAY_RETRY_SECONDS", "soon"),
        ("APSIS_ACT_BEFORE_ANSWER", "maybe"),
    ] {
        let e = resolve(&[("APSIS_CALLBACK_KEY", KEY), (name, bad)])
            .unwrap_err()
            .to_string();
        assert!(e.contains(name) && e.contains(bad), "{e}");
    }
}

#[test]
fn print_config_masks_secrets() {
    let o = resolve(&[
        ("APSIS_CALLBACK_KEY", KEY),
        ("APSIS_TOKEN", "gateway-token-1"),
        ("APSIS_ACT_BEFORE_ANSWER", "true"),
    ])
    .unwrap();
    let shown = o.to_display();
    assert!(
        !shown.contains(KEY) && !shown.contains("gateway-token-1"),
        "{shown}"
    );
    assert!(
        shown.contains(o.key.id()) && shown.contains("static-token"),
        "{shown}"
    );
    assert!(shown.contains("act_before_answer = true"), "{shown}");
    assert!(!format!("{o:?}").contains(KEY));
}
