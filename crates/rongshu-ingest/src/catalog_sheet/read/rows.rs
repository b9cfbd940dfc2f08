//! The header matched to catalog columns, and the data rows grouped into resources.

use std::collections::HashMap;

use super::super::cells::Grid;
use super::super::columns::Column;
use super::Problems;

/// Which sheet column holds which catalog column, and what its header says.
pub(super) struct Header {
    by_sheet_column: HashMap<u32, Column>,
    labels: Vec<Option<String>>,
}

impl Header {
    pub(super) fn read(grid: &Grid, problems: &mut Problems) -> Option<Header> {
        let Some(cells) = grid.get(&0) else {
            problems.file(if grid.is_empty() {
                "the sheet is empty"
            } else {
                "row 1 is empty; it must be the header naming the columns"
            });
            return None;
        };
        let mut header = Header {
            by_sheet_column: HashMap::new(),
            labels: vec![None; Column::COUNT],
        };
        let mut ok = true;
        for (&col, text) in cells {
            // Columns the office adds for itself (备注, 审核意见) are not ours to judge.
            let Some(column) = Column::from_header(text) else {
                continue;
            };
            if let Some(first) = &header.labels[column.index()] {
                problems.push(
                    1,
                    Some(text.clone()),
                    format!("the column {first} appears twice"),
                );
                ok = false;
                continue;
            }
            header.labels[column.index()] = Some(text.clone());
            header.by_sheet_column.insert(col, column);
        }
        for column in Column::REQUIRED {
            if header.labels[column.index()].is_none() {
                problems.push(
                    1,
                    Some(column.header()),
                    format!(
                        "the sheet has no column {}; it is required",
                        column.header()
                    ),
                );
                ok = false;
            }
        }
        ok.then_some(header)
    }

    /// The label to name a column by: as the sheet writes it, when it has it.
    pub(super) fn label(&self, column: Column) -> String {
        self.labels[column.index()]
            .clone()
            .unwrap_or_else(|| column.header())
    }

    /// The data rows with a value in at least one of our columns.
    pub(super) fn rows(&self, grid: &Grid) -> Vec<Row> {
        grid.range(1..)
            .filter_map(|(&row, cells)| {
                let mut values = vec![None; Column::COUNT];
                for (col, text) in cells {
                    if let Some(column) = self.by_sheet_column.get(col) {
                        values[column.index()] = Some(text.clone());
                    }
                }
                values.iter().any(Option::is_some).then(|| Row {
                    number: row.saturating_add(1),
                    values,
                })
            })
            .collect()
    }
}

/// One data row: its 1-based sheet row and its values by [`Column::index`].
pub(super) struct Row {
    pub(super) number: u32,
    values: Vec<Option<String>>,
}

impl Row {
    pub(super) fn get(&self, column: Column) -> Option<&str> {
        self.values[column.index()].as_deref()
    }
}

/// Rows grouped into resources, each group in sheet order: by 资源代码 when a
/// row has one, else by (提供方代码, 资源名称). A row with none of the three
/// continues the resource above it, the way merged cells read.
pub(super) fn group_rows(
    rows: &[Row],
    header: &Header,
    problems: &mut Problems,
) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut by_code: HashMap<&str, usize> = HashMap::new();
    let mut by_name: HashMap<(&str, &str), usize> = HashMap::new();
    let mut last: Option<usize> = None;
    for (i, row) in rows.iter().enumerate() {
        let provider = row.get(Column::ProviderCode).unwrap_or("");
        let name = row.get(Column::Name);
        let found = match (row.get(Column::Code), name) {
            (Some(code), _) => by_code.get(code).copied(),
            (None, Some(name)) => by_name.get(&(provider, name)).copied(),
            // A differing 提供方代码 on such a row shows up as a disagreement.
            (None, None) => last,
        };
        let g = match found {
            Some(g) => g,
            None if row.get(Column::Code).is_none() && name.is_none() => {
                problems.push(
                    row.number,
                    Some(header.label(Column::Name)),
                    "this row names no resource; fill in 资源名称 and 提供方代码",
                );
                continue;
            }
            None => {
                groups.push(Vec::new());
                groups.len() - 1
            }
        };
        if let Some(code) = row.get(Column::Code) {
            by_code.entry(code).or_insert(g);
        }
        if let Some(name) = name {
            by_name.entry((provider, name)).or_insert(g);
        }
        groups[g].push(i);
        last = Some(g);
    }
    groups
}
