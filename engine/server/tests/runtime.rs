//! The runtime over the real store: restart rebuilds the identical state (from the log alone and from a snapshot),
//! disk stays bounded on a long run, and due timers fire through the runtime's clock.

use std::sync::Arc;

use apsis_core::command::{ProcessSelector, Resource};
use apsis_core::{Command, Json, Response, State};
use apsis_server::clock::ManualClock;
use apsis_server::{Engine, EngineOptions};
use serde_json::json;

const W1: &str = include_str!("../../../examples/bench/w1.bpmn");

const TIMER: &str = r#"<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0">
  <bpmn:process id="wait" isExecutable="true">
    <bpmn:startEvent id="s" />
    <bpmn:intermediateCatchEvent id="t"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:serviceTask id="after"><bpmn:extensionElements><zeebe:taskDefinition type="after" /></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t" />
    <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="after" />
  </bpmn:process>
</bpmn:definitions>"#;

fn deploy(engine: &Engine, name: &str, xml: &str) {
    let r = engine
        .handle()
        .call(Command::Deploy {
            resources: vec![Resource {
                name: name.into(),
                content: xml.into(),
            }],
        })
        .unwrap();
    assert!(matches!(r, Ok(Response::Deployed { .. })), "{r:?}");
}

fn create(engine: &Engine, id: &str, vars: serde_json::Value) {
    let r = engine
        .handle()
        .call(Command::CreateProcessInstance {
            process: ProcessSelector::Id {
                bpmn_process_id: id.into(),
                version: -1,
            },
            variables: Json(vars),
            await_result: false,
        })
        .unwrap();
    assert!(
        matches!(r, Ok(Response::ProcessInstanceCreated { .. })),
        "{r:?}"
    );
}

fn activate(engine: &Engine, job_type: &str, max: i32) -> Vec<apsis_core::command::ActivatedJob> {
    match engine
        .handle()
        .call(Command::ActivateJobs {
            job_type: job_type.into(),
            worker: "t".into(),
            timeout_ms: 60_000,
            max_jobs: max,
            fetch_variables: vec![],
        })
        .unwrap()
    {
        Ok(Response::JobsActivated { jobs }) => jobs,
        other => panic!("{other:?}"),
    }
}

fn snapshot_state(engine: &Engine) -> State {
    engine.handle().inspect(|s| s.clone()).unwrap()
}

/// Some live work: instances waiting on jobs (some activated), a completed one, variables.
fn some_work(engine: &Engine) {
    deploy(engine, "w1.bpmn", W1);
    for i in 0..50 {
        create(
            engine,
            "bench-w1",
            json!({ "i": i, "payload": { "tiles": [i, i + 1] } }),
        );
    }
    let jobs = activate(engine, "bench-task", 20);
    for job in jobs.iter().take(10) {
        let r = engine
            .handle()
            .call(Command::CompleteJob {
                key: job.key,
                variables: Json(json!({"done": true})),
            })
            .unwrap();
        assert!(r.is_ok());
    }
}

#[test]
fn restart_from_the_log_alone_rebuilds_the_identical_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = EngineOptions::new(dir.path());
    opts.snapshot_on_shutdown = false;
    let (engine, _) = Engine::start(opts.clone()).unwrap();
    some_work(&engine);
    let before = snapshot_state(&engine);
    engine.shutdown().unwrap();
    let (engine, stats) = Engine::start(opts).unwrap();
    assert_eq!(
        stats.snapshot_position, 0,
        "no snapshot: everything came from the log"
    );
    assert!(stats.entries_replayed > 50);
    assert!(
        snapshot_state(&engine) == before,
        "the replayed state differs"
    );
}

#[test]
fn restart_from_a_snapshot_rebuilds_the_identical_state_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = Engine::start(EngineOptions::new(dir.path())).unwrap();
    some_work(&engine);
    let before = snapshot_state(&engine);
    engine.shutdown().unwrap(); // writes a snapshot
    let (engine, stats) = Engine::start(EngineOptions::new(dir.path())).unwrap();
    assert!(stats.snapshot_position > 0);
    assert_eq!(
        stats.entries_replayed, 0,
        "the snapshot covers the whole log"
    );
    assert!(
        snapshot_state(&engine) == before,
        "the state loaded from the snapshot differs"
    );
    // The restored engine keeps working: the remaining jobs complete and keys do not repeat.
    let jobs = activate(&engine, "bench-task", 100);
    assert_eq!(
        jobs.len(),
        30,
        "of 50 jobs, 10 were completed and 10 are still activated by the old worker"
    );
    for job in jobs {
        assert!(engine
            .handle()
            .call(Command::CompleteJob {
                key: job.key,
                variables: Json(json!({}))
            })
            .unwrap()
            .is_ok());
    }
    let live = engine.handle().inspect(|s| s.live_counts()).unwrap();
    assert_eq!(
        live.jobs, 10,
        "the jobs activated before the restart wait for their worker or their timeout"
    );
}

