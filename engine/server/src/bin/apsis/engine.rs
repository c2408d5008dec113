//! `apsis engine`: resolves the config, installs logging and the Prometheus exporter, starts the monitoring
//! endpoint, recovers the engine, (later) starts the gRPC gateway, and on SIGINT/SIGTERM shuts down gracefully:
//! not ready -> stop accepting -> finish queued commands, commit, snapshot -> exit 0. A second signal exits at once.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use apsis_server::config::{self, AuthMode, Config, Flags, LogFormat, Resolved};
use apsis_server::gateway::auth::{Authenticator, JwtOptions};
use apsis_server::gateway::tls::TlsIdentity;
use apsis_server::gateway::{self, Advertised, GatewayHub, GatewayService, ServeOptions};
use apsis_server::monitoring::{self, MonitoringOptions, RenderFn};
use apsis_server::{metrics, Engine, EngineHandle, EngineOptions, SubmitError};
use apsis_store::SyncMode;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tracing::{error, info, warn};

/// Exit code of a failure while running (the engine stopped on a fault).
const EXIT_FAILED: u8 = 1;
/// Exit code of a start that could not happen: bad config, locked data directory, address in use.
const EXIT_STARTUP: u8 = 2;
/// How often histogram samples are folded into their buckets when nobody scrapes (bounded memory).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);
/// How often a stopped runtime thread (fail-stop after a failed commit) is looked for.
const WATCHDOG_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, clap::Args)]
pub struct EngineArgs {
    /// TOML config file (default: $APSIS_CONFIG). Precedence: defaults < file < APSIS_* environment < flags.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory of the log and snapshots [engine.data_dir, APSIS_ENGINE_DATA_DIR; default ./data].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// gRPC gateway address [gateway.address, APSIS_GATEWAY_ADDRESS; default 127.0.0.1:26500].
    #[arg(long, value_name = "HOST:PORT")]
    gateway_address: Option<String>,
    /// Health, readiness and /metrics address [monitoring.address, APSIS_MONITORING_ADDRESS; default 127.0.0.1:9600].
    #[arg(long, value_name = "HOST:PORT")]
    monitoring_address: Option<String>,
    /// Print the resolved configuration as TOML (secrets masked, each value's origin in a comment) and exit.
    #[arg(long)]
    print_config: bool,
}

/// How a run ended badly.
pub enum Failure {
    /// Could not start: the message is for a person.
    Startup(anyhow::Error),
    /// Started, then failed.
    Failed(anyhow::Error),
    /// A second signal during shutdown.
    Interrupted(i32),
}

pub fn run(args: EngineArgs) -> ExitCode {
    let resolved = match resolve(
        args.config,
        args.data_dir,
        args.gateway_address,
        args.monitoring_address,
    ) {
        Ok(r) => r,
        Err(code) => return code,
    };
    if args.print_config {
        print!("{}", resolved.to_toml());
        return ExitCode::SUCCESS;
    }
    init_tracing(&resolved.config.log, None);
    block_on(async move {
        let outcome = serve(resolved.config).await;
        exit_code(outcome)
    })
}

/// The engine's configuration: these flags over `APSIS_*` over the file over the defaults (a failure is reported).
pub fn resolve(
    config: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    gateway_address: Option<String>,
    monitoring_address: Option<String>,
) -> Result<Resolved, ExitCode> {
    let mut flags = Flags {
        config,
        values: Vec::new(),
    };
    let data_dir = data_dir.map(|d| d.display().to_string());
    flags.set("engine.data_dir", "--data-dir", data_dir);
    flags.set("gateway.address", "--gateway-address", gateway_address);
    flags.set(
        "monitoring.address",
        "--monitoring-address",
        monitoring_address,
    );
    Resolved::load(&flags, &config::process_env())
        .map_err(|e| report(&anyhow::Error::new(e), EXIT_STARTUP))
}

/// Runs `main` on the multi-threaded runtime the engine's gateway runs on; exit 2 if it cannot start.
pub fn block_on(main: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("apsis-io")
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return report(
                &anyhow::Error::new(e)
                    .context("Expected to start the async runtime, but it failed"),
                EXIT_STARTUP,
            )
        }
    };
    let code = runtime.block_on(main);
    // A recovery still replaying on a blocking thread must not hold the exit.
    runtime.shutdown_timeout(Duration::from_millis(100));
    code
}

/// The exit code of an engine run, its failure reported.
pub fn exit_code(outcome: Result<(), Failure>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Startup(e)) => report(&e, EXIT_STARTUP),
        Err(Failure::Failed(e)) => report(&e, EXIT_FAILED),
        Err(Failure::Interrupted(signal)) => ExitCode::from(128 + signal as u8),
    }
}

