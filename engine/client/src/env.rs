//! Client options from flags and the environment variables real Zeebe and Camunda clients read, so a shell set up
//! for zbctl, the Java client or `@camunda8/sdk` (Camunda Modeler, Node workers) just works. [`VARIABLES`] is the one
//! list of names; [`process_env`] the one place that reads the process environment; [`resolve`] takes it as data.

use std::path::PathBuf;

use crate::options::{Auth, ClientOptions, OAuthOptions, Secret, SAAS_AUTHORIZATION_SERVER_URL};
use crate::Error;

/// A client setting some environment variable can give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    Address,
    /// `true` forces plaintext.
    Insecure,
    /// `false` forces plaintext (`@camunda8/sdk`'s inverse of `Insecure`).
    Secure,
    CaCertificate,
    Token,
    ClientId,
    ClientSecret,
    AuthorizationServerUrl,
    Audience,
    Scope,
}

/// Every variable read, by setting; for one setting the first that is set (and not blank) wins. `APSIS_*` come
/// first, then the Zeebe names (zbctl, the Java and Go clients), then `@camunda8/sdk`'s.
pub const VARIABLES: &[(Setting, &str)] = &[
    (Setting::Address, "APSIS_ADDRESS"),
    (Setting::Address, "ZEEBE_ADDRESS"),
    (Setting::Address, "ZEEBE_GRPC_ADDRESS"),
    (Setting::Insecure, "APSIS_INSECURE_CONNECTION"),
    (Setting::Insecure, "ZEEBE_INSECURE_CONNECTION"),
    (Setting::Secure, "CAMUNDA_SECURE_CONNECTION"),
    (Setting::CaCertificate, "APSIS_CA_CERTIFICATE_PATH"),
    (Setting::CaCertificate, "ZEEBE_CA_CERTIFICATE_PATH"),
    (Setting::CaCertificate, "CAMUNDA_CUSTOM_ROOT_CERT_PATH"),
    (Setting::Token, "APSIS_TOKEN"),
    (Setting::Token, "CAMUNDA_OAUTH_TOKEN"),
    (Setting::ClientId, "APSIS_CLIENT_ID"),
    (Setting::ClientId, "ZEEBE_CLIENT_ID"),
    (Setting::ClientId, "CAMUNDA_CLIENT_ID"),
    (Setting::ClientSecret, "APSIS_CLIENT_SECRET"),
    (Setting::ClientSecret, "ZEEBE_CLIENT_SECRET"),
    (Setting::ClientSecret, "CAMUNDA_CLIENT_SECRET"),
    (
        Setting::AuthorizationServerUrl,
        "APSIS_AUTHORIZATION_SERVER_URL",
    ),
    (
        Setting::AuthorizationServerUrl,
        "ZEEBE_AUTHORIZATION_SERVER_URL",
    ),
    (Setting::AuthorizationServerUrl, "CAMUNDA_OAUTH_URL"),
    (Setting::Audience, "APSIS_TOKEN_AUDIENCE"),
    (Setting::Audience, "ZEEBE_TOKEN_AUDIENCE"),
    (Setting::Audience, "CAMUNDA_ZEEBE_OAUTH_AUDIENCE"),
    (Setting::Audience, "CAMUNDA_TOKEN_AUDIENCE"),
    (Setting::Scope, "APSIS_TOKEN_SCOPE"),
    (Setting::Scope, "ZEEBE_TOKEN_SCOPE"),
    (Setting::Scope, "CAMUNDA_TOKEN_SCOPE"),
    (Setting::Scope, "CAMUNDA_OAUTH_SCOPE"),
];

/// The variables of [`VARIABLES`] set in this process, with their values. The only read of the environment.
pub fn process_env() -> Vec<(&'static str, String)> {
    VARIABLES
        .iter()
        .filter_map(|(_, name)| Some((*name, std::env::var(name).ok()?)))
        .collect()
}

/// Settings given as command-line flags; each wins over the environment. The names in messages are the `apsis`
/// CLI's flags.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub address: Option<String>,
    /// `--tls` (Some(true)) or `--insecure` (Some(false)).
    pub tls: Option<bool>,
    pub ca_certificate: Option<PathBuf>,
    pub token: Option<Secret>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub authorization_server_url: Option<String>,
    pub audience: Option<String>,
    pub scope: Option<String>,
}

