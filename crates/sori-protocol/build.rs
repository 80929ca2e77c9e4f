//! Compiles `proto/sori.proto` with protox (a pure-Rust protobuf compiler), so
//! that building Sori never needs a system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../proto");
    let proto_file = format!("{proto_dir}/sori.proto");
    println!("cargo:rerun-if-changed={proto_file}");
    let descriptors = protox::compile([proto_file.as_str()], [proto_dir])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
