//! The in-memory structures derived from the address register and the
//! contacts — the geo index (which addresses an area covers), the search index
//! ("am I affected?"), the address book (addresses by id, external id and
//! postcode), the caller map (a number's addresses and language) and the
//! contact counts per address (what an area reaches) — kept for
//! the current versions and rebuilt when an import, an opt-out or a
//! subscription, in this process or any other, moves them.

pub mod book;
pub mod callers;
pub mod counts;

use std::sync::{Arc, RwLock};
use std::time::Instant;

pub use book::AddressBook;
pub use callers::CallerMap;
pub use counts::ContactCounts;

use crate::error::Result;
use crate::geo::{AddressIndex, IndexPoint};
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

/// Reports a structure built: what it holds (`herald_memory_bytes{part}`),
/// and a log line with its size and how long since `started`.
fn built(what: &str, part: &'static str, version: i64, bytes: usize, started: Instant) {
    metrics::gauge!("herald_memory_bytes", "part" => part).set(bytes as f64);
    tracing::info!(
        version,
        mib = bytes >> 20,
        ms = started.elapsed().as_millis() as u64,
        "{what} built"
    );
}

/// What one read of the address register builds: the geo index and the
/// address book, for the same version.
pub struct Addresses {
    pub index: Arc<AddressIndex>,
    pub book: Arc<AddressBook>,
    pub labels: Arc<Vec<Label>>,
}

/// A settlement's name at the mean position of its addresses: the console
/// map's labels where no tile server draws them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Label {
    pub name: String,
    pub lon: f64,
    pub lat: f64,
    pub addresses: u32,
}

/// Sums each settlement's positions as the register is read.
#[derive(Default)]
struct Labels(std::collections::HashMap<String, (f64, f64, u32)>);

impl Labels {
    fn push(&mut self, a: &crate::store::RegisterEntry<'_>) {
        match self.0.get_mut(a.settlement) {
            Some(e) => *e = (e.0 + a.lon, e.1 + a.lat, e.2 + 1),
            None => {
                self.0.insert(a.settlement.to_string(), (a.lon, a.lat, 1));
            }
        }
    }

    /// The labels, largest settlement first.
    fn finish(self) -> Vec<Label> {
        let mut out: Vec<Label> = self
            .0
            .into_iter()
            .filter(|(name, _)| !name.is_empty())
            .map(|(name, (x, y, n))| Label {
                name,
                lon: x / f64::from(n),
                lat: y / f64::from(n),
                addresses: n,
            })
            .collect();
        out.sort_by(|a, b| {
            b.addresses
                .cmp(&a.addresses)
                .then_with(|| a.name.cmp(&b.name))
        });
        out
    }
}

/// The address register as the operations read it from memory.
pub struct Register {
    store: Store,
    addresses: Versioned<Addresses>,
    search: Versioned<AddressSearch>,
    contacts: Versioned<Contacts>,
}

/// What the register keeps of the contacts, for one contacts version.
pub struct Contacts {
    pub callers: Arc<CallerMap>,
    pub counts: Arc<ContactCounts>,
}

/// Runs a build on a blocking thread: it reads the database with
/// [`crate::store::Database::each_address`] and friends, which block, and takes
/// a core for a second or two at 2,000,000 addresses.
async fn blocking<T: Send + 'static>(
    what: &'static str,
    build: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(build)
        .await
        .map_err(|e| anyhow::anyhow!("{what} build: {e}"))?
}

impl Register {
    pub fn new(store: Store) -> Register {
        Register {
            store,
            addresses: Versioned::new(),
            search: Versioned::new(),
            contacts: Versioned::new(),
        }
    }

