//! SMS providers: Kannel's `sendsms` HTTP interface, a Twilio-style REST API (form
//! POST with basic auth, JSON reply), and a JSON-lines file outbox for the demo.
//!
//! Both HTTP protocols report overload as 429/503 with `Retry-After`; we pass the
//! delay back so the queue honours it. Refusals that no retry can fix (an invalid
//! or unsubscribed number) are permanent.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use super::sms_text::Encoding;
use super::{parse_retry_after, SendOutcome};
use crate::config::{redact_url, SmsConfig, SmsProvider};

/// One outgoing SMS, already fitted to its encoding.
#[derive(Debug, Serialize)]
pub struct OutgoingSms<'a> {
    pub to: &'a str,
    pub from: &'a str,
    pub text: &'a str,
    #[serde(skip)]
    pub encoding: Encoding,
    pub segments: u32,
    /// None for a subscription confirmation.
    pub delivery_id: Option<i64>,
    /// Where the gateway reports delivery (Kannel's `dlr-url`, Twilio's
    /// `StatusCallback`); None asks for no report.
    #[serde(skip)]
    pub status_url: Option<&'a str>,
}

pub enum SmsSender {
    File {
        path: PathBuf,
        file: Mutex<tokio::fs::File>,
    },
    Kannel {
        client: reqwest::Client,
        config: SmsConfig,
    },
    Twilio {
        client: reqwest::Client,
        config: SmsConfig,
    },
}

/// Kannel's DLR types a report is asked for: 1 delivered to the phone, 2 not
/// delivered to the phone, 16 rejected by the SMSC (4 and 8, buffered and
/// accepted by the SMSC, are not final).
pub const KANNEL_DLR_MASK: &str = "19";

/// Twilio error codes that mean "this number will never work".
const TWILIO_PERMANENT: &[i64] = &[21211, 21214, 21408, 21610, 21612, 21614, 21217];

impl SmsSender {
    pub async fn from_config(config: &SmsConfig, outbox: PathBuf) -> anyhow::Result<SmsSender> {
        let client = || {
            reqwest::Client::builder()
                .timeout(Duration::from_millis(config.timeout_ms))
                .pool_max_idle_per_host(config.concurrency)
                .build()
        };
        Ok(match config.provider {
            SmsProvider::File => {
                tokio::fs::create_dir_all(&outbox).await?;
                let path = outbox.join("sms.jsonl");
                let file = tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .await?;
                SmsSender::File {
                    path,
                    file: Mutex::new(file),
                }
            }
            SmsProvider::Kannel => {
                if config.kannel.demo_credentials_off_loopback() {
                    tracing::warn!(
                        gateway = %crate::config::redact_url(&config.kannel.url),
                        "sms.kannel uses Kannel's example credentials (tester/foobar) with a \
                         gateway that is not on this machine: set sms.kannel.username and \
                         sms.kannel.password to the gateway's sendsms-user"
                    );
                }
                SmsSender::Kannel {
                    client: client()?,
                    config: config.clone(),
                }
            }
            SmsProvider::Twilio => {
                anyhow::ensure!(
                    !config.twilio.account_sid.is_empty(),
                    "sms.twilio.account_sid must be set for the twilio provider"
                );
                SmsSender::Twilio {
                    client: client()?,
                    config: config.clone(),
                }
            }
        })
    }

    pub fn describe(&self) -> String {
        match self {
            SmsSender::File { path, .. } => format!("file outbox {}", path.display()),
            SmsSender::Kannel { config, .. } => {
                format!("Kannel {}", redact_url(&config.kannel.url))
            }
            SmsSender::Twilio { config, .. } => {
                format!("Twilio-style API {}", redact_url(&config.twilio.url))
            }
        }
    }

    pub async fn send(&self, sms: &OutgoingSms<'_>) -> SendOutcome {
        match self {
            SmsSender::File { file, .. } => {
                let mut line = serde_json::to_vec(sms).expect("sms serializes");
                line.push(b'\n');
                let mut file = file.lock().await;
                match file.write_all(&line).await {
                    Ok(()) => SendOutcome::Sent { provider_id: None },
                    Err(e) => SendOutcome::Transient {
                        error: format!("cannot write to SMS outbox: {e}"),
                        retry_after: None,
                    },
                }
            }
            SmsSender::Kannel { client, config } => {
                let coding = if sms.encoding == Encoding::Ucs2 {
                    "2"
                } else {
                    "0"
                };
                let mut request = client
                    .get(format!(
                        "{}/cgi-bin/sendsms",
                        config.kannel.url.trim_end_matches('/')
                    ))
                    .query(&[
                        ("username", config.kannel.username.as_str()),
                        ("password", config.kannel.password.expose()),
                        ("from", sms.from),
                        ("to", sms.to),
                        ("text", sms.text),
                        ("charset", "UTF-8"),
                        ("coding", coding),
                    ]);
                if let Some(url) = sms.status_url {
                    request = request.query(&[("dlr-mask", KANNEL_DLR_MASK), ("dlr-url", url)]);
                }
                classify(request.send().await, Protocol::Kannel).await
            }
            SmsSender::Twilio { client, config } => {
                let t = &config.twilio;
                let request = client
                    .post(format!(
                        "{}/2010-04-01/Accounts/{}/Messages.json",
                        t.url.trim_end_matches('/'),
                        t.account_sid
                    ))
                    .basic_auth(&t.account_sid, Some(t.auth_token.expose()));
                let mut form = vec![("To", sms.to), ("From", sms.from), ("Body", sms.text)];
                if let Some(url) = sms.status_url {
                    form.push(("StatusCallback", url));
                }
                let request = request.form(&form);
                classify(request.send().await, Protocol::Twilio).await
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Protocol {
    Kannel,
    Twilio,
}

async fn classify(
    response: Result<reqwest::Response, reqwest::Error>,
    protocol: Protocol,
) -> SendOutcome {
    let response = match response {
        Ok(r) => r,
        // Without the URL: Kannel's carries the password (and the message) in
        // its query string, and this text is stored, logged and served by the API.
        Err(e) => {
            return SendOutcome::Transient {
                error: format!("SMS gateway unreachable: {}", e.without_url()),
                retry_after: None,
            }
        }
    };
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    let body = response.text().await.unwrap_or_default();
    let body_short: String = body.chars().take(300).collect();
    if status.is_success() {
        let provider_id = match protocol {
            Protocol::Twilio => serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("sid").and_then(|s| s.as_str()).map(String::from)),
            Protocol::Kannel => None,
        };
        return SendOutcome::Sent { provider_id };
    }
    let error = format!("gateway answered {status}: {}", body_short.trim());
    let code = status.as_u16();
    match code {
        429 | 503 | 502 | 504 => SendOutcome::Transient { error, retry_after },
        // Bad credentials are a configuration problem, not the recipient's: keep the
        // message and retry (an operator sees the error on the delivery).
        401 | 403 => SendOutcome::Transient {
            error,
            retry_after: None,
        },
        400..=499 => {
            let twilio_code = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("code").and_then(|c| c.as_i64()));
            match (protocol, twilio_code) {
                (Protocol::Twilio, Some(c)) if !TWILIO_PERMANENT.contains(&c) && code != 400 => {
                    SendOutcome::Transient { error, retry_after }
                }
                _ => SendOutcome::Permanent { error },
            }
        }
        _ => SendOutcome::Transient { error, retry_after },
    }
}
