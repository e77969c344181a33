//! What every handler shares: the store, the register's in-memory indexes, the
//! published view and the caches keyed by it, the clock and the configuration.
//! `app` builds it (the composition root); handlers hand each operation only
//! the parts it needs (`outages()`, `status::answer(…)`).

use std::sync::Arc;

use axum::body::Bytes;
use chrono_tz::Tz;
use metrics_exporter_prometheus::PrometheusHandle;

use super::credentials::Credentials;
use super::ivr::{CachedAnswer, CallerIds};
use crate::auth::ServerKey;
use crate::calls::CallLog;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::dispatch::Dispatcher;
use crate::error::Result;
use crate::outages;
use crate::published::{PlaceLists, Places, Published, TagCache, View};
use crate::receipts::SmsReports;
use crate::register::Register;
use crate::store::Store;
use crate::wake::Wake;

pub struct AppState {
    /// The published version and its view tag, re-read at most every 250 ms.
    pub published: Published,
    /// The IVR full feed, rendered once per view.
    pub feed_cache: TagCache<Bytes>,
    /// Rendered status pages of the current view, by language and URL.
    pub pages: TagCache<Bytes>,
    /// IVR answers of the current view, by query, language and format.
    pub ivr_answers: TagCache<CachedAnswer>,
    /// The spoken sentences those answers are made of (see [`crate::status::Sentences`]).
    pub sentences: crate::status::Sentences,
    /// Caller ids read with libphonenumber (those not written as registered).
    pub caller_ids: CallerIds,
    /// Calls by phone answered and not yet written (see [`crate::calls`]).
    pub calls: CallLog,
    /// SMS delivery reports, written together as they arrive together.
    pub sms_reports: SmsReports,
    /// Outages' place lists of the current published version.
    pub places: PlaceLists,
    /// Bearer tokens read recently.
    pub credentials: Credentials,
    /// Signs the "press 2" links in IVR answers; hashes client addresses.
    pub server_key: ServerKey,
    /// `trusted_proxies`, read (see [`super::client`]).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub config: Arc<Config>,
    pub store: Store,
    pub clock: SharedClock,
    pub register: Register,
    pub wake: Arc<Wake>,
    pub tz: Tz,
    pub metrics: PrometheusHandle,
    /// When `/metrics` last counted the deliveries (see `health`).
    pub delivery_counts: tokio::sync::Mutex<Option<std::time::Instant>>,
}

impl AppState {
    /// What residents and the IVR see now (see [`crate::published`]).
    pub async fn view(&self) -> Result<View> {
        self.published
            .view(&self.store, self.tz, self.clock.now())
            .await
    }

    /// Where an outage is, as of the current published version.
    pub async fn outage_places(&self, outage_id: i64) -> Result<Places> {
        let view = self.view().await?;
        let book = self.register.book(view.addresses_version).await?;
        self.places.get(&self.store, &view, &book, outage_id).await
    }

    /// What the outage operations need.
    pub fn outages(&self) -> outages::Context<'_> {
        outages::Context {
            store: &self.store,
            clock: &*self.clock,
            config: &self.config,
            register: &self.register,
            wake: &self.wake,
            published: &self.published,
        }
    }

    /// A dispatcher (delivery workers) sharing this process's store, clock and
    /// wake-ups.
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
