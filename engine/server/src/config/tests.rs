//! Precedence (defaults < file < env < flags) and every error path, with the environment injected as a map.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::*;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A config file in a temp dir; the dir lives as long as the returned guard.
fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("apsis.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn with_file(path: &Path) -> Flags {
    Flags {
        config: Some(path.to_owned()),
        values: Vec::new(),
    }
}

fn error(flags: &Flags, env: &BTreeMap<String, String>) -> String {
    Resolved::load(flags, env).unwrap_err().to_string()
}

#[test]
fn nothing_given_is_the_defaults() {
    let r = Resolved::load(&Flags::default(), &env(&[])).unwrap();
    assert_eq!(r.config, Config::default());
    assert_eq!(r.config.engine.data_dir, PathBuf::from("./data"));
    assert_eq!(r.config.gateway.address.to_string(), "127.0.0.1:26500");
    assert_eq!(r.config.monitoring.address.to_string(), "127.0.0.1:9600");
    assert_eq!(r.config.gateway.max_message_size, 4 * 1024 * 1024);
    assert_eq!(r.config.gateway.auth.mode, AuthMode::None);
    assert_eq!(*r.origin("gateway.address"), Origin::Default);
}

#[test]
fn file_then_env_then_flags_each_win_over_the_one_before() {
    let (_dir, path) = file(
        r#"
[engine]
max_batch = 10
queue_capacity = 20
fsync = false

[gateway]
address = "file.example:1"

[monitoring]
address = "file.example:2"
"#,
    );
    let mut flags = with_file(&path);
    flags.set(
        "monitoring.address",
        "--monitoring-address",
        Some("flag.example:4"),
    );
    let env = env(&[
        ("APSIS_ENGINE_QUEUE_CAPACITY", "30"),
        ("APSIS_GATEWAY_ADDRESS", "env.example:3"),
        ("APSIS_MONITORING_ADDRESS", "env.example:3"),
    ]);
    let r = Resolved::load(&flags, &env).unwrap();
    let c = &r.config;
    assert_eq!(c.engine.max_batch, 10, "file over default");
    assert!(!c.engine.fsync, "file over default");
    assert_eq!(c.engine.queue_capacity, 30, "env over file");
    assert_eq!(
        c.gateway.address,
        HostPort::new("env.example", 3),
        "env over file"
    );
    assert_eq!(
        c.monitoring.address,
        HostPort::new("flag.example", 4),
        "flag over env"
    );
    assert_eq!(c.engine.snapshot_every_bytes, 256 * 1024 * 1024, "default");
    assert_eq!(
        *r.origin("engine.max_batch"),
        Origin::File {
            path: path.clone(),
            line: 3
        }
    );
    assert_eq!(
        *r.origin("engine.queue_capacity"),
        Origin::Env("APSIS_ENGINE_QUEUE_CAPACITY".into())
    );
    assert_eq!(
        *r.origin("monitoring.address"),
        Origin::Flag("--monitoring-address")
    );
}

#[test]
fn the_config_file_may_come_from_apsis_config_but_the_flag_wins() {
    let (_a, from_env) = file("[engine]\nmax_batch = 1\n");
    let (_b, from_flag) = file("[engine]\nmax_batch = 2\n");
    let env = env(&[("APSIS_CONFIG", from_env.to_str().unwrap())]);
    let r = Resolved::load(&Flags::default(), &env).unwrap();
    assert_eq!(r.config.engine.max_batch, 1);
    let r = Resolved::load(&with_file(&from_flag), &env).unwrap();
    assert_eq!(r.config.engine.max_batch, 2);
}

