//! What the client commands (`deploy`, `run`, `publish`, `cancel`, `resolve`, `status`) share: the connection to a
//! Zeebe gateway (Apsis or any Zeebe 8.x), the mapping of every failure to a sentence and an exit code, and the two
//! output forms (text for people, one JSON object per result for scripts).
//!
//! Exit codes: 0 done, 1 the gateway refused or failed the request (or the authorization server refused the
//! credentials), 2 bad usage or input (nothing was sent), 3 no gateway (or authorization server) could be reached.
//! Errors go to stderr, results to stdout; with `--json` both are JSON. Connecting (address, TLS, credentials) is
//! `apsis-client`'s, shared with the worker daemon; `connection.rs` holds the flags.

use std::future::Future;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use apsis_client::{ClientOptions, Gateway};
use serde_json::{json, Value};
use tonic::{Code, Status};

use crate::connection::{self, ClientArgs};

/// How long a request that does not wait on purpose may take (Zeebe's default request timeout is 15 s).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Added to a requested wait so that the gateway's own timeout answers first.
pub const WAIT_SLACK: Duration = Duration::from_secs(10);

pub const EXIT_REFUSED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_UNREACHABLE: u8 = 3;

/// A failure of a client command, each with its exit code.
#[derive(Debug)]
pub enum Error {
    /// Bad usage or input, found before anything was sent (exit 2).
    Input(String),
    /// No gateway answered at the address (exit 3).
    Unreachable { sentence: String, detail: String },
    /// The authorization server refused the client credentials (exit 1).
    Credentials(String),
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
            Error::Refused { .. } | Error::Credentials(_) => EXIT_REFUSED,
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
            Code::PermissionDenied => {
                "the gateway accepted the credentials but does not allow them to do this".to_owned()
            }
            Code::Unimplemented => "the gateway does not support this request".to_owned(),
            other => format!("the gateway failed ({})", code_name(other)),
        }
    }
}

/// One run of a client command: where the gateway is, how to reach it and how to print.
#[derive(Debug)]
pub struct Session {
    /// The gateway's URL, for messages.
    pub address: String,
    options: ClientOptions,
    json: bool,
}

impl Session {
    /// A session with a gateway this process started itself (`apsis dev`, `apsis demo`): plaintext, no credentials,
    /// text output.
    pub fn local(address: &str) -> Session {
        Session {
            address: address.to_owned(),
            options: ClientOptions {
                address: address.to_owned(),
                tls: Some(false),
                ..ClientOptions::default()
            },
            json: false,
        }
    }

    /// Whether results and errors are printed as JSON (`--json`).
    pub fn json_output(&self) -> bool {
        self.json
    }

    /// Connects now, so that "nothing listens there", "the certificate is not trusted" and "the credentials were
    /// refused" are told apart from a request the gateway refused.
    pub async fn connect(&self) -> Result<Gateway, Error> {
        apsis_client::connect(&self.options)
            .await
            .map_err(|e| connection::failure(&e))
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
        // A token that could not be refreshed during the call: the auth layer's own error, kept as the source.
        let mut cause = std::error::Error::source(status);
        while let Some(e) = cause {
            if let Some(e) = e.downcast_ref::<apsis_client::Error>() {
                return connection::failure(e);
            }
            cause = e.source();
        }
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
        // A TLS port answering a plaintext HTTP/2 preface: it breaks off (h2's words) or hangs up (tonic's).
        let broken_off = matches!(status.code(), Code::Internal | Code::Unknown)
            && (status.message().starts_with("h2 protocol error")
                || status.message() == "transport error");
        if broken_off && self.address.starts_with("http://") {
            return Error::Unreachable {
                sentence: format!(
                    "Expected a plaintext Zeebe gateway at {}, but the server broke off the HTTP/2 connection: if it \
                     serves TLS, use https:// (or --tls, with --ca-cert for a private CA)",
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
        let why = match status.code() {
            Code::Unauthenticated => connection::unauthenticated(&self.options).to_owned(),
            code => action.why(code),
        };
        Error::Refused {
            sentence: format!("Could not {}: {why}.", action.doing),
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

    pub fn report(&self, e: &Error) {
        if self.json {
            let (message, code, gateway) = match e {
                Error::Input(m) | Error::Credentials(m) => (m.as_str(), None, None),
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
            Error::Input(m) | Error::Credentials(m) => (m.as_str(), ""),
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

/// Runs a client command: resolves the connection options, runs `body` on a small runtime, prints a failure and
/// returns the exit code. `body` validates its input before it connects, so bad input never waits for a gateway.
pub fn run(args: &ClientArgs, body: impl AsyncFnOnce(&Session) -> Result<(), Error>) -> ExitCode {
    let mut session = Session {
        address: String::new(),
        options: ClientOptions::default(),
        json: args.json,
    };
    let result = args.resolve().and_then(|options| {
        session.address = options
            .target()
            .map_err(|e| Error::Input(e.to_string()))?
            .url;
        session.options = options;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                Error::Input(format!(
                    "Expected to start the async runtime, but it failed: {e}"
                ))
            })?;
        let result = rt.block_on(body(&session));
        // Do not wait on anything left behind (a spinner, a half-open connection).
        rt.shutdown_background();
        result
    });
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
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
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
