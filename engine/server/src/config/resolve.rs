//! The layers: where a value came from ([`Origin`]), the errors that name it, and [`Resolved::load`], which applies
//! defaults < file < environment < flags.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use super::values::Raw;
use super::{Config, CONFIG_ENV, KEYS};

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

/// An error for keys that only make sense together.
pub(super) fn missing(key: &'static str, because: &str) -> Error {
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
