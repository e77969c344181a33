//! What residents and the IVR see, as one cache key, without a database read per
//! request.
//!
//! Every outage change bumps the published version in the database (in the same
//! transaction). Pages and IVR answers are rendered once per *view* of that
//! version and served from memory after that. A view is more than the version:
//! the same record reads differently once its ETR has passed ("overdue"), a
//! planned outage's start has come, or midnight turns "tomorrow" into "today". So
//! the view tag is `{version}.{deadlines passed}.{local date}`, and it moves at
//! exactly those moments — no timer, no stale "today".
//!
//! The version itself is re-read at most every [`RECHECK`] (one query for all
//! requests, single-flight), so a change made by another node shows within that
//! time; changes made through this process are seen at once ([`Published::touch`]).
//! While one request re-reads it, the others answer from the version in hand
//! (up to [`STALE_LIMIT`]) rather than wait for that read.
//!
//! With the version come the open outages themselves, their address-id runs
//! and their parsed areas ([`OpenOutages`]), read once when the version moves:
//! which outages cover an address, a postcode or a point is then answered from
//! memory, and so is every IVR answer. The register's and the contacts'
//! versions come with it too, so the in-memory address book and caller map
//! (`crate::register`) know when to rebuild without a read of their own.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;

use geo::{Intersects, MultiPolygon};

use crate::domain::{runs, Etr, Outage, Reference};
use crate::error::Result;
use crate::register::AddressBook;
use crate::store::Store;

/// How long a read of the published version is trusted.
pub const RECHECK: Duration = Duration::from_millis(250);

/// How long a snapshot past [`RECHECK`] is still answered from while one
/// request re-reads the version; older than this, requests wait for the read
/// (and see its error, when the database is gone).
pub const STALE_LIMIT: Duration = Duration::from_secs(5);

/// The published state as one request sees it.
#[derive(Debug, Clone)]
pub struct View {
    pub version: i64,
    pub changed_at: DateTime<Utc>,
    /// Changes whenever anything shown may read differently (see the module docs).
    pub tag: String,
    /// The register's version (see `crate::register`).
    pub addresses_version: i64,
    /// The contacts' version: answers by caller number depend on it too.
    pub contacts_version: i64,
    /// The open outages of this version.
    pub open: Arc<OpenOutages>,
}

/// An open outage with what answering about it needs.
#[derive(Debug)]
pub struct OpenOutage {
    pub outage: Outage,
    /// The addresses it covers, as ascending, disjoint id runs.
    pub runs: Vec<(i64, i64)>,
    /// Its area, parsed (for questions by point).
    area: Option<MultiPolygon<f64>>,
}

/// The open outages of one published version, by id.
#[derive(Debug, Default)]
pub struct OpenOutages {
    list: Vec<OpenOutage>,
}

impl OpenOutages {
    /// `outages` by id, `runs` as (outage, first, last) by outage then first.
    pub fn new(mut outages: Vec<Outage>, runs: &[(i64, i64, i64)]) -> OpenOutages {
        outages.sort_by_key(|o| o.id);
        let list = outages
            .into_iter()
            .map(|outage| {
                let start = runs.partition_point(|r| r.0 < outage.id);
                let end = runs.partition_point(|r| r.0 <= outage.id);
                let area = crate::geo::read_stored_area(&outage.area).ok();
                OpenOutage {
                    runs: runs[start..end].iter().map(|r| (r.1, r.2)).collect(),
                    area,
                    outage,
                }
            })
            .collect();
        OpenOutages { list }
    }

    pub fn all(&self) -> &[OpenOutage] {
        &self.list
    }

    pub fn by_id(&self, id: i64) -> Option<&OpenOutage> {
        self.list
            .binary_search_by_key(&id, |o| o.outage.id)
            .ok()
            .map(|i| &self.list[i])
    }

    pub fn by_reference(&self, reference: &Reference) -> Option<&OpenOutage> {
        self.list.iter().find(|o| &o.outage.reference == reference)
    }

