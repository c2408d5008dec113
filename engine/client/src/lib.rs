//! Connecting to a Zeebe gateway, Apsis or any Zeebe 8.x / Camunda 8 (SaaS or self-managed): the one piece of code
//! the `apsis` CLI and the worker daemon share to reach a gateway.
//!
//! - [`ClientOptions`] say where the gateway is, whether to use TLS (and which CA to trust) and how to authenticate
//!   (nothing, a static bearer token, or OAuth 2.0 client credentials). They deserialize from a config file and
//!   resolve from flags plus the environment variables real Zeebe and Camunda clients read ([`env`]).
//! - [`connect`] turns them into the generated `GatewayClient` whose every call carries the credentials.
//! - [`retry`] says which failed calls may be sent again.
//!
//! Invariants: a secret (token, client secret) never appears in `Debug` output or an error message; the environment
//! is read in exactly one function ([`env::process_env`]), everything else takes it as data; connecting fails with a
//! sentence a person can act on ("Expected ..., but ..."), never a raw transport dump.
//!
//! Must not depend on the engine (apsis-core, apsis-store, apsis-server) or BPMN: a worker links this crate without
//! linking an engine. `testkit/tests/architecture.rs` checks that.

mod address;
mod auth;
mod connect;
pub mod env;
mod error;
mod oauth;
mod options;
pub mod retry;

pub use address::{Target, DEFAULT_ADDRESS, DEFAULT_PORT};
pub use auth::AuthChannel;
pub use connect::{connect, Gateway};
pub use error::Error;
pub use oauth::TokenProvider;
pub use options::{Auth, ClientOptions, OAuthOptions, Secret};
