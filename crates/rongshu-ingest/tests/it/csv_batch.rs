//! CSV batches: delimiters, encodings, the row limit and damaged files.

use rongshu_ingest::{BatchFormat, CsvBatch, IngestError, ReadOptions};

use crate::batch_support::{accepted, open, open_with, outcomes, rejected, spec};

#[test]
fn a_good_file_is_typed_row_by_row() {
    let mut b = open(
        BatchFormat::Csv,
        "id,name,age,birth,active\n1,张三,30,1990-01-05,true\n2,李四,41,,否\n".as_bytes(),
    )
    .unwrap();
    let out = outcomes(b.as_mut());
    assert_eq!(accepted(&out[0]), ["1", "张三", "30", "1990-01-05", "true"]);
    assert_eq!(accepted(&out[1]), ["2", "李四", "41", "", "false"]);
    assert_eq!(b.rows_read(), 2);
    assert_eq!(b.encoding(), "UTF-8");
}

#[test]
fn a_wrong_type_names_the_line_and_item() {
    let mut b = open(BatchFormat::Csv, b"id,age\n1,30\n2,old\n").unwrap();
    let out = outcomes(b.as_mut());
    let r = rejected(&out[1]);
    assert_eq!(
        (r.row, r.item.as_deref(), r.key.as_deref()),
        (3, Some("age"), Some("2"))
    );
}

#[test]
fn chinese_headers_in_gb18030_map_to_items() {
    let (bytes, _, _) = encoding_rs::GB18030.encode("编号,姓名,年龄,备注\n1,王五,7,x\n");
    let mut b = open(BatchFormat::Csv, &bytes).unwrap();
    assert_eq!(b.encoding(), "GB18030");
    assert_eq!(b.ignored_columns(), ["备注"]);
    let out = outcomes(b.as_mut());
    assert_eq!(accepted(&out[0]), ["1", "王五", "7", "", ""]);
}

#[test]
fn semicolon_and_tab_delimiters_are_sniffed() {
    for text in ["id;age\n1;2\n", "id\tage\n1\t2\n", "id|age\n1|2\n"] {
        let mut b = open(BatchFormat::Csv, text.as_bytes()).unwrap();
        let out = outcomes(b.as_mut());
        assert_eq!(accepted(&out[0]), ["1", "", "2", "", ""], "{text:?}");
    }
}

#[test]
fn an_empty_file_is_refused() {
    assert!(matches!(
        open(BatchFormat::Csv, b""),
        Err(IngestError::Empty)
    ));
}

#[test]
fn garbage_bytes_are_refused_or_rejected_not_panicked_on() {
    let garbage: Vec<u8> = (0..2000u32).map(|i| (i * 37 % 251) as u8).collect();
    match open(BatchFormat::Csv, &garbage) {
        Err(e) => assert!(!e.to_string().is_empty()),
        Ok(mut b) => while b.next_row().is_some() {},
    }
}

#[test]
fn a_row_past_the_limit_fails_the_file_with_its_line() {
    let options = ReadOptions {
        max_row_bytes: 1024,
        ..ReadOptions::default()
    };
    let long = "9".repeat(5000);
    let text = format!("id,age\n1,2\n2,{long}\n3,4\n");
    // The guard sees bytes as the csv reader buffers them, so the file may fail
    // while the header is read or a few rows later: either way the file fails.
    let error = match CsvBatch::open_with(text.as_bytes(), &spec(), &options) {
        Err(e) => Some(e),
        Ok(mut b) => std::iter::from_fn(|| b.next_row()).find_map(Result::err),
    };
    match error {
        Some(IngestError::RowTooLong { line, limit }) => {
            assert_eq!((line, limit.as_str()), (3, "1 KB"));
        }
        other => panic!("expected RowTooLong, got {other:?}"),
    }
    // A long header line is caught the same way.
    let header = format!("id,age,{}\n1,2\n", "x".repeat(5000));
    assert!(matches!(
        open_with(BatchFormat::Csv, header.as_bytes(), &options),
        Err(IngestError::RowTooLong { line: 1, .. })
    ));
}

#[test]
fn a_quoted_field_cut_at_the_end_rejects_the_last_row() {
    let mut b = open(BatchFormat::Csv, b"id,age\n1,2\n2,\"3").unwrap();
    let out = outcomes(b.as_mut());
    assert_eq!(out.len(), 2);
    accepted(&out[0]);
    let r = rejected(&out[1]);
    assert_eq!(r.row, 3);
    assert!(r.reason.contains("cut short"), "{}", r.reason);
    // Quotes that close are fine, also with an escaped quote and a newline inside.
    let mut b = open(BatchFormat::Csv, b"id,name,age\n\"1\",\"a \"\"b\"\"\nc\",2").unwrap();
    let out = outcomes(b.as_mut());
    assert_eq!(accepted(&out[0])[1], "a \"b\"\nc");
}

#[test]
fn an_items_kind_checks_its_values_and_normalises_them() {
    use rongshu_core::catalog::{NewResourceRequest, ResourceSpec};
    let req: NewResourceRequest = serde_json::from_value(serde_json::json!({
        "name": "人口", "key_items": ["id_number"],
        "items": [{"key": "id_number", "name": "公民身份号码"}, {"key": "phone", "name": "手机号码"}]
    }))
    .unwrap();
    let spec = ResourceSpec::parse(req).unwrap();
    let csv =
        "id_number,phone\n11010519491231002x,+86 138-0013-8000\n110105194912310021,13800138000\n";
    let mut b = rongshu_ingest::CsvBatch::open(csv.as_bytes(), &spec).unwrap();
    let out: Vec<_> = std::iter::from_fn(|| b.next_row())
        .map(Result::unwrap)
        .collect();
    let rongshu_ingest::RowOutcome::Accepted(cells) = &out[0] else {
        panic!("{:?}", out[0])
    };
    let text = |c: &Option<rongshu_core::value::CellValue>| c.as_ref().unwrap().canonical_text();
    assert_eq!(
        (text(&cells[0]).as_str(), text(&cells[1]).as_str()),
        ("11010519491231002X", "13800138000")
    );
    let rongshu_ingest::RowOutcome::Rejected(r) = &out[1] else {
        panic!("{:?}", out[1])
    };
    assert_eq!((r.row, r.item.as_deref()), (3, Some("id_number")));
    assert!(r.reason.contains("check character"), "{}", r.reason);
}
