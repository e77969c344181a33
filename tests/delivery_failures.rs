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
    // Every backoff (with its jitter) is at most this: advancing by it makes each
    // pending delivery due exactly once more.
    let backoff_cap = Duration::from_millis(app.config.delivery.retry_max_ms);
    app.import_town(&Town).await;
    app.smtp.set_down(true);
    let id = app.declare(&app.water_outage(Town::rect(0, 3, 0, 0))).await["id"]
        .as_i64()
        .unwrap();
    let r = app.drain().await;
    assert_eq!((r.email.sent, r.email.retried), (0, 4), "{r:?}");
    // Backoff: nothing is tried again before it is due.
    assert_eq!(app.drain().await.email.total(), 0);
    let r = app.advance_and_drain(backoff_cap).await;
    assert_eq!((r.email.sent, r.email.retried), (0, 4), "{r:?}");
    assert_eq!(app.smtp.count(), 0);
    let (_, v) = app
        .get_json(&format!("/api/v1/outages/{id}/deliveries?state=pending"))
        .await;
    let pending: Vec<&Value> = v["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["channel"] == "email")
        .collect();
    assert_eq!(pending.len(), 4, "{v}");
    for d in &pending {
        assert_eq!(d["attempts"], 2, "{d}");
        assert!(d["last_error"].as_str().unwrap().contains("SMTP"), "{d}");
    }
    app.smtp.set_down(false);
    let r = app.advance_and_drain(backoff_cap).await;
    assert_eq!(r.email.sent, 4, "{r:?}");
    for i in 0..4 {
        assert_eq!(app.smtp.messages_to(&Town::email(i)).len(), 1);
    }
    assert_eq!(app.delivery_count(id, "email", "sent").await, 4);
    let (_, v) = app
        .get_json(&format!("/api/v1/outages/{id}/deliveries?state=sent"))
        .await;
    for d in v["deliveries"].as_array().unwrap() {
        if d["channel"] == "email" {
            assert_eq!(d["attempts"], 3, "{d}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_gateway_429_retry_after_is_honoured() {
    for provider in [SmsProvider::Kannel, SmsProvider::Twilio] {
        let app = TestApp::spawn_with(|c| c.sms.provider = provider).await;
        app.import_town(&Town).await;
        app.sms.throttle_next(1, 2);
        app.declare(&app.water_outage(Town::rect(0, 0, 0, 0))).await; // address 0: one SMS
        let asked_at = app.now();
        let r = app.drain().await;
        assert_eq!((r.sms.sent, r.sms.retried), (0, 1), "{provider:?}: {r:?}");
        // The provider asked for 2 s, longer than the backoff: that wins.
        assert_eq!(
            r.sms.next_retry,
            Some(asked_at + chrono::Duration::seconds(2)),
            "{provider:?}"
        );
        let r = app.advance_and_drain(Duration::from_millis(1_999)).await;
        assert_eq!(r.sms.total(), 0, "{provider:?}: retried early: {r:?}");
        let r = app.advance_and_drain(Duration::from_millis(1)).await;
        assert_eq!(r.sms.sent, 1, "{provider:?}: {r:?}");
        assert_eq!(
            app.sms.request_times_to(&Town::phone(0)).len(),
            2,
            "{provider:?}: one throttled request, one accepted"
        );
        assert_eq!(app.sms.messages_to(&Town::phone(0)).len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_expire_at_their_ttl_not_before() {
    let app = TestApp::spawn_with(|c| c.delivery.ttl_minutes = 10).await;
    let ttl = Duration::from_secs(10 * 60);
    app.import_town(&Town).await;
    app.smtp.set_down(true);
    // Addresses 1 and 3: e-mail only.
    let a = app.declare(&app.water_outage(Town::rect(1, 1, 0, 0))).await["id"]
        .as_i64()
        .unwrap();
    let b = app.declare(&app.water_outage(Town::rect(3, 3, 0, 0))).await["id"]
        .as_i64()
        .unwrap();
    let r = app.drain().await;
    assert_eq!(r.email.retried, 2, "{r:?}");
    // At its expiry a message is still tried; the retry a failure asks for would
    // come after it, so it expires there, after that one more attempt.
    let r = app.advance_and_drain(ttl).await;
    assert_eq!((r.email.expired, r.email.total()), (2, 2), "{r:?}");
    let expired = |id: i64| {
        let app = &app;
        async move {
            let (_, v) = app
                .get_json(&format!("/api/v1/outages/{id}/deliveries?state=expired"))
                .await;
            v["deliveries"].as_array().unwrap().clone()
        }
    };
    let first = expired(a).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["attempts"], 2);
    let reason = first[0]["last_error"].as_str().unwrap();
    assert!(
        reason.starts_with("next attempt would be after the message expires; last error: ")
            && reason.contains("SMTP"),
        "{reason}"
    );

    // A message claimed after its expiry is not tried at all.
    app.smtp.set_down(false);
    let c = app.declare(&app.water_outage(Town::rect(5, 5, 0, 0))).await["id"]
        .as_i64()
        .unwrap();
    let r = app.advance_and_drain(ttl + Duration::from_millis(1)).await;
    assert_eq!((r.email.expired, r.email.total()), (1, 1), "{r:?}");
    let late = expired(c).await;
    assert_eq!(late.len(), 1);
    assert_eq!(late[0]["attempts"], 1);
    assert_eq!(late[0]["last_error"], "expired before it could be sent");
    assert_eq!(app.smtp.count(), 0);
    assert_eq!(expired(b).await.len(), 1);
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
    let max_attempts = app.config.delivery.max_attempts as i64;
    let backoff_cap = Duration::from_millis(app.config.delivery.retry_max_ms);
    let r = app.drain().await;
    assert_eq!(
        (r.email.dead, r.sms.dead, r.sms.retried),
        (1, 1, 1),
        "{r:?}"
    );
    // The transient failure is tried once per backoff, and given up on after
    // exactly `max_attempts`.
    for attempt in 2..max_attempts {
        let r = app.advance_and_drain(backoff_cap).await;
        assert_eq!(
            (r.sms.retried, r.sms.total()),
            (1, 1),
            "attempt {attempt}: {r:?}"
        );
        let (_, v) = app
            .get_json(&format!("/api/v1/outages/{id}/deliveries?state=pending"))
            .await;
        let pending = v["deliveries"].as_array().unwrap();
        assert_eq!(pending.len(), 1, "{v}");
        assert_eq!(pending[0]["destination"], Town::phone(2));
        assert_eq!(pending[0]["attempts"], attempt);
    }
    let r = app.advance_and_drain(backoff_cap).await;
    assert_eq!((r.sms.dead, r.sms.total()), (1, 1), "{r:?}");
    assert_eq!(app.advance_and_drain(backoff_cap).await, Default::default());

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
    assert_eq!(dead[&Town::phone(2)]["attempts"], max_attempts);
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

    // The first worker runs live (its loops, on the app's frozen clock) and is
    // killed once it is well into the fan-out: waiting here is for that task.
    let first = app.state().dispatcher().await.unwrap().start();
    app.smtp.wait_for_count(20, WAIT).await.unwrap();
    first.abort().await; // as a crash: no outcome recorded for the batch in hand
    let sent_before = app.smtp.count();
    assert!(sent_before < 100, "the crash must come mid-fan-out");

    // Another worker sends what was still queued, but leaves the dead one's
    // claims alone while their lease runs: to the millisecond. (What is in
    // flight is counted after this first drain: a claim the dead worker had
    // sent to the database just before it died may commit a moment later.)
    let lease = Duration::from_millis(app.config.delivery.lease_ms);
    let r = app.drain().await;
    assert_eq!(r.leases_released, 0, "{r:?}");
    let (_, v) = app.get_json(&format!("/api/v1/outages/{id}")).await;
    let in_flight = v["deliveries"]["email"]["sending"].as_i64().unwrap_or(0);
    let r = app.advance_and_drain(lease).await;
    assert_eq!(r.leases_released, 0, "the lease has not run out yet: {r:?}");
    let (_, v) = app.get_json(&format!("/api/v1/outages/{id}")).await;
    assert_eq!(
        v["deliveries"]["email"]["sending"].as_i64().unwrap_or(0),
        in_flight
    );
    let r = app.advance_and_drain(Duration::from_millis(1)).await;
    assert_eq!(r.leases_released as i64, in_flight, "{r:?}");
    assert!(r.email.sent as i64 >= in_flight, "{r:?}");
    // Whatever the 40/s limit still held back goes as its bucket refills.
    for _ in 0..10 {
        if app.delivery_count(id, "email", "sent").await == 100 {
            break;
        }
        app.advance_and_drain(Duration::from_secs(1)).await;
    }
    assert_eq!(app.drain().await, Default::default());
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
        herald::outages::declare(
            &app.state().outages(),
            &body,
            None,
            &herald::domain::audit::Actor::cli(),
        ),
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
    // The next worker sends the rest, each once (at the provider's 5/s: a drain
    // waits for the rate limit's tokens, which are real time).
    let r = app.drain().await;
    assert_eq!(
        (r.sms.sent as i64, r.sms.total()),
        (50 - sent, r.sms.sent),
        "{r:?}"
    );
    assert_eq!(app.sms.count(), 50);
}

/// Issue 10, item 4: a follow-up that waits for the contact's first message
/// (which another worker is still sending) does not spend its attempts waiting,
/// so after any number of waits one transient provider error still leaves it
/// retries, and the resident hears "restored".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_up_waits_for_the_first_message_without_spending_attempts() {
    use herald::domain::Channel;
    use herald::store::Completion;

    let app = TestApp::spawn().await;
    let max_attempts = app.config.delivery.max_attempts as i64;
    app.import_town(&Town).await;
    // Address 0 has an e-mail and an SMS contact.
    let id = app.declare(&app.water_outage(Town::rect(0, 0, 0, 0))).await["id"]
        .as_i64()
        .unwrap();
    // "Another worker" claims the SMS declaration and is slow to send it.
    let store = &app.state().store;
    let lease_until = app.now() + chrono::Duration::minutes(10);
    let held = store
        .claim(Channel::Sms, 1, app.now(), lease_until)
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    let (s, v) = app
        .post_json(&format!("/api/v1/outages/{id}/restore"), &Value::Null)
        .await;
    assert_eq!(s, 200, "{v}");
    // The "restored" SMS waits for the declaration, round after round: more
    // rounds than it has attempts.
    for round in 0..max_attempts + 2 {
        let r = app.advance_and_drain(Duration::from_secs(1)).await;
        assert_eq!((r.sms.deferred, r.sms.sent), (1, 0), "round {round}: {r:?}");
    }
    let restored = |v: &Value| -> Value {
        v["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["kind"] == "restored" && d["channel"] == "sms")
            .cloned()
            .expect("a restored SMS")
    };
    let (_, v) = app
        .get_json(&format!("/api/v1/outages/{id}/deliveries"))
        .await;
    let waiting = restored(&v);
    assert_eq!(waiting["state"], "pending", "{waiting}");
    assert_eq!(waiting["attempts"], 0, "waiting spent attempts: {waiting}");
    // The slow worker finishes the declaration; the gateway then fails once.
    store
        .complete(
            &[Completion::Sent {
                id: held[0].id,
                sent_revision: 1,
                provider_message_id: None,
                segments: Some(1),
            }],
            lease_until,
            app.now(),
        )
        .await
        .unwrap();
    app.sms.fail_next(1, 503);
    let r = app.advance_and_drain(Duration::from_secs(1)).await;
    assert_eq!((r.sms.retried, r.sms.sent), (1, 0), "{r:?}");
    let backoff_cap = Duration::from_millis(app.config.delivery.retry_max_ms);
    let r = app.advance_and_drain(backoff_cap).await;
    assert_eq!(r.sms.sent, 1, "{r:?}");
    let (_, v) = app
        .get_json(&format!("/api/v1/outages/{id}/deliveries"))
        .await;
    let sent = restored(&v);
    assert_eq!(sent["state"], "sent", "{sent}");
    assert_eq!(sent["attempts"], 2, "one failure, one success: {sent}");
    assert_eq!(app.sms.messages_to(&Town::phone(0)).len(), 1);
}

/// Issue 10, item 5: an unreachable Kannel gateway is a transient failure
/// whose recorded error names no URL, so neither its password nor the message
/// (both in Kannel's query string) reaches the database, the API or the logs
/// (captured at debug level for every crate).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_gateway_leaves_no_credentials_in_errors() {
    const PASSWORD: &str = "kannel-pw-s3cr3t";
    support::logs::capture();
    // A loopback port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = TestApp::spawn_with(|c| {
        c.sms.kannel.url = url.clone();
        c.sms.kannel.password = PASSWORD.into();
    })
    .await;
    app.import_town(&Town).await;
    let id = app.declare(&app.water_outage(Town::rect(0, 0, 0, 0))).await["id"]
        .as_i64()
        .unwrap();
    let r = app.drain().await;
    assert_eq!((r.sms.retried, r.sms.sent), (1, 0), "{r:?}");
    let (_, v) = app
        .get_json(&format!("/api/v1/outages/{id}/deliveries?state=pending"))
        .await;
    let body = v.to_string();
    let sms = v["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["channel"] == "sms")
        .cloned()
        .expect("the SMS waits for a retry");
    let error = sms["last_error"].as_str().unwrap();
    assert!(error.starts_with("SMS gateway unreachable"), "{error}");
    for secret in [PASSWORD, "sendsms", "password="] {
        assert!(!body.contains(secret), "the API shows {secret:?}: {body}");
    }
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT last_error FROM deliveries WHERE last_error IS NOT NULL")
            .fetch_all(&mut app.db().await)
            .await
            .unwrap();
    assert!(!stored.is_empty());
    for e in &stored {
        assert!(!e.contains(PASSWORD) && !e.contains("sendsms"), "{e}");
    }
    let logs = support::logs::captured();
    assert!(
        logs.contains("SMS gateway unreachable"),
        "the failure was logged: {logs}"
    );
    assert!(!logs.contains(PASSWORD), "a log line shows the password");
}

/// The example Kannel credentials are fine for a gateway on this machine; with
/// one elsewhere they are a mistake worth a warning at start-up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kannel_example_credentials_off_this_machine_are_warned_about() {
    support::logs::capture();
    let app = TestApp::spawn_with(|c| {
        c.sms.kannel.url = "http://sms-gw.utility.invalid:13013".into();
    })
    .await;
    app.drain().await;
    let logs = support::logs::captured();
    assert!(
        logs.contains("WARN")
            && logs.contains("example credentials (tester/foobar)")
            && logs.contains("sms-gw.utility.invalid"),
        "{logs}"
    );
    assert!(!logs.contains("foobar@"), "{logs}");
}
