use super::*;

fn parse_ok(text: &str) -> Vec<FunctionSpec> {
    parse(text, Path::new("stack.yml"), Path::new("/srv/fns")).unwrap()
}

fn parse_err(text: &str) -> String {
    parse(text, Path::new("stack.yml"), Path::new("/srv/fns"))
        .unwrap_err()
        .to_string()
}

#[test]
fn reads_a_faas_cli_stack_with_local_keys() {
    let specs = parse_ok(
        r#"
version: 1.0
provider: {name: openfaas, gateway: http://127.0.0.1:8080}
functions:
  otbcli:
    lang: dockerfile
    handler: ./otbcli
    image: registry.example/apsis/otbcli:0.1.0
    environment: {mode: http, exec_timeout: 2h, read_timeout: 2h1m, max_inflight: 2, GDAL_CACHEMAX: 512}
    limits: {memory: 8Gi, cpu: "4"}
    labels: {team: eo}
    x-apsis-local:
      fprocess: [./bin/otbcli-fn, --verbose]
      environment: {OTB_MAX_RAM_HINT: "4096"}
      exec_timeout: 1m30s
"#,
    );
    assert_eq!(specs.len(), 1);
    let f = &specs[0];
    assert_eq!(f.name, "otbcli");
    assert_eq!(f.image, "registry.example/apsis/otbcli:0.1.0");
    assert_eq!(f.argv, ["/srv/fns/./bin/otbcli-fn", "--verbose"]);
    assert_eq!(f.exec_timeout, Some(Duration::from_secs(90)));
    assert_eq!(f.max_inflight, Some(2));
    assert_eq!(f.start_timeout, DEFAULT_START_TIMEOUT);
    assert_eq!(f.environment["GDAL_CACHEMAX"], "512");
    assert_eq!(f.environment["OTB_MAX_RAM_HINT"], "4096");
    assert_eq!(f.environment["mode"], "http");
    assert_eq!(f.labels["team"], "eo");
    assert_eq!(f.limits.as_ref().unwrap()["memory"], "8Gi");
    assert_eq!(f.workdir, Path::new("/srv/fns"));
}

#[test]
fn of_watchdog_fprocess_string_is_split_into_words_without_a_shell() {
    let specs = parse_ok(
        "functions:\n  a:\n    environment:\n      fprocess: \"normalize  --in /data\"\n      exec_timeout: 0\n",
    );
    assert_eq!(specs[0].argv, ["normalize", "--in", "/data"]);
    assert_eq!(specs[0].exec_timeout, None, "0 disables exec_timeout");
    assert_eq!(specs[0].max_inflight, None);
    assert_eq!(specs[0].image, "");
}

#[test]
fn errors_name_the_file_the_function_and_the_field() {
    let e = parse_err("functions:\n  a:\n    image: x\n");
    assert!(
        e.contains("stack.yml") && e.contains("'a'") && e.contains("fprocess"),
        "{e}"
    );

    let e =
        parse_err("functions:\n  a:\n    x-apsis-local: {fprocess: [x], exec_timeout: 2 hours}\n");
    assert_eq!(
        e,
        "Expected field 'x-apsis-local.exec_timeout' of function 'a' in stack.yml to be a Go duration \
         such as 30s, 1m30s or 2h, or whole seconds, but found '2 hours'"
    );

    let e = parse_err("functions:\n  a:\n    environment: {fprocess: x, max_inflight: many}\n");
    assert!(
        e.contains("'environment.max_inflight'") && e.contains("'many'"),
        "{e}"
    );

    let e = parse_err("functions:\n  a:\n    environment: {fprocess: \"sh -c 'rm -rf /'\"}\n");
    assert!(e.contains("no shell"), "{e}");

    let e = parse_err("functions:\n  Bad_Name:\n    environment: {fprocess: x}\n");
    assert!(e.contains("'Bad_Name'"), "{e}");

    let e = parse_err("functions:\n  a:\n    x-apsis-local: {fprocess: [x], max_inflite: 2}\n");
    assert!(e.contains("max_inflite") && e.contains("stack.yml"), "{e}");

    let e = parse_err("provider: {name: openfaas}\n");
    assert!(e.contains("at least one function"), "{e}");
}

#[test]
fn the_shipped_local_yml_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../local.yml");
    let specs = load(&path).unwrap();
    assert!(!specs.is_empty());
}

/// `--functions functions/local.yml` (a relative path): programs are anchored once, from an absolute folder that is
/// also the working directory (the folder was relative, and the process's working directory applied it twice).
#[test]
fn a_relative_definitions_path_anchors_programs_absolutely() {
    // cargo runs tests from the package's folder (functions/runtime).
    let specs = load(Path::new("../local.yml")).unwrap();
    let ack = specs.iter().find(|s| s.name == "callback-ack").unwrap();
    assert!(ack.workdir.is_absolute(), "{:?}", ack.workdir);
    let program = Path::new(&ack.argv[0]);
    assert!(program.is_absolute(), "{program:?}");
    assert!(
        program.ends_with("../target/release/apsis-callback-ack"),
        "{program:?}"
    );
    assert_eq!(
        program,
        ack.workdir.join("../target/release/apsis-callback-ack")
    );
}

/// functions/stack.yml is for OpenFaaS (no local programs), so it is not loaded here; but the contract the worker
/// relies on is checked: every function runs under of-watchdog in http mode (streaming mode answers 200 for a
/// failed run) and names an image.
#[test]
fn the_shipped_stack_yml_runs_every_function_in_http_mode() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../stack.yml");
    let stack: serde_norway::Value =
        serde_norway::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let functions = stack["functions"].as_mapping().unwrap();
    let names: Vec<&str> = functions.keys().filter_map(|k| k.as_str()).collect();
    assert_eq!(names, ["otbcli", "normalize-product", "callback-ack"]);
    for (name, f) in functions {
        assert_eq!(f["environment"]["mode"].as_str(), Some("http"), "{name:?}");
        assert!(f["image"].as_str().is_some(), "{name:?}");
    }
}
