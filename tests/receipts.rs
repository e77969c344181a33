//! Delivery and bounce reports: Kannel's dlr-url and Twilio's status callback
//! move SMS deliveries to delivered or failed with the carrier's reason; a
//! permanent SMTP refusal, a posted bounce (RFC 3464) or complaint (RFC 5965)
//! marks the address undeliverable or opted out, in the consent ledger; and
//! nothing is accepted without its credential. On both databases, through
//! HTTP, the real SMTP sink and the SMS stub.

mod support;

use herald::config::SmsProvider;
use serde_json::{json, Value};
use support::app::{TestApp, Town};

const FEEDBACK_SECRET: &str = "fb-secret";

async fn app(provider: SmsProvider) -> TestApp {
    let app = TestApp::spawn_with(|c| {
        c.sms.provider = provider;
        c.email.feedback_secret = FEEDBACK_SECRET.into();
    })
    .await;
    app.import_town(&Town).await;
    app
}

/// Declares a water outage over T0..T4 (SMS at T0, T2, T4) and sends it.
async fn declare(app: &TestApp) -> i64 {
    let outage = app.declare(&app.water_outage(Town::rect(0, 4, 0, 0))).await;
    app.drain().await;
    outage["id"].as_i64().unwrap()
}

async fn deliveries(app: &TestApp, id: i64, state: &str) -> Vec<Value> {
    app.deliveries(id, state).await
}

/// The part of a URL Herald handed out that the test server answers.
fn local(app: &TestApp, url: &str) -> String {
    let public = app.state().config.public_url();
    app.url(url.strip_prefix(&public).expect("a public URL"))
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.expect("request");
    (r.status().as_u16(), r.text().await.expect("body"))
}

/// Kannel filling in its report URL: `%d` the type, `%A` the SMSC's answer.
fn kannel_report(dlr_url: &str, dlr_type: u32, answer: &str) -> String {
    let answer = answer.replace(' ', "%20");
    dlr_url
        .replace("%d", &dlr_type.to_string())
        .replace("%A", &answer)
}

