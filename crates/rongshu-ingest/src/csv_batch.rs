//! A CSV batch read row by row against a resource's declared items.

use std::collections::HashSet;
use std::io::Read;

use rongshu_core::catalog::ResourceSpec;
use rongshu_core::value::{CellValue, parse_cell};

use crate::{IngestError, Reject};

/// What became of one row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowOutcome {
    /// Cells in the order of the resource's items.
    Accepted(Vec<Option<CellValue>>),
    Rejected(Reject),
}

pub struct CsvBatch<R: Read> {
    reader: csv::Reader<R>,
    spec: ResourceSpec,
    /// For each item, the file column holding it.
    item_columns: Vec<Option<usize>>,
    header_len: usize,
    key_positions: Vec<usize>,
    seen_keys: HashSet<Vec<u8>>,
    ignored_columns: Vec<String>,
    record: csv::ByteRecord,
    rows_read: u64,
}

impl<R: Read> CsvBatch<R> {
    /// Read the header and map its columns to items, by key or by Chinese name.
    pub fn open(reader: R, spec: &ResourceSpec) -> Result<Self, IngestError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(reader);
        let headers = reader.byte_headers().map_err(malformed)?.clone();
        if headers.is_empty() || (headers.len() == 1 && headers[0].is_empty()) {
            return Err(IngestError::Empty);
        }
        let mut item_columns = vec![None; spec.items.len()];
        let mut ignored_columns = Vec::new();
        for (column, raw) in headers.iter().enumerate() {
            let header = String::from_utf8_lossy(raw).trim().to_owned();
            let found = spec
                .items
                .iter()
                .position(|it| it.key.as_str() == header || it.name == header);
            match found {
                Some(i) if item_columns[i].is_some() => {
                    return Err(IngestError::DuplicateColumn(spec.items[i].key.to_string()));
                }
                Some(i) => item_columns[i] = Some(column),
                None if header.is_empty() => {}
                None => ignored_columns.push(header),
            }
        }
        for (item, column) in spec.items.iter().zip(&item_columns) {
            if item.required && column.is_none() {
                return Err(IngestError::MissingColumn(item.key.to_string()));
            }
        }
        if item_columns.iter().all(Option::is_none) {
            let known: Vec<&str> = spec.items.iter().map(|i| i.key.as_str()).collect();
            return Err(IngestError::UnknownColumn {
                column: 1,
                header: String::from_utf8_lossy(&headers[0]).into_owned(),
                known: known.join(", "),
            });
        }
        let key_positions = spec
            .key_items
            .iter()
            .filter_map(|k| spec.items.iter().position(|it| &it.key == k))
            .collect();
        Ok(Self {
            reader,
            spec: spec.clone(),
            item_columns,
            header_len: headers.len(),
            key_positions,
            seen_keys: HashSet::new(),
            ignored_columns,
            record: csv::ByteRecord::new(),
            rows_read: 0,
        })
    }

    pub fn ignored_columns(&self) -> &[String] {
        &self.ignored_columns
    }

    pub fn rows_read(&self) -> u64 {
        self.rows_read
    }

    /// The next row's outcome, `None` at the end of the file.
    pub fn next_row(&mut self) -> Option<Result<RowOutcome, IngestError>> {
        match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => {
                // Blank lines are skipped by the reader; a line of only commas is not.
                self.rows_read += 1;
                Some(Ok(self.check_record()))
            }
            Err(e) => Some(Err(malformed(e))),
        }
    }

    fn line(&self) -> u64 {
        self.record.position().map_or(0, |p| p.line())
    }

    fn key_text(&self) -> Option<String> {
        let parts: Vec<String> = self
            .key_positions
            .iter()
            .filter_map(|&i| self.item_columns[i])
            .map(|c| {
                String::from_utf8_lossy(self.record.get(c).unwrap_or_default())
                    .trim()
                    .to_owned()
            })
            .collect();
        let joined = parts.join("|");
        (!joined.is_empty()).then_some(joined)
    }

    fn reject(&self, item: Option<&str>, reason: String) -> RowOutcome {
        RowOutcome::Rejected(Reject {
            row: self.line(),
            key: self.key_text(),
            item: item.map(str::to_owned),
            reason,
        })
    }

    fn check_record(&mut self) -> RowOutcome {
        if self.record.len() != self.header_len {
            return self.reject(
                None,
                format!(
                    "the row has {} fields but the header has {}",
                    self.record.len(),
                    self.header_len
                ),
            );
        }
        let mut cells = Vec::with_capacity(self.spec.items.len());
        for (item, column) in self.spec.items.iter().zip(&self.item_columns) {
            let raw = column.and_then(|c| self.record.get(c)).unwrap_or_default();
            let Ok(text) = std::str::from_utf8(raw) else {
                return self.reject(
                    Some(item.key.as_str()),
                    "the value is not valid UTF-8 or GB18030 text".into(),
                );
            };
            match parse_cell(item.item_type, text) {
                Ok(None) if item.required => {
                    return self.reject(
                        Some(item.key.as_str()),
                        format!("{} ({}) is required but empty", item.name, item.key),
                    );
                }
                Ok(cell) => cells.push(cell),
                Err(e) => {
                    return self.reject(
                        Some(item.key.as_str()),
                        format!("{} ({}): {e}", item.name, item.key),
                    );
                }
            }
        }
        // A key repeated within one batch: the later row is rejected.
        let mut key = Vec::new();
        for &i in &self.key_positions {
            if let Some(cell) = &cells[i] {
                key.extend_from_slice(cell.canonical_text().as_bytes());
            }
            key.push(0x1f);
        }
        if !self.seen_keys.insert(key) {
            return self.reject(None, "the key repeats an earlier row of this batch".into());
        }
        RowOutcome::Accepted(cells)
    }
}

