//! The WHERE clause of a read or a count: each condition's SQL and the values
//! it binds, in order. Columns are checked catalog keys, quoted; values are
//! always bound, never written into the text.

use rongshu_core::catalog::{ItemType, ResourceSpec};
use rongshu_core::value::CellValue;
use sqlx::Any;
use sqlx::any::AnyArguments;
use sqlx::query::Query;

use super::{Filter, FilterOp};
use crate::StoreError;
use crate::batches::bind_cell;
use crate::db::{Backend, quote_ident};

/// A value a clause binds.
#[derive(Debug, Clone)]
enum Bound {
    Cell(ItemType, CellValue),
    Int(i64),
}

/// Conditions joined by AND, with their bound values.
pub(crate) struct Clause {
    backend: Backend,
    conditions: Vec<String>,
    bound: Vec<Bound>,
}

impl Clause {
    pub(crate) fn new(backend: Backend) -> Self {
        Self {
            backend,
            conditions: Vec::new(),
            bound: Vec::new(),
        }
    }

    /// A placeholder for a typed value (PostgreSQL casts it to the column's type).
    pub(crate) fn mark(&mut self, item_type: ItemType, value: &CellValue) -> String {
        self.bound.push(Bound::Cell(item_type, value.clone()));
        self.backend.placeholder(item_type, self.bound.len())
    }

    pub(crate) fn mark_int(&mut self, value: i64) -> String {
        self.bound.push(Bound::Int(value));
        format!("${}", self.bound.len())
    }

    pub(crate) fn push(&mut self, condition: String) {
        self.conditions.push(condition);
    }

    /// The caller's filters (and the grant's row scope, which arrives as filters).
    pub(crate) fn filters(
        &mut self,
        spec: &ResourceSpec,
        filters: &[Filter],
    ) -> Result<(), StoreError> {
        for filter in filters {
            let item = spec
                .item(&filter.item)
                .ok_or_else(|| StoreError::NotFound(format!("item {}", filter.item)))?;
            let (col, item_type) = (quote_ident(item.key.as_str()), item.item_type);
            let condition = match &filter.op {
                FilterOp::Eq(v) => format!("{col} = {}", self.mark(item_type, v)),
                FilterOp::In(values) if values.is_empty() => "1 = 0".to_owned(),
                FilterOp::In(values) => {
                    let marks: Vec<String> =
                        values.iter().map(|v| self.mark(item_type, v)).collect();
                    format!("{col} IN ({})", marks.join(", "))
                }
                FilterOp::Lt(v) | FilterOp::Lte(v) | FilterOp::Gt(v) | FilterOp::Gte(v) => {
                    let sign = match &filter.op {
                        FilterOp::Lt(_) => "<",
                        FilterOp::Lte(_) => "<=",
                        FilterOp::Gt(_) => ">",
                        _ => ">=",
                    };
                    let mark = self.mark(item_type, v);
                    if self.backend == Backend::Sqlite && item_type == ItemType::Decimal {
                        // SQLite keeps decimals as canonical text, which does
                        // not sort as numbers; compare them as numbers.
                        format!("CAST({col} AS REAL) {sign} CAST({mark} AS REAL)")
                    } else {
                        format!("{col} {sign} {mark}")
                    }
                }
            };
            self.conditions.push(condition);
        }
        Ok(())
    }

    /// ` WHERE …`, or nothing when there is no condition.
    pub(crate) fn sql(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        }
    }

    /// How many values are bound so far (the next placeholder is one more).
    pub(crate) fn bound(&self) -> usize {
        self.bound.len()
    }

    /// Bind the values to a statement on a direct SQLite connection, as
    /// [`Clause::bind`] binds them for the pool: integers and yes/no as
    /// integers, everything else as its canonical text. Placeholders are
    /// found by name, so their order in the text does not matter.
    pub(crate) fn bind_direct(
        &self,
        statement: &mut rusqlite::Statement<'_>,
    ) -> Result<(), StoreError> {
        for (n, value) in self.bound.iter().enumerate() {
            let name = format!("${}", n + 1);
            let Some(at) = statement.parameter_index(&name)? else {
                return Err(StoreError::Invalid(format!(
                    "the statement has no parameter {name}"
                )));
            };
            match value {
                Bound::Cell(ItemType::Integer, CellValue::Integer(i)) | Bound::Int(i) => {
                    statement.raw_bind_parameter(at, *i)?
                }
                Bound::Cell(ItemType::Boolean, CellValue::Boolean(b)) => {
                    statement.raw_bind_parameter(at, *b)?
                }
                Bound::Cell(_, cell) => statement.raw_bind_parameter(at, cell.canonical_text())?,
            }
        }
        Ok(())
    }

    pub(crate) fn bind<'q>(
        &self,
        mut query: Query<'q, Any, AnyArguments>,
    ) -> Query<'q, Any, AnyArguments> {
        for value in &self.bound {
            query = match value {
                Bound::Cell(item_type, cell) => bind_cell(query, *item_type, Some(cell)),
                Bound::Int(i) => query.bind(*i),
            };
        }
        query
    }
}
