//! A data query as a client writes it (in a query string or a JSON body),
//! checked against the resource's declaration and the reader's access, and
//! turned into the store's `RecordQuery` with the grant's row scope added.
//! A sort may name only items the caller sees plain: the order of rows
//! reveals a masked value just as a range filter would.

use rongshu_core::catalog::{ItemType, ResourceSpec};
use rongshu_core::value::parse_cell;
use rongshu_store::{Filter, FilterOp, RecordQuery, SortKey};
use serde::Deserialize;
use serde_json::Value;

use crate::access::{Disclosure, ReadAccess};
use crate::error::ApiError;
use crate::page_cursor;

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1_000;
const MAX_FILTERS: usize = 50;
const MAX_IN_VALUES: usize = 500;
const MAX_SORT_KEYS: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Lt,
    Lte,
    Gt,
    Gte,
    In,
}

impl Op {
    fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "eq" => Op::Eq,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "in" => Op::In,
            _ => return None,
        })
    }

    fn is_range(self) -> bool {
        matches!(self, Op::Lt | Op::Lte | Op::Gt | Op::Gte)
    }
}

/// One filter of a JSON query body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterBody {
    pub item: String,
    /// `eq` (default), `lt`, `lte`, `gt`, `gte` or `in`.
    #[serde(default)]
    pub op: Option<String>,
    /// A value, or for `in` an array of values.
    #[schema(value_type = Object)]
    pub value: Value,
}

/// `POST /api/v1/resources/{code}/query`: the same as the query string of
/// `GET .../records`, in a body.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryBody {
    #[serde(default)]
    pub filters: Vec<FilterBody>,
    pub fields: Option<Vec<String>>,
    pub limit: Option<i64>,
    pub after: Option<String>,
    /// Items to order by, in turn; `-item` for descending. Empty values come last.
    pub sort: Option<Vec<String>>,
    /// Add `total`: how many rows match, exactly.
    pub total: Option<bool>,
}

/// A query checked for one reader: what the store runs, the filters the
/// caller asked for (for the audit), and whether the total was asked for.
#[derive(Debug, Clone)]
pub struct Checked {
    pub query: RecordQuery,
    pub asked: Vec<String>,
    pub total: bool,
}

/// Builds one checked query.
pub struct QueryBuilder<'a> {
    code: &'a str,
    spec: &'a ResourceSpec,
    access: &'a ReadAccess,
    query: RecordQuery,
    fields_given: bool,
    /// Read once the sort is known, whatever order the parameters came in.
    after: Option<String>,
    total: bool,
}

impl<'a> QueryBuilder<'a> {
    pub fn new(code: &'a str, spec: &'a ResourceSpec, access: &'a ReadAccess) -> Self {
        Self {
            code,
            spec,
            access,
            query: RecordQuery::new(Vec::new(), Vec::new(), DEFAULT_LIMIT),
            fields_given: false,
            after: None,
            total: false,
        }
    }

    /// Whether the caller may use `key` to choose or order rows; `what` says
    /// how, for the message.
    fn check_usable(&self, key: &str, what: &str) -> Result<(), ApiError> {
        let item = self.spec.item(key).ok_or_else(|| {
            ApiError::BadRequest(format!("{} has no item \"{key}\" to {what}", self.code))
        })?;
        match self.access.disclosure(key) {
            Disclosure::Hidden if item.grade >= rongshu_core::catalog::Grade::CORE => {
                Err(ApiError::Forbidden(format!(
                    "{key} is a core item (grade 4): it can only be verified, not searched"
                )))
            }
            Disclosure::Hidden => Err(ApiError::Forbidden(format!(
                "{key} is not among the items granted to the caller"
            ))),
            _ => Ok(()),
        }
    }

