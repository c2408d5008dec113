//! What a client needs to reach a gateway. Deserializable (the worker daemon reads them from its TOML file), resolved
//! from flags and the environment by [`crate::env::resolve`]; `Debug` masks every secret.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::address::{self, Target};
use crate::Error;

/// Where Camunda SaaS issues tokens: the authorization server zbctl and the Java client use when none is given.
pub const SAAS_AUTHORIZATION_SERVER_URL: &str = "https://login.cloud.camunda.io/oauth/token";

/// A gateway connection's settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientOptions {
    /// `http://`, `https://`, `grpc://`, `grpcs://` or a bare `host:port` (port 26500 when none).
    pub address: String,
    /// TLS on or off whatever the address says; `None` lets the address decide (see [`ClientOptions::target`]).
    pub tls: Option<bool>,
    /// A PEM file of the CA(s) to trust instead of the system's and Mozilla's roots (a self-signed gateway).
    pub ca_certificate: Option<PathBuf>,
    pub auth: Auth,
    /// How long connecting (TCP, TLS, the first OAuth token) may take.
    #[serde(rename = "connect_timeout_ms", with = "millis")]
    pub connect_timeout: Duration,
    /// HTTP/2 keepalive pings at this interval, also while idle, so a proxy does not cut a worker's long poll
    /// silently; zero turns them off.
    #[serde(rename = "keepalive_ms", with = "millis")]
    pub keepalive: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            address: address::DEFAULT_ADDRESS.to_owned(),
            tls: None,
            ca_certificate: None,
            auth: Auth::None,
            connect_timeout: Duration::from_secs(5),
            // The Zeebe Java client's default keepalive.
            keepalive: Duration::from_secs(45),
        }
    }
}

/// How calls are authenticated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Auth {
    #[default]
    None,
    /// `authorization: Bearer <token>` on every call (an Apsis gateway in `static-token` mode, or a token obtained
    /// elsewhere).
    StaticToken { token: Secret },
    /// Tokens from an OAuth 2.0 authorization server (client credentials grant), as Camunda 8 requires.
    #[serde(rename = "oauth")]
    OAuth(OAuthOptions),
}

/// OAuth 2.0 client credentials.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthOptions {
    pub client_id: String,
    pub client_secret: Secret,
    /// The token endpoint.
    #[serde(default = "saas_authorization_server_url")]
    pub authorization_server_url: String,
    /// The `audience` asked for; `None`: the gateway's host, as Zeebe's clients do.
    #[serde(default)]
    pub audience: Option<String>,
    /// The `scope` asked for (some servers, e.g. Microsoft Entra, require one).
    #[serde(default)]
    pub scope: Option<String>,
}

fn saas_authorization_server_url() -> String {
    SAAS_AUTHORIZATION_SERVER_URL.to_owned()
}

/// A value that must not be shown: `Debug` prints `***`; [`Secret::expose`] is the one way to read it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// For command-line parsers (clap takes any `From<String>`).
impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl ClientOptions {
    /// Where to connect, and whether with TLS: an explicit [`ClientOptions::tls`] wins; else the scheme decides
    /// (`https`/`grpcs` on, `http`/`grpc` off); a bare `host:port` uses TLS when a CA certificate or OAuth
    /// credentials are configured or the port is 443 (how Camunda SaaS hands out its address), and plaintext
    /// otherwise (a local Apsis). Zeebe's own clients default to TLS; ours defaults to the local engine.
    pub fn target(&self) -> Result<Target, Error> {
        self.target_from(&self.address, "the client options")
    }

    pub(crate) fn target_from(&self, address: &str, origin: &str) -> Result<Target, Error> {
        let parsed = address::parse(address).map_err(|reason| Error::Address {
            value: address.to_owned(),
            origin: origin.to_owned(),
            reason,
        })?;
        let implied = self.ca_certificate.is_some()
            || matches!(self.auth, Auth::OAuth(_))
            || parsed.port == 443;
        let tls = self.tls.or(parsed.scheme_tls).unwrap_or(implied);
        Ok(parsed.target(tls))
    }
}

/// A `Duration` as whole milliseconds, the unit Zeebe's settings use.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth() -> Auth {
        Auth::OAuth(OAuthOptions {
            client_id: "worker".to_owned(),
            client_secret: Secret::new("very-secret-1"),
            authorization_server_url: SAAS_AUTHORIZATION_SERVER_URL.to_owned(),
            audience: None,
            scope: None,
        })
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let mut o = ClientOptions {
            auth: oauth(),
            ..ClientOptions::default()
        };
        let shown = format!("{o:?} {o:#?}");
        assert!(!shown.contains("very-secret-1"), "{shown}");
        assert!(shown.contains("worker") && shown.contains("***"), "{shown}");
        o.auth = Auth::StaticToken {
            token: Secret::new("tok-2"),
        };
        assert!(!format!("{o:?}").contains("tok-2"));
    }

    #[test]
    fn the_scheme_or_an_explicit_flag_decides_tls() {
        let at = |address: &str, tls: Option<bool>, auth: Auth| {
            let o = ClientOptions {
                address: address.to_owned(),
                tls,
                auth,
                ..ClientOptions::default()
            };
            o.target().unwrap()
        };
        assert!(!at("h:1", None, Auth::None).tls);
        assert!(at("h:443", None, Auth::None).tls);
        assert!(at("h:1", None, oauth()).tls);
        assert!(!at("http://h:1", None, oauth()).tls);
        assert!(at("https://h:1", None, Auth::None).tls);
        assert!(at("h:1", Some(true), Auth::None).tls);
        assert!(!at("https://h:1", Some(false), Auth::None).tls);
        assert_eq!(
            at("grpcs://h:1", None, Auth::None).url,
            "https://h:1".to_owned()
        );
        let with_ca = ClientOptions {
            address: "h:1".to_owned(),
            ca_certificate: Some("ca.pem".into()),
            ..ClientOptions::default()
        };
        assert!(with_ca.target().unwrap().tls);
    }

    #[test]
    fn options_deserialize_from_toml() {
        let o: ClientOptions = toml::from_str(
            "address = \"grpcs://gw.example:443\"\nconnect_timeout_ms = 2000\n\
             [auth]\nmode = \"oauth\"\nclient_id = \"c\"\nclient_secret = \"s\"\naudience = \"zeebe-api\"\n",
        )
        .unwrap();
        assert_eq!(o.connect_timeout, Duration::from_secs(2));
        assert_eq!(o.keepalive, Duration::from_secs(45));
        let Auth::OAuth(oauth) = &o.auth else {
            panic!("{o:?}")
        };
        assert_eq!(oauth.client_secret.expose(), "s");
        assert_eq!(
            oauth.authorization_server_url,
            SAAS_AUTHORIZATION_SERVER_URL
        );
        let o: ClientOptions =
            toml::from_str("[auth]\nmode = \"static-token\"\ntoken = \"t\"\n").unwrap();
        assert_eq!(
            o.auth,
            Auth::StaticToken {
                token: Secret::new("t")
            }
        );
        assert!(toml::from_str::<ClientOptions>("adress = \"h\"").is_err());
    }
}
