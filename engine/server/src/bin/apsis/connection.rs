//! The client commands' connection flags, resolved with the environment by `apsis-client` (which also serves the
//! worker daemon), and its failures told as the CLI tells them: a sentence, what to check, and an exit code.

use std::path::PathBuf;

use apsis_client::env::{self, Flags};
use apsis_client::{Auth, ClientOptions, Secret};

use crate::client::Error;

/// The options every client command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct ClientArgs {
    /// The Zeebe gateway: http(s)://HOST:PORT, grpc(s)://HOST:PORT or HOST:PORT [default: $APSIS_ADDRESS, else
    /// $ZEEBE_ADDRESS, else $ZEEBE_GRPC_ADDRESS, else http://127.0.0.1:26500].
    #[arg(long, visible_alias = "gateway", value_name = "URL")]
    address: Option<String>,
    /// Use TLS whatever the address says [default: TLS for https:// and grpcs://, and for HOST:PORT when the port
    /// is 443 or a CA certificate or OAuth credentials are given].
    #[arg(long, conflicts_with = "insecure")]
    tls: bool,
    /// Use plaintext whatever the address says [also $ZEEBE_INSECURE_CONNECTION=true].
    #[arg(long)]
    insecure: bool,
    /// PEM file of the CA that signed the gateway's certificate, trusted instead of the system's roots
    /// [$ZEEBE_CA_CERTIFICATE_PATH, $CAMUNDA_CUSTOM_ROOT_CERT_PATH].
    #[arg(long, value_name = "PATH")]
    ca_cert: Option<PathBuf>,
    /// Bearer token sent with every call [$APSIS_TOKEN].
    #[arg(long, value_name = "TOKEN", conflicts_with = "client_id")]
    token: Option<Secret>,
    /// OAuth client id: tokens are fetched with the client credentials grant [$ZEEBE_CLIENT_ID, $CAMUNDA_CLIENT_ID].
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// OAuth client secret [$ZEEBE_CLIENT_SECRET, $CAMUNDA_CLIENT_SECRET].
    #[arg(long, value_name = "SECRET")]
    client_secret: Option<Secret>,
    /// OAuth token endpoint [$ZEEBE_AUTHORIZATION_SERVER_URL, $CAMUNDA_OAUTH_URL; default Camunda SaaS's,
    /// https://login.cloud.camunda.io/oauth/token].
    #[arg(long, value_name = "URL")]
    authorization_server_url: Option<String>,
    /// Audience of the OAuth token [$ZEEBE_TOKEN_AUDIENCE; default the gateway's host].
    #[arg(long, value_name = "AUDIENCE")]
    audience: Option<String>,
    /// Scope of the OAuth token [$ZEEBE_TOKEN_SCOPE, $CAMUNDA_TOKEN_SCOPE].
    #[arg(long, value_name = "SCOPE")]
    scope: Option<String>,
    /// Print each result as one JSON object (Zeebe's camelCase field names), and errors as JSON on stderr.
    #[arg(long)]
    pub json: bool,
}

impl ClientArgs {
    /// The connection options: these flags over the environment (see `apsis_client::env`) over the defaults.
    pub fn resolve(&self) -> Result<ClientOptions, Error> {
        let flags = Flags {
            address: self.address.clone(),
            tls: match (self.tls, self.insecure) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            ca_certificate: self.ca_cert.clone(),
            token: self.token.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            authorization_server_url: self.authorization_server_url.clone(),
            audience: self.audience.clone(),
            scope: self.scope.clone(),
        };
        env::resolve(&flags, &env::process_env()).map_err(|e| Error::Input(e.to_string()))
    }
}

/// A failure to connect or to obtain a token, as the CLI tells it.
pub fn failure(e: &apsis_client::Error) -> Error {
    use apsis_client::Error as E;
    match e {
        E::Connect { url, source } => Error::Unreachable {
            sentence: format!(
                "Expected a Zeebe gateway at {url}, but could not connect: is `apsis engine` running?"
            ),
            detail: crate::client::root_cause(source),
        },
        E::ConnectTimeout { url, after } => Error::Unreachable {
            sentence: format!(
                "Expected a Zeebe gateway at {url}, but could not connect: is `apsis engine` running?"
            ),
            detail: format!("no answer within {}", crate::input::show(*after)),
        },
        E::TlsHandshake { .. } => Error::Unreachable {
            sentence: format!("{e}."),
            detail: String::new(),
        },
        E::TokenRequest { source, .. } => Error::Unreachable {
            sentence: format!("{e}: is the authorization server URL (--authorization-server-url) right?"),
            detail: crate::client::root_cause(source),
        },
        E::TokenRefused { .. } | E::TokenResponse { .. } => Error::Credentials(format!(
            "{e}. Check the client id and secret (--client-id, --client-secret), the audience (--audience) and \
             the authorization server URL (--authorization-server-url)."
        )),
        _ => Error::Input(e.to_string()),
    }
}

/// Why the gateway answered UNAUTHENTICATED, given what was sent.
pub fn unauthenticated(options: &ClientOptions) -> &'static str {
    match options.auth {
        Auth::None => {
            "the gateway requires credentials: pass --token, or --client-id and --client-secret for OAuth (or set \
             APSIS_TOKEN, or ZEEBE_CLIENT_ID and ZEEBE_CLIENT_SECRET)"
        }
        Auth::StaticToken { .. } => {
            "the gateway refused the token; check --token (or APSIS_TOKEN)"
        }
        Auth::OAuth(_) => {
            "the gateway refused the OAuth token; check the audience (--audience) and that the gateway trusts \
             the authorization server"
        }
    }
}
