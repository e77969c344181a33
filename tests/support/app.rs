//! `TestApp`: Herald on port 0 with a fresh database (SQLite in a temporary
//! directory, or a PostgreSQL database of its own: see [`super::db`]), a real SMTP
//! sink and an SMS gateway stub, plus helpers named after what a dispatcher or
//! resident does.
//!
//! By default the app runs on a [`ManualClock`] set to [`START`] and without
//! background workers: time moves only when a test calls [`TestApp::advance`], and
//! messages go out only when it calls [`TestApp::drain`], which runs everything due
//! until the queue is idle. So a planned start, a passed ETR, a retry's backoff, an
//! expiry or a lease running out happen exactly when the test says, and "nothing
//! more was sent" is a fact after a drain rather than a hope after a sleep. Tests
//! about processes (workers crashing, stopping, scaling out) use
//! [`TestApp::spawn_live`]: the system clock and running workers.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use herald::app::Server;
use herald::auth::Role;
use herald::clock::{ManualClock, SystemClock};
use herald::config::{Config, EmailTransport, SmsProvider, SmtpTls};
use herald::dispatch::{Dispatcher, DrainReport};
use herald::domain::DeliveryState;
use herald::store::NewToken;
use serde_json::{json, Value};

use super::sms_gateway::SmsGateway;
use super::smtp_sink::SmtpSink;

pub struct TestApp {
    pub server: Option<Server>,
    pub base: String,
    /// An operator token.
    pub token: String,
    /// An `ivr` token: what the phone platform presents.
    pub ivr_token: String,
    pub http: reqwest::Client,
    pub smtp: SmtpSink,
    pub sms: SmsGateway,
    pub config: Config,
    pub dir: tempfile::TempDir,
    /// `None` for a live app (system clock).
    clock: Option<Arc<ManualClock>>,
    /// Built on the first drain and kept: one SMTP pool, one set of rate limiters.
    dispatcher: tokio::sync::OnceCell<Arc<Dispatcher>>,
}

/// Where every manual clock starts: Monday 23 November 2026, 09:00 in Budapest.
/// Fixed, so "today", "tomorrow" and the local date in view tags read the same on
/// every run, whatever the time of day the suite runs at.
pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap()
}

/// Creates a token as `herald token create NAME --role … [--expires-in …]` does.
pub async fn new_token(
    state: &herald::app::AppState,
    name: &str,
    role: Role,
    expires_at: Option<DateTime<Utc>>,
) -> String {
    let token = herald::auth::new_api_token();
    state
        .store
        .create_token(&NewToken {
            name,
            token_hash: &herald::auth::hash_token(&token),
            role,
            operator_id: None,
            expires_at,
            now: state.clock.now(),
        })
        .await
        .expect("token");
    token
}

/// Fast retries and leases so failure paths finish in seconds.
pub fn test_config(dir: &std::path::Path, smtp: &SmtpSink, sms: &SmsGateway) -> Config {
    let mut c = Config {
        bind: "127.0.0.1:0".into(),
        data_dir: dir.to_path_buf(),
        ..Config::default()
    };
    c.delivery.retry_base_ms = 100;
    c.delivery.retry_max_ms = 1_000;
    c.delivery.lease_ms = 2_000;
    c.delivery.poll_interval_ms = 50;
    c.delivery.max_attempts = 4;
    c.email.transport = EmailTransport::Smtp;
    c.email.from = "Herald <alerts@herald.test>".into();
    c.email.smtp.host = "127.0.0.1".into();
    c.email.smtp.port = smtp.port();
    c.email.smtp.tls = SmtpTls::None;
    c.email.smtp.timeout_ms = 3_000;
    c.sms.provider = SmsProvider::Kannel;
    c.sms.kannel.url = sms.url();
    c.sms.twilio.url = sms.url();
    c.sms.twilio.account_sid = "ACtest".into();
    c.sms.twilio.auth_token = "secret".into();
    c
}

