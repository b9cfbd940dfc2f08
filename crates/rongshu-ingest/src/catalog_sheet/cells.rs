//! The cells of the catalog sheet out of XLSX bytes, as trimmed text: the one
//! place that knows about calamine.

use std::collections::BTreeMap;
use std::io::Cursor;

use calamine::{DataRef, Reader, Xlsx};

use super::values::number_text;
use super::{SHEET_NAME, SheetProblem};

/// Non-empty cells by 0-based row, then 0-based column.
pub(crate) type Grid = BTreeMap<u32, BTreeMap<u32, String>>;

/// Cells further right than this are nobody's catalog column; skipping them
/// keeps a sheet with a stray far-away cell from costing memory.
const MAX_COLUMNS: u32 = 1024;

/// Read the sheet named [`SHEET_NAME`], or else the first sheet, streaming its
/// cells rather than building a dense range (a single cell at XFD1048576 would
/// otherwise ask for billions).
pub(crate) fn read_grid(bytes: &[u8]) -> Result<Grid, SheetProblem> {
    let mut workbook = Xlsx::new(Cursor::new(bytes)).map_err(|e| not_xlsx(bytes, &e))?;
    let names = workbook.sheet_names();
    let name = names
        .iter()
        .find(|n| n.as_str() == SHEET_NAME)
        .or(names.first())
        .cloned()
        .ok_or_else(|| SheetProblem::file("the workbook has no sheets"))?;
    let unreadable =
        |e: calamine::XlsxError| SheetProblem::file(format!("sheet {name} could not be read: {e}"));
    let mut reader = workbook.worksheet_cells_reader(&name).map_err(unreadable)?;
    let mut grid = Grid::new();
    while let Some(cell) = reader.next_cell().map_err(unreadable)? {
        let (row, col) = cell.get_position();
        if col >= MAX_COLUMNS {
            continue;
        }
        if let Some(text) = cell_text(cell.get_value()) {
            grid.entry(row).or_default().insert(col, text);
        }
    }
    Ok(grid)
}

fn not_xlsx(bytes: &[u8], e: &calamine::XlsxError) -> SheetProblem {
    // A CSV export fed back in is the likeliest mistake; say so plainly.
    let head = &bytes[..bytes.len().min(4096)];
    // A damaged workbook is a zip archive (PK…) even when its first bytes are ASCII.
    let looks_like_text = !bytes.is_empty()
        && !bytes.starts_with(b"PK")
        && match std::str::from_utf8(head) {
            Ok(_) => true,
            // A multi-byte character cut at the 4096-byte boundary is still text.
            Err(e) => e.error_len().is_none(),
        };
    if bytes.is_empty() {
        SheetProblem::file("the file is empty; import takes an XLSX workbook")
    } else if looks_like_text {
        SheetProblem::file(
            "the file is text (CSV?), not an XLSX workbook; open it in a spreadsheet and save it as .xlsx",
        )
    } else {
        SheetProblem::file(format!("the file is not an XLSX workbook ({e})"))
    }
}

fn cell_text(value: &DataRef<'_>) -> Option<String> {
    let text = match value {
        DataRef::Empty => return None,
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number_text(*f),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(d) => number_text(d.as_f64()),
        // An error cell (#N/A) reads as its text, which then fails where it is used.
        DataRef::Error(e) => e.to_string(),
    };
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}
