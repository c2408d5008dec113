//! The configuration of `apsis engine`, resolved in layers: built-in defaults < TOML file (`--config FILE` or
//! `APSIS_CONFIG`) < environment (`APSIS_<SECTION>_<KEY>`, e.g. `APSIS_GATEWAY_ADDRESS`) < command-line flags.
//!
//! Every key is listed once in [`KEYS`]; its TOML name is `section.key` and its environment name is `APSIS_` plus the
//! TOML name upper-cased with `.` as `_`. Every error names where the bad value came from (file and line, variable or
//! flag), the key and what was expected. This module is the only code that reads the process environment
//! ([`process_env`]); everything else takes the environment as a map, so tests never touch the real one.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    File { path: PathBuf, line: usize },
    Env(String),
    Flag(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("the built-in default"),
            Origin::File { path, line } => write!(f, "{} line {line}", path.display()),
            Origin::Env(name) => f.write_str(name),
            Origin::Flag(flag) => f.write_str(flag),
        }
    }
}

/// Why the configuration could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Expected to read the config file {} (named by {named_by}), but it could not be read", path.display())]
    Read {
        path: PathBuf,
        named_by: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("Expected {} to be valid TOML, but at line {line}, column {column}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("Expected only known keys in {} (line {line}), but found '{key}'; known keys: {known}", path.display())]
    UnknownFileKey {
        path: PathBuf,
        line: usize,
        key: String,
        known: String,
    },
    #[error("Expected {name} to name a known key, but there is no key '{key}'; known variables: {known}")]
    UnknownEnv {
        name: String,
        key: String,
        known: String,
    },
    /// A value of the wrong shape: the message names the origin and the key.
    #[error(
        "Expected {} to be {expected}, but found '{found}'",
        describe(origin, key)
    )]
    Invalid {
        origin: Origin,
        key: &'static str,
        expected: String,
        found: String,
    },
    /// Keys that only make sense together.
    #[error("Expected {key} to be set when {because}, but it is not set")]
    Missing { key: &'static str, because: String },
}

fn describe(origin: &Origin, key: &str) -> String {
    match origin {
        Origin::File { .. } => format!("{key} in {origin}"),
        Origin::Default => format!("the default of {key}"),
        Origin::Env(_) | Origin::Flag(_) => origin.to_string(),
    }
}

/// A value from one layer: typed in TOML, text in the environment and on the command line.
#[derive(Debug, Clone, Copy)]
enum Raw<'a> {
    Text(&'a str),
    Toml(&'a DeValue<'a>),
}

impl Raw<'_> {
    fn found(&self) -> String {
        match self {
            Raw::Text(t) => (*t).to_owned(),
            Raw::Toml(v) => match v {
                DeValue::String(s) => s.to_string(),
                DeValue::Integer(i) => i.to_string(),
                DeValue::Float(x) => x.to_string(),
                DeValue::Boolean(b) => b.to_string(),
                DeValue::Datetime(d) => d.to_string(),
                DeValue::Array(_) => "an array".into(),
                DeValue::Table(_) => "a table".into(),
            },
        }
    }

    fn text(self) -> Option<String> {
        match self {
            Raw::Text(t) => Some(t.to_owned()),
            Raw::Toml(DeValue::String(s)) => Some(s.to_string()),
            Raw::Toml(_) => None,
        }
    }

    /// Unset for optional keys: an empty environment variable or flag.
    fn is_empty_text(self) -> bool {
        matches!(self, Raw::Text(""))
    }

    fn integer(self) -> Option<u64> {
        match self {
            Raw::Text(t) => t.trim().parse().ok(),
            Raw::Toml(DeValue::Integer(i)) => u64::from_str_radix(i.as_str(), i.radix()).ok(),
            Raw::Toml(_) => None,
        }
    }

    fn boolean(self) -> Option<bool> {
        match self {
            Raw::Text(t) => match t.trim() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            Raw::Toml(DeValue::Boolean(b)) => Some(*b),
            Raw::Toml(_) => None,
        }
    }
}

