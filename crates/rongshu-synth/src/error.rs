//! The one error type of the synthetic city.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error("cannot write the manifest: {0}")]
    Manifest(#[from] serde_json::Error),
    #[error("embedded reference data is unusable: {0}")]
    ReferenceData(String),
    #[error("invalid configuration: {0}")]
    Config(String),
}