    /// The outages covering any of `ids` (ascending), each with how many, by id.
    pub fn covering(&self, ids: &[i64]) -> Vec<(&OpenOutage, usize)> {
        self.list
            .iter()
            .filter_map(|o| {
                let n = runs::count_covered(&o.runs, ids);
                (n > 0).then_some((o, n))
            })
            .collect()
    }

    /// The outages whose area contains the point.
    pub fn at_point(&self, lon: f64, lat: f64) -> Vec<&OpenOutage> {
        let point = geo::Point::new(lon, lat);
        self.list
            .iter()
            .filter(|o| o.area.as_ref().is_some_and(|a| a.intersects(&point)))
            .collect()
    }
}

#[derive(Debug, Clone)]
struct Snapshot {
    version: i64,
    changed_at: DateTime<Utc>,
    addresses_version: i64,
    contacts_version: i64,
    /// ETRs and planned starts of open outages, sorted.
    deadlines: Vec<DateTime<Utc>>,
    open: Arc<OpenOutages>,
    read_at: Instant,
}

#[derive(Default)]
pub struct Published {
    snapshot: RwLock<Option<Arc<Snapshot>>>,
    refresh: tokio::sync::Mutex<()>,
}

impl Published {
    /// Forgets the cached version: the next request reads it again. Called after
    /// this process changed an outage.
    pub fn touch(&self) {
        *self.snapshot.write().expect("published lock") = None;
    }

    fn fresh(&self) -> Option<Arc<Snapshot>> {
        self.read_within(RECHECK)
    }

    /// The snapshot in hand when it is past [`RECHECK`] but within
    /// [`STALE_LIMIT`] (not one [`Published::touch`] dropped).
    fn recent(&self) -> Option<Arc<Snapshot>> {
        self.read_within(STALE_LIMIT)
    }

    fn read_within(&self, limit: Duration) -> Option<Arc<Snapshot>> {
        self.snapshot
            .read()
            .expect("published lock")
            .as_ref()
            .filter(|s| s.read_at.elapsed() < limit)
            .cloned()
    }

    /// The current view, reading the database only when the cached version is
    /// older than [`RECHECK`] (and then once for all concurrent callers).
    pub async fn view(&self, store: &Store, tz: Tz, now: DateTime<Utc>) -> Result<View> {
        // One read of the snapshot in hand, sorted by its age.
        let current = self.recent();
        let fresh = current
            .as_ref()
            .filter(|s| s.read_at.elapsed() < RECHECK)
            .cloned();
        let snapshot = match (fresh, current) {
            (Some(s), _) => s,
            // Past its recheck: the request that gets the refresh lock reads
            // the version; every other one answers from the snapshot in hand
            // meanwhile instead of queueing behind that read. In a storm the
            // read can wait long for a pooled connection (every one of them
            // busy with writers queued on the database's lock), and queueing
            // every request behind it stalled the whole node. A change by
            // another node still shows as soon as the read returns, as before.
            (None, Some(stale)) => match self.refresh.try_lock() {
                Err(_) => stale,
                Ok(_guard) => match self.fresh() {
                    Some(s) => s,
                    None => match self.reload(store).await {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::warn!(error = %e, "re-reading the published version failed; answering from the last one read");
                            stale
                        }
                    },
                },
            },
            // Never read, dropped by `touch` (this process changed something:
            // it must see it at once), or too old to answer from: wait for
            // the read, once for all concurrent callers.
            (None, None) => {
                let _guard = self.refresh.lock().await;
                match self.fresh() {
                    Some(s) => s,
                    None => self.reload(store).await?,
                }
            }
        };
        let passed = snapshot.deadlines.partition_point(|d| *d <= now);
        let day = now.with_timezone(&tz).date_naive();
        Ok(View {
            version: snapshot.version,
            changed_at: snapshot.changed_at,
            addresses_version: snapshot.addresses_version,
            contacts_version: snapshot.contacts_version,
            open: Arc::clone(&snapshot.open),
            tag: format!(
                "{}.{passed}.{}{:02}{:02}",
                snapshot.version,
                day.year(),
                day.month(),
                day.day()
            ),
        })
    }

    async fn reload(&self, store: &Store) -> Result<Arc<Snapshot>> {
        let published = store.published().await?;
        let previous = self.snapshot.read().expect("published lock").clone();
        let (deadlines, open) = match previous {
            // Same version: the open outages, and so their deadlines, are unchanged.
            Some(s) if s.version == published.version => (s.deadlines.clone(), Arc::clone(&s.open)),
            _ => {
                let outages = store.open_outages().await?;
                let runs = store.open_outage_runs().await?;
                let mut d: Vec<DateTime<Utc>> = outages
                    .iter()
                    .flat_map(|o| {
                        let etr = match o.etr {
                            Etr::At(t) => Some(t),
                            Etr::Unknown => None,
                        };
                        etr.into_iter().chain(o.starts_at)
                    })
                    .collect();
                d.sort_unstable();
                let open = tokio::task::spawn_blocking(move || OpenOutages::new(outages, &runs))
                    .await
                    .map_err(|e| anyhow::anyhow!("open outages: {e}"))?;
                (d, Arc::new(open))
            }
        };
        let snapshot = Arc::new(Snapshot {
            version: published.version,
            changed_at: published.changed_at,
            addresses_version: published.addresses_version,
            contacts_version: published.contacts_version,
            deadlines,
            open,
            read_at: Instant::now(),
        });
        *self.snapshot.write().expect("published lock") = Some(snapshot.clone());
        Ok(snapshot)
    }
}

