//! The catalog spreadsheet: export, import, and every problem placed at its cell.

use rongshu_core::catalog::{NewResourceRequest, ResourceSpec};
use rongshu_ingest::catalog_sheet::{
    CatalogEntry, ImportErrors, SheetProblem, read_xlsx, write_csv, write_xlsx,
};
use rust_xlsxwriter::Workbook;

const HEADER: &str = "资源代码 (code),资源名称 (name),资源分类 (classification),资源类型 (kind),\
提供方代码 (provider_code),提供方名称 (provider_name),资源摘要 (summary),资源格式 (format),\
共享类型 (share_type),共享条件 (share_condition),共享方式 (share_mode),开放类型 (open_type),\
开放条件 (open_condition),更新周期 (update_cycle),资源分级 (grade),主题 (topics),关键词 (keywords),\
关联资源代码 (related),主键 (key_items),发布日期 (publish_date),状态 (status),版本 (version),\
信息项标识 (item_key),信息项名称 (item_name),数据类型 (item_type),数据长度 (item_length),\
信息项分级 (item_grade),必填 (item_required),信息项类别 (item_kind),数据元 (item_element),\
信息项描述 (item_description)";

fn spec(json: serde_json::Value) -> ResourceSpec {
    let req: NewResourceRequest = serde_json::from_value(json).unwrap();
    ResourceSpec::parse(req).unwrap()
}

fn entry(code: &str, provider: &str, spec: ResourceSpec) -> CatalogEntry {
    CatalogEntry {
        code: code.into(),
        provider_code: provider.into(),
        provider_name: format!("{provider} 局"),
        status: "published".into(),
        version: 3,
        publish_date: Some("2026-03-01".into()),
        spec,
    }
}

/// Four resources with a spread of fields: explicit and defaulted metadata,
/// every share and several open types, Chinese prose, several items each.
fn catalog() -> Vec<CatalogEntry> {
    let population = spec(serde_json::json!({
        "name": "人口基础信息", "summary": "全市户籍人口与常住人口的基础信息。\n按日更新。",
        "classification": "1-01-001", "format": "数据库", "share_type": "conditional",
        "share_condition": "依《成都市政务数据共享管理办法》申请，用于政务服务办理",
        "share_mode": "interface", "open_type": "closed", "update_cycle": "daily",
        "topics": ["公共安全"], "keywords": ["户籍", "人口", "身份证"],
        "key_items": ["id_number"],
        "items": [
            {"key": "id_number", "name": "公民身份号码", "type": "string", "length": 18, "grade": 3,
             "element": "person.citizen_id", "description": "GB 11643 十八位号码"},
            {"key": "name", "name": "姓名", "required": true, "grade": 3},
            {"key": "birth_date", "name": "出生日期", "type": "date", "grade": 2},
            {"key": "division", "name": "户籍地行政区划", "type": "string", "length": 6, "kind": "division_code"}
        ]
    }));
    let bus = spec(serde_json::json!({
        "name": "公交线路与站点", "summary": "成都公交集团运营的线路、站点及首末班时间。",
        "classification": "2-03-004-005", "kind": "theme", "format": "spreadsheet",
        "share_type": "unconditional", "share_mode": "file", "open_type": "conditional",
        "open_condition": "注册用户下载，注明来源", "update_cycle": "half_yearly", "grade": 2,
        "topics": ["交通服务", "空间地理"], "keywords": ["公交", "站点"],
        "related": ["101001000001", "3-99-999_x"],
        "key_items": ["line_no", "stop_no"],
        "items": [
            {"key": "line_no", "name": "线路编号", "type": "string"},
            {"key": "stop_no", "name": "站点序号", "type": "integer"},
            {"key": "stop_name", "name": "站点名称", "kind": "text", "description": "含\"（东）\"等方位, 以及逗号"},
            {"key": "longitude", "name": "经度", "type": "decimal", "grade": 1},
            {"key": "accessible", "name": "无障碍设施", "type": "boolean"},
            {"key": "updated_at", "name": "更新时间", "type": "datetime"}
        ]
    }));
    // Almost everything left out: the defaults must survive the round trip.
    let minimal = spec(serde_json::json!({
        "name": "会议室预约记录", "key_items": ["booking_id"],
        "items": [{"key": "booking_id"}, {"key": "room", "name": "会议室"}]
    }));
    let enforcement = spec(serde_json::json!({
        "name": "行政处罚决定书", "classification": "3-12-002", "format": "电子文件",
        "share_type": "none", "share_condition": "涉及个人隐私，依法不予共享",
        "open_type": "open", "update_cycle": "realtime",
        "key_items": ["decision_no", "uscc"],
        "items": [
            {"key": "decision_no", "name": "决定书文号", "grade": 2},
            {"key": "uscc", "name": "统一社会信用代码", "length": 18, "element": "entity.uscc"},
            {"key": "amount", "name": "罚款金额（元）", "type": "decimal", "grade": 4}
        ]
    }));
    vec![
        entry("101001000001", "510100-GA", population),
        entry("203004005001", "510100-JT", bus),
        entry("399999000007", "510100-JG", minimal),
        entry("312002000002", "510100-SC", enforcement),
    ]
}

