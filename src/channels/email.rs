//! E-mail: building RFC 5322 messages with lettre, and sending them through an
//! SMTP relay or into a file outbox.
//!
//! The SMTP pool is ours rather than lettre's: lettre 0.11.23 leaves Nagle's
//! algorithm on and writes the body and the final `.` separately, so every message
//! on a pooled connection waits ~40 ms for a delayed ACK (~22 msg/s per connection).
//! We open the TCP stream ourselves with `TCP_NODELAY` and hand it to lettre's
//! `AsyncSmtpConnection`, which still speaks the protocol (EHLO, STARTTLS, AUTH).
//! Implicit TLS (port 465) uses lettre's own connect; its throughput is bounded by a
//! remote relay's latency anyway.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::Semaphore;

use super::render::RenderedEmail;
use super::SendOutcome;
use crate::config::{EmailConfig, EmailTransport, SmtpConfig, SmtpTls};

/// `List-Unsubscribe: <https://…>` (RFC 2369).
#[derive(Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_string()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058): mail clients may
/// POST to the unsubscribe URL without showing the resident a page.
#[derive(Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribePost)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_string())
    }
}

/// One outgoing e-mail.
pub struct OutgoingEmail<'a> {
    pub to: &'a str,
    pub content: &'a RenderedEmail,
    /// None for messages that are not alerts (a subscription confirmation).
    pub unsubscribe_url: Option<&'a str>,
    /// Stable per delivery and revision, so a re-sent duplicate carries the same id
    /// and mail clients can fold it.
    pub message_id: String,
}

pub fn build_message(from: &Mailbox, email: &OutgoingEmail<'_>) -> Result<Message, String> {
    let to: Mailbox = email
        .to
        .parse()
        .map_err(|e| format!("invalid recipient '{}': {e}", email.to))?;
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(email.content.subject.clone())
        .message_id(Some(email.message_id.clone()))
        .date_now();
    if let Some(url) = email.unsubscribe_url {
        builder = builder
            .header(ListUnsubscribe(url.to_string()))
            .header(ListUnsubscribePost);
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            email.content.text.clone(),
            email.content.html.clone(),
        ))
        .map_err(|e| format!("cannot build message: {e}"))
}

pub enum EmailSender {
    File(AsyncFileTransport<Tokio1Executor>, PathBuf),
    Smtp(Box<SmtpPool>),
}

impl EmailSender {
    pub fn from_config(config: &EmailConfig, outbox: PathBuf) -> anyhow::Result<EmailSender> {
        Ok(match config.transport {
            EmailTransport::File => {
                let dir = outbox.join("email");
                std::fs::create_dir_all(&dir)?;
                EmailSender::File(AsyncFileTransport::new(&dir), dir)
            }
            EmailTransport::Smtp => {
                EmailSender::Smtp(Box::new(SmtpPool::new(config.smtp.clone())?))
            }
        })
    }

    pub fn describe(&self) -> String {
        match self {
            EmailSender::File(_, dir) => format!("file outbox {}", dir.display()),
            EmailSender::Smtp(pool) => {
                format!("SMTP {}:{}", pool.config.host, pool.config.port)
            }
        }
    }

    pub async fn send(&self, message: &Message) -> SendOutcome {
        match self {
            EmailSender::File(transport, _) => match transport.send(message.clone()).await {
                Ok(id) => SendOutcome::Sent {
                    provider_id: Some(id),
                },
                Err(e) => SendOutcome::Transient {
                    error: format!("cannot write to outbox: {e}"),
                    retry_after: None,
                },
            },
            EmailSender::Smtp(pool) => pool.send(message).await,
        }
    }
}

/// A bounded pool of SMTP connections with `TCP_NODELAY`.
pub struct SmtpPool {
    config: SmtpConfig,
    hello: ClientId,
    tls: Option<TlsParameters>,
    credentials: Option<Credentials>,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    permits: Semaphore,
}

/// A connection idle longer than this is checked with NOOP before reuse.
const IDLE_CHECK: Duration = Duration::from_secs(20);

