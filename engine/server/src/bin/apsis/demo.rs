//! `apsis demo`: the whole chain once, on one machine. Starts the tree of `apsis dev` on a temporary data directory
//! and free loopback ports, generates a synthetic Pleiades-like pair with `pms-generate` inside the data root,
//! deploys the chain, starts one `pms-chain` instance, shows each step as the engine records it (the engine runs in
//! this process: `progress.rs` reads its committed records), checks the outputs with `gdalinfo`, and prints a
//! summary with each step's time and the orchestration overhead (total minus the functions' own durations).
//!
//! Exit codes: 0 the chain completed and its outputs passed the checks; 1 a step failed (the step and OTB's message
//! from the incident are printed), the outputs failed a check or a part of the tree stopped; 2 the tree could not
//! start (a missing binary: the sentence says how to build it); 130/143 interrupted.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::Instant;

use anyhow::{anyhow, bail, Context as _};
use apsis_proto as pb;

use crate::chain::{self, Inputs};
use crate::client::{Action, Session, REQUEST_TIMEOUT};
use crate::engine::{self, Failure, Hooks, Signals};
use crate::progress::{self, Follow, Progress};
use crate::tree::{self, Tree, TreeOptions};
use crate::verify;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Size of the panchromatic image in pixels (N x N; the multispectral one is N/4 x N/4).
    #[arg(long, value_name = "N", default_value_t = 2000)]
    size: u32,
    /// Seed of the synthetic scene (the same seed gives the same pixels).
    #[arg(long, value_name = "S", default_value_t = 42)]
    seed: u64,
    /// Also generate a DEM and ortho-rectify with it.
    #[arg(long)]
    dem: bool,
    /// Keep everything (pair, products, engine data, logs) in DIR instead of a temporary directory removed at exit.
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
}

pub fn main(args: DemoArgs) -> ExitCode {
    if args.size < 64 {
        eprintln!(
            "apsis: Expected --size to be at least 64 pixels, but found {}",
            args.size
        );
        return ExitCode::from(2);
    }
    // The temporary directory lives until the end of `main`: after the tree has stopped.
    let (data_dir, _temporary) = match &args.keep {
        Some(dir) => match tree::absolute(dir) {
            Ok(d) => (d, None),
            Err(e) => return engine::report(&e, 2),
        },
        None => match tempfile::Builder::new().prefix("apsis-demo-").tempdir() {
            Ok(t) => (t.path().to_path_buf(), Some(t)),
            Err(e) => {
                return engine::report(
                    &anyhow!("Expected to create a temporary directory, but could not: {e}"),
                    2,
                )
            }
        },
    };
    let ports = (free_port(), free_port());
    let (runtime_address, worker_address) = match ports {
        (Ok(r), Ok(w)) => (r, w),
        (Err(e), _) | (_, Err(e)) => return engine::report(&e, 2),
    };
    let options = TreeOptions {
        data_roots: vec![data_dir.join("data")],
        data_dir,
        config: None,
        gateway_address: Some("127.0.0.1:0".to_owned()),
        monitoring_address: Some("127.0.0.1:0".to_owned()),
        runtime_address,
        worker_address,
        engine_log_to_file: true,
    };
    let (config, log) = match Tree::engine_config(&options) {
        Ok(c) => c,
        Err(code) => return code,
    };
    engine::init_tracing(&config.log, log);
    engine::block_on(async move {
        match run(&args, options, config).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(Failure::Failed(e)) => {
                eprintln!();
                engine::report(&e, 1)
            }
            Err(other) => engine::exit_code(Err(other)),
        }
    })
}

/// A free loopback port (bound, read, released: another process may take it in between, rarely).
fn free_port() -> anyhow::Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("Expected a free loopback port, but could not bind one")
}

