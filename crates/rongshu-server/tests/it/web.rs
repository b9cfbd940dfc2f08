//! The pages: Chinese by default, English on request, and the console's
//! sign-in form with its CSRF check, all without JavaScript.

use reqwest::StatusCode;
use reqwest::redirect::Policy;

use crate::on_both_backends;
use crate::support::{PASSWORD, TestApp, population_csv};

on_both_backends!(
    the_portal_shows_live_counts_in_both_languages,
    the_console_signs_in_with_a_form,
    a_resource_is_registered_reviewed_and_published_in_the_console,
    the_provider_reads_a_batch_quality_report_in_the_console,
);

async fn the_portal_shows_live_counts_in_both_languages(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    app.post_csv(
        &format!("/api/v1/resources/{code}/batches"),
        &cast.provider,
        population_csv(12),
    )
    .await;
    let res = app.get("/", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("lang=\"zh-CN\""));
    assert!(html.contains("蓉数") && html.contains("公共数据开放平台"));
    assert!(
        html.contains("<div class=\"n\">3</div>部门"),
        "three departments"
    );
    assert!(
        html.contains("<div class=\"n\">12</div>数据记录"),
        "twelve rows"
    );
    let res = app.get("/?lang=en", None).await;
    assert!(
        res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("rongshu_lang=en")
    );
    let html = res.text().await.unwrap();
    assert!(html.contains("lang=\"en\"") && html.contains("Open data portal"));
}

