//! Residents' "no supply at my address" reports: made from the status page's
//! search results, answered with whether a known outage covers the address,
//! limited per client and address, and shown on the console's map (outside
//! every outage of their service, or not). On both databases.

mod support;

use herald::auth::Role;
use serde_json::Value;
use support::app::{TestApp, Town};
use support::console::{hidden, operator, Browser, PASSWORD};

async fn app() -> TestApp {
    let app = TestApp::spawn_with(|c| {
        c.trusted_proxies = vec!["127.0.0.1/32".into()];
        c.reports.per_client_per_hour = 3;
    })
    .await;
    app.import_town(&Town).await;
    app
}

/// The id the search result for "Kossuth Lajos utca {house}" reports with.
async fn address_id(b: &mut Browser, house: usize) -> String {
    let page = b
        .get(&format!("/search?q=Kossuth+Lajos+utca+{house}"))
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("action=\"/report\""), "{}", page.text);
    hidden(&page.text, "address")
}

async fn layer(b: &mut Browser) -> Vec<Value> {
    let page = b.get("/console/map/reports").await;
    assert_eq!(page.status, 200, "{}", page.text);
    let v: Value = serde_json::from_str(&page.text).unwrap();
    v["features"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_resident_reports_no_supply_and_the_dispatcher_sees_it_on_the_map() {
    let app = app().await;
    operator(&app, "dan", Role::Dispatcher).await;
    let mut resident = Browser::from(&app, "203.0.113.70");

    // T5 (house 6) is in no outage: the report is news.
    let t5 = address_id(&mut resident, 6).await;
    let answer = resident
        .post_form(
            "/report",
            &[("address", &t5), ("utility", "water"), ("lang", "en")],
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(
        answer.text.contains("We knew of no outage there yet"),
        "{}",
        answer.text
    );

    // T0 (house 1) is in a water outage: the answer names it.
    let outage = app.declare(&app.water_outage(Town::rect(0, 1, 0, 0))).await;
    let reference = outage["reference"].as_str().unwrap();
    let t0 = address_id(&mut resident, 1).await;
    let answer = resident
        .post_form(
            "/report",
            &[("address", &t0), ("utility", "water"), ("lang", "en")],
        )
        .await;
    assert_eq!(answer.status, 200);
    assert!(
        answer.text.contains(&format!("outage {reference} covers")),
        "{}",
        answer.text
    );
    // The same address and service again within the hour: answered, not stored.
    let again = resident
        .post_form(
            "/report",
            &[("address", &t0), ("utility", "water"), ("lang", "en")],
        )
        .await;
    assert_eq!(again.status, 200);

    // On the map: two reports, T5 outside every water outage, T0 inside.
    let mut dispatcher = Browser::from(&app, "203.0.113.71");
    assert_eq!(
        Browser::new(&app).get("/console/map/reports").await.status,
        303
    );
    dispatcher.sign_in("dan", PASSWORD).await;
    let features = layer(&mut dispatcher).await;
    assert_eq!(features.len(), 2, "{features:?}");
    let covered: Vec<bool> = features
        .iter()
        .map(|f| f["properties"]["covered"].as_bool().unwrap())
        .collect();
    assert_eq!(
        covered,
        [true, false],
        "newest first: T0 inside, T5 outside"
    );
    assert_eq!(features[1]["geometry"]["coordinates"][0], 19.005);
    let map = dispatcher.get("/console/new").await;
    assert!(map
        .text
        .contains("data-reports-url=\"/console/map/reports\""));

    // A gas report at T0 is outside every gas outage, though a water one covers it.
    let gas = resident
        .post_form(
            "/report",
            &[("address", &t0), ("utility", "gas"), ("lang", "en")],
        )
        .await;
    assert_eq!(gas.status, 200);
    assert!(
        gas.text.contains("We knew of no outage there yet"),
        "{}",
        gas.text
    );

    // The client's fourth report within the hour is refused, saying when to retry.
    let t9 = address_id(&mut resident, 10).await;
    let limited = resident
        .post_form(
            "/report",
            &[("address", &t9), ("utility", "power"), ("lang", "en")],
        )
        .await;
    assert_eq!(limited.status, 429, "{}", limited.text);
    assert!(
        limited.text.contains("Too many reports from here"),
        "{}",
        limited.text
    );
    // Another client is not held by it.
    let other = Browser::from(&app, "198.51.100.9")
        .post_form(
            "/report",
            &[("address", &t9), ("utility", "power"), ("lang", "en")],
        )
        .await;
    assert_eq!(other.status, 200, "{}", other.text);
    assert_eq!(layer(&mut dispatcher).await.len(), 4);
}

#[tokio::test]
async fn bad_reports_get_a_4xx_naming_the_field_and_store_nothing() {
    let app = app().await;
    let mut b = Browser::from(&app, "203.0.113.80");
    let t0 = address_id(&mut b, 1).await;
    for (form, field) in [
        (vec![("utility", "water")], "address"),
        (vec![("address", t0.as_str())], "utility"),
        (vec![("address", "999999"), ("utility", "water")], "address"),
        (vec![("address", "x"), ("utility", "water")], "address"),
        (
            vec![("address", t0.as_str()), ("utility", "lava")],
            "utility",
        ),
    ] {
        let r = b.post_form("/report", &form).await;
        assert!(
            (400..500).contains(&r.status),
            "{form:?}: {} {}",
            r.status,
            r.text
        );
        assert!(r.text.contains(field), "{form:?}: {}", r.text);
    }
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM reports")
        .fetch_one(&mut app.db().await)
        .await
        .unwrap();
    assert_eq!(stored, 0);
}

/// A report just outside an outage of its service: the outage page offers to
/// extend the area over it, through the area change's review.
#[tokio::test]
async fn the_dispatcher_extends_the_area_over_reports_just_outside_it() {
    let app = app().await;
    operator(&app, "dan", Role::Dispatcher).await;
    let outage = app.declare(&app.water_outage(Town::rect(0, 1, 0, 0))).await;
    let (id, reference) = (
        outage["id"].as_i64().unwrap(),
        outage["reference"].as_str().unwrap(),
    );
    app.drain().await;
    let mut resident = Browser::from(&app, "203.0.113.90");
    let t2 = address_id(&mut resident, 3).await;
    for utility in ["water", "gas"] {
        let r = resident
            .post_form(
                "/report",
                &[("address", &t2), ("utility", utility), ("lang", "en")],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    let mut b = Browser::from(&app, "203.0.113.91");
    b.sign_in("dan", PASSWORD).await;
    let page = b.get(&format!("/console/o/{reference}")).await;
    // The gas report is no water outage's business.
    assert!(
        page.text
            .contains("Extend the area over the 1 reports of no supply just outside it"),
        "{}",
        page.text
    );
    let csrf = hidden(&page.text, "csrf");
    let review = b
        .post_form(
            &format!("/console/o/{reference}/extend"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(review.status, 200, "{}", review.text);
    assert!(
        review
            .text
            .contains("Area: 2 → 3 addresses (1 added, 0 left out)."),
        "{}",
        review.text
    );
    let area = hidden(&review.text, "area")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"");
    let revision = hidden(&review.text, "revision");
    let done = b
        .post_form(
            &format!("/console/o/{reference}/apply"),
            &[
                ("csrf", csrf.as_str()),
                ("change", "area"),
                ("area", area.as_str()),
                ("revision", revision.as_str()),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.text);
    let (_, v) = app.get_json(&format!("/api/v1/outages/{id}")).await;
    assert_eq!(v["affected_addresses"], 3, "{v}");
    app.drain().await;
    assert_eq!(
        app.smtp.messages_to(&Town::email(2)).len(),
        1,
        "T2 is told of it"
    );
    // Covered now: nothing left to extend over.
    let page = b.get(&format!("/console/o/{reference}")).await;
    assert!(!page.text.contains("/extend"), "{}", page.text);
}

#[tokio::test]
async fn a_report_within_a_day_after_the_restore_says_the_supply_is_still_out() {
    let app = app().await;
    let outage = app.declare(&app.water_outage(Town::rect(0, 1, 0, 0))).await;
    let (id, reference) = (
        outage["id"].as_i64().unwrap(),
        outage["reference"].as_str().unwrap().to_string(),
    );
    let (s, v) = app
        .post_json(
            &format!("/api/v1/outages/{id}/restore"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    app.drain().await;
    app.advance(std::time::Duration::from_secs(2 * 3600));
    app.state().published.touch();
    let mut resident = Browser::from(&app, "203.0.113.80");
    let t0 = address_id(&mut resident, 1).await;
    let answer = resident
        .post_form(
            "/report",
            &[("address", &t0), ("utility", "water"), ("lang", "en")],
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(
        answer
            .text
            .contains(&format!("outage {reference} was restored")),
        "{}",
        answer.text
    );
    let (_, detail) = app.get_json(&format!("/api/v1/outages/{id}")).await;
    assert_eq!(detail["reports"]["still_out"], 1, "{detail}");
    // Another service there is not about that outage.
    let gas = resident
        .post_form(
            "/report",
            &[("address", &t0), ("utility", "gas"), ("lang", "en")],
        )
        .await;
    assert!(gas.text.contains("We knew of no outage there yet"));
    let (_, detail) = app.get_json(&format!("/api/v1/outages/{id}")).await;
    assert_eq!(detail["reports"]["still_out"], 1, "{detail}");
}
