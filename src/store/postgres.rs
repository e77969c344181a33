//! The PostgreSQL backend: every SQL statement Herald runs on PostgreSQL is in
//! this file. Same schema and semantics as `sqlite.rs`; what differs is how it
//! gets there when several processes share the database:
//!
//! - workers claim with `FOR UPDATE SKIP LOCKED`, so N workers take disjoint
//!   batches without waiting on each other;
//! - writers that must see a consistent outage lock its row (`FOR UPDATE`); every
//!   publishing transaction also updates the `meta` version row, which orders them;
//! - lists travel as arrays (`= ANY($1)`, `UNNEST`), so a bulk statement is one
//!   round trip whatever its size;
//! - committed changes are announced with `NOTIFY` ([`CHANNEL_WORK`],
//!   [`CHANNEL_PUBLISHED`]) so idle workers and other web nodes react at once;
//!   polling stays as the fallback.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgListener, PgPool, PgPoolOptions};
use sqlx::Row;

use super::rows::{self, sorted_diff, OutageRow, NEWS_KINDS, OUTAGE_COLUMNS};
use super::*;
use crate::clock::{from_ms, to_ms};
use crate::config::DatabaseConfig;
use crate::error::Error;

/// Notified when deliveries or confirmations are queued.
pub const CHANNEL_WORK: &str = "herald_work";
/// Notified when the published state (outages, register) changed.
pub const CHANNEL_PUBLISHED: &str = "herald_published";

pub struct PgStore {
    pool: PgPool,
}

/// Called with each notification's channel (`None`: reconnected); false stops.
pub type OnNotify = Box<dyn Fn(Option<&str>) -> bool + Send + Sync>;

/// Parameters shared by every fan-out statement.
#[derive(Clone, Copy)]
struct Fanout<'a> {
    outage_id: i64,
    revision: i64,
    urgent: bool,
    now: i64,
    expires_at: i64,
    /// Restricts the statement to contacts at these addresses, or all.
    addresses: Option<&'a [i64]>,
}

