//! The two sides of a linkage run: a table of rows with an id and optional text
//! values, in the table's own column order.

use super::error::LinkageError;

/// One record: its id in its own table and one optional value per column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: String,
    pub values: Vec<Option<String>>,
}

/// A table to link; every row has exactly one value (or `None`) per column.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    columns: Vec<String>,
    rows: Vec<Row>,
}

impl Table {
    pub fn new(columns: Vec<String>) -> Self {
        Self {
            columns,
            rows: Vec::new(),
        }
    }

    /// Adds a row; refuses one whose width differs from the header so that column
    /// lookups later cannot go out of range.
    pub fn push(&mut self, id: String, values: Vec<Option<String>>) -> Result<(), LinkageError> {
        if values.len() != self.columns.len() {
            return Err(LinkageError::RowWidth {
                id,
                expected: self.columns.len(),
                got: values.len(),
            });
        }
        self.rows.push(Row { id, values });
        Ok(())
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub(crate) fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The value at (`row`, `column`), `None` when null or out of range.
    pub(crate) fn value(&self, row: usize, column: usize) -> Option<&str> {
        self.rows
            .get(row)
            .and_then(|r| r.values.get(column))
            .and_then(|v| v.as_deref())
    }
}
