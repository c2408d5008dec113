//! Test support for `tests/crash.rs` (not a user tool): runs the engine on a data directory with fsync on and a
//! small snapshot interval, prints the recovered state, then drives a workload forever, printing one line per
//! acknowledged command (after its commit). The test SIGKILLs it at random moments and checks the next start.
//!
//! Output lines:
//!   `state <pi-key> <n> <worked>`  one per live instance after recovery, then `ready <events replayed>`
//!   `created <pi-key> <n>`         an acknowledged CreateProcessInstance with variable n
//!   `completed <job-key> <n>`      an acknowledged CompleteJob of instance n's job

use std::io::Write;
use std::sync::mpsc;
use std::sync::Arc;

use apsis_core::command::{ProcessSelector, Resource};
use apsis_core::{Command, Json, Response};
use apsis_server::{Engine, EngineOptions};
use serde_json::json;

const PROCESS: &str = r#"<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0">
  <bpmn:process id="crash" isExecutable="true">
    <bpmn:startEvent id="s" />
    <bpmn:serviceTask id="work"><bpmn:extensionElements><zeebe:taskDefinition type="work" /></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:receiveTask id="wait" messageRef="m" />
    <bpmn:endEvent id="e" />
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="work" />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="wait" />
    <bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="e" />
  </bpmn:process>
  <bpmn:message id="m" name="never"><bpmn:extensionElements><zeebe:subscription correlationKey="= string(n)" /></bpmn:extensionElements></bpmn:message>
</bpmn:definitions>"#;

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: apsis-crash-child DATA_DIR"))?;
    let mut opts = EngineOptions::new(&dir);
    opts.snapshot_every_bytes = 64 * 1024;
    opts.segment_bytes = 256 * 1024;
    let (engine, stats) = Engine::start(opts)?;
    let h = engine.handle();
    let (out_tx, out_rx) = mpsc::channel::<String>();
    let printer = std::thread::spawn(move || {
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        for line in out_rx {
            if writeln!(lock, "{line}").and_then(|_| lock.flush()).is_err() {
                break;
            }
        }
    });
    // The recovered state: every live instance with its n and whether its job was completed.
    let rows = h.inspect(|s| {
        let mut rows = Vec::new();
        for (key, inst) in &s.instances {
            if !inst.at.flow_scope_key.is_none() {
                continue;
            }
            let n = s
                .variable(*key, "n")
                .and_then(|v| v.0.as_i64())
                .unwrap_or(-1);
            let worked = s.variable(*key, "worked").is_some();
            rows.push((key.0, n, worked));
        }
        rows.sort();
        rows
    })?;
    let mut next_n = 0;
    for (key, n, worked) in &rows {
        out_tx.send(format!("state {key} {n} {worked}"))?;
        next_n = next_n.max(n + 1);
    }
    out_tx.send(format!("ready {}", stats.events_replayed))?;
    match h.call(Command::Deploy {
        resources: vec![Resource {
            name: "crash.bpmn".into(),
            content: PROCESS.into(),
        }],
    }) {
        Ok(Ok(Response::Deployed { .. })) => {}
        other => anyhow::bail!("deploy failed: {other:?}"),
    }
    let out = Arc::new(std::sync::Mutex::new(out_tx));
    loop {
        for _ in 0..20 {
            let n = next_n;
            next_n += 1;
            let out = out.clone();
            h.submit_wait(
                Command::CreateProcessInstance {
                    process: ProcessSelector::Id {
                        bpmn_process_id: "crash".into(),
                        version: -1,
                    },
                    variables: Json(json!({ "n": n })),
                    await_result: false,
                },
                Box::new(move |r| {
                    if let Ok(Response::ProcessInstanceCreated {
                        process_instance_key,
                        ..
                    }) = r
                    {
                        let _ = out
                            .lock()
                            .unwrap()
                            .send(format!("created {process_instance_key} {n}"));
                    }
                }),
            )
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        }
        let jobs = match h.call(Command::ActivateJobs {
            job_type: "work".into(),
            worker: "crash".into(),
            timeout_ms: 600_000,
            max_jobs: 15,
            fetch_variables: vec!["n".into()],
        }) {
            Ok(Ok(Response::JobsActivated { jobs })) => jobs,
            other => anyhow::bail!("activate failed: {other:?}"),
        };
        for job in jobs {
            let n = job.variables.0["n"].as_i64().unwrap_or(-1);
            let out = out.clone();
            let key = job.key;
            h.submit_wait(
                Command::CompleteJob {
                    key,
                    variables: Json(json!({ "worked": true })),
                },
                Box::new(move |r| {
                    if r.is_ok() {
                        let _ = out.lock().unwrap().send(format!("completed {key} {n}"));
                    }
                }),
            )
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        }
        if printer.is_finished() {
            return Ok(());
        }
    }
}
