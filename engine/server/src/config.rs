//! The configuration of `apsis engine`, resolved in layers: built-in defaults < TOML file (`--config FILE` or
//! `APSIS_CONFIG`) < environment (`APSIS_<SECTION>_<KEY>`, e.g. `APSIS_GATEWAY_ADDRESS`) < command-line flags.
//!
//! Every key is listed once in [`KEYS`]; its TOML name is `section.key` and its environment name is `APSIS_` plus the
//! TOML name upper-cased with `.` as `_`. Every error names where the bad value came from (file and line, variable or
//! flag), the key and what was expected. This module is the only code that reads the process environment
//! ([`process_env`]); everything else takes the environment as a map, so tests never touch the real one.

use std::fmt;
use std::path::{Path, PathBuf};

mod resolve;
mod values;

use resolve::missing;
pub use resolve::{env_name, process_env, Error, Flags, Origin, Resolved};
use values::{choice, host_port, log_filter, non_empty, optional, positive, size, url, Raw};

/// Every configuration key, in the order `--print-config` shows them.
pub const KEYS: &[&str] = &[
    "engine.data_dir",
    "engine.max_batch",
    "engine.queue_capacity",
    "engine.snapshot_every_bytes",
    "engine.fsync",
    "gateway.address",
    "gateway.max_message_size",
    "gateway.tls.cert",
    "gateway.tls.key",
    "gateway.auth.mode",
    "gateway.auth.token",
    "gateway.auth.issuer",
    "gateway.auth.audience",
    "gateway.auth.jwks_url",
    "monitoring.address",
    "log.level",
    "log.format",
];

/// The environment variable naming the config file (a `--config` flag wins over it).
pub const CONFIG_ENV: &str = "APSIS_CONFIG";

/// The resolved configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub engine: EngineConfig,
    pub gateway: GatewayConfig,
    pub monitoring: MonitoringConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    pub data_dir: PathBuf,
    /// Most commands in one group commit.
    pub max_batch: usize,
    /// Commands waiting for the runtime before clients get backpressure.
    pub queue_capacity: usize,
    /// Log bytes between snapshots.
    pub snapshot_every_bytes: u64,
    /// fdatasync every group commit (off: survives a process crash, not a power loss).
    pub fsync: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    pub address: HostPort,
    /// Largest gRPC message, in bytes, either way.
    pub max_message_size: usize,
    pub tls: TlsConfig,
    pub auth: AuthConfig,
}

/// TLS for the gateway: on when both files are given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsConfig {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthConfig {
    pub mode: AuthMode,
    /// The bearer token of `static-token` mode.
    pub token: Option<Secret>,
    /// The `iss` a JWT must carry (`jwt` mode).
    pub issuer: Option<String>,
    /// The `aud` a JWT must carry (`jwt` mode; unchecked when unset).
    pub audience: Option<String>,
    /// Where the issuer's signing keys are published (`jwt` mode).
    pub jwks_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    #[default]
    None,
    StaticToken,
    Jwt,
}

impl AuthMode {
    const NAMES: [(&'static str, AuthMode); 3] = [
        ("none", AuthMode::None),
        ("static-token", AuthMode::StaticToken),
        ("jwt", AuthMode::Jwt),
    ];

    pub fn name(self) -> &'static str {
        Self::NAMES.iter().find(|(_, m)| *m == self).unwrap().0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitoringConfig {
    pub address: HostPort,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// A tracing filter: `info`, or directives such as `info,apsis_server=debug`.
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            engine: EngineConfig {
                data_dir: PathBuf::from("./data"),
                max_batch: 4096,
                queue_capacity: 65_536,
                snapshot_every_bytes: 256 * 1024 * 1024,
                fsync: true,
            },
            gateway: GatewayConfig {
                address: HostPort::new("127.0.0.1", 26500),
                max_message_size: 4 * 1024 * 1024,
                tls: TlsConfig::default(),
                auth: AuthConfig::default(),
            },
            monitoring: MonitoringConfig {
                address: HostPort::new("127.0.0.1", 9600),
            },
            log: LogConfig {
                level: "info".into(),
                format: LogFormat::Text,
            },
        }
    }
}

/// `HOST:PORT`, where HOST is a name, an IPv4 address or a bracketed IPv6 address; port 0 picks a free port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

impl HostPort {
    pub fn new(host: impl Into<String>, port: u16) -> HostPort {
        HostPort {
            host: host.into(),
            port,
        }
    }

    fn parse(text: &str) -> Option<HostPort> {
        let (host, port) = text.rsplit_once(':')?;
        let port = port.parse::<u16>().ok()?;
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
        let valid = match bare {
            Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
            None => {
                !host.is_empty()
                    && host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            }
        };
        valid.then(|| HostPort::new(host, port))
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// A value never shown: `Debug`, `--print-config` and logs print a mask.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub const MASK: &'static str = "********";

    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Secret::MASK)
    }
}

