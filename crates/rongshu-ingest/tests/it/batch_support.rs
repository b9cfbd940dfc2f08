//! A resource and helpers shared by the batch reader tests.

use std::io::Write;
use std::path::PathBuf;

use rongshu_core::catalog::{NewResourceRequest, ResourceSpec};
use rongshu_ingest::{BatchFormat, IngestError, ReadOptions, Reject, RowOutcome, RowSource};

/// id (key, text), name, age (required whole number), birth (date), active (yes/no).
pub fn spec() -> ResourceSpec {
    let req: NewResourceRequest = serde_json::from_value(serde_json::json!({
        "name": "t", "key_items": ["id"],
        "items": [
            {"key": "id", "name": "编号", "type": "string"},
            {"key": "name", "name": "姓名", "type": "string", "kind": "text"},
            {"key": "age", "name": "年龄", "type": "integer", "required": true},
            {"key": "birth", "name": "出生日期", "type": "date"},
            {"key": "active", "name": "在册", "type": "boolean"}
        ]
    }))
    .unwrap();
    ResourceSpec::parse(req).unwrap()
}

/// A file holding `bytes`, kept until the returned guard drops.
pub fn file(bytes: &[u8], ext: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("batch.{ext}"));
    std::fs::File::create(&path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
    (dir, path)
}

pub fn open(format: BatchFormat, bytes: &[u8]) -> Result<Box<dyn RowSource + Send>, IngestError> {
    open_with(format, bytes, &ReadOptions::default())
}

pub fn open_with(
    format: BatchFormat,
    bytes: &[u8],
    options: &ReadOptions,
) -> Result<Box<dyn RowSource + Send>, IngestError> {
    let ext = match format {
        BatchFormat::Csv => "csv",
        BatchFormat::Json => "json",
        BatchFormat::Xlsx => "xlsx",
    };
    let (_dir, path) = file(bytes, ext);
    // The readers hold the file open (or have read it), so the directory may go.
    open_path(format, &path, options)
}

pub fn open_path(
    format: BatchFormat,
    path: &std::path::Path,
    options: &ReadOptions,
) -> Result<Box<dyn RowSource + Send>, IngestError> {
    rongshu_ingest::open_batch(format, path, &spec(), options)
}

/// Every row's outcome; a file-level error fails the test.
pub fn outcomes(source: &mut dyn RowSource) -> Vec<RowOutcome> {
    std::iter::from_fn(|| source.next_row())
        .map(Result::unwrap)
        .collect()
}

pub fn rejected(outcome: &RowOutcome) -> &Reject {
    match outcome {
        RowOutcome::Rejected(r) => r,
        RowOutcome::Accepted(cells) => panic!("expected a reject, got {cells:?}"),
    }
}

pub fn accepted(outcome: &RowOutcome) -> Vec<String> {
    match outcome {
        RowOutcome::Accepted(cells) => cells
            .iter()
            .map(|c| c.as_ref().map_or(String::new(), |v| v.canonical_text()))
            .collect(),
        RowOutcome::Rejected(r) => panic!("expected an accepted row, got {r:?}"),
    }
}
