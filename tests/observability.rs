//! Health, readiness, metrics and the public outage page.

mod support;

use serde_json::json;
use support::app::{TestApp, Town};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_and_outage_page() {
    let app = TestApp::spawn().await;
    app.import_town(&Town).await;
    let get = |path: &str| app.http.get(app.url(path)).send();
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    assert_eq!(get("/readyz").await.unwrap().status(), 200);

    let mut body = app.water_outage(Town::rect(0, 1, 0, 0));
    body["cause"] = json!("<script>alert(1)</script> main burst");
    body["message"] =
        json!({"hu": "Lajtos kocsi a Fő téren.", "en": "A water tanker is on the main square."});
    let v = app.declare(&body).await;
    let reference = v["reference"].as_str().unwrap().to_string();
    app.drain().await;

    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    for needle in [
        "herald_deliveries{channel=\"email\",state=\"sent\"} 2",
        "herald_queue_depth{channel=\"sms\"} 0",
        "herald_geo_lookup_seconds_bucket",
        "herald_http_request_duration_seconds_bucket",
        "herald_delivery_attempts_total",
        // What the in-memory structures hold.
        "herald_memory_bytes{part=\"geo_index\"}",
        "herald_memory_bytes{part=\"address_book\"}",
        "herald_memory_bytes{part=\"caller_map\"}",
        "herald_memory_bytes{part=\"contact_counts\"}",
        "herald_memory_bytes{part=\"search_index\"}",
        "herald_memory_bytes{part=\"page_cache\"}",
        "herald_memory_bytes{part=\"ivr_cache\"}",
    ] {
        assert!(
            metrics.contains(needle),
            "{needle} missing from:\n{metrics}"
        );
    }

    // The outage page, in the language asked for, with the dispatcher's text escaped.
    let page = app
        .http
        .get(app.url(&format!("/o/{}", reference.to_lowercase())))
        .header("Accept-Language", "hu-HU,hu;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<html lang=\"hu\">"));
    assert!(
        html.contains("Vízhiány") && html.contains(&reference),
        "{html}"
    );
    assert!(html.contains("Lajtos kocsi"));
    assert!(!html.contains("<script>alert"), "cause must be escaped");
    assert!(
        html.contains("alert(1)") && (html.contains("&lt;script") || html.contains("&#60;script"))
    );
    let en = get(&format!("/o/{reference}?lang=en"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(en.contains("Water outage") && en.contains("water tanker"));
    assert_eq!(get("/o/WA-0000-0").await.unwrap().status(), 404);
    // E-mail HTML escapes it too.
    let mail = app.smtp.messages_to(&Town::email(0)).remove(0);
    assert!(!mail.html_body().contains("<script>"));
}
