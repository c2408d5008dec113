//! What the client commands (`deploy`, `run`, `publish`, `cancel`, `resolve`, `status`) share: the connection to a
//! Zeebe gateway (Apsis or any Zeebe 8.x), the mapping of every failure to a sentence and an exit code, and the two
//! output forms (text for people, one JSON object per result for scripts).
//!
//! Exit codes: 0 done, 1 the gateway refused or failed the request, 2 bad usage or input (nothing was sent),
//! 3 no gateway could be reached. Errors go to stderr, results to stdout; with `--json` both are JSON.

use std::future::Future;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use apsis_proto::gateway_client::GatewayClient;
use serde_json::{json, Value};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use crate::address;

/// How long connecting may take before the gateway counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a request that does not wait on purpose may take (Zeebe's default request timeout is 15 s).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Added to a requested wait so that the gateway's own timeout answers first.
pub const WAIT_SLACK: Duration = Duration::from_secs(10);

pub const EXIT_REFUSED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_UNREACHABLE: u8 = 3;

/// The options every client command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct ClientOptions {
    /// The Zeebe gateway: http://HOST:PORT or HOST:PORT [default: $APSIS_ADDRESS, else $ZEEBE_ADDRESS, else
    /// $ZEEBE_GRPC_ADDRESS, else http://127.0.0.1:26500].
    #[arg(long, value_name = "URL")]
    address: Option<String>,
    /// Print each result as one JSON object (Zeebe's camelCase field names), and errors as JSON on stderr.
    #[arg(long)]
    json: bool,
}

/// A failure of a client command, each with its exit code.
#[derive(Debug)]
pub enum Error {
    /// Bad usage or input, found before anything was sent (exit 2).
    Input(String),
    /// No gateway answered at the address (exit 3).
    Unreachable { sentence: String, detail: String },
    /// The gateway answered with an error status (exit 1).
    Refused {
        sentence: String,
        code: Code,
        gateway: String,
    },
}

impl Error {
    fn exit_code(&self) -> u8 {
        match self {
            Error::Input(_) => EXIT_USAGE,
            Error::Unreachable { .. } => EXIT_UNREACHABLE,
            Error::Refused { .. } => EXIT_REFUSED,
        }
    }
}

/// What a command was trying to do, for its error sentences: "Could not {doing}: {why}."
#[derive(Debug)]
pub struct Action {
    doing: String,
    /// Sentences better than the generic one for some statuses (e.g. NOT_FOUND: "no process 'x' is deployed").
    because: Vec<(Code, String)>,
}

impl Action {
    pub fn new(doing: impl Into<String>) -> Action {
        Action {
            doing: doing.into(),
            because: Vec::new(),
        }
    }

    /// Explains `code` with `why` instead of the generic reason.
    pub fn when(mut self, code: Code, why: impl Into<String>) -> Action {
        self.because.push((code, why.into()));
        self
    }

    fn why(&self, code: Code) -> String {
        if let Some((_, why)) = self.because.iter().find(|(c, _)| *c == code) {
            return why.clone();
        }
        match code {
            Code::NotFound => "the gateway found nothing with that key or id".to_owned(),
            Code::InvalidArgument => "the gateway found the request invalid".to_owned(),
            Code::FailedPrecondition => "the gateway refused it in the current state".to_owned(),
            Code::AlreadyExists => "it already exists".to_owned(),
            Code::ResourceExhausted => {
                "the gateway is overloaded (backpressure) or the request is too large; retry later or send less"
                    .to_owned()
            }
            Code::DeadlineExceeded => "the gateway did not answer in time".to_owned(),
            Code::PermissionDenied | Code::Unauthenticated => {
                "the gateway requires credentials, which the apsis CLI does not send yet".to_owned()
            }
            Code::Unimplemented => "the gateway does not support this request".to_owned(),
            other => format!("the gateway failed ({})", code_name(other)),
        }
    }
}

/// One run of a client command: where the gateway is and how to print.
#[derive(Debug)]
pub struct Session {
    pub address: String,
    json: bool,
}