/// A human error on stderr: the message, then each cause. No panic, no backtrace.
pub fn report(e: &anyhow::Error, code: u8) -> ExitCode {
    eprintln!("apsis: {e}");
    for cause in e.chain().skip(1) {
        eprintln!("  because: {cause}");
    }
    ExitCode::from(code)
}

/// Logs to stderr, or to `file` (a command that uses the terminal for something else).
pub fn init_tracing(log: &config::LogConfig, file: Option<std::fs::File>) {
    let filter = tracing_subscriber::EnvFilter::builder().parse_lossy(&log.level);
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match (file, log.format) {
        (None, format) => {
            let builder = builder
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal());
            match format {
                LogFormat::Text => builder.init(),
                LogFormat::Json => builder.json().flatten_event(true).init(),
            }
        }
        (Some(file), format) => {
            let builder = builder
                .with_writer(std::sync::Mutex::new(file))
                .with_ansi(false);
            match format {
                LogFormat::Text => builder.init(),
                LogFormat::Json => builder.json().flatten_event(true).init(),
            }
        }
    }
}

/// The Prometheus exporter, installed as the global recorder of the `metrics` facade the library records through.
fn install_exporter() -> anyhow::Result<PrometheusHandle> {
    let mut builder = PrometheusBuilder::new();
    for (name, buckets) in metrics::HISTOGRAM_BUCKETS {
        builder = builder.set_buckets_for_metric(Matcher::Full((*name).to_owned()), buckets)?;
    }
    Ok(builder.install_recorder()?)
}

fn engine_options(c: &config::EngineConfig) -> EngineOptions {
    let mut o = EngineOptions::new(&c.data_dir);
    o.max_batch = c.max_batch;
    o.queue_capacity = c.queue_capacity;
    o.snapshot_every_bytes = c.snapshot_every_bytes;
    o.sync = if c.fsync {
        SyncMode::Fsync
    } else {
        SyncMode::None
    };
    o
}

/// The start error a person can act on.
fn start_error(e: apsis_server::Error, config: &Config) -> anyhow::Error {
    let dir = config.engine.data_dir.display();
    match e {
        apsis_server::Error::Store(apsis_store::Error::Locked { path }) => anyhow::anyhow!(
            "Expected to open the data directory {dir}, but another apsis engine holds its lock ({}); stop that \
             engine or choose another --data-dir",
            path.display()
        ),
        e => anyhow::Error::new(e).context(format!(
            "Expected to open the data directory {dir} and recover the engine, but it failed"
        )),
    }
}

/// SIGINT and SIGTERM, installed once for the whole process.
pub struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    pub fn new() -> std::io::Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// The next SIGINT (2) or SIGTERM (15).
    pub async fn next(&mut self) -> i32 {
        tokio::select! {
            _ = self.interrupt.recv() => 2,
            _ = self.terminate.recv() => 15,
        }
    }
}

/// Returns once the runtime thread has stopped on its own (fail-stop after a failed commit).
async fn engine_stopped(handle: EngineHandle) {
    loop {
        tokio::time::sleep(WATCHDOG_EVERY).await;
        let h = handle.clone();
        let alive = tokio::task::spawn_blocking(move || h.inspect(|_| ())).await;
        if matches!(alive, Ok(Err(SubmitError::Stopped))) {
            return;
        }
    }
}

async fn serve(config: Config) -> Result<(), Failure> {
    let mut signals = Signals::new()
        .context("Expected to install the SIGINT/SIGTERM handlers, but it failed")
        .map_err(Failure::Startup)?;
    let Some(running) = start(config, &mut signals, Hooks::default()).await? else {
        return Ok(());
    };
    let signal = tokio::select! {
        signal = signals.next() => Some(signal),
        () = running.stopped() => None,
    };
    running.stop(&mut signals, signal).await
}

/// What another command (`apsis dev`, `apsis demo`) adds to an engine it runs in its own process.
#[derive(Default)]
pub struct Hooks {
    /// Sees every committed batch of records (`EngineOptions::on_records`).
    pub on_records: Option<apsis_server::RecordsFn>,
}

/// A started engine: recovered, its gateway serving, ready.
pub struct Running {
    engine: Engine,
    handle: EngineHandle,
    monitoring: monitoring::MonitoringHandle,
    stop_gateway: tokio::sync::oneshot::Sender<()>,
    gateway_task: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
    /// Where the gateway listens (the bound address: a port 0 in the config is the port chosen).
    pub gateway_address: String,
    pub monitoring_address: std::net::SocketAddr,
}

