//! Text messages to Herald's number, through both gateways' webhooks: STOP
//! and START in every language (and what an outage then sends), HELP, STATUS,
//! references (a typo included), OUT reports and restore verification, the
//! consent ledger each writes, imports that never add a stopped number back,
//! forged requests, and the limits on replies. On both databases.

mod support;

use serde_json::Value;
use std::time::Duration;
use support::app::{TestApp, Town};

const SECRET: &str = "kannel-inbound-secret";

async fn app() -> TestApp {
    app_with(|_| {}).await
}

async fn app_with(adjust: impl FnOnce(&mut herald::config::Config)) -> TestApp {
    let app = TestApp::spawn_with(|c| {
        c.sms.inbound_secret = SECRET.into();
        adjust(c);
    })
    .await;
    app.import_town(&Town).await;
    app
}

/// A message from `from` as Kannel's `sms-service` hands it over: the reply
/// (Kannel sends the body back) and the status.
async fn kannel(app: &TestApp, from: &str, text: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .get(app.url("/sms/v1/inbound/kannel"))
        .query(&[("secret", SECRET), ("from", from), ("text", text)])
        .send()
        .await
        .expect("request");
    (r.status().as_u16(), r.text().await.expect("body"))
}

/// The reply to a message, which must be answered.
async fn reply(app: &TestApp, from: &str, text: &str) -> String {
    let (status, body) = kannel(app, from, text).await;
    assert_eq!(status, 200, "{text}: {body}");
    body
}

