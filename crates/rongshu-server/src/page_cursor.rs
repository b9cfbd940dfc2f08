//! The `next` cursor of a page: where the next page starts, opaque to
//! clients. It carries the sort it was made under and the last row's sort
//! values and row id, so a page continues strictly after that row whatever
//! changed in between; a cursor made under another sort is refused rather
//! than read as a position it is not.

use rongshu_core::catalog::{ItemType, ResourceSpec};
use rongshu_core::value::{CellValue, parse_cell};
use rongshu_store::{Keyset, SortKey};
use serde::{Deserialize, Serialize};

/// Why a cursor cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("after: not a cursor this API gave out")]
    Malformed,
    #[error(
        "after: this cursor belongs to a read sorted by \"{given}\", not \"{asked}\"; start again without after, or keep the sort"
    )]
    OtherSort { given: String, asked: String },
}

#[derive(Serialize, Deserialize)]
struct Body {
    /// The sort, as `item,-other`.
    s: String,
    /// The last row's sort values as text, null when empty.
    v: Vec<Option<String>>,
    /// The last row's id.
    r: i64,
}

/// The sort written as the query string writes it: `item,-other`.
pub fn sort_text(sort: &[SortKey]) -> String {
    sort.iter()
        .map(|k| {
            if k.descending {
                format!("-{}", k.item)
            } else {
                k.item.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

pub fn encode(sort: &[SortKey], position: &Keyset) -> String {
    let body = Body {
        s: sort_text(sort),
        v: position
            .values
            .iter()
            .map(|v| v.as_ref().map(CellValue::canonical_text))
            .collect(),
        r: position.row_id,
    };
    // Serialising plain strings and numbers cannot fail.
    let json = serde_json::to_vec(&body).unwrap_or_default();
    format!("c{}", hex::encode(json))
}

/// The position a cursor names, checked against the read's sort and the
/// types of its items (a tampered value is refused here, not by the database).
pub fn decode(cursor: &str, sort: &[SortKey], spec: &ResourceSpec) -> Result<Keyset, CursorError> {
    // Cursors given out before reads could be sorted: a bare row id.
    if let Some(hex_part) = cursor.strip_prefix('r') {
        let bytes: [u8; 8] = hex::decode(hex_part)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(CursorError::Malformed)?;
        if !sort.is_empty() {
            return Err(CursorError::OtherSort {
                given: String::new(),
                asked: sort_text(sort),
            });
        }
        return Ok(Keyset::row(i64::from_be_bytes(bytes)));
    }
    let hex_part = cursor.strip_prefix('c').ok_or(CursorError::Malformed)?;
    let json = hex::decode(hex_part).map_err(|_| CursorError::Malformed)?;
    let body: Body = serde_json::from_slice(&json).map_err(|_| CursorError::Malformed)?;
    let asked = sort_text(sort);
    if body.s != asked {
        return Err(CursorError::OtherSort {
            given: body.s,
            asked,
        });
    }
    if body.v.len() != sort.len() {
        return Err(CursorError::Malformed);
    }
    let mut values = Vec::with_capacity(sort.len());
    for (key, text) in sort.iter().zip(body.v) {
        let item_type = spec
            .item(&key.item)
            .map(|i| i.item_type)
            .ok_or(CursorError::Malformed)?;
        values.push(match text {
            None => None,
            Some(text) => Some(value(item_type, text)?),
        });
    }
    Ok(Keyset {
        values,
        row_id: body.r,
    })
}

fn value(item_type: ItemType, text: String) -> Result<CellValue, CursorError> {
    match item_type {
        // Text exactly as it was stored and given out, not trimmed.
        ItemType::String => Ok(CellValue::Text(text)),
        _ => parse_cell(item_type, &text)
            .ok()
            .flatten()
            .ok_or(CursorError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spec() -> ResourceSpec {
        let req: rongshu_core::catalog::NewResourceRequest =
            serde_json::from_value(serde_json::json!({
                "name": "t", "summary": "s", "share_type": "unconditional",
                "update_cycle": "daily", "classification": "1-01-001",
                "key_items": ["id"],
                "items": [
                    {"key": "id", "name": "id", "type": "string", "grade": 1},
                    {"key": "n", "name": "n", "type": "integer", "grade": 1},
                    {"key": "d", "name": "d", "type": "date", "grade": 1},
                    {"key": "x", "name": "x", "type": "decimal", "grade": 1},
                    {"key": "b", "name": "b", "type": "boolean", "grade": 1}
                ]
            }))
            .expect("a test resource request");
        ResourceSpec::parse(req).expect("a valid test spec")
    }

    fn key(item: &str, descending: bool) -> SortKey {
        SortKey {
            item: item.into(),
            descending,
        }
    }

    #[test]
    fn a_cursor_of_another_sort_is_refused() {
        let spec = spec();
        let by_n = [key("n", false)];
        let by_n_desc = [key("n", true)];
        let c = encode(
            &by_n,
            &Keyset {
                values: vec![Some(CellValue::Integer(3))],
                row_id: 9,
            },
        );
        assert!(matches!(
            decode(&c, &by_n_desc, &spec),
            Err(CursorError::OtherSort { .. })
        ));
        assert!(matches!(
            decode(&c, &[], &spec),
            Err(CursorError::OtherSort { .. })
        ));
        let plain = encode(&[], &Keyset::row(4));
        assert!(matches!(
            decode(&plain, &by_n, &spec),
            Err(CursorError::OtherSort { .. })
        ));
    }

    #[test]
    fn legacy_row_cursors_still_work_unsorted() {
        let legacy = format!("r{}", hex::encode(77i64.to_be_bytes()));
        assert_eq!(decode(&legacy, &[], &spec()), Ok(Keyset::row(77)));
    }

    #[test]
    fn junk_and_tampered_values_are_refused() {
        let spec = spec();
        for junk in [
            "",
            "12345",
            "rzz",
            "czz",
            "c00",
            &format!("c{}", hex::encode("{}")),
        ] {
            assert_eq!(
                decode(junk, &[], &spec),
                Err(CursorError::Malformed),
                "{junk}"
            );
        }
        let bad_date = format!("c{}", hex::encode(r#"{"s":"d","v":["not a date"],"r":1}"#));
        assert_eq!(
            decode(&bad_date, &[key("d", false)], &spec),
            Err(CursorError::Malformed)
        );
        let short = format!("c{}", hex::encode(r#"{"s":"d","v":[],"r":1}"#));
        assert_eq!(
            decode(&short, &[key("d", false)], &spec),
            Err(CursorError::Malformed)
        );
    }

    fn cell() -> impl Strategy<Value = (SortKey, Option<CellValue>)> {
        let desc = any::<bool>();
        prop_oneof![
            (desc, proptest::option::of(".*"))
                .prop_map(|(d, t)| (key("id", d), t.map(CellValue::Text))),
            (desc, proptest::option::of(any::<i64>()))
                .prop_map(|(d, n)| (key("n", d), n.map(CellValue::Integer))),
            (desc, proptest::option::of(700_000i32..800_000)).prop_map(|(d, n)| (
                key("d", d),
                n.and_then(chrono::NaiveDate::from_num_days_from_ce_opt)
                    .map(CellValue::Date)
            )),
            (desc, proptest::option::of((any::<i32>(), 0u32..10_000))).prop_map(|(d, x)| (
                key("x", d),
                x.map(|(i, f)| CellValue::Decimal(format!("{i}.{f:04}")))
            )),
            (desc, proptest::option::of(any::<bool>()))
                .prop_map(|(d, b)| (key("b", d), b.map(CellValue::Boolean))),
        ]
    }

    proptest! {
        #[test]
        fn every_position_round_trips(keys in proptest::collection::vec(cell(), 0..5), row_id in any::<i64>()) {
            let (sort, values): (Vec<SortKey>, Vec<Option<CellValue>>) = keys.into_iter().unzip();
            let position = Keyset { values, row_id };
            let text = encode(&sort, &position);
            prop_assert_eq!(decode(&text, &sort, &spec()), Ok(position));
        }

        #[test]
        fn no_string_panics_the_decoder(junk in ".*") {
            let _ = decode(&junk, &[key("n", false)], &spec());
        }
    }
}
