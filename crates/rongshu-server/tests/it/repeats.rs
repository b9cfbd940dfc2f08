//! Repeats far apart in a large-ish file: found in the staged rows after
//! reading, with the same lines, reasons and counts as when they were kept in
//! memory.

use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{TestApp, citizen_id, json_of};

on_both_backends!(
    repeated_keys_and_unique_values_far_apart_are_caught_by_line,
    a_file_holding_its_rows_twice_loads_each_once,
);

/// More repeated keys than one statement lists: every second copy is
/// rejected by its line, and each person is loaded once.
async fn a_file_holding_its_rows_twice_loads_each_once(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    const PEOPLE: u32 = 6_000;
    let id = |n: u32| {
        let birth = format!("1990{:02}{:02}", 1 + n / 1000 % 12, 1 + n / 12_000);
        citizen_id("510107", &birth, n % 1000)
    };
    let mut csv = String::from("id_number,name,children\n");
    for copy in 0..2 {
        for n in 0..PEOPLE {
            csv.push_str(&format!("{},张三,{copy}\n", id(n)));
        }
    }
    let report = app.load_batch(&code, &cast.provider, csv).await;
    assert_eq!(report["rows_loaded"], PEOPLE, "{report}");
    assert_eq!(report["rows_rejected"], PEOPLE);
    assert_eq!(report["quality"]["rules"]["type:row"]["rejected"], PEOPLE);
    // Line 2 + n holds the first copy of person n, line 2 + PEOPLE + n the second.
    assert_eq!(report["rejects"][0]["row"], u64::from(PEOPLE) + 2);
    assert_eq!(report["rejects"][0]["key"], id(0));
    // The first copies are the ones kept.
    let (_, page, _) = json_of(
        app.get(
            &format!("/api/v1/resources/{code}/records?children=1&limit=1"),
            Some(&cast.provider),
        )
        .await,
    )
    .await;
    assert_eq!(page["records"], json!([]), "{page}");
}

async fn repeated_keys_and_unique_values_far_apart_are_caught_by_line(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    let rules = json!({"rules": [
        {"rule": "unique", "items": ["name"]},
        {"rule": "range", "item": "children", "min": 0, "max": 10}
    ]});
    app.put_rules(&code, &cast.provider, &rules).await;

    // Line n + 2 holds person n (the header is line 1).
    const ROWS: u32 = 20_000;
    let id = |n: u32| {
        let birth = format!("1980{:02}{:02}", 1 + n / 1000 % 12, 1 + n / 12_000);
        citizen_id("510104", &birth, n % 1000)
    };
    // Names have no digits: person n is 人 and n in Chinese numerals.
    let person = |n: u32| -> String {
        let digits = "零一二三四五六七八九".chars().collect::<Vec<_>>();
        let mut name = String::from("人");
        name.extend(n.to_string().bytes().map(|b| digits[usize::from(b - b'0')]));
        name
    };
    let mut csv = String::from("id_number,name,children\n");
    for n in 0..ROWS {
        let (person, name, children) = match n {
            // Line 15002 repeats line 2's key.
            15_000 => (0, "张重复".to_owned(), 1),
            // Line 18003 repeats line 3's name under a key of its own.
            18_001 => (n, "王同名".to_owned(), 1),
            1 => (n, "王同名".to_owned(), 1),
            // Line 100 is rejected for its range, yet claims its key: line
            // 19002, sound otherwise, repeats it.
            98 => (n, person(n), 12),
            19_000 => (98, "李后来".to_owned(), 1),
            _ => (n, person(n), 1),
        };
        csv.push_str(&format!("{},{name},{children}\n", id(person)));
    }
    let report = app.load_batch(&code, &cast.provider, csv).await;
    assert_eq!(report["rows_rejected"], 4, "{report}");
    assert_eq!(report["rows_loaded"], u64::from(ROWS) - 4);
    let rejects: Vec<(u64, String)> = report["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["row"].as_u64().unwrap(),
                r["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let lines: Vec<u64> = rejects.iter().map(|r| r.0).collect();
    assert_eq!(lines, [100, 15_002, 18_003, 19_002], "{rejects:?}");
    assert!(
        rejects[1].1.contains("repeats an earlier row"),
        "{rejects:?}"
    );
    assert!(rejects[2].1.contains("earlier row"), "{rejects:?}");
    assert!(
        rejects[3].1.contains("repeats an earlier row"),
        "{rejects:?}"
    );
    assert_eq!(report["rejects"][1]["key"], id(0));
    assert_eq!(report["rejects"][2]["item"], "name");

    let quality = &report["quality"];
    assert_eq!(quality["rules"]["unique:name"]["rejected"], 1, "{quality}");
    assert_eq!(quality["rules"]["type:row"]["rejected"], 2, "{quality}");
    assert_eq!(
        quality["rules"]["range:children"]["rejected"], 1,
        "{quality}"
    );
    assert_eq!(quality["rejected_rows"], 4);
    assert_eq!(quality["clean_rows"], u64::from(ROWS) - 4);
    let failures: Vec<(u64, &str)> = quality["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["row"].as_u64().unwrap(), f["rule"].as_str().unwrap()))
        .collect();
    assert_eq!(
        failures,
        [
            (100, "range:children"),
            (15_002, "type:row"),
            (18_003, "unique:name"),
            (19_002, "type:row")
        ]
    );
    let unique: &Value = &quality["failures"][2];
    assert_eq!(unique["value"], "王同名");
    assert_eq!(unique["key"], id(18_001));

    // The rows that were not repeats are all there, the first of each pair
    // among them.
    let (_, page, _) = json_of(
        app.get(
            &format!("/api/v1/resources/{code}/records?name=王同名"),
            Some(&cast.provider),
        )
        .await,
    )
    .await;
    assert_eq!(page["records"].as_array().map(Vec::len), Some(1), "{page}");
}
