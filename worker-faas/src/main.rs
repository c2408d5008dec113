//! `apsis-worker-faas`: resolves the config, installs JSON logging and the Prometheus exporter, serves `/health`,
//! `/ready` and `/metrics`, runs the job loop, and on SIGINT/SIGTERM shuts down gracefully (stop activating, let
//! invocations in progress finish within `shutdown_grace_ms`); with `APSIS_STDIN_LIFELINE=1` stdin reaching EOF does
//! the same (the parent that started it, `apsis dev`, is gone). Exit codes: 0 after a shutdown, 2 when it could not
//! start (bad config, unusable gateway settings, address in use), 130/143 on a second signal.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use apsis_client::env::Flags as ClientFlags;
use apsis_client::Secret;
use apsis_worker_faas::config::{Config, Flags, Resolved};
use apsis_worker_faas::monitor::Monitor;
use apsis_worker_faas::worker::{Options, Service};
use apsis_worker_faas::{metrics, Error};
use clap::Parser;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use tokio::signal::unix::{signal, SignalKind};
use tracing::info;

const EXIT_STARTUP: u8 = 2;

/// The FaaS worker: runs `faas` service tasks as OpenFaaS functions (see docs/worker-faas.md).
/// Precedence: defaults < TOML file < environment (APSIS_WORKER_*, ZEEBE_*, APSIS_CALLBACK_KEY) < flags.
#[derive(Debug, Parser)]
#[command(name = "apsis-worker-faas", version)]
struct Args {
    /// TOML config file (default: $APSIS_WORKER_CONFIG).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Zeebe gateway address [gateway.address, ZEEBE_ADDRESS; default http://127.0.0.1:26500].
    #[arg(long, value_name = "URL")]
    address: Option<String>,
    /// Bearer token for the gateway [APSIS_TOKEN, CAMUNDA_OAUTH_TOKEN].
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// OAuth client id [ZEEBE_CLIENT_ID]; the secret comes from ZEEBE_CLIENT_SECRET or the file.
    #[arg(long)]
    client_id: Option<String>,
    /// Job types to serve, comma-separated [job_types; default faas].
    #[arg(long, value_name = "TYPES")]
    job_types: Option<String>,
    /// Worker name sent with activations [worker_name].
    #[arg(long)]
    worker_name: Option<String>,
    /// Jobs worked on at once [max_jobs_in_flight; default 32].
    #[arg(long, value_name = "N")]
    max_jobs_in_flight: Option<String>,
    /// OpenFaaS gateway [openfaas_url; default http://127.0.0.1:8080].
    #[arg(long, value_name = "URL")]
    openfaas_url: Option<String>,
    /// Local runtime [local_url; default http://127.0.0.1:8080].
    #[arg(long, value_name = "URL")]
    local_url: Option<String>,
    /// callback-ack URL [callback_url; default {openfaas_url}/function/callback-ack].
    #[arg(long, value_name = "URL")]
    callback_url: Option<String>,
    /// /health, /ready, /metrics address [listen_address; default 127.0.0.1:9601].
    #[arg(long, value_name = "HOST:PORT")]
    listen_address: Option<String>,
    /// Print the resolved configuration as TOML (secrets masked) and exit.
    #[arg(long)]
    print_config: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut values = Vec::new();
    for (key, value) in [
        ("job_types", args.job_types),
        ("worker_name", args.worker_name),
        ("max_jobs_in_flight", args.max_jobs_in_flight),
        ("openfaas_url", args.openfaas_url),
        ("local_url", args.local_url),
        ("callback_url", args.callback_url),
        ("listen_address", args.listen_address),
    ] {
        if let Some(v) = value {
            values.push((key, v));
        }
    }
    let flags = Flags {
        config: args.config,
        gateway: ClientFlags {
            address: args.address,
            token: args.token.map(Secret::new),
            client_id: args.client_id,
            ..ClientFlags::default()
        },
        values,
    };
    let config = match Resolved::load(&flags) {
        Ok(r) => r.config,
        Err(e) => return report(&e),
    };
    if args.print_config {
        print!("{}", config.to_toml());
        return ExitCode::SUCCESS;
    }
    init_tracing(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("apsis-worker-faas: Expected to start the async runtime, but {e}");
            return ExitCode::from(EXIT_STARTUP);
        }
    };
    runtime.block_on(run(config))
}

async fn run(config: Config) -> ExitCode {
    let render = match install_exporter() {
        Ok(render) => render,
        Err(e) => {
            eprintln!("apsis-worker-faas: Expected to install the metrics exporter, but {e}");
            return ExitCode::from(EXIT_STARTUP);
        }
    };
    let ready = Arc::new(AtomicBool::new(false));
    let monitor = match Monitor::start(&config.listen_address, ready.clone(), Some(render)).await {
        Ok(m) => m,
        Err(e) => return report(&e),
    };
    let options = match Options::from_config(&config) {
        Ok(o) => o,
        Err(e) => return report(&e),
    };
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        eprintln!("apsis-worker-faas: Expected to install signal handlers, but could not");
        return ExitCode::from(EXIT_STARTUP);
    };
    info!(listen_address = %monitor.address, gateway = %config.gateway.address, "apsis-worker-faas starting");
    let lifeline = stdin_closed(config.stdin_lifeline);
    tokio::pin!(lifeline);
    let handle = tokio::select! {
        started = Service::start(options, ready) => match started {
            Ok(h) => h,
            Err(e) => return report(&e),
        },
        _ = term.recv() => return ExitCode::SUCCESS,
        _ = int.recv() => return ExitCode::SUCCESS,
        () = &mut lifeline => return ExitCode::SUCCESS,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
        () = &mut lifeline => info!("stdin closed: the parent process is gone"),
    }
    info!(grace = ?config.shutdown_grace, "signal received; shutting down");
    tokio::select! {
        _ = handle.shutdown(config.shutdown_grace) => {}
        _ = term.recv() => return ExitCode::from(128 + 15),
        _ = int.recv() => return ExitCode::from(128 + 2),
    }
    monitor.stop().await;
    ExitCode::SUCCESS
}

/// Resolves when stdin reaches EOF, if `enabled`; never otherwise. A thread blocks on the read: tokio's stdin
/// would keep the runtime from shutting down while it waits.
async fn stdin_closed(enabled: bool) {
    if !enabled {
        return std::future::pending().await;
    }
    let (closed, eof) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        let _ = closed.send(());
    });
    let _ = eof.await;
}

fn report(e: &Error) -> ExitCode {
    eprintln!("apsis-worker-faas: {e}");
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        eprintln!("  because: {c}");
        cause = c.source();
    }
    ExitCode::from(EXIT_STARTUP)
}

fn init_tracing(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::builder().parse_lossy(&config.log_level);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(config.log_format == "text" && std::io::stderr().is_terminal());
    if config.log_format == "json" {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.init();
    }
}

fn install_exporter() -> Result<apsis_worker_faas::monitor::RenderFn, String> {
    let mut builder = PrometheusBuilder::new();
    for (name, buckets) in metrics::HISTOGRAM_BUCKETS {
        builder = builder
            .set_buckets_for_metric(Matcher::Full((*name).to_owned()), buckets)
            .map_err(|e| e.to_string())?;
    }
    let handle = builder.install_recorder().map_err(|e| e.to_string())?;
    metrics::describe();
    Ok(Arc::new(move || handle.render()))
}