async fn run(
    args: &DemoArgs,
    options: TreeOptions,
    config: apsis_server::config::Config,
) -> Result<(), Failure> {
    let mut signals = Signals::new().map_err(|e| {
        Failure::Startup(anyhow!(
            "Expected to install the SIGINT/SIGTERM handlers, but {e}"
        ))
    })?;
    // Checked before anything starts, like the tree's own binaries.
    let generator = tree::sibling(tree::GENERATOR_BIN).map_err(Failure::Startup)?;
    let (hook, records) = progress::hook();
    println!("apsis demo: starting the engine, the local function runtime and the worker");
    let hooks = Hooks {
        on_records: Some(hook),
    };
    let Some(mut tree) = Tree::start(&options, config, &mut signals, hooks).await? else {
        return Ok(());
    };
    let root = &options.data_roots[0];
    println!(
        "  engine {}, functions {}, worker http://{}",
        tree.gateway_url, tree.runtime_url, options.worker_address
    );
    println!(
        "  data root {} (logs in {})",
        root.display(),
        tree.logs.display()
    );
    let engine_stopped = tree.engine.stopped();
    let gateway_url = tree.gateway_url.clone();
    let engine_log = tree.logs.join("engine.log");
    let outcome = tokio::select! {
        outcome = chain_once(args, &gateway_url, &generator, root, records) => outcome.map_err(Failure::Failed),
        signal = signals.next() => Err(Failure::Interrupted(signal)),
        () = engine_stopped => Err(Failure::Failed(anyhow!(
            "Expected the engine to keep running, but it stopped on a fault; see {}",
            engine_log.display()
        ))),
        (name, status, log) = tree.child_exited() => Err(Failure::Failed(anyhow!(
            "Expected {name} to keep running, but it exited ({status}); its log {} ends with:\n{}",
            log.display(),
            tree::tail(&log, 15)
        ))),
    };
    if let Err(Failure::Interrupted(signal)) = outcome {
        println!("\napsis demo: interrupted; stopping");
        tree.stop(&mut signals, Some(signal)).await?;
        return Err(Failure::Interrupted(signal));
    }
    tree.stop(&mut signals, Some(15)).await?;
    let summary = outcome?;
    println!("{summary}");
    match &args.keep {
        Some(_) => println!("Everything is kept in {}.", options.data_dir.display()),
        None => println!(
            "The directory is removed now; `apsis demo --keep DIR` keeps the pair, the products and the logs."
        ),
    }
    Ok(())
}

/// Generates the pair, deploys, runs one instance to its end, checks the outputs; returns the summary to print.
async fn chain_once(
    args: &DemoArgs,
    gateway_url: &str,
    generator: &Path,
    root: &Path,
    mut records: tokio::sync::mpsc::UnboundedReceiver<progress::Seen>,
) -> anyhow::Result<String> {
    let pair = root.join("pair");
    let out = root.join("out");
    std::fs::create_dir_all(&out)
        .with_context(|| format!("Expected to create {}, but could not", out.display()))?;
    let generating = Instant::now();
    println!(
        "Generating a {n} x {n} pair (seed {seed}{dem}) with pms-generate in {}",
        pair.display(),
        n = args.size,
        seed = args.seed,
        dem = if args.dem { ", with a DEM" } else { "" },
    );
    let mut generate = tokio::process::Command::new(generator);
    generate.arg("--out").arg(&pair).args([
        "--size",
        &args.size.to_string(),
        "--seed",
        &args.seed.to_string(),
    ]);
    if args.dem {
        generate.arg("--dem");
    }
    let generated = generate
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .context("Expected to run pms-generate, but could not")?;
    if !generated.status.success() {
        bail!(
            "Expected pms-generate to write the pair, but it failed ({}): {}",
            generated.status,
            String::from_utf8_lossy(&generated.stderr).trim()
        );
    }
    println!("  done in {:.2} s", generating.elapsed().as_secs_f64());
    let pan = pair.join("IMG_P.TIF");
    let inputs = Inputs {
        geom: Inputs::default_geom(&pan),
        pan,
        ms: pair.join("IMG_MS.TIF"),
        out: out.clone(),
        dem: args.dem.then(|| pair.join("dem")),
    };

    let session = Session::local(gateway_url);
    let mut gateway = session
        .connect()
        .await
        .map_err(|e| client_error(&session, &e))?;
    chain::deploy(&session, &mut gateway, chain::EXAMPLES)
        .await
        .map_err(|e| client_error(&session, &e))?;
    let action = Action::new(format!("start process '{}'", chain::CHAIN.process_id));
    let created = session
        .call(
            &action,
            Some(REQUEST_TIMEOUT),
            gateway.create_process_instance(pb::CreateProcessInstanceRequest {
                bpmn_process_id: chain::CHAIN.process_id.to_owned(),
                version: -1,
                variables: inputs.variables().to_string(),
                ..Default::default()
            }),
        )
        .await
        .map_err(|e| client_error(&session, &e))?;
    println!(
        "Started {} (instance {}): bundle -> ortho -> normalize",
        chain::CHAIN.process_id,
        created.process_instance_key
    );

    let mut follow = Follow::new(created.process_instance_key);
    'follow: while let Some(seen) = records.recv().await {
        for p in follow.apply(seen) {
            match p {
                Progress::StepStarted(step) => println!("  {step:<10} running"),
                Progress::StepDone(step) => {
                    let s = &follow.steps[step];
                    println!(
                        "  {step:<10} done in {}{}",
                        secs(s.seconds()),
                        s.function_seconds()
                            .map(|f| format!(" (the function: {f:.2} s)"))
                            .unwrap_or_default()
                    );
                }
                Progress::Rerun { step, error } => println!(
                    "  {step:<10} failed{}; running it again in hold mode ({step}-rerun)",
                    error
                        .map(|e| format!(": {}", e.lines().last().unwrap_or("")))
                        .unwrap_or_else(|| " (no callback before the deadline)".to_owned())
                ),
                Progress::Retrying {
                    element,
                    retries,
                    message,
                } => println!(
                    "  {element:<10} failed, {retries} retries left: {}",
                    message.lines().last().unwrap_or("")
                ),
                Progress::Incident {
                    step,
                    element,
                    message,
                } => {
                    bail!(
                        "The chain failed at step '{}' (element '{element}', instance {}): {message}\nThe pair, the \
                         outputs so far and the logs are in {}",
                        step.unwrap_or("?"),
                        created.process_instance_key,
                        root.display()
                    );
                }
                Progress::Completed => break 'follow,
                Progress::Terminated => bail!(
                    "Expected instance {} to complete, but it was terminated",
                    created.process_instance_key
                ),
            }
        }
    }

    println!("Checking the outputs with gdalinfo -json -stats");
    let bundle = verify::image(&out.join(chain::OUTPUTS[0]), false).await?;
    let ortho = verify::image(&out.join(chain::OUTPUTS[1]), true).await?;
    let product = verify::product(&inputs.product(), &ortho).await?;
    Ok(summary(args, &inputs, &follow, [&bundle, &ortho, &product]))
}