#[test]
fn dotted_keys_and_nested_tables_are_the_same_keys() {
    let (_dir, path) = file(
        r#"
gateway.address = "[::1]:26501"
[gateway.tls]
cert = "/etc/apsis/cert.pem"
key = "/etc/apsis/key.pem"
[gateway.auth]
mode = "jwt"
issuer = "https://issuer.example"
audience = "apsis"
jwks_url = "https://issuer.example/.well-known/jwks.json"
"#,
    );
    let c = Resolved::load(&with_file(&path), &env(&[])).unwrap().config;
    assert_eq!(c.gateway.address, HostPort::new("[::1]", 26501));
    assert_eq!(
        c.gateway.tls.cert,
        Some(PathBuf::from("/etc/apsis/cert.pem"))
    );
    assert_eq!(c.gateway.tls.key, Some(PathBuf::from("/etc/apsis/key.pem")));
    assert_eq!(c.gateway.auth.mode, AuthMode::Jwt);
    assert_eq!(c.gateway.auth.audience.as_deref(), Some("apsis"));
}

#[test]
fn a_bad_environment_value_names_the_variable_and_what_was_expected() {
    let e = error(&Flags::default(), &env(&[("APSIS_GATEWAY_ADDRESS", "abc")]));
    assert_eq!(
        e,
        "Expected APSIS_GATEWAY_ADDRESS to be HOST:PORT, but found 'abc'"
    );
    for (name, value, expected) in [
        ("APSIS_ENGINE_MAX_BATCH", "many", "a positive integer"),
        ("APSIS_ENGINE_QUEUE_CAPACITY", "0", "a positive integer"),
        ("APSIS_ENGINE_FSYNC", "yes", "true or false"),
        ("APSIS_MONITORING_ADDRESS", "127.0.0.1:99999", "HOST:PORT"),
        (
            "APSIS_GATEWAY_AUTH_MODE",
            "basic",
            "one of none, static-token, jwt",
        ),
        (
            "APSIS_GATEWAY_AUTH_JWKS_URL",
            "ftp://x",
            "an http:// or https:// URL",
        ),
        ("APSIS_LOG_FORMAT", "xml", "one of text, json"),
        ("APSIS_ENGINE_DATA_DIR", "", "a non-empty string"),
    ] {
        let e = error(&Flags::default(), &env(&[(name, value)]));
        assert_eq!(
            e,
            format!("Expected {name} to be {expected}, but found '{value}'")
        );
    }
    let e = error(
        &Flags::default(),
        &env(&[("APSIS_LOG_LEVEL", "apsis=loudest")]),
    );
    assert!(
        e.starts_with("Expected APSIS_LOG_LEVEL to be a log filter"),
        "{e}"
    );
}

#[test]
fn an_unknown_variable_of_our_sections_is_an_error_and_others_are_ignored() {
    let e = error(&Flags::default(), &env(&[("APSIS_GATEWAY_ADRESS", "x:1")]));
    assert!(
        e.starts_with("Expected APSIS_GATEWAY_ADRESS to name a known key, but there is no key 'gateway.adress'"),
        "{e}"
    );
    assert!(
        e.contains("APSIS_GATEWAY_ADDRESS"),
        "lists the known ones: {e}"
    );
    let r = Resolved::load(
        &Flags::default(),
        &env(&[("APSIS_WORKER_CONCURRENCY", "4")]),
    );
    assert!(r.is_ok(), "another program's variable is not ours");
}

#[test]
fn a_bad_flag_names_the_flag() {
    let mut flags = Flags::default();
    flags.set("gateway.address", "--gateway-address", Some("nope"));
    assert_eq!(
        error(&flags, &env(&[])),
        "Expected --gateway-address to be HOST:PORT, but found 'nope'"
    );
}

#[test]
fn a_bad_file_value_names_the_file_line_and_key() {
    let (_dir, path) = file("[engine]\nfsync = true\nmax_batch = \"lots\"\n");
    assert_eq!(
        error(&with_file(&path), &env(&[])),
        format!(
            "Expected engine.max_batch in {} line 3 to be a positive integer, but found 'lots'",
            path.display()
        )
    );
    let (_dir, path) = file("[gateway]\naddress = 26500\n");
    assert_eq!(
        error(&with_file(&path), &env(&[])),
        format!(
            "Expected gateway.address in {} line 2 to be HOST:PORT, but found '26500'",
            path.display()
        )
    );
}

