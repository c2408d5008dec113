//! The task contract: what a service task of type `faas` asks the worker to do, read from the job's custom headers
//! (`zeebe:taskHeaders`, a string -> string map) with the job's element id and BPMN process id.
//!
//! | header           | meaning                                                         | default                    |
//! |------------------|-----------------------------------------------------------------|----------------------------|
//! | `function`       | function to run: `name` or `name.namespace` (DNS-1123 labels)   | required                   |
//! | `backend`        | `openfaas`, `kubernetes` or `local`                             | `openfaas`                 |
//! | `cmdline`        | handlebars template of an argv (see [`crate::template`])        | none                       |
//! | `body`           | handlebars template of the request body (not with `kubernetes`) | none: the job's variables  |
//! | `mode`           | `hold` or `receive-task`                                        | `hold`                     |
//! | `timeout`        | ISO-8601 duration: how long to wait for the callback            | `PT1H`                     |
//! | `resultVariable` | variable that receives the result (a plain identifier)         | none                       |
//! | `messageName`    | message the callback publishes (`receive-task` only)            | `function-done`            |
//! | `image`          | container image (`kubernetes` only, required there)             |                            |
//! | `cpu`, `memory`  | Kubernetes quantities such as `2`, `500m`, `8Gi` (`kubernetes`) | the namespace's defaults   |
//!
//! In `receive-task` mode the job completes with `{<resultVariable>: {callId}}` (or `{callId}` without a result
//! variable): the receive task after it correlates on `=<resultVariable>.callId` (or `=callId`).
//!
//! Why `hold` is the default: a task that only names a function then behaves like any service task (the process
//! goes on when the function has finished, a lost callback fails the job at the deadline). `receive-task` needs a
//! receive task and a timer boundary after the service task; forgetting them under a `receive-task` default would
//! let the process run ahead of its function, silently.
//!
//! An empty header value counts as absent. Headers the worker does not know are ignored (other tools put their own
//! there); a known header that does not apply (`image` with `openfaas`, `messageName` with `hold`) is an error,
//! because a setting that silently does nothing is worse than an incident.

use std::collections::BTreeMap;

use apsis_bpmn::timer::IsoDuration;

use crate::failure::Failure;
use crate::quantity;
use crate::template::{BodyTemplate, CommandLine};

/// The header names, as written in `zeebe:taskHeaders`.
pub mod header {
    pub const FUNCTION: &str = "function";
    pub const BACKEND: &str = "backend";
    pub const CMDLINE: &str = "cmdline";
    pub const BODY: &str = "body";
    pub const MODE: &str = "mode";
    pub const TIMEOUT: &str = "timeout";
    pub const RESULT_VARIABLE: &str = "resultVariable";
    pub const MESSAGE_NAME: &str = "messageName";
    pub const IMAGE: &str = "image";
    pub const CPU: &str = "cpu";
    pub const MEMORY: &str = "memory";
}

/// The callback deadline when the task sets no `timeout`.
pub const DEFAULT_TIMEOUT: IsoDuration = IsoDuration {
    months: 0,
    days: 0,
    millis: 3_600_000,
};

/// The message name when a receive-task mode task sets none. One name can serve every step: the correlation key,
/// the call id, is what tells calls apart.
pub const DEFAULT_MESSAGE_NAME: &str = "function-done";

/// Where the function runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    OpenFaas,
    Kubernetes,
    Local,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::OpenFaas => "openfaas",
            Backend::Kubernetes => "kubernetes",
            Backend::Local => "local",
        }
    }
}

/// How the job relates to the function's run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Keep the job until the callback; then complete it (2xx) or fail it (otherwise).
    Hold,
    /// Complete the job at once with the call id; the callback publishes `message_name` with the call id as
    /// correlation key, for the receive task that follows.
    ReceiveTask { message_name: String },
}

