//! The delivery worker: one claim loop per channel plus a housekeeping loop.
//!
//! A loop claims a batch (the claim is committed before anything is sent), sends it
//! with at most `concurrency` messages in flight and at most `rate_per_sec` started
//! per second, then records every outcome in one transaction. A worker that dies
//! mid-batch leaves leases that expire; housekeeping returns those deliveries to the
//! queue, so nothing is lost and duplicates are bounded by what was in flight.
//!
//! The loops are thin: each turn runs one *step* (release expired leases, send a
//! batch of confirmations, start due planned outages, claim and send a batch of one
//! channel) and then waits for a wake-up or the poll interval.
//! [`Dispatcher::run_until_idle`] runs the same steps back to back until nothing is
//! due at the clock's `now`: the deterministic way to run the queue in tests.
//!
//! What to send (or defer, or drop) is decided by [`super::decide`]; this module
//! carries the decision out. Business time (due, expired, leased until) always
//! comes from the injected clock; wall time is used only for real-time limits —
//! the provider's rate limit, the half-lease send deadline in `Gate`, and how
//! long a failed outcome write is retried — which a drain finishes well inside.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use futures::stream::{self, StreamExt};
use lettre::message::Mailbox;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::decide::{decide, Claim, Decision, OutageState, Pacing, Skip};
use super::ratelimit::SharedLimiter;
use super::retry;
use crate::auth::ServerKey;
use crate::channels::email::{build_message, EmailSender, OutgoingEmail};
use crate::channels::render::{
    render_confirm_email, render_confirm_sms, render_email, render_sms, ConfirmLink, ConfirmView,
    MessageView, Recipient, RenderContext,
};
use crate::channels::sms::{OutgoingSms, SmsSender};
use crate::channels::SendOutcome;
use crate::clock::SharedClock;
use crate::coalesce::Coalesce;
use crate::config::{AlertsConfig, Config, DeliveryConfig, SmsProvider, UnicodePolicy};
use crate::domain::consent::{Method, Via};
use crate::domain::{Channel, Outage};
use crate::error::Result;
use crate::manage::ManageLink;
use crate::outages;
use crate::receipts::{self, ReportRequest};
use crate::store::{ClaimedDelivery, Completion, Failure, NewsSent, PendingConfirmation, Store};
use crate::wake::Wake;

struct Lane {
    concurrency: usize,
    /// The provider's rate limit, shared with every other worker process.
    limiter: Option<SharedLimiter>,
    batch: u32,
}

impl Lane {
    /// `bucket` names the shared rate limit: a channel's alerts, or its
    /// confirmations, which have a bucket of their own.
    fn new(
        store: &Store,
        bucket: &'static str,
        rate_per_sec: u32,
        concurrency: usize,
        delivery: &DeliveryConfig,
    ) -> Lane {
        let limiter = SharedLimiter::new(store.clone(), bucket, rate_per_sec);
        // Under a rate limit, claim about two seconds' worth: outcomes are then
        // recorded every few seconds, other workers share the rest of the queue,
        // and a crash leaves little in flight. (Unsent claims are released at
        // half the lease anyway; see `Gate`.)
        let by_rate = if rate_per_sec == 0 {
            u64::MAX
        } else {
            (rate_per_sec as u64 * 2).max(1)
        };
        Lane {
            concurrency,
            limiter,
            batch: (delivery.batch_size as u64).min(by_rate) as u32,
        }
    }
}

/// The last check before a claimed message goes out: wait for the provider's
/// rate limit, then send only if the claim is still safely ours. A message the
/// worker could not start within half its lease (the shared rate limit was slower
/// than the batch assumed), or one reached while the worker is stopping, is
/// released back to the queue unsent, so an expiring lease never lets a second
/// worker send it too.
///
/// The deadline is wall time on purpose: a lease protects against real workers
/// taking real time. Under a manual clock the lease itself never runs out during
/// a drain, and a drain's batch is sent far inside the deadline; should it ever be
/// missed, the message is released and claimed again by the drain's next round.
struct Gate {
    send_by: std::time::Instant,
    stopping: watch::Receiver<bool>,
}