/// Where a value came from.
impl Config {
    /// Sets one key from one layer's value; `Err` says what was expected.
    fn set(&mut self, key: &str, raw: Raw<'_>) -> Result<(), String> {
        let e = &mut self.engine;
        let g = &mut self.gateway;
        match key {
            "engine.data_dir" => e.data_dir = PathBuf::from(non_empty(raw)?),
            "engine.max_batch" => e.max_batch = size(raw)?,
            "engine.queue_capacity" => e.queue_capacity = size(raw)?,
            "engine.snapshot_every_bytes" => e.snapshot_every_bytes = positive(raw)?,
            "engine.fsync" => e.fsync = raw.boolean().ok_or("true or false")?,
            "gateway.address" => g.address = host_port(raw)?,
            "gateway.max_message_size" => g.max_message_size = size(raw)?,
            "gateway.tls.cert" => g.tls.cert = optional(raw, non_empty)?.map(PathBuf::from),
            "gateway.tls.key" => g.tls.key = optional(raw, non_empty)?.map(PathBuf::from),
            "gateway.auth.mode" => g.auth.mode = choice(raw, &AuthMode::NAMES)?,
            "gateway.auth.token" => g.auth.token = optional(raw, non_empty)?.map(Secret),
            "gateway.auth.issuer" => g.auth.issuer = optional(raw, non_empty)?,
            "gateway.auth.audience" => g.auth.audience = optional(raw, non_empty)?,
            "gateway.auth.jwks_url" => g.auth.jwks_url = optional(raw, url)?,
            "monitoring.address" => self.monitoring.address = host_port(raw)?,
            "log.level" => self.log.level = log_filter(raw)?,
            "log.format" => {
                self.log.format =
                    choice(raw, &[("text", LogFormat::Text), ("json", LogFormat::Json)])?
            }
            _ => unreachable!("every key of KEYS is handled, and only those are set: {key}"),
        }
        Ok(())
    }

    /// The value of a key as a TOML literal (secrets masked); `None` when unset.
    fn get(&self, key: &str) -> Option<String> {
        let text = |s: &str| toml::Value::String(s.to_owned()).to_string();
        let path = |p: &Path| text(&p.display().to_string());
        let e = &self.engine;
        let g = &self.gateway;
        Some(match key {
            "engine.data_dir" => path(&e.data_dir),
            "engine.max_batch" => e.max_batch.to_string(),
            "engine.queue_capacity" => e.queue_capacity.to_string(),
            "engine.snapshot_every_bytes" => e.snapshot_every_bytes.to_string(),
            "engine.fsync" => e.fsync.to_string(),
            "gateway.address" => text(&g.address.to_string()),
            "gateway.max_message_size" => g.max_message_size.to_string(),
            "gateway.tls.cert" => path(g.tls.cert.as_deref()?),
            "gateway.tls.key" => path(g.tls.key.as_deref()?),
            "gateway.auth.mode" => text(g.auth.mode.name()),
            "gateway.auth.token" => g.auth.token.as_ref().map(|_| text(Secret::MASK))?,
            "gateway.auth.issuer" => text(g.auth.issuer.as_deref()?),
            "gateway.auth.audience" => text(g.auth.audience.as_deref()?),
            "gateway.auth.jwks_url" => text(g.auth.jwks_url.as_deref()?),
            "monitoring.address" => text(&self.monitoring.address.to_string()),
            "log.level" => text(&self.log.level),
            "log.format" => text(self.log.format.name()),
            _ => unreachable!("every key of KEYS is handled: {key}"),
        })
    }

    /// Keys that only make sense together.
    fn check(&self) -> Result<(), Error> {
        let tls = &self.gateway.tls;
        match (&tls.cert, &tls.key) {
            (Some(_), None) => return Err(missing("gateway.tls.key", "gateway.tls.cert is set")),
            (None, Some(_)) => return Err(missing("gateway.tls.cert", "gateway.tls.key is set")),
            _ => {}
        }
        let auth = &self.gateway.auth;
        match auth.mode {
            AuthMode::None => {}
            AuthMode::StaticToken if auth.token.is_none() => {
                return Err(missing(
                    "gateway.auth.token",
                    "gateway.auth.mode is 'static-token'",
                ))
            }
            AuthMode::StaticToken => {}
            AuthMode::Jwt => {
                for (key, value) in [
                    ("gateway.auth.issuer", &auth.issuer),
                    ("gateway.auth.jwks_url", &auth.jwks_url),
                ] {
                    if value.is_none() {
                        return Err(missing(key, "gateway.auth.mode is 'jwt'"));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
