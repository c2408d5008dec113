//! zeebe-rs (crates.io) drives tests/interop/bpmn/interop-order.bpmn against `apsis engine`: topology,
//! deploy_resource, workers whose handlers complete jobs with variables, throw CARD_DECLINED and fail the ship job's
//! only retry (zeebe-rs fails with retries - 1 = 0: an incident), create_process_instance with result,
//! publish_message, update_job_retries + resolve_incident; then the result's variables are checked.
//! Reads ZEEBE_ADDRESS (host:port) and INTEROP_BPMN; prints `PASS zeebe-rs` or `FAIL zeebe-rs: ...`.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::mpsc;
use zeebe_rs::{ActivatedJob, Client, Metadata, WorkerError};

const CLIENT: &str = "zeebe-rs";
const ORDER: &str = "order-zeebe-rs";

type Outcome = Result<(), String>;

fn step(what: &str) {
    println!("step: {what}");
}

#[tokio::main]
async fn main() {
    let outcome = match tokio::time::timeout(Duration::from_secs(90), scenario()).await {
        Ok(outcome) => outcome,
        Err(_) => Err("the scenario did not finish within 90 s".to_owned()),
    };
    match outcome {
        Ok(()) => println!("PASS {CLIENT}"),
        Err(what) => {
            println!("FAIL {CLIENT}: {what}");
            std::process::exit(1);
        }
    }
}

/// A worker of one job type, as the examples of zeebe-rs build them. zeebe-rs polls ActivateJobs on a fixed 15 s
/// interval (long polling 10 s at a time), which is not configurable in 0.4.1.
fn worker<F, Fut, R>(
    client: &Client,
    job_type: &str,
    handler: F,
) -> zeebe_rs::Worker<impl zeebe_rs::JobHandler>
where
    F: Fn(Client, ActivatedJob) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: zeebe_rs::WorkerOutputHandler + Send + 'static,
{
    client
        .worker()
        .with_request_timeout(Duration::from_secs(10))
        .with_job_timeout(Duration::from_secs(30))
        .with_max_jobs_to_activate(4)
        .with_concurrency_limit(4)
        .with_job_type(job_type.to_owned())
        .with_handler(handler)
        .with_worker_name("zeebe-rs-interop".to_owned())
        .build()
}

fn ship_worker(
    client: &Client,
    failed: mpsc::Sender<i64>,
) -> zeebe_rs::Worker<impl zeebe_rs::JobHandler> {
    worker(client, "ship", move |_client, job| {
        let failed = failed.clone();
        async move {
            if job.retries() == 1 {
                let _ = failed.send(job.key()).await;
                // zeebe-rs fails the job with retries - 1 = 0: an incident.
                return Err(WorkerError::FailJob("carrier unreachable".to_owned()));
            }
            Ok::<Value, WorkerError<()>>(json!({"shipped": true, "shipRetries": job.retries()}))
        }
    })
}

/// The open incident of a job, once its failure has raised it (waits up to 15 s). The gateway protocol returns no
/// incident keys (Zeebe users read them from Operate); apsis lists open incidents on its monitoring endpoint.
async fn incident_of(job_key: i64) -> Result<Value, String> {
    for _ in 0..150 {
        let incidents = open_incidents().await?;
        if let Some(found) = incidents
            .as_array()
            .and_then(|list| list.iter().find(|i| i["jobKey"] == job_key))
        {
            return Ok(found.clone());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!(
        "no incident for job {job_key} appeared in /incidents within 15 s"
    ))
}

/// `GET {INTEROP_MONITORING}/incidents` over a plain socket (HTTP/1.1, one request per connection).
async fn open_incidents() -> Result<Value, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let base = std::env::var("INTEROP_MONITORING").map_err(|_| "INTEROP_MONITORING is not set")?;
    let authority = base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut stream = tokio::net::TcpStream::connect(&authority)
        .await
        .map_err(|e| format!("connect to {authority}: {e}"))?;
    let request =
        format!("GET /incidents HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("GET /incidents: {e}"))?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .await
        .map_err(|e| format!("GET /incidents: {e}"))?;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or("GET /incidents: no HTTP answer")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("GET /incidents answered {head}"));
    }
    serde_json::from_str(body).map_err(|e| format!("GET /incidents: not JSON ({e}): {body}"))
}

