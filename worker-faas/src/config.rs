//! The daemon's configuration, resolved in layers: built-in defaults < TOML file (`--config FILE` or
//! `APSIS_WORKER_CONFIG`) < environment < command-line flags. `--print-config` shows the result as TOML with every
//! secret masked.
//!
//! Environment: `APSIS_WORKER_<KEY>` for each top-level key of [`KEYS`] (e.g. `APSIS_WORKER_MAX_JOBS_IN_FLIGHT`,
//! `APSIS_WORKER_JOB_TYPES=faas,faas-big`); the gateway connection from the variables real Zeebe clients read
//! (`ZEEBE_ADDRESS`, `ZEEBE_CLIENT_ID`, ... see `apsis_client::env`); the callback key from `APSIS_CALLBACK_KEY`
//! or `APSIS_CALLBACK_KEY_FILE`, the names `callback-ack` reads, else the OpenFaaS secret file
//! [`DEFAULT_CALLBACK_KEY_FILE`] when it exists.
//!
//! This module is the only code that reads the process environment or the file system for settings
//! ([`process_env`], [`Resolved::load`]); [`resolve`] takes both as data so that tests never touch the real ones.

use std::path::PathBuf;
use std::time::Duration;

use apsis_client::env::{Flags as ClientFlags, Setting, VARIABLES};
use apsis_client::{Auth, ClientOptions};
use serde::Deserialize;

use crate::outcome::Policy;
use crate::token::CallbackKey;
use crate::Error;

mod kubernetes;
mod print;

/// The environment variable naming the config file.
pub const CONFIG_ENV: &str = "APSIS_WORKER_CONFIG";
/// The callback key itself (at least 32 bytes).
pub const CALLBACK_KEY_ENV: &str = "APSIS_CALLBACK_KEY";
/// A file holding the callback key (trailing newline ignored).
pub const CALLBACK_KEY_FILE_ENV: &str = "APSIS_CALLBACK_KEY_FILE";
/// `1`: stop (as on SIGTERM) when stdin reaches EOF, i.e. when the parent holding it (`apsis dev`) is gone, however
/// it went. The local runtime's functions follow the same convention.
pub const STDIN_LIFELINE_ENV: &str = "APSIS_STDIN_LIFELINE";
/// Where OpenFaaS mounts the secret `apsis-callback-key`; read when no key is configured and the file exists.
pub const DEFAULT_CALLBACK_KEY_FILE: &str = "/var/openfaas/secrets/apsis-callback-key";

/// The top-level keys, as TOML names; `APSIS_WORKER_` + upper case is the environment name.
pub const KEYS: &[&str] = &[
    "job_types",
    "worker_name",
    "max_jobs_in_flight",
    "activation_timeout_ms",
    "poll_request_timeout_ms",
    "openfaas_url",
    "local_url",
    "callback_url",
    "callback_key_file",
    "listen_address",
    "shutdown_grace_ms",
    "log_level",
    "log_format",
];

/// Everything the daemon needs, resolved.
#[derive(Debug, Clone)]
pub struct Config {
    pub gateway: ClientOptions,
    pub job_types: Vec<String>,
    pub worker_name: String,
    /// Jobs being worked on at once (see `worker` for what counts).
    pub max_jobs_in_flight: usize,
    /// The job timeout asked for at activation; a held job's timeout is then extended to its deadline.
    pub activation_timeout: Duration,
    /// How long one ActivateJobs long poll may wait for jobs.
    pub poll_request_timeout: Duration,
    pub openfaas_url: String,
    /// The local runtime (the same gateway contract on loopback), for tasks with `backend=local`.
    pub local_url: String,
    /// callback-ack's URL; the worker appends `?token=<token>`.
    pub callback_url: String,
    pub callback_key: CallbackKey,
    /// Where the key came from, for `--print-config`.
    pub callback_key_origin: String,
    pub policy: Policy,
    /// `/health`, `/ready`, `/metrics`.
    pub listen_address: String,
    /// How long a shutdown waits for invocations in progress.
    pub shutdown_grace: Duration,
    pub log_level: String,
    /// `json` (the fixed fields as JSON keys) or `text`.
    pub log_format: String,
    /// The `[kubernetes]` section.
    pub kubernetes: crate::backend::kubernetes::Settings,
    /// Stop when stdin reaches EOF (`APSIS_STDIN_LIFELINE=1`).
    pub stdin_lifeline: bool,
}

