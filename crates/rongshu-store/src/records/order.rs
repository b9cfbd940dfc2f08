//! The order of a read and where a page starts in it. Rows are ordered by the
//! chosen items, each ascending or descending with empty values last either
//! way (the same on both backends), then by row id, which is unique: so every
//! row has one place, and a page continues strictly after the last row of
//! the previous one (keyset paging) however deep it is.

use rongshu_core::catalog::{ItemType, ResourceSpec};
use rongshu_core::value::{CellValue, parse_cell};

use super::clause::Clause;
use crate::StoreError;
use crate::db::{Backend, quote_ident};

/// One item to sort by, already checked against the resource and the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub item: String,
    pub descending: bool,
}

/// A position in a sorted read: the sort values of a row (`None` for an
/// empty value) and its row id.
#[derive(Debug, Clone, PartialEq)]
pub struct Keyset {
    pub values: Vec<Option<CellValue>>,
    pub row_id: i64,
}

impl Keyset {
    /// The position of a row in the order of the row id alone.
    pub fn row(row_id: i64) -> Self {
        Self {
            values: Vec::new(),
            row_id,
        }
    }
}

/// The alias the read gives the resource's table.
pub(crate) const TABLE: &str = "t";

/// A sort key resolved to its column.
pub(crate) struct SortColumn {
    column: String,
    item_type: ItemType,
    descending: bool,
}

/// Resolve the sort keys against the declaration.
pub(crate) fn columns(
    spec: &ResourceSpec,
    sort: &[SortKey],
) -> Result<Vec<SortColumn>, StoreError> {
    sort.iter()
        .map(|key| {
            let item = spec
                .item(&key.item)
                .ok_or_else(|| StoreError::NotFound(format!("item {}", key.item)))?;
            Ok(SortColumn {
                // Qualified: in ORDER BY a bare name would be the selected
                // column of that name, which is the value cast to text.
                column: format!("{TABLE}.{}", quote_ident(item.key.as_str())),
                item_type: item.item_type,
                descending: key.descending,
            })
        })
        .collect()
}

/// The expression a column is ordered and compared by. SQLite keeps decimals as
/// text, which would sort "10" before "9"; PostgreSQL would order text by the
/// database's locale, which SQLite does not know: text goes by code point on both.
fn comparable(backend: Backend, item_type: ItemType, expr: &str) -> String {
    match (backend, item_type) {
        (Backend::Sqlite, ItemType::Decimal) => format!("CAST({expr} AS REAL)"),
        (Backend::Postgres, ItemType::String) => format!("{expr} COLLATE \"C\""),
        _ => expr.to_owned(),
    }
}

/// `ORDER BY …` for the sort keys, then the row id.
pub(crate) fn order_by(backend: Backend, sort: &[SortColumn]) -> String {
    let mut terms: Vec<String> = sort
        .iter()
        .map(|s| {
            let dir = if s.descending { "DESC" } else { "ASC" };
            format!(
                "{} {dir} NULLS LAST",
                comparable(backend, s.item_type, &s.column)
            )
        })
        .collect();
    terms.push(format!("{TABLE}._row_id ASC"));
    format!(" ORDER BY {}", terms.join(", "))
}

/// Add the condition "after this position" to a clause: for some sort key,
/// every earlier key equal and this one further along; or all keys equal
/// and a higher row id. An empty value is last, so nothing is further along
/// than it, and a value is followed by every empty one.
pub(crate) fn after(
    backend: Backend,
    clause: &mut Clause,
    sort: &[SortColumn],
    keyset: &Keyset,
) -> Result<(), StoreError> {
    if keyset.values.len() != sort.len() {
        return Err(StoreError::Invalid(format!(
            "the page position has {} sort values for {} sort keys",
            keyset.values.len(),
            sort.len()
        )));
    }
    let mut alternatives = Vec::new();
    let mut equal: Vec<String> = Vec::new();
    for (s, value) in sort.iter().zip(&keyset.values) {
        let col = comparable(backend, s.item_type, &s.column);
        match value {
            None => equal.push(format!("{} IS NULL", s.column)),
            Some(v) => {
                let further = comparable(backend, s.item_type, &clause.mark(s.item_type, v));
                let sign = if s.descending { "<" } else { ">" };
                let mut all = equal.clone();
                all.push(format!("({col} {sign} {further} OR {} IS NULL)", s.column));
                alternatives.push(format!("({})", all.join(" AND ")));
                let same = comparable(backend, s.item_type, &clause.mark(s.item_type, v));
                equal.push(format!("{col} = {same}"));
            }
        }
    }
    equal.push(format!(
        "{TABLE}._row_id > {}",
        clause.mark_int(keyset.row_id)
    ));
    alternatives.push(format!("({})", equal.join(" AND ")));
    clause.push(format!("({})", alternatives.join(" OR ")));
    Ok(())
}

/// Extra columns a read selects: each sort key's value as text, to say where
/// the page ended.
pub(crate) fn select_values(sort: &[SortColumn]) -> String {
    sort.iter()
        .enumerate()
        .map(|(i, s)| format!(", CAST({} AS TEXT) AS _sort_{i}", s.column))
        .collect()
}

/// A sort value as read back (text) into the item's typed value.
pub(crate) fn value_of(
    item_type: ItemType,
    text: Option<String>,
) -> Result<Option<CellValue>, StoreError> {
    let Some(text) = text else {
        return Ok(None);
    };
    match item_type {
        // Text is kept as stored, not trimmed: the position must be exact.
        ItemType::String => Ok(Some(CellValue::Text(text))),
        _ => parse_cell(item_type, &text)
            .map_err(|e| StoreError::Corrupt(format!("a stored value reads back as {e}"))),
    }
}

pub(crate) fn item_types(sort: &[SortColumn]) -> impl Iterator<Item = ItemType> + '_ {
    sort.iter().map(|s| s.item_type)
}