async fn the_console_signs_in_with_a_form(app: &TestApp) {
    app.cast().await;
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let res = client.get(app.url("/console")).send().await.unwrap();
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = res.text().await.unwrap();
    assert!(html.contains("<form class=\"login\""));
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();

    // Without the matching CSRF cookie the form is refused.
    let res = client
        .post(app.url("/console/login"))
        .form(&[
            ("username", "gaj_officer"),
            ("password", PASSWORD),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // A wrong password shows the form again with a message.
    let res = client
        .post(app.url("/console/login"))
        .header("cookie", &cookie)
        .form(&[
            ("username", "gaj_officer"),
            ("password", "nope nope nope"),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.text().await.unwrap().contains("用户名或密码错误"));
    let res = client
        .post(app.url("/console/login"))
        .header("cookie", &cookie)
        .form(&[
            ("username", "gaj_officer"),
            ("password", PASSWORD),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let session = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(session.starts_with("rongshu_session="));
    let res = client
        .get(app.url("/console"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(
        html.contains("gaj_officer") && html.contains("本部门资源"),
        "{html}"
    );
}

/// Sign in through the console's form; returns the session cookie and the
/// session's CSRF token (from the sign-out form).
pub(crate) async fn console_session(
    app: &TestApp,
    username: &str,
) -> (reqwest::Client, String, String) {
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let res = client.get(app.url("/console")).send().await.unwrap();
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = res.text().await.unwrap();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let res = client
        .post(app.url("/console/login"))
        .header("cookie", &cookie)
        .form(&[
            ("username", username),
            ("password", PASSWORD),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let session = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = client
        .get(app.url("/console"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    (client, session, csrf)
}

async fn a_resource_is_registered_reviewed_and_published_in_the_console(app: &TestApp) {
    app.cast().await;
    let (client, session, csrf) = console_session(app, "gaj_officer").await;
    let page = |path: &str| client.get(app.url(path)).header("cookie", &session).send();
    let html = page("/console/resources/new")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        html.matches("name=\"item_key_").count(),
        5,
        "five blank item rows to start"
    );

    let mut fields: Vec<(String, String)> = [
        ("csrf", csrf.as_str()),
        ("rows", "5"),
        ("name", "流动人口居住登记"),
        ("summary", "居住登记信息"),
        ("classification", "1-01-002"),
        ("share_type", "unconditional"),
        ("update_cycle", "daily"),
        ("topics", "公共安全"),
        ("keywords", "居住证，流动人口"),
        ("key_items", "id_number"),
        ("item_key_0", "id_number"),
        ("item_name_0", "公民身份号码"),
        ("item_type_0", "string"),
        ("item_grade_0", "3"),
        ("item_required_0", "on"),
        ("item_key_1", "address"),
        ("item_name_1", "居住地址"),
        ("item_type_1", "string"),
        ("item_grade_1", "3"),
        ("item_key_2", ""),
        ("item_type_2", "string"),
        ("item_grade_2", "1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    // More rows, without saving.
    let mut more = fields.clone();
    more.push(("add_rows".into(), "3".into()));
    let res = client
        .post(app.url("/console/resources/new"))
        .header("cookie", &session)
        .form(&more)
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert_eq!(html.matches("name=\"item_key_").count(), 8);
    assert!(
        html.contains("value=\"流动人口居住登记\""),
        "the values are kept"
    );
    // A mistake shows the form again with the reason.
    let mut bad = fields.clone();
    bad.retain(|(k, _)| k != "key_items");
    bad.push(("save".into(), "1".into()));
    let res = client
        .post(app.url("/console/resources/new"))
        .header("cookie", &session)
        .form(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("key_items"));
    // Without the CSRF field: refused.
    let mut forged = fields.clone();
    forged.retain(|(k, _)| k != "csrf");
    let res = client
        .post(app.url("/console/resources/new"))
        .header("cookie", &session)
        .form(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    fields.push(("save".into(), "1".into()));
    let res = client
        .post(app.url("/console/resources/new"))
        .header("cookie", &session)
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("/console/resources/101002-"),
        "{location}"
    );
    let code = location
        .trim_start_matches("/console/resources/")
        .to_owned();
    let html = page(&location).await.unwrap().text().await.unwrap();
    assert!(
        html.contains("居住地址") && html.contains("草稿") && html.contains("value=\"submit\""),
        "{html}"
    );
    let res = client
        .post(app.url(&format!("/console/resources/{code}/transition")))
        .header("cookie", &session)
        .form(&[
            ("csrf", csrf.as_str()),
            ("action", "submit"),
            ("comment", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    // The platform office finds it in the queue, compares, approves.
    let (admin, admin_session, admin_csrf) = console_session(app, "admin").await;
    let queue = admin
        .get(app.url("/console/review"))
        .header("cookie", &admin_session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(queue.contains(&code));
    let review = admin
        .get(app.url(&format!("/console/resources/{code}/review")))
        .header("cookie", &admin_session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(review.contains("items.address") && review.contains("value=\"approve\""));
    let res = admin
        .post(app.url(&format!("/console/resources/{code}/transition")))
        .header("cookie", &admin_session)
        .form(&[
            ("csrf", admin_csrf.as_str()),
            ("action", "approve"),
            ("comment", "同意发布"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = page(&format!("/console/resources/{code}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("已发布") && html.contains("同意发布"));

    // The console's catalog search finds it, with facet links.
    let html = page("/console/catalog?q=%E6%B5%81%E5%8A%A8%E4%BA%BA%E5%8F%A3")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&code) && html.contains("1 条结果"), "{html}");
    assert!(
        html.contains("share_type=unconditional"),
        "facet values link to a filter"
    );
    let html =
        page("/console/catalog?q=%E6%B5%81%E5%8A%A8%E4%BA%BA%E5%8F%A3&share_type=conditional")
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    assert!(html.contains("0 条结果"));

    // A share demand from the console.
    let res = client
        .post(app.url("/console/demands"))
        .header("cookie", &session)
        .form(&[
            ("csrf", csrf.as_str()),
            ("title", "不动产登记信息"),
            ("items", "权利人，坐落"),
            ("reason", "户籍迁移核验"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let demand_page = res.headers()["location"].to_str().unwrap().to_owned();
    let html = page(&demand_page).await.unwrap().text().await.unwrap();
    assert!(html.contains("不动产登记信息") && html.contains("权利人、坐落"));
}

async fn the_provider_reads_a_batch_quality_report_in_the_console(app: &TestApp) {
    let cast = app.cast().await;
    let code = app.population_resource(&cast, "unconditional").await;
    app.post_csv(
        &format!("/api/v1/resources/{code}/batches"),
        &cast.provider,
        population_csv(10),
    )
    .await;
    // The second batch: one impossible date (rejected), the rest as before.
    let broken = population_csv(10).replacen("1980-01-01", "1980-02-30", 2);
    let res = app
        .post_csv(
            &format!("/api/v1/resources/{code}/batches"),
            &cast.provider,
            broken,
        )
        .await;
    let report: serde_json::Value = res.json().await.unwrap();
    let batch = report["batch_id"].as_str().unwrap().to_owned();

    let (client, session, _) = console_session(app, "gaj_officer").await;
    let page = |path: String| {
        let req = client.get(app.url(&path)).header("cookie", &session);
        async move { req.send().await.unwrap() }
    };
    let detail = page(format!("/console/resources/{code}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        detail.contains(&format!("/console/resources/{code}/batches")),
        "a link to the batches"
    );
    let list = page(format!("/console/resources/{code}/batches"))
        .await
        .text()
        .await
        .unwrap();
    assert!(list.contains(&batch) && list.contains("已入库"), "{list}");
    let res = page(format!("/console/resources/{code}/batches/{batch}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    for expected in [
        "质量报告",
        "与上一批次相比",
        "type:birth_date",
        "no such date 19800230",
        // Rows are named by their line in the file: the first data row is line 2.
        "<tr><td>2</td><td>510104198001010006</td>",
        &format!("/batches/{batch}/failures?format=xlsx"),
    ] {
        assert!(
            html.contains(expected),
            "the report shows {expected}: {html}"
        );
    }
    let english = page(format!("/console/resources/{code}/batches/{batch}?lang=en"))
        .await
        .text()
        .await
        .unwrap();
    assert!(english.contains("Quality report") && english.contains("Since the previous batch"));
    // Another department sees neither list nor report.
    let (other, other_session, _) = console_session(app, "rsj_officer").await;
    let res = other
        .get(app.url(&format!("/console/resources/{code}/batches/{batch}")))
        .header("cookie", &other_session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}