/// The TOML file: every key optional, unknown keys and wrong types refused. Top-level values are read through
/// `layer` (so every layer is parsed by the same code); this type checks the file's shape and holds the tables.
#[allow(dead_code)]
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    gateway: Option<ClientOptions>,
    job_types: Option<Vec<String>>,
    worker_name: Option<String>,
    max_jobs_in_flight: Option<usize>,
    activation_timeout_ms: Option<u64>,
    poll_request_timeout_ms: Option<u64>,
    openfaas_url: Option<String>,
    local_url: Option<String>,
    callback_url: Option<String>,
    callback_key_file: Option<PathBuf>,
    listen_address: Option<String>,
    shutdown_grace_ms: Option<u64>,
    log_level: Option<String>,
    log_format: Option<String>,
    retry: Option<RetryFile>,
    kubernetes: Option<kubernetes::KubernetesFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetryFile {
    attempts: Option<u32>,
    initial_backoff_ms: Option<u64>,
    max_backoff_ms: Option<u64>,
    job_retry_backoff_ms: Option<u64>,
}

/// Settings given as flags (each wins over the file and the environment).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub config: Option<PathBuf>,
    pub gateway: ClientFlags,
    /// `(key, value)` pairs for keys of [`KEYS`], as the environment would give them.
    pub values: Vec<(&'static str, String)>,
}

/// The inputs of [`resolve`]: the environment as data, and how to read a file.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub env: Vec<(String, String)>,
    /// The config file's text, if one was named.
    pub file: Option<(PathBuf, String)>,
    /// The callback key file's bytes, if one was named or the default exists.
    pub key_file: Option<(PathBuf, Vec<u8>)>,
}

/// The resolved config with the gateway settings it was made from, for `--print-config`.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub config: Config,
}

impl Resolved {
    /// Reads the real environment and files, then [`resolve`]s.
    pub fn load(flags: &Flags) -> Result<Resolved, Error> {
        let env = process_env();
        let get = |name: &str| env_value(&env, name).map(str::to_owned);
        let mut sources = Sources {
            env: env.clone(),
            ..Sources::default()
        };
        if let Some(path) = flags
            .config
            .clone()
            .or_else(|| get(CONFIG_ENV).map(PathBuf::from))
        {
            let text = std::fs::read_to_string(&path).map_err(|e| Error::ConfigFile {
                path: path.clone(),
                problem: e.to_string(),
            })?;
            sources.file = Some((path, text));
        }
        let key_file = key_file_setting(flags, &sources)?.or_else(|| {
            let default = PathBuf::from(DEFAULT_CALLBACK_KEY_FILE);
            default.exists().then_some(default)
        });
        if get(CALLBACK_KEY_ENV).is_none() {
            if let Some(path) = key_file {
                let bytes = std::fs::read(&path).map_err(|e| Error::CallbackKeyFile {
                    path: path.clone(),
                    problem: e.to_string(),
                })?;
                sources.key_file = Some((path, bytes));
            }
        }
        Ok(Resolved {
            config: resolve(flags, &sources)?,
        })
    }
}

/// Every variable this daemon reads, with its value: `APSIS_WORKER_*`, the callback key's and the gateway's.
pub fn process_env() -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(n, _)| {
            n.starts_with("APSIS_WORKER_")
                || n == CALLBACK_KEY_ENV
                || n == CALLBACK_KEY_FILE_ENV
                || n == STDIN_LIFELINE_ENV
        })
        .collect();
    env.extend(
        apsis_client::env::process_env()
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v)),
    );
    env
}

