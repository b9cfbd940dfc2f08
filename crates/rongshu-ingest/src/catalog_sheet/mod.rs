//! The catalog in the spreadsheet layout a catalog-compilation office uses: one
//! row per data item with the resource's fields repeated, written as XLSX or CSV
//! and read back from XLSX so a department can fill its catalog in a spreadsheet.
//! Reading is all or nothing: every resource in the file, or every problem found.

mod cells;
mod columns;
mod read;
mod values;
mod write;

use std::fmt;

use rongshu_core::catalog::ResourceSpec;
use serde::{Deserialize, Serialize};

pub(crate) use cells::read_grid;
pub use read::read_xlsx;
pub(crate) use values::number_text;
pub use write::{write_csv, write_xlsx};

/// The name of the one sheet an export holds; an import prefers a sheet of this
/// name and otherwise reads the first.
pub const SHEET_NAME: &str = "资源目录";

/// At most this many problems are listed; past it the file is too far off for a
/// longer list to help whoever fixes it.
pub const MAX_PROBLEMS: usize = 200;

/// One resource as exported: its catalog identity plus the declaration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogEntry {
    pub code: String,
    pub provider_code: String,
    pub provider_name: String,
    pub status: String,
    pub version: i64,
    pub publish_date: Option<String>,
    pub spec: ResourceSpec,
}

/// One resource read from a sheet, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedEntry {
    /// The sheet row (1-based, header = 1) where the resource's first item is.
    pub first_row: u32,
    /// The resource code, when the sheet gives one (a re-import of an export).
    pub code: Option<String>,
    pub provider_code: String,
    pub provider_name: Option<String>,
    pub spec: ResourceSpec,
}

/// Something wrong with an imported sheet, placed where whoever fills it can find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetProblem {
    /// 1-based sheet row, header = 1; 0 for a problem with the file as a whole.
    pub row: u32,
    /// The column's header label as the sheet writes it (or the standard label of
    /// a column the sheet lacks).
    pub column: Option<String>,
    pub message: String,
}

impl SheetProblem {
    pub(crate) fn file(message: impl Into<String>) -> Self {
        Self {
            row: 0,
            column: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for SheetProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.row, &self.column) {
            (0, _) => write!(f, "{}", self.message),
            (row, Some(column)) => write!(f, "row {row}, column {column}: {}", self.message),
            (row, None) => write!(f, "row {row}: {}", self.message),
        }
    }
}

/// Why a sheet was not imported: every problem found, in sheet order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ImportErrors {
    pub problems: Vec<SheetProblem>,
}

impl fmt::Display for ImportErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "the catalog sheet was not imported: {n} problem{}",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

/// An export that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    #[error("writing the XLSX workbook failed: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("writing the CSV file failed: {0}")]
    Csv(#[from] csv::Error),
    #[error("writing the export failed: {0}")]
    Io(#[from] std::io::Error),
}
