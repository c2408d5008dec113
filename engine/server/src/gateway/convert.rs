//! Conversions between the wire messages and the engine's commands and responses.

use apsis_core::command::{ActivatedJob, DeployedProcessInfo, ProcessSelector};
use apsis_core::{Json, Key};
use apsis_proto as pb;
use serde_json::{Map, Value};
use tonic::Status;

use super::errors::invalid;

/// Parses a `variables` document: empty means none; otherwise a JSON object, as Zeebe requires.
pub(crate) fn variables(field: &str, text: &str) -> Result<Json, Status> {
    if text.trim().is_empty() {
        return Ok(Json::object());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Ok(Json(v)),
        Ok(Value::Null) => Ok(Json::object()),
        Ok(other) => Err(invalid(format!(
            "Property '{field}' is invalid: Expected document to be a root level object, but was '{}'",
            json_type(&other)
        ))),
        Err(e) => Err(invalid(format!("Property '{field}' is invalid: Expected a JSON object, but it does not parse: {e}"))),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NULL",
        Value::Bool(_) => "BOOLEAN",
        Value::Number(_) => "NUMBER",
        Value::String(_) => "STRING",
        Value::Array(_) => "ARRAY",
        Value::Object(_) => "OBJECT",
    }
}

pub(crate) fn selector(r: &pb::CreateProcessInstanceRequest) -> Result<ProcessSelector, Status> {
    if r.process_definition_key > 0 {
        Ok(ProcessSelector::Key(Key(r.process_definition_key)))
    } else if !r.bpmn_process_id.trim().is_empty() {
        Ok(ProcessSelector::Id {
            bpmn_process_id: r.bpmn_process_id.clone(),
            version: if r.version <= 0 { -1 } else { r.version },
        })
    } else {
        Err(invalid(
            "Expected to create a process instance by processDefinitionKey or bpmnProcessId, but neither was given",
        ))
    }
}

pub(crate) fn activated_job(j: ActivatedJob, tenant: &str) -> pb::ActivatedJob {
    pb::ActivatedJob {
        key: j.key.0,
        r#type: j.job_type,
        process_instance_key: j.process_instance_key.0,
        bpmn_process_id: j.bpmn_process_id,
        process_definition_version: j.process_definition_version,
        process_definition_key: j.process_definition_key.0,
        element_id: j.element_id,
        element_instance_key: j.element_instance_key.0,
        custom_headers: j.custom_headers.0.to_string(),
        worker: j.worker,
        retries: j.retries,
        deadline: j.deadline,
        variables: j.variables.0.to_string(),
        tenant_id: tenant.to_owned(),
        ..Default::default()
    }
}

pub(crate) fn process_metadata(p: DeployedProcessInfo, tenant: &str) -> pb::ProcessMetadata {
    pb::ProcessMetadata {
        bpmn_process_id: p.bpmn_process_id,
        version: p.version,
        process_definition_key: p.process_definition_key.0,
        resource_name: p.resource_name,
        tenant_id: tenant.to_owned(),
    }
}

/// Keeps only the named variables (all when `names` is empty).
pub(crate) fn filter(vars: Json, names: &[String]) -> String {
    if names.is_empty() {
        return vars.0.to_string();
    }
    let mut out = Map::new();
    if let Value::Object(map) = vars.0 {
        for n in names {
            if let Some(v) = map.get(n) {
                out.insert(n.clone(), v.clone());
            }
        }
    }
    Value::Object(out).to_string()
}
