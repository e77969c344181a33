//! Layered configuration: built-in defaults → `herald.toml` → `HERALD_*` environment.
//!
//! Nested keys use a double underscore in the environment, so `[email.smtp] host`
//! is `HERALD_EMAIL__SMTP__HOST`. The three settings every deployment touches have
//! short, flat names: `HERALD_BIND`, `HERALD_DATABASE_URL`, `HERALD_DATA_DIR`.
//! `herald.example.toml` documents every key.

use std::path::{Path, PathBuf};

use crate::domain::Utility;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// A configuration value that is a credential (a password, a token, a URL
/// that may carry one). It prints as `[redacted]` in `Debug` and `Display`, so
/// no log line or error message can show it by accident; [`Secret::expose`]
/// is the one way to read it, where it is used.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(s.to_string())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret(s)
    }
}

/// `url` with any password (in the user info or a `password=` parameter)
/// replaced, for messages and logs: `postgres://herald:***@db/herald`.
pub fn redact_url(url: &str) -> String {
    let Some(mut parsed) = reqwest::Url::parse(url)
        .ok()
        .filter(|u| !u.cannot_be_a_base())
    else {
        // Not a URL we can read: show only its scheme.
        return match url.split_once(':') {
            Some((scheme, _)) if scheme.chars().all(|c| c.is_ascii_alphanumeric()) => {
                format!("{scheme}:[redacted]")
            }
            _ => "[redacted]".into(),
        };
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let secret = ["password", "pass", "secret", "token", "sslpassword"]
                    .contains(&k.to_ascii_lowercase().as_str());
                (
                    k.into_owned(),
                    if secret { "***".into() } else { v.into_owned() },
                )
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub bind: String,
    /// `sqlite://…` (default: `$data_dir/herald.db`) or `postgres://…`.
    pub database_url: Option<Secret>,
    /// Where the SQLite database and the local outboxes live.
    pub data_dir: PathBuf,
    /// Base URL residents see in messages (links to the outage page, unsubscribe).
    /// Defaults to `http://{bind}`.
    pub public_url: Option<String>,
    /// Region used to read phone numbers written without a country code.
    pub default_region: String,
    /// The utility's time zone: every time in a message or page is shown in it.
    pub time_zone: String,
    /// Language for callers and visitors who do not say which they prefer.
    pub default_language: crate::domain::Language,
    /// Largest accepted outage area, in vertices over all rings.
    pub max_area_vertices: usize,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Run the delivery workers inside `serve` (off for web-only nodes).
    pub run_workers: bool,
    pub database: DatabaseConfig,
    pub delivery: DeliveryConfig,
    pub email: EmailConfig,
    pub sms: SmsConfig,
    pub ivr: IvrConfig,
    pub subscribe: SubscribeConfig,
    pub reports: ReportsConfig,
    pub alerts: AlertsConfig,
    pub manage: ManageConfig,
    pub http: HttpConfig,
    pub console: ConsoleConfig,
    /// Proxies (addresses or CIDR blocks) whose `X-Forwarded-For` is believed:
    /// behind them, the client is the last address they did not add. Empty:
    /// the client is whoever connected.
    pub trusted_proxies: Vec<String>,
}

/// The listener's limits, for a server that faces the internet itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpConfig {
    /// A client must send a request's headers within this time (slowloris).
    pub header_read_timeout_ms: u64,
    /// Open connections at most; more are closed at once.
    pub max_connections: usize,
    /// Open connections from one address at most (trusted proxies exempt).
    pub max_connections_per_client: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            header_read_timeout_ms: 10_000,
            max_connections: 8_192,
            max_connections_per_client: 256,
        }
    }
}

/// The dispatcher console's sessions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsoleConfig {
    /// A session unused this long ends.
    pub session_idle_minutes: u32,
    /// A session ends this long after sign-in, however busy (a night shift).
    pub session_max_hours: u32,
    /// Mark the session cookie `Secure`. Default: when `public_url` is https.
    pub secure_cookie: Option<bool>,
    /// Map tiles for the console's map (`https://tiles.example/{z}/{x}/{y}.png`);
    /// empty: none, the map shows the register's address points and
    /// settlement names on a plain background (works offline).
    pub tile_url: String,
    /// The tiles' attribution, shown on the map (their licence asks for it).
    pub tile_attribution: String,
    /// Seconds a declaration from the console holds its messages, during
    /// which the dispatcher can undo it and nobody is told.
    pub undo_seconds: u32,
    /// The live preview warns above this many addresses.
    pub large_area_addresses: usize,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            session_idle_minutes: 30,
            session_max_hours: 12,
            secure_cookie: None,
            tile_url: String::new(),
            tile_attribution: String::new(),
            undo_seconds: 10,
            large_area_addresses: 100_000,
        }
    }
}

