//! What tests do with a running engine through its gateway and monitoring endpoint: deploy, create, wait for an
//! instance's end or an incident, count instances. Every wait is bounded and says what it waited for.

use std::path::Path;
use std::time::{Duration, Instant};

use apsis_proto::gateway_protocol as pb;
use serde_json::Value;

use crate::{http_get, EngineProcess, WAIT};

impl EngineProcess {
    /// Deploys the BPMN file at `path` (the resource is named after the file); panics if the engine refuses it.
    pub async fn deploy_file(&self, path: &Path) {
        let content = std::fs::read(path)
            .unwrap_or_else(|e| panic!("Expected to read {}, but: {e}", path.display()));
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("process.bpmn")
            .to_owned();
        self.client()
            .await
            .deploy_resource(pb::DeployResourceRequest {
                resources: vec![pb::Resource { name, content }],
                tenant_id: String::new(),
            })
            .await
            .unwrap_or_else(|e| panic!("Expected {} to deploy, but: {e}", path.display()));
    }

    /// Creates an instance of the latest version of `bpmn_process_id`; its key.
    pub async fn create(&self, bpmn_process_id: &str, variables: Value) -> i64 {
        self.client()
            .await
            .create_process_instance(pb::CreateProcessInstanceRequest {
                bpmn_process_id: bpmn_process_id.into(),
                version: -1,
                variables: variables.to_string(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("Expected an instance of {bpmn_process_id}, but: {e}"))
            .into_inner()
            .process_instance_key
    }

    /// Creates an instance and waits (CreateProcessInstanceWithResult, at most `within`) for its end: its key and
    /// its variables, or the gateway's error as text (a timeout is DEADLINE_EXCEEDED).
    pub async fn run(
        &self,
        bpmn_process_id: &str,
        variables: Value,
        within: Duration,
    ) -> Result<(i64, Value), String> {
        let result = self
            .client()
            .await
            .create_process_instance_with_result(pb::CreateProcessInstanceWithResultRequest {
                request: Some(pb::CreateProcessInstanceRequest {
                    bpmn_process_id: bpmn_process_id.into(),
                    version: -1,
                    variables: variables.to_string(),
                    ..Default::default()
                }),
                request_timeout: within.as_millis() as i64,
                fetch_variables: vec![],
            })
            .await
            .map_err(|e| format!("{}: {}", e.code(), e.message()))?
            .into_inner();
        let variables = serde_json::from_str(&result.variables)
            .map_err(|e| format!("variables that are not JSON ({e}): {}", result.variables))?;
        Ok((result.process_instance_key, variables))
    }

    /// The first open incident for which `matches` holds, waiting for it up to `within`; panics with the
    /// incidents seen.
    pub async fn wait_incident(
        &self,
        what: &str,
        within: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let incidents = self.incidents();
            if let Some(i) = incidents.iter().find(|i| matches(i)) {
                return i.clone();
            }
            assert!(
                Instant::now() < deadline,
                "Expected {what} within {within:?}, but the open incidents are {incidents:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What an operator does once the cause of a job's incident is repaired: UpdateJobRetries(1) on its job, then
    /// ResolveIncident. `incident` is an entry of `/incidents` (`key`, `jobKey`); panics if either call is refused.
    pub async fn retry_and_resolve(&self, incident: &Value) {
        let job_key = incident["jobKey"].as_i64().unwrap_or_else(|| {
            panic!("Expected the incident to name its job, but found {incident}")
        });
        let incident_key = incident["key"]
            .as_i64()
            .unwrap_or_else(|| panic!("Expected the incident to have a key, but found {incident}"));
        let mut client = self.client().await;
        client
            .update_job_retries(pb::UpdateJobRetriesRequest {
                job_key,
                retries: 1,
                operation_reference: None,
            })
            .await
            .unwrap_or_else(|e| {
                panic!("Expected UpdateJobRetries on job {job_key} to succeed: {e}")
            });
        client
            .resolve_incident(pb::ResolveIncidentRequest {
                incident_key,
                operation_reference: None,
            })
            .await
            .unwrap_or_else(|e| panic!("Expected ResolveIncident {incident_key} to succeed: {e}"));
    }

    /// The first open incident, waiting for it up to [`WAIT`].
    pub async fn incident(&self) -> Value {
        self.wait_incident("an incident", WAIT, |_| true).await
    }

    /// The engine's durable count of instances of `bpmn_process_id` for `event` (`started`, `completed`,
    /// `terminated`), from `apsis_process_instances_total` on `/metrics`.
    pub fn count_instances(&self, bpmn_process_id: &str, event: &str) -> u64 {
        let (_, scrape) = http_get(self.monitoring_addr(), "/metrics")
            .expect("Expected the engine's /metrics to answer");
        scrape
            .lines()
            .filter(|l| l.starts_with("apsis_process_instances_total{"))
            .filter(|l| l.contains(&format!("bpmn_process_id=\"{bpmn_process_id}\"")))
            .filter(|l| l.contains(&format!("event=\"{event}\"")))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }
}

/// Polls `ready` every 50 ms without blocking the async runtime; panics naming `what` after `within`.
pub async fn wait(within: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "Expected {what} within {within:?}, but it did not happen"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
