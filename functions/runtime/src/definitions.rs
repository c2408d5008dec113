//! Function definitions: a faas-cli `stack.yml`, so that one file describes a function for OpenFaaS and for local runs.
//!
//! Local keys live in an `x-apsis-local:` block per function, which faas-cli does not read. Precedence, per key:
//! `x-apsis-local.<key>` > `environment.<key>` (of-watchdog's variable of that name) > default.
//!
//! | key             | meaning                                                                  | default   |
//! |-----------------|--------------------------------------------------------------------------|-----------|
//! | `fprocess`      | argv list, or of-watchdog's `environment.fprocess` string split into words | required |
//! | `environment`   | extra variables for the process, over the function's `environment`        | none      |
//! | `max_inflight`  | concurrent requests; more get 429 (sync) or wait in the queue (async); 0 = no limit | 0 |
//! | `exec_timeout`  | Go duration (`30s`, `1m30s`, `2h`) or seconds; 0 = none; exceeded: 504     | `30s`     |
//! | `start_timeout` | how long a started process may take to accept connections                | `10s`     |

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_norway::Value;

use crate::duration::parse_go_duration;
use crate::Error;

/// of-watchdog's default `exec_timeout`, kept for local runs.
pub const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a started process may take to accept connections on `APSIS_LISTEN`.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(10);

/// One function, ready to run locally.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    pub name: String,
    /// The image OpenFaaS would run (shown by `/system/functions`; unused locally).
    pub image: String,
    /// The process to start: `argv[0]` is a program on `PATH`, an absolute path, or a path relative to the
    /// definitions file's folder (when it contains a `/`).
    pub argv: Vec<String>,
    /// Variables set for the process on top of the runtime's own environment.
    pub environment: BTreeMap<String, String>,
    /// `None`: no limit.
    pub max_inflight: Option<usize>,
    /// `None`: no limit.
    pub exec_timeout: Option<Duration>,
    pub start_timeout: Duration,
    /// The process's working directory: the definitions file's folder.
    pub workdir: PathBuf,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub limits: Option<serde_json::Value>,
    pub requests: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct RawStack {
    #[serde(default)]
    functions: BTreeMap<String, RawFunction>,
}

#[derive(Debug, Deserialize)]
struct RawFunction {
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    environment: BTreeMap<String, Value>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    limits: Option<serde_json::Value>,
    #[serde(default)]
    requests: Option<serde_json::Value>,
    #[serde(default, rename = "x-apsis-local")]
    local: RawLocal,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLocal {
    #[serde(default)]
    fprocess: Option<Value>,
    #[serde(default)]
    environment: BTreeMap<String, Value>,
    #[serde(default)]
    max_inflight: Option<Value>,
    #[serde(default)]
    exec_timeout: Option<Value>,
    #[serde(default)]
    start_timeout: Option<Value>,
}

/// Reads and checks a definitions file; every error names the file, the function and the field.
pub fn load(path: &Path) -> Result<Vec<FunctionSpec>, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ReadDefinitions {
        path: path.to_path_buf(),
        source,
    })?;
    // Absolute: the folder is also each process's working directory, so a relative anchor would be applied twice
    // (`--functions functions/local.yml` made `functions/../x` resolve from inside `functions/`).
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let folder = std::path::absolute(folder).map_err(|source| Error::ReadDefinitions {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path, &folder)
}

/// Parses definitions text; `path` only names the file in errors, `folder` anchors relative programs.
pub fn parse(text: &str, path: &Path, folder: &Path) -> Result<Vec<FunctionSpec>, Error> {
    let stack: RawStack =
        serde_norway::from_str(text).map_err(|source| Error::ParseDefinitions {
            path: path.to_path_buf(),
            source,
        })?;
    if stack.functions.is_empty() {
        return Err(Error::NoFunctions {
            path: path.to_path_buf(),
        });
    }
    stack
        .functions
        .into_iter()
        .map(|(name, raw)| Field::new(path, &name).spec(raw, folder))
        .collect()
}

/// Names the file and function in every error about one of its fields.
struct Field<'a> {
    path: &'a Path,
    function: &'a str,
}

impl<'a> Field<'a> {
    fn new(path: &'a Path, function: &'a str) -> Self {
        Field { path, function }
    }

    fn invalid(&self, field: &'static str, expected: &'static str, found: String) -> Error {
        Error::InvalidField {
            path: self.path.to_path_buf(),
            function: self.function.to_string(),
            field,
            expected,
            found,
        }
    }

