//! `normalize-product --in_ms MS.tif --in_ortho ORTHO.tif --out OUT.tif [--output float32|uint16]`: exit 0 with a
//! JSON report on stdout, 1 with a sentence when the normalization fails, 2 on an argument error.
//! `normalize-product serve`: the HTTP function (APSIS_LISTEN, default 127.0.0.1:8082; with APSIS_STDIN_LIFELINE=1 it
//! exits when stdin reaches EOF, as the local runtime expects).

use std::process::ExitCode;

use anyhow::Context as _;
use apsis_normalize_product::{normalize, serve, Request};
use clap::Parser;

const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
/// GDAL's block cache, in MB, unless GDAL_CACHEMAX is set: GDAL's default (5 % of RAM) is what lets a block-wise
/// program grow to gigabytes on a big machine.
const DEFAULT_GDAL_CACHEMAX_MB: &str = "32";

/// The process's settings from its environment (the only place that reads it).
struct Env {
    listen: String,
    stdin_lifeline: bool,
    gdal_cachemax_set: bool,
    log_level: String,
}

impl Env {
    fn read() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Env {
            listen: var("APSIS_LISTEN").unwrap_or_else(|| serve::DEFAULT_LISTEN.to_owned()),
            stdin_lifeline: var("APSIS_STDIN_LIFELINE").as_deref() == Some("1"),
            gdal_cachemax_set: var("GDAL_CACHEMAX").is_some(),
            log_level: var("APSIS_LOG_LEVEL")
                .or_else(|| var("RUST_LOG"))
                .unwrap_or_else(|| "info".to_owned()),
        }
    }
}

fn main() -> ExitCode {
    let env = Env::read();
    if !env.gdal_cachemax_set {
        if let Err(e) = gdal::config::set_config_option("GDAL_CACHEMAX", DEFAULT_GDAL_CACHEMAX_MB) {
            eprintln!("normalize-product: Expected to set GDAL_CACHEMAX, but GDAL refused: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    }
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        if args.len() > 2 {
            eprintln!(
                "normalize-product: Expected no argument after 'serve' (settings come from APSIS_LISTEN and \
                 APSIS_STDIN_LIFELINE), but found '{}'",
                args[2]
            );
            return ExitCode::from(EXIT_USAGE);
        }
        return match run_server(env) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("normalize-product: {e:#}");
                ExitCode::from(EXIT_FAILED)
            }
        };
    }
    // clap prints the usage and exits with 2 on an argument error.
    let request = Request::parse();
    match normalize(&request) {
        Ok(report) => {
            println!("{}", serde_json::to_string(&report).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("normalize-product: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

fn run_server(env: Env) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&env.log_level).with_context(|| {
        format!(
            "Expected APSIS_LOG_LEVEL to be a tracing filter such as 'info', but found '{}'",
            env.log_level
        )
    })?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .json()
        .flatten_event(true)
        .init();
    if env.stdin_lifeline {
        // The local runtime holds our stdin open and never writes: EOF means it is gone, however it went.
        std::thread::spawn(|| {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            std::process::exit(0);
        });
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(2)
        .enable_all()
        .build()
        .context("Expected to start the async runtime, but it failed")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&env.listen)
            .await
            .with_context(|| format!("Expected to listen on {} (APSIS_LISTEN), but it failed", env.listen))?;
        tracing::info!(listen = %env.listen, "serving");
        tokio::select! {
            r = serve::serve(listener) => r.context("Expected to keep serving, but the server failed"),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}
