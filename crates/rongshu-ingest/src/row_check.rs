//! What every batch format shares once a row's raw cells are in hand: mapping a
//! header to items, typing each cell, the required check and the key repeated
//! within one batch. CSV, JSON and XLSX differ only in how they find the cells.

use std::borrow::Cow;
use std::collections::HashSet;
use std::hash::Hasher;

use rongshu_core::catalog::ResourceSpec;
use rongshu_core::value::{CellValue, parse_cell};

use crate::{IngestError, Reject, RepeatedKeys};

/// What became of one row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowOutcome {
    /// Cells in the order of the resource's items.
    Accepted(Vec<Option<CellValue>>),
    Rejected(Reject),
}

/// One item's raw cell as a reader found it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawCell<'a> {
    /// The file has no column (or key) for this item.
    Absent,
    Text(Cow<'a, str>),
    /// The cell cannot be text at all; the reason goes into the reject as is.
    Invalid(String),
}

/// The item a header label names, by key or by Chinese name.
pub(crate) fn item_for_label(spec: &ResourceSpec, label: &str) -> Option<usize> {
    spec.items
        .iter()
        .position(|it| it.key.as_str() == label || it.name == label)
}

/// A header row mapped to items.
#[derive(Debug, Clone)]
pub(crate) struct ColumnMap {
    /// For each item, the file column holding it.
    pub item_columns: Vec<Option<usize>>,
    /// Header labels that name no item.
    pub ignored: Vec<String>,
    pub header_len: usize,
}

impl ColumnMap {
    /// Map header labels (one per column, in order) to items; refuse a header that
    /// names an item twice, lacks a required one, or names none at all.
    pub fn from_header(headers: &[String], spec: &ResourceSpec) -> Result<Self, IngestError> {
        if headers.is_empty() || (headers.len() == 1 && headers[0].is_empty()) {
            return Err(IngestError::Empty);
        }
        let mut item_columns = vec![None; spec.items.len()];
        let mut ignored = Vec::new();
        for (column, raw) in headers.iter().enumerate() {
            let header = raw.trim();
            match item_for_label(spec, header) {
                Some(i) if item_columns[i].is_some() => {
                    return Err(IngestError::DuplicateColumn(spec.items[i].key.to_string()));
                }
                Some(i) => item_columns[i] = Some(column),
                None if header.is_empty() => {}
                None => ignored.push(header.to_owned()),
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
                header: headers[0].clone(),
                known: known.join(", "),
            });
        }
        Ok(Self {
            item_columns,
            ignored,
            header_len: headers.len(),
        })
    }
}

/// Types rows against a resource's items and remembers the keys seen so far.
pub(crate) struct RowChecker {
    spec: ResourceSpec,
    key_positions: Vec<usize>,
    /// The keys seen so far, as 128-bit digests (two independent SipHashes):
    /// 16 bytes a row instead of the key's text and its allocation. Two
    /// different keys collide with probability about n²/2¹²⁹, 10⁻²⁵ for ten
    /// million rows.
    /// Empty when the caller finds repeats itself ([`RepeatedKeys::Pass`]).
    seen_keys: HashSet<u128>,
    repeated_keys: RepeatedKeys,
    /// The key as written of the row last accepted, kept only under
    /// [`RepeatedKeys::Pass`] so the caller can name a repeat it finds later.
    last_key: Option<String>,
    /// The row number of the last outcome, for callers that check further.
    last_row: std::cell::Cell<u64>,
}

