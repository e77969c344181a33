//! Crash safety with real processes. Two `herald worker` processes send an
//! outage covering 20,000 contacts (10,000 addresses, e-mail and SMS each) to a
//! real SMTP conversation and a Kannel-protocol gateway; one worker is killed
//! with SIGKILL mid-fan-out and restarted, and on PostgreSQL the database server
//! is restarted too. Then the sinks are counted: nobody may be missing, and
//! duplicates may not exceed the deliveries in flight when the worker died.
//!
//! The numbers are printed and written to `target/crash-report-<backend>.txt`
//! (scripts/test shows them). The test command runs this on SQLite and on
//! PostgreSQL; the server restart needs `HERALD_TEST_POSTGRES_DIR` (set by
//! scripts/test), which names the cluster scripts/postgres started.

mod support;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use support::app::TestApp;

const SIDE: usize = 100; // SIDE × SIDE addresses
const LEASE_MS: u64 = 6_000;

fn addresses_csv() -> String {
    let mut s = String::from("external_id,street,house_number,postcode,settlement,lon,lat\n");
    for i in 0..SIDE * SIDE {
        let (c, r) = (i % SIDE, i / SIDE);
        s.push_str(&format!(
            "C{i},Crash utca,{},1111,Budapest,{:.5},{:.5}\n",
            i + 1,
            19.0 + c as f64 * 0.0005,
            47.0 + r as f64 * 0.0005
        ));
    }
    s
}

fn email(i: usize) -> String {
    format!("c{i}@crash.test")
}

fn phone(i: usize) -> String {
    format!("+3620{i:07}")
}

fn contacts_csv() -> String {
    let mut s = String::from("address_external_id,channel,destination,language\n");
    for i in 0..SIDE * SIDE {
        let lang = ["hu", "pl", "en"][i % 3];
        s.push_str(&format!("C{i},email,{},{lang}\n", email(i)));
        s.push_str(&format!("C{i},sms,{},{lang}\n", phone(i)));
    }
    s
}

/// A `herald worker` process on the app's database and providers.
struct Worker {
    child: Child,
}

impl Worker {
    fn start(app: &TestApp, log: &std::path::Path) -> Worker {
        let c = &app.config;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("worker log");
        let child = Command::new(env!("CARGO_BIN_EXE_herald"))
            .arg("worker")
            .current_dir(app.dir.path())
            .env("HERALD_DATABASE_URL", c.database_url())
            .env("HERALD_DATA_DIR", app.dir.path())
            .env("HERALD_PUBLIC_URL", c.public_url())
            .env("HERALD_EMAIL__TRANSPORT", "smtp")
            .env("HERALD_EMAIL__FROM", &c.email.from)
            .env("HERALD_EMAIL__SMTP__HOST", "127.0.0.1")
            .env("HERALD_EMAIL__SMTP__PORT", c.email.smtp.port.to_string())
            .env("HERALD_EMAIL__SMTP__TLS", "none")
            .env("HERALD_EMAIL__CONCURRENCY", "16")
            .env("HERALD_SMS__PROVIDER", "kannel")
            .env("HERALD_SMS__KANNEL__URL", &c.sms.kannel.url)
            .env("HERALD_SMS__CONCURRENCY", "16")
            .env("HERALD_DELIVERY__LEASE_MS", LEASE_MS.to_string())
            .env("HERALD_DELIVERY__BATCH_SIZE", "200")
            .env("HERALD_DELIVERY__POLL_INTERVAL_MS", "100")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start herald worker");
        Worker { child }
    }

