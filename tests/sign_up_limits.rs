//! The public sign-up form cannot be turned into an SMS pump or a way to flood
//! somebody (issue 10, item 2): SMS only to the configured countries, limits
//! per client address (from `X-Forwarded-For` only behind a trusted proxy),
//! per destination however spelled, a global hourly budget of confirmation
//! SMS, and confirmations in lanes of their own that never delay an alert.

mod support;

use std::time::Duration;

use sqlx::Row;
use support::app::{TestApp, Town};

struct SignUp<'a> {
    app: &'a TestApp,
    address: String,
}

impl<'a> SignUp<'a> {
    async fn new(app: &'a TestApp) -> SignUp<'a> {
        app.import_town(&Town).await;
        let address: i64 = sqlx::query("SELECT id FROM addresses WHERE external_id = 'T3'")
            .fetch_one(&mut app.db().await)
            .await
            .unwrap()
            .get(0);
        SignUp {
            app,
            address: address.to_string(),
        }
    }

    /// Posts the form as `client` (an `X-Forwarded-For` value, if any).
    async fn post(
        &self,
        channel: &str,
        destination: &str,
        client: Option<&str>,
    ) -> (u16, Option<u64>, String) {
        let mut r = self.app.http.post(self.app.url("/subscribe")).form(&[
            ("address", self.address.as_str()),
            ("channel", channel),
            ("destination", destination),
            ("language", "en"),
            ("ui", "en"),
        ]);
        if let Some(c) = client {
            r = r.header("X-Forwarded-For", c);
        }
        let r = r.send().await.unwrap();
        let retry_after = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().parse().unwrap());
        (r.status().as_u16(), retry_after, r.text().await.unwrap())
    }
}

