//! The settings every function reads the same way, from flags and an environment map. Like each function's own
//! `config` module, this one takes the environment as a map ([`read_env`] is the only read of the process's), so
//! every rule is tested without touching it, and each error names the flag or variable a bad value came from.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::RangeInclusive;

use crate::Error;

/// Where the function listens by default: of-watchdog's `upstream_url` in every Dockerfile.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8082";

/// Every variable this crate reads (a function's `config` reads these as well as its own).
pub const VARIABLES: &[&str] = &[
    "APSIS_LISTEN",
    "upstream_url",
    "APSIS_STDIN_LIFELINE",
    "APSIS_LOG_LEVEL",
    "APSIS_DATA_ROOTS",
];

/// The variables of [`VARIABLES`] and of `more` that are set. The only read of the process environment.
pub fn read_env<'a>(more: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, String> {
    VARIABLES
        .iter()
        .copied()
        .chain(more)
        .filter_map(|name| Some((name.to_owned(), std::env::var(name).ok()?)))
        .collect()
}

/// The environment map of `pairs`, for code (and tests) that resolve settings without the process environment.
pub fn env_of(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// `env[name]`, trimmed, unless it is unset or blank; with the origin messages name.
pub fn var(env: &BTreeMap<String, String>, name: &'static str) -> Option<(String, String)> {
    env.get(name)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(|v| (v.to_owned(), name.to_owned()))
}

/// A true/false variable (`true`/`1`/`yes`/`on`, `false`/`0`/`no`/`off`, any case); unset is false.
pub fn flag(env: &BTreeMap<String, String>, name: &'static str) -> Result<bool, Error> {
    match var(env, name) {
        None => Ok(false),
        Some((text, origin)) => match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(Error::Setting {
                name,
                origin,
                expected: "true or false",
                found: text,
            }),
        },
    }
}

/// A whole-number variable within `range` (`default` when unset); `expected` says what it must be, in the error.
pub fn number(
    env: &BTreeMap<String, String>,
    name: &'static str,
    default: u64,
    range: RangeInclusive<u64>,
    expected: &'static str,
) -> Result<u64, Error> {
    match var(env, name) {
        None => Ok(default),
        Some((text, origin)) => match text.parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(Error::Setting {
                name,
                origin,
                expected,
                found: text,
            }),
        },
    }
}

/// The settings every function shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Common {
    pub listen: SocketAddr,
    /// Exit when stdin reaches EOF: set by the local runtime, which holds our stdin open while it lives.
    pub stdin_lifeline: bool,
    /// A tracing filter such as `info` or `info,apsis_otbcli=debug`.
    pub log_level: String,
}

impl Common {
    /// The listen address is `listen_flag` (`--listen`), else `APSIS_LISTEN` (what the local runtime sets), else
    /// the host and port of of-watchdog's `upstream_url` (the watchdog's environment is the function's), else
    /// [`DEFAULT_LISTEN`].
    pub fn resolve(
        listen_flag: Option<&str>,
        env: &BTreeMap<String, String>,
    ) -> Result<Common, Error> {
        let listen = match (listen_flag, var(env, "APSIS_LISTEN")) {
            (Some(flag), _) => socket_address(flag, "--listen")?,
            (None, Some((text, origin))) => socket_address(&text, &origin)?,
            (None, None) => match var(env, "upstream_url") {
                Some((url, _)) => upstream_address(&url)?,
                None => socket_address(DEFAULT_LISTEN, "the default")?,
            },
        };
        Ok(Common {
            listen,
            stdin_lifeline: flag(env, "APSIS_STDIN_LIFELINE")?,
            log_level: var(env, "APSIS_LOG_LEVEL").map_or_else(|| "info".to_owned(), |(v, _)| v),
        })
    }

    /// The shared settings as TOML lines, for a function's `--print-config`.
    pub fn to_display(&self) -> String {
        format!(
            "listen = \"{}\"\nstdin_lifeline = {}\nlog_level = \"{}\"\n",
            self.listen, self.stdin_lifeline, self.log_level
        )
    }
}

