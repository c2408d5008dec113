//! `apsis deploy FILE...`: one DeployResource with every file (atomic: all or none, as Camunda Modeler deploys),
//! then each deployed process's id, version and key; or the gateway's located validation problems, one per line.

use std::path::PathBuf;

use apsis_proto as pb;
use pb::deployment::Metadata;
use serde_json::{json, Value};
use tonic::Code;

use crate::client::{Action, Error, Session, REQUEST_TIMEOUT};

#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// BPMN files (.bpmn), deployed together: all or none.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    /// Tenant to deploy for (multi-tenant Zeebe clusters only).
    #[arg(long, value_name = "ID")]
    tenant: Option<String>,
    #[command(flatten)]
    client: crate::connection::ClientArgs,
}

/// `apsis deploy`: the exit code (see `client.rs`).
pub fn main(args: DeployArgs) -> std::process::ExitCode {
    crate::client::run(&args.client.clone(), async |session| {
        run(args, session).await
    })
}

async fn run(args: DeployArgs, session: &Session) -> Result<(), Error> {
    let mut resources = Vec::new();
    for path in &args.files {
        let content = std::fs::read(path)
            .map_err(|e| Error::Input(crate::input::read_file_error("the resource", path, &e)))?;
        // The resource name is what the gateway reports problems against; the file name reads best.
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        resources.push(pb::Resource { name, content });
    }
    let names: Vec<&str> = resources.iter().map(|r| r.name.as_str()).collect();
    let action = Action::new(format!("deploy {}", names.join(", "))).when(
        Code::InvalidArgument,
        if names.len() == 1 {
            "the gateway found it invalid"
        } else {
            "the gateway found them invalid (nothing was deployed)"
        },
    );
    let mut gateway = session.connect().await?;
    let request = pb::DeployResourceRequest {
        resources,
        tenant_id: args.tenant.unwrap_or_default(),
    };
    let response = session
        .call(
            &action,
            Some(REQUEST_TIMEOUT),
            gateway.deploy_resource(request),
        )
        .await?;
    let deployments: Vec<Value> = response.deployments.iter().filter_map(to_json).collect();
    session.print(
        json!({
            "key": response.key,
            "deployments": deployments,
            "tenantId": response.tenant_id,
        }),
        || text(&response),
    );
    Ok(())
}

/// One deployment as Zeebe's JSON shows it: `{"process": {...}}`, `{"decision": {...}}`, ...
fn to_json(d: &pb::Deployment) -> Option<Value> {
    Some(match d.metadata.as_ref()? {
        Metadata::Process(p) => json!({"process": {
            "bpmnProcessId": p.bpmn_process_id,
            "version": p.version,
            "processDefinitionKey": p.process_definition_key,
            "resourceName": p.resource_name,
            "tenantId": p.tenant_id,
        }}),
        Metadata::Decision(d) => json!({"decision": {
            "dmnDecisionId": d.dmn_decision_id,
            "dmnDecisionName": d.dmn_decision_name,
            "version": d.version,
            "decisionKey": d.decision_key,
            "dmnDecisionRequirementsId": d.dmn_decision_requirements_id,
            "decisionRequirementsKey": d.decision_requirements_key,
            "tenantId": d.tenant_id,
        }}),
        Metadata::DecisionRequirements(r) => json!({"decisionRequirements": {
            "dmnDecisionRequirementsId": r.dmn_decision_requirements_id,
            "dmnDecisionRequirementsName": r.dmn_decision_requirements_name,
            "version": r.version,
            "decisionRequirementsKey": r.decision_requirements_key,
            "resourceName": r.resource_name,
            "tenantId": r.tenant_id,
        }}),
        Metadata::Form(f) => json!({"form": {
            "formId": f.form_id,
            "version": f.version,
            "formKey": f.form_key,
            "resourceName": f.resource_name,
            "tenantId": f.tenant_id,
        }}),
    })
}

fn text(r: &pb::DeployResourceResponse) -> String {
    let mut out = format!("Deployed (deployment key {}):\n", r.key);
    for d in &r.deployments {
        let line = match &d.metadata {
            Some(Metadata::Process(p)) => format!(
                "process '{}' version {}, key {} ({})",
                p.bpmn_process_id, p.version, p.process_definition_key, p.resource_name
            ),
            Some(Metadata::Decision(d)) => format!(
                "decision '{}' version {}, key {}",
                d.dmn_decision_id, d.version, d.decision_key
            ),
            Some(Metadata::DecisionRequirements(r)) => format!(
                "decision requirements '{}' version {}, key {} ({})",
                r.dmn_decision_requirements_id,
                r.version,
                r.decision_requirements_key,
                r.resource_name
            ),
            Some(Metadata::Form(f)) => format!(
                "form '{}' version {}, key {} ({})",
                f.form_id, f.version, f.form_key, f.resource_name
            ),
            None => continue,
        };
        out.push_str("  ");
        out.push_str(&line);
        out.push('\n');
    }
    out
}