impl RowChecker {
    pub fn new(spec: &ResourceSpec, repeated_keys: RepeatedKeys) -> Self {
        let key_positions = spec
            .key_items
            .iter()
            .filter_map(|k| spec.items.iter().position(|it| &it.key == k))
            .collect();
        Self {
            spec: spec.clone(),
            key_positions,
            seen_keys: HashSet::new(),
            repeated_keys,
            last_key: None,
            last_row: std::cell::Cell::new(0),
        }
    }

    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }

    pub fn last_row(&self) -> u64 {
        self.last_row.get()
    }

    pub fn last_key(&self) -> Option<&str> {
        self.last_key.as_deref()
    }

    /// The row's key as written, so a provider can find a rejected row.
    fn key_text(&self, cells: &[RawCell<'_>]) -> Option<String> {
        let parts: Vec<&str> = self
            .key_positions
            .iter()
            .filter_map(|&i| match cells.get(i) {
                Some(RawCell::Text(t)) => Some(t.trim()),
                _ => None,
            })
            .collect();
        let joined = parts.join("|");
        (!joined.is_empty()).then_some(joined)
    }

    pub fn reject(
        &self,
        row: u64,
        cells: &[RawCell<'_>],
        item: Option<&str>,
        reason: String,
    ) -> RowOutcome {
        self.last_row.set(row);
        RowOutcome::Rejected(Reject {
            row,
            key: self.key_text(cells),
            item: item.map(str::to_owned),
            reason,
        })
    }

    /// Type the cells (one per item, in item order) of the row numbered `row`.
    pub fn check(&mut self, row: u64, cells: &[RawCell<'_>]) -> RowOutcome {
        self.last_row.set(row);
        let mut typed = Vec::with_capacity(self.spec.items.len());
        for (i, item) in self.spec.items.iter().enumerate() {
            let text = match cells.get(i).unwrap_or(&RawCell::Absent) {
                RawCell::Absent => "",
                RawCell::Text(t) => t.as_ref(),
                RawCell::Invalid(reason) => {
                    return self.reject(row, cells, Some(item.key.as_str()), reason.clone());
                }
            };
            match parse_cell(item.item_type, text) {
                Ok(None) if item.required => {
                    return self.reject(
                        row,
                        cells,
                        Some(item.key.as_str()),
                        format!("{} ({}) is required but empty", item.name, item.key),
                    );
                }
                // The item's kind checks what it holds (an ID's check character, a
                // mobile's prefix, …) and gives the value in its normal form. A
                // legacy USCC checksum passes here; the quality report flags it.
                Ok(Some(CellValue::Text(text))) if item.kind.is_some() => {
                    let Some(kind) = item.kind else { continue };
                    match kind.check(&text) {
                        Ok(normal) => typed.push(Some(CellValue::Text(normal.value.into_owned()))),
                        Err(e) => {
                            return self.reject(
                                row,
                                cells,
                                Some(item.key.as_str()),
                                format!("{} ({}): {e}", item.name, item.key),
                            );
                        }
                    }
                }
                Ok(cell) => typed.push(cell),
                Err(e) => {
                    return self.reject(
                        row,
                        cells,
                        Some(item.key.as_str()),
                        format!("{} ({}): {e}", item.name, item.key),
                    );
                }
            }
        }
        if self.repeated_keys == RepeatedKeys::Pass {
            self.last_key = self.key_text(cells);
            return RowOutcome::Accepted(typed);
        }
        // A key repeated within one batch: the later row is rejected.
        let mut first = std::hash::DefaultHasher::new();
        let mut second = std::hash::DefaultHasher::new();
        // Seeding the second differently makes the two digests independent.
        second.write_u8(0x5a);
        for &i in &self.key_positions {
            if let Some(Some(cell)) = typed.get(i) {
                let text = cell.canonical_text();
                first.write(text.as_bytes());
                second.write(text.as_bytes());
            }
            first.write_u8(0x1f);
            second.write_u8(0x1f);
        }
        let digest = (u128::from(first.finish()) << 64) | u128::from(second.finish());
        if !self.seen_keys.insert(digest) {
            return self.reject(
                row,
                cells,
                None,
                "the key repeats an earlier row of this batch".into(),
            );
        }
        RowOutcome::Accepted(typed)
    }
}

/// A byte count as a person reads a limit: "100 MB", "1 KB", "512 bytes".
pub(crate) fn byte_size(bytes: u64) -> String {
    const MB: u64 = 1024 * 1024;
    const KB: u64 = 1024;
    if bytes >= MB && bytes.is_multiple_of(MB) {
        format!("{} MB", bytes / MB)
    } else if bytes >= KB && bytes.is_multiple_of(KB) {
        format!("{} KB", bytes / KB)
    } else {
        format!("{bytes} bytes")
    }
}