/// Starts the monitoring endpoint, recovers the engine and starts the gateway. `None`: a signal came during
/// recovery and nothing is left to stop.
pub async fn start(
    config: Config,
    signals: &mut Signals,
    hooks: Hooks,
) -> Result<Option<Running>, Failure> {
    let startup = |e: anyhow::Error| Failure::Startup(e);
    let prometheus = install_exporter()
        .context("Expected to install the Prometheus exporter, but it failed")
        .map_err(startup)?;
    metrics::describe();
    let _engine_series = metrics::EngineMetrics::new();
    let process = metrics_process::Collector::default();
    process.describe();
    let upkeep = prometheus.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(UPKEEP_EVERY);
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    let render: RenderFn = Arc::new(move || {
        process.collect();
        prometheus.render()
    });
    let monitoring = monitoring::start(MonitoringOptions {
        address: config.monitoring.address.clone(),
        render: Some(render),
    })
    .await
    .map_err(|e| startup(e.into()))?;
    info!(
        version = env!("CARGO_PKG_VERSION"),
        log_format_version = apsis_core::event::FORMAT_VERSION,
        store_format_version = apsis_store::FORMAT_VERSION,
        data_dir = %config.engine.data_dir.display(),
        fsync = config.engine.fsync,
        monitoring_address = %monitoring.local_addr(),
        "apsis engine starting: recovering the state"
    );
    // TLS files and the issuer's keys are checked before recovery, so a bad setting fails the start at once.
    let security = gateway_security(&config.gateway).await.map_err(startup)?;
    // The gateway's hub must see the engine's effects (job notifications, awaited results) from the first batch.
    let hub = GatewayHub::new();
    let mut opts = engine_options(&config.engine);
    opts.on_effects = Some(hub.effects_hook());
    opts.on_records = hooks.on_records;
    let recovery = tokio::task::spawn_blocking(move || Engine::start(opts));
    let (engine, stats) = tokio::select! {
        started = recovery => match started {
            Ok(Ok(started)) => started,
            Ok(Err(e)) => return Err(startup(start_error(e, &config))),
            Err(e) => return Err(startup(anyhow::Error::new(e).context("Expected the recovery to finish, but it panicked"))),
        },
        signal = signals.next() => {
            // Recovery only reads (and cuts a torn tail, which a crash may do as well): nothing to finish.
            info!(signal, "signal during recovery: stopping");
            monitoring.shutdown().await;
            return Ok(None);
        }
    };
    metrics::recovered(&stats);
    info!(
        snapshot_position = stats.snapshot_position,
        entries_replayed = stats.entries_replayed,
        events_replayed = stats.events_replayed,
        replay_ms = stats.replay_time.as_millis() as u64,
        bytes_dropped = stats.bytes_dropped,
        "recovered"
    );
    let handle = engine.handle();

    // ── GATEWAY ────────────────────────────────────────────────────────────────────────────────────────────────
    // Bound before readiness is announced; a bind failure is a `Failure::Startup` (exit 2) like the monitoring one.
    // Stopped below (stop accepting, let in-flight calls get their replies) before the engine shuts down.
    let listener = tokio::net::TcpListener::bind((
        config.gateway.address.host.as_str(),
        config.gateway.address.port,
    ))
    .await
    .with_context(|| {
        format!(
            "Expected to listen for gRPC on {}, but could not bind it",
            config.gateway.address
        )
    })
    .map_err(startup)?;
    let gateway_address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| config.gateway.address.to_string());
    if !is_loopback(&config.gateway.address.host) {
        if config.gateway.auth.mode == AuthMode::None {
            warn!(
                gateway_address,
                "the gateway listens beyond loopback without authentication (gateway.auth.mode = none)"
            );
        } else if config.gateway.tls.cert.is_none() {
            warn!(
                gateway_address,
                "the gateway listens beyond loopback without TLS: bearer tokens travel in the clear (set gateway.tls)"
            );
        }
    }
    let service = GatewayService::new(
        handle.clone(),
        &hub,
        Advertised {
            host: config.gateway.address.host.clone(),
            port: listener
                .local_addr()
                .map(|a| a.port())
                .unwrap_or(config.gateway.address.port) as i32,
        },
    )
    .with_max_message_size(config.gateway.max_message_size);
    let (stop_gateway, gateway_stopped) = tokio::sync::oneshot::channel::<()>();
    let gateway_task = tokio::spawn(gateway::serve(service, listener, security, async {
        let _ = gateway_stopped.await;
    }));
    // ───────────────────────────────────────────────────────────────────────────────────────────────────────────

    monitoring.ready(handle.clone());
    info!(
        gateway_address,
        monitoring_address = %monitoring.local_addr(),
        data_dir = %config.engine.data_dir.display(),
        "apsis engine ready"
    );
    Ok(Some(Running {
        engine,
        handle,
        monitoring_address: monitoring.local_addr(),
        monitoring,
        stop_gateway,
        gateway_task,
        gateway_address,
    }))
}