/// A message as Twilio posts it, signed with `token` (None: unsigned).
async fn twilio(app: &TestApp, from: &str, body: &str, token: Option<&str>) -> (u16, String) {
    let params: Vec<(String, String)> = [
        ("MessageSid", "SM0123456789abcdef"),
        ("AccountSid", "ACtest"),
        ("From", from),
        ("To", "+3612345678"),
        ("Body", body),
        ("NumSegments", "1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let path = "/sms/v1/inbound/twilio";
    let mut request = reqwest::Client::new().post(app.url(path)).form(&params);
    if let Some(token) = token {
        let url = format!("{}{path}", app.state().config.public_url());
        let signature = herald::http::inbound::twilio_signature(token, &url, &params);
        request = request.header("X-Twilio-Signature", signature);
    }
    let r = request.send().await.expect("request");
    (r.status().as_u16(), r.text().await.expect("body"))
}

async fn contact_ids(app: &TestApp, destination: &str) -> Vec<(i64, bool)> {
    app.contacts_of(destination)
        .await
        .iter()
        .map(|c| (c["id"].as_i64().unwrap(), c["opted_out"].as_bool().unwrap()))
        .collect()
}

async fn ledger(app: &TestApp, contact_id: i64) -> Vec<Value> {
    let (s, v) = app
        .get_json(&format!("/api/v1/contacts/{contact_id}/consent"))
        .await;
    assert_eq!(s, 200, "{v}");
    v["events"].as_array().unwrap().clone()
}

async fn inbound_rows(app: &TestApp) -> i64 {
    use sqlx::Row;
    let mut db = app.db().await;
    sqlx::query("SELECT COUNT(*) FROM sms_inbound")
        .fetch_one(&mut db)
        .await
        .unwrap()
        .get::<i64, _>(0)
}

/// Declares a water outage over grid cells 0 and 1 (address 0 has SMS) and
/// sends its messages.
async fn outage_over_0(app: &TestApp) -> Value {
    let o = app.declare(&app.water_outage(Town::rect(0, 1, 0, 0))).await;
    app.drain().await;
    o
}

#[tokio::test]
async fn forged_and_unsigned_requests_are_refused_and_change_nothing() {
    let app = app().await;
    let number = Town::phone(0);
    let client = reqwest::Client::new();
    let url = app.url("/sms/v1/inbound/kannel");
    for query in [
        vec![("from", number.as_str()), ("text", "STOP")],
        vec![("secret", ""), ("from", number.as_str()), ("text", "STOP")],
        vec![
            ("secret", "guess"),
            ("from", number.as_str()),
            ("text", "STOP"),
        ],
    ] {
        let r = client.get(&url).query(&query).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 403, "{query:?}");
    }
    let r = client
        .post(&url)
        .form(&[("secret", "guess"), ("from", &number), ("text", "STOP")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(twilio(&app, &number, "STOP", None).await.0, 403);
    assert_eq!(
        twilio(&app, &number, "STOP", Some("not-the-token")).await.0,
        403
    );
    // Nothing happened: the number is still opted in, nothing was logged.
    assert!(!contact_ids(&app, &number).await[0].1);
    assert_eq!(inbound_rows(&app).await, 0);

    // A deployment that configured no secret takes nothing at all.
    let open = TestApp::spawn().await;
    let r = client
        .get(open.url("/sms/v1/inbound/kannel"))
        .query(&[("secret", ""), ("from", number.as_str()), ("text", "HELP")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);

    // Bad input after a good credential: 400 naming the field.
    let (s, body) = kannel(&app, "not a number", "HELP").await;
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("from"), "{body}");
}

#[tokio::test]
async fn stop_means_no_message_after_it_and_start_brings_them_back() {
    let app = app().await;
    let number = Town::phone(0); // Hungarian contact at address 0
    let stopped = reply(&app, &number, "stop").await;
    assert!(stopped.contains("SMS-t nem k"), "{stopped}");
    assert!(stopped.contains("START"), "{stopped}");
    // One confirmation, nothing after.
    assert_eq!(reply(&app, &number, "STOP").await, "");
    assert!(contact_ids(&app, &number).await[0].1);

    outage_over_0(&app).await;
    assert!(app.sms.messages_to(&number).is_empty());
    // The other contacts at the address still hear: e-mail is another channel.
    assert!(app.smtp.messages_to(&Town::email(0)).len() == 1);

    let started = reply(&app, &number, "START").await;
    assert!(started.contains("STOP"), "{started}");
    assert!(!contact_ids(&app, &number).await[0].1);
    // The next outage there reaches the number again.
    app.declare(&app.water_outage(Town::rect(0, 0, 0, 0))).await;
    app.drain().await;
    assert!(!app.sms.messages_to(&number).is_empty());

    // The ledger: given by the import, withdrawn and given again by keyword,
    // each with how and from where.
    let (contact, _) = contact_ids(&app, &number).await[0];
    let events = ledger(&app, contact).await;
    let summary: Vec<(String, String, String)> = events
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["method"].as_str().unwrap().to_string(),
                e["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("given".into(), "import".into(), "API upload".into()),
            ("withdrawn".into(), "sms_keyword".into(), "STOP".into()),
            ("given".into(), "sms_keyword".into(), "START".into()),
        ]
    );
    assert_eq!(events[1]["source"], number.as_str());
    assert_eq!(events[1]["channel"], "sms");
    assert_eq!(events[1]["purpose"], "outage_alerts");
    let r = app
        .http
        .get(app.url(&format!("/api/v1/contacts/{contact}/consent?format=csv")))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let csv = r.text().await.unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.contains("withdrawn,sms_keyword,STOP"), "{csv}");
    let (s, _) = app.get_json("/api/v1/contacts/999999/consent").await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn every_keyword_in_each_language_with_accents_and_lower_case() {
    let app = app().await;
    // Stop words, each from a number of its own (an unknown number can stop
    // too: it is then never imported): the reply is in the word's language.
    let stops = [
        ("STOP", None),
        ("stopall", None),
        ("Unsubscribe", Some("no more text messages")),
        ("cancel", Some("no more text messages")),
        ("END", Some("no more text messages")),
        ("quit", Some("no more text messages")),
        ("REVOKE", Some("no more text messages")),
        ("optout", Some("no more text messages")),
        ("LEIRATKOZÁS", Some("SMS-t nem k")),
        ("leiratkozas", Some("SMS-t nem k")),
        ("Leiratkozom", Some("SMS-t nem k")),
        ("NIE", Some("nie wy")),
        ("rezygnacja", Some("nie wy")),
        ("ZAKOŃCZ", Some("nie wy")),
        ("zakoncz", Some("nie wy")),
        ("Wypisz", Some("nie wy")),
    ];
    for (i, (word, marker)) in stops.iter().enumerate() {
        let number = format!("+3670200{i:04}");
        let text = reply(&app, &number, word).await;
        assert!(text.contains("START"), "{word}: {text}");
        if let Some(m) = marker {
            assert!(text.contains(m), "{word}: {text}");
        }
    }
    for (word, marker) in [
        ("START", "+3670300"),
        ("unstop", "+3670301"),
        ("Yes", "+3670302"),
        ("igen", "+3670303"),
        ("TAK", "+3670304"),
    ] {
        let text = reply(&app, &format!("{marker}0000"), word).await;
        assert!(!text.is_empty(), "{word}");
    }
    // Help, in the three languages.
    for (word, marker) in [
        ("HELP", "llapotoldal:"),
        ("info", "llapotoldal:"),
        ("SEGÍTSÉG", "llapotoldal:"),
        ("segitseg", "llapotoldal:"),
        ("Pomoc", "Strona:"),
    ] {
        let text = reply(&app, "+36304000000", word).await;
        assert!(text.contains(marker), "{word}: {text}");
        assert!(text.contains("STOP"), "{word}: {text}");
    }
    // A British number gets English.
    let text = reply(&app, "+447911123456", "help").await;
    assert!(text.contains("Status page:"), "{text}");
    // Status with no outage, in the three languages (address 0 is Hungarian).
    let number = Town::phone(0);
    for (word, marker) in [
        ("STATUS", "Nem tudunk"),
        ("állapot", "Nem tudunk"),
        ("ALLAPOT", "Nem tudunk"),
        ("stan", "Nie wiemy"),
    ] {
        let text = reply(&app, &number, word).await;
        assert!(text.contains(marker), "{word}: {text}");
        assert!(text.contains("Kossuth Lajos utca 1"), "{word}: {text}");
    }
    // A number Herald does not know has no address to tell about.
    let text = reply(&app, "+447911123456", "status").await;
    assert!(text.contains("no address for this number"), "{text}");
}

#[tokio::test]
async fn status_and_references_even_mistyped_tell_the_outage() {
    let app = app().await;
    let o = outage_over_0(&app).await;
    let reference = o["reference"].as_str().unwrap().to_string();
    // The English contact at address 2 is not inside; address 0's is.
    let inside = Town::phone(0);
    let text = reply(&app, &inside, "Állapot").await;
    assert!(text.contains(&reference), "{text}");
    assert!(text.contains("Kossuth Lajos utca 1"), "{text}");
    let outside = Town::phone(2);
    assert!(reply(&app, &outside, "status")
        .await
        .contains("No known outage"));

    // By reference, from anyone, lower case and spaced too.
    let spaced = reference.replace('-', " ").to_lowercase();
    for asked in [reference.clone(), spaced] {
        let text = reply(&app, "+447911123456", &asked).await;
        assert!(text.contains(&reference), "{asked}: {text}");
        assert!(text.contains("Budapest"), "{asked}: {text}");
    }
    // One character wrong: the check character catches it, and the one open
    // outage a typo away is offered.
    let mut chars: Vec<char> = reference.chars().collect();
    chars[4] = if chars[4] == '7' { '8' } else { '7' };
    let typo: String = chars.into_iter().collect();
    let text = reply(&app, "+447911123456", &typo).await;
    assert!(
        text.starts_with(&format!("Did you mean {reference}?")),
        "{typo}: {text}"
    );
    // A reference of no outage.
    let text = reply(&app, "+447911123456", "WA-0000-0").await;
    assert!(text.contains("know of no outage"), "{text}");

    // Once restored, the reference says so.
    let id = o["id"].as_i64().unwrap();
    let (s, v) = app
        .post_json(
            &format!("/api/v1/outages/{id}/restore"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    app.state().published.touch();
    let text = reply(&app, "+447911123456", &reference).await;
    assert!(text.contains("has been fixed"), "{text}");
}

#[tokio::test]
async fn out_reports_no_supply_and_a_report_after_restore_is_still_out() {
    let app = app().await;
    // No outage: the report is news to the dispatchers.
    let text = reply(&app, &Town::phone(2), "out of water").await;
    assert!(text.contains("knew of no outage"), "{text}");
    // Without a service named and nothing to go by, Herald asks which.
    let text = reply(&app, &Town::phone(4), "BRAK").await;
    assert!(text.contains("BRAK WODY"), "{text}");
    // Inside a known outage: its status.
    let o = outage_over_0(&app).await;
    let reference = o["reference"].as_str().unwrap().to_string();
    let text = reply(&app, &Town::phone(0), "NINCS").await;
    assert!(text.starts_with("Köszönjük"), "{text}");
    assert!(text.contains(&reference), "{text}");
    // Restored, its message sent; an hour later the supply is still out.
    let id = o["id"].as_i64().unwrap();
    let (s, v) = app
        .post_json(
            &format!("/api/v1/outages/{id}/restore"),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    app.drain().await;
    assert!(app
        .sms
        .messages_to(&Town::phone(0))
        .iter()
        .any(|m| m.text.contains("Helyre")));
    app.advance(Duration::from_secs(3600));
    app.state().published.touch();
    let text = reply(&app, &Town::phone(0), "nincs víz").await;
    assert!(text.contains(&reference), "{text}");
    assert!(text.contains("diszp"), "{text}");
    let (_, detail) = app.get_json(&format!("/api/v1/outages/{id}")).await;
    assert_eq!(detail["reports"]["inside"], 1, "{detail}");
    assert_eq!(detail["reports"]["still_out"], 1, "{detail}");
    assert!(detail["reports"]["last_still_out_at"].is_string());
    // A day later it is no longer about that outage.
    app.advance(Duration::from_secs(24 * 3600));
    let text = reply(&app, &Town::phone(0), "nincs víz").await;
    assert!(text.contains("nem tudtunk"), "{text}");
    // Someone Herald has no address for is told where to report.
    let text = reply(&app, "+447911123456", "OUT").await;
    assert!(text.contains("no address for this number"), "{text}");
}

#[tokio::test]
async fn an_import_never_adds_back_a_number_that_said_stop() {
    let app = app().await;
    let number = Town::phone(0);
    reply(&app, &number, "STOP").await;
    // Re-imported as it was, and listed at another address too.
    let csv = format!(
        "address_external_id,channel,destination,language\nT0,sms,{number},hu\nT7,sms,{number},hu\nT7,sms,+36301009999,hu\n"
    );
    let (s, v) = app
        .post_body("/api/v1/contacts/import?file=customers-2026-12.csv", csv)
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["suppressed"], 2, "{v}");
    assert_eq!(v["inserted"], 1, "{v}");
    assert_eq!(contact_ids(&app, &number).await.len(), 1);
    assert!(contact_ids(&app, &number).await[0].1);
    // The contact it did add has the list's name in its ledger.
    let (new, _) = contact_ids(&app, "+36301009999").await[0];
    let events = ledger(&app, new).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["method"], "import");
    assert_eq!(events[0]["detail"], "customers-2026-12.csv");
    // An outage over T7 texts nobody at the stopped number.
    app.declare(&app.water_outage(Town::rect(7, 7, 0, 0))).await;
    app.drain().await;
    assert!(app.sms.messages_to(&number).is_empty());
    assert_eq!(app.sms.messages_to("+36301009999").len(), 1);
    // START lets the number be imported again.
    reply(&app, &number, "START").await;
    let csv = format!("address_external_id,channel,destination,language\nT7,sms,{number},hu\n");
    let (s, v) = app.post_body("/api/v1/contacts/import", csv).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["inserted"], 1, "{v}");
}

#[tokio::test]
async fn text_herald_does_not_understand_gets_the_help_answer_once_a_day() {
    let app = app().await;
    let number = Town::phone(2);
    let first = reply(&app, &number, "hello, when is the water back?").await;
    assert!(first.contains("Reply STATUS"), "{first}");
    assert_eq!(reply(&app, &number, "hello?").await, "");
    // HELP itself is always answered.
    assert!(!reply(&app, &number, "HELP").await.is_empty());
    app.advance(Duration::from_secs(25 * 3600));
    assert!(!reply(&app, &number, "anyone there").await.is_empty());
}

#[tokio::test]
async fn replies_are_limited_per_number_and_over_all() {
    let app = app_with(|c| {
        c.sms.replies_per_number_per_hour = 3;
        c.sms.replies_per_hour = 5;
    })
    .await;
    let a = Town::phone(2);
    for _ in 0..3 {
        assert!(!reply(&app, &a, "HELP").await.is_empty());
    }
    assert_eq!(reply(&app, &a, "HELP").await, "");
    // A STOP past the limit still stops; its confirmation is what is held.
    assert_eq!(reply(&app, &a, "STOP").await, "");
    assert!(contact_ids(&app, &a).await[0].1);
    let b = Town::phone(4);
    assert!(!reply(&app, &b, "POMOC").await.is_empty());
    assert!(!reply(&app, &b, "POMOC").await.is_empty());
    // Five replies this hour over all numbers: the next number gets none.
    assert_eq!(reply(&app, &Town::phone(6), "HELP").await, "");
    app.advance(Duration::from_secs(61 * 60));
    assert!(!reply(&app, &Town::phone(6), "HELP").await.is_empty());
}

#[tokio::test]
async fn twilio_messages_are_answered_with_twiml() {
    let app = app().await;
    let number = Town::phone(4); // Polish contact
    let (s, body) = twilio(&app, &number, "Stop", Some("secret")).await;
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("<Response><Message>"), "{body}");
    assert!(body.contains("nie wy"), "{body}");
    assert!(contact_ids(&app, &number).await[0].1);
    let (s, body) = twilio(&app, &number, "STOP", Some("secret")).await;
    assert_eq!(s, 200);
    assert!(body.contains("<Response/>"), "{body}");
    let (_, body) = twilio(&app, &number, "pomoc <&>", Some("secret")).await;
    assert!(body.contains("Strona:"), "{body}");
}

#[tokio::test]
async fn the_unsubscribe_link_and_one_click_are_in_the_ledger() {
    let app = app().await;
    let email = Town::email(3);
    let token = app.unsubscribe_token(&email).await;
    let r = app
        .http
        .post(app.url(&format!("/unsubscribe/{token}")))
        .header("X-Forwarded-For", "203.0.113.9")
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (id, opted_out) = contact_ids(&app, &email).await[0];
    assert!(opted_out);
    let events = ledger(&app, id).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1]["action"], "withdrawn");
    assert_eq!(events[1]["method"], "one_click");
    assert_eq!(events[1]["channel"], "email");
    assert!(events[1]["source"].is_string());
    // A second click changes nothing, and writes nothing.
    app.one_click_unsubscribe(&app.url(&format!("/unsubscribe/{token}")))
        .await;
    assert_eq!(ledger(&app, id).await.len(), 2);
    // The ledger cannot be rewritten.
    use sqlx::Executor;
    let mut db = app.db().await;
    assert!(db
        .execute("UPDATE consent_events SET action = 'given'")
        .await
        .is_err());
}

#[tokio::test]
async fn received_texts_are_forgotten_after_their_retention() {
    let app = app().await;
    reply(&app, &Town::phone(0), "HELP").await;
    app.advance(Duration::from_secs(3600));
    reply(&app, &Town::phone(2), "HELP").await;
    assert_eq!(inbound_rows(&app).await, 2);
    // The hourly sweep's statement: everything older than the cut goes.
    let cut = app.now() - chrono::Duration::minutes(30);
    assert_eq!(app.state().store.forget_texts(cut).await.unwrap(), 1);
    assert_eq!(inbound_rows(&app).await, 1);
}
