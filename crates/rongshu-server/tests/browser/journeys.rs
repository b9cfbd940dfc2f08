//! The journeys: search in Chinese and narrow by a facet, open a dataset and
//! read its preview, download a CSV through the browser, switch to English,
//! and ask for data with the public form.

use fantoccini::Locator;
use fantoccini::key::Key;

use crate::harness::journey;
use crate::portal_fixture::{PEOPLE, PEOPLE_TITLE, TRANSPORT, TRANSPORT_TITLE, open_portal};
use crate::support::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_in_chinese_narrow_by_a_facet_and_open_a_dataset() {
    let app = TestApp::sqlite().await;
    open_portal(&app).await;
    let site = &app;
    journey("search_and_facet", move |b| async move {
        b.goto(&site.url("/")).await;
        let search = b.element("input#q").await;
        search.send_keys("客运").await.unwrap();
        search.send_keys(&Key::Enter.to_string()).await.unwrap();
        b.text_until("#total", |t| t == "1").await;
        let results = b.text("ol.results").await;
        assert!(
            results.contains(TRANSPORT_TITLE) && !results.contains(PEOPLE_TITLE),
            "{results}"
        );

        // All datasets, then one topic by its facet link, then back.
        b.goto(&site.url("/datasets")).await;
        b.text_until("#total", |t| t == "2").await;
        b.click_text("ul[data-facet=topic] a", "交通服务").await;
        b.text_until("#total", |t| t == "1").await;
        assert!(b.text(".chips").await.contains("交通服务"));
        assert!(b.text("ol.results").await.contains(TRANSPORT_TITLE));
        b.element(".active-filter").await.click().await.unwrap();
        b.text_until("#total", |t| t == "2").await;

        // The dataset: its preview and its chart.
        b.click_text("ol.results h3 a", TRANSPORT_TITLE).await;
        let preview = b.text("#preview-table").await;
        assert!(
            preview.contains("锦江区") && preview.contains("2024-01"),
            "{preview}"
        );
        b.element("svg.chart").await;
        assert_eq!(b.text("h1").await, TRANSPORT_TITLE);
        let url = b.client.current_url().await.unwrap();
        assert_eq!(url.path(), format!("/datasets/{TRANSPORT}"));
    })
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_is_masked_and_a_csv_downloads_through_the_browser() {
    let app = TestApp::sqlite().await;
    open_portal(&app).await;
    let site = &app;
    journey("preview_and_download", move |b| async move {
        b.goto(&site.url(&format!("/datasets/{PEOPLE}"))).await;
        let preview = b.text("#preview-table").await;
        assert!(preview.contains("张*"), "names masked: {preview}");
        assert!(
            !preview.contains("张零") && !preview.contains("5101"),
            "{preview}"
        );
        assert!(
            !b.text("#preview-table thead")
                .await
                .contains("公民身份号码")
        );
        assert_eq!(b.text("#views").await, "1");

        b.element(&format!(
            "a[href='/api/v1/releases/{PEOPLE}/download?format=csv']"
        ))
        .await
        .click()
        .await
        .unwrap();
        let csv = String::from_utf8(b.downloaded(&format!("{PEOPLE}.csv")).await).unwrap();
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some("name,district,children"));
        assert_eq!(lines.count(), 30, "every released row");
        assert!(
            csv.contains("张*,锦江区,") && !csv.contains("510104"),
            "{csv}"
        );

        // The download is counted on the page.
        b.client.refresh().await.unwrap();
        b.text_until("#download-total", |t| t == "1").await;
    })
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switch_to_english_and_ask_for_data() {
    let app = TestApp::sqlite().await;
    open_portal(&app).await;
    let site = &app;
    journey("english_and_request", move |b| async move {
        b.goto(&site.url("/")).await;
        // Keyboard first: the first Tab reaches the skip link.
        b.element("body")
            .await
            .send_keys(&Key::Tab.to_string())
            .await
            .unwrap();
        let focused = b.client.active_element().await.unwrap();
        assert_eq!(
            focused.attr("class").await.unwrap().as_deref(),
            Some("skip")
        );

        b.element("#lang-switch").await.click().await.unwrap();
        b.text_until("h1", |t| t == "Open data portal").await;
        let lang = b.element("html").await.attr("lang").await.unwrap();
        assert_eq!(lang.as_deref(), Some("en"));
        b.click_text("header nav a", "Data requests").await;
        b.text_until("h1", |t| t == "Data requests").await;

        // Sent empty: the errors are said, in English.
        b.element("form.request button[type=submit]")
            .await
            .click()
            .await
            .unwrap();
        let errors = b.text("#error-summary").await;
        assert!(errors.contains("Give a title"), "{errors}");
        let title = b.element("#title").await;
        assert_eq!(
            title.attr("aria-invalid").await.unwrap().as_deref(),
            Some("true")
        );

        title.send_keys("Bus stops and timetables").await.unwrap();
        b.element("#description")
            .await
            .send_keys("Every line's stops, first and last bus.")
            .await
            .unwrap();
        b.element("#department")
            .await
            .select_by_value("gaj")
            .await
            .unwrap();
        b.element("#organisation")
            .await
            .send_keys("A transit app")
            .await
            .unwrap();
        b.element("form.request button[type=submit]")
            .await
            .click()
            .await
            .unwrap();
        let notice = b.text("#notice").await;
        assert!(notice.contains("submitted"), "{notice}");
        let listed = b.text("#requests").await;
        assert!(
            listed.contains("Bus stops and timetables") && listed.contains("A transit app"),
            "{listed}"
        );
        assert!(listed.contains("with the department"), "{listed}");
        // Still English after the round trip, remembered by the cookie.
        let html_lang = b
            .client
            .find(Locator::Css("html"))
            .await
            .unwrap()
            .attr("lang")
            .await
            .unwrap();
        assert_eq!(html_lang.as_deref(), Some("en"));
    })
    .await;
    app.stop().await;
}
