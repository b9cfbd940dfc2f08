//! Reading a resource's records: filters on items (equality, ranges, `in`),
//! chosen fields, a sort, and keyset paging so that deep pages cost the same
//! as the first; and counting them exactly (`count`).

use rongshu_core::catalog::{ItemType, ResourceSpec};
use rongshu_core::value::CellValue;
use serde_json::{Map, Value};
use sqlx::{AssertSqlSafe, Row};

use crate::db::{Backend, quote_ident};
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

/// A read made ready to run: its SQL, the values it binds, and how to read
/// its rows back. Column 0 is the row id, then the fields in order, then the
/// sort values.
struct ReadPlan<'s> {
    sql: String,
    clause: clause::Clause,
    fields: Vec<(&'s str, ItemType)>,
    sort: Vec<order::SortColumn>,
    limit: i64,
}

impl<'s> ReadPlan<'s> {
    fn new(
        backend: crate::Backend,
        resource: &'s Resource,
        query: &RecordQuery,
    ) -> Result<Self, StoreError> {
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
        let mut clause = clause::Clause::new(backend);
        clause.filters(spec, &query.filters)?;
        if let Some(after) = &query.after {
            order::after(backend, &mut clause, &sort, after)?;
        }
        select.push_str(&clause.sql());
        select.push_str(&order::order_by(backend, &sort));
        // One row more than the page: whether there is a next one. Written
        // as a number, not bound: SQLite plans with a bound LIMIT's value, so
        // rebinding it makes a prepared statement compile again on every run.
        // Page sizes are few, so the texts stay few.
        select.push_str(&format!(" LIMIT {}", query.limit.saturating_add(1)));
        Ok(Self {
            sql: select,
            clause,
            fields,
            sort,
            limit: query.limit,
        })
    }

    /// Build the page from rows read back as text by column number: only the
    /// last row's position is needed, where the next page starts.
    fn page<R>(
        &self,
        rows: &mut [R],
        text: impl Fn(&mut R, usize) -> Result<Option<String>, StoreError>,
        row_id: impl Fn(&R) -> Result<i64, StoreError>,
    ) -> Result<RecordPage, StoreError> {
        let has_more = rows.len() as i64 > self.limit;
        let shown = rows.len().min(self.limit.max(0) as usize);
        let shown = &mut rows[..shown];
        let mut records = Vec::with_capacity(shown.len());
        for row in shown.iter_mut() {
            let mut record = Map::new();
            for (i, (key, item_type)) in self.fields.iter().enumerate() {
                record.insert((*key).to_owned(), json_value(*item_type, text(row, 1 + i)?));
            }
            records.push(record);
        }
        let next_after = match shown.last_mut().filter(|_| has_more) {
            None => None,
            Some(row) => {
                let first_sort = 1 + self.fields.len();
                let mut values = Vec::with_capacity(self.sort.len());
                for (i, item_type) in order::item_types(&self.sort).enumerate() {
                    values.push(order::value_of(item_type, text(row, first_sort + i)?)?);
                }
                Some(Keyset {
                    values,
                    row_id: row_id(row)?,
                })
            }
        };
        Ok(RecordPage {
            records,
            next_after,
        })
    }

    async fn run_pooled(&self, pool: &sqlx::AnyPool) -> Result<RecordPage, StoreError> {
        self.run_on(pool).await
    }

    /// The read through sqlx, on a pool or a connection.
    async fn run_on<'e, E>(&self, executor: E) -> Result<RecordPage, StoreError>
    where
        E: sqlx::Executor<'e, Database = sqlx::Any>,
    {
        let q = self
            .clause
            .bind(sqlx::query(AssertSqlSafe(self.sql.as_str())));
        let mut rows = q.fetch_all(executor).await?;
        self.page(
            &mut rows,
            |row, i| Ok(row.try_get(i)?),
            |row| Ok(row.try_get(0)?),
        )
    }

