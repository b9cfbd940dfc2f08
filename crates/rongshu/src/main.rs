//! The `rongshu` command: parses arguments and hands over to the libraries.

mod bench;
mod bench_api;
mod bench_linkage;
mod bench_open;
mod bench_registry;
mod cli;
mod demo;

use clap::Parser;

/// A server answers each request with many small allocations, from several
/// threads (the runtime's, the audit writer's); the C library's allocator
/// spends a good part of a keyed lookup's time on them and on consolidating
/// its arenas. mimalloc keeps per-thread free lists and does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    cli::init_logging(matches!(args.command, cli::Command::Bench { .. }));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
