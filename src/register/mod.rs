//! The in-memory structures derived from the address register and the
//! contacts — the geo index (which addresses an area covers), the search index
//! ("am I affected?"), the address book (addresses by id, external id and
//! postcode) and the caller map (a number's addresses and language) — kept for
//! the current versions and rebuilt when an import, an opt-out or a
//! subscription, in this process or any other, moves them.

pub mod book;
pub mod callers;

use std::sync::{Arc, RwLock};

pub use book::AddressBook;
pub use callers::CallerMap;

use crate::error::Result;
use crate::geo::AddressIndex;
use crate::search::AddressSearch;
use crate::store::Store;

/// An in-memory structure derived from the address register (the geo index, the
/// search index), rebuilt when the database's address version moves — after an
/// import in this process or any other.
pub struct Versioned<T> {
    current: RwLock<Option<(i64, Arc<T>)>>,
    rebuild: tokio::sync::Mutex<()>,
}

impl<T: Send + Sync + 'static> Versioned<T> {
    pub fn new() -> Versioned<T> {
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
    pub async fn get<F>(&self, version: i64, build: F) -> Result<Arc<T>>
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

impl<T: Send + Sync + 'static> Default for Versioned<T> {
    fn default() -> Self {
        Versioned::new()
    }
}

/// Reports what an in-memory structure holds (`herald_memory_bytes{part}`).
fn memory(part: &'static str, bytes: usize) {
    metrics::gauge!("herald_memory_bytes", "part" => part).set(bytes as f64);
}

/// The address register as the operations read it from memory.
pub struct Register {
    store: Store,
    index: Versioned<AddressIndex>,
    search: Versioned<AddressSearch>,
    book: Versioned<AddressBook>,
    callers: Versioned<CallerMap>,
}

impl Register {
    pub fn new(store: Store) -> Register {
        Register {
            store,
            index: Versioned::new(),
            search: Versioned::new(),
            book: Versioned::new(),
            callers: Versioned::new(),
        }
    }

    /// The address book for the register's `version` (as the published view
    /// read it: no database read unless the version moved).
    pub async fn book(&self, version: i64) -> Result<Arc<AddressBook>> {
        self.book
            .get(version, async {
                let started = std::time::Instant::now();
                let rows = self.store.search_addresses().await?;
                let book = tokio::task::spawn_blocking(move || AddressBook::build(rows))
                    .await
                    .map_err(|e| anyhow::anyhow!("address book build: {e}"))?;
                tracing::info!(
                    addresses = book.len(),
                    version,
                    mib = book.bytes() >> 20,
                    ms = started.elapsed().as_millis() as u64,
                    "address book built"
                );
                memory("address_book", book.bytes());
                Ok(book)
            })
            .await
    }

    /// The caller map for the contacts' `version`.
    pub async fn callers(&self, version: i64) -> Result<Arc<CallerMap>> {
        self.callers
            .get(version, async {
                let started = std::time::Instant::now();
                let rows = self.store.callers().await?;
                let map = tokio::task::spawn_blocking(move || CallerMap::build(rows))
                    .await
                    .map_err(|e| anyhow::anyhow!("caller map build: {e}"))?;
                tracing::info!(
                    numbers = map.len(),
                    version,
                    mib = map.bytes() >> 20,
                    ms = started.elapsed().as_millis() as u64,
                    "caller map built"
                );
                memory("caller_map", map.bytes());
                Ok(map)
            })
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
                    mib = index.memory_bytes() >> 20,
                    ms = started.elapsed().as_millis() as u64,
                    "address index built"
                );
                memory("geo_index", index.memory_bytes());
                Ok(index)
            })
            .await
    }

    /// The address search index for the register's `version`, built from the
    /// address book (one read of the register serves both, and the rows are
    /// made one at a time instead of held all at once).
    pub async fn search(&self, version: i64) -> Result<Arc<AddressSearch>> {
        self.search
            .get(version, async {
                let book = self.book(version).await?;
                let started = std::time::Instant::now();
                let search = tokio::task::spawn_blocking(move || AddressSearch::build(book.rows()))
                    .await
                    .map_err(|e| anyhow::anyhow!("search index build: {e}"))?;
                tracing::info!(
                    version,
                    mib = search.bytes() >> 20,
                    ms = started.elapsed().as_millis() as u64,
                    "search index built"
                );
                memory("search_index", search.bytes());
                Ok(search)
            })
            .await
    }
}
