//! Compiles `gridloop/v1/*.proto` with protox (no system `protoc`) and generates the prost
//! messages and tonic clients and servers into `OUT_DIR`. Also writes the encoded file
//! descriptor set that services hand to gRPC reflection.

use std::{env, fs, io, path::PathBuf};

use protox::prost::Message as _;

const PROTO_ROOT: &str = "gridloop";
const PROTO_DIR: &str = "gridloop/v1";
/// Stem of the descriptor file; `lib.rs` includes it with `include_file_descriptor_set!`.
const DESCRIPTOR_NAME: &str = "gridloop_descriptor";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={PROTO_ROOT}");

    let protos = proto_files()?;
    for proto in &protos {
        println!("cargo:rerun-if-changed={}", proto.display());
    }

    let fds = protox::Compiler::new(["."])?
        .include_imports(true)
        .include_source_info(true)
        .open_files(&protos)?
        .file_descriptor_set();

    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join(format!("{DESCRIPTOR_NAME}.bin")),
        fds.encode_to_vec(),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}

/// Every `.proto` under `gridloop/v1`, sorted so the generated code does not depend on
/// directory order.
fn proto_files() -> io::Result<Vec<PathBuf>> {
    let mut protos = Vec::new();
    for entry in fs::read_dir(PROTO_DIR)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "proto") {
            protos.push(path);
        }
    }
    protos.sort();
    Ok(protos)
}