impl Session {
    /// Connects now, so that "nothing listens there" is told apart from a request the gateway refused.
    pub async fn connect(&self) -> Result<GatewayClient<Channel>, Error> {
        let unreachable = |detail: String| Error::Unreachable {
            sentence: format!(
                "Expected a Zeebe gateway at {}, but could not connect: is `apsis engine` running?",
                self.address
            ),
            detail,
        };
        let endpoint = Endpoint::from_shared(self.address.clone())
            .map_err(|e| {
                Error::Input(format!(
                    "The gateway address {} is invalid: {e}",
                    self.address
                ))
            })?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true);
        let channel = match tokio::time::timeout(CONNECT_TIMEOUT, endpoint.connect()).await {
            Ok(Ok(channel)) => channel,
            Ok(Err(e)) => return Err(unreachable(root_cause(&e))),
            Err(_) => {
                return Err(unreachable(format!(
                    "no answer within {}",
                    crate::input::show(CONNECT_TIMEOUT)
                )))
            }
        };
        Ok(GatewayClient::new(channel))
    }

    /// Awaits one request, bounded by `limit` (none: the gateway's own timeout bounds it), mapping a failure to a
    /// sentence that says what `action` was.
    pub async fn call<T>(
        &self,
        action: &Action,
        limit: Option<Duration>,
        request: impl Future<Output = Result<tonic::Response<T>, Status>>,
    ) -> Result<T, Error> {
        let answer = match limit {
            Some(limit) => match tokio::time::timeout(limit, request).await {
                Ok(answer) => answer,
                Err(_) => Err(Status::deadline_exceeded(format!(
                    "no answer within {}",
                    crate::input::show(limit)
                ))),
            },
            None => request.await,
        };
        answer
            .map(tonic::Response::into_inner)
            .map_err(|status| self.failure(action, &status))
    }

    fn failure(&self, action: &Action, status: &Status) -> Error {
        let gateway = gateway_message(status.message());
        // tonic's words for an HTTP answer without gRPC in it: a web server, not a gateway.
        if status.message().starts_with("grpc-status header missing") {
            return Error::Unreachable {
                sentence: format!(
                    "Expected a Zeebe gateway at {}, but a server that does not speak gRPC answered: is it the \
                     gateway's address (port 26500 by default) rather than another service's?",
                    self.address
                ),
                detail: gateway,
            };
        }
        if status.code() == Code::Unavailable {
            return Error::Unreachable {
                sentence: format!(
                    "Could not {}: the Zeebe gateway at {} is unavailable (not ready, shutting down, or the \
                     connection was lost)",
                    action.doing, self.address
                ),
                detail: gateway,
            };
        }
        Error::Refused {
            sentence: format!("Could not {}: {}.", action.doing, action.why(status.code())),
            code: status.code(),
            gateway,
        }
    }

    /// Prints one result: `json` with `--json`, else `text` (lines for a person).
    pub fn print(&self, json: Value, text: impl FnOnce() -> String) {
        let mut out = std::io::stdout().lock();
        // A closed pipe (`apsis status | head -1`) is not an error worth a message.
        let _ = if self.json {
            writeln!(out, "{json}")
        } else {
            writeln!(out, "{}", text().trim_end())
        };
    }

    fn report(&self, e: &Error) {
        if self.json {
            let (message, code, gateway) = match e {
                Error::Input(m) => (m.as_str(), None, None),
                Error::Unreachable { sentence, detail } => (sentence.as_str(), None, Some(detail)),
                Error::Refused {
                    sentence,
                    code,
                    gateway,
                } => (sentence.as_str(), Some(code_name(*code)), Some(gateway)),
            };
            let error = json!({
                "error": {
                    "message": message,
                    "code": code,
                    "gatewayMessage": gateway,
                    "exitCode": e.exit_code(),
                }
            });
            eprintln!("{error}");
            return;
        }
        let (sentence, detail) = match e {
            Error::Input(m) => (m.as_str(), ""),
            Error::Unreachable { sentence, detail } => (sentence.as_str(), detail.as_str()),
            Error::Refused {
                sentence, gateway, ..
            } => (sentence.as_str(), gateway.as_str()),
        };
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "apsis: {sentence}");
        for line in detail.lines().filter(|l| !l.trim().is_empty()) {
            let _ = writeln!(err, "  {line}");
        }
    }
}

/// Runs a client command: resolves the address, runs `body` on a small runtime, prints a failure and returns the
/// exit code. `body` validates its input before it connects, so bad input never waits for a gateway.
pub fn run(
    options: &ClientOptions,
    body: impl AsyncFnOnce(&Session) -> Result<(), Error>,
) -> ExitCode {
    let mut session = Session {
        address: String::new(),
        json: options.json,
    };
    let result = match address::resolve(options.address.as_deref(), &address::from_env()) {
        Err(e) => Err(Error::Input(e)),
        Ok(address) => {
            session.address = address;
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => {
                    let result = rt.block_on(body(&session));
                    // Do not wait on anything left behind (a spinner, a half-open connection).
                    rt.shutdown_background();
                    result
                }
                Err(e) => Err(Error::Input(format!(
                    "Expected to start the async runtime, but it failed: {e}"
                ))),
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            session.report(&e);
            ExitCode::from(e.exit_code())
        }
    }
}

/// The gateway's message without Zeebe's "Command 'X' rejected with code 'Y': " prefix (the sentence above it
/// already says that), so what remains reads as the reason.
pub fn gateway_message(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("Command '") {
        if let Some(i) = rest.find("' rejected with code '") {
            let after = &rest[i + "' rejected with code '".len()..];
            if let Some(j) = after.find("': ") {
                return after[j + 3..].to_owned();
            }
        }
    }
    message.to_owned()
}

/// The innermost cause of a transport error: "Connection refused (os error 111)", not tonic's wrapper text.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The status code as gRPC and Zeebe's documentation spell it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Parses a JSON text the gateway returned (variables); text that is not JSON stays a string rather than failing
/// a command that succeeded.
pub fn parse_json(text: &str) -> Value {
    if text.is_empty() {
        return json!({});
    }
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeebe_rejection_prefix_is_dropped() {
        assert_eq!(
            gateway_message("Command 'CREATE' rejected with code 'NOT_FOUND': Expected to find x, but none found"),
            "Expected to find x, but none found"
        );
        assert_eq!(gateway_message("plain"), "plain");
    }

    #[test]
    fn sentences_prefer_the_action_s_own_reason() {
        let a = Action::new("start process 'p'").when(Code::NotFound, "no process 'p' is deployed");
        assert_eq!(a.why(Code::NotFound), "no process 'p' is deployed");
        assert_eq!(
            a.why(Code::InvalidArgument),
            "the gateway found the request invalid"
        );
        assert_eq!(a.why(Code::Internal), "the gateway failed (INTERNAL)");
    }
}
