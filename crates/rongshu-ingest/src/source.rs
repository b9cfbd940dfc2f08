//! One interface over the batch formats, so the server picks a reader by the
//! upload's content type or file name and handles every format alike.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use rongshu_core::catalog::ResourceSpec;

use crate::{
    CsvBatch, IngestError, JsonBatch, ReadOptions, RowOutcome, TextEncoding, XlsxBatch,
    detect_encoding,
};

/// A batch being read row by row, whatever its format.
pub trait RowSource {
    /// The next row's outcome, `None` at the end of the file.
    fn next_row(&mut self) -> Option<Result<RowOutcome, IngestError>>;
    fn rows_read(&self) -> u64;
    /// Header columns (or object keys) that name no item and were skipped.
    fn ignored_columns(&self) -> &[String];
    /// The text encoding the file was read in, for the report.
    fn encoding(&self) -> &'static str;
    /// The row number (as rejects count them) of the outcome last returned.
    fn last_row(&self) -> u64;
    /// The key as written of the row last accepted, when the reader was
    /// opened with [`crate::RepeatedKeys::Pass`].
    fn last_key(&self) -> Option<&str>;
}

/// The formats a batch can arrive in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchFormat {
    Csv,
    Json,
    Xlsx,
}

impl BatchFormat {
    /// The format a `Content-Type` names, parameters (`; charset=…`) ignored.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "text/csv" | "application/csv" | "text/tab-separated-values" => Some(Self::Csv),
            "application/json"
            | "application/x-ndjson"
            | "application/ndjson"
            | "application/jsonl"
            | "application/json-seq" => Some(Self::Json),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => Some(Self::Xlsx),
            _ => None,
        }
    }

    /// The format a file name's extension names.
    pub fn from_file_name(name: &str) -> Option<Self> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "csv" | "tsv" | "txt" => Some(Self::Csv),
            "json" | "ndjson" | "jsonl" => Some(Self::Json),
            "xlsx" => Some(Self::Xlsx),
            _ => None,
        }
    }
}

/// Open the batch file at `path` in `format` and read its header.
pub fn open_batch(
    format: BatchFormat,
    path: &Path,
    spec: &ResourceSpec,
    options: &ReadOptions,
) -> Result<Box<dyn RowSource + Send>, IngestError> {
    match format {
        BatchFormat::Csv => {
            let file = BufReader::with_capacity(1 << 20, File::open(path)?);
            let (encoding, text) = detect_encoding(file)?;
            let batch = CsvBatch::open_with(text, spec, options)?;
            Ok(Box::new(CsvSource { batch, encoding }))
        }
        BatchFormat::Json => {
            let file = BufReader::with_capacity(1 << 20, File::open(path)?);
            Ok(Box::new(JsonBatch::open(file, spec, options)?))
        }
        BatchFormat::Xlsx => Ok(Box::new(XlsxBatch::open(path, spec, options)?)),
    }
}

/// A CSV batch with the encoding it was decoded from.
struct CsvSource {
    batch: CsvBatch<Box<dyn std::io::Read + Send>>,
    encoding: TextEncoding,
}

impl RowSource for CsvSource {
    fn next_row(&mut self) -> Option<Result<RowOutcome, IngestError>> {
        self.batch.next_row()
    }
    fn rows_read(&self) -> u64 {
        self.batch.rows_read()
    }
    fn ignored_columns(&self) -> &[String] {
        self.batch.ignored_columns()
    }
    fn encoding(&self) -> &'static str {
        self.encoding.name()
    }
    fn last_row(&self) -> u64 {
        self.batch.last_row()
    }
    fn last_key(&self) -> Option<&str> {
        self.batch.last_key()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_by_content_type_or_file_name() {
        assert_eq!(
            BatchFormat::from_content_type("text/csv; charset=gb18030"),
            Some(BatchFormat::Csv)
        );
        assert_eq!(
            BatchFormat::from_content_type("application/x-ndjson"),
            Some(BatchFormat::Json)
        );
        assert_eq!(
            BatchFormat::from_content_type(
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            ),
            Some(BatchFormat::Xlsx)
        );
        assert_eq!(BatchFormat::from_content_type("image/png"), None);
        assert_eq!(
            BatchFormat::from_file_name("人口.XLSX"),
            Some(BatchFormat::Xlsx)
        );
        assert_eq!(
            BatchFormat::from_file_name("a.jsonl"),
            Some(BatchFormat::Json)
        );
        assert_eq!(BatchFormat::from_file_name("noext"), None);
    }
}
