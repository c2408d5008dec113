//! The Kubernetes backend against the API server's documented contract, without a cluster: a `tower_test` mock
//! service stands in for the API server (as kube's own mock tests do), each expected request is checked (method,
//! path, query, body) and answered with the JSON a real API server sends. The Zeebe side is a fake
//! [`KeepAlive`] that records each extension; what the worker would send (CompleteJob, FailJob) is the returned
//! [`Finished`].

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use apsis_worker_faas::backend::kubernetes::{
    Finished, KeepAlive, Kubernetes, Launch, Settings, KEEP_ALIVE_MARGIN,
};
use apsis_worker_faas::backend::Backends;
use apsis_worker_faas::config::{self, Flags, Sources, CALLBACK_KEY_ENV};
use apsis_worker_faas::outcome::{CompleteJob, Policy, Settlement};
use apsis_worker_faas::task::Task;
use http::{Request, Response};
use kube::client::Body;
use serde_json::{json, Value};
use tower_test::mock::{self, Handle, SendResponse};

const NS: &str = "eo";
const NAME: &str = "apsis-normalize-7-3";
const JOBS: &str = "/apis/batch/v1/namespaces/eo/jobs";
const POD: &str = "apsis-normalize-7-3-x7k2p";

/// Quick retries: 3 attempts, 10-20 ms apart.
fn policy() -> Policy {
    Policy {
        invoke_attempts: 3,
        invoke_initial_backoff: Duration::from_millis(10),
        invoke_max_backoff: Duration::from_millis(20),
        ..Policy::default()
    }
}

fn settings() -> Settings {
    Settings {
        enabled: true,
        namespace: Some(NS.into()),
        ..Settings::default()
    }
}

fn launch() -> Launch {
    Launch {
        function: "normalize".into(),
        job_key: 7,
        retries: 3,
        process_instance_key: 5,
        element_id: "normalize".into(),
        bpmn_process_id: "cnes".into(),
        image: "registry.example/normalize:1".into(),
        cpu: Some("4".into()),
        memory: Some("49Gi".into()),
        argv: Some(vec!["normalize".into(), "/data/a.tif".into()]),
        timeout: Duration::from_secs(7200),
    }
}

/// Records every extension of the Zeebe job's timeout.
#[derive(Default)]
struct FakeZeebe {
    extended: Mutex<Vec<Duration>>,
}

impl KeepAlive for FakeZeebe {
    fn extend(
        &self,
        timeout: Duration,
    ) -> Pin<Box<dyn std::future::Future<Output = Settlement> + Send + '_>> {
        self.extended.lock().unwrap().push(timeout);
        Box::pin(async { Settlement::Done })
    }
}

/// The mock API server: the test's side of the mock service.
struct ApiServer(Handle<Request<Body>, Response<Body>>);

/// A request the backend sent.
struct Got {
    body: Value,
    reply: SendResponse<Response<Body>>,
}

impl Got {
    fn answer(self, status: u16, body: Value) {
        self.reply.send_response(
            Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&body).unwrap()))
                .unwrap(),
        );
    }

    fn answer_text(self, text: &str) {
        self.reply.send_response(
            Response::builder()
                .status(200)
                .header("content-type", "text/plain")
                .body(Body::from(text.as_bytes().to_vec()))
                .unwrap(),
        );
    }
}

impl ApiServer {
    /// The next request, checked against `method` and `uri` (path and query).
    async fn expect(&mut self, method: &str, uri: &str) -> Got {
        let (request, reply) = self.0.next_request().await.unwrap_or_else(|| {
            panic!("expected {method} {uri}, but the backend sent nothing more")
        });
        let got_method = request.method().to_string();
        let got_uri = request.uri().to_string();
        let bytes = request.into_body().collect_bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        assert_eq!((got_method.as_str(), got_uri.as_str()), (method, uri));
        Got { body, reply }
    }

