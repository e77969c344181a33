//! Test support: the app harness and stand-ins for the outside world that speak
//! the real protocols (an SMTP server, Kannel's and a Twilio-style SMS API).
#![allow(dead_code)]

pub mod app;
pub mod console;
pub mod db;
pub mod logs;
pub mod sms_gateway;
pub mod smtp_sink;
pub mod subscribe;
pub mod xml;

/// Asks `ask` again until it answers `Ok`, failing with its last `Err` once
/// `limit` has passed. For what another node learns on its own wall-clock
/// schedule (a published version re-read every 250 ms, a token re-read every
/// 500 ms): there is no clock to move or queue to drain in another node, so
/// the test can only look again, as a user would, and bound how long it takes.
pub async fn within<F, Fut>(limit: std::time::Duration, mut ask: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let started = std::time::Instant::now();
    loop {
        match ask().await {
            Ok(()) => return,
            Err(last) if started.elapsed() >= limit => {
                panic!("not within {limit:?}: {last}")
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
}

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