/// Limits on residents' "no supply at my address" reports: public, so held
/// per client and over all (they cost no message, but a flood would bury the
/// real ones on the dispatcher's map).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ReportsConfig {
    pub per_client_per_hour: u32,
    pub per_client_per_day: u32,
    /// Over every client.
    pub per_hour: u32,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        ReportsConfig {
            per_client_per_hour: 5,
            per_client_per_day: 20,
            per_hour: 20_000,
        }
    }
}

/// How often a resident hears about one outage: ETR changes too small to
/// matter are not sent, and updates per day are capped (the page, the IVR and
/// the API always show the latest state, whatever was sent).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertsConfig {
    /// An ETR change is sent only when it moves the time the contact was last
    /// told by at least this much (a change from "not yet assessed" to a time,
    /// or back, always goes).
    pub etr_threshold_minutes: u32,
    /// Update messages per outage and contact in any 24 hours; a change beyond
    /// it waits, and the next allowed message carries the latest state.
    pub updates_per_day: u32,
    /// What a contact hears of an outage that began and ended while their
    /// window was closed: `nothing` (the default) or `summary` (one message
    /// when the window opens, saying it is over).
    pub ended_outside_window: AfterWindow,
    /// The same, per utility (`{ water = "summary" }`), over the default.
    pub ended_outside_window_by_utility: std::collections::BTreeMap<Utility, AfterWindow>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            etr_threshold_minutes: 30,
            updates_per_day: 3,
            ended_outside_window: AfterWindow::Nothing,
            ended_outside_window_by_utility: Default::default(),
        }
    }
}

impl AlertsConfig {
    pub fn after_window(&self, utility: Utility) -> AfterWindow {
        self.ended_outside_window_by_utility
            .get(&utility)
            .copied()
            .unwrap_or(self.ended_outside_window)
    }
}

/// Residents' manage links (see `crate::manage`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ManageConfig {
    /// How long the link in each e-mail opens the page.
    pub link_days: u32,
    /// How long the link in the SMS HELP reply opens it.
    pub sms_link_hours: u32,
}

