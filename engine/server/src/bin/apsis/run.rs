//! `apsis run PROCESS_ID`: starts an instance (CreateProcessInstance) of the latest or a given version, or with
//! `--await` starts it and waits for it to complete (CreateProcessInstanceWithResult), printing its variables.

use std::time::Duration;

use apsis_proto as pb;
use serde_json::json;
use tonic::Code;

use crate::client::{parse_json, Action, Error, Session, REQUEST_TIMEOUT, WAIT_SLACK};
use crate::input;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The BPMN process id (the `id` of `<bpmn:process>`).
    #[arg(value_name = "PROCESS_ID")]
    process_id: String,
    /// The version to start [default: the latest].
    #[arg(long, value_name = "N")]
    version: Option<i32>,
    /// Variables of the new instance: a JSON object, @FILE, or @- for standard input.
    #[arg(long, value_name = "JSON|@FILE")]
    vars: Option<String>,
    /// Wait for the instance to complete and print its variables.
    #[arg(long = "await")]
    wait: bool,
    /// With --await: how long to wait, e.g. 30s, 5m, 1h or milliseconds [default: the gateway's, 15s on Zeebe].
    #[arg(long, value_name = "DURATION", requires = "wait", value_parser = input::duration)]
    timeout: Option<Duration>,
    /// With --await: print only these variables (repeat the option or separate names with commas).
    #[arg(long, value_name = "NAME", requires = "wait", value_delimiter = ',')]
    fetch: Vec<String>,
    /// Tenant of the process (multi-tenant Zeebe clusters only).
    #[arg(long, value_name = "ID")]
    tenant: Option<String>,
    #[command(flatten)]
    client: crate::connection::ClientArgs,
}

/// `apsis run`: the exit code (see `client.rs`).
pub fn main(args: RunArgs) -> std::process::ExitCode {
    crate::client::run(&args.client.clone(), async |session| {
        run(args, session).await
    })
}

async fn run(args: RunArgs, session: &Session) -> Result<(), Error> {
    let variables = input::variables("--vars", args.vars.as_deref()).map_err(Error::Input)?;
    if args.version.is_some_and(|v| v < 1) {
        return Err(Error::Input(
            "Expected --version to be a version number of 1 or more".to_owned(),
        ));
    }
    let what = match args.version {
        Some(v) => format!("process '{}' version {v}", args.process_id),
        None => format!("process '{}'", args.process_id),
    };
    let request = pb::CreateProcessInstanceRequest {
        bpmn_process_id: args.process_id.clone(),
        // -1 asks for the latest version.
        version: args.version.unwrap_or(-1),
        variables,
        tenant_id: args.tenant.unwrap_or_default(),
        ..Default::default()
    };
    let mut gateway = session.connect().await?;
    if !args.wait {
        let action = Action::new(format!("start {what}"))
            .when(Code::NotFound, format!("{what} is not deployed"))
            .when(
                Code::FailedPrecondition,
                "it cannot be started this way (it has no none start event)",
            );
        let r = session
            .call(
                &action,
                Some(REQUEST_TIMEOUT),
                gateway.create_process_instance(request),
            )
            .await?;
        session.print(
            json!({
                "processDefinitionKey": r.process_definition_key,
                "bpmnProcessId": r.bpmn_process_id,
                "version": r.version,
                "processInstanceKey": r.process_instance_key,
                "tenantId": r.tenant_id,
            }),
            || {
                format!(
                    "Started process '{}' version {} (definition key {}): process instance key {}",
                    r.bpmn_process_id, r.version, r.process_definition_key, r.process_instance_key
                )
            },
        );
        return Ok(());
    }
    let waited = args
        .timeout
        .map_or_else(|| "the gateway's request timeout".to_owned(), input::show);
    let action = Action::new(format!("run {what} to completion"))
        .when(Code::NotFound, format!("{what} is not deployed"))
        .when(
            Code::DeadlineExceeded,
            format!(
                "it did not complete within {waited} (it may still be running; raise --timeout to wait longer)"
            ),
        )
        .when(
            Code::FailedPrecondition,
            "it cannot be started this way, or it was cancelled or terminated before it completed",
        );
    let request = pb::CreateProcessInstanceWithResultRequest {
        request: Some(request),
        // 0 lets the gateway use its default.
        request_timeout: args.timeout.map_or(0, input::millis),
        fetch_variables: args.fetch,
    };
    let limit = args.timeout.map(|t| t + WAIT_SLACK);
    let label = format!("waiting for an instance of {what} to complete");
    let r = crate::spinner::while_waiting(
        &label,
        session.call(
            &action,
            limit,
            gateway.create_process_instance_with_result(request),
        ),
    )
    .await?;
    let variables = parse_json(&r.variables);
    session.print(
        json!({
            "processDefinitionKey": r.process_definition_key,
            "bpmnProcessId": r.bpmn_process_id,
            "version": r.version,
            "processInstanceKey": r.process_instance_key,
            "variables": variables,
            "tenantId": r.tenant_id,
        }),
        || {
            let pretty = serde_json::to_string_pretty(&variables).unwrap_or_default();
            format!(
                "Process '{}' version {} (definition key {}) completed: process instance key {}\nVariables:\n{pretty}",
                r.bpmn_process_id, r.version, r.process_definition_key, r.process_instance_key
            )
        },
    );
    Ok(())
}
