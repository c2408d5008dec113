use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

use super::spec::{job, job_name, label_value, Launch};
use super::verdict::{self, ApiError, Class};
use super::{Settings, Volume};

fn launch() -> Launch {
    Launch {
        function: "normalize".into(),
        job_key: 2251799813685302,
        retries: 3,
        process_instance_key: 2251799813685290,
        element_id: "normalize_product".into(),
        bpmn_process_id: "cnes-chain".into(),
        image: "registry.example/apsis/normalize:0.1.0".into(),
        cpu: Some("4".into()),
        memory: Some("49Gi".into()),
        argv: Some(vec![
            "normalize".into(),
            "--in".into(),
            "/data/in/a b.tif".into(),
        ]),
        timeout: Duration::from_millis(7_200_500),
    }
}

#[test]
fn the_job_spec_is_exactly_this() {
    let settings = Settings {
        enabled: true,
        namespace: Some("eo".into()),
        service_account: Some("eo-steps".into()),
        volume: Some(Volume {
            claim: "eo-data".into(),
            mount_path: "/data".into(),
        }),
        env: vec![("OTB_MAX_RAM_HINT".into(), "4096".into())],
        ttl_seconds_after_finished: 600,
        image_pull_policy: Some("IfNotPresent".into()),
        ..Settings::default()
    };
    let labels = json!({
        "app.kubernetes.io/managed-by": "apsis-worker-faas",
        "apsis.io/job-key": "2251799813685302",
        "apsis.io/process-instance-key": "2251799813685290",
        "apsis.io/element-id": "normalize_product",
        "apsis.io/function": "normalize",
    });
    let annotations = json!({
        "apsis.io/element-id": "normalize_product",
        "apsis.io/bpmn-process-id": "cnes-chain",
    });
    let expected = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "apsis-normalize-2251799813685302-3",
            "namespace": "eo",
            "labels": labels,
            "annotations": annotations,
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": 7201,
            "ttlSecondsAfterFinished": 600,
            "template": {
                "metadata": {"labels": labels, "annotations": annotations},
                "spec": {
                    "restartPolicy": "Never",
                    "serviceAccountName": "eo-steps",
                    "containers": [{
                        "name": "main",
                        "image": "registry.example/apsis/normalize:0.1.0",
                        "imagePullPolicy": "IfNotPresent",
                        "args": ["normalize", "--in", "/data/in/a b.tif"],
                        "env": [
                            {"name": "OTB_MAX_RAM_HINT", "value": "4096"},
                            {"name": "APSIS_CALL_ID", "value": "apsis-normalize-2251799813685302-3"},
                            {"name": "APSIS_JOB_KEY", "value": "2251799813685302"},
                        ],
                        "resources": {
                            "requests": {"cpu": "4", "memory": "49Gi"},
                            "limits": {"cpu": "4", "memory": "49Gi"},
                        },
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                    }],
                    "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "eo-data"}}],
                },
            },
        },
    });
    assert_eq!(
        serde_json::to_value(job(&settings, &launch())).unwrap(),
        expected
    );
}