impl TestApp {
    /// A manual-clock app without workers (see the module docs).
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// [`TestApp::spawn`] with the configuration adjusted.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let clock = ManualClock::new(start());
        Self::start(Some(clock), |c| {
            c.run_workers = false;
            adjust(c);
        })
        .await
    }

    /// The system clock and, unless `adjust` turns them off, running workers: for
    /// tests about worker processes, where waiting is for other tasks, not for time.
    pub async fn spawn_live(adjust: impl FnOnce(&mut Config)) -> TestApp {
        Self::start(None, adjust).await
    }

    async fn start(clock: Option<Arc<ManualClock>>, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let smtp = SmtpSink::start().await;
        let sms = SmsGateway::start().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = test_config(dir.path(), &smtp, &sms);
        config.database_url = super::db::fresh_database().await.map(Into::into);
        adjust(&mut config);
        let shared: herald::clock::SharedClock = match &clock {
            Some(manual) => manual.clone(),
            None => Arc::new(SystemClock),
        };
        let server = Server::start_with_clock(config.clone(), shared)
            .await
            .expect("server starts");
        let base = format!("http://{}", server.addr);
        let token = new_token(&server.state, "test", Role::Operator, None).await;
        let ivr_token = new_token(&server.state, "test-ivr", Role::Ivr, None).await;
        TestApp {
            server: Some(server),
            base,
            token,
            ivr_token,
            http: reqwest::Client::new(),
            smtp,
            sms,
            config,
            dir,
            clock,
            dispatcher: tokio::sync::OnceCell::new(),
        }
    }

    /// The app's manual clock. Panics for a live app.
    pub fn clock(&self) -> &ManualClock {
        self.clock
            .as_deref()
            .expect("a live app runs on the system clock")
    }

    /// Now, as the app sees it.
    pub fn now(&self) -> DateTime<Utc> {
        self.state().clock.now()
    }

    /// Moves the manual clock forward.
    pub fn advance(&self, by: Duration) {
        self.clock()
            .advance(chrono::Duration::from_std(by).expect("a sane duration"));
    }

    /// Runs the workers' work until nothing is due at the app's `now`
    /// ([`Dispatcher::run_until_idle`]) and returns what it did. Every message it
    /// sent has reached the SMTP sink or the SMS stub when it returns.
    pub async fn drain(&self) -> DrainReport {
        let dispatcher = self
            .dispatcher
            .get_or_init(|| async { self.state().dispatcher().await.expect("dispatcher") })
            .await;
        let report = dispatcher.run_until_idle().await.expect("drain");
        // A started planned outage changed the published version, as another
        // node's change would; read it now rather than after `RECHECK`.
        if !report.outages_started.is_empty() {
            self.state().published.touch();
        }
        report
    }

    /// [`TestApp::advance`], then [`TestApp::drain`].
    pub async fn advance_and_drain(&self, by: Duration) -> DrainReport {
        self.advance(by);
        self.drain().await
    }

    /// A water outage over `area` with an ETR three hours from the app's now.
    pub fn water_outage(&self, area: Value) -> Value {
        water_outage_at(self.now(), area)
    }

    /// Tomorrow (by the app's clock) at `h:m` in Budapest, as RFC 3339.
    pub fn tomorrow_at(&self, h: u32, m: u32) -> String {
        let tz = chrono_tz::Europe::Budapest;
        let day = (self.now().with_timezone(&tz) + chrono::Duration::days(1)).date_naive();
        tz.from_local_datetime(&day.and_hms_opt(h, m, 0).unwrap())
            .single()
            .unwrap()
            .to_rfc3339()
    }

    pub fn state(&self) -> &herald::app::AppState {
        &self.server.as_ref().expect("running").state
    }

    /// A connection of the test's own to the app's database.
    pub async fn db(&self) -> sqlx::AnyConnection {
        super::db::connect(&self.config.database_url()).await
    }

    pub fn on_postgres(&self) -> bool {
        self.config.database_url().starts_with("postgres")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends an authenticated request; returns the status and the JSON body (or null).
    pub async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let r = request
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    pub async fn patch_json(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(self.http.patch(self.url(path)).json(body)).await
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        self.send(self.http.get(self.url(path))).await
    }

    /// A page as a browser fetches it, without a credential: its status and
    /// text. `path_or_url` is a path on this app or a whole URL (a link taken
    /// from a message).
    pub async fn get_page(&self, path_or_url: &str) -> (u16, String) {
        let url = if path_or_url.starts_with('/') {
            self.url(path_or_url)
        } else {
            path_or_url.to_string()
        };
        let r = self.http.get(url).send().await.expect("request");
        (r.status().as_u16(), r.text().await.expect("body"))
    }

    pub async fn post_body(&self, path: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        self.send(self.http.post(self.url(path)).body(body)).await
    }

    /// Unsubscribes as a mail client does (RFC 8058 one-click POST to the
    /// message's `List-Unsubscribe` URL).
    pub async fn one_click_unsubscribe(&self, url: &str) {
        let r = self
            .http
            .post(url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .expect("unsubscribe request");
        assert_eq!(r.status(), 200, "one-click unsubscribe");
    }

    /// The unsubscribe token of the contact at `destination`.
    pub async fn unsubscribe_token(&self, destination: &str) -> String {
        sqlx::query_scalar("SELECT unsubscribe_token FROM contacts WHERE destination = $1")
            .bind(destination)
            .fetch_one(&mut self.db().await)
            .await
            .expect("a contact with this destination")
    }

    /// The outage's deliveries shown in `state`, per the API.
    pub async fn deliveries(&self, outage_id: i64, state: &str) -> Vec<Value> {
        let (s, v) = self
            .get_json(&format!(
                "/api/v1/outages/{outage_id}/deliveries?state={state}"
            ))
            .await;
        assert_eq!(s, 200, "{v}");
        v["deliveries"].as_array().expect("deliveries").clone()
    }

    /// The contacts with this destination, as `GET /api/v1/contacts` lists them.
    pub async fn contacts_of(&self, destination: &str) -> Vec<Value> {
        let (s, v) = self
            .send(
                self.http
                    .get(self.url("/api/v1/contacts"))
                    .query(&[("destination", destination)]),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v["contacts"].as_array().expect("contacts").clone()
    }

    /// Imports the test town (see [`Town`]) through the API.
    pub async fn import_town(&self, town: &Town) {
        let (s, v) = self
            .post_body("/api/v1/addresses/import", town.addresses_csv())
            .await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = self
            .post_body("/api/v1/contacts/import", town.contacts_csv())
            .await;
        assert_eq!(s, 200, "{v}");
    }

    pub async fn declare(&self, body: &Value) -> Value {
        let (s, v) = self.post_json("/api/v1/outages", body).await;
        assert_eq!(s, 201, "declare failed: {v}");
        v
    }

    /// Waits until no delivery is pending or in flight, for live workers (a
    /// manual-clock app uses [`TestApp::drain`]).
    pub async fn wait_until_idle(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let totals = self.state().store.delivery_totals().await.expect("totals");
            let busy: i64 = totals
                .iter()
                .filter(|(_, s, _)| matches!(s, DeliveryState::Pending | DeliveryState::Sending))
                .map(|t| t.2)
                .sum();
            if busy == 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "deliveries still busy after {timeout:?}: {totals:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Counts deliveries of an outage in the given state, per the API.
    pub async fn delivery_count(&self, outage_id: i64, channel: &str, state: &str) -> i64 {
        let (_, v) = self.get_json(&format!("/api/v1/outages/{outage_id}")).await;
        v["deliveries"][channel][state].as_i64().unwrap_or(0)
    }
}

/// A small synthetic town: a 10×10 grid of addresses 0.001° apart starting at
/// (19.000, 47.000). Every address has an e-mail contact `a{i}@town.test`; even
/// addresses also have an SMS contact `+3630100{i:04}`.
pub struct Town;

impl Town {
    pub const N: usize = 10;

    pub fn lon(i: usize) -> f64 {
        19.0 + (i % Self::N) as f64 * 0.001
    }
    pub fn lat(i: usize) -> f64 {
        47.0 + (i / Self::N) as f64 * 0.001
    }
    pub fn email(i: usize) -> String {
        format!("a{i}@town.test")
    }
    pub fn phone(i: usize) -> String {
        format!("+3630100{i:04}")
    }
    pub fn has_sms(i: usize) -> bool {
        i.is_multiple_of(2)
    }
    pub fn language(i: usize) -> &'static str {
        ["hu", "pl", "en"][i % 3]
    }

    pub fn addresses_csv(&self) -> String {
        let mut s = String::from("external_id,street,house_number,postcode,settlement,lon,lat\n");
        for i in 0..Self::N * Self::N {
            s.push_str(&format!(
                "T{i},Kossuth Lajos utca,{},1111,Budapest,{:.4},{:.4}\n",
                i + 1,
                Self::lon(i),
                Self::lat(i)
            ));
        }
        s
    }

    pub fn contacts_csv(&self) -> String {
        let mut s = String::from("address_external_id,channel,destination,language\n");
        for i in 0..Self::N * Self::N {
            s.push_str(&format!(
                "T{i},email,{},{}\n",
                Self::email(i),
                Self::language(i)
            ));
            if Self::has_sms(i) {
                s.push_str(&format!(
                    "T{i},sms,{},{}\n",
                    Self::phone(i),
                    Self::language(i)
                ));
            }
        }
        s
    }

    /// A rectangle over grid columns `c0..=c1` and rows `r0..=r1` (half a cell of margin).
    pub fn rect(c0: usize, c1: usize, r0: usize, r1: usize) -> Value {
        let (x0, x1) = (
            19.0 + c0 as f64 * 0.001 - 0.0005,
            19.0 + c1 as f64 * 0.001 + 0.0005,
        );
        let (y0, y1) = (
            47.0 + r0 as f64 * 0.001 - 0.0005,
            47.0 + r1 as f64 * 0.001 + 0.0005,
        );
        json!({"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]})
    }

    /// Addresses inside `rect(c0, c1, r0, r1)`.
    pub fn inside(c0: usize, c1: usize, r0: usize, r1: usize) -> Vec<usize> {
        (0..Self::N * Self::N)
            .filter(|i| {
                let (c, r) = (i % Self::N, i / Self::N);
                (c0..=c1).contains(&c) && (r0..=r1).contains(&r)
            })
            .collect()
    }
}

/// A water outage over `area` with an ETR three hours after `now`.
pub fn water_outage_at(now: DateTime<Utc>, area: Value) -> Value {
    json!({
        "utility": "water",
        "cause": "Burst main",
        "area": area,
        "etr": (now + chrono::Duration::hours(3)).to_rfc3339(),
    })
}
