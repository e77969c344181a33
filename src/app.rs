//! Application state and lifecycle: open the store, keep the address index fresh,
//! assemble the router, run the HTTP server and the workers, shut down gracefully.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock, RwLock};

use chrono_tz::Tz;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::dispatch::worker::Wake;
use crate::dispatch::{Dispatcher, WorkerHandle};
use crate::error::Result;
use crate::geo::AddressIndex;
use crate::published::{Published, TagCache, View};
use crate::search::AddressSearch;
use axum::body::Bytes;

/// Rendered pages (or IVR answers) kept per view; more are rendered but not kept.
const CACHE_ENTRIES: usize = 10_000;
use crate::store::{Change, Store};

pub struct AppState {
    /// The published version and its view tag, re-read at most every 250 ms.
    pub published: Published,
    /// The IVR full feed, rendered once per view.
    pub feed_cache: TagCache<Bytes>,
    /// Rendered status pages of the current view, by language and URL.
    pub pages: TagCache<Bytes>,
    /// IVR answers of the current view, by query, language and format.
    pub ivr_answers: TagCache<crate::http::ivr::CachedAnswer>,
    pub caller_ids: crate::http::ivr::CallerIds,
    pub config: Arc<Config>,
    pub store: Store,
    pub clock: SharedClock,
    pub index: Versioned<AddressIndex>,
    pub search: Versioned<AddressSearch>,
    pub wake: Arc<Wake>,
    pub tz: Tz,
    pub metrics: PrometheusHandle,
}

/// An in-memory structure derived from the address register (the geo index, the
/// search index), rebuilt when the database's address version moves — after an
/// import in this process or any other.
pub struct Versioned<T> {
    current: RwLock<Option<(i64, Arc<T>)>>,
    rebuild: tokio::sync::Mutex<()>,
}

impl<T: Send + Sync + 'static> Versioned<T> {
    fn new() -> Versioned<T> {
        Versioned {
            current: RwLock::new(None),
            rebuild: tokio::sync::Mutex::new(()),
        }
    }

    fn cached(&self, version: i64) -> Option<Arc<T>> {
        match &*self.current.read().expect("index lock") {
            Some((v, index)) if *v == version => Some(Arc::clone(index)),
            _ => None,
        }
    }

    /// The structure for `version`, building it (off the async threads) if needed.
    async fn get<F>(&self, version: i64, build: F) -> Result<Arc<T>>
    where
        F: std::future::Future<Output = Result<T>>,
    {
        if let Some(index) = self.cached(version) {
            return Ok(index);
        }
        let _guard = self.rebuild.lock().await;
        if let Some(index) = self.cached(version) {
            return Ok(index);
        }
        let index = Arc::new(build.await?);
        *self.current.write().expect("index lock") = Some((version, Arc::clone(&index)));
        Ok(index)
    }
}

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

impl AppState {
    pub async fn new(config: Config, clock: SharedClock) -> anyhow::Result<Arc<AppState>> {
        let store = Store::open(&config).await?;
        store.migrate().await?;
        Ok(Arc::new(AppState {
            published: Published::default(),
            feed_cache: TagCache::new(1),
            pages: TagCache::new(CACHE_ENTRIES),
            ivr_answers: TagCache::new(CACHE_ENTRIES),
            caller_ids: Default::default(),
            tz: config.tz()?,
            config: Arc::new(config),
            store,
            clock,
            index: Versioned::new(),
            search: Versioned::new(),
            wake: Arc::new(Wake::default()),
            metrics: metrics_handle(),
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

    /// What residents and the IVR see now (see [`crate::published`]).
    pub async fn view(&self) -> Result<View> {
        self.published
            .view(&self.store, self.tz, self.clock.now())
            .await
    }

    /// The geo index over the current address register.
    pub async fn address_index(&self) -> Result<Arc<AddressIndex>> {
        let version = self.store.addresses_version().await?;
        self.index
            .get(version, async {
                let started = std::time::Instant::now();
                let points = self.store.index_points().await?;
                let index = tokio::task::spawn_blocking(move || AddressIndex::build(points))
                    .await
                    .map_err(|e| anyhow::anyhow!("index build: {e}"))?;
                tracing::info!(
                    addresses = index.len(),
                    version,
                    ms = started.elapsed().as_millis() as u64,
                    "address index built"
                );
                Ok(index)
            })
            .await
    }

    /// The address search index over the current register.
    pub async fn address_search(&self) -> Result<Arc<AddressSearch>> {
        let version = self.store.addresses_version().await?;
        self.search
            .get(version, async {
                let rows = self.store.search_addresses().await?;
                tokio::task::spawn_blocking(move || AddressSearch::build(rows))
                    .await
                    .map_err(|e| anyhow::anyhow!("search index build: {e}").into())
            })
            .await
    }

    pub async fn dispatcher(&self) -> anyhow::Result<Arc<Dispatcher>> {
        Dispatcher::new(
            self.store.clone(),
            self.clock.clone(),
            &self.config,
            Arc::clone(&self.wake),
        )
        .await
    }
}

/// A running server: its address, and handles to stop it.
pub struct Server {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    pub workers: Option<WorkerHandle>,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
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
        // Build the index now rather than on the first declaration.
        state.address_index().await?;
        state.follow_other_processes().await?;
        let workers = if run_workers {
            Some(state.dispatcher().await?.start())
        } else {
            None
        };
        let router = crate::http::router(Arc::clone(&state));
        let (shutdown, mut rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|stop| *stop).await;
                })
                .await
        });
        Ok(Server {
            addr,
            state,
            workers,
            shutdown,
            task,
        })
    }

    /// Stops accepting requests, finishes those in flight, then stops the workers
    /// after the batch in hand.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        if let Some(w) = self.workers {
            w.stop().await;
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
