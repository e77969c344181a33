//! Test support: the app harness and stand-ins for the outside world that speak
//! the real protocols (an SMTP server, Kannel's and a Twilio-style SMS API).
#![allow(dead_code)]

pub mod app;
pub mod db;
pub mod logs;
pub mod sms_gateway;
pub mod smtp_sink;
pub mod xml;

/// Waits until `count()` reaches `n`, waking on `arrived` (a stub's "message
/// received" notification) rather than polling.
pub async fn wait_for(
    what: &str,
    arrived: &tokio::sync::Notify,
    count: impl Fn() -> usize,
    n: usize,
    timeout: std::time::Duration,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let notified = arrived.notified();
        if count() >= n {
            return Ok(());
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return Err(format!(
                "{what}: {} of {n} messages after {timeout:?}",
                count()
            ));
        }
    }
}
