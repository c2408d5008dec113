//! `apsis-callback-ack`: resolves the configuration (exit 2 with a sentence when it cannot start), then runs as every
//! Apsis function does (`apsis_function_kit::Program`: JSON-line logs, the Prometheus exporter, the stdin lifeline
//! when `APSIS_STDIN_LIFELINE` is set); on SIGTERM/SIGINT it stops accepting and finishes the callbacks in progress
//! (bounded by `SHUTDOWN_GRACE`) before exiting.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use apsis_callback_ack::config::{self, Flags, DEFAULT_KEY_FILE};
use apsis_callback_ack::{metrics, Options, Service};
use apsis_function_kit::Program;
use clap::Parser;

const NAME: &str = "apsis-callback-ack";

/// The OpenFaaS callback function of Apsis. Settings: defaults < APSIS_* and Zeebe client environment < flags.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on [APSIS_LISTEN, else of-watchdog's upstream_url; default 127.0.0.1:8082].
    #[arg(long, value_name = "IP:PORT")]
    listen: Option<String>,
    /// File holding the callback signing key [APSIS_CALLBACK_KEY_FILE, or the key itself in APSIS_CALLBACK_KEY;
    /// default /var/openfaas/secrets/apsis-callback-key when it exists].
    #[arg(long, value_name = "FILE")]
    callback_key_file: Option<PathBuf>,
    /// Zeebe gateway address [APSIS_ADDRESS, ZEEBE_ADDRESS, ...; default 127.0.0.1:26500].
    #[arg(long, value_name = "ADDRESS")]
    address: Option<String>,
    /// Print the resolved configuration (secrets masked) and exit.
    #[arg(long)]
    print_config: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let flags = Flags {
        listen: args.listen,
        callback_key_file: args.callback_key_file,
        address: args.address,
    };
    let env = config::process_env();
    let options = match Options::resolve(&flags, &env, Path::new(DEFAULT_KEY_FILE)) {
        Ok(options) => options,
        Err(e) => return Program::refuse_to_start(NAME, &e),
    };
    if args.print_config {
        print!("{}", options.to_display());
        return ExitCode::SUCCESS;
    }
    let program = Program {
        metrics: Some(metrics::HISTOGRAM_BUCKETS),
        ..Program::new(NAME, options.common.clone())
    };
    program.run(|render| Service::start(options, render))
}