    /// One sort key: `item` ascending, `-item` descending.
    pub fn sort(&mut self, raw: &str) -> Result<(), ApiError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(());
        }
        let (key, descending) = match raw.strip_prefix('-') {
            Some(key) => (key.trim(), true),
            None => (raw.strip_prefix('+').unwrap_or(raw).trim(), false),
        };
        self.check_usable(key, "sort by")?;
        // The order of rows tells how their values compare, which is what
        // masking hides: as with a range filter, a masked item is refused.
        if self.access.disclosure(key) == Disclosure::Masked {
            return Err(ApiError::Forbidden(format!(
                "{key} is masked for the caller: rows cannot be sorted by it"
            )));
        }
        if self.query.sort.iter().any(|k| k.item == key) {
            return Err(ApiError::BadRequest(format!("sort: {key} is named twice")));
        }
        if self.query.sort.len() >= MAX_SORT_KEYS {
            return Err(ApiError::BadRequest(format!(
                "sort: at most {MAX_SORT_KEYS} items"
            )));
        }
        self.query.sort.push(SortKey {
            item: key.to_owned(),
            descending,
        });
        Ok(())
    }

    pub fn total(&mut self, total: bool) {
        self.total = total;
    }

    pub fn field(&mut self, key: &str) -> Result<(), ApiError> {
        self.fields_given = true;
        let key = key.trim();
        if key.is_empty() {
            return Ok(());
        }
        if self.spec.item(key).is_none() {
            return Err(ApiError::BadRequest(format!(
                "fields: {} has no item \"{key}\"",
                self.code
            )));
        }
        // A hidden item is not even read; asking for it is not an error, it
        // just does not come back (the answer lists what did).
        if self.access.disclosure(key) != Disclosure::Hidden
            && !self.query.fields.iter().any(|f| f == key)
        {
            self.query.fields.push(key.to_owned());
        }
        Ok(())
    }

    pub fn limit(&mut self, limit: i64) -> Result<(), ApiError> {
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::BadRequest(format!(
                "limit must be a number from 1 to {MAX_LIMIT}"
            )));
        }
        self.query.limit = limit;
        Ok(())
    }

    pub fn after(&mut self, cursor: &str) {
        self.after = Some(cursor.to_owned());
    }

    pub fn filter(&mut self, key: &str, op: Op, raw: &[String]) -> Result<(), ApiError> {
        if self.query.filters.len() >= MAX_FILTERS {
            return Err(ApiError::BadRequest(format!(
                "at most {MAX_FILTERS} filters in one query"
            )));
        }
        self.check_usable(key, "filter on")?;
        let item = self.spec.item(key).ok_or_else(|| {
            ApiError::BadRequest(format!("{} has no item \"{key}\" to filter on", self.code))
        })?;
        // A range over a masked item would let the caller recover its
        // values digit by digit; an exact match reveals no more than it names.
        if op.is_range() && self.access.disclosure(key) == Disclosure::Masked {
            return Err(ApiError::Forbidden(format!(
                "{key} is masked for the caller: it can be matched exactly, not by range"
            )));
        }
        if op.is_range() && item.item_type == ItemType::Boolean {
            return Err(ApiError::BadRequest(format!(
                "{key} is yes/no: filter it with eq"
            )));
        }
        if op == Op::In && raw.len() > MAX_IN_VALUES {
            return Err(ApiError::BadRequest(format!(
                "{key}: at most {MAX_IN_VALUES} values for in"
            )));
        }
        if op != Op::In && raw.len() != 1 {
            return Err(ApiError::BadRequest(format!(
                "{key}: give one value (a list only with in)"
            )));
        }
        let mut values = Vec::with_capacity(raw.len());
        for r in raw {
            let cell = parse_cell(item.item_type, r)
                .map_err(|e| ApiError::BadRequest(format!("{key}: {e}")))?
                .ok_or_else(|| ApiError::BadRequest(format!("{key}: give a value to filter on")))?;
            values.push(cell);
        }
        let op = match (op, values.pop()) {
            (Op::In, last) => {
                values.extend(last);
                FilterOp::In(values)
            }
            (_, None) => {
                return Err(ApiError::BadRequest(format!(
                    "{key}: give a value to filter on"
                )));
            }
            (Op::Eq, Some(v)) => FilterOp::Eq(v),
            (Op::Lt, Some(v)) => FilterOp::Lt(v),
            (Op::Lte, Some(v)) => FilterOp::Lte(v),
            (Op::Gt, Some(v)) => FilterOp::Gt(v),
            (Op::Gte, Some(v)) => FilterOp::Gte(v),
        };
        self.query.filters.push(Filter {
            item: key.to_owned(),
            op,
        });
        Ok(())
    }

    /// The query, with every readable item when no fields were named, and
    /// the grant's row scope added to the caller's own filters.
    pub fn finish(mut self) -> Result<Checked, ApiError> {
        if let Some(cursor) = &self.after {
            let position = page_cursor::decode(cursor, &self.query.sort, self.spec)
                .map_err(|e| ApiError::BadRequest(e.to_string()))?;
            self.query.after = Some(position);
        }
        if !self.fields_given {
            self.query.fields = self
                .spec
                .items
                .iter()
                .map(|i| i.key.as_str())
                .filter(|k| self.access.disclosure(k) != Disclosure::Hidden)
                .map(str::to_owned)
                .collect();
        }
        let asked: Vec<String> = self.query.filters.iter().map(|f| f.item.clone()).collect();
        self.query
            .filters
            .extend(self.access.row_scope.iter().cloned());
        Ok(Checked {
            query: self.query,
            asked,
            total: self.total,
        })
    }
}