/// Where an outage is: its (settlement, postcode, street) triples, sorted.
pub type Places = Arc<Vec<(String, String, String)>>;

/// Each outage's place list, made once per published version (every change
/// to an outage's area and every address import moves the version) instead of
/// a DISTINCT over all its addresses for every page, feed and answer that
/// names it: from memory (the address book and the view's runs) for an open
/// outage, from the database for one that has ended. Bounded by bytes like
/// [`TagCache`]: beyond the budget, lists are made but not kept.
pub struct PlaceLists {
    inner: std::sync::Mutex<(i64, std::collections::HashMap<i64, Places>, usize)>,
    budget: usize,
}

impl PlaceLists {
    /// Bytes kept for the current version.
    pub fn bytes(&self) -> usize {
        self.inner.lock().expect("places lock").2
    }

    pub fn new(budget: usize) -> PlaceLists {
        PlaceLists {
            inner: std::sync::Mutex::new((i64::MIN, Default::default(), 0)),
            budget,
        }
    }

    /// The places of `outage_id` as of `view`.
    pub async fn get(
        &self,
        store: &Store,
        view: &View,
        book: &AddressBook,
        outage_id: i64,
    ) -> Result<Places> {
        let version = view.version;
        {
            let lists = self.inner.lock().expect("places lock");
            if lists.0 == version {
                if let Some(p) = lists.1.get(&outage_id) {
                    return Ok(Arc::clone(p));
                }
            }
        }
        let places: Places = Arc::new(match view.open.by_id(outage_id) {
            Some(open) => book.places(&open.runs),
            None => store.outage_places(outage_id).await?,
        });
        let weight: usize = places
            .iter()
            .map(|(a, b, c)| a.len() + b.len() + c.len() + 3 * 24)
            .sum::<usize>()
            + ENTRY_OVERHEAD;
        let mut lists = self.inner.lock().expect("places lock");
        if lists.0 < version {
            *lists = (version, Default::default(), 0);
        }
        if lists.0 == version && lists.2 + weight <= self.budget {
            lists.2 += weight;
            lists.1.insert(outage_id, Arc::clone(&places));
        }
        Ok(places)
    }
}

