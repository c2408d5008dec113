//! The configuration of callback-ack, resolved in layers: built-in defaults < environment (`APSIS_*`, and for the
//! Zeebe connection the variables every Zeebe client reads, through `apsis_client::env`) < command-line flags.
//!
//! There is no TOML file layer, unlike the engine's and the worker's: a function is deployed by `stack.yml`, whose
//! `environment` and `secrets` are the configuration surface OpenFaaS gives it, and the local runtime starts it with
//! environment variables too. A file would be a third place to look for the same few settings.
//!
//! This module is the only code that reads the process environment ([`process_env`]) or the key file; everything
//! else takes [`Options`]. Each error names the variable or flag a bad value came from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use apsis_client::env::Flags as ZeebeFlags;
use apsis_client::{Auth, ClientOptions};
use apsis_function_kit::settings::{flag, number};
use apsis_function_kit::Common;
use apsis_worker_faas::callback::OUTPUT_LIMIT;
use apsis_worker_faas::token::CallbackKey;

use crate::Error;

/// Where OpenFaaS mounts the secret `apsis-callback-key` (`secrets: [apsis-callback-key]` in stack.yml).
pub const DEFAULT_KEY_FILE: &str = "/var/openfaas/secrets/apsis-callback-key";
/// The largest `max_output_bytes`: a published variable must fit well within a gateway message (4 MiB in Zeebe).
pub const MAX_OUTPUT_BYTES_CAP: usize = 1024 * 1024;

/// Every `APSIS_*` variable this module reads besides the ones every function reads
/// (`apsis_function_kit::settings`); the Zeebe connection's are `apsis_client::env::VARIABLES`.
pub const VARIABLES: &[&str] = &[
    "APSIS_CALLBACK_KEY",
    "APSIS_CALLBACK_KEY_FILE",
    "APSIS_MAX_OUTPUT_BYTES",
    "APSIS_GATEWAY_RETRY_SECONDS",
    "APSIS_JOB_RETRY_BACKOFF_MS",
    "APSIS_ACT_BEFORE_ANSWER",
];

/// Everything callback-ack needs to run. `Debug` shows the key's public id only.
#[derive(Debug, Clone)]
pub struct Options {
    /// The listen address, the stdin lifeline and the log filter.
    pub common: Common,
    pub key: CallbackKey,
    /// Where the key came from, for `--print-config` and messages.
    pub key_origin: String,
    pub zeebe: ClientOptions,
    /// Bytes of a function's answer kept as the `output` variable (the rest is cut, `outputTruncated: true`).
    pub max_output_bytes: usize,
    /// How long a gateway call is retried on UNAVAILABLE / RESOURCE_EXHAUSTED / a lost connection before the
    /// callback is given up (and the deadline of the call catches it).
    pub gateway_retry_for: Duration,
    /// The backoff of a hold-mode job failed with retries left.
    pub job_retry_backoff: Duration,
    /// Answer a callback only once the gateway has acknowledged its effect (see the crate documentation).
    pub act_before_answer: bool,
}

/// Settings given as flags; each wins over the environment.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub listen: Option<String>,
    pub callback_key_file: Option<PathBuf>,
    /// The Zeebe gateway address (`--address`), over `ZEEBE_ADDRESS` and friends.
    pub address: Option<String>,
}

/// The variables of [`VARIABLES`] and the Zeebe client's that are set. The only read of the environment.
pub fn process_env() -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = apsis_client::env::process_env()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    env.extend(apsis_function_kit::settings::read_env(
        VARIABLES.iter().copied(),
    ));
    env
}