async fn scenario() -> Outcome {
    let address = std::env::var("ZEEBE_ADDRESS").map_err(|_| "ZEEBE_ADDRESS is not set")?;
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| format!("ZEEBE_ADDRESS {address} is not host:port"))?;
    let port: u16 = port
        .parse()
        .map_err(|e| format!("port of {address}: {e}"))?;
    let client = Client::builder()
        .with_address(&format!("http://{host}"), port)
        .build()
        .await
        .map_err(|e| format!("connect to {address}: {e:?}"))?;

    step("topology");
    let topology = client
        .topology()
        .send()
        .await
        .map_err(|e| format!("topology: {e:?}"))?;
    if topology.gateway_version().is_empty()
        || topology.brokers().first().map(|b| b.partitions().len()) != Some(1)
    {
        return Err(format!("unexpected topology {topology:?}"));
    }

    step("deploy_resource");
    let bpmn = PathBuf::from(std::env::var("INTEROP_BPMN").map_err(|_| "INTEROP_BPMN is not set")?);
    let deployed = client
        .deploy_resource()
        .with_resource_file(bpmn)
        .read_resource_files()
        .map_err(|e| format!("read the BPMN: {e:?}"))?
        .send()
        .await
        .map_err(|e| format!("deploy_resource: {e:?}"))?;
    match deployed.deployments().first().and_then(|d| d.metadata()) {
        Some(Metadata::Process(p)) if p.bpmn_process_id() == "interop-order" => {}
        other => return Err(format!("deploy answered {other:?}")),
    }

    step("workers");
    let (seen_tx, mut seen_rx) = mpsc::channel::<(String, String)>(8);
    let reserve_seen = seen_tx.clone();
    let reserve = worker(&client, "reserve", move |_client, job| {
        let seen = reserve_seen.clone();
        async move {
            let _ = seen
                .send((
                    "reserve headers".to_owned(),
                    job.custom_headers().to_owned(),
                ))
                .await;
            Ok::<Value, WorkerError<()>>(json!({"reserved": true}))
        }
    });
    let charge_seen = seen_tx.clone();
    let charge = worker(&client, "charge", move |_client, job| {
        let seen = charge_seen.clone();
        async move {
            let _ = seen
                .send(("charge variables".to_owned(), job.variables().to_owned()))
                .await;
            Err::<Value, WorkerError<()>>(WorkerError::ThrowError {
                error_code: "CARD_DECLINED".to_owned(),
                error_message: Some("insufficient funds".to_owned()),
            })
        }
    });
    let decline = worker(&client, "handle-decline", |_client, _job| async move {
        Ok::<Value, WorkerError<()>>(json!({"declineHandled": true}))
    });
    let (failed_tx, mut failed_rx) = mpsc::channel::<i64>(4);
    let ship = ship_worker(&client, failed_tx.clone());
    let mut running = vec![
        tokio::spawn(reserve.run()),
        tokio::spawn(charge.run()),
        tokio::spawn(decline.run()),
    ];
    let first_ship = tokio::spawn(ship.run());

    step("create_process_instance with result");
    let with_result = client
        .create_process_instance()
        .with_bpmn_process_id("interop-order".to_owned())
        .with_variables(json!({"orderId": ORDER, "amount": 42}))
        .map_err(|e| format!("variables: {e:?}"))?
        .with_result(None);
    let result = tokio::spawn(with_result.send_with_result::<Value>());

    step("publish_message");
    client
        .publish_message()
        .with_name("payment-received".to_owned())
        .with_correlation_key(ORDER.to_owned())
        .with_time_to_live(Duration::from_secs(60))
        .with_variables(json!({"paid": 42}))
        .map_err(|e| format!("message variables: {e:?}"))?
        .send()
        .await
        .map_err(|e| format!("publish_message: {e:?}"))?;

    step("wait for the ship job to fail (incident)");
    let ship_key = tokio::time::timeout(Duration::from_secs(30), failed_rx.recv())
        .await
        .map_err(|_| "the ship job was not failed within 30 s")?
        .ok_or("the ship worker stopped")?;
    // The first ship worker would look again only at its next 15 s tick; a new worker polls at once.
    first_ship.abort();

    step("find the incident (GET /incidents)");
    let incident = incident_of(ship_key).await?;
    if incident["errorType"] != "JOB_NO_RETRIES"
        || incident["errorMessage"] != "carrier unreachable"
    {
        return Err(format!("unexpected incident {incident}"));
    }
    let incident = incident["key"]
        .as_i64()
        .ok_or_else(|| format!("incident without a key: {incident}"))?;

    step("update_job_retries(2) and resolve_incident");
    client
        .update_job_retries()
        .with_job_key(ship_key)
        .with_retries(2)
        .send()
        .await
        .map_err(|e| format!("update_job_retries({ship_key}, 2): {e:?}"))?;
    client
        .resolve_incident()
        .with_incident_key(incident)
        .send()
        .await
        .map_err(|e| format!("resolve_incident({incident}): {e:?}"))?;
    println!("resolved incident {incident}");
    running.push(tokio::spawn(ship_worker(&client, failed_tx).run()));

    step("await the result");
    let outcome = result
        .await
        .map_err(|e| format!("the result task: {e}"))?
        .map_err(|e| format!("create_process_instance with result: {e:?}"))?;
    let variables = outcome.data().clone();
    println!("result: {variables}");
    for task in running {
        task.abort();
    }

    let expected = json!({
        "orderId": ORDER, "amount": 42, "reserved": true, "paid": 42, "coolOffDone": true,
        "declineHandled": true, "shipped": true, "shipRetries": 2
    });
    let wrong: Vec<&String> = expected
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, v)| variables.get(k.as_str()) != Some(v))
        .map(|(k, _)| k)
        .collect();
    if !wrong.is_empty() {
        return Err(format!(
            "result variables {variables} differ from {expected} on {wrong:?}"
        ));
    }
    if outcome.response().bpmn_process_id() != "interop-order" {
        return Err(format!("the result names {:?}", outcome.response()));
    }
    let mut checked = 0;
    while let Ok((what, text)) = seen_rx.try_recv() {
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{what} are not JSON ({e}): {text}"))?;
        let ok = match what.as_str() {
            "reserve headers" => value["warehouse"] == "north",
            _ => value["paid"] == 42 && value["coolOffDone"] == true,
        };
        if !ok {
            return Err(format!("the job's {what} were {text}"));
        }
        checked += 1;
    }
    if checked != 2 {
        return Err(format!(
            "expected the reserve and charge handlers to run once each, saw {checked} runs"
        ));
    }
    Ok(())
}
