//! `apsis publish NAME --key K`: PublishMessage. The gateway accepts it whether or not anything correlates; with a
//! time to live it is buffered until a subscription opens.

use std::time::Duration;

use apsis_proto as pb;
use serde_json::json;
use tonic::Code;

use crate::client::{Action, Error, Session, REQUEST_TIMEOUT};
use crate::input;

/// Zeebe's clients buffer a message for one hour unless told otherwise.
const DEFAULT_TTL: &str = "1h";

#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The message name (the `name` of `<bpmn:message>`).
    #[arg(value_name = "NAME")]
    name: String,
    /// The correlation key, matched against the subscription's `correlationKey` expression.
    #[arg(long, value_name = "K")]
    key: String,
    /// Variables the message carries: a JSON object, @FILE, or @- for standard input.
    #[arg(long, value_name = "JSON|@FILE")]
    vars: Option<String>,
    /// How long the message waits for a subscription: 30s, 5m, 1h or milliseconds; 0 drops it if nothing waits.
    #[arg(long, value_name = "DURATION", default_value = DEFAULT_TTL, value_parser = input::duration)]
    ttl: Duration,
    /// A message id: a second message with the same name, key and id is refused while the first is buffered.
    #[arg(long, value_name = "MESSAGE_ID")]
    id: Option<String>,
    /// Tenant of the message (multi-tenant Zeebe clusters only).
    #[arg(long, value_name = "ID")]
    tenant: Option<String>,
    #[command(flatten)]
    client: crate::connection::ClientArgs,
}

/// `apsis publish`: the exit code (see `client.rs`).
pub fn main(args: PublishArgs) -> std::process::ExitCode {
    crate::client::run(&args.client.clone(), async |session| {
        run(args, session).await
    })
}

async fn run(args: PublishArgs, session: &Session) -> Result<(), Error> {
    let variables = input::variables("--vars", args.vars.as_deref()).map_err(Error::Input)?;
    let what = format!(
        "message '{}' with correlation key '{}'",
        args.name, args.key
    );
    let mut action = Action::new(format!("publish {what}"));
    if let Some(id) = &args.id {
        action = action.when(
            Code::AlreadyExists,
            format!(
                "a message with the same name, correlation key and id '{id}' is still buffered"
            ),
        );
    }
    let request = pb::PublishMessageRequest {
        name: args.name.clone(),
        correlation_key: args.key.clone(),
        time_to_live: input::millis(args.ttl),
        message_id: args.id.clone().unwrap_or_default(),
        variables,
        tenant_id: args.tenant.unwrap_or_default(),
    };
    let mut gateway = session.connect().await?;
    let r = session
        .call(
            &action,
            Some(REQUEST_TIMEOUT),
            gateway.publish_message(request),
        )
        .await?;
    session.print(json!({ "key": r.key, "tenantId": r.tenant_id }), || {
        format!(
            "Published {what} (time to live {}): message key {}",
            input::show(args.ttl),
            r.key
        )
    });
    Ok(())
}
