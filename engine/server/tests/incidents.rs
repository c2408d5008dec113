//! Resolving an incident over gRPC with the real binary: the incident's key comes from the monitoring endpoint
//! `/incidents` (the gRPC protocol returns none; Zeebe users read it from Operate).

use apsis_proto as pb;
use apsis_testkit::{http_get, EngineOpts, EngineProcess};
use pb::gateway_client::GatewayClient;

const PROCESS: &str = r#"<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="s" />
    <bpmn:serviceTask id="t"><bpmn:extensionElements><zeebe:taskDefinition type="flaky" /></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:endEvent id="e" />
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t" />
    <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e" />
  </bpmn:process>
</bpmn:definitions>"#;

#[tokio::test]
async fn an_incident_found_through_monitoring_is_resolved_over_grpc() {
    let engine = EngineProcess::start(
        EngineOpts::new(env!("CARGO_BIN_EXE_apsis"))
            .env("APSIS_LOG_LEVEL", "info,apsis_server=debug"),
    );
    let mon = engine.monitoring_addr();
    let mut c = GatewayClient::connect(engine.gateway_url()).await.unwrap();
    c.deploy_resource(pb::DeployResourceRequest {
        resources: vec![pb::Resource {
            name: "p.bpmn".into(),
            content: PROCESS.as_bytes().to_vec(),
        }],
        tenant_id: String::new(),
    })
    .await
    .unwrap();
    let pi = c
        .create_process_instance(pb::CreateProcessInstanceRequest {
            bpmn_process_id: "p".into(),
            version: -1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .process_instance_key;
    let activate = pb::ActivateJobsRequest {
        r#type: "flaky".into(),
        worker: "w".into(),
        timeout: 60_000,
        max_jobs_to_activate: 1,
        request_timeout: -1,
        ..Default::default()
    };
    let job = c
        .activate_jobs(activate.clone())
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap()
        .unwrap()
        .jobs
        .remove(0);
    c.fail_job(pb::FailJobRequest {
        job_key: job.key,
        retries: 0,
        error_message: "the disk is full".into(),
        retry_back_off: 0,
        variables: String::new(),
    })
    .await
    .unwrap();
    let (status, body) = http_get(mon, "/incidents").unwrap();
    assert_eq!(status, 200);
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{body}");
    let incident = &list[0];
    assert_eq!(incident["errorType"], "JOB_NO_RETRIES");
    assert_eq!(incident["errorMessage"], "the disk is full");
    assert_eq!(incident["processInstanceKey"], pi);
    assert_eq!(incident["bpmnProcessId"], "p");
    // The engine's log tells the same story with the fixed field names (CONVENTIONS.md §9).
    let logged = |message: &str| engine.wait_for_log(message);
    let raised = logged("incident raised");
    assert_eq!(raised["level"], "WARN");
    assert_eq!(raised["process_instance_key"], pi);
    assert_eq!(raised["bpmn_process_id"], "p");
    assert_eq!(raised["element_id"], "t");
    assert_eq!(raised["job_key"], job.key);
    assert_eq!(raised["error_message"], "the disk is full");
    let created = logged("job created");
    assert_eq!(created["job_type"], "flaky");
    assert_eq!(created["element_id"], "t");
    assert_eq!(
        logged("process instance started")["process_instance_key"],
        pi
    );
    let key = incident["key"].as_i64().unwrap();
    let e = c
        .resolve_incident(pb::ResolveIncidentRequest {
            incident_key: key,
            operation_reference: None,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition);
    assert!(
        e.message().contains("has no retries left"),
        "{}",
        e.message()
    );
    c.update_job_retries(pb::UpdateJobRetriesRequest {
        job_key: job.key,
        retries: 1,
        operation_reference: None,
    })
    .await
    .unwrap();
    c.resolve_incident(pb::ResolveIncidentRequest {
        incident_key: key,
        operation_reference: None,
    })
    .await
    .unwrap();
    assert_eq!(http_get(mon, "/incidents").unwrap().1, "[]");
    let mut s = c.activate_jobs(activate).await.unwrap().into_inner();
    let again = s.message().await.unwrap().unwrap().jobs.remove(0);
    assert_eq!(again.key, job.key);
    c.complete_job(pb::CompleteJobRequest {
        job_key: again.key,
        variables: String::new(),
        result: None,
    })
    .await
    .unwrap();
}