    /// The same read on a direct connection, on this thread.
    fn run_direct(&self, conn: &rusqlite::Connection) -> Result<RecordPage, StoreError> {
        let mut statement = conn.prepare_cached(&self.sql)?;
        self.clause.bind_direct(&mut statement)?;
        let columns = 1 + self.fields.len() + self.sort.len();
        let mut rows = statement.raw_query();
        let mut read: Vec<(i64, Vec<Option<String>>)> = Vec::new();
        while let Some(row) = rows.next()? {
            let mut texts = Vec::with_capacity(columns - 1);
            for i in 1..columns {
                texts.push(row.get::<_, Option<String>>(i)?);
            }
            read.push((row.get(0)?, texts));
        }
        self.page(
            &mut read,
            // Each text is taken once: the page owns it from here.
            |(_, texts), i| Ok(texts.get_mut(i - 1).and_then(Option::take)),
            |(id, _)| Ok(*id),
        )
    }
}

/// Whether a read is a lookup by key: an equality on every key item (or an
/// `in` on a key of one item), so it touches a few rows through the key's
/// unique index however large the table. Only such reads are made in place.
fn is_keyed(spec: &ResourceSpec, filters: &[Filter]) -> bool {
    let on = |key: &str, in_allowed: bool| {
        filters.iter().any(|f| {
            f.item == key
                && match f.op {
                    FilterOp::Eq(_) => true,
                    FilterOp::In(_) => in_allowed,
                    _ => false,
                }
        })
    };
    let single = spec.key_items.len() == 1;
    !spec.key_items.is_empty() && spec.key_items.iter().all(|k| on(k.as_str(), single))
}

impl Store {
    pub async fn query_records(
        &self,
        resource: &Resource,
        query: &RecordQuery,
    ) -> Result<RecordPage, StoreError> {
        let plan = ReadPlan::new(self.backend, resource, query)?;
        match &self.readers {
            // A lookup by key takes microseconds in SQLite: made here, it
            // spares the two thread hand-offs that would cost more.
            Some(readers) if is_keyed(&resource.spec, &query.filters) => {
                readers.with(|conn| plan.run_direct(conn))
            }
            _ => plan.run_pooled(&self.pool).await,
        }
    }

    /// A page and the exact total of the rows its filters match, read from
    /// one snapshot of the database: read one after the other, a batch
    /// committed between them could give a page of the old rows with the
    /// new total. Through the pool, whatever the read: a total is asked for
    /// with a listing, not with a lookup by key.
    pub async fn query_records_counted(
        &self,
        resource: &Resource,
        query: &RecordQuery,
    ) -> Result<(RecordPage, i64), StoreError> {
        let plan = ReadPlan::new(self.backend, resource, query)?;
        let begin = match self.backend {
            // A deferred transaction's first read fixes what it sees.
            Backend::Sqlite => "BEGIN",
            Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        };
        let mut tx = self.pool.begin_with(begin).await?;
        if self.backend == Backend::Postgres {
            // Before the snapshot is taken, which the first query does:
            // PostgreSQL finds the table by its name as it is now, so a
            // snapshot taken before a first load's table was swapped in
            // would read its rows, committed before the swap, beside a
            // count without them (see `pg_first_load`). Held, the lock
            // waits for a swap under way, and keeps one from starting.
            let lock = format!(
                "LOCK TABLE {} IN ACCESS SHARE MODE",
                quote_ident(&resource.table_name)
            );
            sqlx::query(AssertSqlSafe(lock)).execute(&mut *tx).await?;
        }
        let page = plan.run_on(&mut *tx).await?;
        let total = self.count_on(&mut *tx, resource, &query.filters).await?;
        tx.commit().await?;
        Ok((page, total))
    }

    /// `query_records` through the pool whatever the read, to compare the
    /// two paths in tests.
    #[doc(hidden)]
    pub async fn query_records_pooled_for_tests(
        &self,
        resource: &Resource,
        query: &RecordQuery,
    ) -> Result<RecordPage, StoreError> {
        ReadPlan::new(self.backend, resource, query)?
            .run_pooled(&self.pool)
            .await
    }
}