impl Default for ManageConfig {
    fn default() -> Self {
        ManageConfig {
            link_days: 30,
            sms_link_hours: 24,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AfterWindow {
    Nothing,
    Summary,
}

/// Limits on the public sign-up form, which anyone can post and which sends
/// a message (and, by SMS, costs money) each time.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SubscribeConfig {
    /// Countries (ISO 3166 codes) whose phone numbers may sign up for SMS;
    /// empty: the `default_region`'s.
    pub countries: Vec<String>,
    /// Confirmation requests per destination (one phone, one inbox however
    /// spelled) in 24 hours.
    pub per_destination_per_day: u32,
    /// Sign-ups from one client address (an IPv6 client: its /64) per hour
    /// and per 24 hours.
    pub per_client_per_hour: u32,
    pub per_client_per_day: u32,
    /// Confirmation SMS for all clients together per hour; beyond it, sign-ups
    /// by SMS are refused (429) while sign-ups by e-mail go on.
    pub sms_confirmations_per_hour: u32,
    /// Confirmations sent per second per channel, from their own rate bucket:
    /// they never take an outage alert's place in the provider's limit (the
    /// provider must allow this on top of `email`/`sms.rate_per_sec`).
    pub confirmations_per_sec: u32,
}

impl Default for SubscribeConfig {
    fn default() -> Self {
        SubscribeConfig {
            countries: Vec::new(),
            per_destination_per_day: 3,
            per_client_per_hour: 5,
            per_client_per_day: 20,
            sms_confirmations_per_hour: 100,
            confirmations_per_sec: 5,
        }
    }
}

/// Reads a proxy entry: an address (`10.0.0.7`, `::1`) or a block (`10.0.0.0/8`).
pub fn parse_proxy(entry: &str) -> anyhow::Result<ipnet::IpNet> {
    let entry = entry.trim();
    entry
        .parse::<ipnet::IpNet>()
        .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| anyhow::anyhow!("trusted_proxies: '{entry}' is not an address or CIDR block"))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct IvrConfig {
    /// Whether the answer for a caller's number speaks their street address
    /// (off: it names the settlement and the outage, so a wrongly routed or
    /// overheard call gives away no address).
    pub speak_address: bool,
    /// Days a recorded call (a keyed hash of the number, when, which outage)
    /// is kept for the "called before being told" figures; 0 keeps none.
    pub call_retention_days: u32,
}

impl Default for IvrConfig {
    fn default() -> IvrConfig {
        IvrConfig {
            speak_address: false,
            call_retention_days: 90,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// Connections in this process's pool. On PostgreSQL, the sum over all nodes
    /// and workers must stay below the server's `max_connections`.
    pub max_connections: u32,
    /// How long a writer waits for SQLite's lock before giving up.
    pub busy_timeout_ms: u64,
    /// How long a request waits for a free pooled connection before failing.
    pub acquire_timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DeliveryConfig {
    /// Attempts before a delivery is declared `dead`.
    pub max_attempts: u32,
    /// First retry delay; doubles each attempt (with jitter) up to `retry_max_ms`.
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// How long a claimed delivery belongs to its worker before others may retry it.
    pub lease_ms: u64,
    /// A message not sent within this time after its revision is dropped as `expired`.
    pub ttl_minutes: u64,
    /// Deliveries claimed per round trip.
    pub batch_size: u32,
    /// Idle workers look for due work at least this often (they are also woken directly).
    pub poll_interval_ms: u64,
    /// In a `serve` that runs the workers, they run on threads of their own at
    /// this nice value (0–19, Linux), with a database pool of their own, so
    /// that in a storm answering callers and visitors comes before finishing
    /// the fan-out a little sooner (as `nice herald worker` does for a worker
    /// process). 0: the workers share the server's threads.
    pub worker_nice: i32,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EmailTransport {
    /// `$data_dir/outbox/email/*.eml` — for the demo and for trying Herald.
    File,
    Smtp,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP (a local relay or test sink).
    None,
    /// Upgrade with STARTTLS (port 587).
    Starttls,
    /// Implicit TLS (port 465).
    Tls,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct EmailConfig {
    pub transport: EmailTransport,
    /// `From:` header, e.g. `Herald alerts <alerts@utility.example>`.
    pub from: String,
    pub smtp: SmtpConfig,
    /// Messages per second handed to this provider (0 = unlimited).
    pub rate_per_sec: u32,
    /// Messages in flight at once.
    pub concurrency: usize,
    /// The bearer secret the bounce processor sends with bounces and
    /// complaints to `POST /email/v1/feedback`; empty, it refuses everything.
    pub feedback_secret: Secret,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// Accept self-signed certificates (test relays only).
    pub tls_accept_invalid_certs: bool,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Connections kept open to the relay.
    pub pool_size: usize,
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmsProvider {
    /// `$data_dir/outbox/sms.jsonl` — for the demo and for trying Herald.
    File,
    Kannel,
    Twilio,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SmsConfig {
    pub provider: SmsProvider,
    /// Sender id or number shown to residents.
    pub from: String,
    pub kannel: KannelConfig,
    pub twilio: TwilioConfig,
    pub rate_per_sec: u32,
    pub concurrency: usize,
    /// Whether Hungarian/Polish letters may switch a message to UCS-2.
    pub unicode: UnicodePolicy,
    pub timeout_ms: u64,
    /// The shared secret Kannel's `sms-service` passes as `secret` when it
    /// hands Herald a received message (`/sms/v1/inbound/kannel`); empty, the
    /// webhook refuses everything.
    pub inbound_secret: Secret,
    /// Replies to received messages, each an SMS: per number per hour…
    pub replies_per_number_per_hour: u32,
    /// …and over every number per hour.
    pub replies_per_hour: u32,
    /// Days a received text (a keyed hash of the number, the keyword, the
    /// reply) is kept; at least 2, since the reply limits read the last day.
    pub inbound_retention_days: u32,
    /// Ask the gateway for delivery reports (Kannel's `dlr-url`, Twilio's
    /// `StatusCallback`), at `public_url`, which it must be able to reach.
    pub delivery_reports: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct KannelConfig {
    /// Base URL of smsbox's sendsms interface, e.g. `http://127.0.0.1:13013`.
    pub url: String,
    pub username: String,
    pub password: Secret,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TwilioConfig {
    /// API base, `https://api.twilio.com` for Twilio itself.
    pub url: String,
    pub account_sid: String,
    pub auth_token: Secret,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: "127.0.0.1:8080".into(),
            database_url: None,
            data_dir: PathBuf::from("./herald-data"),
            public_url: None,
            default_region: "HU".into(),
            time_zone: "Europe/Budapest".into(),
            default_language: crate::domain::Language::Hu,
            max_area_vertices: 20_000,
            max_body_bytes: 4 * 1024 * 1024,
            run_workers: true,
            database: DatabaseConfig::default(),
            delivery: DeliveryConfig::default(),
            email: EmailConfig::default(),
            sms: SmsConfig::default(),
            ivr: IvrConfig::default(),
            subscribe: SubscribeConfig::default(),
            reports: ReportsConfig::default(),
            alerts: AlertsConfig::default(),
            manage: ManageConfig::default(),
            http: HttpConfig::default(),
            console: ConsoleConfig::default(),
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            max_connections: 8,
            busy_timeout_ms: 10_000,
            acquire_timeout_ms: 10_000,
        }
    }
}

impl DeliveryConfig {
    /// How long a queued message stays worth sending (`ttl_minutes`).
    pub fn ttl(&self) -> chrono::Duration {
        chrono::Duration::minutes(self.ttl_minutes as i64)
    }
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            max_attempts: 8,
            retry_base_ms: 30_000,
            retry_max_ms: 3_600_000,
            lease_ms: 120_000,
            ttl_minutes: 12 * 60,
            batch_size: 200,
            poll_interval_ms: 1_000,
            worker_nice: 10,
        }
    }
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            transport: EmailTransport::File,
            from: "Herald outage alerts <alerts@herald.invalid>".into(),
            smtp: SmtpConfig::default(),
            rate_per_sec: 0,
            concurrency: 32,
            feedback_secret: Secret::default(),
        }
    }
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: 25,
            tls: SmtpTls::None,
            tls_accept_invalid_certs: false,
            username: None,
            password: None,
            pool_size: 8,
            timeout_ms: 30_000,
        }
    }
}

impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig {
            provider: SmsProvider::File,
            from: "Herald".into(),
            kannel: KannelConfig::default(),
            twilio: TwilioConfig::default(),
            rate_per_sec: 0,
            concurrency: 32,
            unicode: UnicodePolicy::Auto,
            timeout_ms: 15_000,
            inbound_secret: Secret::default(),
            replies_per_number_per_hour: 10,
            replies_per_hour: 2_000,
            delivery_reports: true,
            inbound_retention_days: 90,
        }
    }
}

impl KannelConfig {
    /// Whether Kannel's example `sendsms-user` (the built-in default, fine for
    /// a local test gateway) is used with a gateway elsewhere on the network.
    pub fn demo_credentials_off_loopback(&self) -> bool {
        let demo = KannelConfig::default();
        let loopback = reqwest::Url::parse(&self.url)
            .ok()
            .and_then(|u| {
                let host = u.host_str()?.trim_matches(['[', ']']).to_string();
                Some(
                    host.eq_ignore_ascii_case("localhost")
                        || host
                            .parse::<std::net::IpAddr>()
                            .is_ok_and(|ip| ip.is_loopback()),
                )
            })
            .unwrap_or(false);
        self.username == demo.username && self.password == demo.password && !loopback
    }
}

impl Default for KannelConfig {
    fn default() -> Self {
        KannelConfig {
            url: "http://127.0.0.1:13013".into(),
            username: "tester".into(),
            password: "foobar".into(),
        }
    }
}

impl Default for TwilioConfig {
    fn default() -> Self {
        TwilioConfig {
            url: "https://api.twilio.com".into(),
            account_sid: String::new(),
            auth_token: Secret::default(),
        }
    }
}

impl Config {
    /// Defaults, then `path` (or `./herald.toml` when it exists), then `HERALD_*`.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match path {
            Some(p) => {
                anyhow::ensure!(p.exists(), "config file {} does not exist", p.display());
                figment = figment.merge(Toml::file(p));
            }
            None => figment = figment.merge(Toml::file("herald.toml")),
        }
        figment = figment.merge(Env::prefixed("HERALD_").split("__"));
        let config: Config = figment.extract()?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.tz()?;
        crate::domain::contact::parse_region(&self.default_region)
            .map_err(|e| anyhow::anyhow!("default_region: {e}"))?;
        anyhow::ensure!(
            self.delivery.max_attempts >= 1,
            "delivery.max_attempts must be at least 1"
        );
        anyhow::ensure!(
            self.delivery.batch_size >= 1,
            "delivery.batch_size must be at least 1"
        );
        anyhow::ensure!(
            (0..=19).contains(&self.delivery.worker_nice),
            "delivery.worker_nice must be between 0 and 19"
        );
        anyhow::ensure!(
            self.email.concurrency >= 1,
            "email.concurrency must be at least 1"
        );
        anyhow::ensure!(
            self.sms.concurrency >= 1,
            "sms.concurrency must be at least 1"
        );
        anyhow::ensure!(
            self.http.max_connections >= 1 && self.http.max_connections_per_client >= 1,
            "http.max_connections and http.max_connections_per_client must be at least 1"
        );
        anyhow::ensure!(
            self.http.header_read_timeout_ms >= 1,
            "http.header_read_timeout_ms must be at least 1"
        );
        self.subscribe_countries()?;
        self.proxies()?;
        Ok(())
    }

    /// `subscribe.countries`, read; the default region's country when empty.
    pub fn subscribe_countries(&self) -> anyhow::Result<Vec<crate::domain::contact::Region>> {
        let parse = |c: &str| {
            crate::domain::contact::parse_region(c)
                .map_err(|e| anyhow::anyhow!("subscribe.countries: {e}"))
        };
        if self.subscribe.countries.is_empty() {
            return Ok(vec![parse(&self.default_region)?]);
        }
        self.subscribe.countries.iter().map(|c| parse(c)).collect()
    }

    /// `trusted_proxies`, read.
    pub fn proxies(&self) -> anyhow::Result<Vec<ipnet::IpNet>> {
        self.trusted_proxies
            .iter()
            .map(|p| parse_proxy(p))
            .collect()
    }

    pub fn tz(&self) -> anyhow::Result<chrono_tz::Tz> {
        self.time_zone
            .parse()
            .map_err(|_| anyhow::anyhow!("time_zone: unknown time zone '{}'", self.time_zone))
    }

    /// The region phone numbers without a country code are read in.
    pub fn region(&self) -> crate::error::Result<crate::domain::contact::Region> {
        crate::domain::contact::parse_region(&self.default_region)
            .map_err(|e| crate::error::Error::Internal(anyhow::anyhow!("default_region: {e}")))
    }

    /// The database URL, credentials included: for opening the database only.
    /// Anything shown to a person goes through [`redact_url`].
    pub fn database_url(&self) -> String {
        self.database_url
            .as_ref()
            .map(|s| s.expose().to_string())
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("herald.db").display()))
    }

    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.bind))
            .trim_end_matches('/')
            .to_string()
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }
}

