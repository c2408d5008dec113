//! `otbcli-function`: resolves the configuration (exit 2 with a sentence when it cannot start), then runs as every
//! Apsis function does (`apsis_function_kit::Program`: JSON-line logs, the Prometheus exporter, on SIGTERM/SIGINT
//! stop accepting and let the runs in progress answer). With `APSIS_STDIN_LIFELINE=1` (the local runtime) it exits
//! when stdin reaches EOF, killing the runs in progress first: each is a process group of its own, which does not
//! die with us.

use std::path::PathBuf;
use std::process::ExitCode;

use apsis_function_kit::Program;
use apsis_otbcli::config::{self, Flags};
use apsis_otbcli::{metrics, Options, Service};
use clap::Parser;

const NAME: &str = "otbcli-function";

/// The OTB function of Apsis: runs one otbcli_<App> per POST {"argv": [...]}. Settings: defaults < APSIS_* < flags.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on [APSIS_LISTEN, else of-watchdog's upstream_url; default 127.0.0.1:8082].
    #[arg(long, value_name = "IP:PORT")]
    listen: Option<String>,
    /// Colon-separated absolute directories every file argument must be inside [APSIS_DATA_ROOTS; required].
    #[arg(long, value_name = "DIR:DIR")]
    data_roots: Option<String>,
    /// Where otbcli_<App> launchers are [APSIS_OTB_BIN_DIR; default /usr/bin].
    #[arg(long, value_name = "DIR")]
    otb_bin_dir: Option<PathBuf>,
    /// Print the resolved configuration and exit.
    #[arg(long)]
    print_config: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let flags = Flags {
        listen: args.listen,
        data_roots: args.data_roots,
        otb_bin_dir: args.otb_bin_dir,
    };
    let options = match Options::resolve(&flags, &config::process_env()) {
        Ok(options) => options,
        Err(e) => return Program::refuse_to_start(NAME, &e),
    };
    if args.print_config {
        print!("{}", options.to_display());
        return ExitCode::SUCCESS;
    }
    let program = Program {
        before_exit: apsis_otbcli::kill_all_runs,
        metrics: Some(metrics::HISTOGRAM_BUCKETS),
        ..Program::new(NAME, options.common.clone())
    };
    program.run(|render| Service::start(options, render))
}
