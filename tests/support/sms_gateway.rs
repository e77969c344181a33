//! A local SMS gateway speaking two real protocols: Kannel's smsbox
//! `/cgi-bin/sendsms` (GET or form POST, `202 0: Accepted for delivery`) and a
//! Twilio-style REST API (`POST /2010-04-01/Accounts/{sid}/Messages.json`, form
//! body, basic auth, JSON reply). Throttling and failures can be injected.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::json;
use tokio::sync::Notify;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Kannel,
    Twilio,
}

#[derive(Debug, Clone)]
pub struct ReceivedSms {
    pub protocol: Protocol,
    pub to: String,
    pub from: String,
    pub text: String,
    pub coding: Option<String>,
    /// Where the gateway is asked to report delivery: Kannel's `dlr-url`
    /// (with `%d`/`%A` still to fill in) or Twilio's `StatusCallback`.
    pub status_url: Option<String>,
    /// Kannel's `dlr-mask`; Twilio's message sid.
    pub dlr_mask: Option<String>,
    pub sid: Option<String>,
}

#[derive(Default)]
struct Faults {
    /// (remaining, retry-after seconds)
    throttle: (u32, u64),
    /// (remaining, status)
    fail: (u32, u16),
    /// number → (status, Twilio error code)
    reject: HashMap<String, (u16, i64)>,
}

#[derive(Default)]
struct Shared {
    messages: Mutex<Vec<ReceivedSms>>,
    requests: Mutex<Vec<(String, Instant)>>,
    faults: Mutex<Faults>,
    arrived: Notify,
    /// The next request waits here until the test releases it.
    hold: Mutex<Option<HeldRequest>>,
}

/// A request the gateway keeps waiting (a slow provider, at the test's command).
#[derive(Clone, Default)]
pub struct HeldRequest {
    arrived: Arc<Notify>,
    release: Arc<Notify>,
    to: Arc<Mutex<Option<String>>>,
}

impl HeldRequest {
    /// Waits for the held request to arrive; returns its receiver.
    pub async fn arrived(&self, timeout: Duration) -> String {
        tokio::time::timeout(timeout, self.arrived.notified())
            .await
            .expect("the held SMS request never arrived");
        self.to.lock().unwrap().clone().unwrap_or_default()
    }

    /// Lets the held request be answered.
    pub fn release(&self) {
        self.release.notify_one();
    }
}

/// Keeps the request waiting if the test asked for it.
async fn held(shared: &Shared, to: Option<&String>) {
    let hold = shared.hold.lock().unwrap().take();
    if let Some(h) = hold {
        *h.to.lock().unwrap() = to.cloned();
        h.arrived.notify_one();
        h.release.notified().await;
    }
}

#[derive(Clone)]
pub struct SmsGateway {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

const KANNEL_USER: (&str, &str) = ("tester", "foobar");
const TWILIO_AUTH: (&str, &str) = ("ACtest", "secret");

impl SmsGateway {
    pub async fn start() -> SmsGateway {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/cgi-bin/sendsms", get(kannel_get).post(kannel_post))
            .route("/2010-04-01/Accounts/{sid}/Messages.json", post(twilio))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        SmsGateway { addr, shared }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn messages(&self) -> Vec<ReceivedSms> {
        self.shared.messages.lock().unwrap().clone()
    }

    pub fn messages_to(&self, to: &str) -> Vec<ReceivedSms> {
        self.messages().into_iter().filter(|m| m.to == to).collect()
    }

    pub fn count(&self) -> usize {
        self.shared.messages.lock().unwrap().len()
    }

    pub fn request_count(&self) -> usize {
        self.shared.requests.lock().unwrap().len()
    }

    /// When each request (accepted or not) for `to` arrived.
    pub fn request_times_to(&self, to: &str) -> Vec<Instant> {
        self.shared
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == to)
            .map(|(_, t)| *t)
            .collect()
    }

    /// Notified whenever a message arrives (for [`super::wait_for`]).
    pub fn arrivals(&self) -> &Notify {
        &self.shared.arrived
    }

    pub async fn wait_for_count(&self, n: usize, timeout: Duration) -> Result<(), String> {
        super::wait_for(
            "SMS gateway",
            &self.shared.arrived,
            || self.count(),
            n,
            timeout,
        )
        .await
    }

    /// The next request is kept waiting until [`HeldRequest::release`].
    pub fn hold_next(&self) -> HeldRequest {
        let h = HeldRequest::default();
        *self.shared.hold.lock().unwrap() = Some(h.clone());
        h
    }

    /// The next `n` requests get 429 (Twilio) or 503 (Kannel) with `Retry-After`.
    pub fn throttle_next(&self, n: u32, retry_after_secs: u64) {
        self.shared.faults.lock().unwrap().throttle = (n, retry_after_secs);
    }

    /// The next `n` requests get `status`.
    pub fn fail_next(&self, n: u32, status: u16) {
        self.shared.faults.lock().unwrap().fail = (n, status);
    }