#[test]
fn an_unknown_file_key_is_an_error_with_its_line() {
    let (_dir, path) = file("[engine]\ndata_dir = \"/d\"\n\n[gateway]\nadress = \"x:1\"\n");
    let e = error(&with_file(&path), &env(&[]));
    assert!(
        e.starts_with(&format!(
            "Expected only known keys in {} (line 5), but found 'gateway.adress'",
            path.display()
        )),
        "{e}"
    );
    assert!(
        e.contains("gateway.address"),
        "lists the section's keys: {e}"
    );
    for (text, key, line) in [
        (
            "[gateway.tls]\ncert = \"c\"\nca = \"x\"\n",
            "gateway.tls.ca",
            3,
        ),
        ("[metrics]\nport = 1\n", "metrics", 1),
        ("verbose = true\n", "verbose", 1),
    ] {
        let (_dir, path) = file(text);
        let e = error(&with_file(&path), &env(&[]));
        assert!(
            e.starts_with(&format!(
                "Expected only known keys in {} (line {line}), but found '{key}'",
                path.display()
            )),
            "{e}"
        );
    }
}

#[test]
fn a_file_that_is_not_toml_gives_its_line_and_column() {
    let (_dir, path) = file("[engine]\nmax_batch = = 3\n");
    let e = error(&with_file(&path), &env(&[]));
    assert!(
        e.starts_with(&format!(
            "Expected {} to be valid TOML, but at line 2,",
            path.display()
        )),
        "{e}"
    );
}

#[test]
fn a_missing_file_names_the_path_and_who_named_it() {
    let e = error(
        &Flags::default(),
        &env(&[("APSIS_CONFIG", "/nonexistent/apsis.toml")]),
    );
    assert_eq!(
        e,
        "Expected to read the config file /nonexistent/apsis.toml (named by APSIS_CONFIG), but it could not be read"
    );
    let e = error(&with_file(Path::new("/nonexistent/a.toml")), &env(&[]));
    assert!(e.contains("(named by --config)"), "{e}");
}

#[test]
fn keys_that_belong_together_are_checked_after_all_layers() {
    for (vars, message) in [
        (
            vec![("APSIS_GATEWAY_TLS_CERT", "/c.pem")],
            "Expected gateway.tls.key to be set when gateway.tls.cert is set, but it is not set",
        ),
        (
            vec![("APSIS_GATEWAY_TLS_KEY", "/k.pem")],
            "Expected gateway.tls.cert to be set when gateway.tls.key is set, but it is not set",
        ),
        (
            vec![("APSIS_GATEWAY_AUTH_MODE", "static-token")],
            "Expected gateway.auth.token to be set when gateway.auth.mode is 'static-token', but it is not set",
        ),
        (
            vec![
                ("APSIS_GATEWAY_AUTH_MODE", "jwt"),
                ("APSIS_GATEWAY_AUTH_JWKS_URL", "https://i/jwks"),
            ],
            "Expected gateway.auth.issuer to be set when gateway.auth.mode is 'jwt', but it is not set",
        ),
    ] {
        assert_eq!(error(&Flags::default(), &env(&vars)), message);
    }
    // A later layer may complete what an earlier one started, and an empty variable unsets an optional key.
    let (_dir, path) = file("[gateway.auth]\nmode = \"static-token\"\n");
    let r = Resolved::load(
        &with_file(&path),
        &env(&[("APSIS_GATEWAY_AUTH_TOKEN", "s3cret")]),
    )
    .unwrap();
    assert_eq!(
        r.config.gateway.auth.token.as_ref().unwrap().expose(),
        "s3cret"
    );
    let (_dir, path) = file("[gateway.tls]\ncert = \"/c\"\nkey = \"/k\"\n");
    let r = Resolved::load(
        &with_file(&path),
        &env(&[
            ("APSIS_GATEWAY_TLS_CERT", ""),
            ("APSIS_GATEWAY_TLS_KEY", ""),
        ]),
    )
    .unwrap();
    assert_eq!(r.config.gateway.tls, TlsConfig::default());
}

