//! `apsis-callback-ack`: resolves the configuration (exit 2 with a sentence when it cannot start), installs JSON-line
//! logging and the Prometheus exporter, serves callbacks, and on SIGTERM/SIGINT stops accepting and finishes the
//! callbacks in progress (bounded) before exiting.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use apsis_callback_ack::config::{self, Flags, DEFAULT_KEY_FILE};
use apsis_callback_ack::{metrics, Options, RenderFn, Service};
use clap::Parser;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use tokio::signal::unix::{signal, SignalKind};

const EXIT_FAILED: u8 = 1;
const EXIT_STARTUP: u8 = 2;
/// How long a shutdown waits for callbacks being acted on.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The OpenFaaS callback function of Apsis. Settings: defaults < APSIS_* and Zeebe client environment < flags.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on [APSIS_LISTEN; default 127.0.0.1:8082, the watchdog's upstream_url].
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
    let options =
        match Options::resolve(&flags, &config::process_env(), Path::new(DEFAULT_KEY_FILE)) {
            Ok(options) => options,
            Err(e) => {
                eprintln!("apsis-callback-ack: {e}");
                return ExitCode::from(EXIT_STARTUP);
            }
        };
    if args.print_config {
        print!("{}", options.to_display());
        return ExitCode::SUCCESS;
    }
    if options.stdin_lifeline {
        // The local runtime holds our stdin open and never writes: EOF means it is gone, however it went.
        std::thread::spawn(|| {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            std::process::exit(0);
        });
    }
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, e)) => {
            tracing::error!("{e:#}");
            eprintln!("apsis-callback-ack: {e:#}");
            ExitCode::from(code)
        }
    }
}

fn run(options: Options) -> Result<(), (u8, anyhow::Error)> {
    let startup = |e: anyhow::Error| (EXIT_STARTUP, e);
    let filter = tracing_subscriber::EnvFilter::try_new(&options.log_level)
        .with_context(|| {
            format!(
                "Expected APSIS_LOG_LEVEL to be a tracing filter such as 'info', but found '{}'",
                options.log_level
            )
        })
        .map_err(startup)?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .init();
    let mut builder = PrometheusBuilder::new();
    for (name, buckets) in metrics::HISTOGRAM_BUCKETS {
        builder = builder
            .set_buckets_for_metric(Matcher::Full((*name).to_owned()), buckets)
            .context("Expected to set the histogram buckets, but the exporter refused them")
            .map_err(startup)?;
    }
    let prometheus = builder
        .install_recorder()
        .context("Expected to install the Prometheus exporter, but it failed")
        .map_err(startup)?;
    let render: RenderFn = Arc::new(move || prometheus.render());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("Expected to start the async runtime, but it failed")
        .map_err(startup)?;
    runtime.block_on(async move {
        let mut term = signal(SignalKind::terminate())
            .context("Expected to install the SIGTERM handler, but it failed")
            .map_err(startup)?;
        let mut int = signal(SignalKind::interrupt())
            .context("Expected to install the SIGINT handler, but it failed")
            .map_err(startup)?;
        let handle = Service::start(options, Some(render))
            .await
            .map_err(|e| startup(e.into()))?;
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("Shutting down: no new callbacks, finishing those in progress");
        handle
            .shutdown(SHUTDOWN_GRACE)
            .await
            .map_err(|e| (EXIT_FAILED, e.into()))
    })
}