/// The options `flags` and `env` (name, value pairs, e.g. [`process_env`]) give, on top of the defaults.
///
/// TLS: `--tls`/`--insecure` win; a variable can only force plaintext (`ZEEBE_INSECURE_CONNECTION=true`,
/// `CAMUNDA_SECURE_CONNECTION=false`), since "not insecure" in a shell set up for Camunda must not turn TLS on for
/// an `http://` address; otherwise [`ClientOptions::target`] decides from the address. Auth: a token (flag, else
/// variable) is sent as is; else a client id means OAuth client credentials and needs a secret. A flag of one kind
/// hides variables of the other, so `--client-id` is not overruled by `APSIS_TOKEN`.
pub fn resolve(flags: &Flags, env: &[(&str, String)]) -> Result<ClientOptions, Error> {
    let var = |setting: Setting| -> Option<(&'static str, String)> {
        VARIABLES
            .iter()
            .filter(|(s, _)| *s == setting)
            .find_map(|(_, name)| {
                let (_, value) = env.iter().find(|(n, _)| n == name)?;
                let value = value.trim();
                (!value.is_empty()).then(|| (*name, value.to_owned()))
            })
    };
    let value = |flag: &Option<String>, setting| flag.clone().or_else(|| var(setting).map(|v| v.1));
    let mut options = ClientOptions::default();

    let (address, origin) = match (&flags.address, var(Setting::Address)) {
        (Some(flag), _) => (flag.clone(), "--address".to_owned()),
        (None, Some((name, value))) => (value, name.to_owned()),
        (None, None) => (options.address.clone(), "the default".to_owned()),
    };
    options.address = address;
    options.tls = match flags.tls {
        Some(tls) => Some(tls),
        None => {
            let insecure = var(Setting::Insecure).map(boolean).transpose()?;
            let secure = var(Setting::Secure).map(boolean).transpose()?;
            (insecure == Some(true) || secure == Some(false)).then_some(false)
        }
    };
    options.ca_certificate = flags
        .ca_certificate
        .clone()
        .or_else(|| var(Setting::CaCertificate).map(|(_, v)| v.into()));

    let token_flag = flags.token.clone();
    let id_flag = flags.client_id.clone();
    let token = match (&token_flag, &id_flag) {
        (Some(t), _) => Some(t.clone()),
        (None, None) => var(Setting::Token).map(|(_, v)| Secret::new(v)),
        (None, Some(_)) => None,
    };
    let client_id = match token {
        Some(_) => None,
        None => value(&id_flag, Setting::ClientId),
    };
    options.auth = match (token, client_id) {
        (Some(token), _) => Auth::StaticToken { token },
        (None, Some(client_id)) => {
            let client_secret = flags
                .client_secret
                .clone()
                .or_else(|| var(Setting::ClientSecret).map(|(_, v)| Secret::new(v)))
                .ok_or_else(|| Error::MissingSetting {
                    needed: "a client secret",
                    because: "a client id is given",
                    set_by: set_by("--client-secret", Setting::ClientSecret),
                })?;
            Auth::OAuth(OAuthOptions {
                client_id,
                client_secret,
                authorization_server_url: value(
                    &flags.authorization_server_url,
                    Setting::AuthorizationServerUrl,
                )
                .unwrap_or_else(|| SAAS_AUTHORIZATION_SERVER_URL.to_owned()),
                audience: value(&flags.audience, Setting::Audience),
                scope: value(&flags.scope, Setting::Scope),
            })
        }
        (None, None) => Auth::None,
    };
    // Found now, so the message can say where the address came from.
    options.target_from(&options.address, &origin)?;
    Ok(options)
}

/// "--flag or VAR_A, VAR_B": where a setting can come from.
fn set_by(flag: &str, setting: Setting) -> String {
    let names: Vec<&str> = VARIABLES
        .iter()
        .filter(|(s, _)| *s == setting)
        .map(|(_, n)| *n)
        .collect();
    format!("{flag} or {}", names.join(", "))
}

fn boolean((name, value): (&'static str, String)) -> Result<bool, Error> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(Error::NotABoolean {
            name: name.to_owned(),
            value,
        }),
    }
}

#[cfg(test)]
mod tests;
