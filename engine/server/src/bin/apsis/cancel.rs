//! `apsis cancel KEY`: CancelProcessInstance (the instance and everything in it is terminated).

use apsis_proto as pb;
use serde_json::json;
use tonic::Code;

use crate::client::{Action, Error, Session, REQUEST_TIMEOUT};

#[derive(Debug, clap::Args)]
pub struct CancelArgs {
    /// The process instance key (as `apsis run` prints it).
    #[arg(value_name = "KEY")]
    key: i64,
    #[command(flatten)]
    client: crate::connection::ClientArgs,
}

/// `apsis cancel`: the exit code (see `client.rs`).
pub fn main(args: CancelArgs) -> std::process::ExitCode {
    crate::client::run(&args.client.clone(), async |session| {
        run(args, session).await
    })
}

async fn run(args: CancelArgs, session: &Session) -> Result<(), Error> {
    let action = Action::new(format!("cancel process instance {}", args.key))
        .when(
            Code::NotFound,
            "no such process instance is active (it may have completed or been cancelled already)",
        )
        .when(
            Code::FailedPrecondition,
            "it is not a root process instance (cancel the instance that called it)",
        );
    let mut gateway = session.connect().await?;
    let request = pb::CancelProcessInstanceRequest {
        process_instance_key: args.key,
        operation_reference: None,
    };
    session
        .call(
            &action,
            Some(REQUEST_TIMEOUT),
            gateway.cancel_process_instance(request),
        )
        .await?;
    session.print(json!({ "processInstanceKey": args.key }), || {
        format!("Cancelled process instance {}", args.key)
    });
    Ok(())
}