impl Mode {
    pub fn as_str(&self) -> &'static str {
        match self {
            Mode::Hold => "hold",
            Mode::ReceiveTask { .. } => "receive-task",
        }
    }
}

/// What the function is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// No template: the job's variables as a JSON object (OpenFaaS, local); the image's own command (Kubernetes).
    Variables,
    Cmdline(CommandLine),
    Body(BodyTemplate),
}

/// Container settings of the `kubernetes` backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kubernetes {
    pub image: String,
    pub cpu: Option<String>,
    pub memory: Option<String>,
}

/// A validated task contract. Templates are compiled but not rendered: rendering needs the job's variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub element_id: String,
    pub bpmn_process_id: String,
    pub function: String,
    pub backend: Backend,
    pub payload: Payload,
    pub mode: Mode,
    pub timeout: IsoDuration,
    pub result_variable: Option<String>,
    /// `Some` exactly when `backend` is `kubernetes`.
    pub kubernetes: Option<Kubernetes>,
}

impl Task {
    /// Reads the contract of a job of element `element_id` in process `bpmn_process_id` from its custom headers.
    pub fn from_headers(
        headers: &BTreeMap<String, String>,
        element_id: &str,
        bpmn_process_id: &str,
    ) -> Result<Task, Failure> {
        let h = Headers {
            headers,
            element: element_id,
        };
        let function = h
            .get(header::FUNCTION)
            .ok_or_else(|| h.missing(header::FUNCTION, "the function to run"))?;
        if !is_function_name(function) {
            return Err(h.invalid(
                header::FUNCTION,
                "a function name such as 'otbcli' or 'otbcli.eo-fn' (lowercase letters, digits and '-')",
                function,
            ));
        }
        let backend = match h.get(header::BACKEND) {
            None | Some("openfaas") => Backend::OpenFaas,
            Some("kubernetes") => Backend::Kubernetes,
            Some("local") => Backend::Local,
            Some(other) => {
                return Err(h.invalid(
                    header::BACKEND,
                    "one of 'openfaas', 'kubernetes', 'local'",
                    other,
                ))
            }
        };
        let payload = match (h.get(header::CMDLINE), h.get(header::BODY)) {
            (Some(_), Some(_)) => {
                return Err(Failure::CmdlineAndBody {
                    element: element_id.to_owned(),
                })
            }
            (Some(cmdline), None) => Payload::Cmdline(CommandLine::parse(cmdline, element_id)?),
            (None, Some(_)) if backend == Backend::Kubernetes => {
                return Err(h.only_with(
                    header::BODY,
                    "backend 'openfaas' or 'local'",
                    "backend 'kubernetes'",
                ))
            }
            (None, Some(body)) => Payload::Body(BodyTemplate::parse(body, element_id)?),
            (None, None) => Payload::Variables,
        };
        let mode = match h.get(header::MODE) {
            None | Some("hold") => {
                if h.get(header::MESSAGE_NAME).is_some() {
                    return Err(h.only_with(
                        header::MESSAGE_NAME,
                        "mode 'receive-task'",
                        "mode 'hold'",
                    ));
                }
                Mode::Hold
            }
            Some("receive-task") => Mode::ReceiveTask {
                message_name: h
                    .get(header::MESSAGE_NAME)
                    .unwrap_or(DEFAULT_MESSAGE_NAME)
                    .to_owned(),
            },
            Some(other) => {
                return Err(h.invalid(header::MODE, "one of 'hold', 'receive-task'", other))
            }
        };
        let timeout = match h.get(header::TIMEOUT) {
            None => DEFAULT_TIMEOUT,
            Some(text) => match IsoDuration::parse(text) {
                Ok(d) if !d.is_zero() => d,
                _ => {
                    return Err(h.invalid(
                        header::TIMEOUT,
                        "a positive ISO-8601 duration such as PT2H",
                        text,
                    ))
                }
            },
        };
        let result_variable = h.get(header::RESULT_VARIABLE).map(str::to_owned);
        if let Some(name) = &result_variable {
            if !is_identifier(name) {
                return Err(h.invalid(
                    header::RESULT_VARIABLE,
                    "a variable name such as 'ortho' (letters, digits and '_', not starting with a digit)",
                    name,
                ));
            }
        }
        let kubernetes = kubernetes(&h, backend)?;
        if kubernetes.is_some() && mode != Mode::Hold {
            return Err(h.invalid(
                header::MODE,
                "'hold' with backend 'kubernetes' (the worker completes the job when its Job ends; no callback \
                 publishes a message)",
                mode.as_str(),
            ));
        }
        Ok(Task {
            element_id: element_id.to_owned(),
            bpmn_process_id: bpmn_process_id.to_owned(),
            function: function.to_owned(),
            backend,
            payload,
            mode,
            timeout,
            result_variable,
            kubernetes,
        })
    }
}

