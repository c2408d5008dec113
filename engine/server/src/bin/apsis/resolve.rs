//! `apsis resolve INCIDENT_KEY`: ResolveIncident (the failed step runs again). A job incident resolves only after
//! its job was given retries again; the gateway says so with FAILED_PRECONDITION.

use apsis_proto as pb;
use serde_json::json;
use tonic::Code;

use crate::client::{Action, Error, Session, REQUEST_TIMEOUT};

#[derive(Debug, clap::Args)]
pub struct ResolveArgs {
    /// The incident key.
    #[arg(value_name = "INCIDENT_KEY")]
    key: i64,
    #[command(flatten)]
    client: crate::connection::ClientArgs,
}

/// `apsis resolve`: the exit code (see `client.rs`).
pub fn main(args: ResolveArgs) -> std::process::ExitCode {
    crate::client::run(&args.client.clone(), async |session| {
        run(args, session).await
    })
}

async fn run(args: ResolveArgs, session: &Session) -> Result<(), Error> {
    let action = Action::new(format!("resolve incident {}", args.key))
        .when(
            Code::NotFound,
            "no such incident is open (it may have been resolved already)",
        )
        .when(
            Code::FailedPrecondition,
            "the incident cannot be resolved yet (for a failed job, give the job retries first, then resolve \
             again)",
        );
    let mut gateway = session.connect().await?;
    let request = pb::ResolveIncidentRequest {
        incident_key: args.key,
        operation_reference: None,
    };
    session
        .call(
            &action,
            Some(REQUEST_TIMEOUT),
            gateway.resolve_incident(request),
        )
        .await?;
    session.print(json!({ "incidentKey": args.key }), || {
        format!("Resolved incident {}", args.key)
    });
    Ok(())
}
