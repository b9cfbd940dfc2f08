//! Reading a released view's rows the way open-data clients page them: by
//! offset, sorted on items, with an optional text search over some items and
//! the total count (CKAN's `datastore_search`).

use rongshu_core::catalog::ItemType;
use rongshu_core::value::CellValue;
use serde_json::{Map, Value};
use sqlx::{AssertSqlSafe, Row};

use crate::db::{Backend, quote_ident};
use crate::records::clause::Clause;
use crate::records::{SortKey, json_value};
use crate::{Filter, Resource, Store, StoreError};

/// A checked query on a view: every item named is one the caller may see.
#[derive(Debug, Clone, Default)]
pub struct ViewQuery {
    /// The view's own filters and the caller's, all of which must hold.
    pub filters: Vec<Filter>,
    /// Text that must appear (case-insensitively) in one of `text_items`.
    pub text: Option<String>,
    pub text_items: Vec<String>,
    pub fields: Vec<String>,
    pub sort: Vec<SortKey>,
    pub limit: i64,
    pub offset: i64,
    /// Count every matching row too.
    pub count: bool,
    /// Only rows after this row id: reading a whole view page by page (with
    /// no sort keys) by keyset, so a late page costs what the first does.
    pub after: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ViewPage {
    /// Each record with its row id.
    pub records: Vec<(i64, Map<String, Value>)>,
    pub total: Option<i64>,
}

/// `%`, `_` and the escape character itself match literally.
fn like_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl Store {
    pub async fn query_view(
        &self,
        resource: &Resource,
        query: &ViewQuery,
    ) -> Result<ViewPage, StoreError> {
        let spec = &resource.spec;
        let item = |key: &str| {
            spec.item(key)
                .ok_or_else(|| StoreError::NotFound(format!("item {key}")))
        };
        let mut clause = Clause::new(self.backend);
        clause.filters(spec, &query.filters)?;
        if let Some(text) = query.text.as_deref() {
            let mark = clause.mark(ItemType::String, &CellValue::Text(like_pattern(text)));
            let mut alternatives = Vec::new();
            for key in &query.text_items {
                let col = quote_ident(item(key)?.key.as_str());
                alternatives.push(format!(
                    "LOWER(CAST({col} AS TEXT)) LIKE {mark} ESCAPE '\\'"
                ));
            }
            clause.push(if alternatives.is_empty() {
                "1 = 0".to_owned()
            } else {
                format!("({})", alternatives.join(" OR "))
            });
        }
        if let Some(after) = query.after {
            let mark = clause.mark_int(after);
            clause.push(format!("_row_id > {mark}"));
        }
        let table = quote_ident(&resource.table_name);
        let where_sql = clause.sql();

        let total = if query.count {
            let sql = format!("SELECT COUNT(*) AS n FROM {table}{where_sql}");
            let q = clause.bind(sqlx::query(AssertSqlSafe(sql)));
            Some(q.fetch_one(&self.pool).await?.try_get::<i64, _>("n")?)
        } else {
            None
        };

        let mut fields: Vec<(&str, ItemType)> = Vec::with_capacity(query.fields.len());
        for key in &query.fields {
            let it = item(key)?;
            fields.push((it.key.as_str(), it.item_type));
        }
        let mut select = String::from("SELECT _row_id");
        for (key, _) in &fields {
            let col = quote_ident(key);
            select.push_str(&format!(", CAST({col} AS TEXT) AS {col}"));
        }
        select.push_str(&format!(" FROM {table}{where_sql} ORDER BY "));
        for key in &query.sort {
            let it = item(&key.item)?;
            let col = quote_ident(it.key.as_str());
            let expr = if self.backend == Backend::Sqlite && it.item_type == ItemType::Decimal {
                // Decimals are canonical text on SQLite: sort them as numbers.
                format!("CAST({col} AS REAL)")
            } else {
                col
            };
            let dir = if key.descending { "DESC" } else { "ASC" };
            // Nulls last either way, as on PostgreSQL's ascending default.
            select.push_str(&format!("({expr} IS NULL), {expr} {dir}, "));
        }
        let n = clause.bound();
        select.push_str(&format!("_row_id LIMIT ${} OFFSET ${}", n + 1, n + 2));
        let q = clause
            .bind(sqlx::query(AssertSqlSafe(select)))
            .bind(query.limit)
            .bind(query.offset);
        let rows = q.fetch_all(&self.pool).await?;
        let mut records = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut record = Map::new();
            for (key, item_type) in &fields {
                let text: Option<String> = row.try_get(*key)?;
                record.insert((*key).to_owned(), json_value(*item_type, text));
            }
            records.push((row.try_get::<i64, _>("_row_id")?, record));
        }
        Ok(ViewPage { records, total })
    }
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_patterns_match_wildcards_literally() {
        assert_eq!(like_pattern("锦江"), "%锦江%");
        assert_eq!(like_pattern("50%_A"), "%50\\%\\_a%");
    }
}
