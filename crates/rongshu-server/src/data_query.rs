//! A data query as a client writes it (in a query string or a JSON body),
//! checked against the resource's declaration and the reader's access, and
//! turned into the store's `RecordQuery` with the grant's row scope added.

use rongshu_core::catalog::{ItemType, ResourceSpec};
use rongshu_core::value::parse_cell;
use rongshu_store::{Filter, FilterOp, RecordQuery};
use serde::Deserialize;
use serde_json::Value;

use crate::access::{Disclosure, ReadAccess};
use crate::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1_000;
const MAX_FILTERS: usize = 50;
const MAX_IN_VALUES: usize = 500;

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
}

pub fn encode_cursor(row_id: i64) -> String {
    format!("r{}", hex::encode(row_id.to_be_bytes()))
}

pub fn decode_cursor(cursor: &str) -> Result<i64, ApiError> {
    let bad = || ApiError::BadRequest("after: not a cursor this API gave out".into());
    let hex_part = cursor.strip_prefix('r').ok_or_else(bad)?;
    let bytes: [u8; 8] = hex::decode(hex_part)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad)?;
    Ok(i64::from_be_bytes(bytes))
}

/// Builds one checked query.
pub struct QueryBuilder<'a> {
    code: &'a str,
    spec: &'a ResourceSpec,
    access: &'a ReadAccess,
    query: RecordQuery,
    fields_given: bool,
}

impl<'a> QueryBuilder<'a> {
    pub fn new(code: &'a str, spec: &'a ResourceSpec, access: &'a ReadAccess) -> Self {
        Self {
            code,
            spec,
            access,
            query: RecordQuery {
                filters: Vec::new(),
                fields: Vec::new(),
                limit: DEFAULT_LIMIT,
                after: None,
            },
            fields_given: false,
        }
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

    pub fn after(&mut self, cursor: &str) -> Result<(), ApiError> {
        self.query.after = Some(decode_cursor(cursor)?);
        Ok(())
    }

    pub fn filter(&mut self, key: &str, op: Op, raw: &[String]) -> Result<(), ApiError> {
        if self.query.filters.len() >= MAX_FILTERS {
            return Err(ApiError::BadRequest(format!(
                "at most {MAX_FILTERS} filters in one query"
            )));
        }
        let item = self.spec.item(key).ok_or_else(|| {
            ApiError::BadRequest(format!("{} has no item \"{key}\" to filter on", self.code))
        })?;
        match self.access.disclosure(key) {
            Disclosure::Hidden if item.grade >= rongshu_core::catalog::Grade::CORE => {
                return Err(ApiError::Forbidden(format!(
                    "{key} is a core item (grade 4): it can only be verified, not searched"
                )));
            }
            Disclosure::Hidden => {
                return Err(ApiError::Forbidden(format!(
                    "{key} is not among the items granted to the caller"
                )));
            }
            // A range over a masked item would let the caller recover its
            // values digit by digit; an exact match reveals no more than it names.
            Disclosure::Masked if op.is_range() => {
                return Err(ApiError::Forbidden(format!(
                    "{key} is masked for the caller: it can be matched exactly, not by range"
                )));
            }
            _ => {}
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
    pub fn finish(mut self) -> (RecordQuery, Vec<String>) {
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
        (self.query, asked)
    }
}

/// From a query string: `fields`, `limit` and `after` (when `paged`), and any
/// other key filters: `item=value` for equality, `item.lt=`, `.lte`, `.gt`,
/// `.gte`, and `item.in=a,b,c`.
pub fn from_params(
    code: &str,
    spec: &ResourceSpec,
    access: &ReadAccess,
    params: &[(String, String)],
    paged: bool,
) -> Result<(RecordQuery, Vec<String>), ApiError> {
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
            "after" if paged => b.after(value)?,
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
    Ok(b.finish())
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
) -> Result<(RecordQuery, Vec<String>), ApiError> {
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
    if let Some(after) = &body.after {
        b.after(after)?;
    }
    Ok(b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_junk_is_refused() {
        assert_eq!(decode_cursor(&encode_cursor(12345)).unwrap(), 12345);
        assert!(decode_cursor("12345").is_err());
        assert!(decode_cursor("rzz").is_err());
    }
}
