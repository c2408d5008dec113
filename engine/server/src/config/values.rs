//! One layer's value of a key and the parsers that turn it into a typed value or say what was expected.

use toml::de::DeValue;

use super::HostPort;

/// A value from one layer: typed in TOML, text in the environment and on the command line.
#[derive(Debug, Clone, Copy)]
pub(super) enum Raw<'a> {
    Text(&'a str),
    Toml(&'a DeValue<'a>),
}

impl Raw<'_> {
    pub(super) fn found(&self) -> String {
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

    pub(super) fn text(self) -> Option<String> {
        match self {
            Raw::Text(t) => Some(t.to_owned()),
            Raw::Toml(DeValue::String(s)) => Some(s.to_string()),
            Raw::Toml(_) => None,
        }
    }

    /// Unset for optional keys: an empty environment variable or flag.
    pub(super) fn is_empty_text(self) -> bool {
        matches!(self, Raw::Text(""))
    }

    pub(super) fn integer(self) -> Option<u64> {
        match self {
            Raw::Text(t) => t.trim().parse().ok(),
            Raw::Toml(DeValue::Integer(i)) => u64::from_str_radix(i.as_str(), i.radix()).ok(),
            Raw::Toml(_) => None,
        }
    }

    pub(super) fn boolean(self) -> Option<bool> {
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

pub(super) fn positive(raw: Raw<'_>) -> Result<u64, &'static str> {
    raw.integer().filter(|n| *n > 0).ok_or("a positive integer")
}

pub(super) fn size(raw: Raw<'_>) -> Result<usize, &'static str> {
    positive(raw).and_then(|n| usize::try_from(n).map_err(|_| "a positive integer"))
}

pub(super) fn host_port(raw: Raw<'_>) -> Result<HostPort, &'static str> {
    raw.text()
        .and_then(|t| HostPort::parse(t.trim()))
        .ok_or("HOST:PORT")
}

pub(super) fn non_empty(raw: Raw<'_>) -> Result<String, &'static str> {
    raw.text()
        .filter(|t| !t.trim().is_empty())
        .ok_or("a non-empty string")
}

pub(super) fn optional<T>(
    raw: Raw<'_>,
    parse: impl FnOnce(Raw<'_>) -> Result<T, &'static str>,
) -> Result<Option<T>, &'static str> {
    if raw.is_empty_text() {
        Ok(None)
    } else {
        parse(raw).map(Some)
    }
}

pub(super) fn url(raw: Raw<'_>) -> Result<String, &'static str> {
    raw.text()
        .filter(|t| {
            let rest = t
                .strip_prefix("https://")
                .or_else(|| t.strip_prefix("http://"));
            rest.is_some_and(|r| !r.is_empty())
        })
        .ok_or("an http:// or https:// URL")
}

pub(super) fn choice<T: Copy>(raw: Raw<'_>, names: &[(&'static str, T)]) -> Result<T, String> {
    raw.text()
        .and_then(|t| names.iter().find(|(n, _)| *n == t.trim()).map(|(_, v)| *v))
        .ok_or_else(|| {
            let names: Vec<_> = names.iter().map(|(n, _)| *n).collect();
            format!("one of {}", names.join(", "))
        })
}

pub(super) fn log_filter(raw: Raw<'_>) -> Result<String, &'static str> {
    const EXPECTED: &str =
        "a log filter such as 'info' or 'info,apsis_server=debug' (levels: trace, debug, info, warn, error, off)";
    let text = raw.text().ok_or(EXPECTED)?;
    tracing_subscriber::EnvFilter::builder()
        .parse(text.trim())
        .map(|_| text.trim().to_owned())
        .map_err(|_| EXPECTED)
}