impl Running {
    /// Returns once the runtime thread has stopped on its own (fail-stop after a failed commit).
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + use<> {
        engine_stopped(self.handle.clone())
    }

    /// Stops on `signal` (or on a fault when `None`): not ready -> stop accepting -> finish the queued commands,
    /// commit, snapshot. A second signal meanwhile exits at once.
    pub async fn stop(self, signals: &mut Signals, signal: Option<i32>) -> Result<(), Failure> {
        let Running {
            engine,
            monitoring,
            stop_gateway,
            gateway_task,
            ..
        } = self;
        monitoring.stopping();
        match signal {
            Some(signal) => info!(signal, "stopping: finishing the queued commands"),
            None => error!("the engine stopped on a fault; stopping"),
        }
        // Stop accepting before the engine drains, so no command arrives after its last batch. Open job streams and
        // long polls never end on their own: give in-flight unary calls a moment, then drop the rest.
        let _ = stop_gateway.send(());
        let _ = tokio::time::timeout(Duration::from_secs(2), gateway_task).await;
        let shutdown = tokio::task::spawn_blocking(move || engine.shutdown());
        let stopped = tokio::select! {
            stopped = shutdown => stopped,
            signal = signals.next() => {
                warn!(signal, "second signal: exiting at once without finishing the queued commands");
                return Err(Failure::Interrupted(signal));
            }
        };
        monitoring.shutdown().await;
        match stopped {
            Ok(Ok(())) if signal.is_some() => {
                info!("stopped");
                Ok(())
            }
            Ok(Ok(())) => Err(Failure::Failed(anyhow::anyhow!(
                "Expected the engine to run until stopped, but its runtime thread ended"
            ))),
            Ok(Err(e)) => Err(Failure::Failed(
                anyhow::Error::new(e).context("Expected the engine to stop cleanly, but it failed"),
            )),
            Err(e) => Err(Failure::Failed(
                anyhow::Error::new(e)
                    .context("Expected the engine to stop cleanly, but it panicked"),
            )),
        }
    }
}

/// The gateway's TLS identity and authenticator as configured (`Config::check` has made sure that both TLS files,
/// the token, the issuer and the JWKS URL are present where their mode needs them).
async fn gateway_security(g: &config::GatewayConfig) -> anyhow::Result<ServeOptions> {
    let tls = match (&g.tls.cert, &g.tls.key) {
        (Some(cert), Some(key)) => Some(TlsIdentity::from_files(cert, key)?),
        _ => None,
    };
    let auth = match g.auth.mode {
        AuthMode::None => None,
        AuthMode::StaticToken => {
            let token = g.auth.token.as_ref().context(
                "Expected gateway.auth.token to be set when gateway.auth.mode is 'static-token', but it is not set",
            )?;
            Some(Authenticator::static_token(token.expose()))
        }
        AuthMode::Jwt => {
            let (Some(issuer), Some(jwks_url)) = (&g.auth.issuer, &g.auth.jwks_url) else {
                anyhow::bail!(
                    "Expected gateway.auth.issuer and gateway.auth.jwks_url to be set when gateway.auth.mode is \
                     'jwt', but they are not"
                );
            };
            if jwks_url.starts_with("http://") && !url_is_loopback(jwks_url) {
                warn!(
                    jwks_url,
                    "the issuer's keys are fetched over plain http: whoever can alter that traffic can mint tokens"
                );
            }
            let mut options = JwtOptions::new(issuer, jwks_url);
            options.audience = g.auth.audience.clone();
            Some(Authenticator::jwt(options).await.context(
                "Expected to load the signing keys of gateway.auth.issuer from gateway.auth.jwks_url, but could not",
            )?)
        }
    };
    info!(
        tls = tls.is_some(),
        auth = g.auth.mode.name(),
        "gateway security configured"
    );
    Ok(ServeOptions { tls, auth })
}

/// Whether an `http://` URL names a loopback host.
fn url_is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.rsplit_once(':') {
        // `[::1]:8080` or `host:8080`; a bare `[::1]` has no port.
        Some((h, port)) if !port.contains(']') => h,
        _ => authority,
    };
    is_loopback(host)
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::url_is_loopback;

    #[test]
    fn jwks_urls_on_loopback_are_recognised() {
        for url in [
            "http://127.0.0.1:8080/jwks",
            "http://localhost/certs",
            "http://[::1]:9000/keys?x=1",
            "http://[::1]",
            "http://127.0.0.2",
        ] {
            assert!(url_is_loopback(url), "{url}");
        }
        for url in [
            "http://login.example.org/jwks",
            "http://10.0.0.1:8080/jwks",
            "http://localhost.example.org/jwks",
            "http://[2001:db8::1]:80/jwks",
        ] {
            assert!(!url_is_loopback(url), "{url}");
        }
    }
}