    /// The backend sent nothing more (its client is dropped).
    async fn done(mut self) {
        if let Some((request, _)) = self.0.next_request().await {
            panic!(
                "expected no more requests, but got {} {}",
                request.method(),
                request.uri()
            );
        }
    }

    /// The watch's initial list of `NAME`, answered with `listed` (a Job already finished ends the wait here).
    async fn list(&mut self, listed: Value) {
        self.expect(
            "GET",
            &format!("{JOBS}?&fieldSelector=metadata.name%3D{NAME}&limit=500"),
        )
        .await
        .answer(
            200,
            json!({
                "apiVersion": "batch/v1", "kind": "JobList",
                "metadata": {"resourceVersion": "1001"},
                "items": [listed],
            }),
        );
    }

    /// The watch of `NAME`: the initial list (answered with `listed`, a Job still running), then the watch from
    /// its resourceVersion (returned, to answer or to leave hanging).
    async fn watch(&mut self, listed: Value) -> Got {
        self.list(listed).await;
        self.expect(
            "GET",
            &format!(
                "{JOBS}?&watch=true&timeoutSeconds=290&fieldSelector=metadata.name%3D{NAME}\
                 &allowWatchBookmarks=true&resourceVersion=1001"
            ),
        )
        .await
    }
}

/// The Job as the API server returns it, with these status conditions.
fn job(conditions: Value) -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {
            "name": NAME, "namespace": NS, "uid": "3f1c9a7e-0000-4000-8000-000000000001",
            "resourceVersion": "1000", "creationTimestamp": "2026-11-22T10:00:00Z",
            "labels": {"apsis.io/job-key": "7", "app.kubernetes.io/managed-by": "apsis-worker-faas"},
        },
        "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [
            {"name": "main", "image": "registry.example/normalize:1"}]}}},
        "status": {
            "startTime": "2026-11-22T10:00:02Z",
            "completionTime": if conditions.to_string().contains("Complete") {
                json!("2026-11-22T11:30:07Z") } else { Value::Null },
            "conditions": conditions,
        },
    })
}

fn complete() -> Value {
    json!([
        {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": "2026-11-22T11:30:07Z"},
        {"type": "Complete", "status": "True", "lastTransitionTime": "2026-11-22T11:30:07Z"},
    ])
}

fn pods(state: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "1010"},
        "items": [{
            "metadata": {"name": POD, "namespace": NS, "creationTimestamp": "2026-11-22T10:00:01Z",
                         "labels": {"job-name": NAME, "batch.kubernetes.io/job-name": NAME}},
            "spec": {"containers": [{"name": "main", "image": "registry.example/normalize:1"}]},
            "status": {"phase": "Failed", "containerStatuses": [{
                "name": "main", "image": "registry.example/normalize:1", "imageID": "", "ready": false,
                "restartCount": 0, "state": state,
            }]},
        }],
    })
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

/// Runs `launch` on `backend` while `server` answers its requests.
async fn run<F: std::future::Future>(
    backend: &Kubernetes,
    launch: Launch,
    result_variable: Option<&str>,
    zeebe: &FakeZeebe,
    server: F,
) -> (Finished, F::Output) {
    tokio::join!(backend.run(&launch, result_variable, zeebe), server)
}

/// A backend on a mock API server, and the server.
fn backend(settings: Settings) -> (Kubernetes, ApiServer) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(service, "default");
    (
        Kubernetes::with_client(settings, policy(), client),
        ApiServer(handle),
    )
}

const LOG: &str = "/api/v1/namespaces/eo/pods/apsis-normalize-7-3-x7k2p/log?&container=main&limitBytes=65536&tailLines=50";
const PODS: &str = "/api/v1/namespaces/eo/pods?&labelSelector=job-name%3Dapsis-normalize-7-3";