#[test]
fn disk_and_memory_stay_bounded_on_a_long_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = EngineOptions::new(dir.path());
    opts.snapshot_every_bytes = 256 * 1024;
    opts.segment_bytes = 512 * 1024;
    opts.sync = apsis_store::SyncMode::None; // durability is the crash test's subject; this one is about size
    let (engine, _) = Engine::start(opts).unwrap();
    deploy(&engine, "w1.bpmn", W1);
    let h = engine.handle();
    let mut max_disk = 0u64;
    for round in 0..40 {
        for _ in 0..250 {
            h.submit_wait(
                Command::CreateProcessInstance {
                    process: ProcessSelector::Id {
                        bpmn_process_id: "bench-w1".into(),
                        version: -1,
                    },
                    variables: Json(json!({"data": "x".repeat(100)})),
                    await_result: false,
                },
                Box::new(|_| {}),
            )
            .unwrap();
        }
        loop {
            let jobs = activate(&engine, "bench-task", 1000);
            if jobs.is_empty() {
                break;
            }
            for job in jobs {
                h.submit_wait(
                    Command::CompleteJob {
                        key: job.key,
                        variables: Json(json!({})),
                    },
                    Box::new(|_| {}),
                )
                .unwrap();
            }
        }
        // Files may vanish while we list them (truncation runs on the runtime thread).
        let disk: u64 = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum();
        max_disk = max_disk.max(disk);
        if round == 39 {
            let live = h.inspect(|s| s.live_counts()).unwrap();
            assert_eq!(
                live.element_instances, 0,
                "completed instances leave the state"
            );
            assert_eq!(live.variable_scopes, 0);
            assert_eq!(live.jobs, 0);
        }
    }
    // 10,000 instances write several MB of log; snapshots and truncation keep the directory at a few segments.
    assert!(
        max_disk < 4 * 1024 * 1024,
        "the data directory grew to {max_disk} bytes"
    );
}

#[test]
fn due_timers_fire_through_the_runtime_clock() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let mut opts = EngineOptions::new(dir.path());
    opts.clock = clock.clone();
    let (engine, _) = Engine::start(opts.clone()).unwrap();
    deploy(&engine, "wait.bpmn", TIMER);
    create(&engine, "wait", json!({}));
    assert!(activate(&engine, "after", 1).is_empty());
    // The timer survives a restart, then fires when the clock passes its due time.
    engine.shutdown().unwrap();
    let (engine, _) = Engine::start(opts).unwrap();
    clock.advance(3_600_000);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if !activate(&engine, "after", 1).is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the timer did not fire"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

struct ChannelSink {
    tx: std::sync::mpsc::SyncSender<apsis_core::command::ActivatedJob>,
    open: std::sync::atomic::AtomicBool,
}

impl apsis_server::streams::JobSink for ChannelSink {
    fn capacity(&self) -> usize {
        if self.open.load(std::sync::atomic::Ordering::SeqCst) {
            16
        } else {
            0
        }
    }
    fn push(
        &self,
        job: Box<apsis_core::command::ActivatedJob>,
    ) -> Result<(), Box<apsis_core::command::ActivatedJob>> {
        if !self.open.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(job);
        }
        self.tx.try_send(*job).map_err(|e| match e {
            std::sync::mpsc::TrySendError::Full(j)
            | std::sync::mpsc::TrySendError::Disconnected(j) => Box::new(j),
        })
    }
}

#[test]
fn job_streams_receive_pushed_jobs_and_refused_ones_return_to_the_pool() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = Engine::start(EngineOptions::new(dir.path())).unwrap();
    deploy(&engine, "w1.bpmn", W1);
    let (tx, rx) = std::sync::mpsc::sync_channel(16);
    let sink = Arc::new(ChannelSink {
        tx,
        open: std::sync::atomic::AtomicBool::new(true),
    });
    let spec = apsis_server::streams::StreamSpec {
        job_type: "bench-task".into(),
        worker: "pusher".into(),
        timeout_ms: 10_000,
        fetch_variables: vec![],
    };
    let id = engine.handle().open_stream(spec, sink.clone()).unwrap();
    create(&engine, "bench-w1", json!({"n": 1}));
    let job = rx
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("a pushed job");
    assert_eq!(job.worker, "pusher");
    assert_eq!(job.variables, Json(json!({"n": 1})));
    assert!(
        activate(&engine, "bench-task", 10).is_empty(),
        "the pushed job is not in the pool"
    );
    // A stream with no room gets nothing pushed: the job stays in the pool and can be polled.
    sink.open.store(false, std::sync::atomic::Ordering::SeqCst);
    create(&engine, "bench-w1", json!({"n": 2}));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let polled = loop {
        let jobs = activate(&engine, "bench-task", 10);
        if !jobs.is_empty() {
            break jobs;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the refused job did not come back"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert_eq!(polled[0].variables, Json(json!({"n": 2})));
    engine.handle().close_stream(id);

    // A stream that had room but refuses the job (its client went away): the job is yielded back to the pool and
    // the stream is dropped.
    struct Refusing;
    impl apsis_server::streams::JobSink for Refusing {
        fn capacity(&self) -> usize {
            1
        }
        fn push(
            &self,
            job: Box<apsis_core::command::ActivatedJob>,
        ) -> Result<(), Box<apsis_core::command::ActivatedJob>> {
            Err(job)
        }
    }
    let spec = apsis_server::streams::StreamSpec {
        job_type: "bench-task".into(),
        worker: "gone".into(),
        timeout_ms: 10_000,
        fetch_variables: vec![],
    };
    engine
        .handle()
        .open_stream(spec, Arc::new(Refusing))
        .unwrap();
    create(&engine, "bench-w1", json!({"n": 3}));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let polled = loop {
        let jobs = activate(&engine, "bench-task", 10);
        if !jobs.is_empty() {
            break jobs;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the yielded job did not come back"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert_eq!(polled[0].variables, Json(json!({"n": 3})));
    assert_eq!(
        polled[0].worker, "t",
        "activated by the poller, not the refusing stream"
    );
}
