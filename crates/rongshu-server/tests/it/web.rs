//! The pages: Chinese by default, English on request, and the console's
//! sign-in form with its CSRF check, all without JavaScript.

use reqwest::StatusCode;
use reqwest::redirect::Policy;

use crate::on_both_backends;
use crate::support::{PASSWORD, TestApp, population_csv};

on_both_backends!(
    the_portal_shows_live_counts_in_both_languages,
    the_console_signs_in_with_a_form
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
    assert!(html.contains("蓉数") && html.contains("人口基础信息"));
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
    assert!(html.contains("lang=\"en\"") && html.contains("Government data resources"));
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
