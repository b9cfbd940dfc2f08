//! The Chinese query table: what each query must find in its first ten hits, and what it
//! must not find at all.

use rongshu_search::SearchQuery;

use crate::catalog;

/// (query, expected in the top ten, expected nowhere in the results).
const TABLE: &[(&str, &[&str], &[&str])] = &[
    (
        "人口",
        &["GA-001", "GA-004", "TJ-002"],
        &["SJ-001", "GT-001"],
    ),
    ("人口基础信息", &["GA-001"], &["SJ-001", "TJ-001"]),
    ("社保", &["RS-001"], &["SJ-001", "GA-002", "JT-001"]),
    ("社会保险", &["RS-001"], &["SJ-001", "HB-001"]),
    ("医保", &["YB-001"], &["RS-002", "JY-001"]),
    ("公积金", &["GJ-001"], &["RS-001", "GT-001"]),
    ("学校", &["JY-001", "WH-001"], &["WJ-002", "GA-001"]),
    ("幼儿园", &["WH-001"], &["JY-002"]),
    ("医院", &["WJ-002"], &["JY-001", "SJ-004"]),
    (
        "交通",
        &["JT-001", "GA-002", "JT-002"],
        &["HB-001", "RS-001"],
    ),
    ("不动产", &["GT-001"], &["SJ-001", "GJ-001"]),
    ("房产", &["GT-001"], &["SJ-001"]),
    ("营业执照", &["SJ-001"], &["SW-001", "GA-001"]),
    ("工商", &["SJ-001", "SJ-003"], &["GA-001", "SW-002"]),
    ("出生", &["WJ-001"], &["SJ-001", "WJ-003"]),
    ("死亡", &["WJ-003", "MZ-003"], &["WJ-001", "SJ-001"]),
    ("婚姻", &["MZ-001"], &["GA-002", "RS-001"]),
    ("纳税", &["SW-001", "SW-002"], &["GJ-001", "GA-001"]),
    ("税务", &["SW-001", "SW-002"], &["SJ-001"]),
    ("道路", &["JT-002", "JT-003"], &["HB-001", "GA-001"]),
    ("空气质量", &["HB-001"], &["HB-002"]),
    (
        "身份证",
        &["GA-001", "RS-001", "WJ-001"],
        &["GT-002", "SJ-001"],
    ),
    ("车辆", &["GA-002"], &["JT-001", "HB-001"]),
    ("驾驶证", &["GA-003"], &["GA-001"]),
    ("GDP", &["TJ-001"], &["TJ-002"]),
    ("地区生产总值", &["TJ-001"], &["TJ-002"]),
    ("低保", &["MZ-002"], &["RS-001"]),
    ("户籍", &["GA-001"], &["SJ-001"]),
    ("统一社会信用代码", &["SJ-001"], &["GA-001"]),
    ("公交 站点", &["JT-001"], &["JT-002", "HB-002"]),
    ("食品", &["SJ-002"], &["SJ-004"]),
    ("水质", &["HB-002"], &["HB-001"]),
    ("失业", &["RS-002", "RS-001"], &["MZ-002"]),
    ("武侯区 幼儿园", &["WH-001"], &["JY-001"]),
    ("药店", &["SJ-004"], &["SJ-002"]),
    ("高考录取", &["JY-002"], &["JY-001"]),
    ("地图", &["GT-002"], &["JT-001"]),
    ("火化", &["MZ-003"], &["WJ-001"]),
];

#[test]
fn chinese_query_table() {
    let index = catalog::index();
    let mut expected = 0usize;
    let mut found = 0usize;
    let mut failures = Vec::new();
    for (q, hits, non_hits) in TABLE {
        let all = index
            .search(&SearchQuery {
                limit: 1000,
                ..SearchQuery::text(*q)
            })
            .expect("search");
        let codes: Vec<&str> = all.hits.iter().map(|h| h.code.as_str()).collect();
        let top10 = &codes[..codes.len().min(10)];
        for hit in *hits {
            expected += 1;
            if top10.contains(hit) {
                found += 1;
            } else {
                failures.push(format!("{q}: {hit} not in top 10 {top10:?}"));
            }
        }
        for non_hit in *non_hits {
            if codes.contains(non_hit) {
                failures.push(format!("{q}: {non_hit} should not match, got {codes:?}"));
            }
        }
    }
    println!(
        "query table: {} queries, hits@10 {found}/{expected} = {:.3}",
        TABLE.len(),
        found as f64 / expected as f64
    );
    assert!(TABLE.len() >= 20);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
