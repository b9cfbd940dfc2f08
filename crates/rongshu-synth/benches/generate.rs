//! Generation speed: writes a city of `RONGSHU_SYNTH_PEOPLE` people (default 1,000,000)
//! into a temporary directory and prints people and rows per second. Set
//! `RONGSHU_SYNTH_KEEP=DIR` to write into DIR instead and keep the files.

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let people: u64 = match std::env::var("RONGSHU_SYNTH_PEOPLE") {
        Ok(v) => v.parse()?,
        Err(_) => 1_000_000,
    };
    let config = rongshu_synth::SynthConfig::for_people(people);
    let temp = tempfile::tempdir()?;
    let out = match std::env::var_os("RONGSHU_SYNTH_KEEP") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => temp.path().to_path_buf(),
    };
    let started = Instant::now();
    let manifest = rongshu_synth::generate(&config, &out)?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "synth: {} people, {} entities, {} rows in {:.2} s: {:.0} people/s, {:.0} rows/s",
        manifest.people,
        manifest.entities,
        manifest.rows_written,
        secs,
        manifest.people as f64 / secs,
        manifest.rows_written as f64 / secs,
    );
    for file in &manifest.files {
        println!("  {:40} {:>10} rows", file.file, file.rows);
    }
    Ok(())
}