/// How much memory a cached value holds, for [`TagCache`]'s budget.
pub trait Weigh {
    fn weight(&self) -> usize;
}

impl Weigh for axum::body::Bytes {
    fn weight(&self) -> usize {
        self.len()
    }
}

impl Weigh for String {
    fn weight(&self) -> usize {
        self.len()
    }
}

/// What an entry costs beyond its key and value (map slot, allocations).
const ENTRY_OVERHEAD: usize = 64;

/// One generation of a [`TagCache`]: entries and what they weigh.
struct Generation<V> {
    map: std::collections::HashMap<String, V>,
    bytes: usize,
}

impl<V> Default for Generation<V> {
    fn default() -> Self {
        Generation {
            map: Default::default(),
            bytes: 0,
        }
    }
}

struct Entries<V> {
    tag: String,
    /// Where entries go, and where an entry read from `older` moves to.
    recent: Generation<V>,
    older: Generation<V>,
}

/// Rendered bodies of one view, by key (language, URL, format…). A new view
/// empties it. Entries weigh (keys, bodies and overhead) at most `budget`
/// bytes, so a crawler walking every address cannot grow it without bound,
/// however large each answer is.
///
/// In two generations of half the budget each: when the recent one is full,
/// the older one is dropped and the recent one becomes the older. An entry read
/// while in the older generation moves back to the recent one, so what is
/// asked for keeps its place while a storm's once-only queries (every
/// address searched once) pass through; before, a full cache kept whatever
/// came first and never kept a page asked for after that, however often.
pub struct TagCache<V> {
    inner: std::sync::Mutex<Entries<V>>,
    budget: usize,
}

impl<V: Clone + Weigh> TagCache<V> {
    pub fn new(budget: usize) -> TagCache<V> {
        TagCache {
            inner: std::sync::Mutex::new(Entries {
                tag: String::new(),
                recent: Generation::default(),
                older: Generation::default(),
            }),
            budget,
        }
    }

    pub fn get(&self, tag: &str, key: &str) -> Option<V> {
        let mut cache = self.inner.lock().expect("cache lock");
        if cache.tag != tag {
            return None;
        }
        if let Some(value) = cache.recent.map.get(key) {
            return Some(value.clone());
        }
        let (key, value) = cache.older.map.remove_entry(key)?;
        let weight = weight(&key, &value);
        cache.older.bytes -= weight;
        self.keep(&mut cache, key, value.clone(), weight);
        Some(value)
    }

    pub fn put(&self, tag: &str, key: String, value: V) {
        let mut cache = self.inner.lock().expect("cache lock");
        if cache.tag != tag {
            *cache = Entries {
                tag: tag.to_string(),
                recent: Generation::default(),
                older: Generation::default(),
            };
        }
        if cache.recent.map.contains_key(&key) || cache.older.map.contains_key(&key) {
            return;
        }
        let weight = weight(&key, &value);
        self.keep(&mut cache, key, value, weight);
    }

    /// Puts an entry in the recent generation, turning the generations over
    /// first when it would not fit; an entry larger than a generation is not
    /// kept.
    fn keep(&self, cache: &mut Entries<V>, key: String, value: V, weight: usize) {
        let half = self.budget / 2;
        if weight > half {
            return;
        }
        if cache.recent.bytes + weight > half {
            cache.older = std::mem::take(&mut cache.recent);
        }
        cache.recent.bytes += weight;
        cache.recent.map.insert(key, value);
    }

    /// Entries kept for the current view, and what they weigh.
    pub fn usage(&self) -> (usize, usize) {
        let cache = self.inner.lock().expect("cache lock");
        (
            cache.recent.map.len() + cache.older.map.len(),
            cache.recent.bytes + cache.older.bytes,
        )
    }
}