/// A workbook with one sheet holding `rows` as text (row 0 is the header).
fn sheet(rows: &[Vec<String>]) -> Vec<u8> {
    let mut workbook = Workbook::new();
    let ws = workbook.add_worksheet();
    for (r, row) in (0u32..).zip(rows) {
        for (c, cell) in (0u16..).zip(row) {
            if !cell.is_empty() {
                ws.write_string(r, c, cell).unwrap();
            }
        }
    }
    workbook.save_to_buffer().unwrap()
}

/// The export's rows as text, via the CSV export.
fn exported_rows(entries: &[CatalogEntry]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    write_csv(entries, &mut out).unwrap();
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&out[3..])
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

fn column(rows: &[Vec<String>], code: &str) -> usize {
    rows[0]
        .iter()
        .position(|h| h.contains(&format!("({code})")))
        .unwrap()
}

fn problems(bytes: &[u8]) -> Vec<SheetProblem> {
    match read_xlsx(bytes) {
        Ok(entries) => panic!("imported {} entries from a bad sheet", entries.len()),
        Err(ImportErrors { problems }) => problems,
    }
}

fn find<'p>(problems: &'p [SheetProblem], row: u32, column: &str) -> &'p SheetProblem {
    problems
        .iter()
        .find(|p| p.row == row && p.column.as_deref().is_some_and(|c| c.contains(column)))
        .unwrap_or_else(|| panic!("no problem at row {row}, column {column}: {problems:#?}"))
}