async fn subscriptions(app: &TestApp) -> i64 {
    sqlx::query("SELECT COUNT(*) FROM subscriptions")
        .fetch_one(&mut app.db().await)
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_only_to_the_configured_countries() {
    let app = TestApp::spawn_with(|c| c.subscribe.countries = vec!["HU".into(), "pl".into()]).await;
    let form = SignUp::new(&app).await;
    for number in ["+44 7400 123456", "+1 650 253 0000", "+49 1512 3456789"] {
        let (status, _, html) = form.post("sms", number, None).await;
        assert_eq!(status, 422, "{number}");
        assert!(
            html.contains("only to numbers in: HU, PL"),
            "the destination field says why: {html}"
        );
    }
    assert_eq!(
        subscriptions(&app).await,
        0,
        "nothing recorded, nothing sent"
    );
    for number in ["+36 30 555 0001", "+48 512 345 678"] {
        assert_eq!(form.post("sms", number, None).await.0, 200, "{number}");
    }
    // E-mail has no country.
    assert_eq!(
        form.post("email", "someone@example.co.uk", None).await.0,
        200
    );
    assert_eq!(app.drain().await.confirmations.sent, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_gets_five_sign_ups_an_hour_whatever_it_claims_to_be() {
    // No trusted proxy: an X-Forwarded-For header from the client is ignored.
    let app = TestApp::spawn().await;
    let form = SignUp::new(&app).await;
    let mut accepted = 0;
    let mut refused = Vec::new();
    for i in 0..50 {
        let spoof = format!("203.0.113.{i}");
        let (status, retry_after, html) = form
            .post("sms", &format!("+36 30 555 {i:04}"), Some(&spoof))
            .await;
        match status {
            200 => accepted += 1,
            429 => {
                assert!(
                    html.contains("Too many sign-ups have come from your network"),
                    "{html}"
                );
                refused.push(retry_after.expect("Retry-After"));
            }
            other => panic!("{other}: {html}"),
        }
    }
    assert_eq!((accepted, refused.len()), (5, 45));
    // The first sign-up leaves the hour's window in an hour.
    assert!(refused.iter().all(|s| *s == 3_600), "{refused:?}");
    let r = app.drain().await;
    assert_eq!(r.confirmations.sent, 5, "{r:?}");
    assert_eq!(app.sms.count(), 5);

    // An hour later the client may sign up again, up to 20 a day.
    let mut total = 5;
    for hour in 1..6 {
        app.advance(Duration::from_secs(3_600));
        for i in 0..6 {
            let n = hour * 100 + i;
            let (status, _, _) = form.post("email", &format!("r{n}@example.org"), None).await;
            if status == 200 {
                total += 1;
            }
        }
    }
    assert_eq!(total, 20, "20 a day");
    app.drain().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_inbox_however_spelled_gets_three_a_day() {
    let app = TestApp::spawn_with(|c| c.trusted_proxies = vec!["127.0.0.1".into()]).await;
    let form = SignUp::new(&app).await;
    for (i, spelling) in ["Victim@x.org", "vIctim@X.ORG", "victim+herald@x.org"]
        .iter()
        .enumerate()
    {
        let client = format!("198.51.100.{i}");
        assert_eq!(form.post("email", spelling, Some(&client)).await.0, 200);
    }
    let (status, retry_after, html) = form
        .post("email", "VICTIM@x.org", Some("198.51.100.99"))
        .await;
    assert_eq!(status, 429, "{html}");
    assert!(
        html.contains("Too many requests for VICTIM@x.org"),
        "{html}"
    );
    assert_eq!(retry_after, Some(86_400));
    assert_eq!(app.drain().await.confirmations.sent, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hours_sms_budget_stops_sms_sign_ups_but_not_email_nor_alerts() {
    let app = TestApp::spawn_with(|c| {
        c.trusted_proxies = vec!["127.0.0.0/8".into()];
        c.subscribe.sms_confirmations_per_hour = 10;
        // Both kinds of SMS under a rate limit: they must not share it.
        c.sms.rate_per_sec = 1_000;
        c.subscribe.confirmations_per_sec = 1_000;
    })
    .await;
    let form = SignUp::new(&app).await;
    // Thirty clients (behind our proxy), one number each.
    let mut statuses = Vec::new();
    for i in 0..30 {
        let client = format!("192.0.2.{i}");
        let (status, retry_after, html) = form
            .post("sms", &format!("+36 30 777 {i:04}"), Some(&client))
            .await;
        if status == 429 {
            assert!(html.contains("or sign up by e-mail"), "{html}");
            assert_eq!(retry_after, Some(3_600));
        }
        statuses.push(status);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 10);
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 20);
    // E-mail sign-ups go on.
    assert_eq!(
        form.post("email", "late@example.org", Some("192.0.2.200"))
            .await
            .0,
        200
    );
    let r = app.drain().await;
    assert_eq!(r.confirmations.sent, 11, "{r:?}");
    let buckets: Vec<String> = sqlx::query("SELECT bucket FROM rate_limits ORDER BY bucket")
        .fetch_all(&mut app.db().await)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        buckets.contains(&"confirm-sms".to_string()) && !buckets.contains(&"sms".to_string()),
        "confirmations took no alert's token: {buckets:?}"
    );

    // An outage now reaches everyone at once.
    let outage = app.declare(&app.water_outage(Town::rect(0, 9, 0, 1))).await;
    let r = app.drain().await;
    let sms_contacts = Town::inside(0, 9, 0, 1)
        .into_iter()
        .filter(|i| Town::has_sms(*i))
        .count();
    assert_eq!(
        (r.sms.sent, r.sms.released),
        (sms_contacts as u64, 0),
        "{r:?}"
    );
    assert!(
        app.delivery_count(outage["id"].as_i64().unwrap(), "sms", "sent")
            .await
            == sms_contacts as i64
    );
}

/// Live workers: the confirmations crawl through their own lane (one a
/// second) while an outage declared in the middle of them is delivered at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_overtake_a_queue_of_confirmations() {
    let app = TestApp::spawn_live(|c| {
        c.trusted_proxies = vec!["127.0.0.1".into()];
        c.subscribe.confirmations_per_sec = 1;
        c.delivery.lease_ms = 60_000;
    })
    .await;
    let form = SignUp::new(&app).await;
    for i in 0..20 {
        let client = format!("192.0.2.{i}");
        let (status, _, html) = form
            .post("sms", &format!("+36 30 888 {i:04}"), Some(&client))
            .await;
        assert_eq!(status, 200, "{html}");
    }
    app.declare(&app.water_outage(Town::rect(0, 9, 0, 0))).await;
    let alerts = Town::inside(0, 9, 0, 0)
        .into_iter()
        .filter(|i| Town::has_sms(*i))
        .map(Town::phone)
        .collect::<Vec<_>>();
    let arrived = || {
        alerts
            .iter()
            .filter(|p| !app.sms.messages_to(p).is_empty())
            .count()
    };
    support::wait_for(
        "alerts",
        app.sms.arrivals(),
        arrived,
        alerts.len(),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let confirmations = app.sms.count() - alerts.len();
    assert!(
        confirmations < 20,
        "the alerts did not wait for the {confirmations} confirmations sent so far"
    );
}
