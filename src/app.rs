//! The composition root: open the store, build the application state and the
//! router, run the HTTP server and the workers, shut down gracefully. Only the
//! command line (`cli`) and tests use this module; nothing below imports it.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::dispatch::WorkerHandle;
pub use crate::http::AppState;
use crate::published::{PlaceLists, Published, TagCache};
use crate::register::Register;
use crate::store::{Change, Store};
use crate::wake::Wake;

/// Bytes of rendered pages, and of IVR answers, kept per view; beyond, answers
/// are rendered but not kept. The feed is one body per view, however large.
const PAGE_CACHE_BYTES: usize = 64 << 20;
const IVR_CACHE_BYTES: usize = 32 << 20;
const FEED_CACHE_BYTES: usize = 256 << 20;
/// Bytes of outages' place lists kept per published version.
const PLACE_LIST_BYTES: usize = 64 << 20;

/// The process-wide Prometheus recorder (metrics has one global recorder).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0,
                ])
                .expect("buckets")
                .build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; then ours just records nothing.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Building the state is the composition root's job: the store is opened and
/// migrated here, and every part is wired to the same store, clock and wake-ups.
impl AppState {
    pub async fn new(config: Config, clock: SharedClock) -> anyhow::Result<Arc<AppState>> {
        let store = Store::open(&config).await?;
        store.migrate().await?;
        let server_key = store.signing_key().await?;
        Ok(Arc::new(AppState {
            published: Published::default(),
            feed_cache: TagCache::new(FEED_CACHE_BYTES),
            pages: TagCache::new(PAGE_CACHE_BYTES),
            ivr_answers: TagCache::new(IVR_CACHE_BYTES),
            caller_ids: Default::default(),
            calls: Default::default(),
            places: PlaceLists::new(PLACE_LIST_BYTES),
            credentials: Default::default(),
            server_key,
            trusted_proxies: config.proxies()?,
            tz: config.tz()?,
            config: Arc::new(config),
            register: Register::new(store.clone()),
            store,
            clock,
            wake: Arc::new(Wake::default()),
            metrics: metrics_handle(),
            delivery_counts: Default::default(),
        }))
    }

    /// Follows changes other processes make, where the database announces them
    /// (PostgreSQL): queued work wakes this process's idle workers at once, and a
    /// published change is read on the next request rather than within
    /// [`crate::published::RECHECK`]. Polling covers the rest (and SQLite).
    pub async fn follow_other_processes(self: &Arc<Self>) -> anyhow::Result<()> {
        let state = Arc::downgrade(self);
        let listening = self
            .store
            .listen(Box::new(move |change| {
                let Some(state) = state.upgrade() else {
                    return false;
                };
                if change != Change::Published {
                    state.wake.all();
                }
                if change != Change::Work {
                    state.published.touch();
                }
                true
            }))
            .await?;
        if listening {
            tracing::info!("following other nodes' changes through database notifications");
        }
        Ok(())
    }
}

/// A running server: its address, and handles to stop it.
pub struct Server {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    pub workers: Option<WorkerHandle>,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Writes the calls the IVR answered ([`write_calls`]).
    calls: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Binds (port 0 picks a free port), starts serving and, if configured, the workers.
    pub async fn start(config: Config) -> anyhow::Result<Server> {
        Self::start_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn start_with_clock(config: Config, clock: SharedClock) -> anyhow::Result<Server> {
        let listener = TcpListener::bind(&config.bind)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.bind))?;
        let addr = listener.local_addr()?;
        let mut config = config;
        if config.public_url.is_none() {
            config.public_url = Some(format!("http://{addr}"));
        }
        let run_workers = config.run_workers;
        let state = AppState::new(config, clock).await?;
        // Build the in-memory register now rather than on the first request:
        // a node added for a storm answers its first caller from memory.
        state.register.address_index().await?;
        let view = state.view().await?;
        state.register.book(view.addresses_version).await?;
        state.register.callers(view.contacts_version).await?;
        state.register.search(view.addresses_version).await?;
        state.follow_other_processes().await?;
        let workers = if run_workers {
            Some(state.dispatcher().await?.start())
        } else {
            None
        };
        let router = crate::http::router(Arc::clone(&state));
        let limits = crate::http::listener::Limits {
            header_read_timeout: std::time::Duration::from_millis(
                state.config.http.header_read_timeout_ms,
            ),
            max_connections: state.config.http.max_connections,
            max_connections_per_client: state.config.http.max_connections_per_client,
            trusted_proxies: state.trusted_proxies.clone(),
        };
        let (shutdown, rx) = tokio::sync::watch::channel(false);
        let calls = tokio::spawn(write_calls(Arc::clone(&state), rx.clone()));
        let task = tokio::spawn(crate::http::listener::serve(listener, router, limits, rx));
        Ok(Server {
            addr,
            state,
            workers,
            shutdown,
            task,
            calls,
        })
    }

    /// Stops accepting requests, finishes those in flight, then stops the workers
    /// after the batch in hand.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        let _ = self.calls.await;
        if let Some(w) = self.workers {
            w.stop().await;
        }
    }
}

/// How often a node writes the calls its IVR answers noted, and forgets those
/// older than `ivr.call_retention_days` (and received texts older than
/// `sms.inbound_retention_days`).
const WRITE_CALLS: std::time::Duration = std::time::Duration::from_secs(1);
const FORGET_CALLS: std::time::Duration = std::time::Duration::from_secs(3600);

/// Writes the noted calls every second until shutdown, then once more; every
/// hour deletes those past their retention.
async fn write_calls(state: Arc<AppState>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(WRITE_CALLS);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut forgotten: Option<std::time::Instant> = None;
    loop {
        let stopping = tokio::select! {
            _ = tick.tick() => false,
            _ = shutdown.changed() => true,
        };
        if let Err(e) = state.calls.flush(&state.store, &state.server_key).await {
            tracing::warn!(error = %e, pending = state.calls.pending(), "could not write IVR calls");
        }
        if forgotten.is_none_or(|at| at.elapsed() >= FORGET_CALLS) {
            let days = i64::from(state.config.ivr.call_retention_days);
            let before = state.clock.now() - chrono::Duration::days(days);
            match state.store.forget_calls(before).await {
                Ok(n) if n > 0 => {
                    tracing::info!(calls = n, "forgot IVR calls past their retention")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not forget old IVR calls"),
            }
            let days = i64::from(state.config.sms.inbound_retention_days.max(2));
            let before = state.clock.now() - chrono::Duration::days(days);
            match state.store.forget_texts(before).await {
                Ok(n) if n > 0 => {
                    tracing::info!(texts = n, "forgot received texts past their retention")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not forget old received texts"),
            }
            // A repeat call is written again after this (see `calls`), so a
            // caller whose first call was just forgotten is counted anew.
            state.calls.forget_seen();
            forgotten = Some(std::time::Instant::now());
        }
        if stopping || *shutdown.borrow() {
            return;
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
