//! A plain table as an XLSX workbook: a bold header row, then text cells.
//! For lists a provider downloads, corrects and sends back (a batch's failed
//! checks), so every cell is written as text: a value that looks like a
//! formula stays a value, and an ID number keeps its leading zeros.

use rust_xlsxwriter::{Format, Workbook, XlsxError};

/// Data rows one sheet holds (Excel's limit, less the header).
pub const MAX_SHEET_ROWS: u32 = 1_048_575;

#[derive(Debug, thiserror::Error)]
pub enum TableSheetError {
    #[error("the workbook could not be written: {0}")]
    Xlsx(#[from] XlsxError),
}

/// A one-sheet workbook being filled row by row.
pub struct TableSheet {
    workbook: Workbook,
    rows: u32,
}

impl TableSheet {
    pub fn new(sheet_name: &str, header: &[&str]) -> Result<Self, TableSheetError> {
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet();
        sheet.set_name(sheet_name)?;
        let bold = Format::new().set_bold();
        for (col, title) in (0u16..).zip(header) {
            sheet.write_string_with_format(0, col, *title, &bold)?;
            sheet.set_column_width(col, 16)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        Ok(Self { workbook, rows: 0 })
    }

    /// Add a row; false (and nothing written) once the sheet is full.
    pub fn push(&mut self, cells: &[&str]) -> Result<bool, TableSheetError> {
        if self.rows >= MAX_SHEET_ROWS {
            return Ok(false);
        }
        self.rows += 1;
        let sheet = self.workbook.worksheet_from_index(0)?;
        for (col, cell) in (0u16..).zip(cells) {
            if !cell.is_empty() {
                sheet.write_string(self.rows, col, *cell)?;
            }
        }
        Ok(true)
    }

    pub fn finish(mut self) -> Result<Vec<u8>, TableSheetError> {
        Ok(self.workbook.save_to_buffer()?)
    }
}

/// A workbook sent back: its first sheet's rows as text, the header first,
/// each row as wide as the widest (empty cells as empty text).
pub fn read_table(bytes: &[u8]) -> Result<Vec<Vec<String>>, String> {
    let grid = crate::catalog_sheet::read_grid(bytes).map_err(|p| p.message)?;
    let width = grid
        .values()
        .filter_map(|row| row.keys().next_back())
        .max()
        .map_or(0, |last| *last as usize + 1);
    let mut rows = Vec::new();
    let mut expected = 0u32;
    for (index, cells) in grid {
        // Blank rows in between read as empty rows, so line numbers hold.
        while expected < index {
            rows.push(vec![String::new(); width]);
            expected += 1;
        }
        let mut row = vec![String::new(); width];
        for (col, text) in cells {
            if let Some(slot) = row.get_mut(col as usize) {
                *slot = text;
            }
        }
        rows.push(row);
        expected = index + 1;
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_written_reads_back_cell_for_cell() {
        let mut sheet = TableSheet::new("tickets", &["ticket", "answer", "note"]).unwrap();
        sheet.push(&["12", "", ""]).unwrap();
        sheet.push(&["13", "confirm", "经核实无误"]).unwrap();
        let bytes = sheet.finish().unwrap();
        let rows = read_table(&bytes).unwrap();
        assert_eq!(
            rows,
            vec![
                vec!["ticket", "answer", "note"],
                vec!["12", "", ""],
                vec!["13", "confirm", "经核实无误"],
            ]
        );
        assert!(read_table(b"ticket,answer\n1,confirm\n").is_err());
    }

    #[test]
    fn a_table_round_trips_as_text() {
        let mut sheet = TableSheet::new("失败记录", &["row", "value"]).unwrap();
        assert!(sheet.push(&["2", "=1+1"]).unwrap());
        assert!(sheet.push(&["3", "0510"]).unwrap());
        let bytes = sheet.finish().unwrap();
        use calamine::{Reader, Xlsx};
        let mut book = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        let range = book.worksheet_range("失败记录").unwrap();
        let cells: Vec<String> = range
            .rows()
            .flat_map(|r| r.iter().map(|c| c.to_string()))
            .collect();
        assert_eq!(cells, ["row", "value", "2", "=1+1", "3", "0510"]);
    }
}
