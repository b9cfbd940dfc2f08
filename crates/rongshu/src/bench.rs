//! `rongshu bench ...`: figures printed beside a baseline measured in the same run.

use std::process::ExitCode;

use clap::Subcommand;

use crate::cli::DbArgs;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Ingest a generated CSV through the batch path, beside the database's own bulk import.
    Ingest {
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
    },
}

pub async fn run(command: BenchCommand, _db: &DbArgs) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Ingest { rows: _ } => Err(anyhow::anyhow!("not built yet")),
    }
}
