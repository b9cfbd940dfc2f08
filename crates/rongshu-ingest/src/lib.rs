//! Streaming batch readers: a delivered file goes in, typed rows and the reasons
//! for every rejected row come out, one row at a time, so a file of any size is
//! read in constant memory. Nothing here knows where the rows go.

pub mod catalog_sheet;
mod csv_batch;
mod encoding;
mod report;

pub use csv_batch::{CsvBatch, RowOutcome};
pub use encoding::{TextEncoding, detect_encoding};
pub use report::{BatchReport, Reject, RejectList};

/// A file that cannot be read as a batch at all (as opposed to rows that fail).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the file is empty: a batch needs a header row naming the items")]
    Empty,
    #[error("column {column} (\"{header}\") is not an item of this resource; items are: {known}")]
    UnknownColumn {
        column: usize,
        header: String,
        known: String,
    },
    #[error("the header names item \"{0}\" twice")]
    DuplicateColumn(String),
    #[error("the header has no column for required item \"{0}\"")]
    MissingColumn(String),
    #[error("the file could not be read as CSV at line {line}: {message}")]
    Malformed { line: u64, message: String },
    #[error("reading the file failed: {0}")]
    Io(#[from] std::io::Error),
}
