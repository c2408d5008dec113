//! Gateway addresses in every form Zeebe clients accept: `http://` and `grpc://` (plaintext), `https://` and
//! `grpcs://` (TLS), or a bare `host:port` as zbctl and the Java client take it. A missing port is 26500.

/// Where the gateway is when nothing says otherwise.
pub const DEFAULT_ADDRESS: &str = "http://127.0.0.1:26500";
/// Zeebe's gateway port, added when an address names none (as zbctl does).
pub const DEFAULT_PORT: u16 = 26500;

/// Where to connect and how: the URL tonic dials (`http://` or `https://`, always with a port) and its host, which
/// is also the name the gateway's certificate must carry and the default OAuth audience.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub url: String,
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

/// What the text of an address says: its host and port, and whether its scheme asks for TLS (none: no scheme).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub host: String,
    pub port: u16,
    pub scheme_tls: Option<bool>,
}

/// Reads an address; the error completes "Expected the gateway address ... to be ..., but {reason}".
pub(crate) fn parse(value: &str) -> Result<Parsed, String> {
    let value = value.trim();
    let (scheme_tls, authority) = match value.split_once("://") {
        None => (None, value),
        Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
            "http" | "grpc" => (Some(false), rest),
            "https" | "grpcs" => (Some(true), rest),
            _ => return Err(format!("'{scheme}' is not a gateway scheme")),
        },
    };
    let authority = authority.trim_end_matches('/');
    if authority.is_empty() || authority.contains('/') {
        return Err("it has no host or has a path".to_owned());
    }
    let (host, port) = match authority.rsplit_once(':') {
        // An IPv6 literal without a port ends in ']'.
        Some((host, port)) if !port.ends_with(']') => {
            let port = port
                .parse::<u16>()
                .map_err(|_| format!("its port '{port}' is not a number from 0 to 65535"))?;
            (host, port)
        }
        _ => (authority, DEFAULT_PORT),
    };
    if host.is_empty() {
        return Err("it has no host".to_owned());
    }
    let parsed = Parsed {
        host: host.to_owned(),
        port,
        scheme_tls,
    };
    parsed
        .url(false)
        .parse::<http::Uri>()
        .map_err(|e| format!("it is not a valid URL ({e})"))?;
    Ok(parsed)
}

impl Parsed {
    fn url(&self, tls: bool) -> String {
        let scheme = if tls { "https" } else { "http" };
        format!("{scheme}://{}:{}", self.host, self.port)
    }

    /// The target, with TLS decided by `tls`.
    pub fn target(&self, tls: bool) -> Target {
        Target {
            url: self.url(tls),
            host: self
                .host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port: self.port,
            tls,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(value: &str) -> String {
        let p = parse(value).unwrap();
        p.target(p.scheme_tls.unwrap_or(false)).url
    }

    #[test]
    fn zbctl_and_sdk_forms_are_accepted() {
        assert_eq!(url("localhost"), "http://localhost:26500");
        assert_eq!(url("http://127.0.0.1:26500/"), "http://127.0.0.1:26500");
        assert_eq!(url("[::1]"), "http://[::1]:26500");
        assert_eq!(url("[::1]:9"), "http://[::1]:9");
        assert_eq!(url("grpc://h:1"), "http://h:1");
        assert_eq!(url("grpcs://h:1"), "https://h:1");
        assert_eq!(url("HTTPS://h"), "https://h:26500");
        assert_eq!(parse("h:443").unwrap().scheme_tls, None);
        assert_eq!(parse("[::1]:9").unwrap().target(true).host, "::1");
    }

    #[test]
    fn bad_addresses_say_why() {
        assert_eq!(
            parse("ftp://h:1").unwrap_err(),
            "'ftp' is not a gateway scheme"
        );
        assert_eq!(
            parse("http://h:1/x").unwrap_err(),
            "it has no host or has a path"
        );
        assert_eq!(
            parse("h:port").unwrap_err(),
            "its port 'port' is not a number from 0 to 65535"
        );
        assert_eq!(parse(":1").unwrap_err(), "it has no host");
        assert!(parse("h h:1").unwrap_err().contains("not a valid URL"));
    }
}