#[tokio::test]
async fn create_watch_complete_then_complete_job_with_the_summary() {
    let (backend, mut api) = backend(settings());
    let zeebe = FakeZeebe::default();
    let server = async move {
        let create = api.expect("POST", &format!("{JOBS}?")).await;
        assert_eq!(create.body["metadata"]["name"], NAME);
        assert_eq!(create.body["metadata"]["labels"]["apsis.io/job-key"], "7");
        let container = &create.body["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["args"], json!(["normalize", "/data/a.tif"]));
        assert_eq!(container["resources"]["limits"]["memory"], "49Gi");
        assert_eq!(create.body["spec"]["activeDeadlineSeconds"], 7200);
        create.answer(201, job(json!([])));
        let watch = api.watch(job(json!([]))).await;
        let event = json!({"type": "MODIFIED", "object": job(complete())});
        watch.answer_text(&format!("{event}\n"));
        api.expect("GET", PODS).await.answer(
            200,
            pods(json!(
            {"terminated": {"exitCode": 0, "reason": "Completed"}})),
        );
        api.expect("GET", LOG)
            .await
            .answer_text("tile 12/12\nwrote /data/out/a_norm.tif\n");
        api
    };
    let (finished, api) = run(&backend, launch(), Some("normalized"), &zeebe, server).await;
    assert_eq!(
        finished,
        Finished::Complete(CompleteJob {
            job_key: 7,
            variables: json!({"normalized": {
                "jobName": NAME,
                "durationSeconds": 5405.0,
                "logTail": "tile 12/12\nwrote /data/out/a_norm.tif\n",
            }}),
        })
    );
    assert_eq!(
        zeebe.extended.lock().unwrap()[0],
        Duration::from_secs(30) + KEEP_ALIVE_MARGIN
    );
    drop(backend);
    api.done().await;
}

#[tokio::test]
async fn an_oom_killed_job_fails_the_job_with_reason_and_log_tail() {
    let (backend, mut api) = backend(settings());
    let zeebe = FakeZeebe::default();
    let server = async move {
        api.expect("POST", &format!("{JOBS}?"))
            .await
            .answer(201, job(json!([])));
        let failed = job(json!([
            {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded",
             "message": "Job has reached the specified backoff limit"},
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
             "message": "Job has reached the specified backoff limit"},
        ]));
        // Already failed when listed (the worker came back after it failed): no watch is needed.
        api.list(failed).await;
        api.expect("GET", PODS).await.answer(
            200,
            pods(json!(
            {"terminated": {"exitCode": 137, "reason": "OOMKilled"}})),
        );
        api.expect("GET", LOG)
            .await
            .answer_text("reading tile 9/12\nallocating 52 GB\n");
        api
    };
    let (finished, api) = run(&backend, launch(), None, &zeebe, server).await;
    let Finished::Fail(fail) = finished else {
        panic!("expected a failure, got {finished:?}")
    };
    assert_eq!(fail.job_key, 7);
    assert_eq!(fail.retries, 2);
    assert_eq!(fail.retry_backoff, Policy::default().job_retry_backoff);
    assert_eq!(
        fail.error_message,
        "Expected Kubernetes Job 'apsis-normalize-7-3' of function 'normalize' to complete, but it failed: \
         BackoffLimitExceeded (Job has reached the specified backoff limit); pod 'apsis-normalize-7-3-x7k2p' \
         container 'main': OOMKilled (exit code 137); log tail:\nreading tile 9/12\nallocating 52 GB"
    );
    drop(backend);
    api.done().await;
}

#[tokio::test]
async fn a_conflict_on_create_re_attaches_to_the_existing_job() {
    let (backend, mut api) = backend(settings());
    let zeebe = FakeZeebe::default();
    let server = async move {
        api.expect("POST", &format!("{JOBS}?")).await.answer(
            409,
            status(
                409,
                "AlreadyExists",
                &format!("jobs.batch \"{NAME}\" already exists"),
            ),
        );
        api.expect("GET", &format!("{JOBS}/{NAME}"))
            .await
            .answer(200, job(json!([])));
        let watch = api.watch(job(json!([]))).await;
        watch.answer_text(&format!(
            "{}\n",
            json!({"type": "MODIFIED", "object": job(complete())})
        ));
        api
    };
    let (finished, api) = run(&backend, launch(), None, &zeebe, server).await;
    assert_eq!(
        finished,
        Finished::Complete(CompleteJob {
            job_key: 7,
            variables: json!({}),
        })
    );
    // No second POST, nor anything else.
    drop(backend);
    api.done().await;
}