#[tokio::test]
async fn kannel_reports_move_sms_to_delivered_or_failed() {
    let app = app(SmsProvider::Kannel).await;
    let id = declare(&app).await;
    let sms = |i: usize| app.sms.messages_to(&Town::phone(i)).remove(0);
    let (t0, t2, t4) = (sms(0), sms(2), sms(4));
    assert_eq!(t0.dlr_mask.as_deref(), Some("19"));
    let url = |m: &support::sms_gateway::ReceivedSms| local(&app, m.status_url.as_ref().unwrap());

    let (s, body) = get(&kannel_report(&url(&t0), 1, "id:9 stat:DELIVRD err:000")).await;
    assert_eq!((s, body.as_str()), (200, "delivered"));
    let (s, body) = get(&kannel_report(
        &url(&t2),
        2,
        "id:10 sub:001 dlvrd:000 stat:UNDELIV err:001 text:",
    ))
    .await;
    assert_eq!((s, body.as_str()), (200, "failed"));
    // Accepted by the SMSC: not final, nothing changes.
    let (s, _) = get(&kannel_report(&url(&t4), 8, "ACK/")).await;
    assert_eq!(s, 200);

    let delivered = deliveries(&app, id, "delivered").await;
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert_eq!(delivered[0]["destination"], Town::phone(0));
    let failed = deliveries(&app, id, "failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["report"], "UNDELIV (error 001)");
    assert!(failed[0]["reported_at"].is_string());
    // The outage's counts tell delivered from sent.
    assert_eq!(app.delivery_count(id, "sms", "delivered").await, 1);
    assert_eq!(app.delivery_count(id, "sms", "failed").await, 1);
    assert_eq!(app.delivery_count(id, "sms", "sent").await, 1);

    // Forged: another signature, or T0's signature on T4's id, or none.
    let forged = kannel_report(&url(&t4), 2, "x").replace("sig=", "sig=00");
    assert_eq!(get(&forged).await.0, 403);
    let t0_url = url(&t0);
    let t0_id = t0_url
        .split("id=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let t4_url = url(&t4);
    let t4_id = t4_url
        .split("id=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let moved = kannel_report(
        &t0_url.replace(&format!("id={t0_id}"), &format!("id={t4_id}")),
        2,
        "x",
    );
    assert_eq!(get(&moved).await.0, 403);
    assert_eq!(
        get(&app.url(&format!("/sms/v1/status/kannel?id={t4_id}&type=2")))
            .await
            .0,
        403
    );
    assert_eq!(
        deliveries(&app, id, "failed").await.len(),
        1,
        "nothing changed"
    );
    // A bad type after a good signature names the field.
    let (s, body) = get(&kannel_report(&url(&t4), 0, "x").replace("type=0", "type=x")).await;
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("type"), "{body}");
}

#[tokio::test]
async fn twilio_status_callbacks_are_checked_and_recorded() {
    let app = app(SmsProvider::Twilio).await;
    let id = declare(&app).await;
    let t2 = app.sms.messages_to(&Town::phone(2)).remove(0);
    let callback = t2.status_url.clone().expect("StatusCallback");
    let sid = t2.sid.clone().unwrap();
    let post = |url: String, params: Vec<(&str, &str)>, sign: bool| {
        let params: Vec<(String, String)> = params
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let signature = herald::http::inbound::twilio_signature(
            if sign { "secret" } else { "forged" },
            &url,
            &params,
        );
        let target = local(&app, &url);
        async move {
            let r = reqwest::Client::new()
                .post(target)
                .header("X-Twilio-Signature", signature)
                .form(&params)
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        }
    };
    let report = |status: &'static str| {
        vec![
            ("MessageSid", sid.as_str()),
            ("MessageStatus", status),
            ("ErrorCode", "30005"),
            ("AccountSid", "ACtest"),
        ]
    };
    assert_eq!(
        post(callback.clone(), report("undelivered"), false).await,
        403
    );
    assert!(deliveries(&app, id, "failed").await.is_empty());
    // Interim, then final.
    assert_eq!(post(callback.clone(), report("sent"), true).await, 200);
    assert!(deliveries(&app, id, "failed").await.is_empty());
    assert_eq!(
        post(callback.clone(), report("undelivered"), true).await,
        200
    );
    let failed = deliveries(&app, id, "failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0]["report"],
        "undelivered (Twilio error 30005: unknown destination handset)"
    );
    // Another message's sid for this delivery: not found, nothing changed.
    let other = vec![
        ("MessageSid", "SM00000000000000000000000000000999"),
        ("MessageStatus", "delivered"),
    ];
    assert_eq!(post(callback, other, true).await, 404);
    assert_eq!(deliveries(&app, id, "failed").await.len(), 1);
}

async fn contact_id(app: &TestApp, destination: &str) -> (i64, Value) {
    let c = app.contacts_of(destination).await[0].clone();
    (c["id"].as_i64().unwrap(), c)
}

