//! An XLSX batch: the named (or first) sheet, its first row with any cell taken
//! as the header and mapped to items like a CSV header, each later row typed.
//!
//! Cells are turned into text the way a person reads them: whole numbers without
//! ".0", date cells as YYYY-MM-DD (with the time when it is not midnight),
//! booleans as true/false; a formula gives its cached value, and one with none is
//! rejected. A merged range holds its value only in its top-left cell: the other
//! cells of the range are simply empty. Rows are numbered by sheet row (the
//! header row is row 1 when it is the first row), as in the spreadsheet.
//!
//! The sheet's cells are streamed by calamine's cell reader, but the reader
//! borrows the workbook, so the rows (only the columns that name items) are
//! gathered when the batch is opened. An XLSX batch is thus bounded by the upload
//! limit and the sheet's size, not constant in memory as CSV and JSON are.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use calamine::{DataRef, Reader, Xlsx};
use rongshu_core::catalog::ResourceSpec;

use crate::catalog_sheet::number_text;
use crate::row_check::{ColumnMap, RawCell, RowChecker, RowOutcome};
use crate::{IngestError, ReadOptions, RowSource};

/// Columns further right than this are nobody's item; skipping them keeps a
/// stray far-away cell from costing memory.
const MAX_COLUMNS: u32 = 16_384;

struct SheetRow {
    /// 1-based sheet row.
    number: u64,
    /// One per item, in item order.
    cells: Vec<RawCell<'static>>,
}

pub struct XlsxBatch {
    rows: std::vec::IntoIter<SheetRow>,
    checker: RowChecker,
    ignored: Vec<String>,
    rows_read: u64,
}