#[tokio::test]
async fn a_job_of_another_zeebe_job_is_not_re_attached() {
    let (backend, mut api) = backend(settings());
    let server = async move {
        api.expect("POST", &format!("{JOBS}?"))
            .await
            .answer(409, status(409, "AlreadyExists", "exists"));
        let mut other = job(json!([]));
        other["metadata"]["labels"]["apsis.io/job-key"] = json!("8");
        api.expect("GET", &format!("{JOBS}/{NAME}"))
            .await
            .answer(200, other);
        api
    };
    let (finished, api) = run(&backend, launch(), None, &FakeZeebe::default(), server).await;
    let Finished::Fail(fail) = finished else {
        panic!("expected a failure, got {finished:?}")
    };
    assert!(
        fail.error_message
            .contains("another Job of that name exists"),
        "{}",
        fail.error_message
    );
    drop(backend);
    api.done().await;
}

#[tokio::test(start_paused = true)]
async fn a_watch_timeout_deletes_the_job_then_fails_while_the_job_was_kept_alive() {
    let (backend, mut api) = backend(settings());
    let zeebe = FakeZeebe::default();
    let mut short = launch();
    short.timeout = Duration::from_secs(120);
    let server = async move {
        api.expect("POST", &format!("{JOBS}?"))
            .await
            .answer(201, job(json!([])));
        // The watch is opened and never answered: the Job runs on and on.
        let hanging = api
            .watch(job(json!([{"type": "Suspended", "status": "False"}])))
            .await;
        let delete = api.expect("DELETE", &format!("{JOBS}/{NAME}?")).await;
        assert_eq!(delete.body, json!({"propagationPolicy": "Background"}));
        delete.answer(200, job(json!([])));
        drop(hanging);
        api
    };
    let (finished, api) = run(&backend, short, None, &zeebe, server).await;
    let Finished::Fail(fail) = finished else {
        panic!("expected a failure, got {finished:?}")
    };
    assert_eq!(fail.retries, 2);
    assert_eq!(
        fail.error_message,
        "Expected Kubernetes Job 'apsis-normalize-7-3' of function 'normalize' to finish within 180 s, but it \
         was still running; the Job was deleted"
    );
    // 180 s of watching, one extension at once and every 30 s after (the one at 180 s races the timeout), each to
    // 60 s.
    let extended = zeebe.extended.lock().unwrap().clone();
    assert!((6..=7).contains(&extended.len()), "{extended:?}");
    assert!(extended.iter().all(|d| *d == Duration::from_secs(60)));
    drop(backend);
    api.done().await;
}

#[tokio::test]
async fn forbidden_names_the_missing_rbac_permission() {
    let (backend, mut api) = backend(settings());
    let server = async move {
        api.expect("POST", &format!("{JOBS}?")).await.answer(
            403,
            status(
                403,
                "Forbidden",
                "jobs.batch is forbidden: User \"system:serviceaccount:eo:apsis-worker\" cannot create resource \
                 \"jobs\" in API group \"batch\" in the namespace \"eo\"",
            ),
        );
        api
    };
    let (finished, api) = run(&backend, launch(), None, &FakeZeebe::default(), server).await;
    let Finished::Fail(fail) = finished else {
        panic!("expected a failure, got {finished:?}")
    };
    assert_eq!(fail.retries, 2);
    assert!(
        fail.error_message.starts_with(
            "Expected the worker to be allowed to create jobs.batch in namespace 'eo' for Kubernetes Job \
             'apsis-normalize-7-3' of function 'normalize', but the API server refused: 403 Forbidden: jobs.batch \
             is forbidden: User \"system:serviceaccount:eo:apsis-worker\" cannot create resource"
        ),
        "{}",
        fail.error_message
    );
    assert!(fail
        .error_message
        .contains("Grant the worker's service account the RBAC permission to create jobs.batch"));
    // A 403 is not retried.
    drop(backend);
    api.done().await;
}