    fn spec(&self, raw: RawFunction, folder: &Path) -> Result<FunctionSpec, Error> {
        if !is_function_name(self.function) {
            return Err(self.invalid(
                "name",
                "lowercase letters, digits and '-', starting and ending with a letter or digit",
                format!("'{}'", self.function),
            ));
        }
        let mut environment = BTreeMap::new();
        for (key, value) in raw.environment.iter().chain(&raw.local.environment) {
            environment.insert(key.clone(), self.scalar("environment", value)?);
        }
        let argv = match (&raw.local.fprocess, raw.environment.get("fprocess")) {
            (Some(value), _) => self.argv("x-apsis-local.fprocess", value)?,
            (None, Some(value)) => self.argv("environment.fprocess", value)?,
            (None, None) => {
                return Err(self.invalid(
                    "x-apsis-local.fprocess",
                    "an argv list (or environment.fprocess) saying how to start the function",
                    "neither".to_string(),
                ))
            }
        };
        let argv = anchor_program(argv, folder);
        let max_inflight = match (&raw.local.max_inflight, raw.environment.get("max_inflight")) {
            (Some(v), _) => self.count("x-apsis-local.max_inflight", v)?,
            (None, Some(v)) => self.count("environment.max_inflight", v)?,
            (None, None) => 0,
        };
        let exec_timeout = match (&raw.local.exec_timeout, raw.environment.get("exec_timeout")) {
            (Some(v), _) => self.duration("x-apsis-local.exec_timeout", v)?,
            (None, Some(v)) => self.duration("environment.exec_timeout", v)?,
            (None, None) => DEFAULT_EXEC_TIMEOUT,
        };
        let start_timeout = match &raw.local.start_timeout {
            Some(v) => self.duration("x-apsis-local.start_timeout", v)?,
            None => DEFAULT_START_TIMEOUT,
        };
        if start_timeout.is_zero() {
            return Err(self.invalid(
                "x-apsis-local.start_timeout",
                "a positive duration",
                "0".to_string(),
            ));
        }
        Ok(FunctionSpec {
            name: self.function.to_string(),
            image: raw.image.unwrap_or_default(),
            argv,
            environment,
            max_inflight: (max_inflight > 0).then_some(max_inflight),
            exec_timeout: (!exec_timeout.is_zero()).then_some(exec_timeout),
            start_timeout,
            workdir: folder.to_path_buf(),
            labels: raw.labels,
            annotations: raw.annotations,
            limits: raw.limits,
            requests: raw.requests,
        })
    }

    fn scalar(&self, field: &'static str, value: &Value) -> Result<String, Error> {
        match value {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(self.invalid(field, "a string, number or boolean", show(other))),
        }
    }

    fn argv(&self, field: &'static str, value: &Value) -> Result<Vec<String>, Error> {
        let argv: Vec<String> = match value {
            Value::String(line) => {
                // of-watchdog splits fprocess on spaces and runs no shell: quotes would reach the program as text.
                if line.contains(['"', '\'', '\\', '|', ';', '&', '$', '`', '<', '>']) {
                    return Err(self.invalid(
                        field,
                        "words without quotes or shell syntax (no shell runs it; use an argv list)",
                        format!("'{line}'"),
                    ));
                }
                line.split_whitespace().map(str::to_string).collect()
            }
            Value::Sequence(items) => items
                .iter()
                .map(|item| self.scalar(field, item))
                .collect::<Result<_, _>>()?,
            other => {
                return Err(self.invalid(field, "an argv list or a command line", show(other)))
            }
        };
        if argv.first().is_none_or(|program| program.is_empty()) {
            return Err(self.invalid(field, "a non-empty program", show(value)));
        }
        Ok(argv)
    }

    fn count(&self, field: &'static str, value: &Value) -> Result<usize, Error> {
        let text = self.scalar(field, value)?;
        text.trim()
            .parse()
            .map_err(|_| self.invalid(field, "a whole number >= 0", format!("'{text}'")))
    }

    fn duration(&self, field: &'static str, value: &Value) -> Result<Duration, Error> {
        let text = self.scalar(field, value)?;
        parse_go_duration(&text).ok_or_else(|| {
            self.invalid(
                field,
                "a Go duration such as 30s, 1m30s or 2h, or whole seconds",
                format!("'{text}'"),
            )
        })
    }
}

fn anchor_program(mut argv: Vec<String>, folder: &Path) -> Vec<String> {
    let program = Path::new(&argv[0]);
    if program.is_relative() && argv[0].contains('/') {
        argv[0] = folder.join(program).to_string_lossy().into_owned();
    }
    argv
}

fn is_function_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

fn show(value: &Value) -> String {
    serde_norway::to_string(value)
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|_| format!("{value:?}"))
}

#[cfg(test)]
#[path = "definitions_tests.rs"]
mod tests;
