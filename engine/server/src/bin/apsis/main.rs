//! `apsis`: the Apsis engine server, and client commands that work against Apsis and any Zeebe gateway.
//!
//! One subcommand per variant of [`Command`], each in its own module. Exit codes of `apsis engine`: 0 done, 1 the
//! engine failed while running, 2 it could not start (bad config, data directory locked, address in use) or bad
//! usage, 128 + n stopped at once by a second signal n. Exit codes of the client commands (`client.rs`): 0 done,
//! 1 the gateway refused the request, 2 bad usage or input, 3 no gateway could be reached. `apsis dev` exits as
//! `apsis engine` does; `apsis demo`'s codes are in `demo.rs`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cancel;
mod chain;
mod client;
mod connection;
mod demo;
mod deploy;
mod dev;
mod engine;
mod input;
mod progress;
mod publish;
mod resolve;
mod run;
mod spinner;
mod status;
mod submit;
mod tree;
mod verify;

#[derive(Debug, Parser)]
#[command(
    name = "apsis",
    version,
    about = "Apsis: a Zeebe-compatible BPMN engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the engine: the runtime over its data directory, the gRPC gateway and the monitoring endpoint.
    Engine(engine::EngineArgs),
    /// Deploy BPMN files (all or none) and print each process's id, version and key.
    Deploy(deploy::DeployArgs),
    /// Start an instance of a process; with --await, wait for it to complete and print its variables.
    Run(run::RunArgs),
    /// Publish a message to be correlated by name and correlation key.
    Publish(publish::PublishArgs),
    /// Cancel a process instance.
    Cancel(cancel::CancelArgs),
    /// Resolve an incident (for a failed job, give the job retries first).
    Resolve(resolve::ResolveArgs),
    /// Show the gateway's topology: brokers, partitions, their roles and health, versions.
    Status(status::StatusArgs),
    /// Run everything on this machine: the engine, the local function runtime (callback-ack, otbcli,
    /// normalize-product) and the FaaS worker, with the examples/pms-chain processes deployed. Ctrl-C stops it all.
    Dev(dev::DevArgs),
    /// Run the P/MS chain once on a generated pair, with live progress per step, checks of the outputs and a summary.
    Demo(demo::DemoArgs),
    /// Run the P/MS chain on your own pair against Apsis or any Zeebe gateway (Camunda 8); prints the product's path.
    Submit(submit::SubmitArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Engine(args) => engine::run(args),
        Command::Deploy(args) => deploy::main(args),
        Command::Run(args) => run::main(args),
        Command::Publish(args) => publish::main(args),
        Command::Cancel(args) => cancel::main(args),
        Command::Resolve(args) => resolve::main(args),
        Command::Status(args) => status::main(args),
        Command::Dev(args) => dev::main(args),
        Command::Demo(args) => demo::main(args),
        Command::Submit(args) => submit::main(args),
    }
}
