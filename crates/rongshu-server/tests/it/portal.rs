//! The public portal's pages over HTTP: Chinese search and facets, topic and
//! department pages, a dataset page that shows exactly what was released,
//! not-found for anything unpublished, public data requests with their CSRF
//! check, validation and public answers, and the English switch.

use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::json;

use crate::on_both_backends;
use crate::portal_fixture::{DRAFT, PEOPLE, PEOPLE_TITLE, TRANSPORT, TRANSPORT_TITLE, open_portal};
use crate::support::{TestApp, json_of};

on_both_backends!(
    the_portal_searches_in_chinese_and_filters_by_facets,
    a_dataset_page_shows_the_release_as_released,
    a_public_data_request_is_checked_submitted_and_answered_in_public,
    every_portal_page_switches_to_english,
);

async fn page(app: &TestApp, path: &str) -> (StatusCode, String) {
    let res = app.get(path, None).await;
    (res.status(), res.text().await.unwrap())
}

fn no_client_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// The one `<h1>`, and headings that never skip a level.
fn assert_accessible(html: &str) {
    assert_eq!(html.matches("<h1").count(), 1, "one h1");
    assert!(html.contains("class=\"skip\" href=\"#main\""), "skip link");
    assert!(html.contains("id=\"lang-switch\""), "language switch");
    let mut last = 0;
    let mut rest = html;
    while let Some(at) = rest.find("<h") {
        rest = &rest[at + 2..];
        if let Some(level) = rest.chars().next().and_then(|c| c.to_digit(10)) {
            assert!(level <= last + 1, "h{level} after h{last}");
            last = level;
        }
    }
}