/// The environment name of a key.
pub fn env_name(key: &str) -> String {
    format!("APSIS_WORKER_{}", key.to_ascii_uppercase())
}

fn key_file_setting(flags: &Flags, sources: &Sources) -> Result<Option<PathBuf>, Error> {
    let layered = layer(flags, sources, "callback_key_file")?;
    Ok(layered
        .map(|(v, _)| PathBuf::from(v))
        .or_else(|| env_value(&sources.env, CALLBACK_KEY_FILE_ENV).map(PathBuf::from)))
}

fn env_value<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter()
        .find(|(n, v)| n == name && !v.trim().is_empty())
        .map(|(_, v)| v.as_str())
}

/// The value of a top-level key from flags, then the environment, then the file (as text); with its origin.
fn layer(flags: &Flags, sources: &Sources, key: &str) -> Result<Option<(String, String)>, Error> {
    if let Some((_, v)) = flags.values.iter().find(|(k, _)| *k == key) {
        return Ok(Some((v.clone(), format!("--{}", key.replace('_', "-")))));
    }
    let name = env_name(key);
    if let Some(v) = env_value(&sources.env, &name) {
        return Ok(Some((v.to_owned(), name)));
    }
    let Some((path, text)) = &sources.file else {
        return Ok(None);
    };
    let table: toml::Table = toml::from_str(text).map_err(|e| Error::ConfigFile {
        path: path.clone(),
        problem: e.to_string(),
    })?;
    Ok(table.get(key).map(|v| {
        let text = match v {
            toml::Value::String(s) => s.clone(),
            toml::Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        (text, format!("{} key '{key}'", path.display()))
    }))
}

/// The configuration `flags` and `sources` give, on top of the defaults.
pub fn resolve(flags: &Flags, sources: &Sources) -> Result<Config, Error> {
    let file: File = match &sources.file {
        Some((path, text)) => toml::from_str(text).map_err(|e| Error::ConfigFile {
            path: path.clone(),
            problem: e.to_string(),
        })?,
        None => File::default(),
    };
    let text = |key: &str, default: &str| -> Result<String, Error> {
        Ok(layer(flags, sources, key)?.map_or_else(|| default.to_owned(), |(v, _)| v))
    };
    let number = |key: &str, default: u64| -> Result<u64, Error> {
        match layer(flags, sources, key)? {
            None => Ok(default),
            Some((v, origin)) => {
                v.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(Error::Setting {
                        key: key.to_owned(),
                        origin,
                        expected: "a positive whole number",
                        found: v,
                    })
            }
        }
    };
    let url = |key: &str, default: &str| -> Result<String, Error> {
        let value = text(key, default)?;
        match reqwest::Url::parse(&value) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {
                Ok(value.trim_end_matches('/').to_owned())
            }
            _ => Err(Error::Setting {
                key: key.to_owned(),
                origin: origin_of(flags, sources, key),
                expected: "an http:// or https:// URL",
                found: value,
            }),
        }
    };

    let gateway = gateway_options(flags, sources, file.gateway.unwrap_or_default())?;
    let job_types: Vec<String> = text("job_types", "faas")?
        .split(',')
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    if job_types.is_empty() {
        return Err(Error::Setting {
            key: "job_types".into(),
            origin: origin_of(flags, sources, "job_types"),
            expected: "at least one job type",
            found: String::new(),
        });
    }
    let openfaas_url = url("openfaas_url", "http://127.0.0.1:8080")?;
    let callback_default = format!("{openfaas_url}/function/callback-ack");
    let (callback_key, callback_key_origin) = callback_key(sources)?;
    let log_format = text("log_format", "json")?;
    if !matches!(log_format.as_str(), "json" | "text") {
        return Err(Error::Setting {
            key: "log_format".into(),
            origin: origin_of(flags, sources, "log_format"),
            expected: "json or text",
            found: log_format,
        });
    }
    let kubernetes = kubernetes::resolve(
        file.kubernetes,
        &sources.env,
        sources.file.as_ref().map(|(p, _)| p.as_path()),
    )?;
    let retry = file.retry.unwrap_or_default();
    let defaults = Policy::default();
    let policy = Policy {
        invoke_attempts: retry.attempts.unwrap_or(defaults.invoke_attempts).max(1),
        invoke_initial_backoff: retry
            .initial_backoff_ms
            .map_or(defaults.invoke_initial_backoff, Duration::from_millis),
        invoke_max_backoff: retry
            .max_backoff_ms
            .map_or(defaults.invoke_max_backoff, Duration::from_millis),
        job_retry_backoff: retry
            .job_retry_backoff_ms
            .map_or(defaults.job_retry_backoff, Duration::from_millis),
        min_message_ttl: defaults.min_message_ttl,
    };
    Ok(Config {
        gateway,
        job_types,
        worker_name: text("worker_name", "apsis-worker-faas")?,
        max_jobs_in_flight: number("max_jobs_in_flight", 32)? as usize,
        activation_timeout: Duration::from_millis(number("activation_timeout_ms", 300_000)?),
        poll_request_timeout: Duration::from_millis(number("poll_request_timeout_ms", 10_000)?),
        local_url: url("local_url", "http://127.0.0.1:8080")?,
        callback_url: url("callback_url", &callback_default)?,
        openfaas_url,
        callback_key,
        callback_key_origin,
        policy,
        listen_address: text("listen_address", "127.0.0.1:9601")?,
        shutdown_grace: Duration::from_millis(number("shutdown_grace_ms", 30_000)?),
        log_level: text("log_level", "info")?,
        log_format,
        kubernetes,
        stdin_lifeline: env_value(&sources.env, STDIN_LIFELINE_ENV) == Some("1"),
    })
}

