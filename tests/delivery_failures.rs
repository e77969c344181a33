//! Delivery under failure: a relay that is down, a throttling SMS gateway, refusals
//! that retrying cannot fix, a provider that keeps failing, and a worker that dies
//! mid-fan-out.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use herald::config::SmsProvider;
use serde_json::Value;
use support::app::{TestApp, Town};

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_down_for_a_while_then_everything_arrives() {
    let app = TestApp::spawn_with(|c| {
        c.delivery.max_attempts = 20;
        c.delivery.retry_max_ms = 400;
    })
    .await;
    app.import_town(&Town).await;
    app.smtp.set_down(true);
    let id = app.declare(&app.water_outage(Town::rect(0, 3, 0, 0))).await["id"]
        .as_i64()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.smtp.count(), 0);
    let (_, v) = app
        .get_json(&format!("/api/v1/outages/{id}/deliveries?state=pending"))
        .await;
    let pending = v["deliveries"].as_array().unwrap();
    assert!(!pending.is_empty());
    assert!(
        pending.iter().any(|d| d["attempts"].as_i64().unwrap() >= 2),
        "{v}"
    );
    assert!(
        pending[0]["last_error"].as_str().unwrap().contains("SMTP"),
        "{v}"
    );
    app.smtp.set_down(false);
    app.smtp.wait_for_count(4, WAIT).await.unwrap();
    app.wait_until_idle(WAIT).await;
    for i in 0..4 {
        assert_eq!(app.smtp.messages_to(&Town::email(i)).len(), 1);
    }
    assert_eq!(app.delivery_count(id, "email", "sent").await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_gateway_429_retry_after_is_honoured() {
    for provider in [SmsProvider::Kannel, SmsProvider::Twilio] {
        let app = TestApp::spawn_with(|c| c.sms.provider = provider).await;
        app.import_town(&Town).await;
        app.sms.throttle_next(1, 2);
        app.declare(&app.water_outage(Town::rect(0, 0, 0, 0))).await; // address 0: one SMS
        app.sms.wait_for_count(1, WAIT).await.unwrap();
        let times = app.sms.request_times_to(&Town::phone(0));
        assert_eq!(
            times.len(),
            2,
            "{provider:?}: one throttled request, one accepted"
        );
        let gap = times[1].duration_since(times[0]);
        assert!(
            gap >= Duration::from_millis(1900),
            "{provider:?}: retried after {gap:?}, asked for 2 s"
        );
        assert_eq!(app.sms.messages_to(&Town::phone(0)).len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_refusals_are_dead_at_once_and_persistent_failures_after_n_attempts() {
    let app = TestApp::spawn_with(|c| c.sms.provider = SmsProvider::Twilio).await;
    app.import_town(&Town).await;
    // A mailbox that does not exist: 550 is final, no retry.
    app.smtp
        .reject_recipient(&Town::email(0), 550, "5.1.1 No such user");
    // A number the gateway refuses as invalid (Twilio 21211): final, no retry.
    app.sms.reject_number(&Town::phone(0), 400, 21211);
    // A gateway that keeps failing for one number (transient 500s): retried, then dead.
    app.sms.reject_number(&Town::phone(2), 500, 20500);
    let id = app.declare(&app.water_outage(Town::rect(0, 2, 0, 0))).await["id"]
        .as_i64()
        .unwrap();
    app.wait_until_idle(WAIT).await;

    let (s, v) = app
        .get_json(&format!("/api/v1/outages/{id}/deliveries?state=dead"))
        .await;
    assert_eq!(s, 200);
    let dead: HashMap<String, Value> = v["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["destination"].as_str().unwrap().to_string(), d.clone()))
        .collect();
    assert_eq!(dead.len(), 3, "{v}");
    let mailbox = &dead[&Town::email(0)];
    assert_eq!(mailbox["attempts"], 1);
    assert!(
        mailbox["last_error"].as_str().unwrap().contains("550"),
        "{mailbox}"
    );
    assert_eq!(dead[&Town::phone(0)]["attempts"], 1);
    assert_eq!(
        dead[&Town::phone(2)]["attempts"],
        app.config.delivery.max_attempts
    );
    assert!(dead[&Town::phone(2)]["last_error"]
        .as_str()
        .unwrap()
        .contains("gave up after"));
    // Everyone else got theirs.
    assert_eq!(app.smtp.messages_to(&Town::email(1)).len(), 1);
    assert_eq!(app.smtp.messages_to(&Town::email(2)).len(), 1);
    let (_, v) = app.get_json(&format!("/api/v1/outages/{id}")).await;
    assert_eq!(v["deliveries"]["email"]["dead"], 1);
    assert_eq!(v["deliveries"]["sms"]["dead"], 2);
    assert_eq!(v["deliveries"]["email"]["sent"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_killed_mid_fanout_then_restarted_loses_nothing() {
    let app = TestApp::spawn_with(|c| {
        c.run_workers = false;
        c.email.rate_per_sec = 40;
        c.delivery.lease_ms = 1_000;
    })
    .await;
    app.import_town(&Town).await;
    let v = app.declare(&app.water_outage(Town::rect(0, 9, 0, 9))).await;
    assert_eq!(v["contacts"]["email"], 100);
    let id = v["id"].as_i64().unwrap();

    let first = app.state().dispatcher().await.unwrap().start();
    app.smtp.wait_for_count(20, WAIT).await.unwrap();
    first.abort(); // as a crash: no outcome recorded for the batch in hand
    let sent_before = app.smtp.count();
    assert!(sent_before < 100, "the crash must come mid-fan-out");
    let (_, v) = app.get_json(&format!("/api/v1/outages/{id}")).await;
    let in_flight = v["deliveries"]["email"]["sending"].as_i64().unwrap_or(0);

    let second = app.state().dispatcher().await.unwrap().start();
    app.wait_until_idle(WAIT).await;
    second.stop().await;
    let mut duplicates = 0;
    for i in 0..100 {
        let n = app.smtp.messages_to(&Town::email(i)).len();
        assert!(n >= 1, "address {i} lost its message");
        duplicates += n - 1;
    }
    assert!(
        duplicates as i64 <= in_flight,
        "{duplicates} duplicates > {in_flight} in flight"
    );
    assert_eq!(app.delivery_count(id, "email", "sent").await, 100);
    assert_eq!(app.delivery_count(id, "sms", "sent").await, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_cancelled_while_waiting_for_the_lock_leaves_no_lock_behind() {
    let app = TestApp::spawn().await;
    app.import_town(&Town).await;
    // Another writer holds the lock a declaration needs: SQLite's write lock, or
    // on PostgreSQL the published-version row every declaration updates.
    let mut other = app.db().await;
    sqlx::query("BEGIN").execute(&mut other).await.unwrap();
    let lock = if app.on_postgres() {
        "SELECT value FROM meta WHERE key = 'outages_version' FOR UPDATE"
    } else {
        "UPDATE meta SET value = value WHERE key = 'outages_version'"
    };
    sqlx::query(lock).execute(&mut other).await.unwrap();
    // A declaration waits for the lock and its future is dropped mid-wait.
    let body = app.water_outage(Town::rect(0, 0, 0, 0));
    let waiting = tokio::time::timeout(
        Duration::from_millis(300),
        herald::outages::declare(app.state(), &body, None),
    )
    .await;
    assert!(
        waiting.is_err(),
        "the declaration should still be waiting for the lock"
    );
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    // Writes go through again; none stays blocked behind a leaked transaction.
    for _ in 0..3 {
        let (s, v) = tokio::time::timeout(
            Duration::from_secs(5),
            app.post_json("/api/v1/outages", &app.water_outage(Town::rect(1, 1, 0, 0))),
        )
        .await
        .expect("the database must not stay locked");
        assert_eq!(s, 201, "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_worker_releases_what_it_has_not_sent() {
    // 5 SMS/s: a claim takes two seconds' worth (10 SMS), more than the worker
    // sends before it is told to stop; the long lease would keep them from
    // anyone else for a minute if they were not released.
    let app = TestApp::spawn_with(|c| {
        c.run_workers = false;
        c.sms.rate_per_sec = 5;
        c.delivery.lease_ms = 60_000;
    })
    .await;
    app.import_town(&Town).await;
    let v = app.declare(&app.water_outage(Town::rect(0, 9, 0, 9))).await;
    let id = v["id"].as_i64().unwrap();
    let worker = app.state().dispatcher().await.unwrap().start();
    app.sms.wait_for_count(3, WAIT).await.unwrap();
    let stopping = std::time::Instant::now();
    worker.stop().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(3),
        "stop waited {:?}: it should not send the rest of the batch first",
        stopping.elapsed()
    );
    let sent = app.sms.count() as i64;
    assert!(sent < 50, "stopped mid-fan-out");
    // Nothing is left claimed: what was sent is recorded, the rest is queued
    // again with its attempt not counted.
    let (_, v) = app.get_json(&format!("/api/v1/outages/{id}")).await;
    assert_eq!(v["deliveries"]["sms"]["sending"], Value::Null, "{v}");
    assert_eq!(v["deliveries"]["sms"]["sent"], sent, "{v}");
    assert_eq!(v["deliveries"]["sms"]["pending"], 50 - sent, "{v}");
    let (_, pending) = app
        .get_json(&format!("/api/v1/outages/{id}/deliveries?state=pending"))
        .await;
    let mut released = 0;
    for d in pending["deliveries"].as_array().unwrap() {
        if d["channel"] == "sms" {
            assert_eq!(d["attempts"], 0, "{d}");
            if d["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("stopping"))
            {
                released += 1;
            }
        }
    }
    assert!(
        released > 0,
        "claimed but unsent SMS were released: {pending}"
    );
    // The next worker sends the rest, each once.
    let next = app.state().dispatcher().await.unwrap().start();
    app.wait_until_idle(Duration::from_secs(30)).await;
    next.stop().await;
    assert_eq!(app.sms.count(), 50);
}