#[test]
fn xlsx_round_trip_gives_the_same_catalog() {
    let entries = catalog();
    let bytes = write_xlsx(&entries).unwrap();
    let imported = read_xlsx(&bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(imported.len(), entries.len());
    let mut first_row = 2;
    for (got, want) in imported.iter().zip(&entries) {
        assert_eq!(got.spec, want.spec, "{}", want.spec.name);
        assert_eq!(got.code.as_deref(), Some(want.code.as_str()));
        assert_eq!(got.provider_code, want.provider_code);
        assert_eq!(
            got.provider_name.as_deref(),
            Some(want.provider_name.as_str())
        );
        assert_eq!(got.first_row, first_row);
        first_row += u32::try_from(want.spec.items.len()).unwrap();
    }
    // The defaulted fields stayed defaulted rather than becoming declared.
    assert!(
        imported[2].spec.defaulted.len() >= 5,
        "{:?}",
        imported[2].spec.defaulted
    );
}

#[test]
fn the_export_writes_chinese_labels_and_leaves_defaults_empty() {
    let rows = exported_rows(&catalog());
    let at = |row: usize, code: &str| rows[row][column(&rows, code)].as_str();
    assert_eq!(at(1, "share_type"), "有条件共享");
    assert_eq!(at(1, "update_cycle"), "每日");
    assert_eq!(at(1, "kind"), "基础信息资源");
    assert_eq!(at(1, "keywords"), "户籍；人口；身份证");
    assert_eq!(at(1, "item_type"), "字符串");
    assert_eq!(at(1, "item_required"), "是");
    assert_eq!(at(3, "item_type"), "日期");
    assert_eq!(at(3, "item_required"), "否");
    // Rows 1-4 are one resource: its fields repeat on each.
    assert_eq!(at(4, "name"), "人口基础信息");
    // The minimal resource (rows 11-12) declared none of these.
    for code in [
        "classification",
        "kind",
        "format",
        "share_type",
        "open_type",
        "update_cycle",
    ] {
        assert_eq!(at(11, code), "", "{code}");
    }
    assert_eq!(at(11, "grade"), "1");
}

#[test]
fn csv_export_has_a_bom_and_the_same_header() {
    let mut out = Vec::new();
    write_csv(&catalog(), &mut out).unwrap();
    assert!(out.starts_with("\u{feff}".as_bytes()));
    let text = String::from_utf8(out).unwrap();
    let first_line = text.trim_start_matches('\u{feff}').lines().next().unwrap();
    assert_eq!(first_line, HEADER);
    assert_eq!(exported_rows(&catalog()).len(), 1 + 4 + 6 + 2 + 3);
}

#[test]
fn xlsx_export_has_the_same_header_in_one_named_sheet() {
    use calamine::{Reader, Xlsx};
    let bytes = write_xlsx(&catalog()).unwrap();
    let mut wb = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(wb.sheet_names(), ["资源目录"]);
    let range = wb.worksheet_range("资源目录").unwrap();
    let header: Vec<String> = range
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(header.join(","), HEADER);
}

#[test]
fn a_missing_required_column_is_named() {
    let mut rows = exported_rows(&catalog());
    let provider = column(&rows, "provider_code");
    for row in &mut rows {
        row.remove(provider);
    }
    let found = problems(&sheet(&rows));
    let p = find(&found, 1, "提供方代码");
    assert!(p.message.contains("required"), "{p}");
    assert_eq!(found.len(), 1, "{found:#?}");
}

#[test]
fn a_bad_share_type_names_its_row_and_column() {
    let mut rows = exported_rows(&catalog());
    let c = column(&rows, "share_type");
    // Row index 5 is sheet row 6: the bus resource's first row.
    for row in &mut rows[5..11] {
        row[c] = "有时共享".into();
    }
    let found = problems(&sheet(&rows));
    let p = find(&found, 6, "共享类型");
    assert!(
        p.message.contains("有时共享") && p.message.contains("无条件共享"),
        "{p}"
    );
    assert_eq!(found.len(), 1, "{found:#?}");
}

#[test]
fn a_bad_item_grade_names_the_items_row() {
    let mut rows = exported_rows(&catalog());
    let c = column(&rows, "item_grade");
    rows[8][c] = "7".into();
    let found = problems(&sheet(&rows));
    let p = find(&found, 9, "信息项分级");
    assert!(p.message.contains('7'), "{p}");
}

#[test]
fn unreadable_numbers_and_labels_are_all_reported() {
    let mut rows = exported_rows(&catalog());
    let grade = column(&rows, "grade");
    let item_type = column(&rows, "item_type");
    let required = column(&rows, "item_required");
    for row in &mut rows[1..5] {
        row[grade] = "high".into();
    }
    rows[7][item_type] = "文本".into();
    rows[13][required] = "maybe".into();
    let found = problems(&sheet(&rows));
    assert!(find(&found, 2, "资源分级").message.contains("high"));
    assert!(find(&found, 8, "数据类型").message.contains("字符串"));
    find(&found, 14, "必填");
    // In sheet order.
    assert!(found.windows(2).all(|w| w[0].row <= w[1].row), "{found:#?}");
}

#[test]
fn rows_of_one_resource_that_disagree_are_reported() {
    let mut rows = exported_rows(&catalog());
    let c = column(&rows, "share_type");
    rows[3][c] = "不予共享".into();
    let found = problems(&sheet(&rows));
    let p = find(&found, 4, "共享类型");
    assert!(p.message.contains("row 2"), "{p}");
}

#[test]
fn a_declaration_error_lands_on_its_field() {
    let mut rows = exported_rows(&catalog());
    let key_items = column(&rows, "key_items");
    let item_key = column(&rows, "item_key");
    for row in &mut rows[11..13] {
        row[key_items] = "no_such_item".into();
    }
    rows[15][item_key] = "Bad Key".into();
    let found = problems(&sheet(&rows));
    find(&found, 12, "主键");
    find(&found, 16, "信息项标识");
}

#[test]
fn nothing_is_imported_when_one_resource_is_bad() {
    let mut rows = exported_rows(&catalog());
    let c = column(&rows, "item_element");
    rows[1][c] = "Not An Element".into();
    let found = problems(&sheet(&rows));
    find(&found, 2, "数据元");
}

#[test]
fn a_hand_filled_sheet_reads_short_headers_merged_rows_and_extra_columns() {
    let rows: Vec<Vec<String>> = [
        vec![
            "资源名称",
            "provider_code",
            "备注",
            "共享类型",
            "update_cycle",
            "主键",
            "信息项标识",
            "信息项名称",
            "数据类型",
            "信息项分级",
            "必填",
        ],
        vec![
            "企业登记信息",
            "510100-SC",
            "第一批",
            "unconditional",
            "每月",
            "uscc",
            "uscc",
            "统一社会信用代码",
            "string",
            "1",
            "是",
        ],
        // Merged cells: only the first row of a resource carries its fields.
        vec![
            "",
            "",
            "",
            "",
            "",
            "",
            "reg_date",
            "成立日期",
            "日期",
            "1",
            "",
        ],
        vec![],
        vec![
            "排水许可",
            "510100-SW",
            "",
            "无条件共享",
            "",
            "permit_no",
            "permit_no",
            "许可证编号",
            "",
            "2",
            "否",
        ],
        // Not consecutive: back to the first resource by name and provider.
        vec![
            "企业登记信息",
            "510100-SC",
            "",
            "",
            "",
            "",
            "capital",
            "注册资本",
            "decimal",
            "",
            "",
        ],
    ]
    .iter()
    .map(|r| r.iter().map(|s| (*s).to_owned()).collect())
    .collect();
    let imported = read_xlsx(&sheet(&rows)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(imported.len(), 2);
    let first = &imported[0].spec;
    let keys: Vec<&str> = first.items.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["uscc", "reg_date", "capital"]);
    assert_eq!(first.update_cycle.as_str(), "monthly");
    assert_eq!(imported[0].code, None);
    assert_eq!(imported[0].provider_name, None);
    assert_eq!(imported[1].first_row, 5);
    assert_eq!(imported[1].spec.grade().value(), 2);
}

#[test]
fn a_row_without_a_resource_and_a_header_only_sheet_are_rejected() {
    let header = vec![
        "资源名称".to_owned(),
        "提供方代码".into(),
        "信息项标识".into(),
    ];
    let found = problems(&sheet(&[
        header.clone(),
        vec![String::new(), String::new(), "x".into()],
    ]));
    find(&found, 2, "资源名称");
    let found = problems(&sheet(&[header]));
    assert_eq!(found[0].row, 0, "{found:#?}");
    let found = problems(&sheet(&[]));
    assert_eq!(found[0].row, 0, "{found:#?}");
}

#[test]
fn a_file_that_is_not_xlsx_is_a_file_level_problem() {
    let mut csv = Vec::new();
    write_csv(&catalog(), &mut csv).unwrap();
    let garbage: Vec<u8> = (0u32..2000).map(|i| (i * 7919 % 251) as u8).collect();
    for bytes in [csv, garbage, Vec::new(), b"PK\x03\x04 truncated".to_vec()] {
        let found = problems(&bytes);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].row, 0);
        assert_eq!(found[0].column, None);
    }
}