fn origin_of(flags: &Flags, sources: &Sources, key: &str) -> String {
    layer(flags, sources, key)
        .ok()
        .flatten()
        .map_or_else(|| "the default".to_owned(), |(_, o)| o)
}

fn callback_key(sources: &Sources) -> Result<(CallbackKey, String), Error> {
    let (bytes, origin) = match (env_value(&sources.env, CALLBACK_KEY_ENV), &sources.key_file) {
        (Some(v), _) => (v.as_bytes().to_vec(), CALLBACK_KEY_ENV.to_owned()),
        (None, Some((path, bytes))) => {
            let mut bytes = bytes.clone();
            while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                bytes.pop();
            }
            (bytes, path.display().to_string())
        }
        (None, None) => return Err(Error::NoCallbackKey),
    };
    let key = CallbackKey::new(bytes).map_err(|e| Error::CallbackKey {
        origin: origin.clone(),
        source: Box::new(e),
    })?;
    Ok((key, origin))
}

/// The file's gateway options, overlaid setting by setting with what flags or the environment give.
fn gateway_options(
    flags: &Flags,
    sources: &Sources,
    file: ClientOptions,
) -> Result<ClientOptions, Error> {
    let env: Vec<(&str, String)> = sources
        .env
        .iter()
        .filter_map(|(n, v)| {
            let known = VARIABLES.iter().find(|(_, name)| name == n)?;
            Some((known.1, v.clone()))
        })
        .collect();
    let given = |setting: Setting| {
        VARIABLES.iter().any(|(s, name)| {
            *s == setting && env.iter().any(|(n, v)| n == name && !v.trim().is_empty())
        })
    };
    let from_env = apsis_client::env::resolve(&flags.gateway, &env).map_err(Error::Gateway)?;
    let f = &flags.gateway;
    let mut options = file;
    if f.address.is_some() || given(Setting::Address) {
        options.address = from_env.address.clone();
    }
    if from_env.tls.is_some() {
        options.tls = from_env.tls;
    }
    if from_env.ca_certificate.is_some() {
        options.ca_certificate = from_env.ca_certificate.clone();
    }
    if from_env.auth != Auth::None {
        options.auth = from_env.auth.clone();
    }
    options.target().map_err(Error::Gateway)?;
    Ok(options)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
