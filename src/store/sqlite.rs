//! The SQLite backend: every SQL statement Herald runs on SQLite is in this file.
//!
//! WAL journal, a busy timeout, and `BEGIN IMMEDIATE` for every transaction that
//! writes, so writers queue on the lock instead of failing on upgrade. Instants are
//! INTEGER milliseconds; lists of ids travel as one JSON array through `json_each`,
//! which keeps bulk statements to a single round trip.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, SqliteConnection};

use super::rows::{self, sorted_diff, OutageRow, NEWS_KINDS, OUTAGE_COLUMNS};
use super::*;
use crate::clock::{from_ms, to_ms};
use crate::config::DatabaseConfig;
use crate::error::Error;

pub struct SqliteStore {
    pool: SqlitePool,
}

fn ids_json(ids: &[i64]) -> String {
    serde_json::to_string(ids).expect("ids serialize")
}

/// Parameters shared by every fan-out statement.
#[derive(Clone, Copy)]
struct Fanout<'a> {
    outage_id: i64,
    revision: i64,
    urgent: bool,
    now: i64,
    expires_at: i64,
    /// Restricts the statement to contacts at these addresses (JSON array), or all.
    addresses: Option<&'a str>,
}

impl SqliteStore {
    pub async fn open(url: &str, config: &DatabaseConfig) -> anyhow::Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_millis(config.busy_timeout_ms))
            .foreign_keys(true)
            .pragma("temp_store", "memory");
        if let Some(dir) = options.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)?;
            }
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(config.max_connections.max(2))
            .after_release(|conn, _| {
                Box::pin(async move {
                    // A future cancelled at the wrong moment (a client that hung up
                    // while BEGIN IMMEDIATE waited for the lock) can hand back a
                    // connection still inside a transaction; reused, it would hold
                    // SQLite's write lock for ever. Such a connection is closed
                    // instead, which rolls the transaction back.
                    let mut handle = conn.lock_handle().await?;
                    // SAFETY: the handle is locked for this call and valid while held.
                    let autocommit = unsafe {
                        libsqlite3_sys::sqlite3_get_autocommit(handle.as_raw_handle().as_ptr())
                    };
                    Ok(autocommit != 0)
                })
            })
            .connect_with(options)
            .await?;
        Ok(SqliteStore { pool })
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        // SQLite has no advisory lock for the migrator to hold, so processes that
        // start together may race: the loser fails on a table the winner just
        // created, or on the lock. Looking again after a pause finds the work
        // done; a migration that is really broken fails every time.
        let migrator = sqlx::migrate!("./migrations/sqlite");
        let mut attempt = 0;
        loop {
            match migrator.run(&self.pool).await {
                Ok(()) => return Ok(()),
                Err(e) if attempt < 5 => {
                    attempt += 1;
                    tracing::info!(error = %e, attempt, "migration raced another process; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Nothing to do: SQLite's planner needs no statistics for Herald's indexed
    /// statements, and there is no background vacuum to get ahead of.
    pub async fn after_bulk_load(&self, _table: &'static str) -> Result<()> {
        Ok(())
    }

    pub async fn upsert_addresses(
        &self,
        rows: &[NewAddress],
        now: DateTime<Utc>,
    ) -> Result<ImportCounts> {
        let now = to_ms(now);
        let mut tx = self.begin_write().await?;
        // Rows inserted by this batch get ids above the current maximum; an update
        // keeps its old id; an unchanged row returns nothing.
        let max_id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM addresses")
            .fetch_one(&mut *tx)
            .await?;
        // One statement per batch: the rows travel as one JSON array, which is
        // many times faster than a statement per row (2,000,000 rows in seconds,
        // not minutes).
        let batch: Vec<serde_json::Value> = last_of_each(rows, NewAddress::external_id)
            .into_iter()
            .map(|a| {
                serde_json::json!([
                    a.external_id,
                    a.street,
                    a.house_number,
                    a.postcode,
                    a.settlement,
                    a.lon,
                    a.lat,
                    a.utilities
                ])
            })
            .collect();
        let ids: Vec<i64> = sqlx::query_scalar(
            "INSERT INTO addresses (external_id, street, house_number, postcode, settlement, \
             lon, lat, utilities, created_at, updated_at) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, \
             value ->> 5, value ->> 6, value ->> 7, $2, $2 FROM json_each($1) WHERE true \
             ON CONFLICT (external_id) DO UPDATE SET street = excluded.street, \
             house_number = excluded.house_number, postcode = excluded.postcode, \
             settlement = excluded.settlement, lon = excluded.lon, lat = excluded.lat, \
             utilities = excluded.utilities, updated_at = excluded.updated_at \
             WHERE (street, house_number, postcode, settlement, lon, lat, utilities) IS NOT \
             (excluded.street, excluded.house_number, excluded.postcode, excluded.settlement, \
              excluded.lon, excluded.lat, excluded.utilities) \
             RETURNING id",
        )
        .bind(serde_json::Value::Array(batch).to_string())
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let mut counts = ImportCounts::default();
        for id in ids {
            counts.count(Some(id), max_id);
        }
        if counts.inserted + counts.updated > 0 {
            sqlx::query("UPDATE meta SET value = value + 1 WHERE key = 'addresses_version'")
                .execute(&mut *tx)
                .await?;
            // Status answers by address and postcode read the register.
            publish(&mut tx, now).await?;
        }
        tx.commit().await?;
        Ok(counts)
    }

    pub async fn upsert_contacts(
        &self,
        rows: &[NewContact],
        now: DateTime<Utc>,
    ) -> Result<ContactImport> {
        let now = to_ms(now);
        let mut result = ContactImport::default();
        let mut address_ids: HashMap<&str, Option<i64>> = HashMap::new();
        let mut tx = self.begin_write().await?;
        let max_id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM contacts")
            .fetch_one(&mut *tx)
            .await?;
        for (i, c) in rows.iter().enumerate() {
            let address_id = match address_ids.get(c.address_external_id.as_str()) {
                Some(id) => *id,
                None => {
                    let id: Option<i64> =
                        sqlx::query_scalar("SELECT id FROM addresses WHERE external_id = $1")
                            .bind(&c.address_external_id)
                            .fetch_optional(&mut *tx)
                            .await?;
                    address_ids.insert(&c.address_external_id, id);
                    id
                }
            };
            let Some(address_id) = address_id else {
                result.unknown_address.push(i);
                continue;
            };
            // Consent is never touched here: an opted-out contact stays opted out.
            let id: Option<i64> = sqlx::query_scalar(
                "INSERT INTO contacts (address_id, channel, destination, language, \
                 unsubscribe_token, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
                 ON CONFLICT (address_id, channel, destination) DO UPDATE \
                 SET language = excluded.language, updated_at = excluded.updated_at \
                 WHERE language <> excluded.language RETURNING id",
            )
            .bind(address_id)
            .bind(c.channel.as_str())
            .bind(&c.destination)
            .bind(c.language.as_str())
            .bind(crate::auth::random_token(16))
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            result.counts.count(id, max_id);
        }
        if result.counts.inserted + result.counts.updated > 0 {
            // IVR answers by caller number read the contacts.
            publish(&mut tx, now).await?;
        }
        tx.commit().await?;
        Ok(result)
    }

    pub async fn unknown_addresses(&self, rows: &[NewContact]) -> Result<Vec<usize>> {
        let ids: Vec<&str> = rows
            .iter()
            .map(|c| c.address_external_id.as_str())
            .collect();
        let known: std::collections::HashSet<String> = sqlx::query_scalar(
            "SELECT external_id FROM addresses WHERE external_id IN (SELECT value FROM json_each($1))",
        )
        .bind(serde_json::to_string(&ids).expect("ids serialize"))
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
             AND address_id IN (SELECT value FROM json_each($1)) GROUP BY channel",
        )
        .bind(ids_json(address_ids))
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
                let outage = fetch_outage(&mut tx, outage_id).await?;
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
        let addresses = ids_json(&new.address_ids);
        enqueue_news(&mut tx, &fanout, &addresses, DeliveryKind::Declared).await?;
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
        let outage = fetch_outage(&mut tx, id).await?.expect("just inserted");
        tx.commit().await?;
        Ok(Declared::Created(outage))
    }

    pub async fn change(&self, id: i64, change: &OutageChange) -> Result<Outage> {
        let now = to_ms(change.now);
        let mut tx = self.begin_write().await?;
        let current = fetch_outage(&mut tx, id)
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

        let urgent = current.urgency == Urgency::Urgent;
        let fanout = Fanout {
            outage_id: id,
            revision,
            urgent,
            now,
            expires_at: to_ms(change.expires_at),
            addresses: None,
        };
        if let Some(new_ids) = &change.new_address_ids {
            let old_ids = area_ids(&mut tx, id).await?;
            let (added, removed) = sorted_diff(&old_ids, new_ids);
            write_area(&mut tx, id, new_ids).await?;
            let (added, removed) = (ids_json(&added), ids_json(&removed));
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
        let outage = fetch_outage(&mut tx, id).await?.expect("exists");
        tx.commit().await?;
        Ok(outage)
    }

    pub async fn outage(&self, id: i64) -> Result<Option<Outage>> {
        let mut conn = self.pool.acquire().await?;
        fetch_outage(&mut conn, id).await
    }

    pub async fn outages(&self, filter: &OutageFilter) -> Result<Vec<Outage>> {
        sqlx::query_as::<_, OutageRow>(&format!(
            "SELECT {OUTAGE_COLUMNS} FROM outages WHERE ($1 IS NULL OR status = $1) \
             AND ($2 IS NULL OR utility = $2) AND ($3 IS NULL OR reference = $3) \
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
                 WHERE d.outage_id = $1 AND ($2 IS NULL OR d.state = $2) ORDER BY d.id LIMIT $3",
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
        let confirmations = sqlx::query(
            "UPDATE subscriptions SET state = 'pending', lease_until = NULL, next_attempt_at = $1, \
             last_error = 'lease expired: the worker stopped before finishing' \
             WHERE state = 'sending' AND lease_until < $1",
        )
        .bind(to_ms(now))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(confirmations + sqlx::query(
            "UPDATE deliveries SET state = 'pending', lease_until = NULL, next_attempt_at = $1, \
             last_error = 'lease expired: the worker stopped before finishing', updated_at = $1 \
             WHERE state = 'sending' AND lease_until < $1",
        )
        .bind(to_ms(now))
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    pub async fn claim(
        &self,
        channel: Channel,
        limit: u32,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ClaimedDelivery>> {
        // The claim commits on its own before anything is sent: a crash after this
        // point leaves a lease that expires, never a lost message.
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE deliveries SET state = 'sending', attempts = attempts + 1, lease_until = $3, \
             updated_at = $2 WHERE id IN (SELECT id FROM deliveries WHERE channel = $1 \
             AND state = 'pending' AND next_attempt_at <= $2 ORDER BY next_attempt_at LIMIT $4) \
             RETURNING id",
        )
        .bind(channel.as_str())
        .bind(to_ms(now))
        .bind(to_ms(lease_until))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(&format!(
            "SELECT {} FROM deliveries d JOIN contacts c ON c.id = d.contact_id \
             JOIN addresses a ON a.id = c.address_id \
             WHERE d.id IN (SELECT value FROM json_each($1)) ORDER BY d.id",
            rows::CLAIMED_COLUMNS
        ))
        .bind(ids_json(&ids))
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
        let now = to_ms(now);
        let mut tx = self.begin_write().await?;
        for result in results {
            // The claim's lease is its fencing token: a worker whose lease ran out
            // and was taken over by another changes nothing.
            let q = match result {
                Completion::Sent {
                    id,
                    sent_revision,
                    provider_message_id,
                    segments,
                } => sqlx::query(
                    "UPDATE deliveries SET state = 'sent', lease_until = NULL, sent_revision = $2, \
                     provider_message_id = $3, segments = $4, last_error = NULL, updated_at = $5 \
                     WHERE id = $1 AND state = 'sending' AND lease_until = $6",
                )
                .bind(id)
                .bind(sent_revision)
                .bind(provider_message_id)
                .bind(segments)
                .bind(now)
                .bind(lease),
                Completion::Retry { id, at, error } => sqlx::query(
                    "UPDATE deliveries SET state = 'pending', lease_until = NULL, \
                     next_attempt_at = $2, last_error = $3, updated_at = $4 \
                     WHERE id = $1 AND state = 'sending' AND lease_until = $5",
                )
                .bind(id)
                .bind(to_ms(*at))
                .bind(error)
                .bind(now)
                .bind(lease),
                Completion::Failed {
                    id,
                    failure,
                    reason,
                } => sqlx::query(
                    "UPDATE deliveries SET state = $2, lease_until = NULL, last_error = $3, \
                     updated_at = $4 WHERE id = $1 AND state = 'sending' AND lease_until = $5",
                )
                .bind(id)
                .bind(failure.state().as_str())
                .bind(reason)
                .bind(now)
                .bind(lease),
                Completion::Release { id, reason } => sqlx::query(
                    "UPDATE deliveries SET state = 'pending', lease_until = NULL, \
                     attempts = attempts - 1, next_attempt_at = $3, last_error = $2, \
                     updated_at = $3 WHERE id = $1 AND state = 'sending' AND lease_until = $4",
                )
                .bind(id)
                .bind(reason)
                .bind(now)
                .bind(lease),
            };
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn news_sent(&self, pairs: &[(i64, i64)]) -> Result<HashMap<(i64, i64), NewsSent>> {
        if pairs.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = sqlx::query(&format!(
            "SELECT outage_id, contact_id, MAX(CASE WHEN state = 'sent' THEN sent_revision END), \
             MAX(state = 'sending') FROM deliveries \
             WHERE state IN ('sent', 'sending') AND kind IN {NEWS_KINDS} AND (outage_id, contact_id) IN \
             (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each($1)) \
             GROUP BY outage_id, contact_id"
        ))
        .bind(serde_json::to_string(pairs).expect("pairs serialize"))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows::news_sent(&rows))
    }

    pub async fn start_due_outages(&self, now: DateTime<Utc>) -> Result<Vec<i64>> {
        let now = to_ms(now);
        let mut tx = self.begin_write().await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE outages SET status = 'active', revision = revision + 1, updated_at = $1 \
             WHERE status = 'scheduled' AND starts_at <= $1 RETURNING id",
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
            AddressQuery::Id(id) => ("a.id = CAST($1 AS INTEGER)", id.to_string()),
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
        // Unique per (outage, revision, kind, contact): pressing 2 twice for the
        // same state sends one message.
        Ok(sqlx::query(&format!(
            "INSERT INTO deliveries (outage_id, revision, kind, contact_id, channel, state, \
             urgent, attempts, next_attempt_at, expires_at, created_at, updated_at) \
             SELECT o.id, o.revision, 'requested', c.id, 'sms', 'pending', 1, 0, $2, $3, $2, $2 \
             FROM contacts c JOIN outages o ON {} \
             WHERE c.destination = $1 AND c.channel = 'sms' \
             AND o.status IN ('scheduled', 'active') \
             ON CONFLICT DO NOTHING",
            rows::covers("o.id", "c.address_id")
        ))
        .bind(phone)
        .bind(to_ms(now))
        .bind(to_ms(expires_at))
        .execute(&self.pool)
        .await?
        .rows_affected())
    }
}

super::common::common_queries!(SqliteStore);
super::common::common_statements!(SqliteConnection);

impl SqliteStore {
    /// A transaction that writes: `BEGIN IMMEDIATE` takes SQLite's write lock at
    /// once, so writers queue on it instead of failing to upgrade a read lock.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// Rows read in a write transaction need no lock of their own: it holds the
/// whole database's.
const ROW_LOCK: &str = "";

/// Other processes find queued work by polling; nothing to announce.
async fn queued_work(_conn: &mut SqliteConnection) -> Result<()> {
    Ok(())
}

/// Subscriptions from the status page (double opt-in).
impl SqliteStore {
    pub async fn subscribe(
        &self,
        s: &NewSubscription,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        per_day: i64,
    ) -> Result<Subscribed> {
        let now = to_ms(now);
        let mut tx = self.begin_write().await?;
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
             AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $3) \
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
        let mut tx = self.begin_write().await?;
        for result in results {
            let q = match result {
                Completion::Sent { id, .. } => sqlx::query(
                    "UPDATE subscriptions SET state = 'sent', lease_until = NULL, last_error = NULL \
                     WHERE id = $1 AND state = 'sending' AND lease_until = $2",
                )
                .bind(id)
                .bind(lease),
                Completion::Retry { id, at, error } => sqlx::query(
                    "UPDATE subscriptions SET state = 'pending', lease_until = NULL, \
                     next_attempt_at = $2, last_error = $3 \
                     WHERE id = $1 AND state = 'sending' AND lease_until = $4",
                )
                .bind(id)
                .bind(to_ms(*at))
                .bind(error)
                .bind(lease),
                Completion::Failed {
                    id,
                    failure,
                    reason,
                } => sqlx::query(
                    "UPDATE subscriptions SET state = $2, lease_until = NULL, last_error = $3 \
                     WHERE id = $1 AND state = 'sending' AND lease_until = $4",
                )
                .bind(id)
                .bind(match failure {
                    Failure::Expired => "expired",
                    _ => "dead",
                })
                .bind(reason)
                .bind(lease),
                Completion::Release { id, reason } => sqlx::query(
                    "UPDATE subscriptions SET state = 'pending', lease_until = NULL, \
                     attempts = attempts - 1, last_error = $2 \
                     WHERE id = $1 AND state = 'sending' AND lease_until = $3",
                )
                .bind(id)
                .bind(reason)
                .bind(lease),
            };
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Shared rate limits.
impl SqliteStore {
    pub async fn take_tokens(&self, r: &TokenRequest<'_>) -> Result<Grant> {
        // BEGIN IMMEDIATE holds the write lock: processes sharing the file take
        // from the bucket one at a time.
        let mut tx = self.begin_write().await?;
        let row: Option<(f64, i64)> =
            sqlx::query_as("SELECT tokens, refilled_at FROM rate_limits WHERE bucket = $1")
                .bind(r.bucket)
                .fetch_optional(&mut *tx)
                .await?;
        let (tokens, refilled_at) = row.unwrap_or((r.burst as f64, r.now_ms));
        let grant = r.apply(tokens, refilled_at);
        sqlx::query(
            "INSERT INTO rate_limits (bucket, tokens, refilled_at) VALUES ($1, $2, $3) \
             ON CONFLICT (bucket) DO UPDATE SET tokens = excluded.tokens, \
             refilled_at = excluded.refilled_at",
        )
        .bind(r.bucket)
        .bind(grant.tokens)
        .bind(grant.refilled_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(grant)
    }
}

async fn fetch_outage(conn: &mut SqliteConnection, id: i64) -> Result<Option<Outage>> {
    sqlx::query_as::<_, OutageRow>(&format!(
        "SELECT {OUTAGE_COLUMNS} FROM outages WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .map(OutageRow::into_outage)
    .transpose()
}

/// Marks the published state as changed (in the same transaction as the change).
async fn publish(conn: &mut SqliteConnection, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE meta SET value = CASE key WHEN 'outages_version' THEN value + 1 ELSE $1 END \
         WHERE key IN ('outages_version', 'outages_changed_at')",
    )
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes the outage's area (ascending address ids) as runs, replacing any before.
async fn write_area(conn: &mut SqliteConnection, outage_id: i64, ids: &[i64]) -> Result<()> {
    let runs: Vec<[i64; 2]> = rows::id_runs(ids)
        .into_iter()
        .map(|(f, l)| [f, l])
        .collect();
    clear_area(&mut *conn, outage_id).await?;
    sqlx::query(
        "INSERT INTO outage_ranges (outage_id, first_id, last_id) \
         SELECT $1, value ->> 0, value ->> 1 FROM json_each($2)",
    )
    .bind(outage_id)
    .bind(serde_json::to_string(&runs).expect("runs serialize"))
    .execute(conn)
    .await?;
    Ok(())
}

/// Queues `kind` for every contact at the given addresses (all of a new area, or
/// the part a change added). No `ON CONFLICT`: the revision is new in this
/// transaction, which holds the write lock, so no row with this key can exist.
async fn enqueue_news(
    conn: &mut SqliteConnection,
    f: &Fanout<'_>,
    addresses: &str,
    kind: DeliveryKind,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO deliveries (outage_id, revision, kind, contact_id, channel, state, urgent, \
         attempts, next_attempt_at, expires_at, created_at, updated_at) \
         SELECT $1, $2, $3, c.id, c.channel, 'pending', $4, 0, $5, $6, $5, $5 \
         FROM contacts c WHERE c.address_id IN (SELECT value FROM json_each($7)) \
         AND c.opted_out_at IS NULL",
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
    conn: &mut SqliteConnection,
    f: &Fanout<'_>,
    kind: DeliveryKind,
) -> Result<()> {
    let scope = if f.addresses.is_some() {
        "contacts c WHERE c.address_id IN (SELECT value FROM json_each($7))".to_string()
    } else {
        format!(
            "{} WHERE $7 IS NULL",
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
    conn: &mut SqliteConnection,
    f: &Fanout<'_>,
    kinds: &str,
    reason: &str,
) -> Result<()> {
    sqlx::query(&format!(
        "UPDATE deliveries SET state = 'superseded', last_error = $2, updated_at = $3 \
         WHERE outage_id = $1 AND state = 'pending' AND kind IN {kinds} \
         AND ($4 IS NULL OR contact_id IN (SELECT id FROM contacts \
              WHERE address_id IN (SELECT value FROM json_each($4))))"
    ))
    .bind(f.outage_id)
    .bind(reason)
    .bind(f.now)
    .bind(f.addresses)
    .execute(conn)
    .await?;
    Ok(())
}