    /// Every request for `number` gets `status` (with Twilio error `code`).
    pub fn reject_number(&self, number: &str, status: u16, code: i64) {
        self.shared
            .faults
            .lock()
            .unwrap()
            .reject
            .insert(number.to_string(), (status, code));
    }
}

enum Verdict {
    Accept,
    Throttle(u64),
    Fail(u16, i64),
}

fn judge(shared: &Shared, to: &str) -> Verdict {
    shared
        .requests
        .lock()
        .unwrap()
        .push((to.to_string(), Instant::now()));
    let mut f = shared.faults.lock().unwrap();
    if f.throttle.0 > 0 {
        f.throttle.0 -= 1;
        return Verdict::Throttle(f.throttle.1);
    }
    if f.fail.0 > 0 {
        f.fail.0 -= 1;
        return Verdict::Fail(f.fail.1, 20500);
    }
    match f.reject.get(to) {
        Some((status, code)) => Verdict::Fail(*status, *code),
        None => Verdict::Accept,
    }
}

fn record(shared: &Shared, sms: ReceivedSms) {
    shared.messages.lock().unwrap().push(sms);
    shared.arrived.notify_waiters();
}

fn kannel(shared: &Shared, p: &HashMap<String, String>) -> Response {
    if (
        p.get("username").map(String::as_str),
        p.get("password").map(String::as_str),
    ) != (Some(KANNEL_USER.0), Some(KANNEL_USER.1))
    {
        return (StatusCode::FORBIDDEN, "Authorization failed for sendsms").into_response();
    }
    let Some(to) = p.get("to").filter(|t| !t.is_empty()) else {
        return (StatusCode::BAD_REQUEST, "Missing receiver number, rejected").into_response();
    };
    match judge(shared, to) {
        Verdict::Throttle(secs) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [("Retry-After", secs.to_string())],
            "Queue full, try later",
        )
            .into_response(),
        Verdict::Fail(status, _) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "Rejected",
        )
            .into_response(),
        Verdict::Accept => {
            record(
                shared,
                ReceivedSms {
                    protocol: Protocol::Kannel,
                    to: to.clone(),
                    from: p.get("from").cloned().unwrap_or_default(),
                    text: p.get("text").cloned().unwrap_or_default(),
                    coding: p.get("coding").cloned(),
                    status_url: p.get("dlr-url").cloned(),
                    dlr_mask: p.get("dlr-mask").cloned(),
                    sid: None,
                },
            );
            (StatusCode::ACCEPTED, "0: Accepted for delivery").into_response()
        }
    }
}

async fn kannel_get(
    State(shared): State<Arc<Shared>>,
    Query(p): Query<HashMap<String, String>>,
) -> Response {
    held(&shared, p.get("to")).await;
    kannel(&shared, &p)
}

async fn kannel_post(
    State(shared): State<Arc<Shared>>,
    Form(p): Form<HashMap<String, String>>,
) -> Response {
    held(&shared, p.get("to")).await;
    kannel(&shared, &p)
}

fn twilio_error(status: StatusCode, code: i64, message: &str) -> Response {
    (
        status,
        Json(json!({"code": code, "message": message, "status": status.as_u16()})),
    )
        .into_response()
}

fn basic_auth_ok(headers: &HeaderMap) -> bool {
    use base64::Engine;
    let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(encoded) = value.strip_prefix("Basic ") else {
        return false;
    };
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .is_ok_and(|d| d == format!("{}:{}", TWILIO_AUTH.0, TWILIO_AUTH.1).as_bytes())
}

async fn twilio(
    State(shared): State<Arc<Shared>>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    Form(p): Form<HashMap<String, String>>,
) -> Response {
    held(&shared, p.get("To")).await;
    if sid != TWILIO_AUTH.0 || !basic_auth_ok(&headers) {
        return twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let to = p.get("To").cloned().unwrap_or_default();
    if !to.starts_with('+') || to.len() < 8 || !to[1..].chars().all(|c| c.is_ascii_digit()) {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21211,
            &format!("The 'To' number {to} is not a valid phone number."),
        );
    }
    match judge(&shared, &to) {
        Verdict::Throttle(secs) => {
            let mut r = twilio_error(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests");
            r.headers_mut()
                .insert("Retry-After", secs.to_string().parse().unwrap());
            r
        }
        Verdict::Fail(status, code) => twilio_error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            "Rejected by stub",
        ),
        Verdict::Accept => {
            let body = p.get("Body").cloned().unwrap_or_default();
            let sid = format!("SM{:032x}", shared.messages.lock().unwrap().len() + 1);
            record(
                &shared,
                ReceivedSms {
                    protocol: Protocol::Twilio,
                    to: to.clone(),
                    from: p.get("From").cloned().unwrap_or_default(),
                    text: body.clone(),
                    coding: None,
                    status_url: p.get("StatusCallback").cloned(),
                    dlr_mask: None,
                    sid: Some(sid.clone()),
                },
            );
            (
                StatusCode::CREATED,
                Json(json!({
                    "sid": sid,
                    "status": "queued",
                    "to": to,
                    "from": p.get("From"),
                    "body": body,
                    "num_segments": "1",
                })),
            )
                .into_response()
        }
    }
}
