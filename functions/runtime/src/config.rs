//! The configuration of the `apsis-faas-local` binary: defaults < `APSIS_*` environment < flags, all in this one
//! module (through clap: the only code that reads the process environment). `--print-config` shows the result.
//!
//! | flag               | environment                  | default          |
//! |--------------------|------------------------------|------------------|
//! | `--functions`      | `APSIS_FAAS_FUNCTIONS`       | required         |
//! | `--address`        | `APSIS_FAAS_ADDRESS`         | `127.0.0.1:8080` |
//! | `--namespace`      | `APSIS_FAAS_NAMESPACE`       | `openfaas-fn`    |
//! | `--max-async-body` | `APSIS_FAAS_MAX_ASYNC_BODY`  | `256000`         |
//! | `--max-sync-body`  | `APSIS_FAAS_MAX_SYNC_BODY`   | `67108864`       |
//! | `--shutdown-grace` | `APSIS_FAAS_SHUTDOWN_GRACE`  | `30s`            |
//! | `--log-level`      | `APSIS_LOG_LEVEL`            | `info`           |

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::duration::parse_go_duration;
use crate::{
    definitions, Error, Options, DEFAULT_MAX_ASYNC_BODY, DEFAULT_MAX_SYNC_BODY, DEFAULT_NAMESPACE,
};

/// The binary's flags (each also read from its `APSIS_*` variable).
#[derive(Debug, Clone, Parser)]
#[command(
    name = "apsis-faas-local",
    version,
    about = "The local function runtime: the OpenFaaS gateway contract on loopback, functions run as local processes"
)]
pub struct Flags {
    /// The function definitions: a faas-cli stack.yml with x-apsis-local blocks.
    #[arg(long, env = "APSIS_FAAS_FUNCTIONS", value_name = "FILE")]
    pub functions: PathBuf,
    /// Where the gateway listens.
    #[arg(long, env = "APSIS_FAAS_ADDRESS", default_value = "127.0.0.1:8080")]
    pub address: SocketAddr,
    /// The namespace accepted in `name.namespace`.
    #[arg(long, env = "APSIS_FAAS_NAMESPACE", default_value = DEFAULT_NAMESPACE)]
    pub namespace: String,
    /// Largest asynchronous request body, in bytes (larger: 500, as OpenFaaS CE).
    #[arg(long, env = "APSIS_FAAS_MAX_ASYNC_BODY", default_value_t = DEFAULT_MAX_ASYNC_BODY)]
    pub max_async_body: usize,
    /// Largest synchronous request body, in bytes (larger: 413).
    #[arg(long, env = "APSIS_FAAS_MAX_SYNC_BODY", default_value_t = DEFAULT_MAX_SYNC_BODY)]
    pub max_sync_body: usize,
    /// How long running calls may take to finish once shutdown starts (Go duration).
    #[arg(long, env = "APSIS_FAAS_SHUTDOWN_GRACE", default_value = "30s", value_parser = grace)]
    pub shutdown_grace: Duration,
    /// Log filter (tracing's EnvFilter syntax: `info`, `apsis_faas_local=debug`).
    #[arg(long, env = "APSIS_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Stop (as on SIGTERM) when stdin reaches EOF: the parent that holds it (`apsis dev`) is gone, however it went.
    #[arg(long, env = "APSIS_STDIN_LIFELINE", value_parser = clap::builder::FalseyValueParser::new())]
    pub stdin_lifeline: bool,
    /// Print the resolved configuration and the functions, then exit.
    #[arg(long)]
    pub print_config: bool,
}

fn grace(text: &str) -> Result<Duration, String> {
    parse_go_duration(text)
        .ok_or_else(|| format!("Expected a Go duration such as 30s or 1m, but found '{text}'"))
}

impl Flags {
    /// The runtime's options: the flags plus the functions read from `--functions`.
    pub fn options(&self) -> Result<Options, Error> {
        let functions = definitions::load(&self.functions)?;
        let mut options = Options::new(self.address, functions);
        options.namespace = self.namespace.clone();
        options.max_async_body = self.max_async_body;
        options.max_sync_body = self.max_sync_body;
        options.shutdown_grace = self.shutdown_grace;
        Ok(options)
    }

    /// What `--print-config` prints: the settings, then one line per function.
    pub fn describe(&self, options: &Options) -> String {
        let mut out = format!(
            "functions = {:?}\naddress = \"{}\"\nnamespace = \"{}\"\nmax_async_body = {}\nmax_sync_body = {}\n\
             shutdown_grace = \"{:?}\"\nlog_level = \"{}\"\n",
            self.functions, self.address, self.namespace, self.max_async_body, self.max_sync_body,
            self.shutdown_grace, self.log_level,
        );
        for f in &options.functions {
            out.push_str(&format!(
                "function {} = {{ argv = {:?}, max_inflight = {}, exec_timeout = {}, start_timeout = \"{:?}\" }}\n",
                f.name,
                f.argv,
                f.max_inflight.map_or("none".to_string(), |n| n.to_string()),
                f.exec_timeout.map_or("\"none\"".to_string(), |t| format!("\"{t:?}\"")),
                f.start_timeout,
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_defaults() {
        let flags = Flags::try_parse_from([
            "apsis-faas-local",
            "--functions",
            "f.yml",
            "--address",
            "127.0.0.1:9999",
            "--shutdown-grace",
            "1m30s",
        ])
        .unwrap();
        assert_eq!(flags.address, "127.0.0.1:9999".parse().unwrap());
        assert_eq!(flags.shutdown_grace, Duration::from_secs(90));
        assert_eq!(flags.max_async_body, 256_000);
        assert_eq!(flags.namespace, "openfaas-fn");
    }

    #[test]
    fn bad_values_are_refused_naming_them() {
        let e = Flags::try_parse_from(["x", "--functions", "f", "--shutdown-grace", "soon"])
            .unwrap_err();
        assert!(e.to_string().contains("'soon'"), "{e}");
        assert!(
            Flags::try_parse_from(["x", "--functions", "f", "--address", "localhost"]).is_err()
        );
    }
}
