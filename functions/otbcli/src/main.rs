//! `otbcli-function`: resolves the configuration (exit 2 with a sentence when it cannot start), installs JSON-line
//! logging and the Prometheus exporter, serves runs, and on SIGTERM/SIGINT stops accepting and lets the runs in
//! progress answer. With `APSIS_STDIN_LIFELINE=1` (the local runtime) it exits when stdin reaches EOF.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use apsis_otbcli::config::{self, Flags};
use apsis_otbcli::{metrics, Options, RenderFn, Service};
use clap::Parser;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use tokio::signal::unix::{signal, SignalKind};

const EXIT_FAILED: u8 = 1;
const EXIT_STARTUP: u8 = 2;

/// The OTB function of Apsis: runs one otbcli_<App> per POST {"argv": [...]}. Settings: defaults < APSIS_* < flags.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on [APSIS_LISTEN; default 127.0.0.1:8082, the watchdog's upstream_url].
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
        Err(e) => {
            eprintln!("otbcli-function: {e}");
            return ExitCode::from(EXIT_STARTUP);
        }
    };
    if args.print_config {
        print!("{}", options.to_display());
        return ExitCode::SUCCESS;
    }
    if options.stdin_lifeline {
        // The local runtime holds our stdin open and never writes: EOF means it is gone, however it went.
        // A running application is in a process group of its own, which does not die with us: kill it first.
        std::thread::spawn(|| {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            apsis_otbcli::kill_all_runs();
            std::process::exit(0);
        });
    }
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, e)) => {
            tracing::error!("{e:#}");
            eprintln!("otbcli-function: {e:#}");
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
        tracing::info!("Shutting down: no new runs, answering those in progress");
        handle.shutdown().await.map_err(|e| (EXIT_FAILED, e.into()))
    })
}