/// From a query string: `fields`, `sort` (`item,-other`), `limit`, `after`
/// and `total` (when `paged`), and any other key filters: `item=value` for
/// equality, `item.lt=`, `.lte`, `.gt`, `.gte`, and `item.in=a,b,c`.
pub fn from_params(
    code: &str,
    spec: &ResourceSpec,
    access: &ReadAccess,
    params: &[(String, String)],
    paged: bool,
) -> Result<Checked, ApiError> {
    let mut b = QueryBuilder::new(code, spec, access);
    for (name, value) in params {
        match name.as_str() {
            "fields" => {
                for f in value.split(',') {
                    b.field(f)?;
                }
            }
            "limit" if paged => {
                let limit = value.parse::<i64>().map_err(|_| {
                    ApiError::BadRequest(format!("limit must be a number from 1 to {MAX_LIMIT}"))
                })?;
                b.limit(limit)?;
            }
            "sort" => {
                for key in value.split(',') {
                    b.sort(key)?;
                }
            }
            "after" if paged => b.after(value),
            "total" if paged => b.total(match value.as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => {
                    return Err(ApiError::BadRequest("total must be true or false".into()));
                }
            }),
            // The export's own parameter.
            "format" if !paged => {}
            key => {
                let (item, op) = match key.split_once('.') {
                    Some((item, op)) => (
                        item,
                        Op::parse(op).ok_or_else(|| {
                            ApiError::BadRequest(format!(
                                "{key}: the operator after the dot is one of lt, lte, gt, gte, in"
                            ))
                        })?,
                    ),
                    None => (key, Op::Eq),
                };
                let raw: Vec<String> = if op == Op::In {
                    value.split(',').map(str::to_owned).collect()
                } else {
                    vec![value.clone()]
                };
                b.filter(item, op, &raw)?;
            }
        }
    }
    b.finish()
}

fn json_text(item: &str, v: &Value) -> Result<String, ApiError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(ApiError::BadRequest(format!(
            "filters: the value for {item} must be a string, number or true/false"
        ))),
    }
}

pub fn from_body(
    code: &str,
    spec: &ResourceSpec,
    access: &ReadAccess,
    body: &QueryBody,
) -> Result<Checked, ApiError> {
    let mut b = QueryBuilder::new(code, spec, access);
    for f in &body.filters {
        let op_name = f.op.as_deref().unwrap_or("eq");
        let op = Op::parse(op_name).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "filters: op \"{op_name}\" is not eq, lt, lte, gt, gte or in"
            ))
        })?;
        let raw = match (&f.value, op) {
            (Value::Array(values), Op::In) => values
                .iter()
                .map(|v| json_text(&f.item, v))
                .collect::<Result<Vec<_>, _>>()?,
            (_, Op::In) => {
                return Err(ApiError::BadRequest(format!(
                    "filters: in needs an array of values for {}",
                    f.item
                )));
            }
            (v, _) => vec![json_text(&f.item, v)?],
        };
        b.filter(&f.item, op, &raw)?;
    }
    if let Some(fields) = &body.fields {
        b.fields_given = true;
        for f in fields {
            b.field(f)?;
        }
    }
    if let Some(limit) = body.limit {
        b.limit(limit)?;
    }
    for key in body.sort.iter().flatten() {
        b.sort(key)?;
    }
    if let Some(after) = &body.after {
        b.after(after);
    }
    b.total(body.total.unwrap_or(false));
    b.finish()
}