impl Gate {
    fn new(lease_ms: u64, stopping: &watch::Receiver<bool>) -> Gate {
        Gate {
            send_by: std::time::Instant::now() + Duration::from_millis(lease_ms / 2),
            stopping: stopping.clone(),
        }
    }

    async fn pass(&self, lane: &Lane, id: i64) -> Option<Completion> {
        let in_time = match &lane.limiter {
            Some(limiter) => {
                let mut stopping = self.stopping.clone();
                tokio::select! {
                    ready = tokio::time::timeout_at(self.send_by.into(), limiter.until_ready()) => {
                        ready.is_ok()
                    }
                    // Waiting for a token ends when the worker is told to stop.
                    _ = stopping.wait_for(|stop| *stop) => false,
                }
            }
            None => std::time::Instant::now() <= self.send_by,
        };
        let reason = if *self.stopping.borrow() {
            "released unsent: the worker is stopping"
        } else if !in_time {
            "released unsent: not reached within half the lease"
        } else {
            return None;
        };
        Some(Completion::Release {
            id,
            reason: reason.into(),
        })
    }
}

/// Contacts whose consent one statement reads, at most (a lane sends up to
/// its concurrency at once; see [`crate::coalesce`]).
const CONSENTS_PER_READ: usize = 256;

pub struct Dispatcher {
    store: Store,
    clock: SharedClock,
    delivery: DeliveryConfig,
    alerts: AlertsConfig,
    pacing: Pacing,
    tz: Tz,
    public_url: String,
    email: EmailSender,
    sms: SmsSender,
    from: Mailbox,
    message_id_domain: String,
    sms_from: String,
    unicode: UnicodePolicy,
    /// Which gateway's report link SMS carry (None: no reports asked for).
    sms_reports: Option<SmsProvider>,
    server_key: ServerKey,
    /// How long an e-mail's manage link opens the page, and an SMS's.
    manage_link_valid: chrono::Duration,
    manage_sms_link_valid: chrono::Duration,
    email_lane: Lane,
    sms_lane: Lane,
    /// Confirmations by e-mail and by SMS.
    confirm_lanes: [Lane; 2],
    wake: Arc<Wake>,
    /// Consent checks before a send, those asked together read together
    /// (see [`crate::coalesce`]).
    consents: Coalesce<i64, bool>,
}

