use super::*;

const KEY: &str = "0123456789abcdef0123456789abcdef";

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn sources(pairs: &[(&str, &str)], file: Option<&str>) -> Sources {
    Sources {
        env: env(pairs),
        file: file.map(|t| (PathBuf::from("worker.toml"), t.to_owned())),
        key_file: None,
    }
}

#[test]
fn defaults_need_only_a_callback_key() {
    let c = resolve(
        &Flags::default(),
        &sources(&[(CALLBACK_KEY_ENV, KEY)], None),
    )
    .unwrap();
    assert_eq!(c.job_types, vec!["faas"]);
    assert_eq!(c.max_jobs_in_flight, 32);
    assert_eq!(c.activation_timeout, Duration::from_secs(300));
    assert_eq!(c.openfaas_url, "http://127.0.0.1:8080");
    assert_eq!(c.local_url, "http://127.0.0.1:8080");
    assert_eq!(
        c.callback_url,
        "http://127.0.0.1:8080/function/callback-ack"
    );
    assert_eq!(c.gateway.address, apsis_client::DEFAULT_ADDRESS);
    assert_eq!(c.policy, Policy::default());
    let e = resolve(&Flags::default(), &sources(&[], None)).unwrap_err();
    assert!(matches!(e, Error::NoCallbackKey), "{e}");
}

#[test]
fn layers_stack_defaults_file_env_flags() {
    let file = "job_types = [\"a\", \"b\"]\nmax_jobs_in_flight = 4\nopenfaas_url = \"http://of:8080/\"\n\
                worker_name = \"from-file\"\n[gateway]\naddress = \"http://file:1\"\n[retry]\nattempts = 2\n";
    let s = sources(
        &[
            (CALLBACK_KEY_ENV, KEY),
            ("APSIS_WORKER_MAX_JOBS_IN_FLIGHT", "8"),
            ("APSIS_WORKER_WORKER_NAME", "from-env"),
            ("ZEEBE_ADDRESS", "http://env:2"),
        ],
        Some(file),
    );
    let flags = Flags {
        values: vec![("worker_name", "from-flag".into())],
        ..Flags::default()
    };
    let c = resolve(&flags, &s).unwrap();
    assert_eq!(c.job_types, vec!["a", "b"]);
    assert_eq!(c.max_jobs_in_flight, 8);
    assert_eq!(c.worker_name, "from-flag");
    assert_eq!(c.openfaas_url, "http://of:8080");
    assert_eq!(c.callback_url, "http://of:8080/function/callback-ack");
    assert_eq!(c.gateway.address, "http://env:2");
    assert_eq!(c.policy.invoke_attempts, 2);
    let without_env = resolve(
        &Flags::default(),
        &sources(&[(CALLBACK_KEY_ENV, KEY)], Some(file)),
    )
    .unwrap();
    assert_eq!(without_env.gateway.address, "http://file:1");
}

#[test]
fn bad_values_are_sentences_naming_key_and_origin() {
    let s = sources(
        &[
            (CALLBACK_KEY_ENV, KEY),
            ("APSIS_WORKER_MAX_JOBS_IN_FLIGHT", "many"),
        ],
        None,
    );
    let e = resolve(&Flags::default(), &s).unwrap_err().to_string();
    assert_eq!(
        e,
        "Expected max_jobs_in_flight (APSIS_WORKER_MAX_JOBS_IN_FLIGHT) to be a positive whole number, but found 'many'"
    );
    let s = sources(
        &[(CALLBACK_KEY_ENV, KEY)],
        Some("openfaas_url = \"ftp://x\"\n"),
    );
    let e = resolve(&Flags::default(), &s).unwrap_err().to_string();
    assert!(
        e.contains("worker.toml key 'openfaas_url'") && e.contains("http://"),
        "{e}"
    );
    let s = sources(&[(CALLBACK_KEY_ENV, "short")], None);
    let e = resolve(&Flags::default(), &s).unwrap_err();
    assert!(e.to_string().contains(CALLBACK_KEY_ENV), "{e}");
    let s = sources(&[(CALLBACK_KEY_ENV, KEY)], Some("unknown_key = 1\n"));
    assert!(matches!(
        resolve(&Flags::default(), &s),
        Err(Error::ConfigFile { .. })
    ));
}

#[test]
fn the_key_file_is_read_without_its_newline() {
    let mut s = sources(&[], None);
    s.key_file = Some((PathBuf::from("/k"), format!("{KEY}\n").into_bytes()));
    let c = resolve(&Flags::default(), &s).unwrap();
    assert_eq!(c.callback_key.id(), CallbackKey::new(KEY).unwrap().id());
    assert_eq!(c.callback_key_origin, "/k");
}

#[test]
fn print_config_masks_secrets() {
    let s = sources(
        &[
            (CALLBACK_KEY_ENV, KEY),
            ("ZEEBE_CLIENT_ID", "me"),
            ("ZEEBE_CLIENT_SECRET", "very-secret-x"),
            ("ZEEBE_ADDRESS", "grpcs://gw.example:443"),
        ],
        None,
    );
    let c = resolve(&Flags::default(), &s).unwrap();
    let shown = c.to_toml();
    assert!(
        !shown.contains("very-secret-x") && !shown.contains(KEY),
        "{shown}"
    );
    assert!(shown.contains("client_secret = \"********\""), "{shown}");
    assert!(shown.contains("client_id = \"me\""), "{shown}");
    // It reads back (as the file layer) to the same settings.
    let again = resolve(
        &Flags::default(),
        &sources(
            &[(CALLBACK_KEY_ENV, KEY)],
            Some(&shown.replace("********", "s")),
        ),
    )
    .unwrap();
    assert_eq!(again.job_types, c.job_types);
    assert_eq!(again.gateway.address, c.gateway.address);
    assert_eq!(again.callback_url, c.callback_url);
}