async fn the_portal_searches_in_chinese_and_filters_by_facets(app: &TestApp) {
    open_portal(app).await;

    let (status, html) = page(app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_accessible(&html);
    assert!(html.contains(PEOPLE_TITLE) && html.contains(TRANSPORT_TITLE));
    assert!(html.contains("href=\"/topics/transport\""), "topic links");
    assert!(html.contains("<div class=\"n\">2</div>开放数据集"));
    assert!(!html.contains("未发布的人口草稿"));

    // Chinese words, segmented by the open-data index.
    let (status, html) = page(app, "/datasets?q=%E5%AE%A2%E8%BF%90").await;
    assert_eq!(status, StatusCode::OK);
    assert_accessible(&html);
    assert!(
        html.contains(TRANSPORT_TITLE),
        "客运 finds the passenger numbers"
    );
    assert!(!html.contains(PEOPLE_TITLE));
    assert!(html.contains("<span id=\"total\">1</span>"));
    let (_, html) = page(app, "/datasets?q=%E5%AD%90%E5%A5%B3%E6%95%B0").await;
    assert!(html.contains(PEOPLE_TITLE) && !html.contains(TRANSPORT_TITLE));

    // Facets with counts, as links that add a filter...
    let (_, html) = page(app, "/datasets").await;
    assert!(html.contains("<span id=\"total\">2</span>"));
    let link = "href=\"/datasets?topic=%E4%BA%A4%E9%80%9A%E6%9C%8D%E5%8A%A1\">交通服务</a> <span class=\"count\">(1)</span>";
    assert!(html.contains(link), "topic facet link with its count");
    assert!(
        html.contains(">gaj局</a> <span class=\"count\">(2)</span>"),
        "department facet"
    );
    assert!(
        html.contains(">每月</a> <span class=\"count\">(1)</span>"),
        "update cycle facet"
    );
    assert!(
        html.contains(">CSV</a> <span class=\"count\">(2)</span>"),
        "format facet"
    );
    let (_, html) = page(app, "/datasets?topic=%E4%BA%A4%E9%80%9A%E6%9C%8D%E5%8A%A1").await;
    assert!(html.contains(TRANSPORT_TITLE) && !html.contains(PEOPLE_TITLE));
    // ...and remove it again.
    assert!(html.contains("aria-current=\"true\">✓ 交通服务"));
    assert!(html.contains("<a href=\"/datasets\" class=\"active-filter\">"));
    let (_, html) = page(app, "/datasets?cycle=daily").await;
    assert!(html.contains(PEOPLE_TITLE) && !html.contains(TRANSPORT_TITLE));
    let (_, html) = page(app, "/datasets?format=PDF").await;
    assert!(html.contains("<span id=\"total\">0</span>"));
    // Paging past the end is an empty page, not an error.
    let (status, _) = page(app, "/datasets?page=9").await;
    assert_eq!(status, StatusCode::OK);

    // Topic and department pages.
    let (status, html) = page(app, "/topics/transport").await;
    assert_eq!(status, StatusCode::OK);
    assert_accessible(&html);
    assert!(
        html.contains("主题：交通服务")
            && html.contains(TRANSPORT_TITLE)
            && !html.contains(PEOPLE_TITLE)
    );
    let (_, html) = page(app, "/topics/public-safety").await;
    assert!(html.contains(PEOPLE_TITLE) && !html.contains(TRANSPORT_TITLE));
    let (status, html) = page(app, "/topics/culture").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a priority domain always has its page"
    );
    assert!(html.contains("<span id=\"total\">0</span>"));
    let (status, _) = page(app, "/topics/no-such-topic").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, html) = page(app, "/organizations/gaj").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("gaj局 开放的数据")
            && html.contains(PEOPLE_TITLE)
            && html.contains(TRANSPORT_TITLE)
    );
    let (_, html) = page(app, "/organizations/rsj").await;
    assert!(html.contains("<span id=\"total\">0</span>"));
    let (status, _) = page(app, "/organizations/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn a_dataset_page_shows_the_release_as_released(app: &TestApp) {
    let p = open_portal(app).await;
    let (status, html) = page(app, &format!("/datasets/{PEOPLE}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_accessible(&html);
    assert!(html.contains(PEOPLE_TITLE));
    assert!(
        html.contains("<span id=\"reviewer\">gaj_reviewer</span>"),
        "the reviewer is named"
    );
    assert!(html.contains("<span id=\"proposer\">gaj_officer</span>"));
    assert!(html.contains("gaj局"));
    // The preview: names masked as released, ID numbers dropped, nothing else read.
    assert!(html.contains("id=\"preview-table\""));
    assert!(html.contains("<th scope=\"col\">姓名</th>"));
    assert!(
        !html.contains("<th scope=\"col\">公民身份号码</th>"),
        "a dropped item is absent"
    );
    assert!(!html.contains("510104"), "no ID number anywhere");
    assert!(
        !html.contains("张零") && !html.contains("张一<"),
        "no plain name"
    );
    assert!(
        html.contains("<td>张*</td>"),
        "masked as released: {}",
        &html[html.find("preview-table").unwrap()..][..600]
    );
    assert!(!html.contains("年收入"), "a grade-4 item is never shown");
    assert!(html.contains("<strong>已脱敏</strong>"));
    // Downloads, API example, a chart of children by district.
    for format in ["csv", "csv-bom", "json", "xlsx"] {
        assert!(html.contains(&format!(
            "href=\"/api/v1/releases/{PEOPLE}/download?format={format}\""
        )));
    }
    assert!(html.contains(&format!(
        "datastore_search?resource_id={PEOPLE}-data&#38;limit=5"
    )));
    assert!(html.contains("curl "));
    assert!(html.contains("<svg") && html.contains("子女数（按区县）"));
    assert!(html.contains("<dd id=\"views\">1</dd>"));
    assert!(html.contains("<dd id=\"download-total\">0</dd>"));

    // Each view and download counts.
    let res = app
        .get(
            &format!("/api/v1/releases/{PEOPLE}/download?format=csv"),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let csv = res.text().await.unwrap();
    assert!(csv.starts_with("name,district,children") && csv.contains("张*"));
    let (_, html) = page(app, &format!("/datasets/{PEOPLE}")).await;
    assert!(html.contains("<dd id=\"views\">2</dd>"));
    assert!(html.contains("<dd id=\"download-total\">1</dd>"));
    let (_, home) = page(app, "/").await;
    let popular = &home[home.find("id=\"popular\"").unwrap()..];
    assert!(popular.contains(PEOPLE_TITLE) && !popular.contains(TRANSPORT_TITLE));

    // A series by district over months: drawn for the latest month.
    let (_, html) = page(app, &format!("/datasets/{TRANSPORT}")).await;
    assert!(html.contains("客运量（按区县）") && html.contains("期间：2024-03"));
    assert!(html.contains("武侯区: 1700"));
    assert!(html.contains("<td>锦江区</td>"));
    assert!(html.contains("数据更新，载入 9 行"), "update history");

    // Unknown, proposed and withdrawn datasets are not found.
    for name in ["no-such-dataset", DRAFT] {
        let (status, html) = page(app, &format!("/datasets/{name}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}");
        assert!(html.contains("页面不存在"));
    }
    let (status, _, _) = json_of(
        app.post_json(
            &format!("/api/v1/releases/{}/withdraw", p.people_id),
            Some(&p.cast.provider),
            &json!({"reason": "测试"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = page(app, &format!("/datasets/{PEOPLE}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, html) = page(app, "/datasets").await;
    assert!(!html.contains(PEOPLE_TITLE));
}

/// The form's CSRF cookie and hidden token, as a browser would hold them.
async fn form_token(client: &reqwest::Client, app: &TestApp) -> (String, String) {
    let res = client.get(app.url("/requests")).send().await.unwrap();
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("rongshu_portal_csrf="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = res.text().await.unwrap();
    let at = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    let token = html[at..].split('"').next().unwrap().to_owned();
    assert_eq!(cookie, format!("rongshu_portal_csrf={token}"));
    (cookie, token)
}

async fn a_public_data_request_is_checked_submitted_and_answered_in_public(app: &TestApp) {
    let p = open_portal(app).await;
    let client = no_client_redirects();
    let (status, html) = page(app, "/requests").await;
    assert_eq!(status, StatusCode::OK);
    assert_accessible(&html);
    assert!(html.contains("<label for=\"title\">") && html.contains("<label for=\"department\">"));
    assert!(html.contains("暂无数据需求"));

    // Without the token: refused.
    let res = client
        .post(app.url("/requests"))
        .form(&[("title", "公交线路"), ("description", "需要公交线路数据")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Missing and too long fields: said on each field, the input kept.
    let (cookie, token) = form_token(&client, app).await;
    let long_contact = "x".repeat(201);
    let res = client
        .post(app.url("/requests"))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", token.as_str()),
            ("title", "  "),
            ("description", "需要各线路的站点与首末班时间"),
            ("contact", long_contact.as_str()),
            ("department", "nope"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("role=\"alert\""));
    assert!(html.contains("请填写需求标题"));
    assert!(html.contains("联系方式（选填，不公开）过长（不超过 200 字）"));
    assert!(html.contains("所选部门不存在"));
    assert!(html.contains("aria-invalid=\"true\" aria-describedby=\"title-error\""));
    assert!(html.contains("aria-invalid=\"true\" aria-describedby=\"contact-error\""));
    assert!(
        html.contains(">需要各线路的站点与首末班时间</textarea>"),
        "what was typed is kept"
    );

    // A good request: stored, routed to the department named, listed.
    let res = client
        .post(app.url("/requests"))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", token.as_str()),
            ("title", "公交线路与站点数据"),
            (
                "description",
                "需要各线路的站点与首末班时间，用于出行应用。",
            ),
            ("department", "gaj"),
            ("organisation", "某出行科技公司"),
            ("name", "李四"),
            ("contact", "lisi@example.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/requests?submitted="), "{location}");
    let id: i64 = location["/requests?submitted=".len()..]
        .split('#')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let (_, html) = page(app, &location).await;
    assert!(html.contains(&format!("需求已提交，编号 {id}")));
    assert!(html.contains("公交线路与站点数据") && html.contains("某出行科技公司"));
    assert!(html.contains("<strong>办理中</strong> · gaj局"));
    assert!(
        !html.contains("lisi@example.com") && !html.contains("李四"),
        "contact never public"
    );

    // The department answers through the demands API; the answer is public.
    let (status, demand, _) = json_of(
        app.get(&format!("/api/v1/demands/{id}"), Some(&p.cast.provider))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{demand}");
    assert_eq!(demand["channel"], "public");
    assert_eq!(demand["requester"], serde_json::Value::Null);
    assert_eq!(demand["public_requester"]["contact"], "lisi@example.com");
    let (status, body, _) = json_of(
        app.post_json(
            &format!("/api/v1/demands/{id}/answer"),
            Some(&p.cast.provider),
            &json!({"decision": "will_provide", "reason": "拟于下季度开放公交线路数据", "by_date": "2026-06-30"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, html) = page(app, "/requests").await;
    assert!(html.contains("<strong>将予提供</strong>"));
    assert!(html.contains("拟于下季度开放公交线路数据") && html.contains("2026-06-30"));
    // The platform office sees it among the demands, from the public.
    let (_, list, _) = json_of(app.get("/api/v1/demands", Some(&p.cast.admin)).await).await;
    assert_eq!(list["total"], 1);
    // A request without a department waits for the office to route it.
    let res = client
        .post(app.url("/requests"))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", token.as_str()),
            ("title", "停车场空位"),
            ("description", "实时空位数"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(app, "/requests").await;
    assert!(html.contains("<strong>待分派</strong>") && html.contains("（2）"));
}

async fn every_portal_page_switches_to_english(app: &TestApp) {
    open_portal(app).await;
    let res = app
        .get("/datasets?q=%E5%AE%A2%E8%BF%90&lang=en", None)
        .await;
    assert!(
        res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("rongshu_lang=en")
    );
    let html = res.text().await.unwrap();
    assert!(html.contains("lang=\"en\"") && html.contains("Search results"));
    assert!(html.contains(TRANSPORT_TITLE));
    assert!(html.contains(">Transport</a>"), "topics in English");
    assert!(
        html.contains("href=\"/datasets?q=%E5%AE%A2%E8%BF%90&#38;lang=zh\""),
        "the switch back keeps the query"
    );
    // The cookie remembers the choice on every page.
    for path in [
        "/",
        "/requests",
        &format!("/datasets/{TRANSPORT}"),
        "/topics/transport",
        "/organizations/gaj",
        "/datasets/nope",
    ] {
        let res = app
            .client
            .get(app.url(path))
            .header("cookie", "rongshu_lang=en")
            .send()
            .await
            .unwrap();
        let html = res.text().await.unwrap();
        assert!(html.contains("<html lang=\"en\">"), "{path}");
        assert!(html.contains("Skip to main content"), "{path}");
        assert!(html.contains(">中文</a>"), "{path}");
    }
    let (_, html) = page(app, "/?lang=zh").await;
    assert!(html.contains("公共数据开放平台"));
}