#[test]
fn print_config_masks_secrets_and_reads_back_as_the_same_config() {
    let vars = env(&[
        ("APSIS_GATEWAY_AUTH_MODE", "static-token"),
        ("APSIS_GATEWAY_AUTH_TOKEN", "s3cret"),
        ("APSIS_ENGINE_DATA_DIR", "/var/lib/apsis"),
        ("APSIS_LOG_FORMAT", "json"),
    ]);
    let r = Resolved::load(&Flags::default(), &vars).unwrap();
    let text = r.to_toml();
    assert!(!text.contains("s3cret"), "{text}");
    assert!(
        text.contains(&format!("token = \"{}\"", Secret::MASK)),
        "{text}"
    );
    assert!(
        text.contains("data_dir = \"/var/lib/apsis\"  # from APSIS_ENGINE_DATA_DIR"),
        "{text}"
    );
    assert!(text.contains("# cert = (not set)"), "{text}");
    assert!(!format!("{:?}", r.config).contains("s3cret"));
    let (_dir, path) = file(&text);
    let again = Resolved::load(&with_file(&path), &env(&[])).unwrap().config;
    let mut expected = r.config.clone();
    expected.gateway.auth.token = Some(Secret::new(Secret::MASK));
    assert_eq!(again, expected);
}

#[test]
fn every_key_is_settable_from_the_environment_and_printed() {
    let samples: BTreeMap<&str, &str> = [
        ("engine.data_dir", "/d"),
        ("engine.max_batch", "7"),
        ("engine.queue_capacity", "8"),
        ("engine.snapshot_every_bytes", "9"),
        ("engine.fsync", "false"),
        ("gateway.address", "h:1"),
        ("gateway.max_message_size", "10"),
        ("gateway.tls.cert", "/c"),
        ("gateway.tls.key", "/k"),
        ("gateway.auth.mode", "jwt"),
        ("gateway.auth.token", "t"),
        ("gateway.auth.issuer", "https://i"),
        ("gateway.auth.audience", "a"),
        ("gateway.auth.jwks_url", "https://i/jwks"),
        ("monitoring.address", "h:2"),
        ("log.level", "debug"),
        ("log.format", "json"),
    ]
    .into();
    assert_eq!(samples.len(), KEYS.len(), "a sample for every key");
    let vars: BTreeMap<String, String> = KEYS
        .iter()
        .map(|k| (env_name(k), samples[k].to_owned()))
        .collect();
    let r = Resolved::load(&Flags::default(), &vars).unwrap();
    let text = r.to_toml();
    for key in KEYS {
        assert_eq!(*r.origin(key), Origin::Env(env_name(key)), "{key}");
        let name = key.rsplit_once('.').unwrap().1;
        assert!(
            text.contains(&format!("{name} = "))
                && text.contains(&format!("# from {}", env_name(key))),
            "{key} printed: {text}"
        );
    }
    assert_eq!(
        env_name("gateway.auth.jwks_url"),
        "APSIS_GATEWAY_AUTH_JWKS_URL"
    );
}

#[test]
fn host_port_accepts_names_ipv4_and_bracketed_ipv6_only() {
    for ok in [
        "localhost:1",
        "127.0.0.1:0",
        "[::1]:9600",
        "apsis-engine.svc:26500",
    ] {
        assert!(HostPort::parse(ok).is_some(), "{ok}");
    }
    for bad in [
        "abc", ":1", "h:", "h:-1", "::1:9600", "[zz]:1", "a b:1", "h:65536",
    ] {
        assert!(HostPort::parse(bad).is_none(), "{bad}");
    }
}