#[tokio::test]
async fn server_errors_are_retried_then_the_job_is_created() {
    let (backend, mut api) = backend(settings());
    let server = async move {
        api.expect("POST", &format!("{JOBS}?")).await.answer(
            503,
            status(503, "ServiceUnavailable", "etcdserver: leader changed"),
        );
        api.expect("POST", &format!("{JOBS}?"))
            .await
            .answer(201, job(json!([])));
        api.list(job(complete())).await;
        api
    };
    let (finished, api) = run(&backend, launch(), None, &FakeZeebe::default(), server).await;
    assert!(matches!(finished, Finished::Complete(_)), "{finished:?}");
    drop(backend);
    api.done().await;
}

#[test]
fn a_kubernetes_task_without_the_backend_enabled_is_an_incident() {
    let backends = Backends::new(
        "http://127.0.0.1:8080",
        "http://127.0.0.1:8080",
        &Settings::default(),
        &Policy::default(),
    )
    .unwrap();
    let headers: BTreeMap<String, String> = [
        ("function", "normalize"),
        ("backend", "kubernetes"),
        ("image", "normalize:1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let task = Task::from_headers(&headers, "normalize", "cnes").unwrap();
    let fail = backends.for_task(&task, 7).unwrap_err();
    assert_eq!(fail.retries, 0);
    assert_eq!(
        fail.error_message,
        "element 'normalize': Expected a Kubernetes backend to run function 'normalize', but this worker's \
         Kubernetes backend is not enabled (set `enabled = true` in the `[kubernetes]` section of its config, or \
         APSIS_WORKER_KUBERNETES_ENABLED=true)"
    );
}

#[test]
fn the_kubernetes_section_is_read_overridden_by_the_environment_and_printed() {
    let file = "[kubernetes]\nenabled = false\nnamespace = \"eo\"\nservice_account = \"eo-steps\"\npvc = \"eo-data\"\n\
                mount_path = \"/data\"\nimage_pull_policy = \"IfNotPresent\"\nenv = { OTB_MAX_RAM_HINT = \"4096\" }\n";
    let sources = |env: &[(&str, &str)]| Sources {
        env: [(CALLBACK_KEY_ENV, "0123456789abcdef0123456789abcdef")]
            .iter()
            .chain(env)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        file: Some(("worker.toml".into(), file.to_owned())),
        key_file: None,
    };
    let c = config::resolve(
        &Flags::default(),
        &sources(&[("APSIS_WORKER_KUBERNETES_ENABLED", "true")]),
    )
    .unwrap();
    let k = &c.kubernetes;
    assert!(k.enabled);
    assert_eq!(k.namespace.as_deref(), Some("eo"));
    assert_eq!(k.volume.as_ref().unwrap().claim, "eo-data");
    assert_eq!(
        k.env,
        vec![("OTB_MAX_RAM_HINT".to_owned(), "4096".to_owned())]
    );
    assert_eq!(k.ttl_seconds_after_finished, 3600);
    let printed = c.to_toml();
    assert!(
        printed.contains("[kubernetes]\nenabled = true\n"),
        "{printed}"
    );
    assert!(
        printed.contains("\nnamespace = \"eo\"\npvc = \"eo-data\"\n"),
        "{printed}"
    );
    assert!(
        printed.contains("[kubernetes.env]\nOTB_MAX_RAM_HINT = \"4096\""),
        "{printed}"
    );
    let e = config::resolve(
        &Flags::default(),
        &sources(&[("APSIS_WORKER_KUBERNETES_IMAGE_PULL_POLICY", "sometimes")]),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Expected kubernetes.image_pull_policy (APSIS_WORKER_KUBERNETES_IMAGE_PULL_POLICY) to be one of Always, \
         IfNotPresent, Never, but found 'sometimes'"
    );
}
