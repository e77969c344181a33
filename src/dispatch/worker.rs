//! The delivery worker: one claim loop per channel plus a housekeeping loop.
//!
//! A loop claims a batch (the claim is committed before anything is sent), sends it
//! with at most `concurrency` messages in flight and at most `rate_per_sec` started
//! per second, then records every outcome in one transaction. A worker that dies
//! mid-batch leaves leases that expire; housekeeping returns those deliveries to the
//! queue, so nothing is lost and duplicates are bounded by what was in flight.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use futures::stream::{self, StreamExt};
use lettre::message::Mailbox;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::ratelimit::SharedLimiter;
use super::retry;
use crate::channels::email::{build_message, EmailSender, OutgoingEmail};
use crate::channels::render::{
    render_confirm_email, render_confirm_sms, render_email, render_sms, ConfirmView, MessageView,
    Recipient, RenderContext,
};
use crate::channels::sms::{OutgoingSms, SmsSender};
use crate::channels::sms_text::UnicodePolicy;
use crate::channels::SendOutcome;
use crate::clock::SharedClock;
use crate::config::{Config, DeliveryConfig};
use crate::domain::{Channel, DeliveryKind, Outage};
use crate::store::{ClaimedDelivery, Completion, Failure, NewsSent, PendingConfirmation, Store};

/// Wakes idle claim loops when new work is committed. One `Notify` per channel with
/// `notify_one`, whose stored permit means a wake-up that arrives while a loop is
/// busy is not lost.
#[derive(Debug, Default)]
pub struct Wake {
    email: Notify,
    sms: Notify,
}

impl Wake {
    pub fn all(&self) {
        self.email.notify_one();
        self.sms.notify_one();
    }
    fn channel(&self, channel: Channel) -> &Notify {
        match channel {
            Channel::Email => &self.email,
            Channel::Sms => &self.sms,
        }
    }
}

struct Lane {
    concurrency: usize,
    /// The provider's rate limit, shared with every other worker process.
    limiter: Option<SharedLimiter>,
    batch: u32,
}

