//! The gateway in process: a real tonic server on loopback, the generated client, the real engine underneath.
//! Each RPC's success path and each error status of the contract.

use std::time::{Duration, Instant};

use apsis_proto as pb;
use apsis_server::gateway::{Advertised, GatewayHub, GatewayService};
use apsis_server::{Engine, EngineOptions};
use pb::gateway_client::GatewayClient;
use tonic::transport::Channel;
use tonic::Code;

const PROCESS: &str = r#"<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0">
  <bpmn:process id="order" isExecutable="true">
    <bpmn:startEvent id="s" />
    <bpmn:serviceTask id="pay"><bpmn:extensionElements><zeebe:taskDefinition type="pay" /></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:receiveTask id="wait" messageRef="m" />
    <bpmn:endEvent id="e" />
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="pay" />
    <bpmn:sequenceFlow id="f2" sourceRef="pay" targetRef="wait" />
    <bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="e" />
  </bpmn:process>
  <bpmn:message id="m" name="shipped"><bpmn:extensionElements><zeebe:subscription correlationKey="= orderId" /></bpmn:extensionElements></bpmn:message>
</bpmn:definitions>"#;

const QUICK: &str = r#"<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">
  <bpmn:process id="quick" isExecutable="true">
    <bpmn:startEvent id="s" /><bpmn:endEvent id="e" /><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="e" />
  </bpmn:process>
</bpmn:definitions>"#;

struct Running {
    client: GatewayClient<Channel>,
    _engine: Engine,
    _dir: tempfile::TempDir,
}

async fn start() -> Running {
    start_with(|_| {}).await
}

async fn start_with(tune: impl FnOnce(&mut EngineOptions)) -> Running {
    start_limited(tune, apsis_server::gateway::MAX_MESSAGE_BYTES).await
}

async fn start_limited(tune: impl FnOnce(&mut EngineOptions), max_message: usize) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let hub = GatewayHub::new();
    let mut opts = EngineOptions::new(dir.path());
    tune(&mut opts);
    opts.on_effects = Some(hub.effects_hook());
    let (engine, _) = Engine::start(opts).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let svc = GatewayService::new(
        engine.handle(),
        &hub,
        Advertised {
            host: "127.0.0.1".into(),
            port: addr.port() as i32,
        },
    )
    .with_max_message_size(max_message);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(svc.into_server())
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let client = GatewayClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    Running {
        client,
        _engine: engine,
        _dir: dir,
    }
}

async fn deploy(
    c: &mut GatewayClient<Channel>,
    name: &str,
    xml: &str,
) -> pb::DeployResourceResponse {
    c.deploy_resource(pb::DeployResourceRequest {
        resources: vec![pb::Resource {
            name: name.into(),
            content: xml.as_bytes().to_vec(),
        }],
        tenant_id: String::new(),
    })
    .await
    .unwrap()
    .into_inner()
}