    /// The geo index and the address book for the register's `version`, from
    /// one read of it: each address is handed over as it is read, and goes
    /// straight into both (no rows of the whole register held at once).
    async fn addresses(&self, version: i64) -> Result<Arc<Addresses>> {
        self.addresses
            .get(version, async {
                let store = self.store.clone();
                let started = Instant::now();
                let (points, book, labels, read) = blocking("register read", move || {
                    let mut points = Vec::new();
                    let mut book = book::Builder::default();
                    let mut labels = Labels::default();
                    store.each_address(&mut |a| {
                        points.push(IndexPoint {
                            id: a.id,
                            lon: a.lon,
                            lat: a.lat,
                            utilities: a.utilities,
                        });
                        book.push(a);
                        labels.push(a);
                    })?;
                    Ok((points, book, labels.finish(), started.elapsed()))
                })
                .await?;
                // Each is a few hundred milliseconds of sorting: on two cores.
                let (index, book) = tokio::try_join!(
                    blocking("address index", move || Ok(AddressIndex::build(points))),
                    blocking("address book", move || Ok(book.finish())),
                )?;
                tracing::info!(
                    addresses = book.len(),
                    version,
                    ms = read.as_millis() as u64,
                    "register read"
                );
                built(
                    "geo index",
                    "geo_index",
                    version,
                    index.memory_bytes(),
                    started,
                );
                built(
                    "address book",
                    "address_book",
                    version,
                    book.bytes(),
                    started,
                );
                Ok(Addresses {
                    index: Arc::new(index),
                    book: Arc::new(book),
                    labels: Arc::new(labels),
                })
            })
            .await
    }

    /// The address book for the register's `version` (as the published view
    /// read it: no database read unless the version moved).
    pub async fn book(&self, version: i64) -> Result<Arc<AddressBook>> {
        Ok(Arc::clone(&self.addresses(version).await?.book))
    }

    /// The settlements' labels for the register's `version`.
    pub async fn labels(&self, version: i64) -> Result<Arc<Vec<Label>>> {
        Ok(Arc::clone(&self.addresses(version).await?.labels))
    }

    /// The geo index over the current address register.
    pub async fn address_index(&self) -> Result<Arc<AddressIndex>> {
        let version = self.store.addresses_version().await?;
        Ok(Arc::clone(&self.addresses(version).await?.index))
    }

    /// The caller map and the contact counts for the contacts' `version`,
    /// from one read of the contacts.
    async fn contacts(&self, version: i64) -> Result<Arc<Contacts>> {
        self.contacts
            .get(version, async {
                let store = self.store.clone();
                let started = Instant::now();
                let (map, counts) = blocking("contacts read", move || {
                    let mut map = callers::Builder::default();
                    let mut counts = counts::Builder::default();
                    store.each_contact(&mut |c| {
                        map.push(c);
                        counts.push(c);
                    })?;
                    Ok((map.finish(), counts.finish()))
                })
                .await?;
                tracing::info!(
                    numbers = map.len(),
                    addresses = counts.len(),
                    version,
                    "contacts read"
                );
                built("caller map", "caller_map", version, map.bytes(), started);
                built(
                    "contact counts",
                    "contact_counts",
                    version,
                    counts.bytes(),
                    started,
                );
                Ok(Contacts {
                    callers: Arc::new(map),
                    counts: Arc::new(counts),
                })
            })
            .await
    }

    /// The caller map for the contacts' `version`.
    pub async fn callers(&self, version: i64) -> Result<Arc<CallerMap>> {
        Ok(Arc::clone(&self.contacts(version).await?.callers))
    }

    /// The contacts per address for the contacts' `version`.
    pub async fn contact_counts(&self, version: i64) -> Result<Arc<ContactCounts>> {
        Ok(Arc::clone(&self.contacts(version).await?.counts))
    }

    /// The address search index for the register's `version`, built from the
    /// address book (one read of the register serves both, and the rows are
    /// made one at a time instead of held all at once).
    pub async fn search(&self, version: i64) -> Result<Arc<AddressSearch>> {
        self.search
            .get(version, async {
                let book = self.book(version).await?;
                let started = Instant::now();
                let search = blocking("search index", move || {
                    Ok(AddressSearch::from_streets(book.streets()))
                })
                .await?;
                built(
                    "search index",
                    "search_index",
                    version,
                    search.bytes(),
                    started,
                );
                Ok(search)
            })
            .await
    }
}
