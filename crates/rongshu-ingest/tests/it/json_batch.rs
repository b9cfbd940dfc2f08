//! JSON batches: an array of objects or one object per line.

use rongshu_ingest::{BatchFormat, IngestError, ReadOptions};

use crate::batch_support::{accepted, open, open_with, outcomes, rejected};

#[test]
fn an_array_is_typed_and_rows_are_element_numbers() {
    let text = r#"[
        {"id": "1", "姓名": "张三", "年龄": 30, "birth": "1990-01-05", "active": true},
        {"id": 2, "age": "x"},
        {"id": "3", "age": 5, "name": null, "extra": 1}
    ]"#;
    let mut b = open(BatchFormat::Json, text.as_bytes()).unwrap();
    let out = outcomes(b.as_mut());
    assert_eq!(out.len(), 3);
    assert_eq!(accepted(&out[0]), ["1", "张三", "30", "1990-01-05", "true"]);
    let r = rejected(&out[1]);
    assert_eq!(
        (r.row, r.item.as_deref(), r.key.as_deref()),
        (2, Some("age"), Some("2"))
    );
    assert_eq!(accepted(&out[2]), ["3", "", "5", "", ""]);
    assert_eq!(b.ignored_columns(), ["extra"]);
    assert_eq!(b.rows_read(), 3);
}

#[test]
fn ndjson_rows_are_line_numbers_and_a_bad_line_is_a_reject() {
    let text =
        "{\"id\":\"1\",\"age\":1}\n\n{\"id\":\"2\",\"age\":\n{\"id\":\"1\",\"age\":3}\n[1]\n";
    let mut b = open(BatchFormat::Json, text.as_bytes()).unwrap();
    let out = outcomes(b.as_mut());
    assert_eq!(out.len(), 4);
    accepted(&out[0]);
    let r = rejected(&out[1]);
    assert_eq!(r.row, 3);
    assert!(r.reason.contains("not valid JSON"), "{}", r.reason);
    let r = rejected(&out[2]);
    assert_eq!(r.row, 4);
    assert!(r.reason.contains("repeats"));
    assert_eq!(rejected(&out[3]).row, 5);
}

#[test]
fn a_nested_value_is_a_reject_naming_the_item() {
    let mut b = open(
        BatchFormat::Json,
        br#"[{"id":"1","age":1,"name":{"first":"a"}}, {"id":"2","age":[1]}]"#,
    )
    .unwrap();
    let out = outcomes(b.as_mut());
    let r = rejected(&out[0]);
    assert_eq!((r.row, r.item.as_deref()), (1, Some("name")));
    assert!(r.reason.contains("nested"));
    assert_eq!(rejected(&out[1]).item.as_deref(), Some("age"));
}

#[test]
fn a_malformed_array_fails_at_its_line() {
    let mut b = open(
        BatchFormat::Json,
        b"[\n{\"id\":\"1\",\"age\":1},\n{\"id\":\"2\" \"age\":2}\n]",
    )
    .unwrap();
    assert!(b.next_row().unwrap().is_ok());
    match b.next_row() {
        Some(Err(IngestError::MalformedJson { line, .. })) => assert_eq!(line, 3),
        other => panic!("{other:?}"),
    }
    assert!(b.next_row().is_none());
}

#[test]
fn a_cut_array_is_a_clear_error() {
    let mut b = open(
        BatchFormat::Json,
        b"[{\"id\":\"1\",\"age\":1},{\"id\":\"2\"",
    )
    .unwrap();
    assert!(b.next_row().unwrap().is_ok());
    let Some(Err(e)) = b.next_row() else {
        panic!("expected an error")
    };
    assert!(e.to_string().contains("cut short"), "{e}");
}

#[test]
fn empty_and_garbage_files_are_refused() {
    assert!(matches!(
        open(BatchFormat::Json, b"  \n"),
        Err(IngestError::Empty)
    ));
    assert!(matches!(
        open(BatchFormat::Json, b"\x00\xff garbage"),
        Err(IngestError::MalformedJson { .. })
    ));
    let mut b = open(BatchFormat::Json, b"[]").unwrap();
    assert!(b.next_row().is_none());
}

#[test]
fn long_rows_are_limited() {
    let options = ReadOptions {
        max_row_bytes: 1024,
        ..ReadOptions::default()
    };
    let long = "x".repeat(5000);
    let lines = format!("{{\"id\":\"{long}\",\"age\":1}}\n{{\"id\":\"2\",\"age\":2}}\n");
    let mut b = open_with(BatchFormat::Json, lines.as_bytes(), &options).unwrap();
    let out = outcomes(b.as_mut());
    assert!(rejected(&out[0]).reason.contains("1 KB"));
    accepted(&out[1]);
    let array = format!("[{{\"id\":\"{long}\",\"age\":1}}]");
    let mut b = open_with(BatchFormat::Json, array.as_bytes(), &options).unwrap();
    assert!(matches!(
        b.next_row(),
        Some(Err(IngestError::RowTooLong { line: 1, .. }))
    ));
}
