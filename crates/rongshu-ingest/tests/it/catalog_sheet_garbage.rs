//! Whatever arrives, reading a catalog sheet answers with entries or problems
//! and never panics.

use proptest::prelude::*;
use rongshu_ingest::catalog_sheet::read_xlsx;
use rust_xlsxwriter::Workbook;

/// Cell texts that poke at the parsing: labels, codes, numbers, separators.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("资源名称".to_owned()),
        Just("提供方代码 (provider_code)".to_owned()),
        Just("信息项标识".to_owned()),
        Just("共享类型".to_owned()),
        Just("信息项分级".to_owned()),
        Just("主键".to_owned()),
        Just("资源代码".to_owned()),
        Just("有条件共享".to_owned()),
        Just("9999999999999999999".to_owned()),
        Just("items[3].grade".to_owned()),
        "[a-z_]{1,8}",
        "[0-9.-]{1,6}",
        "[；;、,，a-c ]{0,6}",
        "\\PC{0,12}",
    ]
}

fn workbook(rows: &[Vec<(u16, String)>]) -> Vec<u8> {
    let mut workbook = Workbook::new();
    let ws = workbook.add_worksheet();
    for (r, row) in (0u32..).zip(rows) {
        for (c, text) in row {
            ws.write_string(r, *c, text).unwrap();
        }
    }
    workbook.save_to_buffer().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        prop_assert!(read_xlsx(&bytes).is_err());
    }

    #[test]
    fn random_cells_never_panic(
        rows in proptest::collection::vec(
            proptest::collection::vec((0u16..12, cell()), 0..12), 0..12)
    ) {
        let _ = read_xlsx(&workbook(&rows));
    }

    #[test]
    fn damaged_workbooks_never_panic(at in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<bool>()) {
        let rows = vec![
            vec![(0, "资源名称".to_owned()), (1, "提供方代码".to_owned()), (2, "信息项标识".to_owned())],
            vec![(0, "人口".to_owned()), (1, "GA".to_owned()), (2, "id_number".to_owned())],
        ];
        let mut bytes = workbook(&rows);
        let i = at.index(bytes.len());
        if cut {
            bytes.truncate(i);
        } else {
            bytes[i] = byte;
        }
        let _ = read_xlsx(&bytes);
    }
}
