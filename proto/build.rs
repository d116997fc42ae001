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

    fs::write(out_dir.join("ticket_requests.rs"), ticket_requests(&fds))?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}

/// `request_ticket_id`: for every unary method whose request message names a ticket in a
/// top-level string field `ticket_id`, decode that field from the request's bytes. Generated
/// from the descriptors, so a new method that takes a ticket is covered without a list kept
/// by hand.
fn ticket_requests(fds: &prost_types::FileDescriptorSet) -> String {
    use prost_types::field_descriptor_proto::Type;
    let mut arms = String::new();
    let mut paths = String::new();
    for file in &fds.file {
        let package = file.package();
        if !package.starts_with("gridloop.") {
            continue;
        }
        let takes_ticket = |input: &str| {
            let name = input.rsplit('.').next().unwrap_or(input);
            file.message_type.iter().any(|m| {
                m.name() == name
                    && m.field
                        .iter()
                        .any(|f| f.name() == "ticket_id" && f.r#type() == Type::String)
            })
        };
        for service in &file.service {
            for method in &service.method {
                if method.client_streaming() || !takes_ticket(method.input_type()) {
                    continue;
                }
                let path = format!("/{package}.{}/{}", service.name(), method.name());
                let message = method.input_type().rsplit('.').next().unwrap_or_default();
                arms.push_str(&format!(
                    "        {path:?} => v1::{message}::decode(message).ok().map(|m| m.ticket_id),\n"
                ));
                paths.push_str(&format!("    {path:?},\n"));
            }
        }
    }
    let mut out = String::new();
    out.push_str(
        "/// The gRPC paths of the unary methods whose request names a ticket (`ticket_id`).\n",
    );
    out.push_str(&format!(
        "pub const TICKET_METHODS: &[&str] = &[\n{paths}];\n\n"
    ));
    out.push_str(
        "/// The `ticket_id` of a request to the method at `path`, decoded from the request\n",
    );
    out.push_str("/// message's bytes; `None` for methods not in [`TICKET_METHODS`].\n");
    out.push_str("pub fn request_ticket_id(path: &str, message: &[u8]) -> Option<String> {\n");
    out.push_str("    use prost::Message as _;\n    match path {\n");
    out.push_str(&arms);
    out.push_str("        _ => None,\n    }\n}\n");
    out
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