/// What an entry weighs against a [`TagCache`]'s budget.
fn weight<V: Weigh>(key: &str, value: &V) -> usize {
    key.len() + value.weight() + ENTRY_OVERHEAD
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    /// A snapshot of a version the database has never had, read `age` ago.
    fn planted(published: &Published, age: Duration) {
        let read_at = Instant::now()
            .checked_sub(age)
            .expect("an instant that long ago");
        *published.snapshot.write().unwrap() = Some(Arc::new(Snapshot {
            version: 999,
            changed_at: Utc::now(),
            addresses_version: 0,
            contacts_version: 0,
            deadlines: Vec::new(),
            open: Arc::default(),
            read_at,
        }));
    }

    #[tokio::test]
    async fn a_re_read_in_flight_is_not_waited_for_unless_the_view_must_be_current() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::Config {
            data_dir: dir.path().to_path_buf(),
            ..Default::default()
        };
        let store = Store::open(&config).await.unwrap();
        store.migrate().await.unwrap();
        let (tz, now) = (chrono_tz::Europe::Budapest, Utc::now());
        let version = |v: Option<Result<View>>| v.map(|v| v.unwrap().version);
        let published = Published::default();

        // Past its recheck, with another request re-reading: the snapshot in
        // hand answers, at once.
        planted(&published, RECHECK * 2);
        let in_flight = published.refresh.try_lock().unwrap();
        let now_or_never = published.view(&store, tz, now).now_or_never();
        assert_eq!(version(now_or_never), Some(999));
        // Too old to answer from, or dropped by `touch`: the request waits.
        planted(&published, STALE_LIMIT * 2);
        assert!(published.view(&store, tz, now).now_or_never().is_none());
        published.touch();
        assert!(published.view(&store, tz, now).now_or_never().is_none());
        drop(in_flight);

        // With nobody re-reading, the request past its recheck reads the
        // database's version itself.
        planted(&published, RECHECK * 2);
        let read = published.view(&store, tz, now).await.unwrap();
        assert_ne!(read.version, 999);
        assert_eq!(
            published.view(&store, tz, now).await.unwrap().version,
            read.version
        );
    }

    impl Weigh for u32 {
        fn weight(&self) -> usize {
            100
        }
    }

    #[test]
    fn tag_cache_keeps_one_view_within_its_byte_budget() {
        // Entries of 1 + 100 + 64 bytes: two fit in a generation of 350.
        let c: TagCache<u32> = TagCache::new(700);
        let view = "1.0.20261123";
        c.put(view, "a".into(), 1);
        c.put(view, "b".into(), 2);
        assert_eq!(c.usage(), (2, 330));
        c.put(view, "a".into(), 7);
        assert_eq!(c.usage(), (2, 330), "a key is counted once");
        assert_eq!(c.get(view, "a"), Some(1), "the first value stays");
        // A third turns the generations over: a and b are the older.
        c.put(view, "c".into(), 3);
        assert_eq!(c.usage(), (3, 495));
        // Reading a moves it back to the recent generation (beside c)...
        assert_eq!(c.get(view, "a"), Some(1));
        assert_eq!(c.usage(), (3, 495));
        // ...so when d turns them over again, b (never read) is what goes.
        c.put(view, "d".into(), 4);
        assert_eq!(c.get(view, "b"), None, "dropped with its generation");
        assert_eq!(c.get(view, "a"), Some(1), "read, so kept");
        assert_eq!(c.get(view, "c"), Some(3));
        assert_eq!(c.get(view, "d"), Some(4));
        assert!(c.usage().1 <= 700, "{:?}", c.usage());
        // Larger than a generation: answered, not kept.
        let big: TagCache<u32> = TagCache::new(300);
        big.put(view, "a".into(), 1);
        assert_eq!(big.get(view, "a"), None);

        assert_eq!(c.get("1.1.20261123", "a"), None, "another view");
        c.put("1.1.20261123", "a".into(), 9);
        assert_eq!(c.get(view, "a"), None, "the old view is gone");
        assert_eq!(c.get("1.1.20261123", "a"), Some(9));
    }
}
