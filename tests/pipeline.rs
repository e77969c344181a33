//! The core pipeline end to end: declare → affected addresses → one e-mail and one
//! SMS per contact inside, none outside; updates, supersession, restore; consent;
//! idempotency; authentication.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use chrono::Duration as ChronoDuration;
use serde_json::{json, Value};
use support::app::{TestApp, Town};

fn email_counts(app: &TestApp) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for e in app.smtp.messages() {
        for to in &e.to {
            *m.entry(to.clone()).or_default() += 1;
        }
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declare_update_restore_reach_exactly_the_area() {
    let app = TestApp::spawn().await;
    app.import_town(&Town).await;
    let inside = Town::inside(2, 5, 3, 6);
    let sms_inside: Vec<usize> = inside
        .iter()
        .copied()
        .filter(|i| Town::has_sms(*i))
        .collect();

    // Preview counts without storing or sending anything.
    let (s, preview) = app
        .post_json(
            "/api/v1/outages/preview",
            &app.water_outage(Town::rect(2, 5, 3, 6)),
        )
        .await;
    assert_eq!(s, 200, "{preview}");
    assert_eq!(preview["affected_addresses"], 16);
    assert_eq!(preview["contacts"]["email"], 16);
    assert_eq!(preview["contacts"]["sms"], sms_inside.len());
    assert_eq!(
        app.get_json("/api/v1/outages").await.1["outages"],
        json!([])
    );

    let mut body = app.water_outage(Town::rect(2, 5, 3, 6));
    body["etr"] = json!(app.tomorrow_at(10, 0));
    let v = app.declare(&body).await;
    assert_eq!(v["affected_addresses"], 16);
    assert_eq!(v["revision"], 1);
    assert_eq!(v["contacts"]["email"], 16);
    assert_eq!(v["contacts"]["sms"], sms_inside.len());
    let id = v["id"].as_i64().unwrap();
    let reference = v["reference"].as_str().unwrap().to_string();

    let r = app.drain().await;
    assert_eq!((r.email.sent, r.sms.sent), (16, sms_inside.len() as u64));
    assert_eq!(
        r.email.total() + r.sms.total(),
        16 + sms_inside.len() as u64
    );
    let counts = email_counts(&app);
    for i in 0..Town::N * Town::N {
        let expected = usize::from(inside.contains(&i));
        assert_eq!(
            counts.get(&Town::email(i)).copied().unwrap_or(0),
            expected,
            "email to address {i}"
        );
        let sms = app.sms.messages_to(&Town::phone(i)).len();
        assert_eq!(
            sms,
            usize::from(sms_inside.contains(&i)),
            "sms to address {i}"
        );
    }
    // Content: reference, language, unsubscribe headers.
    let hu = app.smtp.messages_to(&Town::email(inside[0])).remove(0);
    let subject = hu.subject();
    assert!(subject.contains(&reference), "{subject}");
    let text = hu.text_body();
    assert!(
        text.contains("holnap 10:00-kor")
            || text.contains("jutro o 10:00")
            || text.contains("tomorrow at 10:00"),
        "{text}"
    );
    assert!(hu.html_body().contains(&reference));
    assert!(hu
        .header("List-Unsubscribe")
        .unwrap()
        .contains("/unsubscribe/"));
    assert_eq!(
        hu.header("List-Unsubscribe-Post").unwrap().trim(),
        "List-Unsubscribe=One-Click"
    );
    assert!(hu.header("Message-ID").is_some() && hu.header("Date").is_some());
    let sms = app.sms.messages_to(&Town::phone(sms_inside[0])).remove(0);
    assert!(sms.text.contains(&reference), "{}", sms.text);

    // ETR update: exactly one update each.
    let (s, v) = app
        .patch_json(
            &format!("/api/v1/outages/{id}"),
            &json!({"etr": app.tomorrow_at(14, 45)}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["revision"], 2);
    assert_eq!(v["contacts"]["email"], 16);
    let r = app.drain().await;
    assert_eq!((r.email.sent, r.sms.sent), (16, sms_inside.len() as u64));
    for i in &inside {
        let mails = app.smtp.messages_to(&Town::email(*i));
        assert_eq!(mails.len(), 2, "address {i}");
        assert!(
            mails[1].text_body().contains("14:45"),
            "{}",
            mails[1].text_body()
        );
    }

    // Re-sending the same values changes nothing and sends nothing.
    let (s, v) = app
        .patch_json(
            &format!("/api/v1/outages/{id}"),
            &json!({"etr": app.tomorrow_at(14, 45)}),
        )
        .await;
    assert_eq!((s, v["changed"].as_bool()), (200, Some(false)));

    // Restore: one "restored" each.
    let (s, v) = app
        .post_json(&format!("/api/v1/outages/{id}/restore"), &json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "restored");
    let r = app.drain().await;
    assert_eq!((r.email.sent, r.sms.sent), (16, sms_inside.len() as u64));
    // Nothing else is due, now or later.
    assert_eq!(app.drain().await, Default::default());
    assert_eq!(
        app.advance_and_drain(Duration::from_secs(3600))
            .await
            .sent(),
        0
    );
    assert_eq!(app.smtp.count(), 48);
    assert_eq!(app.sms.count(), 3 * sms_inside.len());
    let last = app.smtp.messages_to(&Town::email(inside[3])).pop().unwrap();
    assert!(last.subject().contains(&reference));

    // A second restore is refused; history and counts are visible.
    let (s, _) = app
        .post_json(&format!("/api/v1/outages/{id}/restore"), &json!({}))
        .await;
    assert_eq!(s, 409);
    let (_, v) = app.get_json(&format!("/api/v1/outages/{reference}")).await;
    assert_eq!(v["revisions"].as_array().unwrap().len(), 3);
    assert_eq!(v["deliveries"]["email"]["sent"], 48);
    assert_eq!(v["deliveries"]["sms"]["sent"], 3 * sms_inside.len());
    let (_, v) = app
        .get_json(&format!("/api/v1/outages?reference={reference}"))
        .await;
    assert_eq!(v["outages"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_messages_carry_the_newest_state_once_and_stop_at_restore() {
    let app = TestApp::spawn().await;
    app.import_town(&Town).await;
    let inside = Town::inside(0, 9, 0, 4);
    let phones: Vec<String> = inside
        .iter()
        .filter(|i| Town::has_sms(**i))
        .map(|i| Town::phone(*i))
        .collect();
    // The gateway turns the first 5 SMS away for a second: those declarations are
    // still queued when the ETR changes.
    const THROTTLED: usize = 5;
    app.sms.throttle_next(THROTTLED as u32, 1);
    let mut body = app.water_outage(Town::rect(0, 9, 0, 4));
    body["etr"] = json!(app.tomorrow_at(10, 0));
    let id = app.declare(&body).await["id"].as_i64().unwrap();
    let r = app.drain().await;
    assert_eq!(r.sms.sent as usize, phones.len() - THROTTLED, "{r:?}");
    assert_eq!(r.sms.retried as usize, THROTTLED, "{r:?}");
    let (s, _) = app
        .patch_json(
            &format!("/api/v1/outages/{id}"),
            &json!({"etr": app.tomorrow_at(14, 45)}),
        )
        .await;
    assert_eq!(s, 200);
    // Those told 10:00 get the update now. The rest get no update queued (their
    // declaration is still pending): it goes out at its retry, a second later,
    // carrying 14:45 itself.
    let r = app.drain().await;
    assert_eq!(r.sms.sent as usize, phones.len() - THROTTLED, "{r:?}");
    assert_eq!(r.sms.total(), r.sms.sent, "{r:?}");
    let r = app.advance_and_drain(Duration::from_millis(999)).await;
    assert_eq!(r.sms.total(), 0, "the retry is not due yet: {r:?}");
    let r = app.advance_and_drain(Duration::from_millis(1)).await;
    assert_eq!(
        (r.sms.sent as usize, r.sms.total()),
        (THROTTLED, r.sms.sent),
        "{r:?}"
    );
    assert_eq!(
        app.advance_and_drain(Duration::from_secs(60)).await.sent(),
        0
    );
    // Everyone ends up knowing 14:45 exactly once.
    let mut told_once = 0;
    for phone in &phones {
        let texts: Vec<String> = app
            .sms
            .messages_to(phone)
            .into_iter()
            .map(|m| m.text)
            .collect();
        let newest = texts.iter().filter(|t| t.contains("14:45")).count();
        assert_eq!(newest, 1, "{phone}: {texts:?}");
        match texts.len() {
            1 => told_once += 1,
            2 => assert!(texts[0].contains("10:00"), "{texts:?}"),
            _ => panic!("{phone}: {texts:?}"),
        }
    }
    assert_eq!(told_once, THROTTLED);
    assert_eq!(
        app.delivery_count(id, "sms", "sent").await as usize,
        2 * phones.len() - THROTTLED
    );

    // Declare again elsewhere and restore before anything went out: the
    // declarations are withdrawn, and nobody is told it is over.
    let other = Town::inside(0, 9, 5, 9);
    let id2 = app.declare(&app.water_outage(Town::rect(0, 9, 5, 9))).await["id"]
        .as_i64()
        .unwrap();
    let (s, _) = app
        .post_json(&format!("/api/v1/outages/{id2}/restore"), &json!({}))
        .await;
    assert_eq!(s, 200);
    let before = app.sms.count();
    let r = app.drain().await;
    assert_eq!(r.sent(), 0, "{r:?}");
    // "Restored" is queued only for contacts already told (or being told): none.
    let sms_contacts = other.iter().filter(|i| Town::has_sms(**i)).count() as i64;
    assert_eq!(
        app.delivery_count(id2, "sms", "superseded").await,
        sms_contacts
    );
    for i in other.iter().filter(|i| Town::has_sms(**i)) {
        assert!(app.sms.messages_to(&Town::phone(*i)).is_empty());
    }
    assert_eq!(
        app.advance_and_drain(Duration::from_secs(60)).await.sent(),
        0
    );
    assert_eq!(
        app.sms.count(),
        before,
        "nothing may be sent after the restore settled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn area_change_declares_to_new_and_withdraws_from_old() {
    let app = TestApp::spawn().await;
    app.import_town(&Town).await;
    let v = app.declare(&app.water_outage(Town::rect(0, 1, 0, 0))).await; // addresses 0, 1
    let id = v["id"].as_i64().unwrap();
    app.drain().await;
    assert_eq!(app.smtp.count(), 2);
    let (s, v) = app
        .patch_json(
            &format!("/api/v1/outages/{id}"),
            &json!({"area": Town::rect(1, 2, 0, 0)}),
        )
        .await; // now 1 and 2
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["affected_addresses"], 2);
    app.drain().await;
    let subjects = |i: usize| -> Vec<String> {
        app.smtp
            .messages_to(&Town::email(i))
            .iter()
            .map(|m| m.subject())
            .collect()
    };
    assert_eq!(
        subjects(0).len(),
        2,
        "address 0 is told it is no longer affected"
    );
    assert!(
        subjects(0)[1].contains("No longer affected") || subjects(0)[1].contains("Már nem érinti"),
        "{:?}",
        subjects(0)
    );
    assert_eq!(
        subjects(1).len(),
        1,
        "address 1: no news for an area-only change"
    );
    assert_eq!(subjects(2).len(), 1, "address 2 gets the declaration");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_declare_and_authentication() {
    let app = TestApp::spawn().await;
    app.import_town(&Town).await;
    let body = app.water_outage(Town::rect(0, 0, 0, 0));
    let send = |key: &'static str, body: Value| {
        app.http
            .post(app.url("/api/v1/outages"))
            .bearer_auth(&app.token)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first = send("k-1", body.clone()).await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = send("k-1", body.clone()).await.unwrap();
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["reference"], first["reference"]);
    assert_eq!(again["contacts"], first["contacts"]);
    let mut changed = body.clone();
    changed["cause"] = json!("Something else");
    let reused = send("k-1", changed).await.unwrap();
    assert_eq!(reused.status(), 422);
    let v: Value = reused.json().await.unwrap();
    assert_eq!(v["error"]["field"], "Idempotency-Key");
    assert_eq!(
        app.get_json("/api/v1/outages").await.1["outages"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.drain().await;
    assert_eq!(app.smtp.messages_to(&Town::email(0)).len(), 1);

    // No token, a wrong token: 401 naming the Authorization header, nothing stored.
    let r = app
        .http
        .post(app.url("/api/v1/outages"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["field"], "Authorization");
    let r = app
        .http
        .get(app.url("/api/v1/outages"))
        .bearer_auth("hrld_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        app.get_json("/api/v1/outages").await.1["outages"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opted_out_contact_gets_nothing_even_after_reimport() {
    let app = TestApp::spawn().await;
    app.import_town(&Town).await;
    let id = app.declare(&app.water_outage(Town::rect(0, 1, 0, 0))).await["id"]
        .as_i64()
        .unwrap();
    app.drain().await;
    assert_eq!(app.smtp.count(), 2);
    let mail = app.smtp.messages_to(&Town::email(0)).remove(0);
    let header = mail.header("List-Unsubscribe").unwrap();
    let url = header
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string();
    app.one_click_unsubscribe(&url).await;
    // The page a resident would see on GET now says they are unsubscribed.
    let (_, page) = app.get_page(&url).await;
    assert!(page.contains(&Town::email(0)), "{page}");
    app.post_json(&format!("/api/v1/outages/{id}/restore"), &json!({}))
        .await;
    app.drain().await;
    // Address 0's e-mail got no "restored"; address 1's did.
    assert_eq!(app.smtp.messages_to(&Town::email(0)).len(), 1);
    assert_eq!(app.smtp.messages_to(&Town::email(1)).len(), 2);

    // Re-importing the contacts must not re-subscribe anyone.
    app.import_town(&Town).await;
    app.declare(&app.water_outage(Town::rect(0, 1, 0, 0))).await;
    app.drain().await;
    assert_eq!(app.smtp.messages_to(&Town::email(0)).len(), 1);
    assert_eq!(app.smtp.messages_to(&Town::email(1)).len(), 3);
    // Its SMS contact is a separate consent and still receives.
    assert_eq!(app.sms.messages_to(&Town::phone(0)).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planned_work_is_announced_starts_on_time_and_can_be_cancelled() {
    let app = TestApp::spawn().await;
    app.import_town(&Town).await;
    let starts = app.now() + ChronoDuration::milliseconds(1500);
    let body = json!({
        "utility": "power",
        "kind": "planned",
        "cause": "Transformer replacement",
        "starts_at": starts.to_rfc3339(),
        "etr": (starts + ChronoDuration::hours(4)).to_rfc3339(),
        "area": Town::rect(0, 2, 0, 0),
    });
    let v = app.declare(&body).await;
    assert_eq!(v["status"], "scheduled");
    let id = v["id"].as_i64().unwrap();
    app.drain().await;
    assert_eq!(app.smtp.count(), 3);
    let planned = app.smtp.messages_to(&Town::email(2)).remove(0); // address 2 reads English
    assert!(
        planned.subject().starts_with("Planned power cut"),
        "{}",
        planned.subject()
    );
    assert!(
        planned.text_body().contains("Work is planned"),
        "{}",
        planned.text_body()
    );

    // Housekeeping starts it on time, not a millisecond before, as a new
    // revision without messages.
    let r = app.advance_and_drain(Duration::from_millis(1499)).await;
    assert!(r.outages_started.is_empty(), "{r:?}");
    let (_, v) = app.get_json(&format!("/api/v1/outages/{id}")).await;
    assert_eq!(v["status"], "scheduled", "{v}");
    let r = app.advance_and_drain(Duration::from_millis(1)).await;
    assert_eq!(r.outages_started, vec![id]);
    assert_eq!(r.sent(), 0, "{r:?}");
    let (_, v) = app.get_json(&format!("/api/v1/outages/{id}")).await;
    assert_eq!(v["status"], "active", "{v}");
    assert_eq!(v["revisions"][1]["change"], "started");
    assert_eq!(app.smtp.count(), 3);

    let (s, v) = app
        .post_json(&format!("/api/v1/outages/{id}/cancel"), &json!({}))
        .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("cancelled")));
    app.drain().await;
    assert_eq!(app.smtp.count(), 6);
    let cancelled = app.smtp.messages_to(&Town::email(2)).pop().unwrap();
    assert!(
        cancelled.subject().starts_with("Cancelled"),
        "{}",
        cancelled.subject()
    );
    assert!(cancelled
        .text_body()
        .contains("planned work affecting your address has been cancelled"));
    let (s, _) = app
        .patch_json(&format!("/api/v1/outages/{id}"), &json!({"cause": "late"}))
        .await;
    assert_eq!(s, 409, "a cancelled outage no longer changes");
}

/// Issue 10, item 3: stop means stop. A resident who opts out while their SMS
/// is already claimed (it waits in the batch behind a slow provider call) gets
/// nothing: the worker reads consent again just before the provider call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opt_out_stops_a_message_already_claimed() {
    let app = TestApp::spawn_with(|c| c.sms.concurrency = 1).await;
    app.import_town(&Town).await;
    // Addresses 0..=2: SMS contacts at 0 and 2, claimed in one batch.
    let id = app.declare(&app.water_outage(Town::rect(0, 2, 0, 0))).await["id"]
        .as_i64()
        .unwrap();
    let slow = app.sms.hold_next();
    let phones = [Town::phone(0), Town::phone(2)];
    let (report, waiting) = tokio::join!(app.drain(), async {
        // The first SMS is at the provider, the other one claimed behind it.
        let first = slow.arrived(Duration::from_secs(30)).await;
        let waiting = phones.iter().find(|p| **p != first).unwrap().clone();
        let token = app.unsubscribe_token(&waiting).await;
        app.one_click_unsubscribe(&app.url(&format!("/unsubscribe/{token}")))
            .await;
        slow.release();
        waiting
    });
    assert_eq!(
        (report.sms.sent, report.sms.suppressed),
        (1, 1),
        "{report:?}"
    );
    assert!(app.sms.messages_to(&waiting).is_empty());
    // It never reached the gateway at all.
    assert!(app.sms.request_times_to(&waiting).is_empty());
    let (_, v) = app
        .get_json(&format!("/api/v1/outages/{id}/deliveries?state=suppressed"))
        .await;
    let suppressed: Vec<&Value> = v["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["destination"] == waiting.as_str())
        .collect();
    assert_eq!(suppressed.len(), 1, "{v}");
    assert_eq!(suppressed[0]["last_error"], "contact opted out");
}
