//! `apsis-faas-local`: the local function runtime's binary. Reads its configuration (`config` module), logs JSON
//! lines (each with `function` and `call_id`), serves `/metrics` through the Prometheus recorder it installs, and on
//! SIGINT or SIGTERM shuts down as `Handle::shutdown` describes; a second signal stops it at once. With
//! `--stdin-lifeline` (`APSIS_STDIN_LIFELINE=1`) stdin reaching EOF shuts it down the same way.
//!
//! Exit codes: 0 stopped on a signal, 1 the server failed while running, 2 bad configuration or could not start,
//! 130/143 a second SIGINT/SIGTERM during shutdown.

use std::process::ExitCode;

use apsis_faas_local::config::Flags;
use apsis_faas_local::{metrics, MetricsRender, Service};
use clap::Parser;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use tokio::signal::unix::{signal, SignalKind};

fn main() -> ExitCode {
    let flags = Flags::parse();
    let options = match flags.options() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if flags.print_config {
        print!("{}", flags.describe(&options));
        return ExitCode::SUCCESS;
    }
    let filter = match tracing_subscriber::EnvFilter::try_new(&flags.log_level) {
        Ok(filter) => filter,
        Err(e) => {
            eprintln!("Expected --log-level to be a tracing filter such as info, but {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("Expected to start the async runtime, but {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(run(options, flags.stdin_lifeline))
}

async fn run(mut options: apsis_faas_local::Options, stdin_lifeline: bool) -> ExitCode {
    match install_recorder() {
        Ok(render) => options.metrics = Some(render),
        Err(e) => {
            eprintln!("Expected to install the Prometheus recorder, but {e}");
            return ExitCode::from(2);
        }
    }
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        eprintln!("Expected to listen for SIGINT and SIGTERM, but could not");
        return ExitCode::from(2);
    };
    let handle = match Service::start(options).await {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
        () = stdin_closed(stdin_lifeline) => {}
    }
    tokio::select! {
        result = handle.shutdown() => match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(1)
            }
        },
        _ = interrupt.recv() => ExitCode::from(130),
        _ = terminate.recv() => ExitCode::from(143),
    }
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

fn install_recorder() -> Result<MetricsRender, metrics_exporter_prometheus::BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(metrics::INVOCATION_SECONDS.to_string()),
            metrics::INVOCATION_BUCKETS,
        )?
        .install_recorder()?;
    metrics::describe();
    Ok(MetricsRender::new(move || handle.render()))
}