async fn ledger(app: &TestApp, destination: &str) -> Vec<(String, String, String)> {
    let (id, _) = contact_id(app, destination).await;
    let (s, v) = app
        .get_json(&format!("/api/v1/contacts/{id}/consent"))
        .await;
    assert_eq!(s, 200, "{v}");
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["method"].as_str().unwrap().to_string(),
                e["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_permanent_smtp_refusal_marks_the_address_undeliverable() {
    let app = app(SmsProvider::Kannel).await;
    app.smtp.reject_recipient(
        &Town::email(1),
        550,
        "5.1.1 <a1@town.test>: Recipient address rejected: User unknown",
    );
    let id = declare(&app).await;
    let dead = deliveries(&app, id, "dead").await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    let events = ledger(&app, &Town::email(1)).await;
    let last = events.last().unwrap();
    assert_eq!(
        (last.0.as_str(), last.1.as_str()),
        ("undeliverable", "bounce")
    );
    assert!(last.2.contains("5.1.1"), "{last:?}");

    // The next outage sends it nothing, and says why.
    let next = app.declare(&app.water_outage(Town::rect(1, 1, 0, 0))).await;
    let next = next["id"].as_i64().unwrap();
    app.drain().await;
    let held = deliveries(&app, next, "suppressed").await;
    assert_eq!(held.len(), 1);
    assert!(held[0]["last_error"]
        .as_str()
        .unwrap()
        .contains("undeliverable"));
    assert!(app.smtp.messages_to(&Town::email(1)).is_empty());
}

/// A fixture with its addresses and Message-ID made this test's.
fn fixture(name: &str, replace: &[(&str, &str)]) -> String {
    let path = format!("{}/fixtures/feedback/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(path).unwrap();
    for (from, to) in replace {
        assert!(text.contains(from), "{name} lacks {from}");
        text = text.replace(from, to);
    }
    text
}

async fn post_feedback(app: &TestApp, body: String, secret: Option<&str>) -> (u16, Value) {
    let mut r = app
        .http
        .post(app.url("/email/v1/feedback"))
        .header("Content-Type", "message/rfc822")
        .body(body);
    if let Some(secret) = secret {
        r = r.bearer_auth(secret);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(json!(text)))
}

#[tokio::test]
async fn posted_bounces_and_complaints_are_applied_and_recorded() {
    let app = app(SmsProvider::Kannel).await;
    let id = declare(&app).await;
    let message_id = |i: usize| {
        app.smtp.messages_to(&Town::email(i))[0]
            .header("Message-ID")
            .unwrap()
            .trim()
            .to_string()
    };
    let bounce = fixture(
        "dsn-hard-bounce.eml",
        &[
            ("Jan.Kovacs@example.net", &Town::email(2)),
            ("<42.r3.herald@herald.example>", &message_id(2)),
        ],
    );
    // No credential, a wrong one: refused, nothing changed.
    assert_eq!(post_feedback(&app, bounce.clone(), None).await.0, 403);
    assert_eq!(
        post_feedback(&app, bounce.clone(), Some("guess")).await.0,
        403
    );
    assert!(deliveries(&app, id, "failed").await.is_empty());

    let (s, v) = post_feedback(&app, bounce, Some(FEEDBACK_SECRET)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["kind"], "bounce");
    assert_eq!(v["contacts"], 1);
    assert_eq!(v["recipients"], json!([Town::email(2)]));
    let failed = deliveries(&app, id, "failed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["destination"], Town::email(2));
    assert!(failed[0]["report"]
        .as_str()
        .unwrap()
        .starts_with("bounced: 5.1.1"));
    let events = ledger(&app, &Town::email(2)).await;
    assert_eq!(events.last().unwrap().0, "undeliverable");

    // A complaint opts the address out, and the list cannot add it back.
    let complaint = fixture(
        "arf-abuse.eml",
        &[
            ("kiss.eva@yahoo.example", &Town::email(4)),
            ("<77.r1.herald@herald.example>", &message_id(4)),
        ],
    );
    let (s, v) = post_feedback(&app, complaint, Some(FEEDBACK_SECRET)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["kind"].as_str(), v["contacts"].as_u64()),
        (Some("complaint"), Some(1))
    );
    let (_, contact) = contact_id(&app, &Town::email(4)).await;
    assert_eq!(contact["opted_out"], true);
    let events = ledger(&app, &Town::email(4)).await;
    let last = events.last().unwrap();
    assert_eq!(
        (last.0.as_str(), last.1.as_str(), last.2.as_str()),
        ("withdrawn", "complaint", "abuse")
    );
    let (s, v) = app
        .post_body("/api/v1/contacts/import", Town.contacts_csv())
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["suppressed"], 1, "{v}");

    // Neither hears of the next outage.
    let mails = |i: usize| app.smtp.messages_to(&Town::email(i)).len();
    let (before2, before4) = (mails(2), mails(4));
    app.declare(&app.water_outage(Town::rect(0, 4, 0, 0))).await;
    app.drain().await;
    assert_eq!((mails(2), mails(4)), (before2, before4));
    assert_eq!(mails(0), 2);

    // Not a report: 400 naming the body.
    let (s, v) = post_feedback(
        &app,
        fixture("not-a-report.eml", &[]),
        Some(FEEDBACK_SECRET),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"]["field"], "body");
}

#[tokio::test]
async fn confirming_the_address_again_lifts_a_bounce() {
    use support::subscribe::{address_id, post_form, token_in};
    let app = app(SmsProvider::Kannel).await;
    let id = declare(&app).await;
    let mail = &app.smtp.messages_to(&Town::email(1))[0];
    let bounce = fixture(
        "dsn-hard-bounce.eml",
        &[
            ("Jan.Kovacs@example.net", &Town::email(1)),
            (
                "<42.r3.herald@herald.example>",
                mail.header("Message-ID").unwrap().trim(),
            ),
        ],
    );
    let (s, v) = post_feedback(&app, bounce, Some(FEEDBACK_SECRET)).await;
    assert_eq!((s, v["contacts"].as_u64()), (200, Some(1)), "{v}");
    assert_eq!(deliveries(&app, id, "failed").await.len(), 1);

    // The resident signs up again at T1 (house 2) and follows the link.
    let address = address_id(&app, 2).await;
    let form = [
        ("address", address.as_str()),
        ("channel", "email"),
        ("destination", "a1@town.test"),
        ("language", "pl"),
    ];
    let (s, html) = post_form(&app, "/subscribe", &form).await;
    assert_eq!(s, 200, "{html}");
    app.drain().await;
    let confirmation = app.smtp.messages_to(&Town::email(1)).pop().unwrap();
    let token = token_in(&confirmation.text_body());
    let (s, html) = post_form(&app, &format!("/subscribe/confirm/{token}"), &[]).await;
    assert_eq!(s, 200, "{html}");

    let before = app.smtp.messages_to(&Town::email(1)).len();
    app.declare(&app.water_outage(Town::rect(1, 1, 0, 0))).await;
    app.drain().await;
    assert_eq!(app.smtp.messages_to(&Town::email(1)).len(), before + 1);
}

/// The delivery id a report URL names.
fn report_id(url: &str) -> i64 {
    let id = url.split("id=").nth(1).unwrap().split('&').next().unwrap();
    id.parse().unwrap()
}

#[tokio::test]
async fn reports_that_arrive_together_are_each_recorded_in_order() {
    let app = app(SmsProvider::Kannel).await;
    let id = declare(&app).await;
    let urls: Vec<String> = [0, 2, 4]
        .into_iter()
        .map(|i| {
            let m = app.sms.messages_to(&Town::phone(i)).remove(0);
            local(&app, m.status_url.as_ref().unwrap())
        })
        .collect();
    // All three at once, as a gateway reporting a fan-out does: each answered
    // only once written, each with its own outcome.
    let answers = futures::future::join_all([
        get(&kannel_report(&urls[0], 1, "id:1 stat:DELIVRD err:000")),
        get(&kannel_report(&urls[1], 2, "id:2 stat:UNDELIV err:001")),
        get(&kannel_report(&urls[2], 1, "id:3 stat:DELIVRD err:000")),
    ])
    .await;
    let answers: Vec<(u16, &str)> = answers.iter().map(|(s, b)| (*s, b.as_str())).collect();
    assert_eq!(
        answers,
        [(200, "delivered"), (200, "failed"), (200, "delivered")]
    );
    assert_eq!(app.delivery_count(id, "sms", "delivered").await, 2);
    assert_eq!(app.delivery_count(id, "sms", "failed").await, 1);

    // One batch holding two reports for the same delivery applies them in
    // order (a later report wins), and says which matched no sent delivery.
    let (t0, t2) = (report_id(&urls[0]), report_id(&urls[1]));
    let at = app.now();
    let receipt = |delivery_id, delivered, reason| herald::store::Receipt {
        delivery_id,
        provider_message_id: None,
        delivered,
        reason,
        at,
    };
    let recorded = app
        .state()
        .store
        .record_receipts(&[
            receipt(t0, false, Some("first")),
            receipt(t2, true, None),
            receipt(t0, false, Some("expired at the SMSC")),
            receipt(i64::MAX, true, None),
        ])
        .await
        .unwrap();
    assert_eq!(recorded, [true, true, true, false]);
    let failed = deliveries(&app, id, "failed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["destination"], Town::phone(0));
    assert_eq!(failed[0]["report"], "expired at the SMSC");
    assert_eq!(app.delivery_count(id, "sms", "delivered").await, 2);
}
