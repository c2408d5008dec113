//! The real `apsis engine` binary: it serves /health, /ready and /metrics, stops with exit 0 on SIGTERM after
//! finishing its work, recovers the same state on the next start, shows the config precedence with
//! `--print-config`, and refuses to start (exit 2, a sentence, no panic) on a bad config, a locked data directory or
//! a taken address. Every wait is bounded and every child is killed when its test ends.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};

use apsis_core::command::{ProcessSelector, Resource};
use apsis_core::{Json, Response};
use apsis_server::{Engine, EngineOptions};
use apsis_testkit::{http_get, EngineOpts, EngineProcess, WAIT};
use serde_json::{json, Value};

const ONE_TASK: &str = r#"<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="s" />
    <bpmn:serviceTask id="t"><bpmn:extensionElements><zeebe:taskDefinition type="work" /></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t" />
  </bpmn:process>
</bpmn:definitions>"#;

/// `apsis` with a clean environment (no `APSIS_*` of the machine running the tests) plus `env`.
fn apsis(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_apsis"));
    c.args(args).env_clear().envs(env.iter().copied());
    c
}

/// Runs to the end, bounded.
fn output(mut command: Command) -> Output {
    apsis_testkit::run(&mut command)
}

/// A plain HTTP/1.1 GET: (status, body).
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    http_get(addr, path).unwrap_or_else(|| panic!("GET {path} on {addr} answers"))
}

/// The value of an unlabelled series in a Prometheus scrape.
fn sample(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} in the scrape:\n{scrape}"))
        .trim()
        .parse()
        .unwrap()
}

/// A data directory whose log holds a deployment and three instances waiting at a service task (no snapshot).
fn seeded_data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = EngineOptions::new(dir.path().join("data"));
    opts.snapshot_on_shutdown = false;
    let (engine, _) = Engine::start(opts).unwrap();
    let h = engine.handle();
    let deployed = h
        .call(apsis_core::Command::Deploy {
            resources: vec![Resource {
                name: "p.bpmn".into(),
                content: ONE_TASK.into(),
            }],
        })
        .unwrap();
    assert!(
        matches!(deployed, Ok(Response::Deployed { .. })),
        "{deployed:?}"
    );
    for n in 0..3 {
        let created = h
            .call(apsis_core::Command::CreateProcessInstance {
                process: ProcessSelector::Id {
                    bpmn_process_id: "p".into(),
                    version: -1,
                },
                variables: Json(json!({ "n": n })),
                await_result: false,
            })
            .unwrap();
        assert!(
            matches!(created, Ok(Response::ProcessInstanceCreated { .. })),
            "{created:?}"
        );
    }
    engine.shutdown().unwrap();
    dir
}

/// One run of the engine on `dir`: ready, scraped, stopped by SIGTERM. Returns (recovery line, scrape).
fn run_once(dir: &Path) -> (Value, String) {
    let mut engine =
        EngineProcess::spawn(EngineOpts::new(env!("CARGO_BIN_EXE_apsis")).data_dir(dir));
    let addr = engine.monitoring_addr();
    let recovered = engine.wait_for_log("recovered");
    assert_eq!(get(addr, "/health"), (200, "ok\n".into()));
    assert_eq!(get(addr, "/ready"), (200, "ready\n".into()));
    let (status, scrape) = get(addr, "/metrics");
    assert_eq!(status, 200);
    engine.terminate();
    let status = engine
        .wait_exit(WAIT)
        .expect("apsis stops within the bound after SIGTERM");
    assert_eq!(
        status.code(),
        Some(0),
        "graceful stop exits 0; log: {:#?}",
        engine.log_lines()
    );
    engine.wait_for_log("stopped");
    (recovered, scrape)
}

