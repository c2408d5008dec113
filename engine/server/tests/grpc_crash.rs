//! SIGKILL under gRPC load: the real `apsis engine` binary serves clients that create instances and complete jobs;
//! it is killed with SIGKILL at random moments and restarted on the same data directory and port; the clients
//! reconnect. Afterwards every acknowledged creation and job completion must be there, exactly once:
//! - every acknowledged instance whose job completion was not acknowledged still has its `work` job (or passed it);
//! - every acknowledged completion reached the receive task: publishing its message leads to a `verify` job.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use apsis_proto as pb;
use pb::gateway_client::GatewayClient;
use tonic::transport::Channel;

const PROCESS: &str = r#"<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0">
  <bpmn:process id="crash" isExecutable="true">
    <bpmn:startEvent id="s" />
    <bpmn:serviceTask id="work"><bpmn:extensionElements><zeebe:taskDefinition type="work" /></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:receiveTask id="wait" messageRef="m" />
    <bpmn:serviceTask id="verify"><bpmn:extensionElements><zeebe:taskDefinition type="verify" /></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:endEvent id="e" />
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="work" />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="wait" />
    <bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="verify" />
    <bpmn:sequenceFlow id="f4" sourceRef="verify" targetRef="e" />
  </bpmn:process>
  <bpmn:message id="m" name="go"><bpmn:extensionElements><zeebe:subscription correlationKey="= string(n)" /></bpmn:extensionElements></bpmn:message>
