//! Compiles `proto/gateway.proto` into prost messages and a tonic client and server.
//!
//! The .proto is parsed by protox (a protobuf compiler written in Rust), and its
//! `FileDescriptorSet` is handed to tonic-prost-build, so no system `protoc` is involved:
//! building this crate works with `PROTOC` unset or pointing nowhere.

use std::path::PathBuf;

use prost::Message as _;

const PROTO_DIR: &str = "proto";
const GATEWAY_PROTO: &str = "proto/gateway.proto";

fn main() -> anyhow::Result<()> {
    println!("cargo:rerun-if-changed={GATEWAY_PROTO}");
    println!("cargo:rerun-if-changed=build.rs");

    // Source info carries the .proto comments into the generated rustdoc.
    let fds = protox::compile([GATEWAY_PROTO], [PROTO_DIR])?;

    // The descriptor set is also shipped in the crate (for gRPC reflection and for the tests
    // that check the service shape), without source info to keep it small.
    let mut bare = fds.clone();
    for file in &mut bare.file {
        file.source_code_info = None;
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("gateway_descriptor.bin"), bare.encode_to_vec())?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
