//! The `sori-bench` binary: parse the flags, start a runtime, run.

use clap::Parser;
use sori_bench::{Cli, Command};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    // A worker process shares two cores with its parent and the server:
    // one thread each is plenty.
    if let Command::Worker = cli.command {
        runtime.worker_threads(1);
    }
    runtime.enable_all().build()?.block_on(sori_bench::run(cli))
}
