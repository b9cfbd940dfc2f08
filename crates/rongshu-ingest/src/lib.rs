//! Streaming batch readers: a delivered file goes in, typed rows and the reasons
//! for every rejected row come out, one row at a time, so a file of any size is
//! read in constant memory. Nothing here knows where the rows go.

pub mod catalog_sheet;
mod csv_batch;
mod encoding;
mod json_batch;
mod report;
mod row_check;
mod source;
pub mod table_sheet;
mod xlsx_batch;

pub use csv_batch::CsvBatch;
pub use encoding::{TextEncoding, detect_encoding};
pub use json_batch::JsonBatch;
pub use report::{BatchReport, Reject, RejectList};
pub use row_check::RowOutcome;
pub use source::{BatchFormat, RowSource, open_batch};
pub use xlsx_batch::XlsxBatch;

/// The longest single row (a CSV record, a JSON element or line) read by default.
pub const DEFAULT_MAX_ROW_BYTES: u64 = 100 * 1024 * 1024;

/// How a batch file is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// A row longer than this is never buffered whole (see each reader for what
    /// happens to it).
    pub max_row_bytes: u64,
    /// The XLSX sheet to read; the first sheet when `None`.
    pub sheet: Option<String>,
    /// Who finds a key repeated within the batch.
    pub repeated_keys: RepeatedKeys,
}

/// Who finds a key that repeats an earlier row of the batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RepeatedKeys {
    /// The reader rejects the later row. It remembers a digest of every key,
    /// so its memory grows with the file (16 bytes a row and the set's slack).
    #[default]
    Reject,
    /// The reader passes the row on and keeps the key as written for
    /// [`RowSource::last_key`]; the caller finds repeats where the rows go
    /// (the store does it in the staged batch, in constant memory).
    Pass,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            max_row_bytes: DEFAULT_MAX_ROW_BYTES,
            sheet: None,
            repeated_keys: RepeatedKeys::Reject,
        }
    }
}

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
    #[error("the file could not be read as JSON at line {line}: {message}")]
    MalformedJson { line: u64, message: String },
    #[error(
        "the row starting at line {line} is longer than the {limit} limit; the file was not loaded"
    )]
    RowTooLong { line: u64, limit: String },
    #[error("{0}")]
    NotXlsx(String),
    #[error("the workbook has no sheet named \"{name}\"; its sheets are: {sheets}")]
    SheetNotFound { name: String, sheets: String },
    #[error("reading the file failed: {0}")]
    Io(#[from] std::io::Error),
}