/// Running worker tasks.
pub struct WorkerHandle {
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl WorkerHandle {
    /// Graceful stop: loops finish the batch in hand (sending and recording it).
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// Abrupt stop, as a crash would: in-flight deliveries keep their leases.
    /// Returns once the loops are gone (an aborted task may be mid-poll on
    /// another thread when asked, and would otherwise claim a little more).
    pub async fn abort(self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

impl Dispatcher {
    pub async fn new(
        store: Store,
        clock: SharedClock,
        config: &Config,
        wake: Arc<Wake>,
    ) -> anyhow::Result<Arc<Dispatcher>> {
        let from: Mailbox = config
            .email
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("email.from '{}': {e}", config.email.from))?;
        let outbox = config.outbox_dir();
        let email = EmailSender::from_config(&config.email, outbox.clone())?;
        let sms = SmsSender::from_config(&config.sms, outbox).await?;
        tracing::info!(email = %email.describe(), sms = %sms.describe(), "delivery channels");
        let email_lane = Lane::new(
            &store,
            "email",
            config.email.rate_per_sec,
            config.email.concurrency,
            &config.delivery,
        );
        let sms_lane = Lane::new(
            &store,
            "sms",
            config.sms.rate_per_sec,
            config.sms.concurrency,
            &config.delivery,
        );
        // Sign-up confirmations: their own buckets and a loop of their own, so
        // a flood of sign-ups cannot take an alert's place or its time.
        let confirm = config.subscribe.confirmations_per_sec;
        let confirm_lanes = [
            Lane::new(&store, "confirm-email", confirm, 4, &config.delivery),
            Lane::new(&store, "confirm-sms", confirm, 4, &config.delivery),
        ];
        let server_key = store.signing_key().await?;
        let consent_store = store.clone();
        Ok(Arc::new(Dispatcher {
            store,
            clock,
            delivery: config.delivery.clone(),
            alerts: config.alerts.clone(),
            pacing: Pacing::new(&config.alerts, config.delivery.ttl()),
            tz: config.tz()?,
            public_url: config.public_url(),
            message_id_domain: from.email.domain().to_string(),
            from,
            email,
            sms,
            sms_from: config.sms.from.clone(),
            unicode: config.sms.unicode,
            sms_reports: Some(config.sms.provider)
                .filter(|p| config.sms.delivery_reports && *p != SmsProvider::File),
            server_key,
            manage_link_valid: chrono::Duration::days(i64::from(config.manage.link_days)),
            manage_sms_link_valid: chrono::Duration::hours(i64::from(config.manage.sms_link_hours)),
            email_lane,
            sms_lane,
            confirm_lanes,
            wake,
            consents: Coalesce::new("consents", CONSENTS_PER_READ, move |ids: Vec<i64>| {
                let store = consent_store.clone();
                async move { store.consents(&ids).await }
            }),
        }))
    }

    /// Starts the claim loops and housekeeping.
    pub fn start(self: &Arc<Self>) -> WorkerHandle {
        let (shutdown, rx) = watch::channel(false);
        let mut tasks = Vec::new();
        for channel in [Channel::Email, Channel::Sms] {
            let this = Arc::clone(self);
            let rx = rx.clone();
            tasks.push(tokio::spawn(
                async move { this.claim_loop(channel, rx).await },
            ));
        }
        let this = Arc::clone(self);
        let confirm_rx = rx.clone();
        tasks.push(tokio::spawn(
            async move { this.confirm_loop(confirm_rx).await },
        ));
        let this = Arc::clone(self);
        tasks.push(tokio::spawn(
            async move { this.housekeeping_loop(rx).await },
        ));
        WorkerHandle { shutdown, tasks }
    }

    /// Does everything that is due at `clock.now()`, then returns: housekeeping
    /// once (expired leases back to the queue, due planned outages started), then
    /// batches of confirmations, e-mail and SMS until a round claims nothing. What
    /// it schedules for later (a retry, a deferral) is left for a later call, after
    /// the clock has moved: under a [`crate::clock::ManualClock`] that makes every
    /// run of the queue deterministic, which is what tests use it for (as the
    /// crates.io test harness's `run_pending_background_jobs`).
    ///
    /// It runs the same steps as the loops [`Dispatcher::start`] spawns, in one
    /// task, so the outcome does not depend on how the loops interleave. Errors
    /// are returned rather than waited out.
    pub async fn run_until_idle(&self) -> Result<DrainReport> {
        // A stop that never comes: keeping the sender alive keeps the gate from
        // releasing messages as if the worker were stopping. The gate's other
        // deadline (half the lease, wall time) is far off for one batch; if it is
        // ever hit, the message is released, claimed again in the next round and
        // still sent once.
        let (_never, stopping) = watch::channel(false);
        let now = self.clock.now();
        let mut report = DrainReport {
            leases_released: self.release_expired_leases(now).await?,
            outages_started: outages::start_due(&self.store, now).await?,
            ..DrainReport::default()
        };
        loop {
            let mut round = Outcomes::default();
            if let Some(results) = self.confirm_batch(&stopping).await? {
                report.confirmations.count(&results);
                round.count(&results);
            }
            for channel in [Channel::Email, Channel::Sms] {
                if let Some(results) = self.delivery_batch(channel, &stopping).await? {
                    report.channel_mut(channel).count(&results);
                    round.count(&results);
                }
            }
            if round.total() == 0 {
                break;
            }
            report.rounds += 1;
            if round.released == round.total() {
                // Nothing but releases: something on the wall clock (a rate limit
                // far slower than the lease) stops every send. Looping would spin.
                tracing::warn!(
                    ?round,
                    "drain stopped: every claimed message was released unsent"
                );
                break;
            }
        }
        tracing::debug!(?report, "queue drained");
        Ok(report)
    }

    fn lane(&self, channel: Channel) -> &Lane {
        match channel {
            Channel::Email => &self.email_lane,
            Channel::Sms => &self.sms_lane,
        }
    }

    async fn claim_loop(&self, channel: Channel, mut shutdown: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.delivery.poll_interval_ms);
        loop {
            if *shutdown.borrow() {
                break;
            }
            // An error was logged where it happened; the poll interval paces retries.
            if let Ok(Some(_)) = self.delivery_batch(channel, &shutdown).await {
                continue;
            }
            tokio::select! {
                _ = self.wake.channel(channel).notified() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    async fn confirm_loop(&self, mut shutdown: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.delivery.poll_interval_ms.max(200));
        loop {
            if *shutdown.borrow() {
                break;
            }
            if let Ok(Some(_)) = self.confirm_batch(&shutdown).await {
                continue;
            }
            tokio::select! {
                _ = self.wake.confirmations().notified() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    async fn housekeeping_loop(&self, mut shutdown: watch::Receiver<bool>) {
        let every = Duration::from_millis(self.delivery.poll_interval_ms.max(200));
        loop {
            if *shutdown.borrow() {
                break;
            }
            // Each step logs its own failure; one failing does not hold up the others.
            let now = self.clock.now();
            let _ = self.release_expired_leases(now).await;
            if let Err(e) = outages::start_due(&self.store, now).await {
                tracing::warn!(error = %e, "starting planned outages failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Returns deliveries whose lease ran out (their worker died) to the queue.
    async fn release_expired_leases(&self, now: DateTime<Utc>) -> Result<u64> {
        match self.store.release_expired_leases(now).await {
            Ok(0) => Ok(0),
            Ok(n) => {
                tracing::warn!(
                    released = n,
                    "returned deliveries with expired leases to the queue"
                );
                self.wake.all();
                Ok(n)
            }
            Err(e) => {
                tracing::warn!(error = %e, "lease release failed");
                Err(e)
            }
        }
    }

    /// Claims and sends one batch of a channel's due deliveries and records the
    /// outcomes; `None` when nothing was due.
    async fn delivery_batch(
        &self,
        channel: Channel,
        stopping: &watch::Receiver<bool>,
    ) -> Result<Option<Vec<Completion>>> {
        let lease = chrono::Duration::milliseconds(self.delivery.lease_ms as i64);
        let now = self.clock.now();
        let lease_until = now + lease;
        let batch = match self
            .store
            .claim(channel, self.lane(channel).batch, now, lease_until)
            .await
        {
            Ok(batch) if batch.is_empty() => return Ok(None),
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(error = %e, %channel, "claim failed; will retry");
                return Err(e);
            }
        };
        self.process(channel, batch, lease_until, stopping)
            .await
            .map(Some)
    }

    /// Sends due subscription confirmations, one batch; `None` when none was due.
    /// They follow the same leases and retry rules as alerts, but in lanes of
    /// their own (`confirm_lanes`), with their own rate buckets.
    async fn confirm_batch(
        &self,
        stopping: &watch::Receiver<bool>,
    ) -> Result<Option<Vec<Completion>>> {
        let now = self.clock.now();
        let lease = chrono::Duration::milliseconds(self.delivery.lease_ms as i64);
        let lease_until = now + lease;
        let batch = self
            .confirm_lanes
            .iter()
            .map(|l| l.batch)
            .min()
            .unwrap_or(1);
        let claimed = match self
            .store
            .claim_confirmations(batch, now, lease_until)
            .await
        {
            Ok(c) if c.is_empty() => return Ok(None),
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "claiming confirmations failed; will retry");
                return Err(e);
            }
        };
        let gate = Gate::new(self.delivery.lease_ms, stopping);
        let results: Vec<Completion> = stream::iter(claimed)
            .map(|c| {
                let span =
                    tracing::info_span!("confirm", subscription_id = c.id, channel = %c.channel);
                self.send_confirmation(c, now, &gate).instrument(span)
            })
            .buffer_unordered(4)
            .collect()
            .await;
        if let Err(e) = self
            .store
            .complete_confirmations(&results, lease_until, self.clock.now())
            .await
        {
            tracing::error!(error = %e, "recording confirmations failed; leases will expire and they will be retried");
            return Err(e);
        }
        Ok(Some(results))
    }

    async fn send_confirmation(
        &self,
        c: PendingConfirmation,
        now: DateTime<Utc>,
        gate: &Gate,
    ) -> Completion {
        let dead = |reason: String| Completion::Failed {
            id: c.id,
            failure: Failure::Dead,
            reason,
        };
        let link = match c.manage_link_for {
            // A manage link asked for on the status page: valid as long as the
            // channel's links are (an SMS's for less: it is read on a phone).
            Some(contact_id) => {
                let valid = match c.channel {
                    Channel::Email => self.manage_link_valid,
                    Channel::Sms => self.manage_sms_link_valid,
                };
                ConfirmLink::Manage {
                    url: ManageLink::new(contact_id, now, valid)
                        .url(&self.public_url, &self.server_key),
                }
            }
            None => ConfirmLink::SignUp { token: &c.token },
        };
        let view = ConfirmView::new(&self.public_url, c.language, c.channel, &c.address, link);
        let lane = match c.channel {
            Channel::Email => &self.confirm_lanes[0],
            Channel::Sms => &self.confirm_lanes[1],
        };
        let outcome = match c.channel {
            Channel::Email => {
                let content = match render_confirm_email(&view) {
                    Ok(content) => content,
                    Err(e) => return dead(format!("template error: {e}")),
                };
                let email = OutgoingEmail {
                    to: &c.destination,
                    content: &content,
                    unsubscribe_url: None,
                    message_id: format!("<s{}.herald@{}>", c.id, self.message_id_domain),
                };
                let message = match build_message(&self.from, &email) {
                    Ok(m) => m,
                    Err(e) => return dead(e),
                };
                if let Some(released) = gate.pass(lane, c.id).await {
                    return released;
                }
                self.email.send(&message).await
            }
            Channel::Sms => {
                let (text, encoding) = match render_confirm_sms(&view, self.unicode) {
                    Ok(t) => t,
                    Err(e) => return dead(format!("template error: {e}")),
                };
                let sms = OutgoingSms {
                    to: &c.destination,
                    from: &self.sms_from,
                    text: &text,
                    encoding: encoding.encoding,
                    segments: encoding.segments,
                    delivery_id: None,
                    status_url: None,
                };
                if let Some(released) = gate.pass(lane, c.id).await {
                    return released;
                }
                self.sms.send(&sms).await
            }
        };
        match outcome {
            SendOutcome::Sent { provider_id } => Completion::Sent {
                id: c.id,
                sent_revision: 0,
                provider_message_id: provider_id,
                segments: None,
            },
            SendOutcome::Transient { error, retry_after } => retry::after_transient_failure(
                c.id,
                c.attempts,
                c.expires_at,
                error,
                retry_after,
                now,
                &self.delivery,
            ),
            SendOutcome::Permanent { error } => dead(format!("permanent failure: {error}")),
        }
    }

    /// Sends one claimed batch and records the outcomes.
    async fn process(
        &self,
        channel: Channel,
        batch: Vec<ClaimedDelivery>,
        lease_until: DateTime<Utc>,
        stopping: &watch::Receiver<bool>,
    ) -> Result<Vec<Completion>> {
        let gate = Gate::new(self.delivery.lease_ms, stopping);
        let now = self.clock.now();
        let mut outages: HashMap<i64, Option<Outage>> = HashMap::new();
        for d in &batch {
            if let std::collections::hash_map::Entry::Vacant(slot) = outages.entry(d.outage_id) {
                match self.store.outage(d.outage_id).await {
                    Ok(o) => {
                        slot.insert(o);
                    }
                    Err(e) => {
                        // Leave the batch to its leases; it will be retried.
                        tracing::warn!(error = %e, "cannot load outage; batch left to lease expiry");
                        return Err(e);
                    }
                }
            }
        }
        let pairs: Vec<(i64, i64)> = batch.iter().map(|d| (d.outage_id, d.contact_id)).collect();
        let news_sent = match self.store.news_sent(&pairs, now).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "cannot check sent revisions; batch left to lease expiry");
                return Err(e);
            }
        };
        let lane = self.lane(channel);
        let results: Vec<Completion> = stream::iter(batch)
            .map(|d| {
                let outage = outages.get(&d.outage_id).and_then(Option::as_ref);
                let told = news_sent
                    .get(&(d.outage_id, d.contact_id))
                    .copied()
                    .unwrap_or_default();
                let span = tracing::info_span!(
                    "deliver",
                    delivery_id = d.id,
                    outage_id = d.outage_id,
                    %channel,
                    kind = %d.kind
                );
                self.deliver(d, outage, told, now, &gate).instrument(span)
            })
            .buffer_unordered(lane.concurrency)
            .collect()
            .await;
        for r in &results {
            let outcome = match r {
                Completion::Sent { .. } => "sent",
                Completion::Retry { .. } => "retry",
                Completion::Failed { failure, .. } => failure.state().as_str(),
                Completion::Release { .. } => "released",
                Completion::Defer { .. } => "deferred",
            };
            metrics::counter!("herald_delivery_attempts_total", "channel" => channel.as_str(), "outcome" => outcome)
                .increment(1);
        }
        // What was sent must be recorded, or the lease expires and it is sent
        // again. So a database that is briefly away (a restart, a failover) is
        // waited for, for as long as the lease leaves before others may take over.
        let give_up = std::time::Instant::now() + Duration::from_millis(self.delivery.lease_ms / 2);
        let mut wait = Duration::from_millis(50);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .store
                .complete(&results, lease_until, self.clock.now())
                .await
            {
                Ok(()) => return Ok(results),
                Err(e) if std::time::Instant::now() + wait < give_up => {
                    tracing::warn!(error = %e, attempt, "recording outcomes failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
                Err(e) => {
                    tracing::error!(error = %e, "recording outcomes failed; leases will expire and the batch will be retried");
                    return Err(e);
                }
            }
        }
    }

    /// The last look before a claimed message is handed to the provider: the
    /// gate (rate limit, half the lease, stopping), then consent, read now
    /// rather than at claim time. A resident who opts out while their message
    /// waits in a batch (a slow provider, a rate limit) gets nothing more.
    async fn last_check(
        &self,
        d: &ClaimedDelivery,
        lane: &Lane,
        gate: &Gate,
    ) -> Option<Completion> {
        if let Some(released) = gate.pass(lane, d.id).await {
            return Some(released);
        }
        match self.consents.call(d.contact_id).await {
            Ok(true) => None,
            Ok(false) => Some(Completion::Failed {
                id: d.id,
                failure: Failure::Suppressed,
                reason: Skip::OptedOut.to_string(),
            }),
            // Unsure of consent, send nothing: back to the queue, the attempt
            // not counted.
            Err(e) => Some(Completion::Release {
                id: d.id,
                reason: format!("released unsent: consent could not be checked: {e}"),
            }),
        }
    }

    /// Carries out [`decide`]'s answer for one claimed delivery: a deferral or a
    /// drop becomes its completion at once; a send is rendered from the outage's
    /// current state, passes the gate, goes to the provider, and the provider's
    /// answer becomes sent, a retry (with backoff) or dead.
    async fn deliver(
        &self,
        d: ClaimedDelivery,
        outage: Option<&Outage>,
        told: NewsSent,
        now: DateTime<Utc>,
        gate: &Gate,
    ) -> Completion {
        let failed = |failure: Failure, reason: String| Completion::Failed {
            id: d.id,
            failure,
            reason,
        };
        let decision = decide(
            Claim::of(&d, self.tz),
            outage.map(|o| OutageState::of(o, &self.alerts)),
            told,
            self.pacing,
            now,
        );
        let (outage, kind) = match (decision, outage) {
            (Decision::Send { render }, Some(outage)) => (outage, render),
            (
                Decision::Defer {
                    until,
                    reason,
                    hold,
                },
                _,
            ) => {
                return Completion::Defer {
                    id: d.id,
                    until,
                    reason: reason.to_string(),
                    hold,
                }
            }
            (Decision::Drop { failure, reason }, _) => return failed(failure, reason.to_string()),
            // `decide` drops a delivery whose outage is gone; this arm only says so to the compiler.
            (Decision::Send { .. }, None) => {
                return failed(Failure::Dead, Skip::OutageGone.to_string())
            }
        };
        let ctx = RenderContext {
            tz: self.tz,
            public_url: &self.public_url,
            now,
        };
        // E-mail carries the resident's manage link (SMS has no room; HELP
        // sends it on request).
        let manage_url = (d.channel == Channel::Email).then(|| {
            ManageLink::new(d.contact_id, now, self.manage_link_valid)
                .url(&self.public_url, &self.server_key)
        });
        let recipient = Recipient {
            language: d.language,
            address: &d.address,
            unsubscribe_token: &d.unsubscribe_token,
            manage_url: manage_url.as_deref(),
        };
        let lane = self.lane(d.channel);
        let started = std::time::Instant::now();
        let (outcome, segments) = match d.channel {
            Channel::Email => {
                let view = MessageView::new(&ctx, outage, kind, &recipient, false);
                let content = match render_email(kind, &view) {
                    Ok(c) => c,
                    Err(e) => return failed(Failure::Dead, format!("template error: {e}")),
                };
                let email = OutgoingEmail {
                    to: &d.destination,
                    content: &content,
                    unsubscribe_url: Some(&view.unsubscribe_url),
                    message_id: format!(
                        "<{}.r{}.herald@{}>",
                        d.id, outage.revision, self.message_id_domain
                    ),
                };
                let message = match build_message(&self.from, &email) {
                    Ok(m) => m,
                    Err(e) => return failed(Failure::Dead, e),
                };
                if let Some(stopped) = self.last_check(&d, lane, gate).await {
                    return stopped;
                }
                (self.email.send(&message).await, None)
            }
            Channel::Sms => {
                let status_url = self.sms_reports.map(|provider| {
                    let r = ReportRequest::new(d.id, &self.public_url, &self.server_key);
                    match provider {
                        SmsProvider::Twilio => r.twilio_url(),
                        _ => r.kannel_url(),
                    }
                });
                let mut view = MessageView::new(&ctx, outage, kind, &recipient, true);
                let (text, encoding) = match render_sms(kind, &mut view, self.unicode) {
                    Ok(t) => t,
                    Err(e) => return failed(Failure::Dead, format!("template error: {e}")),
                };
                let sms = OutgoingSms {
                    to: &d.destination,
                    from: &self.sms_from,
                    text: &text,
                    encoding: encoding.encoding,
                    segments: encoding.segments,
                    delivery_id: Some(d.id),
                    status_url: status_url.as_deref(),
                };
                if let Some(stopped) = self.last_check(&d, lane, gate).await {
                    return stopped;
                }
                (self.sms.send(&sms).await, Some(encoding.segments as i64))
            }
        };
        metrics::histogram!("herald_send_seconds", "channel" => d.channel.as_str())
            .record(started.elapsed().as_secs_f64());
        match outcome {
            SendOutcome::Sent { provider_id } => Completion::Sent {
                id: d.id,
                sent_revision: outage.revision,
                provider_message_id: provider_id,
                segments,
            },
            SendOutcome::Transient { error, retry_after } => {
                tracing::info!(%error, attempts = d.attempts, "transient failure");
                retry::after_transient_failure(
                    d.id,
                    d.attempts,
                    d.expires_at,
                    error,
                    retry_after,
                    self.clock.now(),
                    &self.delivery,
                )
            }
            SendOutcome::Permanent { error } => {
                tracing::warn!(%error, "permanent failure");
                // The receiving server refused the address itself: a bounce,
                // so nothing more is sent to it until it is confirmed again.
                if d.channel == Channel::Email && receipts::refused_at_send(&error) {
                    let via = Via::new(Method::Bounce, error.clone(), Some("smtp".to_string()));
                    if let Err(e) = self
                        .store
                        .mark_undeliverable(Channel::Email, &d.destination, &error, &via, now)
                        .await
                    {
                        tracing::warn!(error = %e, "cannot mark the address undeliverable");
                    }
                }
                failed(Failure::Dead, format!("permanent failure: {error}"))
            }
        }
    }
}

/// How many claimed messages ended each way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcomes {
    pub sent: u64,
    /// Back to the queue for a later attempt after a transient failure.
    pub retried: u64,
    /// Back to the queue until another message to the contact has landed, the
    /// attempt not counted.
    pub deferred: u64,
    /// Back to the queue unsent, the attempt not counted (see `Gate`).
    pub released: u64,
    pub expired: u64,
    pub suppressed: u64,
    pub superseded: u64,
    pub dead: u64,
    /// The earliest retry scheduled: when the next drain will find work.
    pub next_retry: Option<DateTime<Utc>>,
}

impl Outcomes {
    fn count(&mut self, results: &[Completion]) {
        for r in results {
            match r {
                Completion::Sent { .. } => self.sent += 1,
                Completion::Retry { at, .. } => {
                    self.retried += 1;
                    self.next_retry = Some(self.next_retry.map_or(*at, |t| t.min(*at)));
                }
                Completion::Release { .. } => self.released += 1,
                Completion::Defer { until, .. } => {
                    self.deferred += 1;
                    self.next_retry = Some(self.next_retry.map_or(*until, |t| t.min(*until)));
                }
                Completion::Failed { failure, .. } => match failure {
                    Failure::Expired => self.expired += 1,
                    Failure::Suppressed => self.suppressed += 1,
                    Failure::Superseded => self.superseded += 1,
                    Failure::Dead => self.dead += 1,
                },
            }
        }
    }

    /// Every claimed message, however it ended.
    pub fn total(&self) -> u64 {
        self.sent
            + self.retried
            + self.deferred
            + self.released
            + self.expired
            + self.suppressed
            + self.superseded
            + self.dead
    }
}

/// What [`Dispatcher::run_until_idle`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Deliveries whose lease had run out, returned to the queue.
    pub leases_released: u64,
    /// Planned outages started.
    pub outages_started: Vec<i64>,
    pub confirmations: Outcomes,
    pub email: Outcomes,
    pub sms: Outcomes,
    /// Rounds of claims (confirmations, e-mail, SMS) that found work.
    pub rounds: u32,
}

impl DrainReport {
    fn channel_mut(&mut self, channel: Channel) -> &mut Outcomes {
        match channel {
            Channel::Email => &mut self.email,
            Channel::Sms => &mut self.sms,
        }
    }

    pub fn channel(&self, channel: Channel) -> &Outcomes {
        match channel {
            Channel::Email => &self.email,
            Channel::Sms => &self.sms,
        }
    }

    /// Messages sent (alerts on both channels and confirmations).
    pub fn sent(&self) -> u64 {
        self.email.sent + self.sms.sent + self.confirmations.sent
    }

    /// The earliest retry left for a later drain, if any.
    pub fn next_retry(&self) -> Option<DateTime<Utc>> {
        [&self.confirmations, &self.email, &self.sms]
            .iter()
            .filter_map(|o| o.next_retry)
            .min()
    }
}