impl SmtpPool {
    pub fn new(config: SmtpConfig) -> anyhow::Result<SmtpPool> {
        let tls = match config.tls {
            SmtpTls::None => None,
            SmtpTls::Starttls | SmtpTls::Tls => Some(
                TlsParameters::builder(config.host.clone())
                    .dangerous_accept_invalid_certs(config.tls_accept_invalid_certs)
                    .build()?,
            ),
        };
        let credentials = match (&config.username, &config.password) {
            (Some(u), Some(p)) => Some(Credentials::new(u.clone(), p.expose().to_string())),
            _ => None,
        };
        Ok(SmtpPool {
            hello: ClientId::default(),
            tls,
            credentials,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(config.pool_size.max(1)),
            config,
        })
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, String> {
        let timeout = Duration::from_millis(self.config.timeout_ms);
        let addr = (self.config.host.as_str(), self.config.port);
        let mut conn = if self.config.tls == SmtpTls::Tls {
            AsyncSmtpConnection::connect_tokio1(
                addr,
                Some(timeout),
                &self.hello,
                self.tls.clone(),
                None,
            )
            .await
            .map_err(|e| format!("SMTP connect: {e}"))?
        } else {
            let stream = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr))
                .await
                .map_err(|_| "SMTP connect: timed out".to_string())?
                .map_err(|e| format!("SMTP connect: {e}"))?;
            stream
                .set_nodelay(true)
                .map_err(|e| format!("SMTP connect: {e}"))?;
            let mut conn = tokio::time::timeout(
                timeout,
                AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello),
            )
            .await
            .map_err(|_| "SMTP greeting: timed out".to_string())?
            .map_err(|e| format!("SMTP greeting: {e}"))?;
            if let (SmtpTls::Starttls, Some(tls)) = (self.config.tls, &self.tls) {
                conn.starttls(tls.clone(), &self.hello)
                    .await
                    .map_err(|e| format!("STARTTLS: {e}"))?;
            }
            conn
        };
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(|e| format!("SMTP AUTH: {e}"))?;
        }
        Ok(conn)
    }

    fn take_idle(&self) -> Option<(AsyncSmtpConnection, Instant)> {
        self.idle.lock().expect("smtp pool lock").pop()
    }

    pub async fn send(&self, message: &Message) -> SendOutcome {
        let Ok(_permit) = self.permits.acquire().await else {
            return SendOutcome::Transient {
                error: "SMTP pool closed".into(),
                retry_after: None,
            };
        };
        let envelope = message.envelope().clone();
        let bytes = message.formatted();
        let timeout = Duration::from_millis(self.config.timeout_ms);
        // A pooled connection may have been closed by the relay while idle; on an
        // I/O failure with a reused connection we try once more on a fresh one.
        let mut reused = self.take_idle();
        loop {
            let was_reused = reused.is_some();
            let mut conn = match reused.take() {
                Some((mut conn, since)) => {
                    if since.elapsed() > IDLE_CHECK && !conn.test_connected().await {
                        continue;
                    }
                    conn
                }
                None => match self.connect().await {
                    Ok(conn) => conn,
                    Err(error) => {
                        return SendOutcome::Transient {
                            error,
                            retry_after: None,
                        }
                    }
                },
            };
            let result = tokio::time::timeout(timeout, conn.send(&envelope, &bytes)).await;
            match result {
                Ok(Ok(response)) => {
                    if !conn.has_broken() {
                        self.idle
                            .lock()
                            .expect("smtp pool lock")
                            .push((conn, Instant::now()));
                    }
                    let id = response.message().next().map(|s| s.to_string());
                    return SendOutcome::Sent { provider_id: id };
                }
                Ok(Err(e)) => {
                    if e.is_permanent() {
                        return SendOutcome::Permanent {
                            error: format!("SMTP: {e}"),
                        };
                    }
                    if was_reused && !e.is_response() {
                        continue;
                    }
                    return SendOutcome::Transient {
                        error: format!("SMTP: {e}"),
                        retry_after: None,
                    };
                }
                Err(_) => {
                    return SendOutcome::Transient {
                        error: "SMTP: timed out".into(),
                        retry_after: None,
                    }
                }
            }
        }
    }
}