fn kubernetes(h: &Headers<'_>, backend: Backend) -> Result<Option<Kubernetes>, Failure> {
    if backend != Backend::Kubernetes {
        for name in [header::IMAGE, header::CPU, header::MEMORY] {
            if h.get(name).is_some() {
                return Err(h.only_with(name, "backend 'kubernetes'", backend_phrase(backend)));
            }
        }
        return Ok(None);
    }
    let image = h.get(header::IMAGE).ok_or_else(|| {
        h.missing(
            header::IMAGE,
            "the container image, required by backend 'kubernetes'",
        )
    })?;
    if image.contains(char::is_whitespace) {
        return Err(h.invalid(
            header::IMAGE,
            "a container image reference without spaces",
            image,
        ));
    }
    let quantity = |name: &'static str| -> Result<Option<String>, Failure> {
        match h.get(name) {
            None => Ok(None),
            Some(text) => match quantity::check(text) {
                Ok(()) => Ok(Some(text.to_owned())),
                Err(why) => Err(h.invalid(
                    name,
                    &format!("a Kubernetes quantity such as '2', '500m' or '8Gi' ({why})"),
                    text,
                )),
            },
        }
    };
    Ok(Some(Kubernetes {
        image: image.to_owned(),
        cpu: quantity(header::CPU)?,
        memory: quantity(header::MEMORY)?,
    }))
}

fn backend_phrase(backend: Backend) -> &'static str {
    match backend {
        Backend::OpenFaas => "backend 'openfaas'",
        Backend::Kubernetes => "backend 'kubernetes'",
        Backend::Local => "backend 'local'",
    }
}

/// The headers of one element, with the element id every failure names.
struct Headers<'a> {
    headers: &'a BTreeMap<String, String>,
    element: &'a str,
}

impl Headers<'_> {
    /// The trimmed value of `name`; an empty value counts as absent.
    fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn missing(&self, header: &'static str, expected: &'static str) -> Failure {
        Failure::MissingHeader {
            element: self.element.to_owned(),
            header,
            expected,
        }
    }

    fn invalid(&self, header: &'static str, expected: &str, found: &str) -> Failure {
        Failure::InvalidHeader {
            element: self.element.to_owned(),
            header,
            expected: expected.to_owned(),
            found: found.to_owned(),
        }
    }

    fn only_with(
        &self,
        header: &'static str,
        requires: &'static str,
        found: &'static str,
    ) -> Failure {
        Failure::OnlyWith {
            element: self.element.to_owned(),
            header,
            requires,
            found,
        }
    }
}

/// `name` or `name.namespace`, each a DNS-1123 label: the function ends up in a URL path and a Kubernetes name, so
/// nothing else (no `/`, `..`, `?`) may pass.
fn is_function_name(text: &str) -> bool {
    let label = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    match text.split_once('.') {
        Some((name, namespace)) => label(name) && label(namespace),
        None => label(text),
    }
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
#[path = "task_tests.rs"]
mod tests;
