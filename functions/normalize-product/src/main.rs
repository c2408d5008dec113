//! `normalize-product --in_ms MS.tif --in_ortho ORTHO.tif --out OUT.tif [--output float32|uint16]`: exit 0 with a
//! JSON report on stdout, 1 with a sentence when the normalization fails, 2 on an argument error. A user's own
//! command: its paths are whatever the user may read and write.
//!
//! `normalize-product serve [--listen IP:PORT] [--data-roots DIR:DIR]`: the HTTP function, run as every Apsis
//! function is (`apsis_function_kit::Program`): it listens on `--listen`, `APSIS_LISTEN`, of-watchdog's
//! `upstream_url` or 127.0.0.1:8082; every path of a call must be inside the data roots (`--data-roots` or
//! `APSIS_DATA_ROOTS`, required, as for otbcli); with `APSIS_STDIN_LIFELINE=1` it exits when stdin reaches EOF, as
//! the local runtime expects; SIGTERM/SIGINT stop it once the call in progress is answered.

use std::collections::BTreeMap;
use std::process::ExitCode;

use apsis_function_kit::settings::{self, var};
use apsis_function_kit::{Common, DataRoots, Program, Server};
use apsis_normalize_product::{normalize, serve, Request};
use clap::Parser;

const NAME: &str = "normalize-product";
const EXIT_FAILED: u8 = 1;
/// GDAL's block cache, in MB, unless GDAL_CACHEMAX is set: GDAL's default (5 % of RAM) is what lets a block-wise
/// program grow to gigabytes on a big machine.
const DEFAULT_GDAL_CACHEMAX_MB: &str = "32";

/// The HTTP function of normalize-product (POST {"argv": ["normalize-product", ...]}). Settings: APSIS_* < flags.
#[derive(Debug, Parser)]
#[command(name = "normalize-product serve", version)]
struct ServeArgs {
    /// Address to listen on [APSIS_LISTEN, else of-watchdog's upstream_url; default 127.0.0.1:8082].
    #[arg(long, value_name = "IP:PORT")]
    listen: Option<String>,
    /// Colon-separated absolute directories every path of a call must be inside [APSIS_DATA_ROOTS; required].
    #[arg(long, value_name = "DIR:DIR")]
    data_roots: Option<String>,
}

fn main() -> ExitCode {
    // The only read of the process environment.
    let env = settings::read_env(["GDAL_CACHEMAX"]);
    if var(&env, "GDAL_CACHEMAX").is_none() {
        if let Err(e) = gdal::config::set_config_option("GDAL_CACHEMAX", DEFAULT_GDAL_CACHEMAX_MB) {
            eprintln!("{NAME}: Expected to set GDAL_CACHEMAX, but GDAL refused: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    }
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        // clap prints the usage and exits with 2 on an argument error.
        return run_server(ServeArgs::parse_from(&args[1..]), &env);
    }
    let request = Request::parse();
    match normalize(&request) {
        Ok(report) => {
            println!("{}", serde_json::to_string(&report).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{NAME}: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

fn run_server(args: ServeArgs, env: &BTreeMap<String, String>) -> ExitCode {
    let resolved = Common::resolve(args.listen.as_deref(), env).and_then(|common| {
        DataRoots::resolve(args.data_roots.as_deref(), env).map(|roots| (common, roots))
    });
    let (common, roots) = match resolved {
        Ok(resolved) => resolved,
        Err(e) => return Program::refuse_to_start(NAME, &e),
    };
    // One normalization at a time, on a blocking thread: one async thread is plenty.
    let program = Program {
        worker_threads: 1,
        max_blocking_threads: 2,
        ..Program::new(NAME, common.clone())
    };
    program.run(|_| async move {
        let shown = roots.to_display();
        let server = Server::start(common.listen, serve::router(roots), None).await?;
        tracing::info!(address = %server.local_addr(), roots = %shown, "normalize-product listening");
        Ok::<_, apsis_function_kit::Error>(server)
    })
}