#[test]
fn the_engine_serves_monitoring_stops_on_sigterm_and_recovers_its_state() {
    let dir = seeded_data_dir();
    let data = dir.path().join("data");
    let (first, scrape) = run_once(&data);
    assert_eq!(
        first["entries_replayed"], 4,
        "deploy + 3 instances: {first}"
    );
    assert!(first["events_replayed"].as_u64().unwrap() > 4, "{first}");
    assert!(
        first["replay_ms"].is_u64() && first["snapshot_position"].is_u64(),
        "{first}"
    );
    for name in apsis_server::metrics::ALL {
        assert!(
            scrape.contains(&format!("# TYPE {name} ")),
            "{name} in the scrape:\n{scrape}"
        );
    }
    // Read from the recovered state: the instances started before this process existed are counted.
    assert!(
        scrape.contains(
            "apsis_process_instances_total{bpmn_process_id=\"p\",version=\"1\",event=\"started\"} 3"
        ),
        "{scrape}"
    );
    assert!(
        scrape.contains("process_resident_memory_bytes"),
        "process metrics: {scrape}"
    );
    assert!(
        scrape.contains(
            "apsis_commands_total{kind=\"create_process_instance\",outcome=\"accepted\"}"
        ),
        "{scrape}"
    );
    assert!(
        scrape.contains("apsis_group_commit_seconds_bucket{le="),
        "a histogram: {scrape}"
    );
    // 3 process instances, each with its service task; 3 jobs; read through the runtime at scrape time.
    assert_eq!(sample(&scrape, "apsis_live_element_instances"), 6.0);
    assert_eq!(sample(&scrape, "apsis_live_jobs"), 3.0);
    assert_eq!(sample(&scrape, "apsis_recovery_entries_replayed"), 4.0);

    let (second, scrape) = run_once(&data);
    assert_eq!(
        second["entries_replayed"], first["entries_replayed"],
        "{second}"
    );
    assert_eq!(
        second["events_replayed"], first["events_replayed"],
        "{second}"
    );
    assert_eq!(
        sample(&scrape, "apsis_live_element_instances"),
        6.0,
        "same state after a restart"
    );
    assert_eq!(sample(&scrape, "apsis_live_jobs"), 3.0);
}

#[test]
fn print_config_shows_defaults_then_file_then_env_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("apsis.toml");
    std::fs::write(
        &file,
        "[engine]\nmax_batch = 7\n\n[gateway]\naddress = \"file.example:1\"\n\n[monitoring]\naddress = \"file.example:1\"\n\n[gateway.auth]\nmode = \"static-token\"\ntoken = \"s3cret\"\n",
    )
    .unwrap();
    let data = dir.path().join("never-created");
    let out = output(apsis(
        &[
            "engine",
            "--print-config",
            "--monitoring-address",
            "flag.example:3",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[
            ("APSIS_CONFIG", file.to_str().unwrap()),
            ("APSIS_GATEWAY_ADDRESS", "env.example:2"),
            ("APSIS_MONITORING_ADDRESS", "env.example:2"),
        ],
    ));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f = file.display();
    for expected in [
        format!("max_batch = 7  # from {f} line 2"),
        "queue_capacity = 65536\n".to_owned(),
        "address = \"env.example:2\"  # from APSIS_GATEWAY_ADDRESS".to_owned(),
        "address = \"flag.example:3\"  # from --monitoring-address".to_owned(),
        format!("data_dir = \"{}\"  # from --data-dir", data.display()),
        "token = \"********\"".to_owned(),
    ] {
        assert!(
            text.contains(&expected),
            "expected `{expected}` in:\n{text}"
        );
    }
    assert!(!text.contains("s3cret"), "the token is masked:\n{text}");
    assert!(!data.exists(), "--print-config starts nothing");
}

/// Exit 2 with this sentence on stderr, and no panic.
fn refuses(out: Output, sentence: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(sentence),
        "expected `{sentence}` in:\n{stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
}

#[test]
fn a_bad_config_is_refused_with_where_and_what() {
    refuses(
        output(apsis(&["engine"], &[("APSIS_GATEWAY_ADDRESS", "abc")])),
        "apsis: Expected APSIS_GATEWAY_ADDRESS to be HOST:PORT, but found 'abc'",
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("apsis.toml");
    std::fs::write(&file, "[engine]\ndata_dir = \"/d\"\nmax_bach = 3\n").unwrap();
    refuses(
        output(apsis(&["engine", "--config", file.to_str().unwrap()], &[])),
        &format!(
            "Expected only known keys in {} (line 3), but found 'engine.max_bach'",
            file.display()
        ),
    );
    refuses(
        output(apsis(&["engine", "--config", "/nonexistent/apsis.toml"], &[])),
        "Expected to read the config file /nonexistent/apsis.toml (named by --config), but it could not be read",
    );
}

#[test]
fn a_locked_data_dir_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = Engine::start(EngineOptions::new(dir.path())).unwrap();
    refuses(
        output(apsis(
            &["engine", "--data-dir", dir.path().to_str().unwrap(), "--monitoring-address", "127.0.0.1:0"],
            &[],
        )),
        &format!(
            "apsis: Expected to open the data directory {}, but another apsis engine holds its lock",
            dir.path().display()
        ),
    );
    engine.shutdown().unwrap();
}

#[test]
fn a_taken_monitoring_address_is_refused_with_a_clear_message() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    refuses(
        output(apsis(
            &[
                "engine",
                "--data-dir",
                dir.path().to_str().unwrap(),
                "--monitoring-address",
                &addr,
            ],
            &[],
        )),
        &format!(
            "apsis: Expected to listen on {addr} for monitoring, but the address is already in use"
        ),
    );
}