    /// SIGKILL: no shutdown, no outcomes recorded, leases left behind.
    fn kill_9(&mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reap");
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn sent_so_far(app: &TestApp) -> usize {
    app.smtp.count() + app.sms.count()
}

async fn wait_until_sent(app: &TestApp, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while sent_so_far(app).await < n {
        assert!(Instant::now() < deadline, "fan-out stalled before {n}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Deliveries claimed and not yet finished, from the database.
async fn in_flight(app: &TestApp) -> i64 {
    loop {
        match app.state().store.delivery_totals().await {
            Ok(totals) => {
                return totals
                    .iter()
                    .filter(|t| t.1 == herald::domain::DeliveryState::Sending)
                    .map(|t| t.2)
                    .sum()
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_a_worker_mid_fan_out_loses_nothing_and_duplicates_at_most_what_was_in_flight() {
    // This process only serves the API; the two workers are separate processes.
    let app = TestApp::spawn_live(|c| c.run_workers = false).await;
    let backend = if app.on_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    let (s, v) = app
        .post_body("/api/v1/addresses/import", addresses_csv())
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = app
        .post_body("/api/v1/contacts/import", contacts_csv())
        .await;
    assert_eq!(s, 200, "{v}");
    let expected = 2 * SIDE * SIDE;

    let log = app.dir.path().join("workers.log");
    let mut a = Worker::start(&app, &log);
    let _b = Worker::start(&app, &log);
    let started = Instant::now();
    let outage = app
        .declare(&json!({
            "utility": "power", "cause": "Substation fire",
            "etr": (chrono::Utc::now() + chrono::Duration::hours(4)).to_rfc3339(),
            "area": {"type": "Polygon", "coordinates": [[[18.99, 46.99], [19.06, 46.99],
                     [19.06, 47.06], [18.99, 47.06], [18.99, 46.99]]]},
        }))
        .await;
    assert_eq!(outage["contacts"]["email"], SIDE * SIDE);
    assert_eq!(outage["contacts"]["sms"], SIDE * SIDE);

    // A fifth of the way through, worker A dies without a word.
    wait_until_sent(&app, expected / 5).await;
    a.kill_9();
    let at_kill = sent_so_far(&app).await;
    let in_flight_at_kill = in_flight(&app).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _a = Worker::start(&app, &log);

    // Halfway, the database server restarts under both workers.
    let mut db_restart = String::from("not restarted (SQLite: no server)");
    if app.on_postgres() {
        wait_until_sent(&app, expected / 2).await;
        match std::env::var("HERALD_TEST_POSTGRES_DIR") {
            Ok(dir) => {
                let in_flight = in_flight(&app).await;
                let at = sent_so_far(&app).await;
                let pg = |command: &str| {
                    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/postgres");
                    let out = Command::new(script)
                        .args([command, &dir])
                        .output()
                        .expect("scripts/postgres");
                    assert!(
                        out.status.success(),
                        "scripts/postgres {command}: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                };
                pg("stop");
                // While it is down, the web node says it is not ready, and
                // nothing of the database's own error text (addresses, names).
                let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
                assert_eq!(ready.status(), 503);
                let why = ready.text().await.unwrap();
                assert_eq!(why, "not ready: database unavailable\n");
                pg("resume");
                let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
                assert_eq!(ready.status(), 200, "ready again once the server is back");
                db_restart = format!(
                    "stopped and started again after {at} messages ({in_flight} deliveries in flight)"
                );
            }
            Err(_) => db_restart = "not restarted (HERALD_TEST_POSTGRES_DIR unset)".into(),
        }
    }

    // The dead worker's leases expire; the others finish everything.
    app.wait_until_idle(Duration::from_secs(300)).await;
    let took = started.elapsed();
    // Give any message still on the wire a moment to land.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut got: HashMap<String, usize> = HashMap::new();
    for m in app.smtp.messages() {
        for to in m.to {
            *got.entry(to).or_default() += 1;
        }
    }
    for m in app.sms.messages() {
        *got.entry(m.to).or_default() += 1;
    }
    let lost: Vec<String> = (0..SIDE * SIDE)
        .flat_map(|i| [email(i), phone(i)])
        .filter(|d| !got.contains_key(d))
        .collect();
    let duplicates: usize = got.values().map(|n| n - 1).sum();
    let report = format!(
        "crash test on {backend}: {expected} contacts, 2 worker processes, one killed with \
         SIGKILL after {at_kill} messages ({in_flight_at_kill} deliveries in flight) and \
         restarted 1 s later; database {db_restart}.\n  lost: {}\n  duplicates: {duplicates} \
         (allowed: at most the {in_flight_at_kill} in flight at the kill)\n  all sent in {:.1} s\n",
        lost.len(),
        took.as_secs_f64()
    );
    print!("{report}");
    let target = concat!(env!("CARGO_MANIFEST_DIR"), "/target");
    let _ = std::fs::write(format!("{target}/crash-report-{backend}.txt"), &report);

    assert!(
        lost.is_empty(),
        "{report}lost: {:?}",
        &lost[..lost.len().min(10)]
    );
    assert!(duplicates as i64 <= in_flight_at_kill, "{report}");
    let id = outage["id"].as_i64().unwrap();
    assert_eq!(
        app.delivery_count(id, "email", "sent").await + app.delivery_count(id, "sms", "sent").await,
        expected as i64,
        "{report}every delivery recorded as sent"
    );
}
