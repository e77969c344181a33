//! Several Herald nodes on one database (as behind a load balancer): what one
//! node changes, the others serve within a second; an address import through one
//! node is used by another's geo lookup; a provider rate limit holds for all
//! workers together, not for each. These are about processes sharing a
//! database in real time, so the nodes run live (system clock, running workers).

mod support;

use std::time::{Duration, Instant};

use herald::app::Server;
use herald::config::Config;
use serde_json::json;
use support::app::{TestApp, Town};

const WAIT: Duration = Duration::from_secs(20);

/// Another node on the app's database and providers.
async fn node(app: &TestApp, adjust: impl FnOnce(&mut Config)) -> Server {
    let mut config = app.config.clone();
    config.database_url = Some(app.config.database_url().into());
    adjust(&mut config);
    Server::start(config).await.expect("second node starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_node_is_served_by_another_within_a_second() {
    let app = TestApp::spawn_live(|_| {}).await;
    app.import_town(&Town).await;
    let b = node(&app, |c| c.run_workers = false).await;
    let http = reqwest::Client::new();
    let status = |base: String| {
        let http = http.clone();
        async move {
            http.get(format!("{base}/ivr/v1/status?postcode=1111&format=json"))
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let b_base = format!("http://{}", b.addr);
    // B has answered (and cached) the quiet state before anything happens.
    assert_eq!(status(b_base.clone()).await["affected"], false);

    for round in 0..3 {
        let outage = app
            .declare(&app.water_outage(Town::rect(round, round, 0, 0)))
            .await;
        let reference = outage["reference"].as_str().unwrap().to_string();
        support::within(Duration::from_secs(1), || async {
            let answer = status(b_base.clone()).await;
            match answer.to_string().contains(&reference) {
                true => Ok(()),
                false => Err(format!("node B does not show {reference}: {answer}")),
            }
        })
        .await;
        // The status page too.
        let page = http
            .get(format!("{b_base}/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains(&reference),
            "home page on B lacks {reference}"
        );
    }
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn addresses_imported_through_one_node_are_found_by_another() {
    let app = TestApp::spawn_live(|_| {}).await;
    app.import_town(&Town).await;
    let b = node(&app, |c| c.run_workers = false).await;
    let b_base = format!("http://{}", b.addr);
    // A new street east of the town, imported through B.
    let csv = "external_id,street,house_number,postcode,settlement,lon,lat\n\
               N1,Új utca,1,1112,Budapest,19.0500,47.0000\n\
               N2,Új utca,2,1112,Budapest,19.0510,47.0000\n";
    let r = reqwest::Client::new()
        .post(format!("{b_base}/api/v1/addresses/import"))
        .bearer_auth(&app.token)
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A (which built its index before) finds them.
    let area = json!({"type": "Polygon", "coordinates": [[[19.049, 46.999], [19.052, 46.999],
        [19.052, 47.001], [19.049, 47.001], [19.049, 46.999]]]});
    let outage = app.declare(&app.water_outage(area)).await;
    assert_eq!(outage["affected_addresses"], 2, "{outage}");
    b.stop().await;
}

/// Node B answers callers from its in-memory caller map; a number imported
/// through A, and its opt-out, reach B's answers within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_imported_or_opted_out_through_one_node_is_known_to_another() {
    let app = TestApp::spawn_live(|c| c.run_workers = false).await;
    app.import_town(&Town).await;
    app.declare(&app.water_outage(Town::rect(0, 1, 0, 0))).await;
    let b = node(&app, |c| c.run_workers = false).await;
    let ask_b = |q: &'static str| {
        let url = format!("http://{}/ivr/v1/status?{q}", b.addr);
        let token = app.ivr_token.clone();
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let newcomer = "phone=%2B36209990001&format=vxml";
    let before = ask_b(newcomer).await;
    assert!(!before.contains("dtmf=\"2\""), "unknown: {before}");
    let (s, v) = app
        .post_body(
            "/api/v1/contacts/import",
            "address_external_id,channel,destination,language\nT1,sms,+36209990001,en\n",
        )
        .await;
    assert_eq!(s, 200, "{v}");
    support::within(Duration::from_secs(1), || async {
        let answer = ask_b(newcomer).await;
        match answer.contains("dtmf=\"2\"") {
            true => Ok(()),
            false => Err(format!("B does not know the imported number: {answer}")),
        }
    })
    .await;
    // Opting out through A withdraws the SMS offer on B; the caller still
    // hears the status.
    let token = app.unsubscribe_token("+36209990001").await;
    app.one_click_unsubscribe(&app.url(&format!("/unsubscribe/{token}")))
        .await;
    support::within(Duration::from_secs(1), || async {
        let answer = ask_b(newcomer).await;
        match answer.contains("dtmf=\"2\"") {
            false if answer.contains("Water outage") => Ok(()),
            _ => Err(format!("B still offers an SMS after the opt-out: {answer}")),
        }
    })
    .await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_rate_limit_holds_for_all_workers_together() {
    // 20 SMS/s for the account; two worker nodes each configured with it.
    let app = TestApp::spawn_live(|c| c.sms.rate_per_sec = 20).await;
    app.import_town(&Town).await;
    let b = node(&app, |c| c.sms.rate_per_sec = 20).await;
    let started = Instant::now();
    let outage = app.declare(&app.water_outage(Town::rect(0, 9, 0, 9))).await;
    assert_eq!(outage["contacts"]["sms"], 50);
    app.sms.wait_for_count(50, WAIT).await.unwrap();
    let took = started.elapsed();
    // 50 messages at 20/s with a burst of 2: at least 2.4 s. Two workers each
    // applying the limit on their own (40/s) would finish in about half that.
    assert!(
        took >= Duration::from_millis(2_300),
        "50 SMS in {took:?}: the limit did not hold across workers"
    );
    app.wait_until_idle(WAIT).await;
    assert_eq!(app.sms.count(), 50, "each message once");
    b.stop().await;
}

/// SQLite lets one process write at a time. While another process holds the
/// lock (a worker's fan-out), this node's writers queue behind it; its reads
/// (the published version, a token) must not queue behind them. They did when
/// every writer waited on the lock holding one of the pool's connections: a
/// storm's delivery reports took them all, and every page and IVR answer waited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_on_while_writers_queue_behind_another_process_lock() {
    let app = TestApp::spawn().await;
    if app.on_postgres() {
        return; // PostgreSQL writers lock rows, not the database.
    }
    let mut other = app.db().await;
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    // More writers than the pool has connections, all waiting for the lock.
    let writers: Vec<_> = (0..20)
        .map(|_| {
            let store = app.state().store.clone();
            tokio::spawn(async move { store.forget_calls(chrono::Utc::now()).await })
        })
        .collect();
    // Read over and over while the writers start and queue (no wait for them
    // to get there: reads that always answer are the point). Behind queued
    // writers, a read waited for the lock's whole busy timeout (10 s).
    for i in 0..500 {
        let read =
            tokio::time::timeout(Duration::from_secs(5), app.state().store.published()).await;
        assert!(
            matches!(read, Ok(Ok(_))),
            "read {i} waited behind the writers: {read:?}"
        );
        tokio::task::yield_now().await;
    }
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    for writer in writers {
        writer
            .await
            .unwrap()
            .expect("each writer ran once the lock was free");
    }
}