/// Whether SMS keep national letters (UCS-2) or are transliterated to GSM-7
/// (`sms.unicode`); `channels::sms_text::fit` carries it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum UnicodePolicy {
    /// Keep national letters when they cost no extra segment.
    #[default]
    Auto,
    /// Always keep the text as written.
    Always,
    /// Always transliterate to GSM-7.
    Never,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `herald.example.toml` documents every key with its default: loading it
    /// must give the defaults back.
    #[test]
    fn the_example_configuration_is_the_defaults() {
        let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("herald.example.toml");
        let loaded = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(&example))
            .extract::<Config>()
            .expect("herald.example.toml loads");
        let json = |c: &Config| serde_json::to_value(c).unwrap();
        assert_eq!(json(&loaded), json(&Config::default()));
    }

    #[test]
    fn secrets_never_print() {
        let mut c = Config {
            database_url: Some("postgres://herald:pg-s3cret@db:5432/herald".into()),
            ..Config::default()
        };
        c.sms.kannel.password = "kannel-s3cret".into();
        c.sms.twilio.auth_token = "twilio-s3cret".into();
        c.email.smtp.password = Some("smtp-s3cret".into());
        let shown = format!("{c:?}");
        for secret in ["pg-s3cret", "kannel-s3cret", "twilio-s3cret", "smtp-s3cret"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("[redacted]"));
        assert!(c.database_url().contains("pg-s3cret"), "still usable");
    }

    #[test]
    fn kannel_demo_credentials_are_flagged_off_this_machine() {
        let mut k = KannelConfig::default();
        assert!(!k.demo_credentials_off_loopback());
        for url in ["http://localhost:13013", "http://[::1]:13013"] {
            k.url = url.into();
            assert!(!k.demo_credentials_off_loopback(), "{url}");
        }
        k.url = "http://sms-gw.utility.example:13013".into();
        assert!(k.demo_credentials_off_loopback());
        k.password = "real".into();
        assert!(!k.demo_credentials_off_loopback());
    }

    #[test]
    fn urls_lose_their_passwords() {
        assert_eq!(
            redact_url("postgres://herald:pg-s3cret@db:5432/herald"),
            "postgres://herald:***@db:5432/herald"
        );
        assert_eq!(
            redact_url("postgres://db/herald?user=h&password=x&sslmode=require"),
            "postgres://db/herald?user=h&password=***&sslmode=require"
        );
        assert_eq!(redact_url("sqlite://./herald.db"), "sqlite://./herald.db");
        assert_eq!(redact_url("mysql:x:y@@"), "mysql:[redacted]");
    }
}
