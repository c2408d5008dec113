//! The client commands' configuration: which gateway to talk to. `--address` wins, then `APSIS_ADDRESS`, then
//! `ZEEBE_ADDRESS` (what zbctl and the Java client read) and `ZEEBE_GRPC_ADDRESS` (what `@camunda8/sdk` reads), so
//! an existing shell setup just works, then `http://127.0.0.1:26500`. This is the only place the client commands
//! read the environment.

/// Where the gateway is when nothing says otherwise.
pub const DEFAULT_ADDRESS: &str = "http://127.0.0.1:26500";
/// Zeebe's gateway port, added when an address names none (as zbctl does).
const DEFAULT_PORT: u16 = 26500;
/// The environment variables read, in order of precedence.
pub const ENV_VARS: [&str; 3] = ["APSIS_ADDRESS", "ZEEBE_ADDRESS", "ZEEBE_GRPC_ADDRESS"];

/// The environment variables this module reads, with their values (set and not empty).
pub fn from_env() -> Vec<(&'static str, String)> {
    ENV_VARS
        .iter()
        .filter_map(|name| {
            let value = std::env::var(name).ok()?;
            (!value.trim().is_empty()).then_some((*name, value))
        })
        .collect()
}

/// The gateway address as a URL tonic connects to: the flag, else the first environment variable set, else the
/// default. A bare `host:port` (zbctl's form) gets `http://`; an address without a port gets 26500.
pub fn resolve(flag: Option<&str>, env: &[(&str, String)]) -> Result<String, String> {
    let (value, origin) = match (flag, env.first()) {
        (Some(flag), _) => (flag.to_owned(), "--address".to_owned()),
        (None, Some((name, value))) => (value.clone(), (*name).to_owned()),
        (None, None) => (DEFAULT_ADDRESS.to_owned(), "the default".to_owned()),
    };
    normalize(value.trim()).map_err(|why| {
        format!("Expected the gateway address '{value}' (from {origin}) to be http://HOST:PORT or HOST:PORT, but {why}")
    })
}

fn normalize(value: &str) -> Result<String, String> {
    let authority = match value.split_once("://") {
        None => value,
        Some(("http" | "grpc", rest)) => rest,
        Some(("https" | "grpcs", _)) => {
            return Err(
                "TLS is not supported by the apsis CLI yet; reach the gateway over plaintext (for example through \
                 a port-forward) or use zbctl for a TLS gateway"
                    .to_owned(),
            )
        }
        Some((scheme, _)) => return Err(format!("'{scheme}' is not a gateway scheme")),
    };
    let authority = authority.trim_end_matches('/');
    if authority.is_empty() || authority.contains('/') {
        return Err("it has no host or has a path".to_owned());
    }
    let has_port = match authority.rsplit_once(':') {
        // An IPv6 literal without a port ends in ']'.
        Some((_, port)) if !port.ends_with(']') => {
            port.parse::<u16>()
                .map_err(|_| format!("its port '{port}' is not a number from 0 to 65535"))?;
            true
        }
        _ => false,
    };
    let with_port = if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:{DEFAULT_PORT}")
    };
    let url = format!("http://{with_port}");
    url.parse::<tonic::transport::Uri>()
        .map_err(|e| format!("it is not a valid URL ({e})"))?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_then_apsis_then_zeebe_then_the_default() {
        let env = vec![
            ("APSIS_ADDRESS", "http://a:1".to_owned()),
            ("ZEEBE_ADDRESS", "z:2".to_owned()),
        ];
        assert_eq!(resolve(Some("f:3"), &env).unwrap(), "http://f:3");
        assert_eq!(resolve(None, &env).unwrap(), "http://a:1");
        assert_eq!(resolve(None, &env[1..]).unwrap(), "http://z:2");
        let sdk = [("ZEEBE_GRPC_ADDRESS", "grpc://s:4".to_owned())];
        assert_eq!(resolve(None, &sdk).unwrap(), "http://s:4");
        assert_eq!(resolve(None, &[]).unwrap(), DEFAULT_ADDRESS);
    }

    #[test]
    fn zbctl_forms_are_accepted() {
        assert_eq!(normalize("localhost").unwrap(), "http://localhost:26500");
        assert_eq!(
            normalize("http://127.0.0.1:26500/").unwrap(),
            "http://127.0.0.1:26500"
        );
        assert_eq!(normalize("[::1]").unwrap(), "http://[::1]:26500");
        assert_eq!(normalize("[::1]:9").unwrap(), "http://[::1]:9");
        assert_eq!(normalize("grpc://h:1").unwrap(), "http://h:1");
    }

    #[test]
    fn bad_addresses_say_why_and_where_from() {
        let e = resolve(Some("https://h:1"), &[]).unwrap_err();
        assert!(e.contains("(from --address)") && e.contains("TLS"), "{e}");
        let e = resolve(None, &[("ZEEBE_ADDRESS", "h:port".to_owned())]).unwrap_err();
        assert!(
            e.contains("(from ZEEBE_ADDRESS)") && e.contains("'port'"),
            "{e}"
        );
        assert!(normalize("ftp://h:1").is_err());
        assert!(normalize("http://h:1/x").is_err());
    }
}
