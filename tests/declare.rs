//! Declaring an outage from the console without JavaScript's help (the map
//! script only fills the same form; tests/browser.rs drives it in Chromium):
//! the map page and its layers, the live preview against the API's, the
//! review of every message, the undo window, and bad input. On both databases.

mod support;

use std::time::Duration;

use herald::auth::Role;
use serde_json::{json, Value};
use support::app::Town;
use support::console::{app, hidden, operator, Browser, PASSWORD};

/// The form's fields for a water outage over `area`, as the page sends them.
fn form<'a>(csrf: &'a str, area: &'a str, cause: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("utility", "water"),
        ("kind", "unplanned"),
        ("starts_at_local", ""),
        ("cause", cause),
        ("etr_local", "2026-11-23T15:30"),
        ("message_hu", ""),
        ("message_pl", ""),
        ("message_en", "A water tanker stands at the church."),
        ("area", area),
    ]
}

#[tokio::test]
async fn the_map_page_its_layers_and_the_live_preview_match_the_api() {
    let app = app().await;
    operator(&app, "dan", Role::Dispatcher).await;
    operator(&app, "vera", Role::Viewer).await;
    let open = app.declare(&app.water_outage(Town::rect(8, 9, 8, 9))).await;

    let mut viewer = Browser::new(&app);
    viewer.sign_in("vera", PASSWORD).await;
    assert_eq!(viewer.get("/console/new").await.status, 403);
    assert!(!viewer.get("/console").await.text.contains("/console/new"));

    let mut b = Browser::from(&app, "203.0.113.20");
    assert_eq!(b.sign_in("dan", PASSWORD).await.status, 303);
    let home = b.get("/console").await;
    assert!(home.text.contains("href=\"/console/new\""), "{}", home.text);
    let page = b.get("/console/new").await;
    assert_eq!(page.status, 200, "{}", page.text);
    for needle in [
        "id=\"map\"",
        "data-view=\"19,47,19.009,47.009\"",
        "/static/vendor/leaflet/leaflet.js",
        "/static/vendor/geoman/leaflet-geoman.js",
        "/static/console-map.js",
        "name=\"area\"",
        "id=\"area-file\"",
    ] {
        assert!(page.text.contains(needle), "{needle} not in {}", page.text);
    }
    let csrf = hidden(&page.text, "csrf");
    // The vendored libraries and their licences come from Herald itself.
    for (path, kind) in [
        ("/static/vendor/leaflet/leaflet.js", "text/javascript"),
        ("/static/vendor/leaflet/leaflet.css", "text/css"),
        ("/static/vendor/leaflet/images/layers.png", "image/png"),
        ("/static/vendor/geoman/leaflet-geoman.js", "text/javascript"),
        ("/static/vendor/geoman/THIRD-PARTY-LICENSES", "text/plain"),
        ("/static/vendor/leaflet/LICENSE", "text/plain"),
    ] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind),
            "{path}"
        );
    }
    assert_eq!(
        app.http
            .get(app.url("/static/nope.js"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // Layers: every point of the small town, the settlement, the open outage.
    let points: Value = serde_json::from_str(
        &b.get("/console/map/points?bbox=18.99,46.99,19.02,47.02&zoom=15")
            .await
            .text,
    )
    .unwrap();
    assert_eq!(points["kind"], "points");
    assert_eq!(points["items"].as_array().unwrap().len(), 100);
    let bad = b.get("/console/map/points?bbox=19,47,18").await;
    assert_eq!(bad.status, 400);
    assert!(bad.text.contains("bbox"), "{}", bad.text);
    let labels: Value = serde_json::from_str(&b.get("/console/map/labels").await.text).unwrap();
    assert_eq!(labels[0]["name"], "Budapest");
    assert_eq!(labels[0]["addresses"], 100);
    let areas: Value = serde_json::from_str(&b.get("/console/map/outages").await.text).unwrap();
    assert_eq!(areas["features"].as_array().unwrap().len(), 1);
    assert_eq!(
        areas["features"][0]["properties"]["reference"],
        open["reference"]
    );
    // Without a session the layers are not public (addresses are personal data
    // once tied to contacts; the map is for operators).
    assert_eq!(
        Browser::new(&app)
            .get("/console/map/points?bbox=0,0,1,1")
            .await
            .status,
        303
    );

    // The live preview, as the map asks it: the same counts as the API's.
    let area = Town::rect(0, 4, 0, 1);
    let (status, live) = b
        .api_json(
            "/console/new/preview",
            &json!({"utility": "water", "area": area.to_string()}),
            Some(&csrf),
        )
        .await;
    assert_eq!(status, 200, "{live}");
    let mut body = app.water_outage(area.clone());
    body["cause"] = json!("Main burst");
    let (_, api) = app.post_json("/api/v1/outages/preview", &body).await;
    assert_eq!(live["affected_addresses"], api["affected_addresses"]);
    assert_eq!(live["contacts"], api["contacts"]);
    assert_eq!(live["affected_addresses"], 10);
    assert_eq!(live["contacts"], json!({"email": 10, "sms": 6}));
    assert_eq!(
        (live["settlements"].as_i64(), live["streets"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(live["warnings"], json!([]));
    // Counted from memory, and current: an opt-out (through the unsubscribe
    // link) is one contact fewer at once, in both previews.
    let token = app.unsubscribe_token(&Town::phone(2)).await;
    app.one_click_unsubscribe(&app.url(&format!("/unsubscribe/{token}")))
        .await;
    let (_, live) = b
        .api_json(
            "/console/new/preview",
            &json!({"utility": "water", "area": area}),
            Some(&csrf),
        )
        .await;
    let (_, api) = app.post_json("/api/v1/outages/preview", &body).await;
    assert_eq!(live["contacts"], json!({"email": 10, "sms": 5}));
    assert_eq!(api["contacts"], live["contacts"]);
    // Empty, too large, not GeoJSON, no CSRF token.
    let far = json!({"type": "Polygon", "coordinates": [[[20.0, 48.0], [20.01, 48.0], [20.01, 48.01], [20.0, 48.0]]]});
    let (_, empty) = b
        .api_json(
            "/console/new/preview",
            &json!({"utility": "water", "area": far}),
            Some(&csrf),
        )
        .await;
    assert_eq!(empty["warnings"], json!(["empty"]));
    let (status, e) = b
        .api_json(
            "/console/new/preview",
            &json!({"area": "{not json"}),
            Some(&csrf),
        )
        .await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (422, Some("area")),
        "{e}"
    );
    let (status, _) = b
        .api_json("/console/new/preview", &json!({"area": area}), None)
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_dispatcher_reviews_sends_and_can_undo_before_anyone_is_told() {
    let app = app().await;
    operator(&app, "dan", Role::Dispatcher).await;
    let mut b = Browser::from(&app, "203.0.113.21");
    b.sign_in("dan", PASSWORD).await;
    let csrf = hidden(&b.get("/console/new").await.text, "csrf");
    let area = Town::rect(0, 1, 0, 0).to_string();

    // A form that does not check out comes back with the error and what was typed.
    let back = b
        .post_form("/console/new/review", &form(&csrf, &area, ""))
        .await;
    assert_eq!(back.status, 422, "{}", back.text);
    assert!(
        back.text.contains("cause: must not be empty"),
        "{}",
        back.text
    );
    assert!(back.text.contains("A water tanker stands at the church."));
    let bad_time = b
        .post_form(
            "/console/new/review",
            &form(&csrf, &area, "Burst")
                .into_iter()
                .map(|(k, v)| {
                    if k == "etr_local" {
                        (k, "tomorrow")
                    } else {
                        (k, v)
                    }
                })
                .collect::<Vec<_>>(),
        )
        .await;
    assert_eq!(bad_time.status, 422);
    assert!(bad_time.text.contains("etr_local"), "{}", bad_time.text);
    assert_eq!(
        b.post_form("/console/new/review", &form("wrong", &area, "Burst"))
            .await
            .status,
        403
    );

    // The review: what it reaches and every message, in every language.
    let review = b
        .post_form("/console/new/review", &form(&csrf, &area, "Main burst"))
        .await;
    assert_eq!(review.status, 200, "{}", review.text);
    for needle in [
        "2 addresses.",
        "Sends to 2 e-mail addresses",
        "and 1 phone numbers.",
        "A water tanker stands at the church.",
        "SMS</h3>",
        "1 SMS",
        "wait 10 seconds",
    ] {
        assert!(
            review.text.contains(needle),
            "{needle} not in {}",
            review.text
        );
    }
    assert_eq!(review.text.matches("class=\"card sample\"").count(), 3);
    assert!(app.smtp.messages().is_empty() && app.sms.messages().is_empty());

    // Sent: the outage exists, its messages wait out the undo window.
    let fields = form(&csrf, &area, "Main burst");
    let sent = b.post_form("/console/new/apply", &fields).await;
    assert_eq!(sent.status, 303, "{}", sent.text);
    let location = sent.location.unwrap();
    let reference = location
        .strip_prefix("/console/o/")
        .and_then(|l| l.strip_suffix("?declared=1"))
        .unwrap()
        .to_string();
    let page = b.get(&location).await;
    assert!(page.text.contains("Undo: send nothing"), "{}", page.text);
    assert!(
        page.text.contains("start going out at 09:00:10"),
        "{}",
        page.text
    );
    let r = app.drain().await;
    assert_eq!(r.email.total() + r.sms.total(), 0, "{r:?}");
    let live: Value =
        serde_json::from_str(&b.get(&format!("/console/o/{reference}/live")).await.text).unwrap();
    assert_eq!(live["undo"], true);

    // Undone: nobody is ever told, not even that it was called off.
    let undone = b
        .post_form(&format!("/console/o/{reference}/undo"), &[("csrf", &csrf)])
        .await;
    assert_eq!(undone.status, 303);
    app.advance_and_drain(Duration::from_secs(60)).await;
    assert!(app.smtp.messages().is_empty(), "{:?}", app.smtp.messages());
    assert!(app.sms.messages().is_empty());
    let (_, list) = app
        .get_json(&format!("/api/v1/outages?reference={reference}"))
        .await;
    assert_eq!(list["outages"][0]["status"], "cancelled");
    let (_, log) = app.get_json("/api/v1/audit").await;
    let actions: Vec<(&str, &str)> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["subject"] == reference.as_str())
        .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert!(actions.iter().all(|(_, who)| *who == "dan"), "{actions:?}");

    // Sent again and left alone: after the window the messages go, and undo
    // is refused.
    let sent = b.post_form("/console/new/apply", &fields).await;
    let location = sent.location.unwrap();
    let reference = location
        .strip_prefix("/console/o/")
        .and_then(|l| l.strip_suffix("?declared=1"))
        .unwrap()
        .to_string();
    let r = app.advance_and_drain(Duration::from_secs(11)).await;
    assert_eq!((r.email.sent, r.sms.sent), (2, 1), "{r:?}");
    let live: Value =
        serde_json::from_str(&b.get(&format!("/console/o/{reference}/live")).await.text).unwrap();
    assert_eq!(live["undo"], false);
    let late = b
        .post_form(&format!("/console/o/{reference}/undo"), &[("csrf", &csrf)])
        .await;
    assert_eq!(late.status, 409, "{}", late.text);
    assert!(!b.get(&location).await.text.contains("Undo: send nothing"));
}

/// An outage's area is redrawn on the same map, and the change reviewed: the
/// addresses before and after, who the added part reaches; then sent.
#[tokio::test]
async fn a_dispatcher_redraws_the_area_and_reviews_who_it_adds() {
    let app = app().await;
    operator(&app, "dan", Role::Dispatcher).await;
    let outage = app.declare(&app.water_outage(Town::rect(0, 1, 0, 0))).await;
    let (id, reference) = (
        outage["id"].as_i64().unwrap(),
        outage["reference"].as_str().unwrap(),
    );
    app.drain().await;
    let mut b = Browser::new(&app);
    b.sign_in("dan", PASSWORD).await;
    let outage_page = b.get(&format!("/console/o/{reference}")).await;
    assert!(outage_page
        .text
        .contains(&format!("/console/o/{reference}/area")));
    let page = b.get(&format!("/console/o/{reference}/area")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains("id=\"map\"") && page.text.contains("MultiPolygon"),
        "{}",
        page.text
    );
    assert!(page.text.contains("name=\"change\" value=\"area\""));
    let csrf = hidden(&page.text, "csrf");

    // T0..T2: one address added (T2, with an e-mail and an SMS contact).
    let area = Town::rect(0, 2, 0, 0).to_string();
    let form = [
        ("csrf", csrf.as_str()),
        ("change", "area"),
        ("area", area.as_str()),
    ];
    let review = b
        .post_form(&format!("/console/o/{reference}/review"), &form)
        .await;
    assert_eq!(review.status, 200, "{}", review.text);
    assert!(
        review
            .text
            .contains("Area: 2 → 3 addresses (1 added, 0 left out)."),
        "{}",
        review.text
    );
    assert!(
        review
            .text
            .contains("1 e-mail addresses and 1 phone numbers are told"),
        "{}",
        review.text
    );
    let bad = [
        ("csrf", csrf.as_str()),
        ("change", "area"),
        ("area", "{\"type\": \"Polygon\"}"),
    ];
    let refused = b
        .post_form(&format!("/console/o/{reference}/review"), &bad)
        .await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(refused.text.contains("area"), "{}", refused.text);

    let revision = hidden(&review.text, "revision");
    let mut confirm = form.to_vec();
    confirm.push(("revision", revision.as_str()));
    let done = b
        .post_form(&format!("/console/o/{reference}/apply"), &confirm)
        .await;
    assert_eq!(done.status, 303, "{}", done.text);
    let (_, v) = app.get_json(&format!("/api/v1/outages/{id}")).await;
    assert_eq!(
        (v["revision"].as_i64(), v["affected_addresses"].as_i64()),
        (Some(2), Some(3))
    );
    app.drain().await;
    assert_eq!(
        app.smtp.messages_to(&Town::email(2)).len(),
        1,
        "T2 is told of it"
    );
}
