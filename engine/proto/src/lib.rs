//! The gateway protocol of Apsis: the messages and the `Gateway` gRPC service of
//! `proto/gateway.proto`, as prost types with a tonic client and server.
//!
//! The protocol is wire-compatible with Zeebe's gateway protocol (package `gateway_protocol`,
//! service `Gateway`, Camunda 8.8): every message, field name, field number, type, enum and
//! `oneof`, and every RPC with its streaming kind, is the one Zeebe publishes, so existing
//! Zeebe clients (zbctl, `@camunda8/sdk`, pyzeebe, zeebe-rs, the Java client) work against
//! Apsis unchanged. `tests/wire.rs` pins field numbers with hand-derived bytes and
//! `tests/service.rs` pins the RPC list.
//!
//! Code generation runs protox and tonic-prost-build in `build.rs`: no system `protoc`.
//!
//! Must not depend on: the engine (core, store, server) or anything Apsis-specific. This crate
//! is only the wire contract; the gateway that implements [`gateway_server::Gateway`] lives
//! in the server.

/// Generated code for the `gateway_protocol` protobuf package.
#[allow(
    missing_docs,
    missing_debug_implementations,
    clippy::all,
    clippy::pedantic,
    rustdoc::all
)]
pub mod gateway_protocol {
    tonic::include_proto!("gateway_protocol");
}

pub use gateway_protocol::gateway_client;
pub use gateway_protocol::gateway_server;
pub use gateway_protocol::*;

/// The encoded `FileDescriptorSet` of `gateway.proto` (without source info), for gRPC server
/// reflection and for tools that inspect the service.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/gateway_descriptor.bin"));

/// The fully qualified gRPC service name, as clients put it in request paths
/// (`/gateway_protocol.Gateway/<Rpc>`).
pub const SERVICE_NAME: &str = "gateway_protocol.Gateway";