fn positive(raw: Raw<'_>) -> Result<u64, &'static str> {
    raw.integer().filter(|n| *n > 0).ok_or("a positive integer")
}

fn size(raw: Raw<'_>) -> Result<usize, &'static str> {
    positive(raw).and_then(|n| usize::try_from(n).map_err(|_| "a positive integer"))
}

fn host_port(raw: Raw<'_>) -> Result<HostPort, &'static str> {
    raw.text()
        .and_then(|t| HostPort::parse(t.trim()))
        .ok_or("HOST:PORT")
}

fn non_empty(raw: Raw<'_>) -> Result<String, &'static str> {
    raw.text()
        .filter(|t| !t.trim().is_empty())
        .ok_or("a non-empty string")
}

fn optional<T>(
    raw: Raw<'_>,
    parse: impl FnOnce(Raw<'_>) -> Result<T, &'static str>,
) -> Result<Option<T>, &'static str> {
    if raw.is_empty_text() {
        Ok(None)
    } else {
        parse(raw).map(Some)
    }
}

fn url(raw: Raw<'_>) -> Result<String, &'static str> {
    raw.text()
        .filter(|t| {
            let rest = t
                .strip_prefix("https://")
                .or_else(|| t.strip_prefix("http://"));
            rest.is_some_and(|r| !r.is_empty())
        })
        .ok_or("an http:// or https:// URL")
}

fn choice<T: Copy>(raw: Raw<'_>, names: &[(&'static str, T)]) -> Result<T, String> {
    raw.text()
        .and_then(|t| names.iter().find(|(n, _)| *n == t.trim()).map(|(_, v)| *v))
        .ok_or_else(|| {
            let names: Vec<_> = names.iter().map(|(n, _)| *n).collect();
            format!("one of {}", names.join(", "))
        })
}

fn log_filter(raw: Raw<'_>) -> Result<String, &'static str> {
    const EXPECTED: &str =
        "a log filter such as 'info' or 'info,apsis_server=debug' (levels: trace, debug, info, warn, error, off)";
    let text = raw.text().ok_or(EXPECTED)?;
    tracing_subscriber::EnvFilter::builder()
        .parse(text.trim())
        .map(|_| text.trim().to_owned())
        .map_err(|_| EXPECTED)
}

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

fn missing(key: &'static str, because: &str) -> Error {
    Error::Missing {
        key,
        because: because.into(),
    }
}

/// The environment variable of a key: `gateway.tls.cert` -> `APSIS_GATEWAY_TLS_CERT`.
pub fn env_name(key: &str) -> String {
    format!("APSIS_{}", key.replace('.', "_").to_ascii_uppercase())
}

/// The `APSIS_*` variables of this process. The only place the process environment is read.
pub fn process_env() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| k.starts_with("APSIS_"))
        .collect()
}

/// Values given on the command line, each for one key.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--config FILE`.
    pub config: Option<PathBuf>,
    /// `(key, flag as typed, value)`, e.g. `("engine.data_dir", "--data-dir", "/var/lib/apsis")`.
    pub values: Vec<(&'static str, &'static str, String)>,
}

impl Flags {
    pub fn set(&mut self, key: &'static str, flag: &'static str, value: Option<impl Into<String>>) {
        debug_assert!(KEYS.contains(&key), "{key} is a config key");
        if let Some(v) = value {
            self.values.push((key, flag, v.into()));
        }
    }
}

/// The configuration and where each value came from.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub config: Config,
    origins: BTreeMap<&'static str, Origin>,
}

