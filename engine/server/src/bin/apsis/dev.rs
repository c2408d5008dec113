//! `apsis dev`: everything of Apsis on one machine, in one process tree: the engine (in this process, as
//! `apsis engine` runs it), the local function runtime with callback-ack, otbcli and normalize-product, and the FaaS
//! worker (`tree.rs`), with the examples/pms-chain processes deployed. Ctrl-C or SIGTERM stops it all.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;

use crate::chain;
use crate::client::Session;
use crate::engine::{self, Failure, Hooks, Signals};
use crate::tree::{self, Tree, TreeOptions};

#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// Where everything lives: the engine's data (engine/), the generated stack file, the callback key, the logs
    /// (logs/) and the default data root (data/).
    #[arg(long, value_name = "DIR", default_value = "apsis-dev")]
    data_dir: PathBuf,
    /// The engine's gRPC gateway [gateway.address, APSIS_GATEWAY_ADDRESS; default 127.0.0.1:26500].
    #[arg(long, value_name = "HOST:PORT")]
    gateway_address: Option<String>,
    /// The engine's /health, /ready, /metrics, /incidents [default 127.0.0.1:9600].
    #[arg(long, value_name = "HOST:PORT")]
    monitoring_address: Option<String>,
    /// The local function runtime (an OpenFaaS gateway).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
    functions_address: SocketAddr,
    /// The worker's /health, /ready, /metrics.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9601")]
    worker_address: SocketAddr,
    /// A directory the functions may read and write (repeat for several) [default: <data-dir>/data].
    #[arg(long = "data-root", value_name = "DIR")]
    data_roots: Vec<PathBuf>,
    /// The engine's TOML config file [APSIS_CONFIG]; the flags above win over it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

pub fn main(args: DevArgs) -> ExitCode {
    let options = match options(args) {
        Ok(o) => o,
        Err(e) => return engine::report(&e, 2),
    };
    let (config, log) = match Tree::engine_config(&options) {
        Ok(c) => c,
        Err(code) => return code,
    };
    engine::init_tracing(&config.log, log);
    engine::block_on(async move { engine::exit_code(run(options, config).await) })
}

fn options(args: DevArgs) -> anyhow::Result<TreeOptions> {
    let data_dir = tree::absolute(&args.data_dir)?;
    let data_roots = if args.data_roots.is_empty() {
        vec![data_dir.join("data")]
    } else {
        args.data_roots
            .iter()
            .map(|r| tree::absolute(r))
            .collect::<anyhow::Result<_>>()?
    };
    Ok(TreeOptions {
        data_dir,
        data_roots,
        config: args.config,
        gateway_address: args.gateway_address,
        monitoring_address: args.monitoring_address,
        runtime_address: args.functions_address,
        worker_address: args.worker_address,
        engine_log_to_file: false,
    })
}

async fn run(options: TreeOptions, config: apsis_server::config::Config) -> Result<(), Failure> {
    let mut signals = Signals::new().map_err(|e| {
        Failure::Startup(anyhow!(
            "Expected to install the SIGINT/SIGTERM handlers, but {e}"
        ))
    })?;
    let Some(mut tree) = Tree::start(&options, config, &mut signals, Hooks::default()).await?
    else {
        return Ok(());
    };
    let session = Session::local(&tree.gateway_url);
    let deployed = match deploy(&session).await {
        Ok(d) => d,
        Err(e) => {
            let _ = tree.stop(&mut signals, Some(15)).await;
            return Err(Failure::Startup(e));
        }
    };
    print_ready(&options, &tree, &deployed);
    let engine_stopped = tree.engine.stopped();
    let ended = tokio::select! {
        signal = signals.next() => Ok(Some(signal)),
        () = engine_stopped => Ok(None),
        exited = tree.child_exited() => Err(exited),
    };
    let signal = match ended {
        Ok(signal) => signal,
        Err((name, status, log)) => {
            let tail = tree::tail(&log, 15);
            tree.stop(&mut signals, Some(15)).await?;
            return Err(Failure::Failed(anyhow!(
                "Expected {name} to keep running, but it exited ({status}); its log {} ends with:\n{tail}",
                log.display()
            )));
        }
    };
    println!("apsis dev: stopping (the worker, the functions, then the engine)");
    tree.stop(&mut signals, signal).await?;
    println!("apsis dev: stopped");
    Ok(())
}

/// Deploys every example of examples/pms-chain; returns "id version N" for each process.
async fn deploy(session: &Session) -> anyhow::Result<Vec<String>> {
    let mut gateway = session.connect().await.map_err(|e| describe(session, &e))?;
    let response = chain::deploy(session, &mut gateway, chain::EXAMPLES)
        .await
        .map_err(|e| describe(session, &e))?;
    Ok(response
        .deployments
        .iter()
        .filter_map(|d| match &d.metadata {
            Some(apsis_proto::deployment::Metadata::Process(p)) => {
                Some(format!("{} version {}", p.bpmn_process_id, p.version))
            }
            _ => None,
        })
        .collect())
}

/// A client error as one message (the local gateway's errors are reported as the tree's start failure).
pub fn describe(session: &Session, e: &crate::client::Error) -> anyhow::Error {
    session.report(e);
    anyhow!("Expected to deploy the examples/pms-chain processes on the engine, but could not (see above)")
}

fn print_ready(options: &TreeOptions, tree: &Tree, deployed: &[String]) {
    let roots = options
        .data_roots
        .iter()
        .map(|r| r.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    println!("apsis dev: ready");
    println!(
        "  gateway     {}   Zeebe gRPC: apsis submit/run/status --address, zbctl, Camunda Modeler",
        tree.gateway_url
    );
    println!(
        "  monitoring  http://{}   /ready /metrics /incidents",
        tree.engine.monitoring_address
    );
    println!(
        "  functions   {}   apsis-faas-local: callback-ack, otbcli, normalize-product ({})",
        tree.runtime_url,
        tree.stack_file.display()
    );
    println!(
        "  worker      http://{}   apsis-worker-faas: /ready /metrics",
        options.worker_address
    );
    println!("  data roots  {roots}   the functions read and write only here");
    println!(
        "  logs        {}   faas-local.log, worker.log (the engine logs to stderr)",
        tree.logs.display()
    );
    println!("  deployed    {}", deployed.join(", "));
    let root = options.data_roots[0].display();
    println!(
        "Try:  apsis submit --address {} --pan {root}/pair/IMG_P.TIF --ms {root}/pair/IMG_MS.TIF --out {root}/out",
        tree.gateway_url
    );
    println!("      (a pair: pms-generate --out {root}/pair --size 2000)");
    println!("Ctrl-C stops everything.");
}
