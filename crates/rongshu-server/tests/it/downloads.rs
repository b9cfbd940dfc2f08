//! Downloads of a published release: every format carries exactly the
//! released rows (dropped items absent, masked ones masked), the
//! spreadsheet CSV alone has a BOM, each download is counted, and the
//! catalogs (CKAN, DCAT) list the files.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::opendata::{ckan, open_population, publish_release, reviewer};
use crate::support::{TestApp, json_of};

on_both_backends!(
    each_format_downloads_the_released_rows_and_is_counted,
    catalogs_list_the_downloads,
);

const BOM: &str = "\u{feff}";

async fn download(app: &TestApp, name: &str, format: &str) -> reqwest::Response {
    app.get(
        &format!("/api/v1/releases/{name}/download?format={format}"),
        None,
    )
    .await
}

fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn each_format_downloads_the_released_rows_and_is_counted(app: &TestApp) {
    let cast = app.cast().await;
    let reviewer = reviewer(app).await;
    let code = open_population(app, &cast, 12).await;
    // Every item below grade 4: the ID number dropped, the name masked.
    let release = publish_release(
        app,
        &cast,
        &reviewer,
        json!({"resource": code, "name": "people-dl", "title": "人口（下载）",
               "filters": [{"item": "district", "op": "eq", "value": "锦江区"}]}),
    )
    .await;
    let id = release["id"].as_i64().unwrap();
    assert_eq!(
        release["treatments"]["id_number"]["action"], "drop",
        "{release}"
    );

    // Plain CSV: the header of released items, the view's rows only.
    let res = download(app, "people-dl", "csv").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(header(&res, "content-type").starts_with("text/csv"));
    assert_eq!(
        header(&res, "content-disposition"),
        "attachment; filename=\"people-dl.csv\""
    );
    let csv = res.text().await.unwrap();
    assert!(!csv.starts_with(BOM), "no BOM in the plain CSV");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "name,birth_date,district,children");
    assert_eq!(lines.len(), 1 + 6, "{csv}");
    for line in &lines[1..] {
        assert!(
            line.contains("锦江区") && !line.contains("武侯区"),
            "{line}"
        );
        // 张 + a masked given name; never the plain one.
        assert!(line.starts_with("张*"), "{line}");
    }
    assert!(!csv.contains("510104"), "no ID number leaves: {csv}");
    assert!(!csv.contains("张零") && !csv.contains("张二"), "{csv}");

    // The spreadsheet CSV: the same rows after a BOM.
    let res = download(app, &id.to_string(), "csv-bom").await;
    assert_eq!(res.status(), StatusCode::OK);
    let bom_csv = res.text().await.unwrap();
    assert_eq!(bom_csv.strip_prefix(BOM), Some(csv.as_str()));

    // JSON: an array of the same records.
    let res = download(app, "people-dl", "json").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        header(&res, "content-disposition"),
        "attachment; filename=\"people-dl.json\""
    );
    let text = res.text().await.unwrap();
    assert!(!text.starts_with(BOM));
    let rows: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(rows.len(), 6);
    for row in &rows {
        let keys: Vec<&String> = row.as_object().unwrap().keys().collect();
        assert!(!keys.iter().any(|k| *k == "id_number" || *k == "income"));
        assert_eq!(row["district"], "锦江区");
        assert!(row["name"].as_str().unwrap().contains('*'), "{row}");
    }

    // XLSX: one sheet, the same header and rows.
    let res = download(app, "people-dl", "xlsx").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        header(&res, "content-disposition"),
        "attachment; filename=\"people-dl.xlsx\""
    );
    let bytes = res.bytes().await.unwrap().to_vec();
    let sheet = {
        use calamine::{Reader, Xlsx};
        let mut book = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        let range = book.worksheet_range("数据").unwrap();
        range
            .rows()
            .map(|r| r.iter().map(|c| c.to_string()).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    };
    assert_eq!(sheet[0], ["name", "birth_date", "district", "children"]);
    assert_eq!(sheet.len(), 7);
    assert!(
        sheet[1..]
            .iter()
            .all(|r| r[0].starts_with("张*") && r[2] == "锦江区")
    );

    // A format it does not know, and a name that is no release.
    let res = download(app, "people-dl", "pdf").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = download(app, "nobody", "csv").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Every download counted, per format: the release and package_show say so.
    let (status, shown, _) = json_of(app.get(&format!("/api/v1/releases/{id}"), None).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["downloads"]["total"], 4, "{shown}");
    assert_eq!(
        shown["downloads"]["by_format"],
        json!({"csv": 1, "csv-bom": 1, "json": 1, "xlsx": 1})
    );
    assert_eq!(shown["downloads"]["by_day"].as_object().unwrap().len(), 1);
    download(app, "people-dl", "csv")
        .await
        .text()
        .await
        .unwrap();
    let (_, package) = ckan(app, "package_show", "id=people-dl").await;
    let extra = package["result"]["extras"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "downloads")
        .cloned();
    assert_eq!(extra, Some(json!({"key": "downloads", "value": "5"})));

    // Withdrawn: no download any more, by name or by id.
    let (status, _, _) = json_of(
        app.post_json(
            &format!("/api/v1/releases/{id}/withdraw"),
            Some(&cast.provider),
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        download(app, "people-dl", "csv").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        download(app, &id.to_string(), "json").await.status(),
        StatusCode::NOT_FOUND
    );
}

async fn catalogs_list_the_downloads(app: &TestApp) {
    let cast = app.cast().await;
    let reviewer = reviewer(app).await;
    let code = open_population(app, &cast, 4).await;
    publish_release(
        app,
        &cast,
        &reviewer,
        json!({"resource": code, "name": "kids", "title": "子女数",
               "items": ["district", "children"]}),
    )
    .await;

    // Open on conditions: listed, but its rows are not for anonymous download.
    publish_release(
        app,
        &cast,
        &reviewer,
        json!({"resource": code, "name": "kids-conditional", "title": "子女数（有条件）",
               "items": ["district", "children"], "open_type": "conditional",
               "open_condition": "仅限科研用途"}),
    )
    .await;
    let res = app
        .get(
            "/api/v1/releases/kids-conditional/download?format=csv",
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let (_, found) = ckan(app, "package_search", "fq=res_format:CSV").await;
    assert_eq!(found["result"]["count"], 2, "{found}");
    let (_, found) = ckan(app, "package_search", "fq=res_format:xlsx").await;
    assert_eq!(found["result"]["count"], 2);

    let (_, package) = ckan(app, "package_show", "id=kids").await;
    let resources = package["result"]["resources"].as_array().unwrap();
    let formats: Vec<&str> = resources
        .iter()
        .map(|r| r["format"].as_str().unwrap())
        .collect();
    assert_eq!(formats, ["JSON", "CSV", "CSV", "JSON", "XLSX"]);
    let csv = &resources[1];
    let url = csv["url"].as_str().unwrap();
    assert!(
        url.ends_with("/api/v1/releases/kids/download?format=csv"),
        "{url}"
    );
    // The URL the catalog gives is the download.
    let path = &url[url.find("/api/").unwrap()..];
    let text = app.get(path, None).await.text().await.unwrap();
    assert!(text.starts_with("district,children\r\n"), "{text}");
    let (status, shown) = ckan(app, "resource_show", "id=kids-xlsx").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["result"]["format"], "XLSX");
    let (status, _) = ckan(app, "resource_show", "id=kids-pdf").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let res = app.get("/catalog.jsonld", None).await;
    let doc: Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    let dataset = doc["@graph"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["@type"] == "dcat:Dataset" && n["dct:identifier"] == "kids")
        .cloned()
        .unwrap();
    let downloads: Vec<&Value> = dataset["dcat:distribution"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| !d["dcat:downloadURL"].is_null())
        .collect();
    assert_eq!(downloads.len(), 4);
    let xlsx = downloads
        .iter()
        .find(|d| d["dct:format"] == "XLSX")
        .unwrap();
    assert_eq!(
        xlsx["dcat:mediaType"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let ttl = app.get("/catalog.ttl", None).await.text().await.unwrap();
    assert!(ttl.contains("dcat:downloadURL <http://"), "{ttl}");
    assert!(ttl.contains("dct:format \"CSV\""));
}