</bpmn:definitions>"#;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Engine {
    child: Child,
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_engine(dir: &std::path::Path, port: u16, monitoring: u16) -> Engine {
    let child = Command::new(env!("CARGO_BIN_EXE_apsis"))
        .args(["engine", "--data-dir"])
        .arg(dir)
        .args(["--gateway-address", &format!("127.0.0.1:{port}")])
        .args(["--monitoring-address", &format!("127.0.0.1:{monitoring}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start apsis engine");
    Engine { child }
}

async fn connect(port: u16) -> GatewayClient<Channel> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(ch) = Channel::from_shared(format!("http://127.0.0.1:{port}"))
            .unwrap()
            .connect()
            .await
        {
            let mut c = GatewayClient::new(ch);
            if c.topology(pb::TopologyRequest {}).await.is_ok() {
                return c;
            }
        }
        assert!(Instant::now() < deadline, "the engine did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn xorshift(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// Drives creations and completions until the connection breaks (the engine was killed) or `until`.
async fn drive(
    c: &mut GatewayClient<Channel>,
    next_n: &mut i64,
    created: &mut BTreeMap<i64, i64>,
    completed: &mut BTreeSet<i64>,
    until: Instant,
) {
    while Instant::now() < until {
        for _ in 0..20 {
            let n = *next_n;
            *next_n += 1;
            let r = c
                .create_process_instance(pb::CreateProcessInstanceRequest {
                    bpmn_process_id: "crash".into(),
                    version: -1,
                    variables: format!(r#"{{"n": {n}}}"#),
                    ..Default::default()
                })
                .await;
            match r {
                Ok(r) => {
                    created.insert(n, r.into_inner().process_instance_key);
                }
                Err(_) => return,
            }
        }
        let jobs = match c
            .activate_jobs(pb::ActivateJobsRequest {
                r#type: "work".into(),
                worker: "crash".into(),
                // Short, so a job activated before a kill and never completed comes back for the final check.
                timeout: 1_000,
                max_jobs_to_activate: 15,
                request_timeout: -1,
                ..Default::default()
            })
            .await
        {
            Ok(s) => {
                let mut s = s.into_inner();
                let mut jobs = Vec::new();
                while let Ok(Some(m)) = s.message().await {
                    jobs.extend(m.jobs);
                }
                jobs
            }
            Err(_) => return,
        };
        for job in jobs {
            let n: i64 = serde_json::from_str::<serde_json::Value>(&job.variables).unwrap()["n"]
                .as_i64()
                .unwrap();
            match c
                .complete_job(pb::CompleteJobRequest {
                    job_key: job.key,
                    variables: String::new(),
                    result: None,
                })
                .await
            {
                Ok(_) => {
                    completed.insert(n);
                }
                Err(_) => return,
            }
        }
    }
}

async fn drain(c: &mut GatewayClient<Channel>, job_type: &str) -> Vec<i64> {
    let mut out = Vec::new();
    loop {
        let mut s = c
            .activate_jobs(pb::ActivateJobsRequest {
                r#type: job_type.into(),
                worker: "check".into(),
                timeout: 300_000,
                max_jobs_to_activate: 1000,
                request_timeout: -1,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let mut got = 0;
        while let Some(m) = s.message().await.unwrap() {
            for j in m.jobs {
                got += 1;
                out.push(
                    serde_json::from_str::<serde_json::Value>(&j.variables).unwrap()["n"]
                        .as_i64()
                        .unwrap(),
                );
            }
        }
        if got == 0 {
            return out;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_grpc_load_loses_no_acknowledged_instance_or_completion() {
    let dir = tempfile::tempdir().unwrap();
    let (port, monitoring) = (free_port(), free_port());
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut created: BTreeMap<i64, i64> = BTreeMap::new();
    let mut completed: BTreeSet<i64> = BTreeSet::new();
    let mut next_n = 0;
    let rounds = 6;
    for round in 0..rounds {
        let mut engine = start_engine(dir.path(), port, monitoring);
        let mut c = connect(port).await;
        if round == 0 {
            c.deploy_resource(pb::DeployResourceRequest {
                resources: vec![pb::Resource {
                    name: "crash.bpmn".into(),
                    content: PROCESS.as_bytes().to_vec(),
                }],
                tenant_id: String::new(),
            })
            .await
            .unwrap();
        }
        let run_for = Duration::from_millis(200 + xorshift(&mut seed) % 600);
        let killer = tokio::spawn(async move {
            tokio::time::sleep(run_for).await;
            let _ = engine.child.kill(); // SIGKILL
            let _ = engine.child.wait();
            drop(engine);
        });
        drive(
            &mut c,
            &mut next_n,
            &mut created,
            &mut completed,
            Instant::now() + Duration::from_secs(10),
        )
        .await;
        killer.await.unwrap();
    }
    // Final restart: check everything acknowledged.
    let _engine = start_engine(dir.path(), port, monitoring);
    let mut c = connect(port).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await; // activated-but-unacknowledged jobs time out
    let pending: Vec<i64> = drain(&mut c, "work").await;
    let pending_set: BTreeSet<i64> = pending.iter().copied().collect();
    assert_eq!(
        pending.len(),
        pending_set.len(),
        "a work job exists twice for one instance"
    );
    for n in &completed {
        assert!(
            !pending_set.contains(n),
            "the acknowledged completion of n={n} was lost: its job is back"
        );
    }
    // Every acknowledged instance without a pending work job got past it (an acknowledged completion, or one that
    // committed just before a kill, before its reply): it waits at the receive task, and its message leads to
    // exactly one verify job.
    // (An instance whose creation committed just before a kill has no acknowledged creation, but its job may have
    // been completed, with acknowledgement, in a later round: it is checked through `completed`.)
    let mut past_work: BTreeSet<i64> = created
        .keys()
        .copied()
        .filter(|n| !pending_set.contains(n))
        .collect();
    past_work.extend(completed.iter().copied());
    for n in &past_work {
        c.publish_message(pb::PublishMessageRequest {
            name: "go".into(),
            correlation_key: n.to_string(),
            time_to_live: 0,
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let verified = drain(&mut c, "verify").await;
    let verified_set: BTreeSet<i64> = verified.iter().copied().collect();
    assert_eq!(
        verified.len(),
        verified_set.len(),
        "an instance passed the receive task twice"
    );
    for n in &past_work {
        assert!(
            verified_set.contains(n),
            "acknowledged instance n={n} is neither at its work job nor at its receive task: lost"
        );
    }
    for n in &completed {
        assert!(
            verified_set.contains(n),
            "the instance of acknowledged completion n={n} is not at its receive task"
        );
    }
    eprintln!(
        "{rounds} SIGKILLs under gRPC load: {} acknowledged creations, {} acknowledged completions verified",
        created.len(),
        completed.len()
    );
    assert!(
        created.len() > 100 && completed.len() > 50,
        "too little progress to prove anything"
    );
}