impl Resolved {
    /// Resolves defaults < file < environment < flags.
    pub fn load(flags: &Flags, env: &BTreeMap<String, String>) -> Result<Resolved, Error> {
        let mut resolved = Resolved {
            config: Config::default(),
            origins: BTreeMap::new(),
        };
        let file = match (&flags.config, env.get(CONFIG_ENV)) {
            (Some(path), _) => Some((path.clone(), "--config")),
            (None, Some(path)) if !path.is_empty() => Some((PathBuf::from(path), CONFIG_ENV)),
            _ => None,
        };
        if let Some((path, named_by)) = file {
            let text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
                path: path.clone(),
                named_by,
                source,
            })?;
            resolved.apply_file(&path, &text)?;
        }
        resolved.apply_env(env)?;
        for (key, flag, value) in &flags.values {
            let key = known(key);
            resolved.apply(key, Raw::Text(value), Origin::Flag(flag))?;
        }
        resolved.config.check()?;
        Ok(resolved)
    }

    /// Where a key's value came from.
    pub fn origin(&self, key: &str) -> &Origin {
        self.origins.get(key).unwrap_or(&Origin::Default)
    }

    fn apply(&mut self, key: &'static str, raw: Raw<'_>, origin: Origin) -> Result<(), Error> {
        match self.config.set(key, raw) {
            Ok(()) => {
                self.origins.insert(key, origin);
                Ok(())
            }
            Err(expected) => Err(Error::Invalid {
                origin,
                key,
                expected,
                found: raw.found(),
            }),
        }
    }

    fn apply_file(&mut self, path: &Path, text: &str) -> Result<(), Error> {
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let table = DeTable::parse(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            let line = line_of(offset);
            let line_start = text[..offset.min(text.len())]
                .rfind('\n')
                .map_or(0, |i| i + 1);
            Error::Syntax {
                path: path.to_owned(),
                line,
                column: offset - line_start + 1,
                message: e.message().trim().to_owned(),
            }
        })?;
        let mut values = Vec::new();
        flatten("", table.get_ref(), &mut values);
        for (name, span, value) in values {
            let line = line_of(span);
            let origin = Origin::File {
                path: path.to_owned(),
                line,
            };
            let Some(key) = KEYS.iter().copied().find(|k| *k == name) else {
                // A table named like a section or a nested group (`[gateway.tls]`) that is not one is unknown too.
                return Err(Error::UnknownFileKey {
                    path: path.to_owned(),
                    line,
                    known: known_near(&name),
                    key: name,
                });
            };
            self.apply(key, Raw::Toml(value), origin)?;
        }
        Ok(())
    }

    fn apply_env(&mut self, env: &BTreeMap<String, String>) -> Result<(), Error> {
        let sections = sections();
        for (name, value) in env {
            if name == CONFIG_ENV {
                continue;
            }
            match KEYS.iter().copied().find(|k| env_name(k) == *name) {
                Some(key) => self.apply(key, Raw::Text(value), Origin::Env(name.clone()))?,
                None => {
                    // Variables of other programs (APSIS_WORKER_*, ...) are theirs; a typo in one of our sections
                    // would otherwise be ignored silently.
                    let ours = sections
                        .iter()
                        .find(|s| name.starts_with(&format!("{}_", env_name(s))));
                    if let Some(section) = ours {
                        let known: Vec<String> = KEYS
                            .iter()
                            .filter(|k| k.starts_with(&format!("{section}.")))
                            .map(|k| env_name(k))
                            .collect();
                        return Err(Error::UnknownEnv {
                            name: name.clone(),
                            key: name
                                .trim_start_matches("APSIS_")
                                .to_ascii_lowercase()
                                .replacen('_', ".", 1),
                            known: known.join(", "),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// The resolved configuration as TOML, secrets masked, each value's origin in a comment.
    pub fn to_toml(&self) -> String {
        let mut out = String::from(
            "# apsis engine: resolved configuration (built-in defaults < file < APSIS_* environment < flags)\n",
        );
        let mut table = "";
        for key in KEYS {
            let (section, name) = key.rsplit_once('.').unwrap();
            if section != table {
                out.push_str(&format!("\n[{section}]\n"));
                table = section;
            }
            match self.config.get(key) {
                Some(value) => {
                    out.push_str(&format!("{name} = {value}"));
                    let origin = self.origin(key);
                    if *origin != Origin::Default {
                        out.push_str(&format!("  # from {origin}"));
                    }
                    out.push('\n');
                }
                None => out.push_str(&format!("# {name} = (not set)\n")),
            }
        }
        out
    }
}

fn known(key: &str) -> &'static str {
    KEYS.iter()
        .copied()
        .find(|k| *k == key)
        .unwrap_or_else(|| unreachable!("flags name config keys only: {key}"))
}

/// Top-level sections: `engine`, `gateway`, ...
fn sections() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = KEYS.iter().map(|k| k.split('.').next().unwrap()).collect();
    out.dedup();
    out
}

/// The keys that share the longest prefix with an unknown one, to point at the right section.
fn known_near(name: &str) -> String {
    let section = name.split('.').next().unwrap_or("");
    let near: Vec<&str> = KEYS
        .iter()
        .copied()
        .filter(|k| k.split('.').next() == Some(section))
        .collect();
    if near.is_empty() {
        format!("sections {}", sections().join(", "))
    } else {
        near.join(", ")
    }
}

/// Leaf values with their dotted names and the byte offset of their key.
fn flatten<'a>(
    prefix: &str,
    table: &'a DeTable<'a>,
    out: &mut Vec<(String, usize, &'a DeValue<'a>)>,
) {
    for (key, value) in table {
        let name = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        let is_group = KEYS.iter().any(|k| k.starts_with(&format!("{name}.")));
        match value.get_ref() {
            DeValue::Table(inner) if is_group => flatten(&name, inner, out),
            v => out.push((name, key.span().start, v)),
        }
    }
}

#[cfg(test)]
mod tests;
