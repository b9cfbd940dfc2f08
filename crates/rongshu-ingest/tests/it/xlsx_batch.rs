//! XLSX batches written here with rust_xlsxwriter and read back.

use rongshu_ingest::{BatchFormat, IngestError, ReadOptions};
use rust_xlsxwriter::{ExcelDateTime, Format, Formula, Workbook};

use crate::batch_support::{accepted, open, open_with, outcomes, rejected};

fn workbook() -> Vec<u8> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("人口").unwrap();
    for (c, h) in ["编号", "姓名", "年龄", "出生日期", "在册"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    let date = Format::new().set_num_format("yyyy-mm-dd");
    ws.write_string(1, 0, "1").unwrap();
    ws.write_string(1, 1, "张三").unwrap();
    ws.write_number(1, 2, 30.0).unwrap();
    let d = ExcelDateTime::from_ymd(1990, 1, 5).unwrap();
    ws.write_datetime_with_format(1, 3, &d, &date).unwrap();
    ws.write_boolean(1, 4, true).unwrap();
    // Row 3: a number as key, an empty name, an age that is not whole.
    ws.write_number(2, 0, 2.0).unwrap();
    ws.write_number(2, 2, 4.5).unwrap();
    // Row 4: a formula with its cached value.
    ws.write_string(3, 0, "3").unwrap();
    ws.write_formula(3, 2, Formula::new("=20+1").set_result("21"))
        .unwrap();
    // Row 5: a merged name over two rows: the lower cell reads empty.
    ws.write_string(4, 0, "4").unwrap();
    ws.merge_range(4, 1, 5, 1, "合并", &Format::new()).unwrap();
    ws.write_number(4, 2, 5.0).unwrap();
    ws.write_string(5, 0, "5").unwrap();
    ws.write_number(5, 2, 6.0).unwrap();
    wb.save_to_buffer().unwrap()
}

#[test]
fn a_sheet_is_read_as_a_person_reads_it() {
    let mut b = open(BatchFormat::Xlsx, &workbook()).unwrap();
    let out = outcomes(b.as_mut());
    assert_eq!(out.len(), 5);
    assert_eq!(accepted(&out[0]), ["1", "张三", "30", "1990-01-05", "true"]);
    let r = rejected(&out[1]);
    assert_eq!(
        (r.row, r.item.as_deref(), r.key.as_deref()),
        (3, Some("age"), Some("2"))
    );
    assert_eq!(accepted(&out[2]), ["3", "", "21", "", ""]);
    assert_eq!(accepted(&out[3]), ["4", "合并", "5", "", ""]);
    assert_eq!(accepted(&out[4]), ["5", "", "6", "", ""]);
    assert_eq!(b.rows_read(), 5);
}

#[test]
fn a_named_sheet_is_chosen_and_a_missing_one_is_named() {
    let mut wb = Workbook::new();
    wb.add_worksheet().write_string(0, 0, "nothing").unwrap();
    let ws = wb.add_worksheet();
    ws.set_name("数据").unwrap();
    ws.write_string(0, 0, "id").unwrap();
    ws.write_string(0, 1, "age").unwrap();
    ws.write_string(1, 0, "a").unwrap();
    ws.write_number(1, 1, 1.0).unwrap();
    let bytes = wb.save_to_buffer().unwrap();
    let options = ReadOptions {
        sheet: Some("数据".into()),
        ..ReadOptions::default()
    };
    let mut b = open_with(BatchFormat::Xlsx, &bytes, &options).unwrap();
    assert_eq!(accepted(&outcomes(b.as_mut())[0]), ["a", "", "1", "", ""]);
    let options = ReadOptions {
        sheet: Some("x".into()),
        ..ReadOptions::default()
    };
    assert!(matches!(
        open_with(BatchFormat::Xlsx, &bytes, &options),
        Err(IngestError::SheetNotFound { .. })
    ));
}

#[test]
fn empty_text_and_garbage_files_are_refused_clearly() {
    assert!(matches!(
        open(BatchFormat::Xlsx, b""),
        Err(IngestError::Empty)
    ));
    let Err(IngestError::NotXlsx(m)) = open(BatchFormat::Xlsx, b"id,age\n1,2\n") else {
        panic!("expected NotXlsx")
    };
    assert!(m.contains("CSV"), "{m}");
    assert!(matches!(
        open(BatchFormat::Xlsx, b"PK\x03\x04\x00\xff\x13garbage"),
        Err(IngestError::NotXlsx(_))
    ));
    // A workbook with only empty sheets has no header.
    let mut wb = Workbook::new();
    wb.add_worksheet();
    assert!(matches!(
        open(BatchFormat::Xlsx, &wb.save_to_buffer().unwrap()),
        Err(IngestError::Empty)
    ));
}
