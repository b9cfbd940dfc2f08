//! Reading a filled-in catalog sheet: the header is matched to columns, rows are
//! grouped into resources, and each resource is checked as a declaration, with
//! every problem placed at a row and column.

mod resource;
mod rows;

use super::cells::read_grid;
use super::{ImportErrors, ImportedEntry, MAX_PROBLEMS, SheetProblem};
use resource::Resource;
use rows::{Header, Row, group_rows};

/// All or nothing: either every resource in the file, or every problem found
/// (row and column named).
pub fn read_xlsx(bytes: &[u8]) -> Result<Vec<ImportedEntry>, ImportErrors> {
    let mut problems = Problems::default();
    let entries = read_entries(bytes, &mut problems);
    if problems.list.is_empty() {
        Ok(entries)
    } else {
        Err(problems.finish())
    }
}

fn read_entries(bytes: &[u8], problems: &mut Problems) -> Vec<ImportedEntry> {
    let grid = match read_grid(bytes) {
        Ok(grid) => grid,
        Err(p) => {
            problems.list.push(p);
            return Vec::new();
        }
    };
    let Some(header) = Header::read(&grid, problems) else {
        return Vec::new();
    };
    let rows = header.rows(&grid);
    if rows.is_empty() {
        problems.file("the sheet has a header but no resources below it");
        return Vec::new();
    }
    let groups = group_rows(&rows, &header, problems);
    groups
        .iter()
        .filter_map(|group| {
            let rows: Vec<&Row> = group.iter().map(|&i| &rows[i]).collect();
            Resource::new(&rows, &header, problems).build(problems)
        })
        .collect()
}

/// Problems gathered so far, capped at [`MAX_PROBLEMS`].
#[derive(Default)]
pub(super) struct Problems {
    list: Vec<SheetProblem>,
    dropped: usize,
}

impl Problems {
    pub(super) fn push(&mut self, row: u32, column: Option<String>, message: impl Into<String>) {
        if self.list.len() < MAX_PROBLEMS {
            self.list.push(SheetProblem {
                row,
                column,
                message: message.into(),
            });
        } else {
            self.dropped += 1;
        }
    }

    pub(super) fn file(&mut self, message: impl Into<String>) {
        self.push(0, None, message);
    }

    fn finish(mut self) -> ImportErrors {
        // Sheet order, so whoever fixes the file can work down it; stable, so
        // problems in one row keep the order they were found in.
        self.list.sort_by_key(|p| p.row);
        if self.dropped > 0 {
            self.list.push(SheetProblem::file(format!(
                "{} more problems were not listed; fix these and import again",
                self.dropped
            )));
        }
        ImportErrors {
            problems: self.list,
        }
    }
}
