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
use crate::receipts::SmsReports;
use crate::register::Register;
use crate::store::{Change, Store};
use crate::wake::Wake;

/// Bytes of rendered pages, and of IVR answers, kept per view; beyond, answers
/// are rendered but not kept. The feed is one body per view, however large.
const PAGE_CACHE_BYTES: usize = 64 << 20;
const IVR_CACHE_BYTES: usize = 32 << 20;
const FEED_CACHE_BYTES: usize = 256 << 20;
/// Spoken sentences (`status::Sentences`): one per outage, place and
/// language in a view, a few hundred bytes each.
const SENTENCE_CACHE_BYTES: usize = 4 << 20;
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
            // A histogram keeps each sample until it is folded into its
            // buckets, which only a scrape or this upkeep does: with nobody
            // scraping `/metrics`, every request's latency stayed in memory
            // (8 bytes a request: some 400 MiB an hour at 15,000 a second).
            // `build_recorder` starts no upkeep of its own; a thread does it,
            // as it must run whether or not a runtime is there.
            let upkeep = handle.clone();
            let _ = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(std::time::Duration::from_secs(5));
                    upkeep.run_upkeep();
                });
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
            sentences: TagCache::new(SENTENCE_CACHE_BYTES),
            caller_ids: Default::default(),
            calls: Default::default(),
            sms_reports: SmsReports::new(store.clone()),
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
    workers: Option<Workers>,
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
        let workers = match (run_workers, state.config.delivery.worker_nice) {
            (false, _) => None,
            (true, 0) => Some(Workers::Here(state.dispatcher().await?.start())),
            (true, nice) => Some(Workers::Apart(Apart::start(&state, nice).await?)),
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
        match self.workers {
            Some(Workers::Here(w)) => w.stop().await,
            Some(Workers::Apart(w)) => w.stop().await,
            None => {}
        }
    }
}

/// Where a `serve`'s workers run (see `delivery.worker_nice`).
enum Workers {
    /// On the server's runtime.
    Here(WorkerHandle),
    /// On a runtime of their own, at a lower priority.
    Apart(Apart),
}

/// The workers on a runtime of their own, on threads at a nice value, with a
/// database pool of their own: what `nice herald worker` beside a web-only
/// `serve` does, in one process. Linux gives each thread its own nice value
/// and a thread inherits its creator's, so every thread the workers' runtime
/// starts (its workers, its blocking pool, SQLite's connection threads, which
/// the pool opens from them) runs at it, while the HTTP side keeps its
/// priority. Measured so far (BENCHMARKS.md, issue 11's third round), this
/// does not yet give a 2-core machine what the split layout does: the
/// workers' threads, though niced, still take a share of the same cores and
/// allocator; run a web-only `serve` beside `nice herald worker` for a storm.
struct Apart {
    stop: tokio::sync::oneshot::Sender<()>,
    stopped: tokio::sync::oneshot::Receiver<()>,
}

impl Apart {
    async fn start(state: &AppState, nice: i32) -> anyhow::Result<Apart> {
        let (config, clock, wake) = (
            Config::clone(&state.config),
            state.clock.clone(),
            Arc::clone(&state.wake),
        );
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (ready_tx, ready) = tokio::sync::oneshot::channel::<anyhow::Result<()>>();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (stopped_tx, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("herald-workers".into())
            .spawn(move || {
                lower_priority(nice);
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(threads)
                    .thread_name("herald-worker")
                    .on_thread_start(move || lower_priority(nice))
                    .enable_all()
                    .build();
                let runtime = match runtime {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.into()));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let dispatcher = async {
                        let store = Store::open(&config).await?;
                        crate::dispatch::Dispatcher::new(store, clock, &config, wake).await
                    };
                    let handle = match dispatcher.await {
                        Ok(d) => {
                            let _ = ready_tx.send(Ok(()));
                            d.start()
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    // Stopped, or the server dropped without stopping.
                    let _ = stop_rx.await;
                    handle.stop().await;
                });
                runtime.shutdown_timeout(std::time::Duration::from_secs(5));
                let _ = stopped_tx.send(());
            })?;
        ready
            .await
            .map_err(|_| anyhow::anyhow!("the workers' thread ended while starting"))??;
        Ok(Apart { stop, stopped })
    }

    /// Stops the workers after the batch in hand.
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.stopped.await;
    }
}

/// Lowers the calling thread's priority to `nice` (Linux: a thread's own).
fn lower_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: setpriority reads no memory; `who` 0 is the calling thread.
        let r = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
        if r != 0 {
            tracing::warn!(nice, error = %std::io::Error::last_os_error(), "could not lower the workers' priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
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