impl PgStore {
    pub async fn open(url: &str, config: &DatabaseConfig) -> anyhow::Result<PgStore> {
        let options = PgConnectOptions::from_str(url)?
            .application_name("herald")
            // Herald's statements are short and indexed. The planner's guess for
            // a join over an area's id runs is far too high (it cannot know the
            // runs are disjoint), which would compile every such statement with
            // LLVM first: 10+ ms spent to save nothing.
            .options([("jit", "off")]);
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections.max(2))
            .acquire_timeout(Duration::from_millis(config.acquire_timeout_ms))
            // A connection broken by a server restart is noticed here rather
            // than by the query that would have used it.
            .test_before_acquire(true)
            .connect_lazy_with(options);
        Ok(PgStore { pool })
    }

    /// `VACUUM (ANALYZE)`: without it, autovacuum reaches a freshly loaded table
    /// up to a minute later, and an outage declared meanwhile competes with it
    /// (planning 100,000 deliveries took 2.0 s instead of 1.1 s while autovacuum
    /// worked through 2,000,000 new addresses on the same two cores).
    pub async fn after_bulk_load(&self, table: &'static str) -> Result<()> {
        debug_assert!(matches!(table, "addresses" | "contacts"));
        sqlx::query(&format!("VACUUM (ANALYZE) {table}"))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        // sqlx holds a PostgreSQL advisory lock while migrating, so nodes that
        // start together apply each migration once and the others wait for it.
        sqlx::migrate!("./migrations/postgres")
            .run(&self.pool)
            .await?;
        Ok(())
    }

    /// Calls `on` with the channel name of every notification; with `None` when
    /// the connection was lost and re-established (anything may have happened
    /// meanwhile). Stops when `on` returns false.
    pub async fn listen(&self, on: OnNotify) -> Result<()> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener
            .listen_all([CHANNEL_WORK, CHANNEL_PUBLISHED])
            .await?;
        tokio::spawn(async move {
            loop {
                let go_on = match listener.try_recv().await {
                    Ok(Some(n)) => on(Some(n.channel())),
                    Ok(None) => on(None),
                    Err(e) => {
                        tracing::warn!(error = %e, "lost the notification connection; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        true
                    }
                };
                if !go_on {
                    break;
                }
            }
        });
        Ok(())
    }

    pub async fn upsert_addresses(
        &self,
        rows: &[NewAddress],
        now: DateTime<Utc>,
    ) -> Result<ImportCounts> {
        // One statement per batch.
        let rows = last_of_each(rows, NewAddress::external_id);
        let col = |f: fn(&NewAddress) -> &str| rows.iter().map(|a| f(a)).collect::<Vec<_>>();
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query(
            "INSERT INTO addresses (external_id, street, house_number, postcode, settlement, \
             lon, lat, utilities, created_at, updated_at) \
             SELECT u.*, $9, $9 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], \
             $5::text[], $6::float8[], $7::float8[], $8::int8[]) AS u \
             ON CONFLICT (external_id) DO UPDATE SET street = excluded.street, \
             house_number = excluded.house_number, postcode = excluded.postcode, \
             settlement = excluded.settlement, lon = excluded.lon, lat = excluded.lat, \
             utilities = excluded.utilities, updated_at = excluded.updated_at \
             WHERE (addresses.street, addresses.house_number, addresses.postcode, \
                    addresses.settlement, addresses.lon, addresses.lat, addresses.utilities) \
             IS DISTINCT FROM (excluded.street, excluded.house_number, excluded.postcode, \
                    excluded.settlement, excluded.lon, excluded.lat, excluded.utilities) \
             RETURNING xmax = 0",
        )
        .bind(col(|a| &a.external_id))
        .bind(col(|a| &a.street))
        .bind(col(|a| &a.house_number))
        .bind(col(|a| &a.postcode))
        .bind(col(|a| &a.settlement))
        .bind(rows.iter().map(|a| a.lon).collect::<Vec<_>>())
        .bind(rows.iter().map(|a| a.lat).collect::<Vec<_>>())
        .bind(rows.iter().map(|a| a.utilities as i64).collect::<Vec<_>>())
        .bind(to_ms(now))
        .fetch_all(&mut *tx)
        .await?;
        let counts = insert_update_counts(&changed);
        if counts.inserted + counts.updated > 0 {
            sqlx::query("UPDATE meta SET value = value + 1 WHERE key = 'addresses_version'")
                .execute(&mut *tx)
                .await?;
            // Status answers by address and postcode read the register.
            publish(&mut tx, to_ms(now)).await?;
        }
        tx.commit().await?;
        Ok(counts)
    }

    pub async fn upsert_contacts(
        &self,
        rows: &[NewContact],
        now: DateTime<Utc>,
    ) -> Result<ContactImport> {
        let mut result = ContactImport::default();
        let external: Vec<&str> = rows
            .iter()
            .map(|c| c.address_external_id.as_str())
            .collect();
        let mut tx = self.begin_write().await?;
        let ids: HashMap<String, i64> = sqlx::query_as(
            "SELECT external_id, id FROM addresses WHERE external_id = ANY($1::text[])",
        )
        .bind(&external)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        // The last row for a (address, channel, destination) wins, as one by one.
        let mut last: HashMap<(i64, Channel, &str), usize> = HashMap::new();
        for (i, c) in rows.iter().enumerate() {
            match ids.get(&c.address_external_id) {
                Some(&id) => {
                    last.insert((id, c.channel, &c.destination), i);
                }
                None => result.unknown_address.push(i),
            }
        }
        let mut keep: Vec<(usize, i64)> = last.into_iter().map(|((id, _, _), i)| (i, id)).collect();
        keep.sort_unstable();
        let keep: Vec<(i64, &NewContact)> =
            keep.into_iter().map(|(i, id)| (id, &rows[i])).collect();
        // Consent is never touched here: an opted-out contact stays opted out.
        let changed = sqlx::query(
            "INSERT INTO contacts (address_id, channel, destination, language, \
             unsubscribe_token, created_at, updated_at) \
             SELECT u.*, $6, $6 FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], \
             $5::text[]) AS u \
             ON CONFLICT (address_id, channel, destination) DO UPDATE \
             SET language = excluded.language, updated_at = excluded.updated_at \
             WHERE contacts.language <> excluded.language RETURNING xmax = 0",
        )
        .bind(keep.iter().map(|k| k.0).collect::<Vec<_>>())
        .bind(
            keep.iter()
                .map(|k| k.1.channel.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            keep.iter()
                .map(|k| k.1.destination.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            keep.iter()
                .map(|k| k.1.language.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            keep.iter()
                .map(|_| crate::auth::random_token(16))
                .collect::<Vec<_>>(),
        )
        .bind(to_ms(now))
        .fetch_all(&mut *tx)
        .await?;
        result.counts = insert_update_counts(&changed);
        if result.counts.inserted + result.counts.updated > 0 {
            // IVR answers by caller number read the contacts.
            publish(&mut tx, to_ms(now)).await?;
        }
        tx.commit().await?;
        Ok(result)
    }

    pub async fn unknown_addresses(&self, rows: &[NewContact]) -> Result<Vec<usize>> {
        let ids: Vec<&str> = rows
            .iter()
            .map(|c| c.address_external_id.as_str())
            .collect();
        let known: std::collections::HashSet<String> =
            sqlx::query_scalar("SELECT external_id FROM addresses WHERE external_id = ANY($1)")
                .bind(&ids)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .collect();
        Ok(rows
            .iter()
            .enumerate()
            .filter(|(_, c)| !known.contains(&c.address_external_id))
            .map(|(i, _)| i)
            .collect())
    }

    pub async fn count_contacts(&self, address_ids: &[i64]) -> Result<ChannelCounts> {
        let rows = sqlx::query(
            "SELECT channel, COUNT(*) FROM contacts WHERE opted_out_at IS NULL \
             AND address_id = ANY($1) GROUP BY channel",
        )
        .bind(address_ids)
        .fetch_all(&self.pool)
        .await?;
        rows::channel_counts(&rows)
    }

    pub async fn declare(
        &self,
        new: &NewOutage,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<Declared> {
        let now = to_ms(new.now);
        let mut tx = self.begin_write().await?;
        if let Some(key) = idempotency {
            // Two retries of one request arriving at two nodes at once: the second
            // waits here for the first to commit, then replays its result.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($2, $1))")
                .bind(key.token_id)
                .bind(&key.key)
                .execute(&mut *tx)
                .await?;
            let seen: Option<(String, i64)> = sqlx::query_as(
                "SELECT request_hash, outage_id FROM idempotency_keys \
                 WHERE token_id = $1 AND key = $2",
            )
            .bind(key.token_id)
            .bind(&key.key)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((hash, outage_id)) = seen {
                if hash != key.request_hash {
                    return Ok(Declared::KeyReused);
                }
                let outage = fetch_outage(&mut tx, outage_id, false).await?;
                return Ok(Declared::Replayed(outage.ok_or_else(|| {
                    Error::Internal(anyhow::anyhow!("idempotency key names missing outage"))
                })?));
            }
        }

        // References are random; on the rare collision, draw again.
        let mut id = None;
        for _ in 0..32 {
            let reference = Reference::generate(new.utility.reference_prefix(), &mut rand::rng());
            id = sqlx::query_scalar(
                "INSERT INTO outages (reference, utility, kind, status, urgency, revision, cause, \
                 etr, starts_at, area, messages, affected_addresses, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9, $10, $11, $12, $12) \
                 ON CONFLICT (reference) DO NOTHING RETURNING id",
            )
            .bind(reference.as_str())
            .bind(new.utility.as_str())
            .bind(new.kind.as_str())
            .bind(new.status.as_str())
            .bind(new.urgency.as_str())
            .bind(&new.cause)
            .bind(new.etr.map(to_ms))
            .bind(new.starts_at.map(to_ms))
            .bind(&new.area)
            .bind(&new.messages)
            .bind(new.address_ids.len() as i64)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            if id.is_some() {
                break;
            }
        }
        let id: i64 = id.ok_or_else(|| {
            Error::Internal(anyhow::anyhow!("could not draw a free outage reference"))
        })?;
        insert_revision(&mut tx, id, ChangeKind::Declared, &[], now).await?;
        write_area(&mut tx, id, &new.address_ids).await?;
        let fanout = Fanout {
            outage_id: id,
            revision: 1,
            urgent: new.urgency == Urgency::Urgent,
            now,
            expires_at: to_ms(new.expires_at),
            addresses: None,
        };
        enqueue_news(&mut tx, &fanout, &new.address_ids, DeliveryKind::Declared).await?;
        if let Some(key) = idempotency {
            sqlx::query(
                "INSERT INTO idempotency_keys (token_id, key, request_hash, outage_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(key.token_id)
            .bind(&key.key)
            .bind(&key.request_hash)
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        publish(&mut tx, now).await?;
        queued_work(&mut tx).await?;
        let outage = fetch_outage(&mut tx, id, false)
            .await?
            .expect("just inserted");
        tx.commit().await?;
        Ok(Declared::Created(outage))
    }

    pub async fn change(&self, id: i64, change: &OutageChange) -> Result<Outage> {
        let now = to_ms(change.now);
        let mut tx = self.begin_write().await?;
        // The row lock makes a concurrent change (another node) wait, then fail
        // the revision check below instead of overwriting this one.
        let current = fetch_outage(&mut tx, id, true)
            .await?
            .ok_or_else(|| Error::NotFound(format!("outage {id}")))?;
        if current.revision != change.expected_revision {
            return Err(Error::Conflict(format!(
                "outage {} changed while this request was processed (now at revision {}); retry",
                current.reference, current.revision
            )));
        }
        if !current.status.is_open() {
            return Err(Error::Conflict(format!(
                "outage {} is {} and can no longer change",
                current.reference, current.status
            )));
        }
        let revision = current.revision + 1;
        let affected = match &change.new_address_ids {
            Some(ids) => ids.len() as i64,
            None => current.affected_addresses,
        };
        let ended = matches!(
            change.status,
            OutageStatus::Restored | OutageStatus::Cancelled
        );
        sqlx::query(
            "UPDATE outages SET status = $2, revision = $3, cause = $4, etr = $5, starts_at = $6, \
             area = $7, messages = $8, affected_addresses = $9, updated_at = $10, \
             ended_at = CASE WHEN $11 THEN $10 ELSE ended_at END WHERE id = $1",
        )
        .bind(id)
        .bind(change.status.as_str())
        .bind(revision)
        .bind(&change.cause)
        .bind(change.etr.map(to_ms))
        .bind(change.starts_at.map(to_ms))
        .bind(&change.area)
        .bind(&change.messages)
        .bind(affected)
        .bind(now)
        .bind(ended)
        .execute(&mut *tx)
        .await?;
        insert_revision(&mut tx, id, change.change, &change.changed_fields, now).await?;

        let fanout = Fanout {
            outage_id: id,
            revision,
            urgent: current.urgency == Urgency::Urgent,
            now,
            expires_at: to_ms(change.expires_at),
            addresses: None,
        };
        if let Some(new_ids) = &change.new_address_ids {
            let old_ids = area_ids(&mut tx, id).await?;
            let (added, removed) = sorted_diff(&old_ids, new_ids);
            write_area(&mut tx, id, new_ids).await?;
            // Left the area: pending news is dropped, those already told hear it is over for them.
            let left = Fanout {
                addresses: Some(&removed),
                ..fanout
            };
            supersede_pending(&mut tx, &left, NEWS_KINDS, "address left the outage area").await?;
            enqueue_to_told(&mut tx, &left, DeliveryKind::Withdrawn).await?;
            // Entered the area: a pending "no longer affected" is dropped, then the declaration.
            let entered = Fanout {
                addresses: Some(&added),
                ..fanout
            };
            supersede_pending(
                &mut tx,
                &entered,
                "('withdrawn')",
                "address re-entered the area",
            )
            .await?;
            enqueue_news(&mut tx, &fanout, &added, DeliveryKind::Declared).await?;
        }
        if ended {
            let kind = if change.status == OutageStatus::Restored {
                DeliveryKind::Restored
            } else {
                DeliveryKind::Cancelled
            };
            supersede_pending(&mut tx, &fanout, NEWS_KINDS, "outage ended before sending").await?;
            enqueue_to_told(&mut tx, &fanout, kind).await?;
        } else if change.notify_update {
            enqueue_update(&mut tx, &fanout).await?;
        }
        publish(&mut tx, now).await?;
        queued_work(&mut tx).await?;
        let outage = fetch_outage(&mut tx, id, false).await?.expect("exists");
        tx.commit().await?;
        Ok(outage)
    }

    pub async fn outage(&self, id: i64) -> Result<Option<Outage>> {
        let mut conn = self.pool.acquire().await?;
        fetch_outage(&mut conn, id, false).await
    }

    pub async fn outages(&self, filter: &OutageFilter) -> Result<Vec<Outage>> {
        sqlx::query_as::<_, OutageRow>(&format!(
            "SELECT {OUTAGE_COLUMNS} FROM outages WHERE ($1::text IS NULL OR status = $1) \
             AND ($2::text IS NULL OR utility = $2) AND ($3::text IS NULL OR reference = $3) \
             ORDER BY id DESC LIMIT $4"
        ))
        .bind(filter.status.map(|s| s.as_str()))
        .bind(filter.utility.map(|u| u.as_str()))
        .bind(filter.reference.as_ref().map(|r| r.as_str()))
        .bind(if filter.limit > 0 { filter.limit } else { 100 })
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(OutageRow::into_outage)
        .collect()
    }

    pub async fn deliveries(
        &self,
        outage_id: i64,
        state: Option<DeliveryState>,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM deliveries d JOIN contacts c ON c.id = d.contact_id \
             WHERE d.outage_id = $1 AND ($2::text IS NULL OR d.state = $2) ORDER BY d.id LIMIT $3",
            rows::DELIVERY_COLUMNS
        ))
        .bind(outage_id)
        .bind(state.map(|s| s.as_str()))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::delivery).collect()
    }

    pub async fn release_expired_leases(&self, now: DateTime<Utc>) -> Result<u64> {
        let now = to_ms(now);
        let mut tx = self.begin_write().await?;
        let confirmations = sqlx::query(
            "UPDATE subscriptions SET state = 'pending', lease_until = NULL, next_attempt_at = $1, \
             last_error = 'lease expired: the worker stopped before finishing' \
             WHERE state = 'sending' AND lease_until < $1",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let deliveries = sqlx::query(
            "UPDATE deliveries SET state = 'pending', lease_until = NULL, next_attempt_at = $1, \
             last_error = 'lease expired: the worker stopped before finishing', updated_at = $1 \
             WHERE state = 'sending' AND lease_until < $1",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if confirmations + deliveries > 0 {
            queued_work(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(confirmations + deliveries)
    }

    pub async fn claim(
        &self,
        channel: Channel,
        limit: u32,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ClaimedDelivery>> {
        // One statement, committed on return, before anything is sent: a crash
        // after this leaves a lease that expires, never a lost message. SKIP LOCKED
        // lets concurrent workers take the next rows instead of queueing on these.
        let rows = sqlx::query(&format!(
            "WITH due AS (SELECT id FROM deliveries WHERE channel = $1 AND state = 'pending' \
             AND next_attempt_at <= $2 ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED), \
             d AS (UPDATE deliveries SET state = 'sending', attempts = deliveries.attempts + 1, \
             lease_until = $3, updated_at = $2 FROM due WHERE deliveries.id = due.id \
             RETURNING deliveries.*) \
             SELECT {} FROM d JOIN contacts c ON c.id = d.contact_id \
             JOIN addresses a ON a.id = c.address_id ORDER BY d.id",
            rows::CLAIMED_COLUMNS
        ))
        .bind(channel.as_str())
        .bind(to_ms(now))
        .bind(to_ms(lease_until))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::claimed).collect()
    }

    pub async fn complete(
        &self,
        results: &[Completion],
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let lease = to_ms(lease_until);
        let done = Outcomes::split(results);
        let mut tx = self.begin_write().await?;
        // The claim's lease is its fencing token: a worker whose lease ran out
        // and was taken over by another changes nothing.
        sqlx::query(
            "UPDATE deliveries d SET state = 'sent', lease_until = NULL, sent_revision = u.rev, \
             provider_message_id = u.pid, segments = u.seg, last_error = NULL, updated_at = $5 \
             FROM UNNEST($1::int8[], $2::int8[], $3::text[], $4::int8[]) AS u(id, rev, pid, seg) \
             WHERE d.id = u.id AND d.state = 'sending' AND d.lease_until = $6",
        )
        .bind(&done.sent.id)
        .bind(&done.sent.revision)
        .bind(&done.sent.provider_id)
        .bind(&done.sent.segments)
        .bind(to_ms(now))
        .bind(lease)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE deliveries d SET state = 'pending', lease_until = NULL, next_attempt_at = u.at, \
             last_error = u.error, updated_at = $4 \
             FROM UNNEST($1::int8[], $2::int8[], $3::text[]) AS u(id, at, error) \
             WHERE d.id = u.id AND d.state = 'sending' AND d.lease_until = $5",
        )
        .bind(&done.retry.id)
        .bind(&done.retry.at)
        .bind(&done.retry.error)
        .bind(to_ms(now))
        .bind(lease)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE deliveries d SET state = u.state, lease_until = NULL, last_error = u.reason, \
             updated_at = $4 FROM UNNEST($1::int8[], $2::text[], $3::text[]) AS u(id, state, reason) \
             WHERE d.id = u.id AND d.state = 'sending' AND d.lease_until = $5",
        )
        .bind(&done.failed.id)
        .bind(&done.failed.state)
        .bind(&done.failed.reason)
        .bind(to_ms(now))
        .bind(lease)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE deliveries d SET state = 'pending', lease_until = NULL, \
             attempts = d.attempts - 1, next_attempt_at = $3, last_error = u.reason, updated_at = $3 \
             FROM UNNEST($1::int8[], $2::text[]) AS u(id, reason) \
             WHERE d.id = u.id AND d.state = 'sending' AND d.lease_until = $4",
        )
        .bind(&done.released.id)
        .bind(&done.released.reason)
        .bind(to_ms(now))
        .bind(lease)
        .execute(&mut *tx)
        .await?;
        if !done.retry.id.is_empty() || !done.released.id.is_empty() {
            queued_work(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn news_sent(&self, pairs: &[(i64, i64)]) -> Result<HashMap<(i64, i64), NewsSent>> {
        if pairs.is_empty() {
            return Ok(HashMap::new());
        }
        let (outages, contacts): (Vec<i64>, Vec<i64>) = pairs.iter().copied().unzip();
        let rows = sqlx::query(&format!(
            "SELECT outage_id, contact_id, MAX(CASE WHEN state = 'sent' THEN sent_revision END), \
             MAX(CASE WHEN state = 'sending' THEN 1 ELSE 0 END)::int8 FROM deliveries \
             WHERE state IN ('sent', 'sending') AND kind IN {NEWS_KINDS} AND (outage_id, contact_id) \
             IN (SELECT * FROM UNNEST($1::int8[], $2::int8[])) GROUP BY outage_id, contact_id"
        ))
        .bind(&outages)
        .bind(&contacts)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows::news_sent(&rows))
    }

    pub async fn start_due_outages(&self, now: DateTime<Utc>) -> Result<Vec<i64>> {
        let now = to_ms(now);
        let mut tx = self.begin_write().await?;
        // SKIP LOCKED: with several workers, each due outage is started by one.
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE outages SET status = 'active', revision = revision + 1, updated_at = $1 \
             WHERE id IN (SELECT id FROM outages WHERE status = 'scheduled' AND starts_at <= $1 \
             FOR UPDATE SKIP LOCKED) RETURNING id",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        for id in &ids {
            insert_revision(&mut tx, *id, ChangeKind::Started, &["status"], now).await?;
        }
        if !ids.is_empty() {
            publish(&mut tx, now).await?;
        }
        tx.commit().await?;
        Ok(ids)
    }

    pub async fn addresses_where(
        &self,
        by: AddressQuery<'_>,
        limit: i64,
    ) -> Result<Vec<AddressRow>> {
        let (condition, value) = match by {
            AddressQuery::Destination(d) => (
                "a.id IN (SELECT address_id FROM contacts WHERE destination = $1)",
                d.to_string(),
            ),
            AddressQuery::Postcode(p) => ("a.postcode = $1", p.to_string()),
            AddressQuery::ExternalId(e) => ("a.external_id = $1", e.to_string()),
            AddressQuery::Id(id) => ("a.id = CAST($1 AS BIGINT)", id.to_string()),
        };
        let rows = sqlx::query(&format!(
            "SELECT a.id, a.external_id, a.street, a.house_number, a.postcode, a.settlement, \
             a.lon, a.lat, (SELECT c.language FROM contacts c WHERE c.address_id = a.id \
             AND c.destination = $1 LIMIT 1) FROM addresses a WHERE {condition} \
             ORDER BY a.id LIMIT $2"
        ))
        .bind(value)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::address).collect()
    }

    pub async fn request_status_sms(
        &self,
        phone: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        // Unique per (outage, revision, kind, contact): pressing 2 twice for the
        // same state sends one message.
        let queued = sqlx::query(&format!(
            "INSERT INTO deliveries (outage_id, revision, kind, contact_id, channel, state, \
             urgent, attempts, next_attempt_at, expires_at, created_at, updated_at) \
             SELECT o.id, o.revision, 'requested', c.id, 'sms', 'pending', TRUE, 0, $2, $3, $2, $2 \
             FROM contacts c JOIN outages o ON {} \
             WHERE c.destination = $1 AND c.channel = 'sms' \
             AND o.status IN ('scheduled', 'active') \
             ON CONFLICT DO NOTHING",
            rows::covers("o.id", "c.address_id")
        ))
        .bind(phone)
        .bind(to_ms(now))
        .bind(to_ms(expires_at))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if queued > 0 {
            queued_work(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(queued)
    }
}

super::common::common_queries!(PgStore);
super::common::common_statements!(PgConnection);

impl PgStore {
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        Ok(self.pool.begin().await?)
    }
}

/// Rows a write transaction reads to decide on are locked, so a concurrent
/// transaction on another node waits for this one.
const ROW_LOCK: &str = " FOR UPDATE";

/// Wakes idle workers on every node when the transaction commits.
async fn queued_work(conn: &mut PgConnection) -> Result<()> {
    notify(conn, CHANNEL_WORK).await
}

/// Subscriptions from the status page (double opt-in).
impl PgStore {
    pub async fn subscribe(
        &self,
        s: &NewSubscription,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        per_day: i64,
    ) -> Result<Subscribed> {
        let now = to_ms(now);
        let mut tx = self.begin_write().await?;
        // Requests for one destination queue here, so the daily limit holds
        // even when they arrive at several nodes at once.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(&s.destination)
            .execute(&mut *tx)
            .await?;
        // A form anyone can post must not become a way to flood somebody's phone.
        let recent: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM subscriptions WHERE destination = $1 AND created_at > $2",
        )
        .bind(&s.destination)
        .bind(now - 86_400_000)
        .fetch_one(&mut *tx)
        .await?;
        if recent >= per_day {
            return Ok(Subscribed::TooMany);
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO subscriptions (token, address_id, channel, destination, language, state, \
             next_attempt_at, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $6) RETURNING id",
        )
        .bind(&s.token)
        .bind(s.address_id)
        .bind(s.channel.as_str())
        .bind(&s.destination)
        .bind(s.language.as_str())
        .bind(now)
        .bind(to_ms(expires_at))
        .fetch_one(&mut *tx)
        .await?;
        queued_work(&mut tx).await?;
        tx.commit().await?;
        Ok(Subscribed::Created(id))
    }

    pub async fn claim_confirmations(
        &self,
        limit: u32,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<PendingConfirmation>> {
        let now = to_ms(now);
        let mut tx = self.begin_write().await?;
        // A link that has run out is not worth sending.
        sqlx::query(
            "UPDATE subscriptions SET state = 'expired', last_error = 'expired before it could be sent' \
             WHERE state = 'pending' AND expires_at < $1",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let rows = sqlx::query(
            "UPDATE subscriptions SET state = 'sending', attempts = attempts + 1, lease_until = $2 \
             WHERE id IN (SELECT id FROM subscriptions WHERE state = 'pending' \
             AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING id, token, channel, destination, language, attempts, expires_at, \
             (SELECT a.street || ' ' || a.house_number || ', ' || a.postcode || ' ' || a.settlement \
              FROM addresses a WHERE a.id = subscriptions.address_id)",
        )
        .bind(now)
        .bind(to_ms(lease_until))
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter().map(rows::pending_confirmation).collect()
    }

    pub async fn complete_confirmations(
        &self,
        results: &[Completion],
        lease_until: DateTime<Utc>,
    ) -> Result<()> {
        let lease = to_ms(lease_until);
        let done = Outcomes::split(results);
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE subscriptions SET state = 'sent', lease_until = NULL, last_error = NULL \
             WHERE id = ANY($1) AND state = 'sending' AND lease_until = $2",
        )
        .bind(&done.sent.id)
        .bind(lease)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE subscriptions s SET state = 'pending', lease_until = NULL, \
             next_attempt_at = u.at, last_error = u.error \
             FROM UNNEST($1::int8[], $2::int8[], $3::text[]) AS u(id, at, error) \
             WHERE s.id = u.id AND s.state = 'sending' AND lease_until = $4",
        )
        .bind(&done.retry.id)
        .bind(&done.retry.at)
        .bind(&done.retry.error)
        .bind(lease)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE subscriptions s SET lease_until = NULL, last_error = u.reason, \
             state = CASE u.state WHEN 'expired' THEN 'expired' ELSE 'dead' END \
             FROM UNNEST($1::int8[], $2::text[], $3::text[]) AS u(id, state, reason) \
             WHERE s.id = u.id AND s.state = 'sending' AND lease_until = $4",
        )
        .bind(&done.failed.id)
        .bind(&done.failed.state)
        .bind(&done.failed.reason)
        .bind(lease)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE subscriptions s SET state = 'pending', lease_until = NULL, \
             attempts = s.attempts - 1, last_error = u.reason \
             FROM UNNEST($1::int8[], $2::text[]) AS u(id, reason) \
             WHERE s.id = u.id AND s.state = 'sending' AND lease_until = $3",
        )
        .bind(&done.released.id)
        .bind(&done.released.reason)
        .bind(lease)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Shared rate limits.
impl PgStore {
    pub async fn take_tokens(&self, r: &TokenRequest<'_>) -> Result<Grant> {
        let mut tx = self.begin_write().await?;
        // The first take creates the bucket; the row lock then makes concurrent
        // workers take from it one after another.
        sqlx::query(
            "INSERT INTO rate_limits (bucket, tokens, refilled_at) VALUES ($1, $2, $3) \
             ON CONFLICT (bucket) DO NOTHING",
        )
        .bind(r.bucket)
        .bind(r.burst as f64)
        .bind(r.now_ms)
        .execute(&mut *tx)
        .await?;
        let (tokens, refilled_at): (f64, i64) = sqlx::query_as(
            "SELECT tokens, refilled_at FROM rate_limits WHERE bucket = $1 FOR UPDATE",
        )
        .bind(r.bucket)
        .fetch_one(&mut *tx)
        .await?;
        let grant = r.apply(tokens, refilled_at);
        sqlx::query("UPDATE rate_limits SET tokens = $2, refilled_at = $3 WHERE bucket = $1")
            .bind(r.bucket)
            .bind(grant.tokens)
            .bind(grant.refilled_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(grant)
    }
}

/// Completions regrouped as columns, one array per field, for `UNNEST`.
#[derive(Default)]
struct Outcomes {
    sent: SentColumns,
    retry: RetryColumns,
    failed: FailedColumns,
    released: ReleasedColumns,
}

#[derive(Default)]
struct ReleasedColumns {
    id: Vec<i64>,
    reason: Vec<String>,
}

#[derive(Default)]
struct SentColumns {
    id: Vec<i64>,
    revision: Vec<i64>,
    provider_id: Vec<Option<String>>,
    segments: Vec<Option<i64>>,
}

#[derive(Default)]
struct RetryColumns {
    id: Vec<i64>,
    at: Vec<i64>,
    error: Vec<String>,
}

#[derive(Default)]
struct FailedColumns {
    id: Vec<i64>,
    state: Vec<&'static str>,
    reason: Vec<String>,
}

impl Outcomes {
    fn split(results: &[Completion]) -> Outcomes {
        let mut o = Outcomes::default();
        for r in results {
            match r {
                Completion::Sent {
                    id,
                    sent_revision,
                    provider_message_id,
                    segments,
                } => {
                    o.sent.id.push(*id);
                    o.sent.revision.push(*sent_revision);
                    o.sent.provider_id.push(provider_message_id.clone());
                    o.sent.segments.push(*segments);
                }
                Completion::Retry { id, at, error } => {
                    o.retry.id.push(*id);
                    o.retry.at.push(to_ms(*at));
                    o.retry.error.push(error.clone());
                }
                Completion::Failed {
                    id,
                    failure,
                    reason,
                } => {
                    o.failed.id.push(*id);
                    o.failed.state.push(failure.state().as_str());
                    o.failed.reason.push(reason.clone());
                }
                Completion::Release { id, reason } => {
                    o.released.id.push(*id);
                    o.released.reason.push(reason.clone());
                }
            }
        }
        o
    }
}

/// Counts from `RETURNING xmax = 0` (true: inserted; false: updated).
fn insert_update_counts(rows: &[sqlx::postgres::PgRow]) -> ImportCounts {
    let inserted = rows.iter().filter(|r| r.get::<bool, _>(0)).count() as u64;
    ImportCounts {
        inserted,
        updated: rows.len() as u64 - inserted,
    }
}

async fn fetch_outage(conn: &mut PgConnection, id: i64, lock: bool) -> Result<Option<Outage>> {
    sqlx::query_as::<_, OutageRow>(&format!(
        "SELECT {OUTAGE_COLUMNS} FROM outages WHERE id = $1{}",
        if lock { ROW_LOCK } else { "" }
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .map(OutageRow::into_outage)
    .transpose()
}

/// Marks the published state as changed (in the same transaction as the change)
/// and tells the other nodes when it commits.
async fn publish(conn: &mut PgConnection, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE meta SET value = CASE key WHEN 'outages_version' THEN value + 1 ELSE $1 END \
         WHERE key IN ('outages_version', 'outages_changed_at')",
    )
    .bind(now)
    .execute(&mut *conn)
    .await?;
    notify(conn, CHANNEL_PUBLISHED).await
}

/// `NOTIFY` is transactional: listeners hear it only if the transaction commits,
/// and once however often it was sent in it.
async fn notify(conn: &mut PgConnection, channel: &str) -> Result<()> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(channel)
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes the outage's area (ascending address ids) as runs, replacing any before.
async fn write_area(conn: &mut PgConnection, outage_id: i64, ids: &[i64]) -> Result<()> {
    let (first, last): (Vec<i64>, Vec<i64>) = rows::id_runs(ids).into_iter().unzip();
    clear_area(&mut *conn, outage_id).await?;
    sqlx::query(
        "INSERT INTO outage_ranges (outage_id, first_id, last_id) \
         SELECT $1, UNNEST($2::int8[]), UNNEST($3::int8[])",
    )
    .bind(outage_id)
    .bind(&first)
    .bind(&last)
    .execute(conn)
    .await?;
    Ok(())
}

/// Queues `kind` for every contact at the given addresses (all of a new area, or
/// the part a change added). No `ON CONFLICT`: the revision is new in this
/// transaction and the outage row is locked (or just created), so no other
/// transaction can hold a row with this key, and skipping the speculative
/// insertion saves a quarter of a second per 100,000 rows.
async fn enqueue_news(
    conn: &mut PgConnection,
    f: &Fanout<'_>,
    addresses: &[i64],
    kind: DeliveryKind,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO deliveries (outage_id, revision, kind, contact_id, channel, state, urgent, \
         attempts, next_attempt_at, expires_at, created_at, updated_at) \
         SELECT $1, $2, $3, c.id, c.channel, 'pending', $4, 0, $5, $6, $5, $5 \
         FROM contacts c WHERE c.address_id = ANY($7) AND c.opted_out_at IS NULL",
    )
    .bind(f.outage_id)
    .bind(f.revision)
    .bind(kind.as_str())
    .bind(f.urgent)
    .bind(f.now)
    .bind(f.expires_at)
    .bind(addresses)
    .execute(conn)
    .await?;
    Ok(())
}

/// Queues `kind` (restored, cancelled, withdrawn) for contacts who were told about
/// the outage: nobody hears "it's over" about an outage they never heard of. With
/// `addresses` set, only contacts there (and no longer in the area) are considered;
/// otherwise the contacts in the area.
async fn enqueue_to_told(
    conn: &mut PgConnection,
    f: &Fanout<'_>,
    kind: DeliveryKind,
) -> Result<()> {
    let scope = if f.addresses.is_some() {
        "contacts c WHERE c.address_id = ANY($7)".to_string()
    } else {
        format!(
            "{} WHERE $7::int8[] IS NULL",
            rows::in_area("contacts", "c", "address_id")
        )
    };
    sqlx::query(&format!(
        "INSERT INTO deliveries (outage_id, revision, kind, contact_id, channel, state, urgent, \
         attempts, next_attempt_at, expires_at, created_at, updated_at) \
         SELECT $1, $2, $3, c.id, c.channel, 'pending', $4, 0, $5, $6, $5, $5 \
         FROM {scope} AND c.opted_out_at IS NULL \
         AND EXISTS (SELECT 1 FROM deliveries d WHERE d.outage_id = $1 AND d.contact_id = c.id \
                     AND d.kind IN {NEWS_KINDS} AND d.state IN ('sending', 'sent')) \
         ON CONFLICT DO NOTHING"
    ))
    .bind(f.outage_id)
    .bind(f.revision)
    .bind(kind.as_str())
    .bind(f.urgent)
    .bind(f.now)
    .bind(f.expires_at)
    .bind(f.addresses)
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks pending deliveries of the given kinds as superseded (for the given
/// addresses, or the whole outage).
async fn supersede_pending(
    conn: &mut PgConnection,
    f: &Fanout<'_>,
    kinds: &str,
    reason: &str,
) -> Result<()> {
    sqlx::query(&format!(
        "UPDATE deliveries SET state = 'superseded', last_error = $2, updated_at = $3 \
         WHERE outage_id = $1 AND state = 'pending' AND kind IN {kinds} \
         AND ($4::int8[] IS NULL OR contact_id IN (SELECT id FROM contacts \
              WHERE address_id = ANY($4)))"
    ))
    .bind(f.outage_id)
    .bind(reason)
    .bind(f.now)
    .bind(f.addresses)
    .execute(conn)
    .await?;
    Ok(())
}
