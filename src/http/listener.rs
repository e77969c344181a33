//! The HTTP listener, with the limits a server facing the internet needs when
//! no proxy stands in front of it (`[http]` in the configuration):
//!
//! - a **header-read timeout**: a client that opens a connection and trickles
//!   its request headers (slowloris) is cut off after `header_read_timeout_ms`;
//! - at most `max_connections` open connections, and at most
//!   `max_connections_per_client` from one address (trusted proxies, which
//!   carry everybody's connections, are exempt). A connection over a limit is
//!   closed at once, before anything is read from it.
//!
//! `axum::serve` offers neither, so this is its accept loop with hyper's HTTP/1
//! connection builder configured; shutdown is graceful in the same way:
//! connections finish the request in hand, then close.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use ipnet::IpNet;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

/// The listener's limits (see the module docs).
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_client: usize,
    /// Exempt from the per-client limit.
    pub trusted_proxies: Vec<IpNet>,
}

/// Open connections per client address.
#[derive(Default)]
struct PerClient(Mutex<HashMap<IpAddr, usize>>);

/// One connection counted against its client; uncounted when dropped.
struct ClientSlot {
    clients: Arc<PerClient>,
    ip: IpAddr,
}

impl PerClient {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<ClientSlot> {
        let mut open = self.0.lock().expect("connections");
        let n = open.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            clients: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self.clients.0.lock().expect("connections");
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Counts a refused connection; logs the 1st, 2nd, 4th, 8th… so a flood
/// cannot flood the log too.
fn refuse(refused: &mut u64, limit: usize, why: &str) {
    *refused += 1;
    if refused.is_power_of_two() {
        tracing::warn!(refused = *refused, limit, "connection refused: {why}");
    }
}

/// Serves `router` on `listener` until `shutdown` turns true, then waits for
/// open connections to finish their request in hand.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let clients = Arc::new(PerClient::default());
    // Every connection task holds a receiver; all dropped = all finished.
    let (all_closed, closing) = watch::channel(());
    let mut refused: u64 = 0;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors, or the connection died before it
                // was accepted: wait a moment rather than spin.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            refuse(
                &mut refused,
                limits.max_connections,
                "the server has as many open as it allows",
            );
            continue;
        };
        let slot = if limits
            .trusted_proxies
            .iter()
            .any(|p| p.contains(&peer.ip()))
        {
            None
        } else {
            match clients.take(peer.ip(), limits.max_connections_per_client) {
                Some(slot) => Some(slot),
                None => {
                    refuse(
                        &mut refused,
                        limits.max_connections_per_client,
                        "the client has as many open as it may",
                    );
                    continue;
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let service = router
            .clone()
            .map_request(move |request: hyper::Request<Incoming>| {
                let mut request = request.map(Body::new);
                request
                    .extensions_mut()
                    .insert(ConnectInfo::<SocketAddr>(peer));
                request
            });
        let service = TowerToHyperService::new(service);
        let mut stop = shutdown.clone();
        let closing = closing.clone();
        let header_read_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            let finished = tokio::select! {
                result = conn.as_mut() => Some(result),
                _ = stop.wait_for(|stop| *stop) => None,
            };
            let result = match finished {
                Some(result) => result,
                None => {
                    conn.as_mut().graceful_shutdown();
                    conn.as_mut().await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop((permit, slot, closing));
        });
    }
    drop(closing);
    all_closed.closed().await;
    Ok(())
}
