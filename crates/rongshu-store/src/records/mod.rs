//! Reading a resource's records: filters on items (equality, ranges, `in`),
//! chosen fields, a sort, and keyset paging so that deep pages cost the same
//! as the first; and counting them exactly (`count`).

use rongshu_core::catalog::{ItemType, ResourceSpec};
use rongshu_core::value::CellValue;
use serde_json::{Map, Value};
use sqlx::{AssertSqlSafe, Row};

use crate::db::quote_ident;
use crate::{Resource, Store, StoreError};

pub(crate) mod clause;
mod count;
mod order;

pub use order::{Keyset, SortKey};

/// A condition on one item, with its values already checked against the
/// item's type.
#[derive(Debug, Clone)]
pub struct Filter {
    pub item: String,
    pub op: FilterOp,
}

#[derive(Debug, Clone)]
pub enum FilterOp {
    Eq(CellValue),
    Lt(CellValue),
    Lte(CellValue),
    Gt(CellValue),
    Gte(CellValue),
    /// One of the values; an empty list matches nothing.
    In(Vec<CellValue>),
}

impl Filter {
    pub fn eq(item: impl Into<String>, value: CellValue) -> Self {
        Self {
            item: item.into(),
            op: FilterOp::Eq(value),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RecordQuery {
    pub filters: Vec<Filter>,
    /// Item keys to return, already checked against the resource.
    pub fields: Vec<String>,
    /// Items to order by, in turn; the row id breaks ties (and is the whole
    /// order when this is empty).
    pub sort: Vec<SortKey>,
    pub limit: i64,
    /// The position after which to continue (from the previous page).
    pub after: Option<Keyset>,
}

impl RecordQuery {
    /// A first page in row order.
    pub fn new(filters: Vec<Filter>, fields: Vec<String>, limit: i64) -> Self {
        Self {
            filters,
            fields,
            sort: Vec::new(),
            limit,
            after: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RecordPage {
    pub records: Vec<Map<String, Value>>,
    /// The position to continue after, when there is more.
    pub next_after: Option<Keyset>,
}

/// Turn the text a column reads back as into the item's JSON value. Decimals stay
/// strings so no client parses them through a float.
pub(crate) fn json_value(item_type: ItemType, text: Option<String>) -> Value {
    let Some(text) = text else {
        return Value::Null;
    };
    match item_type {
        ItemType::Integer => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or(Value::String(text)),
        ItemType::Boolean => Value::Bool(matches!(text.as_str(), "true" | "1" | "t")),
        _ => Value::String(text),
    }
}

impl Store {
    pub async fn query_records(
        &self,
        resource: &Resource,
        query: &RecordQuery,
    ) -> Result<RecordPage, StoreError> {
        let spec: &ResourceSpec = &resource.spec;
        let fields: Vec<(&str, ItemType)> = query
            .fields
            .iter()
            .filter_map(|f| spec.item(f).map(|i| (i.key.as_str(), i.item_type)))
            .collect();
        let sort = order::columns(spec, &query.sort)?;
        let mut select = String::from("SELECT _row_id");
        for (key, _) in &fields {
            let col = quote_ident(key);
            select.push_str(&format!(", CAST({col} AS TEXT) AS {col}"));
        }
        select.push_str(&order::select_values(&sort));
        select.push_str(&format!(
            " FROM {} AS {}",
            quote_ident(&resource.table_name),
            order::TABLE
        ));
        let mut clause = clause::Clause::new(self.backend);
        clause.filters(spec, &query.filters)?;
        if let Some(after) = &query.after {
            order::after(self.backend, &mut clause, &sort, after)?;
        }
        select.push_str(&clause.sql());
        select.push_str(&order::order_by(self.backend, &sort));
        select.push_str(&format!(" LIMIT ${}", clause.bound() + 1));

        let q = clause.bind(sqlx::query(AssertSqlSafe(select)));
        let rows = q.bind(query.limit + 1).fetch_all(&self.pool).await?;
        let has_more = rows.len() as i64 > query.limit;
        let mut records = Vec::with_capacity(rows.len());
        let mut last = None;
        for row in rows.iter().take(query.limit as usize) {
            let mut record = Map::new();
            for (key, item_type) in &fields {
                let text: Option<String> = row.try_get(*key)?;
                record.insert((*key).to_owned(), json_value(*item_type, text));
            }
            last = Some(row);
            records.push(record);
        }
        // Only the last row's position is needed: where the next page starts.
        let next_after = match last.filter(|_| has_more) {
            None => None,
            Some(row) => {
                let mut values = Vec::with_capacity(sort.len());
                for (i, item_type) in order::item_types(&sort).enumerate() {
                    let text: Option<String> = row.try_get(format!("_sort_{i}").as_str())?;
                    values.push(order::value_of(item_type, text)?);
                }
                Some(Keyset {
                    values,
                    row_id: row.try_get::<i64, _>("_row_id")?,
                })
            }
        };
        Ok(RecordPage {
            records,
            next_after,
        })
    }
}
