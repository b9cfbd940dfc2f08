//! Reading a resource's records: filters on items (equality, ranges, `in`),
//! chosen fields, and keyset paging on the row id so that deep pages cost the
//! same as the first.

use rongshu_core::catalog::{ItemType, ResourceSpec};
use rongshu_core::value::CellValue;
use serde_json::{Map, Value};
use sqlx::{AssertSqlSafe, Row};

use crate::batches::bind_cell;
use crate::db::{Backend, quote_ident};
use crate::{Resource, Store, StoreError};

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

    fn values(&self) -> &[CellValue] {
        match &self.op {
            FilterOp::Eq(v)
            | FilterOp::Lt(v)
            | FilterOp::Lte(v)
            | FilterOp::Gt(v)
            | FilterOp::Gte(v) => std::slice::from_ref(v),
            FilterOp::In(vs) => vs,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RecordQuery {
    pub filters: Vec<Filter>,
    /// Item keys to return, already checked against the resource.
    pub fields: Vec<String>,
    pub limit: i64,
    /// Row id after which to continue (from the previous page's cursor).
    pub after: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct RecordPage {
    pub records: Vec<Map<String, Value>>,
    /// The row id to continue after, when there is more.
    pub next_after: Option<i64>,
}

/// The SQL conditions for `filters` (placeholders numbered on from `n`) and
/// the item type of each filter, for binding its values.
pub(crate) fn filter_conditions(
    backend: Backend,
    spec: &ResourceSpec,
    filters: &[Filter],
    n: &mut usize,
) -> Result<(Vec<String>, Vec<ItemType>), StoreError> {
    let mut conditions = Vec::new();
    let mut filter_types = Vec::new();
    for filter in filters {
        let item = spec
            .item(&filter.item)
            .ok_or_else(|| StoreError::NotFound(format!("item {}", filter.item)))?;
        let col = quote_ident(item.key.as_str());
        let mut next = || {
            *n += 1;
            backend.placeholder(item.item_type, *n)
        };
        let condition = match &filter.op {
            FilterOp::Eq(_) => format!("{col} = {}", next()),
            FilterOp::In(values) if values.is_empty() => "1 = 0".to_owned(),
            FilterOp::In(values) => {
                let marks: Vec<String> = values.iter().map(|_| next()).collect();
                format!("{col} IN ({})", marks.join(", "))
            }
            FilterOp::Lt(_) | FilterOp::Lte(_) | FilterOp::Gt(_) | FilterOp::Gte(_) => {
                let sign = match &filter.op {
                    FilterOp::Lt(_) => "<",
                    FilterOp::Lte(_) => "<=",
                    FilterOp::Gt(_) => ">",
                    _ => ">=",
                };
                let mark = next();
                if backend == Backend::Sqlite && item.item_type == ItemType::Decimal {
                    // SQLite keeps decimals as canonical text, which does
                    // not sort as numbers; compare them as numbers.
                    format!("CAST({col} AS REAL) {sign} CAST({mark} AS REAL)")
                } else {
                    format!("{col} {sign} {mark}")
                }
            }
        };
        conditions.push(condition);
        filter_types.push(item.item_type);
    }
    Ok((conditions, filter_types))
}

/// Bind the values of `filters`, in the order `filter_conditions` numbered them.
pub(crate) fn bind_filters<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    filters: &'q [Filter],
    types: &[ItemType],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for (filter, item_type) in filters.iter().zip(types) {
        for value in filter.values() {
            q = bind_cell(q, *item_type, Some(value));
        }
    }
    q
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
        let mut select = String::from("SELECT _row_id");
        for (key, _) in &fields {
            let col = quote_ident(key);
            select.push_str(&format!(", CAST({col} AS TEXT) AS {col}"));
        }
        select.push_str(&format!(" FROM {}", quote_ident(&resource.table_name)));
        let mut n = 0;
        let (mut conditions, filter_types) =
            filter_conditions(self.backend, spec, &query.filters, &mut n)?;
        if query.after.is_some() {
            n += 1;
            conditions.push(format!("_row_id > ${n}"));
        }
        if !conditions.is_empty() {
            select.push_str(" WHERE ");
            select.push_str(&conditions.join(" AND "));
        }
        n += 1;
        select.push_str(&format!(" ORDER BY _row_id LIMIT ${n}"));

        let mut q = sqlx::query(AssertSqlSafe(select));
        q = bind_filters(q, &query.filters, &filter_types);
        if let Some(after) = query.after {
            q = q.bind(after);
        }
        q = q.bind(query.limit + 1);
        let rows = q.fetch_all(&self.pool).await?;
        let has_more = rows.len() as i64 > query.limit;
        let mut records = Vec::with_capacity(rows.len());
        let mut last_id = None;
        for row in rows.iter().take(query.limit as usize) {
            let mut record = Map::new();
            for (key, item_type) in &fields {
                let text: Option<String> = row.try_get(*key)?;
                record.insert((*key).to_owned(), json_value(*item_type, text));
            }
            last_id = Some(row.try_get::<i64, _>("_row_id")?);
            records.push(record);
        }
        Ok(RecordPage {
            records,
            next_after: if has_more { last_id } else { None },
        })
    }
}