fn client_error(session: &Session, e: &crate::client::Error) -> anyhow::Error {
    session.report(e);
    anyhow!(
        "Expected the engine this demo started to take its requests, but it did not (see above)"
    )
}

fn secs(s: Option<f64>) -> String {
    s.map_or_else(|| "?".to_owned(), |s| format!("{s:.2} s"))
}

fn summary(
    args: &DemoArgs,
    inputs: &Inputs,
    follow: &Follow,
    checked: [&verify::Checked; 3],
) -> String {
    let mut out = String::from("\nSummary\n");
    out.push_str(&format!(
        "  pair           {n} x {n} P, {m} x {m} MS, seed {seed}, {dem}\n",
        n = args.size,
        m = args.size / 4,
        seed = args.seed,
        dem = if args.dem { "with a DEM" } else { "no DEM" },
    ));
    let mut functions = 0.0;
    for step in chain::STEPS {
        let s = follow.steps.get(step).cloned().unwrap_or_default();
        let f = s.function_seconds();
        functions += f.unwrap_or(0.0);
        out.push_str(&format!(
            "  {step:<14} {:>9}   the function {}\n",
            secs(s.seconds()),
            secs(f)
        ));
    }
    let total = follow
        .started
        .zip(follow.ended)
        .map(|(a, b)| (b - a) as f64 / 1000.0);
    out.push_str(&format!(
        "  total          {:>9}   from the instance's creation to its completion, as the engine recorded them\n",
        secs(total)
    ));
    out.push_str(&format!(
        "  functions      {:>9}   their own durations, summed\n",
        secs(Some(functions))
    ));
    out.push_str(&format!(
        "  orchestration  {:>9}   total - functions: engine, worker, runtime, callbacks\n",
        secs(total.map(|t| t - functions))
    ));
    let [bundle, ortho, product] = checked;
    out.push_str(&format!("  outputs        {}\n", inputs.out.display()));
    out.push_str(&format!(
        "    bundle.tif            {} x {} x {} {} (sensor geometry)\n",
        bundle.width, bundle.height, bundle.bands, bundle.data_type
    ));
    out.push_str(&format!(
        "    ortho.tif             {} x {} x {} {}, {}\n",
        ortho.width,
        ortho.height,
        ortho.bands,
        ortho.data_type,
        ortho.crs.as_deref().unwrap_or("?")
    ));
    let (lo, hi) = product
        .ranges
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (a, b)| {
            (lo.min(*a), hi.max(*b))
        });
    out.push_str(&format!(
        "    normalized_ortho.tif  {} x {} x {} {}, {}, values in [{lo:.3}, {hi:.3}], NoData NaN\n",
        product.width,
        product.height,
        product.bands,
        product.data_type,
        product.crs.as_deref().unwrap_or("?")
    ));
    out
}