impl Lane {
    fn new(
        store: &Store,
        channel: Channel,
        rate_per_sec: u32,
        concurrency: usize,
        delivery: &DeliveryConfig,
    ) -> Lane {
        let limiter = SharedLimiter::new(store.clone(), channel.as_str(), rate_per_sec);
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

pub struct Dispatcher {
    store: Store,
    clock: SharedClock,
    delivery: DeliveryConfig,
    tz: Tz,
    public_url: String,
    email: EmailSender,
    sms: SmsSender,
    from: Mailbox,
    message_id_domain: String,
    sms_from: String,
    unicode: UnicodePolicy,
    email_lane: Lane,
    sms_lane: Lane,
    wake: Arc<Wake>,
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
    pub fn abort(self) {
        for task in &self.tasks {
            task.abort();
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
            Channel::Email,
            config.email.rate_per_sec,
            config.email.concurrency,
            &config.delivery,
        );
        let sms_lane = Lane::new(
            &store,
            Channel::Sms,
            config.sms.rate_per_sec,
            config.sms.concurrency,
            &config.delivery,
        );
        Ok(Arc::new(Dispatcher {
            store,
            clock,
            delivery: config.delivery.clone(),
            tz: config.tz()?,
            public_url: config.public_url(),
            message_id_domain: from.email.domain().to_string(),
            from,
            email,
            sms,
            sms_from: config.sms.from.clone(),
            unicode: config.sms.unicode,
            email_lane,
            sms_lane,
            wake,
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
        tasks.push(tokio::spawn(
            async move { this.housekeeping_loop(rx).await },
        ));
        WorkerHandle { shutdown, tasks }
    }

    fn lane(&self, channel: Channel) -> &Lane {
        match channel {
            Channel::Email => &self.email_lane,
            Channel::Sms => &self.sms_lane,
        }
    }

    async fn claim_loop(&self, channel: Channel, mut shutdown: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.delivery.poll_interval_ms);
        let lease = chrono::Duration::milliseconds(self.delivery.lease_ms as i64);
        loop {
            if *shutdown.borrow() {
                break;
            }
            let now = self.clock.now();
            let lease_until = now + lease;
            match self
                .store
                .claim(channel, self.lane(channel).batch, now, lease_until)
                .await
            {
                Ok(batch) if !batch.is_empty() => {
                    self.process(channel, batch, lease_until, &shutdown).await;
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, %channel, "claim failed; will retry"),
            }
            tokio::select! {
                _ = self.wake.channel(channel).notified() => {}
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
            let now = self.clock.now();
            match self.store.release_expired_leases(now).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::warn!(
                        released = n,
                        "returned deliveries with expired leases to the queue"
                    );
                    self.wake.all();
                }
                Err(e) => tracing::warn!(error = %e, "lease release failed"),
            }
            self.send_confirmations(now, &shutdown).await;
            match self.store.start_due_outages(now).await {
                Ok(ids) if !ids.is_empty() => tracing::info!(?ids, "planned outages started"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "starting planned outages failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Sends due subscription confirmations. They are few (one per resident who
    /// fills in the form) and wait for housekeeping's tick, but go through the same
    /// lanes, rate limits, leases and retry rules as alerts.
    async fn send_confirmations(&self, now: DateTime<Utc>, stopping: &watch::Receiver<bool>) {
        let lease = chrono::Duration::milliseconds(self.delivery.lease_ms as i64);
        let lease_until = now + lease;
        let claimed = match self.store.claim_confirmations(50, now, lease_until).await {
            Ok(c) if c.is_empty() => return,
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "claiming confirmations failed; will retry");
                return;
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
            .complete_confirmations(&results, lease_until)
            .await
        {
            tracing::error!(error = %e, "recording confirmations failed; leases will expire and they will be retried");
        }
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
        let view = ConfirmView::new(
            &self.public_url,
            c.language,
            c.channel,
            &c.address,
            &c.token,
        );
        let lane = self.lane(c.channel);
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
    ) {
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
                        return;
                    }
                }
            }
        }
        let pairs: Vec<(i64, i64)> = batch.iter().map(|d| (d.outage_id, d.contact_id)).collect();
        let news_sent = match self.store.news_sent(&pairs).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "cannot check sent revisions; batch left to lease expiry");
                return;
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
            };
            metrics::counter!("herald_delivery_attempts_total", "channel" => channel.as_str(), "outcome" => outcome)
                .increment(1);
        }
        // What was sent must be recorded, or the lease expires and it is sent
        // again. So a database that is briefly away (a restart, a failover) is
        // waited for, for as long as the lease leaves before others may take over.
        let give_up = std::time::Instant::now() + Duration::from_millis(self.delivery.lease_ms / 2);
        let mut wait = Duration::from_millis(50);
        for attempt in 1.. {
            match self
                .store
                .complete(&results, lease_until, self.clock.now())
                .await
            {
                Ok(()) => return,
                Err(e) if std::time::Instant::now() + wait < give_up => {
                    tracing::warn!(error = %e, attempt, "recording outcomes failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
                Err(e) => {
                    tracing::error!(error = %e, "recording outcomes failed; leases will expire and the batch will be retried");
                    return;
                }
            }
        }
    }

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
        if now > d.expires_at {
            return failed(Failure::Expired, "expired before it could be sent".into());
        }
        // A message the resident asked for is sent even after an opt-out from alerts.
        if d.opted_out && d.kind != DeliveryKind::Requested {
            return failed(Failure::Suppressed, "contact opted out".into());
        }
        let Some(outage) = outage else {
            return failed(Failure::Dead, "outage not found".into());
        };
        if matches!(
            d.kind,
            DeliveryKind::Declared | DeliveryKind::Updated | DeliveryKind::Requested
        ) && !outage.status.is_open()
        {
            return failed(
                Failure::Superseded,
                format!("outage {} before this message was sent", outage.status),
            );
        }
        match d.kind {
            // One message per state: a declaration rendered after the ETR changed
            // already carried the update this delivery was queued for.
            DeliveryKind::Updated if told.revision.is_some_and(|r| r >= outage.revision) => {
                return failed(
                    Failure::Superseded,
                    format!(
                        "revision {} was already sent to this contact",
                        outage.revision
                    ),
                );
            }
            // Whatever follows the first message waits while that is on its way.
            DeliveryKind::Updated
            | DeliveryKind::Restored
            | DeliveryKind::Cancelled
            | DeliveryKind::Withdrawn
                if told.revision.is_none() && told.in_flight =>
            {
                return Completion::Retry {
                    id: d.id,
                    at: now + chrono::Duration::seconds(1),
                    error: "waiting for this contact's first message to finish".into(),
                };
            }
            // An update is news only to those who had the first message. If theirs
            // is still queued (it was claimed when the change came, then released or
            // retried), it renders the newest state itself.
            DeliveryKind::Updated if told.revision.is_none() => {
                return failed(
                    Failure::Superseded,
                    "the contact's first message, not yet sent, carries this update".into(),
                );
            }
            // "It's over" only to those who heard it began.
            DeliveryKind::Restored | DeliveryKind::Cancelled | DeliveryKind::Withdrawn
                if told.revision.is_none() =>
            {
                return failed(
                    Failure::Superseded,
                    "the contact was never told about this outage".into(),
                );
            }
            _ => {}
        }
        let ctx = RenderContext {
            tz: self.tz,
            public_url: &self.public_url,
            now,
        };
        let recipient = Recipient {
            language: d.language,
            street: &d.street,
            house_number: &d.house_number,
            settlement: &d.settlement,
            unsubscribe_token: &d.unsubscribe_token,
        };
        let lane = self.lane(d.channel);
        let started = std::time::Instant::now();
        let (outcome, segments) = match d.channel {
            Channel::Email => {
                let view = MessageView::new(&ctx, outage, d.kind, &recipient, false);
                let content = match render_email(d.kind, &view) {
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
                if let Some(released) = gate.pass(lane, d.id).await {
                    return released;
                }
                (self.email.send(&message).await, None)
            }
            Channel::Sms => {
                let mut view = MessageView::new(&ctx, outage, d.kind, &recipient, true);
                let (text, encoding) = match render_sms(d.kind, &mut view, self.unicode) {
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
                };
                if let Some(released) = gate.pass(lane, d.id).await {
                    return released;
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
                failed(Failure::Dead, format!("permanent failure: {error}"))
            }
        }
    }
}