async fn create(
    c: &mut GatewayClient<Channel>,
    id: &str,
    vars: &str,
) -> pb::CreateProcessInstanceResponse {
    c.create_process_instance(pb::CreateProcessInstanceRequest {
        bpmn_process_id: id.into(),
        version: -1,
        variables: vars.into(),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner()
}

async fn activate(
    c: &mut GatewayClient<Channel>,
    job_type: &str,
    request_timeout: i64,
) -> Vec<pb::ActivatedJob> {
    let mut stream = c
        .activate_jobs(pb::ActivateJobsRequest {
            r#type: job_type.into(),
            worker: "test".into(),
            timeout: 60_000,
            max_jobs_to_activate: 10,
            request_timeout,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut jobs = Vec::new();
    while let Some(r) = stream.message().await.unwrap() {
        jobs.extend(r.jobs);
    }
    jobs
}

#[tokio::test]
async fn topology_reports_one_healthy_leader_and_the_gateway_version() {
    let mut r = start().await;
    let t = r
        .client
        .topology(pb::TopologyRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(t.cluster_size, 1);
    assert_eq!(t.partitions_count, 1);
    assert_eq!(t.replication_factor, 1);
    assert_eq!(t.gateway_version, "8.6.0");
    assert_eq!(t.brokers[0].partitions[0].partition_id, 1);
}

#[tokio::test]
async fn gzip_compressed_requests_are_accepted() {
    // @camunda8/sdk (grpc-js with grpc.default_compression_algorithm = gzip) compresses every request; Zeebe's
    // grpc-java gateway accepts that. Without it tonic answers UNIMPLEMENTED "Content is compressed with `gzip`".
    let r = start().await;
    let mut c = r
        .client
        .clone()
        .send_compressed(tonic::codec::CompressionEncoding::Gzip);
    let t = c
        .topology(pb::TopologyRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(t.partitions_count, 1);
    let d = deploy(&mut c, "order.bpmn", PROCESS).await;
    assert_eq!(d.deployments.len(), 1);
}

#[tokio::test]
async fn deploy_create_activate_complete_publish_end_to_end() {
    let mut r = start().await;
    let c = &mut r.client;
    let d = deploy(c, "order.bpmn", PROCESS).await;
    let Some(pb::deployment::Metadata::Process(p)) = &d.deployments[0].metadata else {
        panic!()
    };
    assert_eq!((p.bpmn_process_id.as_str(), p.version), ("order", 1));
    assert_eq!(p.tenant_id, "<default>");
    let created = create(c, "order", r#"{"orderId": "o-1", "amount": 12}"#).await;
    assert_eq!(created.bpmn_process_id, "order");
    let jobs = activate(c, "pay", -1).await;
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job.process_instance_key, created.process_instance_key);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&job.variables).unwrap(),
        serde_json::json!({"orderId": "o-1", "amount": 12})
    );
    c.complete_job(pb::CompleteJobRequest {
        job_key: job.key,
        variables: r#"{"paid": true}"#.into(),
        result: None,
    })
    .await
    .unwrap();
    let published = c
        .publish_message(pb::PublishMessageRequest {
            name: "shipped".into(),
            correlation_key: "o-1".into(),
            time_to_live: 0,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(published.key > 0);
    // Completed: cancelling it now is NOT_FOUND.
    let e = c
        .cancel_process_instance(pb::CancelProcessInstanceRequest {
            process_instance_key: created.process_instance_key,
            operation_reference: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    assert!(e.message().starts_with("Command 'CANCEL' rejected with code 'NOT_FOUND': Expected to cancel a process instance"), "{}", e.message());
}

#[tokio::test]
async fn long_polling_answers_as_soon_as_a_job_is_created() {
    let mut r = start().await;
    deploy(&mut r.client, "order.bpmn", PROCESS).await;
    let mut poller = r.client.clone();
    let started = Instant::now();
    let waiting = tokio::spawn(async move { activate(&mut poller, "pay", 5_000).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    create(&mut r.client, "order", r#"{"orderId": "x"}"#).await;
    let jobs = waiting.await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "woken by the job, not by the 5 s timeout"
    );
    // Nothing there: a short request timeout ends with no jobs; a negative one answers at once.
    let t = Instant::now();
    assert!(activate(&mut r.client, "none", 300).await.is_empty());
    assert!(t.elapsed() >= Duration::from_millis(290));
    assert!(activate(&mut r.client, "none", -1).await.is_empty());
}

#[tokio::test]
async fn stream_activated_jobs_pushes_new_jobs() {
    let mut r = start().await;
    deploy(&mut r.client, "order.bpmn", PROCESS).await;
    let mut stream = r
        .client
        .stream_activated_jobs(pb::StreamActivatedJobsRequest {
            r#type: "pay".into(),
            worker: "pusher".into(),
            timeout: 30_000,
            fetch_variable: vec!["orderId".into()],
            tenant_ids: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    tokio::time::sleep(Duration::from_millis(100)).await; // the stream is registered asynchronously
    create(&mut r.client, "order", r#"{"orderId": "s-1", "other": 1}"#).await;
    let job = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(job.worker, "pusher");
    assert_eq!(job.variables, r#"{"orderId":"s-1"}"#);
    r.client
        .complete_job(pb::CompleteJobRequest {
            job_key: job.key,
            variables: String::new(),
            result: None,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn create_with_result_returns_variables_or_times_out() {
    let mut r = start().await;
    deploy(&mut r.client, "quick.bpmn", QUICK).await;
    deploy(&mut r.client, "order.bpmn", PROCESS).await;
    let res = r
        .client
        .create_process_instance_with_result(pb::CreateProcessInstanceWithResultRequest {
            request: Some(pb::CreateProcessInstanceRequest {
                bpmn_process_id: "quick".into(),
                version: -1,
                variables: r#"{"a":1,"b":2}"#.into(),
                ..Default::default()
            }),
            request_timeout: 0,
            fetch_variables: vec!["a".into()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(res.variables, r#"{"a":1}"#);
    let e = r
        .client
        .create_process_instance_with_result(pb::CreateProcessInstanceWithResultRequest {
            request: Some(pb::CreateProcessInstanceRequest {
                bpmn_process_id: "order".into(),
                version: -1,
                variables: r#"{"orderId":"t"}"#.into(),
                ..Default::default()
            }),
            request_timeout: 300,
            fetch_variables: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::DeadlineExceeded);
}

#[tokio::test]
async fn job_commands_and_their_error_statuses() {
    let mut r = start().await;
    let c = &mut r.client;
    deploy(c, "order.bpmn", PROCESS).await;
    create(c, "order", r#"{"orderId": "e-1"}"#).await;
    let e = c
        .complete_job(pb::CompleteJobRequest {
            job_key: 123,
            variables: String::new(),
            result: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let job = activate(c, "pay", -1).await.remove(0);
    c.update_job_timeout(pb::UpdateJobTimeoutRequest {
        job_key: job.key,
        timeout: 120_000,
        operation_reference: None,
    })
    .await
    .unwrap();
    let e = c
        .update_job_retries(pb::UpdateJobRetriesRequest {
            job_key: job.key,
            retries: 0,
            operation_reference: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    c.update_job_retries(pb::UpdateJobRetriesRequest {
        job_key: job.key,
        retries: 5,
        operation_reference: None,
    })
    .await
    .unwrap();
    c.fail_job(pb::FailJobRequest {
        job_key: job.key,
        retries: 0,
        error_message: "disk full".into(),
        retry_back_off: 0,
        variables: String::new(),
    })
    .await
    .unwrap();
    let e = c
        .fail_job(pb::FailJobRequest {
            job_key: job.key,
            retries: 0,
            error_message: String::new(),
            retry_back_off: 0,
            variables: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{}", e.message());
    let e = c
        .throw_error(pb::ThrowErrorRequest {
            job_key: 99,
            error_code: "X".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let e = c
        .resolve_incident(pb::ResolveIncidentRequest {
            incident_key: 42,
            operation_reference: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let e = c
        .activate_jobs(pb::ActivateJobsRequest {
            r#type: " ".into(),
            worker: "w".into(),
            timeout: 1,
            max_jobs_to_activate: 1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let e = c
        .activate_jobs(pb::ActivateJobsRequest {
            r#type: "pay".into(),
            worker: "w".into(),
            timeout: 1,
            max_jobs_to_activate: 0,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn instance_message_variable_and_resource_errors() {
    let mut r = start().await;
    let c = &mut r.client;
    let bad = c
        .deploy_resource(pb::DeployResourceRequest { resources: vec![pb::Resource { name: "bad.bpmn".into(), content: b"<bpmn:definitions xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\"><bpmn:process id=\"p\" isExecutable=\"true\"><bpmn:serviceTask id=\"t\"/></bpmn:process></bpmn:definitions>".to_vec() }], tenant_id: String::new() })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(
        bad.message().contains("bad.bpmn") && bad.message().contains("element 't'"),
        "{}",
        bad.message()
    );
    let e = c
        .create_process_instance(pb::CreateProcessInstanceRequest {
            bpmn_process_id: "nope".into(),
            version: -1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let d = deploy(c, "order.bpmn", PROCESS).await;
    let e = c
        .create_process_instance(pb::CreateProcessInstanceRequest {
            bpmn_process_id: "order".into(),
            version: -1,
            variables: "[1]".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("'ARRAY'"), "{}", e.message());
    let publish = || pb::PublishMessageRequest {
        name: "n".into(),
        correlation_key: "k".into(),
        time_to_live: 60_000,
        message_id: "m-1".into(),
        ..Default::default()
    };
    c.publish_message(publish()).await.unwrap();
    let e = c.publish_message(publish()).await.unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists);
    let e = c
        .set_variables(pb::SetVariablesRequest {
            element_instance_key: 1,
            variables: "{}".into(),
            local: false,
            operation_reference: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let created = create(c, "order", r#"{"orderId": "v"}"#).await;
    let set = c
        .set_variables(pb::SetVariablesRequest {
            element_instance_key: created.process_instance_key,
            variables: r#"{"x": 1}"#.into(),
            local: true,
            operation_reference: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(set.key > 0);
    let Some(pb::deployment::Metadata::Process(p)) = &d.deployments[0].metadata else {
        panic!()
    };
    let e = c
        .delete_resource(pb::DeleteResourceRequest {
            resource_key: p.process_definition_key,
            operation_reference: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "running instances");
    c.cancel_process_instance(pb::CancelProcessInstanceRequest {
        process_instance_key: created.process_instance_key,
        operation_reference: None,
    })
    .await
    .unwrap();
    c.delete_resource(pb::DeleteResourceRequest {
        resource_key: p.process_definition_key,
        operation_reference: None,
    })
    .await
    .unwrap();
    let e = c
        .broadcast_signal(pb::BroadcastSignalRequest {
            signal_name: "s".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unimplemented);
    assert!(e.message().contains("signal"), "{}", e.message());
    // Requests above 4 MB are refused with RESOURCE_EXHAUSTED, as Zeebe does.
    let huge = "x".repeat(5 * 1024 * 1024);
    let e = c
        .publish_message(pb::PublishMessageRequest {
            name: "n".into(),
            variables: format!(r#"{{"v":"{huge}"}}"#),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(e.code() == Code::ResourceExhausted, "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backpressure_refuses_new_work_but_never_job_completions() {
    let mut r = start_with(|o| o.queue_capacity = 2).await;
    deploy(&mut r.client, "order.bpmn", PROCESS).await;
    let mut tasks = Vec::new();
    for i in 0..300 {
        let mut c = r.client.clone();
        tasks.push(tokio::spawn(async move {
            c.create_process_instance(pb::CreateProcessInstanceRequest {
                bpmn_process_id: "order".into(),
                version: -1,
                variables: format!(r#"{{"orderId": "b-{i}"}}"#),
                ..Default::default()
            })
            .await
        }));
    }
    let mut refused = 0;
    for t in tasks {
        if let Err(e) = t.await.unwrap() {
            assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
            refused += 1;
        }
    }
    assert!(
        refused > 0,
        "a queue of 2 must refuse some of 300 concurrent creations"
    );
    let jobs = activate(&mut r.client, "pay", -1).await;
    assert!(!jobs.is_empty());
    let mut tasks = Vec::new();
    for job in jobs {
        let mut c = r.client.clone();
        tasks.push(tokio::spawn(async move {
            c.complete_job(pb::CompleteJobRequest {
                job_key: job.key,
                variables: String::new(),
                result: None,
            })
            .await
        }));
    }
    for t in tasks {
        t.await
            .unwrap()
            .expect("CompleteJob is never refused by backpressure");
    }
}

#[tokio::test]
#[allow(deprecated)] // DeployProcess is deprecated in Zeebe's protocol and still served
async fn throw_error_resolve_incident_and_deprecated_deploy_succeed() {
    let mut r = start().await;
    let c = &mut r.client;
    let d = c
        .deploy_process(pb::DeployProcessRequest {
            processes: vec![pb::ProcessRequestObject {
                name: "order.bpmn".into(),
                definition: PROCESS.as_bytes().to_vec(),
            }],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(d.processes[0].bpmn_process_id, "order");
    // An uncaught error raises an incident; resolving it makes the job activatable again.
    create(c, "order", r#"{"orderId": "t-1"}"#).await;
    let job = activate(c, "pay", -1).await.remove(0);
    c.throw_error(pb::ThrowErrorRequest {
        job_key: job.key,
        error_code: "NOPE".into(),
        error_message: "card declined".into(),
        variables: String::new(),
    })
    .await
    .unwrap();
    assert!(activate(c, "pay", -1).await.is_empty());
    // The incident key is not returned by ThrowError; Zeebe clients find it in Operate. Resolve by trying keys is not
    // possible, so check the FAILED_PRECONDITION path through FailJob instead: retries 0 -> incident.
    create(c, "order", r#"{"orderId": "t-2"}"#).await;
    let job = activate(c, "pay", -1).await.remove(0);
    c.fail_job(pb::FailJobRequest {
        job_key: job.key,
        retries: 0,
        error_message: "boom".into(),
        retry_back_off: 0,
        variables: String::new(),
    })
    .await
    .unwrap();
    c.update_job_retries(pb::UpdateJobRetriesRequest {
        job_key: job.key,
        retries: 1,
        operation_reference: None,
    })
    .await
    .unwrap();
    assert!(
        activate(c, "pay", -1).await.is_empty(),
        "the incident holds the job until it is resolved"
    );
}

#[tokio::test]
async fn serve_answers_grpc_health_checks_as_zeebe_does() {
    // Zeebe's gateway serves grpc.health.v1.Health (SERVING for "" and "gateway_protocol.Gateway"); pyzeebe's
    // ZeebeClient.healthcheck() and Kubernetes gRPC probes call it. Unknown services are NOT_FOUND.
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::{health_check_response::ServingStatus, HealthCheckRequest};
    let dir = tempfile::tempdir().unwrap();
    let hub = GatewayHub::new();
    let mut opts = EngineOptions::new(dir.path());
    opts.on_effects = Some(hub.effects_hook());
    let (engine, _) = Engine::start(opts).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let advertised = Advertised {
        host: "127.0.0.1".into(),
        port: addr.port() as i32,
    };
    let service = GatewayService::new(engine.handle(), &hub, advertised);
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(apsis_server::gateway::serve(
        service,
        listener,
        Default::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    for service in ["", "gateway_protocol.Gateway"] {
        let answer = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(answer.status, ServingStatus::Serving as i32, "{service:?}");
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    drop(engine);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configured_message_size_limit_applies() {
    let mut r = start_limited(|_| {}, 64 * 1024).await;
    let publish = |bytes: usize| pb::PublishMessageRequest {
        name: "n".into(),
        correlation_key: "k".into(),
        variables: format!(r#"{{"v":"{}"}}"#, "x".repeat(bytes)),
        ..Default::default()
    };
    r.client.publish_message(publish(32 * 1024)).await.unwrap();
    let e = r
        .client
        .publish_message(publish(96 * 1024))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
}