impl Options {
    /// The options `flags` and `env` give; `default_key_file` is [`DEFAULT_KEY_FILE`] outside tests.
    pub fn resolve(
        flags: &Flags,
        env: &BTreeMap<String, String>,
        default_key_file: &Path,
    ) -> Result<Options, Error> {
        let common = Common::resolve(flags.listen.as_deref(), env)?;

        let (key, key_origin) = read_key(flags, env, default_key_file)?;

        let zeebe_env: Vec<(&str, String)> = apsis_client::env::VARIABLES
            .iter()
            .filter_map(|(_, name)| Some((*name, env.get(*name)?.clone())))
            .collect();
        let zeebe_flags = ZeebeFlags {
            address: flags.address.clone(),
            ..ZeebeFlags::default()
        };
        let zeebe = apsis_client::env::resolve(&zeebe_flags, &zeebe_env).map_err(Error::Zeebe)?;

        let number = |name: &'static str, default: u64, expected: &'static str| {
            number(env, name, default, 0..=u64::MAX, expected)
        };
        let max_output_bytes = apsis_function_kit::settings::number(
            env,
            "APSIS_MAX_OUTPUT_BYTES",
            OUTPUT_LIMIT as u64,
            1..=MAX_OUTPUT_BYTES_CAP as u64,
            "a whole number of bytes between 1 and 1048576",
        )?;
        let gateway_retry_for = Duration::from_secs(number(
            "APSIS_GATEWAY_RETRY_SECONDS",
            300,
            "a whole number of seconds",
        )?);
        let job_retry_backoff = Duration::from_millis(number(
            "APSIS_JOB_RETRY_BACKOFF_MS",
            30_000,
            "a whole number of milliseconds",
        )?);
        let act_before_answer = flag(env, "APSIS_ACT_BEFORE_ANSWER")?;
        Ok(Options {
            common,
            key,
            key_origin,
            zeebe,
            max_output_bytes: max_output_bytes as usize,
            gateway_retry_for,
            job_retry_backoff,
            act_before_answer,
        })
    }

    /// The resolved configuration as TOML-like lines, secrets masked.
    pub fn to_display(&self) -> String {
        let auth = match &self.zeebe.auth {
            Auth::None => "none".to_owned(),
            Auth::StaticToken { .. } => "static-token (token ***)".to_owned(),
            Auth::OAuth(o) => format!(
                "oauth (client id {}, secret ***, token url {})",
                o.client_id, o.authorization_server_url
            ),
        };
        let tls = match self.zeebe.target() {
            Ok(t) => t.tls.to_string(),
            Err(_) => "?".to_owned(),
        };
        format!(
            "{}\
             callback_key = \"***\"  # key id {}, from {}\n\
             max_output_bytes = {}\n\
             gateway_retry_seconds = {}\n\
             job_retry_backoff_ms = {}\n\
             act_before_answer = {}\n\
             [zeebe]\n\
             address = \"{}\"\n\
             tls = {tls}\n\
             auth = \"{auth}\"\n",
            self.common.to_display(),
            self.key.id(),
            self.key_origin,
            self.max_output_bytes,
            self.gateway_retry_for.as_secs(),
            self.job_retry_backoff.as_millis(),
            self.act_before_answer,
            self.zeebe.address,
        )
    }
}

/// The key: `APSIS_CALLBACK_KEY` (the value), else the file of `--callback-key-file` / `APSIS_CALLBACK_KEY_FILE`,
/// else the OpenFaaS secret file when it exists. A file's trailing line break (`echo key > file`) is not part of
/// the key; the worker reads its key file the same way.
fn read_key(
    flags: &Flags,
    env: &BTreeMap<String, String>,
    default_key_file: &Path,
) -> Result<(CallbackKey, String), Error> {
    let file_flag = flags
        .callback_key_file
        .clone()
        .map(|p| (p, "--callback-key-file".to_owned()));
    let file_var = env
        .get("APSIS_CALLBACK_KEY_FILE")
        .filter(|v| !v.trim().is_empty())
        .map(|v| {
            (
                PathBuf::from(v.trim()),
                "APSIS_CALLBACK_KEY_FILE".to_owned(),
            )
        });
    let value = env.get("APSIS_CALLBACK_KEY").filter(|v| !v.is_empty());
    let (secret, origin) = match (file_flag, value, file_var) {
        (Some((path, via)), _, _) | (None, None, Some((path, via))) => (
            read_key_file(&path)?,
            format!("file {} ({via})", path.display()),
        ),
        (None, Some(value), _) => (value.clone().into_bytes(), "APSIS_CALLBACK_KEY".to_owned()),
        (None, None, None) if default_key_file.exists() => (
            read_key_file(default_key_file)?,
            format!("file {} (the default)", default_key_file.display()),
        ),
        (None, None, None) => {
            return Err(Error::MissingKey {
                default_file: DEFAULT_KEY_FILE,
            })
        }
    };
    let key = CallbackKey::new(secret).map_err(|source| Error::Key {
        origin: origin.clone(),
        source,
    })?;
    Ok((key, origin))
}

fn read_key_file(path: &Path) -> Result<Vec<u8>, Error> {
    let mut bytes = std::fs::read(path).map_err(|source| Error::KeyFile {
        path: path.to_owned(),
        source,
    })?;
    while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        bytes.pop();
    }
    Ok(bytes)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