#[test]
fn without_cmdline_resources_or_settings_the_image_runs_as_it_is() {
    let l = Launch {
        argv: None,
        cpu: None,
        memory: None,
        ..launch()
    };
    let j = serde_json::to_value(job(&Settings::default(), &l)).unwrap();
    assert_eq!(j["metadata"].get("namespace"), None);
    let pod = &j["spec"]["template"]["spec"];
    assert_eq!(
        pod,
        &json!({
            "restartPolicy": "Never",
            "containers": [{
                "name": "main",
                "image": "registry.example/apsis/normalize:0.1.0",
                "env": [
                    {"name": "APSIS_CALL_ID", "value": "apsis-normalize-2251799813685302-3"},
                    {"name": "APSIS_JOB_KEY", "value": "2251799813685302"},
                ],
            }],
        })
    );
    assert_eq!(j["spec"]["ttlSecondsAfterFinished"], 3600);
    // A configured command runs with the rendered argv as its arguments.
    let s = Settings {
        command: Some(vec!["/usr/bin/time".into(), "-v".into()]),
        ..Settings::default()
    };
    let j = serde_json::to_value(job(&s, &launch())).unwrap();
    let c = &j["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["command"], json!(["/usr/bin/time", "-v"]));
    assert_eq!(c["args"], json!(["normalize", "--in", "/data/in/a b.tif"]));
}

#[test]
fn names_are_deterministic_dns_labels_of_at_most_63_characters() {
    assert_eq!(job_name("otbcli", 42, 3), "apsis-otbcli-42-3");
    assert_eq!(job_name("otbcli.eo-fn", 42, 0), "apsis-otbcli-eo-fn-42-0");
    let long = format!("{}-{}", "a".repeat(40), "b".repeat(22));
    let name = job_name(&long, i64::MAX, 2147483647);
    assert!(name.len() <= 63, "{name}");
    assert!(name.ends_with("-9223372036854775807-2147483647"), "{name}");
    assert!(!name.contains("--"), "{name}");
    assert_eq!(label_value("Activity_0x9.z"), "Activity_0x9.z");
    assert_eq!(label_value("_été-"), "t");
    assert_eq!(label_value(&"x".repeat(80)).len(), 63);
}

#[test]
fn api_errors_are_classified_and_403_names_the_permission() {
    assert_eq!(
        ApiError::status(503, "ServiceUnavailable", "etcd").class,
        Class::Transient
    );
    assert_eq!(
        ApiError::status(429, "TooManyRequests", "slow down").class,
        Class::Transient
    );
    assert_eq!(
        ApiError::status(409, "AlreadyExists", "x").class,
        Class::Conflict
    );
    assert_eq!(ApiError::status(422, "Invalid", "x").class, Class::Refused);
    assert_eq!(
        ApiError::status(
            403,
            "Forbidden",
            "exceeded quota: compute, requested: limits.memory=49Gi"
        )
        .class,
        Class::Transient
    );
    let e = ApiError::status(
        403,
        "Forbidden",
        "jobs.batch is forbidden: User \"system:serviceaccount:eo:worker\" cannot create resource \"jobs\"",
    );
    assert_eq!(e.class, Class::Forbidden);
    assert_eq!(
        verdict::api_failure("normalize", "apsis-normalize-1-3", "eo", verdict::CREATE_JOB, &e),
        "Expected the worker to be allowed to create jobs.batch in namespace 'eo' for Kubernetes Job \
         'apsis-normalize-1-3' of function 'normalize', but the API server refused: 403 Forbidden: jobs.batch is \
         forbidden: User \"system:serviceaccount:eo:worker\" cannot create resource \"jobs\". Grant the worker's \
         service account the RBAC permission to create jobs.batch (all it needs: jobs.batch: create, get, list, \
         watch, delete; pods: get, list; pods/log: get; see docs/worker-faas.md, \"Kubernetes backend\")"
    );
}

#[test]
fn a_failed_job_is_told_with_reason_container_state_and_log_tail() {
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": "apsis-normalize-1-3"},
        "status": {"failed": 1, "conditions": [
            {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded"},
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
             "message": "Job has reached the specified backoff limit"},
        ]},
    }))
    .unwrap();
    let (kind, reason, message) = verdict::finished(&job).unwrap();
    assert_eq!(kind, "Failed");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "apsis-normalize-1-3-x7k2p"},
        "status": {"containerStatuses": [{
            "name": "main", "image": "n", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
        }]},
    }))
    .unwrap();
    let text = verdict::failed_message(&verdict::Failed {
        function: "normalize",
        job_name: "apsis-normalize-1-3",
        reason,
        message,
        pod: Some("apsis-normalize-1-3-x7k2p"),
        container: verdict::container_state(&pod),
        log_tail: Some("reading tile 9/12\nallocating 52 GB\n".into()),
        log_problem: None,
    });
    assert_eq!(
        text,
        "Expected Kubernetes Job 'apsis-normalize-1-3' of function 'normalize' to complete, but it failed: \
         BackoffLimitExceeded (Job has reached the specified backoff limit); pod 'apsis-normalize-1-3-x7k2p' \
         container 'main': OOMKilled (exit code 137); log tail:\nreading tile 9/12\nallocating 52 GB"
    );
    let waiting: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p"},
        "status": {"containerStatuses": [{
            "name": "main", "image": "n", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"n\""}},
        }]},
    }))
    .unwrap();
    assert_eq!(
        verdict::container_state(&waiting).unwrap(),
        "never ran: ImagePullBackOff: Back-off pulling image \"n\""
    );
    let running: Job =
        serde_json::from_value(json!({"status": {"active": 1, "conditions": []}})).unwrap();
    assert_eq!(verdict::finished(&running), None);
}

#[test]
fn duration_runs_from_start_to_completion() {
    let job: Job = serde_json::from_value(json!({"status": {
        "startTime": "2026-11-22T10:00:00Z", "completionTime": "2026-11-22T11:30:05Z",
    }}))
    .unwrap();
    assert_eq!(verdict::duration_seconds(&job), Some(5405.0));
}
