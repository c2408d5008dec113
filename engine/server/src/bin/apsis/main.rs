//! `apsis`: the Apsis engine server, and client commands that work against Apsis and any Zeebe gateway.
//!
//! One subcommand per variant of [`Command`], each in its own module. Exit codes: 0 done, 1 the engine failed while
//! running, 2 it could not start (bad config, data directory locked, address in use) or bad usage, 128 + n stopped
//! at once by a second signal n.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod engine;

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
    // Client commands (deploy, run, publish, cancel, resolve, status) go here, one variant and one module each.
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Engine(args) => engine::run(args),
    }
}
