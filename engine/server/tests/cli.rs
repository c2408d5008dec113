//! The real `apsis engine` binary: it serves /health, /ready and /metrics, stops with exit 0 on SIGTERM after
//! finishing its work, recovers the same state on the next start, shows the config precedence with
//! `--print-config`, and refuses to start (exit 2, a sentence, no panic) on a bad config, a locked data directory or
//! a taken address. Every wait is bounded and every child is killed when its test ends.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use apsis_core::command::{ProcessSelector, Resource};
use apsis_core::{Json, Response};
use apsis_server::{Engine, EngineOptions};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

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
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = Running::new(child);
    let status = guard.wait(WAIT).expect("apsis ends by itself");
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let child = guard.child.as_mut().unwrap();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    Output {
        status,
        stdout,
        stderr,
    }
}

/// A child that is killed if the test ends before it does.
struct Running {
    child: Option<Child>,
    /// JSON log lines from stderr (other lines as strings).
    lines: Option<Receiver<Value>>,
    seen: Vec<Value>,
}

impl Running {
    fn new(child: Child) -> Running {
        Running {
            child: Some(child),
            lines: None,
            seen: Vec::new(),
        }
    }

    /// Starts `apsis engine` on `data_dir` with JSON logs and a free monitoring port.
    fn engine(data_dir: &Path) -> Running {
        let mut child = apsis(
            &[
                "engine",
                "--data-dir",
                data_dir.to_str().unwrap(),
                "--monitoring-address",
                "127.0.0.1:0",
                "--gateway-address",
                "127.0.0.1:0",
            ],
            &[("APSIS_LOG_FORMAT", "json")],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let v = serde_json::from_str(&line).unwrap_or(Value::String(line));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let mut r = Running::new(child);
        r.lines = Some(rx);
        r
    }

    /// The first log line with this message (waiting for it), bounded.
    fn log(&mut self, message: &str) -> Value {
        if let Some(v) = self.seen.iter().find(|v| v["message"] == message) {
            return v.clone();
        }
        let deadline = Instant::now() + WAIT;
        let rx = self.lines.as_ref().unwrap();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = rx.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "no log line '{message}' within {WAIT:?}; saw {:#?}",
                    self.seen
                )
            });
            self.seen.push(v.clone());
            if v["message"] == message {
                return v;
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([format!("-{name}"), self.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name}");
    }

    fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        let child = self.child.as_mut().unwrap();
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if child.try_wait().ok().flatten().is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// A plain HTTP/1.1 GET: (status, body).
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    (status, text.split_once("\r\n\r\n").unwrap().1.to_owned())
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
    let mut engine = Running::engine(dir);
    let ready = engine.log("apsis engine ready");
    let addr: SocketAddr = ready["monitoring_address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let recovered = engine.log("recovered");
    assert_eq!(get(addr, "/health"), (200, "ok\n".into()));
    assert_eq!(get(addr, "/ready"), (200, "ready\n".into()));
    let (status, scrape) = get(addr, "/metrics");
    assert_eq!(status, 200);
    engine.signal("TERM");
    let status = engine
        .wait(WAIT)
        .expect("apsis stops within the bound after SIGTERM");
    assert_eq!(
        status.code(),
        Some(0),
        "graceful stop exits 0; log: {:#?}",
        engine.seen
    );
    engine.log("stopped");
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