fn socket_address(text: &str, origin: &str) -> Result<SocketAddr, Error> {
    text.trim().parse().map_err(|_| Error::Setting {
        name: "the listen address",
        origin: origin.to_owned(),
        expected: "an IP address and port such as 127.0.0.1:8082 or 0.0.0.0:8082",
        found: text.to_owned(),
    })
}

/// `http://127.0.0.1:8082` (of-watchdog's form; `localhost` is the loopback address) -> `127.0.0.1:8082`.
fn upstream_address(url: &str) -> Result<SocketAddr, Error> {
    let authority = url
        .strip_prefix("http://")
        .map(|rest| rest.split('/').next().unwrap_or_default());
    let address = authority.map(|a| match a.strip_prefix("localhost:") {
        Some(port) => format!("127.0.0.1:{port}"),
        None => a.to_owned(),
    });
    address
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| Error::Setting {
            name: "the listen address",
            origin: "upstream_url".to_owned(),
            expected: "an http URL of an IP address and port such as http://127.0.0.1:8082",
            found: url.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::env_of as env;

    #[test]
    fn the_listen_address_comes_from_the_flag_then_apsis_listen_then_upstream_url() {
        let listen = |flag: Option<&str>, pairs: &[(&str, &str)]| {
            Common::resolve(flag, &env(pairs)).map(|c| c.listen.to_string())
        };
        assert_eq!(listen(None, &[]).unwrap(), DEFAULT_LISTEN);
        let all = [
            ("APSIS_LISTEN", "127.0.0.1:7"),
            ("upstream_url", "http://127.0.0.1:9"),
        ];
        assert_eq!(listen(Some("0.0.0.0:5"), &all).unwrap(), "0.0.0.0:5");
        assert_eq!(listen(None, &all).unwrap(), "127.0.0.1:7");
        assert_eq!(listen(None, &all[1..]).unwrap(), "127.0.0.1:9");
        let localhost = [("upstream_url", "http://localhost:8090/")];
        assert_eq!(listen(None, &localhost).unwrap(), "127.0.0.1:8090");
        let e = listen(None, &[("APSIS_LISTEN", "localhost")]).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "Expected the listen address (from APSIS_LISTEN) to be an IP address and port"
            ),
            "{e}"
        );
        let e = listen(None, &[("upstream_url", "https://gw:8082")]).unwrap_err();
        assert!(e.to_string().contains("(from upstream_url)"), "{e}");
    }

    #[test]
    fn numbers_within_their_range() {
        let n = |text: &str| {
            number(
                &env(&[("N", text)]),
                "N",
                7,
                1..=10,
                "a number from 1 to 10",
            )
        };
        assert_eq!(number(&env(&[]), "N", 7, 1..=10, "").unwrap(), 7);
        assert_eq!(n(" 10 ").unwrap(), 10);
        for bad in ["0", "11", "-1", "lots"] {
            let e = n(bad).unwrap_err().to_string();
            assert_eq!(
                e,
                format!("Expected N (from N) to be a number from 1 to 10, but found '{bad}'")
            );
        }
    }

    #[test]
    fn the_lifeline_and_the_log_level() {
        let c = Common::resolve(None, &env(&[])).unwrap();
        assert_eq!((c.stdin_lifeline, c.log_level.as_str()), (false, "info"));
        for on in ["1", "true", "YES", "on"] {
            let c = Common::resolve(None, &env(&[("APSIS_STDIN_LIFELINE", on)])).unwrap();
            assert!(c.stdin_lifeline, "{on}");
        }
        let c = Common::resolve(
            None,
            &env(&[
                ("APSIS_STDIN_LIFELINE", "0"),
                ("APSIS_LOG_LEVEL", " debug "),
            ]),
        )
        .unwrap();
        assert_eq!((c.stdin_lifeline, c.log_level.as_str()), (false, "debug"));
        assert!(c.to_display().contains("log_level = \"debug\""));
        let e = Common::resolve(None, &env(&[("APSIS_STDIN_LIFELINE", "maybe")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Expected APSIS_STDIN_LIFELINE (from APSIS_STDIN_LIFELINE) to be true or false, but found 'maybe'"
        );
    }
}