impl XlsxBatch {
    /// Open the workbook at `path`, pick the sheet and read its rows.
    pub fn open(
        path: &Path,
        spec: &ResourceSpec,
        options: &ReadOptions,
    ) -> Result<Self, IngestError> {
        let file = File::open(path)?;
        if file.metadata()?.len() == 0 {
            return Err(IngestError::Empty);
        }
        let mut workbook = match Xlsx::new(BufReader::new(file)) {
            Ok(w) => w,
            Err(e) => return Err(not_xlsx(path, &e)),
        };
        let names = workbook.sheet_names();
        let name = match &options.sheet {
            Some(wanted) => names
                .iter()
                .find(|n| *n == wanted)
                .cloned()
                .ok_or_else(|| IngestError::SheetNotFound {
                    name: wanted.clone(),
                    sheets: names.join(", "),
                })?,
            None => names
                .first()
                .cloned()
                .ok_or_else(|| IngestError::NotXlsx("the workbook has no sheets".into()))?,
        };
        let damaged = |e: calamine::XlsxError| {
            IngestError::NotXlsx(format!(
                "sheet \"{name}\" of the workbook could not be read: {e}"
            ))
        };
        let mut reader = workbook.worksheet_cells_reader(&name).map_err(damaged)?;
        let mut gather = Gather::new(spec);
        let mut current: Option<(u32, Vec<(u32, RawCell<'static>)>)> = None;
        while let Some(cell) = reader.next_cell_with_formula().map_err(damaged)? {
            let (row, col) = cell.pos;
            if col >= MAX_COLUMNS {
                continue;
            }
            let Some(text) = cell_text(&cell.value, cell.formula.is_some()) else {
                continue;
            };
            match &mut current {
                Some((r, cells)) if *r == row => cells.push((col, text)),
                _ => {
                    if let Some((r, cells)) = current.take() {
                        gather.row(r, cells)?;
                    }
                    current = Some((row, vec![(col, text)]));
                }
            }
        }
        if let Some((r, cells)) = current.take() {
            gather.row(r, cells)?;
        }
        let Some(columns) = gather.columns else {
            return Err(IngestError::Empty);
        };
        Ok(Self {
            rows: gather.rows.into_iter(),
            checker: RowChecker::new(spec, options.repeated_keys),
            ignored: columns.ignored,
            rows_read: 0,
        })
    }

    pub fn ignored_columns(&self) -> &[String] {
        &self.ignored
    }

    pub fn rows_read(&self) -> u64 {
        self.rows_read
    }

    /// The next row's outcome, `None` after the last row with any cell.
    pub fn next_row(&mut self) -> Option<Result<RowOutcome, IngestError>> {
        let row = self.rows.next()?;
        self.rows_read += 1;
        Some(Ok(self.checker.check(row.number, &row.cells)))
    }
}

/// Rows collected as the cells stream by: the first becomes the header.
struct Gather<'s> {
    spec: &'s ResourceSpec,
    columns: Option<ColumnMap>,
    item_of_column: HashMap<u32, usize>,
    rows: Vec<SheetRow>,
}

impl<'s> Gather<'s> {
    fn new(spec: &'s ResourceSpec) -> Self {
        Self {
            spec,
            columns: None,
            item_of_column: HashMap::new(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, row: u32, cells: Vec<(u32, RawCell<'static>)>) -> Result<(), IngestError> {
        if self.columns.is_none() {
            let width = cells.iter().map(|(c, _)| *c + 1).max().unwrap_or(0);
            let mut labels = vec![String::new(); width as usize];
            for (col, cell) in cells {
                if let (Some(label), RawCell::Text(t)) = (labels.get_mut(col as usize), cell) {
                    *label = t.into_owned();
                }
            }
            let columns = ColumnMap::from_header(&labels, self.spec)?;
            for (item, column) in columns.item_columns.iter().enumerate() {
                if let Some(c) = column {
                    self.item_of_column.insert(*c as u32, item);
                }
            }
            self.columns = Some(columns);
            return Ok(());
        }
        let mut by_item = vec![RawCell::Absent; self.spec.items.len()];
        let mut any = false;
        for (col, cell) in cells {
            if let Some(&item) = self.item_of_column.get(&col) {
                by_item[item] = cell;
                any = true;
            }
        }
        // A row with cells only in unmapped columns is no row of this resource.
        if any {
            self.rows.push(SheetRow {
                number: u64::from(row) + 1,
                cells: by_item,
            });
        }
        Ok(())
    }
}

/// A cell as text, `None` when it is empty.
fn cell_text(value: &DataRef<'_>, has_formula: bool) -> Option<RawCell<'static>> {
    let text = match value {
        DataRef::Empty if has_formula => {
            return Some(RawCell::Invalid(
                "formulas are not accepted: paste values".into(),
            ));
        }
        DataRef::Empty => return None,
        DataRef::String(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::DateTimeIso(s) => s.strip_suffix("T00:00:00").unwrap_or(s).to_owned(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number_text(*f),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(d) if d.is_datetime() => {
            let (y, mo, da, h, mi, s, _) = d.to_ymd_hms_milli();
            if (h, mi, s) == (0, 0, 0) {
                format!("{y:04}-{mo:02}-{da:02}")
            } else {
                format!("{y:04}-{mo:02}-{da:02} {h:02}:{mi:02}:{s:02}")
            }
        }
        DataRef::DateTime(d) => number_text(d.as_f64()),
        DataRef::Error(e) => {
            return Some(RawCell::Invalid(format!(
                "the cell holds the spreadsheet error {e}"
            )));
        }
    };
    (!text.trim().is_empty()).then_some(RawCell::Text(Cow::Owned(text)))
}

/// Say plainly what the file is when it is not a workbook.
fn not_xlsx(path: &Path, e: &calamine::XlsxError) -> IngestError {
    let mut head = Vec::with_capacity(4096);
    let read = File::open(path).and_then(|f| f.take(4096).read_to_end(&mut head));
    // A damaged workbook is still a zip archive (PK…) even when it starts in ASCII.
    let looks_like_text = read.is_ok()
        && !head.starts_with(b"PK")
        && match std::str::from_utf8(&head) {
            Ok(_) => true,
            // A multi-byte character cut at the 4096-byte boundary is still text.
            Err(e) => e.error_len().is_none(),
        };
    if looks_like_text {
        IngestError::NotXlsx(
            "the file is text (CSV?), not an XLSX workbook; send it as CSV, or open it in a spreadsheet and save it as .xlsx".into(),
        )
    } else {
        IngestError::NotXlsx(format!(
            "the file is not an XLSX workbook (an .xlsx file is a zip archive): {e}"
        ))
    }
}

impl RowSource for XlsxBatch {
    fn next_row(&mut self) -> Option<Result<RowOutcome, IngestError>> {
        XlsxBatch::next_row(self)
    }
    fn last_row(&self) -> u64 {
        self.checker.last_row()
    }
    fn last_key(&self) -> Option<&str> {
        self.checker.last_key()
    }
    fn rows_read(&self) -> u64 {
        self.rows_read
    }
    fn ignored_columns(&self) -> &[String] {
        &self.ignored
    }
    fn encoding(&self) -> &'static str {
        // Text inside an XLSX workbook is always Unicode.
        "UTF-8"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_formula_without_a_cached_value_is_refused() {
        let Some(RawCell::Invalid(reason)) = cell_text(&DataRef::Empty, true) else {
            panic!("expected a refusal")
        };
        assert_eq!(reason, "formulas are not accepted: paste values");
        assert_eq!(cell_text(&DataRef::Empty, false), None);
        assert_eq!(
            cell_text(&DataRef::Float(30.0), true),
            Some(RawCell::Text(Cow::Borrowed("30")))
        );
        assert_eq!(
            cell_text(&DataRef::DateTimeIso("2024-01-05T00:00:00".into()), false),
            Some(RawCell::Text(Cow::Borrowed("2024-01-05")))
        );
    }
}