#[test]
fn problems_display_row_and_column() {
    let mut rows = exported_rows(&catalog());
    let c = column(&rows, "share_type");
    rows[1][c] = "x".into();
    let err = read_xlsx(&sheet(&rows)).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("row 2, column 共享类型 (share_type)"),
        "{text}"
    );
}

#[test]
fn catalog_entries_serialise_as_json() {
    let entries = catalog();
    let json = serde_json::to_string(&entries).unwrap();
    let back: Vec<CatalogEntry> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, entries);
}

#[test]
fn problems_stop_at_the_cap_and_say_so() {
    let header = vec![
        "资源名称".to_owned(),
        "提供方代码".into(),
        "信息项标识".into(),
    ];
    let mut rows = vec![header];
    // 300 resources, each with an invalid item key.
    rows.extend((0..300).map(|i| vec![format!("资源{i}"), "GA".into(), "Bad Key".into()]));
    let found = problems(&sheet(&rows));
    assert_eq!(found.len(), 201);
    let last = found.last().unwrap();
    assert_eq!(last.row, 0);
    assert!(last.message.contains("100 more"), "{last}");
}

#[test]
fn csv_cells_that_would_run_as_formulas_are_defused() {
    let mut entries = catalog();
    entries[2].spec.name = "=HYPERLINK(\"http://example.invalid\")".into();
    let rows = exported_rows(&entries);
    let name = column(&rows, "name");
    assert_eq!(rows[11][name], "'=HYPERLINK(\"http://example.invalid\")");
    // The XLSX export stores text cells, so the name survives as it is.
    let imported = read_xlsx(&write_xlsx(&entries).unwrap()).unwrap();
    assert_eq!(imported[2].spec.name, entries[2].spec.name);
}