fn malformed(e: csv::Error) -> IngestError {
    let line = e.position().map_or(0, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(io) => IngestError::Io(io),
        other => IngestError::Malformed {
            line,
            message: format!("{other:?}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rongshu_core::catalog::NewResourceRequest;

    fn spec() -> ResourceSpec {
        let req: NewResourceRequest = serde_json::from_value(serde_json::json!({
            "name": "t", "key_items": ["id"],
            "items": [{"key": "id", "name": "编号", "type": "string"},
                      {"key": "age", "name": "年龄", "type": "integer", "required": true}]
        }))
        .unwrap();
        ResourceSpec::parse(req).unwrap()
    }

    fn outcomes(csv: &str) -> Vec<RowOutcome> {
        let mut b = CsvBatch::open(csv.as_bytes(), &spec()).unwrap();
        std::iter::from_fn(|| b.next_row())
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn rows_are_typed_and_rejects_name_line_and_item() {
        let out = outcomes("id,age\na,1\nb,x\nc,\nd,4,5\na,2\n");
        assert!(matches!(out[0], RowOutcome::Accepted(_)));
        let RowOutcome::Rejected(r) = &out[1] else {
            panic!()
        };
        assert_eq!(
            (r.row, r.item.as_deref(), r.key.as_deref()),
            (3, Some("age"), Some("b"))
        );
        let RowOutcome::Rejected(r) = &out[2] else {
            panic!()
        };
        assert!(r.reason.contains("required"));
        let RowOutcome::Rejected(r) = &out[3] else {
            panic!()
        };
        assert!(r.reason.contains("3 fields"));
        let RowOutcome::Rejected(r) = &out[4] else {
            panic!()
        };
        assert_eq!(r.row, 6);
        assert!(r.reason.contains("repeats"));
    }

    #[test]
    fn chinese_headers_map_to_items() {
        let out = outcomes("编号,年龄\na,1\n");
        assert_eq!(
            out[0],
            RowOutcome::Accepted(vec![
                Some(CellValue::Text("a".into())),
                Some(CellValue::Integer(1))
            ])
        );
    }

    #[test]
    fn a_missing_required_column_is_refused() {
        assert!(matches!(
            CsvBatch::open("id\na\n".as_bytes(), &spec()),
            Err(IngestError::MissingColumn(k)) if k == "age"
        ));
        assert!(matches!(
            CsvBatch::open("".as_bytes(), &spec()),
            Err(IngestError::Empty)
        ));
    }
}
