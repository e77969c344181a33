//! Subscribing on the status page: find the address, fill in the form, confirm
//! with the link that arrives by e-mail or SMS (double opt-in), then receive
//! alerts — including the outage already under way when you subscribed.

mod support;

use std::time::Duration;

use support::app::{TestApp, Town};
use support::subscribe::{address_id, post_form, token_in};

async fn contacts_at(app: &TestApp, destination: &str) -> Vec<(String, Option<i64>)> {
    let mut db = app.db().await;
    sqlx::query_as("SELECT language, opted_out_at FROM contacts WHERE destination = $1")
        .bind(destination)
        .fetch_all(&mut db)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_subscription_is_confirmed_by_link_then_alerts_arrive() {
    let app = TestApp::spawn().await;
    app.import_town(&Town).await;
    let id = address_id(&app, 13).await; // T12: column 2, row 1

    // Search results and the outage page lead here.
    let (s, form) = app
        .get_page(&format!("/subscribe?address={id}&lang=en"))
        .await;
    assert_eq!(s, 200);
    assert!(
        form.contains("Kossuth Lajos utca 13, 1111 Budapest"),
        "{form}"
    );
    assert!(form.contains(r#"<label for="destination">"#), "{form}");
    assert!(
        form.contains(r#"<legend>Send alerts by</legend>"#),
        "{form}"
    );

    // Bad input: every problem named at its field, nothing stored.
    let (s, html) = post_form(
        &app,
        "/subscribe",
        &[
            ("address", &id),
            ("channel", "email"),
            ("destination", "not an address"),
            ("language", "xx"),
            ("ui", "en"),
        ],
    )
    .await;
    assert_eq!(s, 422, "{html}");
    assert!(html.contains("Enter an e-mail address such as name@example.com."));
    assert!(html.contains("Choose a language."));
    assert!(html.contains(r#"aria-invalid="true""#));
    assert!(html.contains(r#"value="not an address""#), "input is kept");
    let (s, html) = post_form(
        &app,
        "/subscribe",
        &[
            ("address", "999999"),
            ("channel", "pigeon"),
            ("destination", "x"),
            ("language", "en"),
            ("ui", "en"),
        ],
    )
    .await;
    assert_eq!(s, 422);
    assert!(html.contains("Choose an address from the list."), "{html}");
    assert!(html.contains("Choose e-mail or SMS."), "{html}");

    // A valid request sends a confirmation, and only that.
    let (s, html) = post_form(
        &app,
        "/subscribe",
        &[
            ("address", &id),
            ("channel", "email"),
            ("destination", "  New.Resident@Example.org "),
            ("language", "pl"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains("New.Resident@example.org"), "{html}");
    assert!(
        html.contains(r#"lang="pl""#),
        "answered in the chosen language"
    );
    app.drain().await;
    assert_eq!(app.smtp.count(), 1);
    let mail = &app.smtp.messages_to("New.Resident@example.org")[0];
    assert!(mail.subject().contains("Potwierdź"), "{}", mail.subject());
    assert!(
        mail.header("List-Unsubscribe").is_none(),
        "not an alert: nothing to unsubscribe from yet"
    );
    let token = token_in(&mail.text_body());
    assert!(mail.html_body().contains(&token));
    assert!(contacts_at(&app, "New.Resident@example.org")
        .await
        .is_empty());

    // Opening the link only asks; a scanner following it subscribes nobody.
    let (s, html) = app.get_page(&format!("/subscribe/confirm/{token}")).await;
    assert_eq!(s, 200);
    assert!(html.contains(r#"method="post""#), "{html}");
    assert!(contacts_at(&app, "New.Resident@example.org")
        .await
        .is_empty());
    let (s, html) = post_form(&app, &format!("/subscribe/confirm/{token}"), &[]).await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains("Gotowe"), "{html}");
    assert_eq!(
        contacts_at(&app, "New.Resident@example.org").await,
        vec![("pl".to_string(), None)]
    );
    let (s, html) = post_form(&app, &format!("/subscribe/confirm/{token}"), &[]).await;
    assert_eq!(s, 200);
    assert!(html.contains("już potwierdzony"), "{html}");

    // The next outage there reaches the new contact, in Polish.
    let outage = app.declare(&app.water_outage(Town::rect(2, 2, 1, 1))).await;
    let reference = outage["reference"].as_str().unwrap();
    app.drain().await;
    let alerts = app.smtp.messages_to("New.Resident@example.org");
    assert_eq!(alerts.len(), 2, "confirmation + declaration");
    let alert = alerts
        .iter()
        .find(|m| m.subject().contains(reference))
        .unwrap();
    assert!(alert.text_body().contains("Kossuth Lajos utca 13"));
    assert!(alert.header("List-Unsubscribe").is_some());

    // Unknown links are a clear 404.
    let (s, _) = app.get_page("/subscribe/confirm/0123456789abcdef").await;
    assert_eq!(s, 404);
    let (s, _) = post_form(&app, "/subscribe/confirm/0123456789abcdef", &[]).await;
    assert_eq!(s, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_subscriber_during_an_outage_hears_about_it_at_once() {
    let app = TestApp::spawn().await;
    app.import_town(&Town).await;
    let outage = app.declare(&app.water_outage(Town::rect(3, 3, 0, 0))).await; // T3 only
    let reference = outage["reference"].as_str().unwrap().to_string();
    app.drain().await;
    let before = app.sms.count();

    let id = address_id(&app, 4).await; // T3
    let (s, html) = post_form(
        &app,
        "/subscribe",
        &[
            ("address", &id),
            ("channel", "sms"),
            ("destination", "06 30 555 1234"),
            ("language", "hu"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{html}");
    app.drain().await;
    assert_eq!(app.sms.count(), before + 1);
    let confirmation = &app.sms.messages_to("+36305551234")[0];
    // Hungarian, in one GSM-7 segment where the letters allow (ő → ö).
    assert!(
        confirmation
            .text
            .contains("Kossuth Lajos utca 4, 1111 Budapest"),
        "{}",
        confirmation.text
    );
    let token = token_in(&confirmation.text);

    let (s, html) = post_form(&app, &format!("/subscribe/confirm/{token}"), &[]).await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains("Jelenleg üzemzavar érinti"), "{html}");
    app.drain().await;
    assert_eq!(app.sms.count(), before + 2);
    let alert = &app.sms.messages_to("+36305551234")[1];
    assert!(alert.text.contains(&reference), "{}", alert.text);

    // Restoring tells the new subscriber too: they were told it began.
    let (s, v) = app
        .post_json(
            &format!("/api/v1/outages/{}/restore", outage["id"]),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    app.drain().await;
    assert_eq!(app.sms.messages_to("+36305551234").len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_limits_and_expiry() {
    let app = TestApp::spawn().await;
    app.import_town(&Town).await;
    let id = address_id(&app, 1).await; // T0, contact a0@town.test
    let mut db = app.db().await;

    // A resident who unsubscribed can come back, but only by confirming themselves.
    sqlx::query("UPDATE contacts SET opted_out_at = 1 WHERE destination = 'a0@town.test'")
        .execute(&mut db)
        .await
        .unwrap();
    let form = [
        ("address", id.as_str()),
        ("channel", "email"),
        ("destination", "a0@town.test"),
        ("language", "en"),
    ];
    let (s, _) = post_form(&app, "/subscribe", &form).await;
    assert_eq!(s, 200);
    app.drain().await;
    assert_eq!(app.smtp.count(), 1);
    assert_eq!(contacts_at(&app, "a0@town.test").await[0].1, Some(1));
    let token = token_in(&app.smtp.messages()[0].text_body());
    let (s, _) = post_form(&app, &format!("/subscribe/confirm/{token}"), &[]).await;
    assert_eq!(s, 200);
    assert_eq!(
        contacts_at(&app, "a0@town.test").await,
        vec![("en".to_string(), None)]
    );
    // The ledger has the consent the confirmation gave: the form's version,
    // the link, and where the click came from.
    let (s, v) = app
        .send(
            app.http
                .get(app.url("/api/v1/contacts"))
                .query(&[("destination", "a0@town.test")]),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let contact = v["contacts"][0]["id"].as_i64().unwrap();
    let (s, v) = app
        .get_json(&format!("/api/v1/contacts/{contact}/consent"))
        .await;
    assert_eq!(s, 200, "{v}");
    let last = v["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "given", "{v}");
    assert_eq!(last["method"], "confirmation_link", "{v}");
    assert_eq!(last["detail"], "sign-up form v1", "{v}");
    assert_eq!(last["source"], "127.0.0.1", "{v}");

    // Three requests a day per destination; the fourth is refused without sending.
    for _ in 0..2 {
        let (s, _) = post_form(&app, "/subscribe", &form).await;
        assert_eq!(s, 200);
    }
    let (s, html) = post_form(&app, "/subscribe", &form).await;
    assert_eq!(s, 429, "{html}");
    assert!(
        html.contains("Too many requests for a0@town.test"),
        "{html}"
    );
    let r = app.drain().await;
    assert_eq!(r.confirmations.sent, 2, "{r:?}");
    assert_eq!(app.smtp.count(), 3);

    // A link works for 24 hours, and not after.
    let token = token_in(&app.smtp.messages()[2].text_body());
    app.advance(Duration::from_secs(24 * 3600 - 1));
    let (s, html) = app.get_page(&format!("/subscribe/confirm/{token}")).await;
    assert_eq!(s, 200, "{html}");
    app.advance(Duration::from_secs(2));
    let (s, html) = app.get_page(&format!("/subscribe/confirm/{token}")).await;
    assert_eq!(s, 410);
    assert!(html.contains("expired"), "{html}");
    let (s, _) = post_form(&app, &format!("/subscribe/confirm/{token}"), &[]).await;
    assert_eq!(s, 410);
}
