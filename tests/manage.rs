//! The resident's manage page, opened by the signed link in every alert
//! e-mail and the SMS HELP reply: settings (language, window, services) that
//! the next outage obeys, stopping one address or everything, "export my
//! data" with exactly that person's data, "delete my data" with a tombstone
//! no import gets past, and links that expire and cannot be altered. On both
//! databases, without JavaScript.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::app::{TestApp, Town};
use support::subscribe::post_form;

const SECRET: &str = "kannel-inbound-secret";

async fn app() -> TestApp {
    let app = TestApp::spawn_with(|c| c.sms.inbound_secret = SECRET.into()).await;
    app.import_town(&Town).await;
    app
}

/// Declares a water outage over `rect` and sends it.
async fn alert(app: &TestApp, area: Value) -> i64 {
    let outage = app.declare(&app.water_outage(area)).await;
    app.drain().await;
    outage["id"].as_i64().unwrap()
}

/// The manage link in the newest alert e-mail to `to`, as a path.
fn manage_path(app: &TestApp, to: &str) -> String {
    let mail = app.smtp.messages_to(to).pop().expect("an alert");
    let text = mail.text_body();
    let at = text.find("/manage/").expect("a manage link");
    let path: String = text[at..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    assert!(
        mail.html_body().contains(&path),
        "the HTML part links it too"
    );
    path
}

async fn get(app: &TestApp, path: &str) -> (u16, String, reqwest::header::HeaderMap) {
    let r = app.http.get(app.url(path)).send().await.unwrap();
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    (status, r.text().await.unwrap(), headers)
}

async fn contacts(app: &TestApp, destination: &str) -> Vec<Value> {
    app.contacts_of(destination).await
}

#[tokio::test]
async fn settings_from_the_email_link_are_what_the_next_outage_obeys() {
    let app = app().await;
    alert(&app, Town::rect(2, 2, 0, 0)).await;
    let path = manage_path(&app, &Town::email(2));
    let (s, html, headers) = get(&app, &path).await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains("a2@town.test"), "{html}");
    assert!(
        html.contains("Kossuth Lajos utca 3, 1111 Budapest"),
        "{html}"
    );
    assert!(html.contains(r#"<html lang="en">"#));
    assert!(!html.contains("<script"), "works without JavaScript");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    // ?lang= switches the page, not the settings.
    let (_, hu, _) = get(&app, &format!("{path}?lang=hu")).await;
    assert!(hu.contains("Üzemzavar-értesítései"), "{hu}");

    // A bad window is named at its field, and nothing is saved.
    let (s, html) = post_form(
        &app,
        &path,
        &[("language", "pl"), ("window", "7-21"), ("utility", "power")],
    )
    .await;
    assert_eq!(s, 422, "{html}");
    assert!(html.contains(r##"href="#window""##), "{html}");
    assert!(html.contains(r#"value="7-21""#), "input is kept");
    assert_eq!(contacts(&app, &Town::email(2)).await[0]["language"], "en");

    // Polish, 07:00-21:00, power only.
    let (s, html) = post_form(
        &app,
        &path,
        &[
            ("language", "pl"),
            ("window", "07:00-21:00"),
            ("utility", "power"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains("Ustawienia zapisane."), "{html}");
    assert!(html.contains(r#"value="07:00-21:00""#), "{html}");
    assert!(html.contains(r#"value="power" checked"#), "{html}");
    assert_eq!(contacts(&app, &Town::email(2)).await[0]["language"], "pl");

    // A water outage: not wanted. A power outage: in Polish.
    let before = app.smtp.messages_to(&Town::email(2)).len();
    let water = alert(&app, Town::rect(2, 2, 0, 0)).await;
    assert_eq!(app.smtp.messages_to(&Town::email(2)).len(), before);
    let (_, v) = app
        .get_json(&format!(
            "/api/v1/outages/{water}/deliveries?state=suppressed"
        ))
        .await;
    assert!(v["deliveries"][0]["last_error"]
        .as_str()
        .unwrap()
        .contains("not to receive water alerts"));
    let mut power = app.water_outage(Town::rect(2, 2, 0, 0));
    power["utility"] = "power".into();
    app.declare(&power).await;
    app.drain().await;
    let mails = app.smtp.messages_to(&Town::email(2));
    assert_eq!(mails.len(), before + 1);
    assert!(
        mails
            .last()
            .unwrap()
            .subject()
            .contains("Przerwa w dostawie prądu"),
        "{}",
        mails.last().unwrap().subject()
    );
}

#[tokio::test]
async fn a_link_expires_and_an_altered_one_opens_nothing() {
    let app = app().await;
    alert(&app, Town::rect(2, 2, 0, 0)).await;
    let path = manage_path(&app, &Town::email(2));
    // Another digit in the signature, another contact id.
    let last = path.chars().last().unwrap();
    let other = if last == '0' { '1' } else { '0' };
    let tampered = format!("{}{other}", &path[..path.len() - 1]);
    let (s, html, _) = get(&app, &tampered).await;
    assert_eq!(s, 404, "{html}");
    assert!(!html.contains("a2@town.test"));
    let rest = path.trim_start_matches("/manage/");
    let (_, tail) = rest.split_once('.').unwrap();
    let (s, _, _) = get(&app, &format!("/manage/1.{tail}")).await;
    assert_eq!(s, 404);
    let (s, _) = post_form(&app, &format!("/manage/1.{tail}/stop"), &[]).await;
    assert_eq!(s, 404);
    assert_eq!(contacts(&app, &Town::email(0)).await[0]["opted_out"], false);
    // 30 days on, the e-mail's link has expired.
    app.advance(Duration::from_secs(31 * 24 * 3600));
    let (s, html, _) = get(&app, &path).await;
    assert_eq!(s, 410, "{html}");
    assert!(html.contains("This link has expired"), "{html}");
    assert!(!html.contains("a2@town.test"));
}

#[tokio::test]
async fn export_holds_exactly_that_persons_data() {
    let app = app().await;
    // a2 also at T3, and an outage over T2..T4.
    let csv = "address_external_id,channel,destination,language\nT3,email,a2@town.test,en\n";
    let (s, v) = app.post_body("/api/v1/contacts/import", csv).await;
    assert_eq!(s, 200, "{v}");
    alert(&app, Town::rect(2, 4, 0, 0)).await;
    let path = manage_path(&app, &Town::email(2));
    let (s, body, headers) = get(&app, &format!("{path}/export")).await;
    assert_eq!(s, 200, "{body}");
    assert!(headers["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let data: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(data["destination"], "a2@town.test");
    let contacts = data["contacts"].as_array().unwrap();
    assert_eq!(contacts.len(), 2);
    assert!(contacts.iter().all(|c| c["destination"] == "a2@town.test"));
    // Two messages (one per address), two import consents.
    assert_eq!(data["messages"].as_array().unwrap().len(), 2, "{data}");
    assert!(data["messages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["state"] == "sent" && m["sent_at"].is_string()));
    let consent = data["consent"].as_array().unwrap();
    assert_eq!(consent.len(), 2, "{data}");
    assert!(consent.iter().all(|e| e["method"] == "import"));
    // Nobody else's address or number is in it.
    for other in (0..Town::N * Town::N).filter(|i| *i != 2) {
        assert!(!body.contains(&format!("\"{}\"", Town::email(other))));
        assert!(!body.contains(&Town::phone(other)));
    }
    assert!(!body.contains("unsubscribe_token"));
}

#[tokio::test]
async fn stopping_and_deleting_from_the_page() {
    let app = app().await;
    alert(&app, Town::rect(2, 2, 0, 0)).await;
    let path = manage_path(&app, &Town::email(2));

    // Stop everything: the ledger says how.
    let (s, html) = post_form(&app, &format!("{path}/stop"), &[]).await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains("You will not receive any more alerts at a2@town.test"));
    let contact = contacts(&app, &Town::email(2)).await[0].clone();
    assert_eq!(contact["opted_out"], true);
    let (_, ledger) = app
        .get_json(&format!("/api/v1/contacts/{}/consent", contact["id"]))
        .await;
    let last = ledger["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (
            last["action"].as_str(),
            last["method"].as_str(),
            last["detail"].as_str()
        ),
        (
            Some("withdrawn"),
            Some("unsubscribe_link"),
            Some("manage page")
        )
    );

    // Delete, unconfirmed: asked again, nothing erased.
    let (s, html) = post_form(&app, &format!("{path}/delete"), &[]).await;
    assert_eq!(s, 422, "{html}");
    assert!(html.contains("Tick the box"), "{html}");
    assert_eq!(contacts(&app, &Town::email(2)).await.len(), 1);
    let (s, html) = post_form(&app, &format!("{path}/delete"), &[("confirm", "yes")]).await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains("Your data is deleted"), "{html}");
    assert!(contacts(&app, &Town::email(2)).await.is_empty());
    assert_eq!(get(&app, &path).await.0, 404);

    // The customer list cannot bring the address back.
    let (s, v) = app
        .post_body("/api/v1/contacts/import", Town.contacts_csv())
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["suppressed"], 1, "{v}");
    assert!(contacts(&app, &Town::email(2)).await.is_empty());
    let before = app.smtp.messages_to(&Town::email(2)).len();
    alert(&app, Town::rect(2, 2, 0, 0)).await;
    assert_eq!(app.smtp.messages_to(&Town::email(2)).len(), before);
}

#[tokio::test]
async fn help_by_sms_brings_a_short_link_and_deleting_a_number_erases_its_texts() {
    let app = app().await;
    let phone = Town::phone(2);
    let r = reqwest::Client::new()
        .get(app.url("/sms/v1/inbound/kannel"))
        .query(&[
            ("secret", SECRET),
            ("from", phone.as_str()),
            ("text", "help"),
        ])
        .send()
        .await
        .unwrap();
    let reply = r.text().await.unwrap();
    let at = reply.find("/manage/").expect("a manage link in the reply");
    let path: String = reply[at..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    assert!(reply.len() < 300, "{reply}");
    let (s, html, _) = get(&app, &path).await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains(&phone), "{html}");
    // An unknown number gets HELP without a link.
    let r = reqwest::Client::new()
        .get(app.url("/sms/v1/inbound/kannel"))
        .query(&[
            ("secret", SECRET),
            ("from", "+36309999999"),
            ("text", "HELP"),
        ])
        .send()
        .await
        .unwrap();
    assert!(!r.text().await.unwrap().contains("/manage/"));

    assert_eq!(texts(&app).await, 2);
    let (s, _) = post_form(&app, &format!("{path}/delete"), &[("confirm", "yes")]).await;
    assert_eq!(s, 200);
    assert_eq!(
        texts(&app).await,
        1,
        "only the unknown number's text is left"
    );
    assert!(contacts(&app, &phone).await.is_empty());
}

async fn texts(app: &TestApp) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT COUNT(*) FROM sms_inbound")
        .fetch_one(&mut app.db().await)
        .await
        .unwrap()
        .get::<i64, _>(0)
}

#[tokio::test]
async fn an_operator_stops_alerts_for_a_resident_and_the_ledger_names_them() {
    let app = app().await;
    let id = contacts(&app, &Town::email(3)).await[0]["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/v1/contacts/{id}/opt-out");
    // The phone platform's token may not; a bad note is named.
    let viewer = support::app::new_token(app.state(), "ivr", herald::auth::Role::Ivr, None).await;
    let r = app
        .http
        .post(app.url(&path))
        .bearer_auth(&viewer)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let (s, v) = app.post_json(&path, &serde_json::json!({"note": 7})).await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (400, Some("note")),
        "{v}"
    );
    let (s, _) = app
        .post_json("/api/v1/contacts/999999/opt-out", &serde_json::json!({}))
        .await;
    assert_eq!(s, 404);

    let (s, v) = app
        .post_json(
            &path,
            &serde_json::json!({"note": "asked by phone, call 4411"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(contacts(&app, &Town::email(3)).await[0]["opted_out"], true);
    let (_, ledger) = app
        .get_json(&format!("/api/v1/contacts/{id}/consent"))
        .await;
    let last = ledger["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "withdrawn");
    assert_eq!(last["method"], "operator");
    assert!(
        last["detail"]
            .as_str()
            .unwrap()
            .ends_with(": asked by phone, call 4411"),
        "{last}"
    );
    // Nothing more goes to it.
    alert(&app, Town::rect(3, 3, 0, 0)).await;
    assert!(app.smtp.messages_to(&Town::email(3)).is_empty());
}

#[tokio::test]
async fn the_status_page_sends_a_link_to_a_registered_address_and_tells_nobody_who_is() {
    let app = app().await;
    let (s, html, _) = get(&app, "/manage?lang=en").await;
    assert_eq!(s, 200);
    assert!(html.contains(r#"action="/manage""#), "{html}");
    let (_, subscribe, _) = get(&app, "/subscribe?lang=en").await;
    assert!(subscribe.contains(r#"href="/manage""#));

    // Garbage: named at the field.
    let (s, html) = post_form(&app, "/manage", &[("destination", "nobody"), ("ui", "en")]).await;
    assert_eq!(s, 422, "{html}");
    assert!(html.contains(r##"href="#destination""##), "{html}");

    // Registered, and not: the same answer.
    let (s, known) = post_form(
        &app,
        "/manage",
        &[("destination", " A2@Town.test "), ("ui", "en")],
    )
    .await;
    assert_eq!(s, 200, "{known}");
    let (s, unknown) = post_form(
        &app,
        "/manage",
        &[("destination", "stranger@town.test"), ("ui", "en")],
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        known.replace("A2@town.test", "X"),
        unknown.replace("stranger@town.test", "X")
    );
    app.drain().await;
    assert!(app.smtp.messages_to("stranger@town.test").is_empty());
    let mail = app
        .smtp
        .messages_to(&Town::email(2))
        .pop()
        .expect("the link");
    assert_eq!(mail.subject(), "Your link to manage outage alerts");
    let path = manage_path(&app, &Town::email(2));
    let (s, html, _) = get(&app, &path).await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains("a2@town.test"));
    // The message's token is no sign-up: it confirms nothing.
    let text = mail.text_body();
    assert!(!text.contains("/subscribe/confirm/"), "{text}");

    // By SMS too; and the day's limit holds, answered the same.
    let phone = Town::phone(4);
    for _ in 0..5 {
        let (s, _) = post_form(
            &app,
            "/manage",
            &[("destination", phone.as_str()), ("ui", "en")],
        )
        .await;
        assert_eq!(s, 200);
    }
    app.drain().await;
    let texts = app.sms.messages_to(&phone);
    assert_eq!(
        texts.len(),
        app.config.subscribe.per_destination_per_day as usize,
        "{texts:?}"
    );
    assert!(texts[0].text.contains("/manage/"), "{}", texts[0].text);
}

#[tokio::test]
async fn a_resident_who_moves_takes_their_alerts_to_the_new_address() {
    let app = app().await;
    // An outage at T5 (house 6) is under way; a2 lives at T2 (house 3).
    let at_new = app.declare(&app.water_outage(Town::rect(5, 5, 0, 0))).await;
    let reference = at_new["reference"].as_str().unwrap().to_string();
    alert(&app, Town::rect(2, 2, 0, 0)).await;
    let path = manage_path(&app, &Town::email(2));
    let (s, html, _) = get(&app, &format!("{path}?q=kossuth+lajos+utca+6")).await;
    assert_eq!(s, 200, "{html}");
    let at = html
        .find("Kossuth Lajos utca 6, 1111 Budapest")
        .expect("the new address offered");
    let form = &html[at..];
    let value = |name: &str| {
        let key = format!(r#"name="{name}" value=""#);
        let from = form.find(&key).unwrap() + key.len();
        form[from..].split('"').next().unwrap().to_string()
    };
    let (address, contact) = (value("address"), value("contact"));
    let before = app.smtp.messages_to(&Town::email(2)).len();
    let (s, html) = post_form(
        &app,
        &format!("{path}/move"),
        &[("address", &address), ("contact", &contact)],
    )
    .await;
    assert_eq!(s, 200, "{html}");
    assert!(
        html.contains("Your alerts now go to Kossuth Lajos utca 6, 1111 Budapest."),
        "{html}"
    );
    // The outage already under way at the new address is news to them.
    app.drain().await;
    let mails = app.smtp.messages_to(&Town::email(2));
    assert_eq!(mails.len(), before + 1);
    assert!(mails.last().unwrap().subject().contains(&reference));
    // The old address is stopped, in the ledger as the resident's doing.
    let list = contacts(&app, &Town::email(2)).await;
    assert_eq!(list.len(), 2);
    let old = list
        .iter()
        .find(|c| c["id"].as_i64().map(|i| i.to_string()).as_deref() == Some(contact.as_str()))
        .unwrap();
    assert_eq!(old["opted_out"], true);
    let (_, ledger) = app
        .get_json(&format!("/api/v1/contacts/{}/consent", old["id"]))
        .await;
    let last = ledger["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["action"].as_str(), last["detail"].as_str()),
        (Some("withdrawn"), Some("manage page: moved address"))
    );
    let before = app.smtp.messages_to(&Town::email(2)).len();
    alert(&app, Town::rect(2, 2, 0, 0)).await;
    assert_eq!(app.smtp.messages_to(&Town::email(2)).len(), before);
    // Someone else's contact id is refused.
    let (s, _) = post_form(
        &app,
        &format!("{path}/move"),
        &[("address", &address), ("contact", "1")],
    )
    .await;
    assert_eq!(s, 400);
}
