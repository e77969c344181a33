//! The [`Database`] contract, carried out once for both databases: every
//! statement here reads the same on SQLite and PostgreSQL, and what differs is
//! asked of the [`Backend`] (its hooks and its own statements; see `sql.rs`).
//!
//! The delivery guarantees live in these transactions: an outage change and its
//! fan-out commit together; deliveries are unique per (outage, revision, kind,
//! contact); claims are committed before any provider call (the backends'
//! `claim`).

use async_trait::async_trait;

use super::accounts::insert_audit;
use super::residents::record_consent;
use super::rows::{self, ADDRESS_COLUMNS, OUTAGE_COLUMNS};
use super::sql::{kinds_sql, Announce, Backend, Batch, ClaimBatch, Exec, Sql, Tx};
use super::*;
use crate::clock::{from_ms, to_ms};
use crate::domain::audit::{self, Action};
use crate::domain::runs;
use crate::domain::token::random_token;
use crate::domain::OutageField;
use crate::error::Error;

/// A [`Database`] on one backend.
pub(super) struct SqlStore<B>(pub B);

/// Parameters shared by every fan-out statement of one change.
#[derive(Clone, Copy)]
struct Fanout<'a> {
    outage_id: i64,
    revision: i64,
    urgent: bool,
    now: i64,
    /// When its messages may first be tried: `now`, or later for a
    /// declaration held for the console's undo window.
    due: i64,
    expires_at: i64,
    /// Restricts the statement to contacts at these addresses, or none: all
    /// contacts in the outage's area.
    addresses: Option<&'a [i64]>,
}

/// The columns of a new delivery, in the order every fan-out statement selects them.
const NEW_DELIVERY: &str = "INSERT INTO deliveries (outage_id, revision, kind, contact_id, \
                            channel, state, urgent, attempts, next_attempt_at, expires_at, \
                            created_at, updated_at)";

impl Fanout<'_> {
    /// A statement that queues `kind` for the contacts its `from` selects as `c`,
    /// with this change's parameters bound: $1 outage, $2 revision, $3 kind,
    /// $4 urgent, $5 now, $6 expiry, $7 first attempt; the statement's own
    /// start at $8.
    fn queue(&self, kind: DeliveryKind, from: &str) -> Sql<'_> {
        Sql::new(format!(
            "{NEW_DELIVERY} SELECT $1, $2, $3, c.id, c.channel, 'pending', $4, 0, $7, $6, $5, \
             $5 FROM {from}"
        ))
        .bind(self.outage_id)
        .bind(self.revision)
        .bind(kind.as_str())
        .bind(self.urgent)
        .bind(self.now)
        .bind(self.expires_at)
        .bind(self.due)
    }
}

impl<B: Backend> SqlStore<B> {
    /// Runs one statement in a write transaction of its own, announcing `then`
    /// when it commits if the statement changed a row; how many it changed.
    pub(super) async fn write(&self, sql: Sql<'_>, then: Option<Announce>) -> Result<u64> {
        let mut tx = self.0.begin_write().await?;
        let changed = sql.execute(&mut tx).await?;
        if let (Some(what), true) = (then, changed > 0) {
            B::announce(&mut tx, what).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }
}

#[async_trait]
impl<B: Backend> Database for SqlStore<B> {
    fn backend_name(&self) -> &'static str {
        B::NAME
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        self.0.migrate().await
    }

    async fn ping(&self) -> Result<()> {
        Sql::new("SELECT 1")
            .execute(&mut self.0.read().await?)
            .await?;
        Ok(())
    }

    async fn listen(&self, on: OnChange) -> Result<bool> {
        self.0.listen(on).await
    }

    async fn upsert_addresses(
        &self,
        rows: &[NewAddress],
        now: DateTime<Utc>,
    ) -> Result<ImportCounts> {
        let now = to_ms(now);
        let rows = last_of_each(rows, |a| a.external_id.as_str());
        let columns: Vec<[&str; 4]> = rows.iter().map(|a| a.address.columns()).collect();
        let text = |i: usize| columns.iter().map(move |c| Some(c[i]));
        let batch = Batch::default()
            .text(
                "external_id",
                rows.iter().map(|a| Some(a.external_id.as_str())),
            )
            .text("street", text(0))
            .text("house_number", text(1))
            .text("postcode", text(2))
            .text("settlement", text(3))
            .float("lon", rows.iter().map(|a| a.lon))
            .float("lat", rows.iter().map(|a| a.lat))
            .int(
                "utilities",
                rows.iter().map(|a| Some(i64::from(a.utilities))),
            );
        let mut tx = self.0.begin_write().await?;
        let max_id = max_id(&mut tx, BulkTable::Addresses).await?;
        let changed = Sql::new(format!(
            "INSERT INTO addresses (external_id, street, house_number, postcode, settlement, \
             lon, lat, utilities, created_at, updated_at) SELECT u.*, $1, $1 FROM ({}) AS u WHERE TRUE \
             ON CONFLICT (external_id) DO UPDATE SET street = excluded.street, \
             house_number = excluded.house_number, postcode = excluded.postcode, \
             settlement = excluded.settlement, lon = excluded.lon, lat = excluded.lat, \
             utilities = excluded.utilities, updated_at = excluded.updated_at \
             WHERE (addresses.street, addresses.house_number, addresses.postcode, \
             addresses.settlement, addresses.lon, addresses.lat, addresses.utilities) \
             IS DISTINCT FROM (excluded.street, excluded.house_number, excluded.postcode, \
             excluded.settlement, excluded.lon, excluded.lat, excluded.utilities) \
             RETURNING id, {}",
            B::rows(&batch, 2),
            B::INSERTED
        ))
        .bind(now)
        .bind(&batch)
        .fetch_all(&mut tx)
        .await?;
        let counts = import_counts(&changed, max_id);
        finish_import::<B>(tx, BulkTable::Addresses, counts, now).await?;
        Ok(counts)
    }

    async fn upsert_contacts(
        &self,
        rows: &[NewContact],
        via: &Via,
        now: DateTime<Utc>,
    ) -> Result<ContactImport> {
        let now = to_ms(now);
        let external: Vec<&str> = rows
            .iter()
            .map(|c| c.address_external_id.as_str())
            .collect();
        let mut tx = self.0.begin_write().await?;
        let ids: HashMap<String, i64> = Sql::new(format!(
            "SELECT external_id, id FROM addresses WHERE {}",
            B::any("external_id", 1)
        ))
        .bind(&external[..])
        .fetch_all::<(String, i64)>(&mut tx)
        .await?
        .into_iter()
        .collect();
        // Numbers that texted STOP and people who deleted their data: a
        // customer list must not add them back.
        let hashes: Vec<&str> = rows.iter().map(|c| c.suppression.as_str()).collect();
        // (The hash covers the channel, so it names one destination alone.)
        let suppressed: std::collections::HashSet<String> = Sql::new(format!(
            "SELECT destination_hash FROM suppressions WHERE {}",
            B::any("destination_hash", 1)
        ))
        .bind(&hashes[..])
        .fetch_all::<(String,)>(&mut tx)
        .await?
        .into_iter()
        .map(|r| r.0)
        .collect();
        let mut result = ContactImport::default();
        let mut known = Vec::with_capacity(rows.len());
        for (i, c) in rows.iter().enumerate() {
            match ids.get(&c.address_external_id) {
                None => result.unknown_address.push(i),
                Some(_) if suppressed.contains(&c.suppression) => result.suppressed.push(i),
                Some(&id) => known.push((id, c)),
            }
        }
        let known = last_of_each(&known, |(id, c)| (*id, c.channel, &c.destination));
        let tokens: Vec<String> = known.iter().map(|_| random_token(16)).collect();
        let batch = Batch::default()
            .int("address_id", known.iter().map(|(id, _)| Some(*id)))
            .text(
                "channel",
                known.iter().map(|(_, c)| Some(c.channel.as_str())),
            )
            .text(
                "destination",
                known.iter().map(|(_, c)| Some(c.destination.as_str())),
            )
            .text(
                "language",
                known.iter().map(|(_, c)| Some(c.language.as_str())),
            )
            .text("token", tokens.iter().map(|t| Some(t.as_str())))
            .int(
                "window_start",
                known
                    .iter()
                    .map(|(_, c)| c.window.map(|w| i64::from(w.start_minute()))),
            )
            .int(
                "window_end",
                known
                    .iter()
                    .map(|(_, c)| c.window.map(|w| i64::from(w.end_minute()))),
            )
            .text(
                "time_zone",
                known.iter().map(|(_, c)| c.time_zone.map(|z| z.name())),
            );
        let max_id = max_id(&mut tx, BulkTable::Contacts).await?;
        // Consent is never touched here: an opted-out contact stays opted out.
        // A list that names no window (or zone) for a contact leaves the one
        // the contact chose.
        let changed = Sql::new(format!(
            "INSERT INTO contacts (address_id, channel, destination, language, \
             unsubscribe_token, window_start, window_end, time_zone, created_at, updated_at) \
             SELECT u.*, $1, $1 FROM ({}) AS u WHERE TRUE \
             ON CONFLICT (address_id, channel, destination) DO UPDATE \
             SET language = excluded.language, updated_at = excluded.updated_at, \
             window_start = COALESCE(excluded.window_start, contacts.window_start), \
             window_end = COALESCE(excluded.window_end, contacts.window_end), \
             time_zone = COALESCE(excluded.time_zone, contacts.time_zone) \
             WHERE contacts.language <> excluded.language \
             OR (excluded.window_start IS NOT NULL \
             AND (contacts.window_start IS DISTINCT FROM excluded.window_start \
             OR contacts.window_end IS DISTINCT FROM excluded.window_end)) \
             OR (excluded.time_zone IS NOT NULL \
             AND contacts.time_zone IS DISTINCT FROM excluded.time_zone) RETURNING id, {}",
            B::rows(&batch, 2),
            B::INSERTED
        ))
        .bind(now)
        .bind(&batch)
        .fetch_all(&mut tx)
        .await?;
        result.counts = import_counts(&changed, max_id);
        let inserted: Vec<i64> = changed
            .iter()
            .filter(|&&c| is_new(c, max_id))
            .map(|&(id, _)| id)
            .collect();
        record_consent::<B>(&mut tx, &inserted, consent::Action::Given, via, now).await?;
        finish_import::<B>(tx, BulkTable::Contacts, result.counts, now).await?;
        Ok(result)
    }

    async fn unknown_addresses(&self, rows: &[NewContact]) -> Result<Vec<usize>> {
        let ids: Vec<&str> = rows
            .iter()
            .map(|c| c.address_external_id.as_str())
            .collect();
        let known: Vec<(String,)> = Sql::new(format!(
            "SELECT external_id FROM addresses WHERE {}",
            B::any("external_id", 1)
        ))
        .bind(&ids[..])
        .fetch_all(&mut self.0.read().await?)
        .await?;
        let known: std::collections::HashSet<String> = known.into_iter().map(|k| k.0).collect();
        Ok(rows
            .iter()
            .enumerate()
            .filter(|(_, c)| !known.contains(&c.address_external_id))
            .map(|(i, _)| i)
            .collect())
    }

    async fn after_bulk_load(&self, table: BulkTable) -> Result<()> {
        self.0.after_bulk_load(table).await
    }

    async fn addresses_version(&self) -> Result<i64> {
        let (v,): (i64,) = Sql::new("SELECT value FROM meta WHERE key = 'addresses_version'")
            .fetch_one(&mut self.0.read().await?)
            .await?;
        Ok(v)
    }

    fn each_address(&self, visit: &mut dyn FnMut(&RegisterEntry<'_>)) -> Result<()> {
        self.0.scan(
            "SELECT id, external_id, street, house_number, postcode, settlement, lon, lat, \
             utilities FROM addresses",
            &mut |r| {
                visit(&RegisterEntry {
                    id: r.int(0),
                    external_id: r.text(1),
                    street: r.text(2),
                    house_number: r.text(3),
                    postcode: r.text(4),
                    settlement: r.text(5),
                    lon: r.float(6),
                    lat: r.float(7),
                    utilities: r.int(8) as u8,
                })
            },
        )
    }

    fn each_contact(&self, visit: &mut dyn FnMut(&ContactEntry<'_>)) -> Result<()> {
        let mut bad = None;
        self.0.scan(
            "SELECT destination, address_id, language, opted_out_at IS NOT NULL, channel \
             FROM contacts",
            &mut |r| match (
                rows::parse(r.text(2), "language"),
                rows::parse(r.text(4), "channel"),
            ) {
                (Ok(language), Ok(channel)) => visit(&ContactEntry {
                    channel,
                    destination: r.text(0),
                    address_id: r.int(1),
                    language,
                    opted_out: r.flag(3),
                }),
                (Err(e), _) | (_, Err(e)) => bad = Some(e),
            },
        )?;
        bad.map_or(Ok(()), Err)
    }

    async fn create_token(&self, token: &NewToken<'_>) -> Result<i64> {
        let now = to_ms(token.now);
        let mut tx = self.0.begin_write().await?;
        let in_use: Option<(i64,)> = Sql::new(
            "SELECT id FROM api_tokens WHERE name = $1 AND revoked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(token.name)
        .bind(now)
        .fetch_optional(&mut tx)
        .await?;
        if in_use.is_some() {
            return Err(Error::Conflict(format!(
                "a token named '{}' is in use; revoke it first or choose another name",
                token.name
            )));
        }
        let (id,): (i64,) = Sql::new(
            "INSERT INTO api_tokens (name, token_hash, role, expires_at, created_at, operator_id) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(token.name)
        .bind(token.token_hash)
        .bind(token.role.as_str())
        .bind(token.expires_at.map(to_ms))
        .bind(now)
        .bind(token.operator_id)
        .fetch_one(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn token_grant(&self, token_hash: &str) -> Result<Option<TokenGrant>> {
        // A token of an operator acts with the operator's role, and not at all
        // once the operator is disabled.
        Sql::new(
            "SELECT t.id, COALESCE(o.role, t.role), t.expires_at, t.name, o.id, o.username \
             FROM api_tokens t LEFT JOIN operators o ON o.id = t.operator_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND o.disabled_at IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(&mut self.0.read().await?)
        .await
    }

    async fn tokens(&self) -> Result<Vec<TokenInfo>> {
        Sql::new(
            "SELECT t.name, COALESCE(o.role, t.role), t.created_at, t.last_used_at, \
             t.expires_at, t.revoked_at, o.username \
             FROM api_tokens t LEFT JOIN operators o ON o.id = t.operator_id \
             ORDER BY t.created_at DESC, t.id DESC",
        )
        .fetch_all(&mut self.0.read().await?)
        .await
    }

    async fn revoke_token(&self, name: &str, now: DateTime<Utc>) -> Result<u64> {
        let sql = "UPDATE api_tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL";
        self.write(Sql::new(sql).bind(name).bind(to_ms(now)), None)
            .await
    }

    async fn token_used(&self, id: i64, now: DateTime<Utc>) -> Result<()> {
        let sql = "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1";
        self.write(Sql::new(sql).bind(id).bind(to_ms(now)), None)
            .await?;
        Ok(())
    }

    async fn server_key(&self, name: &str, candidate: &str) -> Result<String> {
        let mut tx = self.0.begin_write().await?;
        Sql::new("INSERT INTO server_keys (name, secret) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(name)
            .bind(candidate)
            .execute(&mut tx)
            .await?;
        let (secret,): (String,) = Sql::new("SELECT secret FROM server_keys WHERE name = $1")
            .bind(name)
            .fetch_one(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(secret)
    }

    async fn declare(
        &self,
        new: &NewOutage,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<Declared> {
        let now = to_ms(new.now);
        let mut tx = self.0.begin_write().await?;
        if let Some(key) = idempotency {
            // Two retries of one request arriving at two nodes at once: the second
            // waits here for the first to commit, then replays its result.
            B::lock_key(&mut tx, &key.key, key.token_id).await?;
            let seen: Option<(String, i64)> = Sql::new(
                "SELECT request_hash, outage_id FROM idempotency_keys \
                 WHERE token_id = $1 AND key = $2",
            )
            .bind(key.token_id)
            .bind(&key.key)
            .fetch_optional(&mut tx)
            .await?;
            if let Some((hash, outage_id)) = seen {
                if hash != key.request_hash {
                    return Ok(Declared::KeyReused);
                }
                let outage = fetch_outage(&mut tx, outage_id, "").await?;
                return Ok(Declared::Replayed(outage.ok_or_else(|| {
                    Error::Internal(anyhow::anyhow!("idempotency key names missing outage"))
                })?));
            }
        }

        // References are random; on the rare collision, draw again.
        let mut id = None;
        for _ in 0..32 {
            let reference = Reference::generate(new.utility.reference_prefix(), &mut rand::rng());
            let inserted: Option<(i64,)> = Sql::new(
                "INSERT INTO outages (reference, utility, kind, status, urgency, revision, \
                 cause, etr, starts_at, area, messages, affected_addresses, created_at, \
                 updated_at, held_until) VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9, $10, \
                 $11, $12, $12, $13) ON CONFLICT (reference) DO NOTHING RETURNING id",
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
            .bind((new.first_attempt_at > new.now).then(|| to_ms(new.first_attempt_at)))
            .fetch_optional(&mut tx)
            .await?;
            if let Some((new_id,)) = inserted {
                id = Some(new_id);
                break;
            }
        }
        let id: i64 = id.ok_or_else(|| {
            Error::Internal(anyhow::anyhow!("could not draw a free outage reference"))
        })?;
        insert_revision(&mut tx, id, ChangeKind::Declared, &[], now).await?;
        write_area::<B>(&mut tx, id, &new.address_ids).await?;
        let fanout = Fanout {
            outage_id: id,
            revision: 1,
            urgent: new.urgency == Urgency::Urgent,
            now,
            due: to_ms(new.first_attempt_at.max(new.now)),
            expires_at: to_ms(new.expires_at),
            addresses: None,
        };
        enqueue_news::<B>(&mut tx, &fanout, &new.address_ids, DeliveryKind::Declared).await?;
        if let Some(key) = idempotency {
            Sql::new(
                "INSERT INTO idempotency_keys (token_id, key, request_hash, outage_id, \
                 created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(key.token_id)
            .bind(&key.key)
            .bind(&key.request_hash)
            .bind(id)
            .bind(now)
            .execute(&mut tx)
            .await?;
        }
        publish::<B>(&mut tx, now).await?;
        B::announce(&mut tx, Announce::Work).await?;
        let outage = fetch_outage(&mut tx, id, "").await?.expect("just inserted");
        audit_outage(
            &mut tx,
            &new.by,
            new.now,
            Action::OutageDeclared,
            None,
            &outage,
        )
        .await?;
        tx.commit().await?;
        Ok(Declared::Created(outage))
    }

    async fn change(&self, id: i64, change: &OutageChange) -> Result<Outage> {
        let now = to_ms(change.now);
        let mut tx = self.0.begin_write().await?;
        // Locked (the row, or all of SQLite): a concurrent change on another node
        // waits, then fails the revision check below instead of overwriting this one.
        let current = fetch_outage(&mut tx, id, B::ROW_LOCK)
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
        Sql::new(
            "UPDATE outages SET status = $2, revision = $3, cause = $4, etr = $5, \
             starts_at = $6, area = $7, messages = $8, affected_addresses = $9, \
             updated_at = $10, ended_at = CASE WHEN $11 THEN $10 ELSE ended_at END \
             WHERE id = $1",
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
        .execute(&mut tx)
        .await?;
        insert_revision(&mut tx, id, change.change, &change.changed_fields, now).await?;

        let fanout = Fanout {
            outage_id: id,
            revision,
            urgent: current.urgency == Urgency::Urgent,
            now,
            due: now,
            expires_at: to_ms(change.expires_at),
            addresses: None,
        };
        if let Some(new_ids) = &change.new_address_ids {
            let old_ids = area_ids(&mut tx, id).await?;
            let (added, removed) = runs::sorted_diff(&old_ids, new_ids);
            write_area::<B>(&mut tx, id, new_ids).await?;
            // Left the area: pending news is dropped, those already told hear it is over for them.
            let left = Fanout {
                addresses: Some(&removed),
                ..fanout
            };
            supersede_pending::<B>(
                &mut tx,
                &left,
                DeliveryKind::NEWS,
                "address left the outage area",
                false,
            )
            .await?;
            enqueue_to_told::<B>(&mut tx, &left, DeliveryKind::Withdrawn).await?;
            // Entered the area: a pending "no longer affected" is dropped, then the declaration.
            let entered = Fanout {
                addresses: Some(&added),
                ..fanout
            };
            supersede_pending::<B>(
                &mut tx,
                &entered,
                &[DeliveryKind::Withdrawn],
                "address re-entered the area",
                false,
            )
            .await?;
            enqueue_news::<B>(&mut tx, &fanout, &added, DeliveryKind::Declared).await?;
        }
        if ended {
            let kind = if change.status == OutageStatus::Restored {
                DeliveryKind::Restored
            } else {
                DeliveryKind::Cancelled
            };
            supersede_pending::<B>(
                &mut tx,
                &fanout,
                DeliveryKind::NEWS,
                "outage ended before sending",
                change.keep_held,
            )
            .await?;
            enqueue_to_told::<B>(&mut tx, &fanout, kind).await?;
        } else if change.notify_update {
            enqueue_update(&mut tx, &fanout).await?;
        }
        publish::<B>(&mut tx, now).await?;
        B::announce(&mut tx, Announce::Work).await?;
        let outage = fetch_outage(&mut tx, id, "").await?.expect("exists");
        let action = match change.status {
            OutageStatus::Restored => Action::OutageRestored,
            OutageStatus::Cancelled => Action::OutageCancelled,
            _ => Action::OutageUpdated,
        };
        let before = Some(&current);
        audit_outage(&mut tx, &change.by, change.now, action, before, &outage).await?;
        tx.commit().await?;
        Ok(outage)
    }

    async fn outage(&self, id: i64) -> Result<Option<Outage>> {
        fetch_outage(&mut self.0.read().await?, id, "").await
    }

    async fn outage_by_reference(&self, reference: &Reference) -> Result<Option<Outage>> {
        Sql::new(format!(
            "SELECT {OUTAGE_COLUMNS} FROM outages WHERE reference = $1"
        ))
        .bind(reference.as_str())
        .fetch_optional(&mut self.0.read().await?)
        .await
    }

    async fn outages(&self, filter: &OutageFilter) -> Result<Vec<Outage>> {
        Sql::new(format!(
            "SELECT {OUTAGE_COLUMNS} FROM outages \
             WHERE (CAST($1 AS TEXT) IS NULL OR status = $1) \
             AND (CAST($2 AS TEXT) IS NULL OR utility = $2) \
             AND (CAST($3 AS TEXT) IS NULL OR reference = $3) \
             ORDER BY id DESC LIMIT $4"
        ))
        .bind(filter.status.map(|s| s.as_str()))
        .bind(filter.utility.map(|u| u.as_str()))
        .bind(filter.reference.as_ref().map(|r| r.as_str()))
        .bind(if filter.limit > 0 { filter.limit } else { 100 })
        .fetch_all(&mut self.0.read().await?)
        .await
    }

    async fn open_outages(&self) -> Result<Vec<Outage>> {
        Sql::new(format!(
            "SELECT {OUTAGE_COLUMNS} FROM outages WHERE status IN ('scheduled', 'active') \
             ORDER BY id"
        ))
        .fetch_all(&mut self.0.read().await?)
        .await
    }

    async fn revisions(&self, outage_id: i64) -> Result<Vec<RevisionRow>> {
        Sql::new(
            "SELECT revision, change, changed_fields, status, cause, etr, starts_at, \
             affected_addresses, created_at FROM outage_revisions WHERE outage_id = $1 \
             ORDER BY revision",
        )
        .bind(outage_id)
        .fetch_all(&mut self.0.read().await?)
        .await
    }

    async fn delivery_counts(&self, outage_id: i64) -> Result<Vec<DeliveryCount>> {
        Sql::new(format!(
            "SELECT channel, kind, {} AS shown, COUNT(*) FROM deliveries WHERE outage_id = $1 \
             GROUP BY channel, kind, shown ORDER BY channel, kind, shown",
            rows::shown_state("deliveries")
        ))
        .bind(outage_id)
        .fetch_all(&mut self.0.read().await?)
        .await
    }

    async fn revision_fanout(&self, outage_id: i64, revision: i64) -> Result<ChannelCounts> {
        let rows: Vec<(String, i64)> = Sql::new(
            "SELECT channel, COUNT(*) FROM deliveries WHERE outage_id = $1 \
             AND revision = $2 GROUP BY channel",
        )
        .bind(outage_id)
        .bind(revision)
        .fetch_all(&mut self.0.read().await?)
        .await?;
        rows::channel_counts(&rows)
    }

    async fn told(&self, outage_id: i64) -> Result<ChannelCounts> {
        // The same contacts `enqueue_to_told` queues for.
        let rows: Vec<(String, i64)> = Sql::new(format!(
            "SELECT c.channel, COUNT(*) FROM {} WHERE c.opted_out_at IS NULL \
             AND EXISTS (SELECT 1 FROM deliveries d WHERE d.outage_id = $1 \
             AND d.contact_id = c.id AND d.kind IN {} AND d.state IN ('sending', 'sent')) \
             GROUP BY c.channel",
            rows::in_area("contacts", "c", "address_id"),
            kinds_sql(DeliveryKind::NEWS),
        ))
        .bind(outage_id)
        .fetch_all(&mut self.0.read().await?)
        .await?;
        rows::channel_counts(&rows)
    }

    async fn retry_dead(&self, outage: &Outage, by: &Actor, now: DateTime<Utc>) -> Result<u64> {
        let mut tx = self.0.begin_write().await?;
        let retried = Sql::new(
            "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = $2, \
             updated_at = $2 WHERE outage_id = $1 AND state = 'dead'",
        )
        .bind(outage.id)
        .bind(to_ms(now))
        .execute(&mut tx)
        .await?;
        let entry = Entry {
            at: now,
            actor: by,
            action: Action::DeadRetried,
            subject: Some(outage.reference.to_string()),
            details: serde_json::json!({ "retried": retried }),
        };
        insert_audit(&mut tx, &entry).await?;
        if retried > 0 {
            B::announce(&mut tx, Announce::Work).await?;
        }
        tx.commit().await?;
        Ok(retried)
    }

    async fn sample_address(&self, outage_id: i64) -> Result<Option<AddressRow>> {
        Sql::new(format!(
            "SELECT a.id, a.external_id, {ADDRESS_COLUMNS}, a.lon, a.lat FROM addresses a \
             WHERE a.id = (SELECT MIN(first_id) FROM outage_ranges WHERE outage_id = $1)"
        ))
        .bind(outage_id)
        .fetch_optional(&mut self.0.read().await?)
        .await
    }

    async fn deliveries(
        &self,
        outage_id: i64,
        state: Option<DeliveryState>,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>> {
        Sql::new(format!(
            "SELECT {} FROM deliveries d JOIN contacts c ON c.id = d.contact_id \
             WHERE d.outage_id = $1 AND (CAST($2 AS TEXT) IS NULL OR {} = $2) \
             ORDER BY d.id LIMIT $3",
            rows::delivery_columns(),
            rows::shown_state("d")
        ))
        .bind(outage_id)
        .bind(state.map(|s| s.as_str()))
        .bind(limit)
        .fetch_all(&mut self.0.read().await?)
        .await
    }

    async fn release_expired_leases(&self, now: DateTime<Utc>) -> Result<u64> {
        let now = to_ms(now);
        let mut tx = self.0.begin_write().await?;
        let mut released = 0;
        for table in ["subscriptions", "deliveries"] {
            let touched = if table == "deliveries" {
                ", updated_at = $1"
            } else {
                ""
            };
            released += Sql::new(format!(
                "UPDATE {table} SET state = 'pending', lease_until = NULL, \
                 next_attempt_at = $1, \
                 last_error = 'lease expired: the worker stopped before \
                 finishing'{touched} WHERE state = 'sending' AND lease_until < $1"
            ))
            .bind(now)
            .execute(&mut tx)
            .await?;
        }
        if released > 0 {
            B::announce(&mut tx, Announce::Work).await?;
        }
        tx.commit().await?;
        Ok(released)
    }

    async fn claim(
        &self,
        channel: Channel,
        limit: u32,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ClaimedDelivery>> {
        self.0
            .claim(ClaimBatch {
                channel,
                limit,
                now: to_ms(now),
                lease_until: to_ms(lease_until),
            })
            .await
    }

    async fn complete(
        &self,
        results: &[Completion],
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.0.begin_write().await?;
        let outcomes: Vec<_> = results
            .iter()
            .map(|r| outcome(r, to_ms(now), |f| f.state().as_str()))
            .collect();
        let batch = outcome_batch(&outcomes);
        Sql::new(format!(
            "WITH u AS MATERIALIZED ({}) UPDATE deliveries SET {OUTCOME}, \
             sent_revision = COALESCE(u.rev, sent_revision), provider_message_id = \
             CASE u.state WHEN 'sent' THEN u.pid ELSE provider_message_id END, segments = \
             CASE u.state WHEN 'sent' THEN u.seg ELSE segments END, updated_at = $2, \
             sent_at = CASE u.state WHEN 'sent' THEN $2 ELSE sent_at END, held_until = u.held, \
             expires_at = COALESCE(u.expires, expires_at) FROM u \
             WHERE deliveries.id = u.id AND deliveries.state = 'sending' \
             AND deliveries.lease_until = $1",
            B::rows(&batch, 3)
        ))
        .bind(to_ms(lease_until))
        .bind(to_ms(now))
        .bind(&batch)
        .execute(&mut tx)
        .await?;
        if results
            .iter()
            .any(|r| !matches!(r, Completion::Sent { .. } | Completion::Failed { .. }))
        {
            B::announce(&mut tx, Announce::Work).await?;
        }
        Ok(tx.commit().await?)
    }

    async fn news_sent(
        &self,
        pairs: &[(i64, i64)],
        now: DateTime<Utc>,
    ) -> Result<HashMap<(i64, i64), NewsSent>> {
        if pairs.is_empty() {
            return Ok(HashMap::new());
        }
        let batch = Batch::default()
            .int("outage_id", pairs.iter().map(|p| Some(p.0)))
            .int("contact_id", pairs.iter().map(|p| Some(p.1)));
        // Updates in the last day count towards the daily cap; the revision
        // told says which ETR the contact knows, and whether anything but the
        // ETR changed since.
        let update_today = format!(
            "state = 'sent' AND kind = '{}' AND sent_at > $1",
            DeliveryKind::Updated.as_str()
        );
        let rows: Vec<rows::NewsRow> = Sql::new(format!(
            "SELECT n.outage_id, n.contact_id, n.told, n.in_flight, r.etr, \
             (SELECT CAST(COUNT(*) AS BIGINT) FROM outage_revisions x \
             WHERE x.outage_id = n.outage_id AND x.revision > n.told \
             AND x.changed_fields <> '{etr}'), n.updates, n.first_update \
             FROM (SELECT outage_id, contact_id, \
             MAX(CASE WHEN state = 'sent' THEN sent_revision END) AS told, \
             CAST(MAX(CASE WHEN state = 'sending' THEN 1 ELSE 0 END) AS BIGINT) AS in_flight, \
             CAST(SUM(CASE WHEN {update_today} THEN 1 ELSE 0 END) AS BIGINT) AS updates, \
             MIN(CASE WHEN {update_today} THEN sent_at END) AS first_update \
             FROM deliveries WHERE state IN ('sent', 'sending') AND kind IN {} \
             AND (outage_id, contact_id) IN ({}) \
             GROUP BY outage_id, contact_id) n \
             LEFT JOIN outage_revisions r ON r.outage_id = n.outage_id AND r.revision = n.told",
            kinds_sql(DeliveryKind::NEWS),
            B::rows(&batch, 2),
            // A revision's changed fields are stored joined by commas: this is
            // one that changed the ETR alone.
            etr = OutageField::Etr.as_str(),
        ))
        .bind(to_ms(now - chrono::Duration::days(1)))
        .bind(&batch)
        .fetch_all(&mut self.0.read().await?)
        .await?;
        Ok(rows::news_sent(rows))
    }

    async fn start_due_outages(&self, now: DateTime<Utc>) -> Result<Vec<i64>> {
        let now = to_ms(now);
        let mut tx = self.0.begin_write().await?;
        // With several workers (PostgreSQL), each due outage is started by one.
        let ids: Vec<(i64,)> = Sql::new(format!(
            "UPDATE outages SET status = 'active', revision = revision + 1, updated_at = $1 \
             WHERE id IN (SELECT id FROM outages WHERE status = 'scheduled' \
             AND starts_at <= $1{}) RETURNING id",
            B::SKIP_LOCKED
        ))
        .bind(now)
        .fetch_all(&mut tx)
        .await?;
        let ids: Vec<i64> = ids.into_iter().map(|r| r.0).collect();
        for id in &ids {
            insert_revision(
                &mut tx,
                *id,
                ChangeKind::Started,
                &[OutageField::Status],
                now,
            )
            .await?;
        }
        if !ids.is_empty() {
            publish::<B>(&mut tx, now).await?;
        }
        tx.commit().await?;
        Ok(ids)
    }

    async fn published(&self) -> Result<Published> {
        let rows: Vec<(String, i64)> = Sql::new(
            "SELECT key, value FROM meta WHERE key IN \
             ('outages_version', 'outages_changed_at', 'addresses_version', 'contacts_version')",
        )
        .fetch_all(&mut self.0.read().await?)
        .await?;
        let get = |k: &str| rows.iter().find(|r| r.0 == k).map_or(0, |r| r.1);
        Ok(Published {
            version: get("outages_version"),
            changed_at: from_ms(get("outages_changed_at")),
            addresses_version: get("addresses_version"),
            contacts_version: get("contacts_version"),
        })
    }

    async fn open_outage_runs(&self) -> Result<Vec<(i64, i64, i64)>> {
        Sql::new(
            "SELECT r.outage_id, r.first_id, r.last_id FROM outage_ranges r \
             JOIN outages o ON o.id = r.outage_id \
             WHERE o.status IN ('scheduled', 'active') ORDER BY r.outage_id, r.first_id",
        )
        .fetch_all(&mut self.0.read().await?)
        .await
    }

    async fn address(&self, id: i64) -> Result<Option<AddressRow>> {
        Sql::new(format!(
            "SELECT a.id, a.external_id, {ADDRESS_COLUMNS}, a.lon, a.lat \
             FROM addresses a WHERE a.id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut self.0.read().await?)
        .await
    }

    async fn outage_points(&self, outage_id: i64, limit: i64) -> Result<Vec<(f64, f64)>> {
        Sql::new(format!(
            "SELECT a.lon, a.lat FROM {} LIMIT $2",
            rows::in_area("addresses", "a", "id")
        ))
        .bind(outage_id)
        .bind(limit)
        .fetch_all(&mut self.0.read().await?)
        .await
    }

    async fn outage_places(&self, outage_id: i64) -> Result<Vec<(String, String, String)>> {
        Sql::new(format!(
            "SELECT DISTINCT a.settlement, a.postcode, a.street FROM {} \
             ORDER BY a.settlement, a.postcode, a.street",
            rows::in_area("addresses", "a", "id")
        ))
        .bind(outage_id)
        .fetch_all(&mut self.0.read().await?)
        .await
    }

    async fn request_status_sms(
        &self,
        phone: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<u64> {
        // Once per outage and number, whatever the revision and however many
        // addresses the number is registered at (the lowest contact id stands
        // for the number); never to a contact who opted out.
        let queue = Sql::new(format!(
            "{NEW_DELIVERY} SELECT o.id, o.revision, 'requested', MIN(c.id), 'sms', 'pending', \
             TRUE, 0, $2, $3, $2, $2 FROM contacts c JOIN outages o ON {} \
             WHERE c.destination = $1 AND c.channel = 'sms' AND c.opted_out_at IS NULL \
             AND o.status IN ('scheduled', 'active') \
             AND NOT EXISTS (SELECT 1 FROM deliveries d JOIN contacts asked \
             ON asked.id = d.contact_id WHERE d.outage_id = o.id AND d.kind = 'requested' \
             AND asked.destination = $1 AND asked.channel = 'sms') \
             GROUP BY o.id, o.revision ON CONFLICT DO NOTHING",
            rows::covers("o.id", "c.address_id")
        ))
        .bind(phone)
        .bind(to_ms(now))
        .bind(to_ms(expires_at));
        self.write(queue, Some(Announce::Work)).await
    }

    async fn delivery_totals(&self) -> Result<Vec<(Channel, DeliveryState, i64)>> {
        let sql = format!(
            "SELECT channel, {} AS shown, COUNT(*) FROM deliveries GROUP BY channel, shown",
            rows::shown_state("deliveries")
        );
        let rows: Vec<(String, String, i64)> =
            Sql::new(sql).fetch_all(&mut self.0.read().await?).await?;
        rows.into_iter()
            .map(|(c, s, n)| Ok((rows::parse(&c, "channel")?, rows::parse(&s, "state")?, n)))
            .collect()
    }

    async fn contact_by_token(&self, token: &str) -> Result<Option<ContactSummary>> {
        Sql::new(format!(
            "SELECT c.id, c.channel, c.destination, c.language, \
             c.opted_out_at IS NOT NULL, {ADDRESS_COLUMNS} \
             FROM contacts c JOIN addresses a ON a.id = c.address_id \
             WHERE c.unsubscribe_token = $1",
        ))
        .bind(token)
        .fetch_optional(&mut self.0.read().await?)
        .await
    }

    async fn contacts_of(
        &self,
        channel: Channel,
        destination: &str,
    ) -> Result<Vec<ContactSummary>> {
        Sql::new(format!(
            "SELECT c.id, c.channel, c.destination, c.language, \
             c.opted_out_at IS NOT NULL, {ADDRESS_COLUMNS} \
             FROM contacts c JOIN addresses a ON a.id = c.address_id \
             WHERE c.channel = $1 AND c.destination = $2 ORDER BY c.id",
        ))
        .bind(channel.as_str())
        .bind(destination)
        .fetch_all(&mut self.0.read().await?)
        .await
    }

    async fn opt_out(&self, token: &str, via: &Via, now: DateTime<Utc>) -> Result<bool> {
        let now = to_ms(now);
        let mut tx = self.0.begin_write().await?;
        // Only the first opt-out is an event: a second click changes nothing.
        let fresh: Option<(i64,)> = Sql::new(
            "UPDATE contacts SET opted_out_at = $2, updated_at = $2 \
             WHERE unsubscribe_token = $1 AND opted_out_at IS NULL RETURNING id",
        )
        .bind(token)
        .bind(now)
        .fetch_optional(&mut tx)
        .await?;
        let id = match fresh {
            Some((id,)) => {
                record_consent::<B>(&mut tx, &[id], consent::Action::Withdrawn, via, now).await?;
                id
            }
            None => {
                let known: Option<(i64,)> =
                    Sql::new("SELECT id FROM contacts WHERE unsubscribe_token = $1")
                        .bind(token)
                        .fetch_optional(&mut tx)
                        .await?;
                match known {
                    Some((id,)) => id,
                    None => return Ok(false),
                }
            }
        };
        Sql::new(
            "UPDATE deliveries SET state = 'suppressed', last_error = 'contact opted out', \
             updated_at = $2 WHERE contact_id = $1 AND state = 'pending'",
        )
        .bind(id)
        .bind(now)
        .execute(&mut tx)
        .await?;
        // Callers' "press 2" offer follows consent.
        contacts_changed::<B>(&mut tx).await?;
        B::announce(&mut tx, Announce::Published).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn consents(&self, contact_ids: &[i64]) -> Result<Vec<bool>> {
        let consenting: Vec<(i64,)> = Sql::new(format!(
            "SELECT id FROM contacts WHERE {} AND opted_out_at IS NULL",
            B::any("id", 1)
        ))
        .bind(contact_ids)
        .fetch_all(&mut self.0.read().await?)
        .await?;
        let consenting: HashSet<i64> = consenting.into_iter().map(|(id,)| id).collect();
        Ok(contact_ids
            .iter()
            .map(|id| consenting.contains(id))
            .collect())
    }

    async fn subscribe(
        &self,
        s: &NewSubscription,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        limits: &SignUpLimits,
    ) -> Result<Subscribed> {
        const HOUR: i64 = 3_600_000;
        const DAY: i64 = 24 * HOUR;
        let now = to_ms(now);
        let mut tx = self.0.begin_write().await?;
        // Sign-ups queue here, one at a time across every node, so no limit
        // can be overrun by requests arriving together. They are rare enough
        // (a person filling in a form) for that to cost nothing.
        B::lock_key(&mut tx, "subscribe", 0).await?;
        // A form anyone can post must not become a way to flood somebody's
        // phone, nor to run up the utility's SMS bill.
        let sms = s.channel == Channel::Sms;
        let (client, destination) = (s.client_key.as_str(), s.destination_key.as_str());
        let checks = [
            (
                SignUpLimit::Client,
                "client_key",
                client,
                HOUR,
                limits.per_client_per_hour,
            ),
            (
                SignUpLimit::Client,
                "client_key",
                client,
                DAY,
                limits.per_client_per_day,
            ),
            (
                SignUpLimit::SmsBudget,
                "channel",
                "sms",
                HOUR,
                limits.sms_per_hour,
            ),
            (
                SignUpLimit::Destination,
                "destination_key",
                destination,
                DAY,
                limits.per_destination_per_day,
            ),
        ];
        for (limit, column, key, window, max) in checks {
            if max == u32::MAX || (limit == SignUpLimit::SmsBudget && !sms) {
                continue;
            }
            let (n, oldest): (i64, Option<i64>) = Sql::new(format!(
                "SELECT COUNT(*), MIN(created_at) FROM subscriptions \
                 WHERE {column} = $1 AND created_at > $2"
            ))
            .bind(key)
            .bind(now - window)
            .fetch_one(&mut tx)
            .await?;
            if n >= i64::from(max) {
                return Ok(Subscribed::Limited {
                    limit,
                    retry_at: from_ms(oldest.unwrap_or(now) + window),
                });
            }
        }
        let (id,): (i64,) = Sql::new(
            "INSERT INTO subscriptions (token, address_id, channel, destination, language, \
             state, next_attempt_at, expires_at, created_at, destination_key, client_key, \
             purpose, contact_id) \
             VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $6, $8, $9, $10, $11) RETURNING id",
        )
        .bind(&s.token)
        .bind(s.address_id)
        .bind(s.channel.as_str())
        .bind(&s.destination)
        .bind(s.language.as_str())
        .bind(now)
        .bind(to_ms(expires_at))
        .bind(&s.destination_key)
        .bind(&s.client_key)
        .bind(if s.manage_link_for.is_some() {
            "manage_link"
        } else {
            "sign_up"
        })
        .bind(s.manage_link_for)
        .fetch_one(&mut tx)
        .await?;
        B::announce(&mut tx, Announce::Work).await?;
        tx.commit().await?;
        Ok(Subscribed::Created(id))
    }

    async fn claim_confirmations(
        &self,
        limit: u32,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<PendingConfirmation>> {
        let now = to_ms(now);
        let mut tx = self.0.begin_write().await?;
        // A link that has run out is not worth sending.
        Sql::new(
            "UPDATE subscriptions SET state = 'expired', \
             last_error = 'expired before it could be sent' \
             WHERE state = 'pending' AND expires_at < $1",
        )
        .bind(now)
        .execute(&mut tx)
        .await?;
        let claimed = Sql::new(format!(
            "UPDATE subscriptions SET state = 'sending', attempts = attempts + 1, \
             lease_until = $2 WHERE id IN (SELECT id FROM subscriptions \
             WHERE state = 'pending' AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at LIMIT $3{}) \
             RETURNING id, token, channel, destination, language, attempts, expires_at, \
             CASE WHEN purpose = 'manage_link' THEN contact_id END, {}",
            B::SKIP_LOCKED,
            rows::address_columns_of("subscriptions.address_id")
        ))
        .bind(now)
        .bind(to_ms(lease_until))
        .bind(limit as i64)
        .fetch_all(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(claimed)
    }

    async fn complete_confirmations(
        &self,
        results: &[Completion],
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        // A confirmation that cannot be sent is either expired or dead (its
        // table has no other final states).
        let outcomes = results.iter().map(|r| {
            outcome(r, to_ms(now), |f| match f {
                Failure::Expired => "expired",
                _ => "dead",
            })
        });
        let outcomes: Vec<_> = outcomes.collect();
        let batch = outcome_batch(&outcomes);
        let record = Sql::new(format!(
            "WITH u AS MATERIALIZED ({}) UPDATE subscriptions SET {OUTCOME} FROM u \
             WHERE subscriptions.id = u.id AND subscriptions.state = 'sending' \
             AND subscriptions.lease_until = $1",
            B::rows(&batch, 2)
        ));
        let record = record.bind(to_ms(lease_until)).bind(&batch);
        self.write(record, None).await?;
        Ok(())
    }

    async fn subscription(&self, token: &str) -> Result<Option<SubscriptionView>> {
        Sql::new(format!(
            "SELECT s.channel, s.destination, s.language, s.confirmed_at IS NOT NULL, \
             s.expires_at, {ADDRESS_COLUMNS} \
             FROM subscriptions s JOIN addresses a ON a.id = s.address_id \
             WHERE s.token = $1 AND s.purpose = 'sign_up'",
        ))
        .bind(token)
        .fetch_optional(&mut self.0.read().await?)
        .await
    }

    async fn confirm_subscription(
        &self,
        token: &str,
        confirmed: &ConfirmedBy<'_>,
        now: DateTime<Utc>,
        delivery_expires_at: DateTime<Utc>,
    ) -> Result<Confirmation> {
        let now = to_ms(now);
        let mut tx = self.0.begin_write().await?;
        // Locked (the row, or all of SQLite): a double click confirms once.
        type Pending = (i64, i64, String, String, String, i64, Option<i64>);
        let row: Option<Pending> = Sql::new(format!(
            "SELECT id, address_id, channel, destination, language, expires_at, contact_id \
             FROM subscriptions WHERE token = $1 AND purpose = 'sign_up'{}",
            B::ROW_LOCK
        ))
        .bind(token)
        .fetch_optional(&mut tx)
        .await?;
        let Some((id, address_id, channel, destination, language, expires_at, contact)) = row
        else {
            return Ok(Confirmation::Unknown);
        };
        if contact.is_some() {
            return Ok(Confirmation::AlreadyConfirmed);
        }
        if expires_at < now {
            return Ok(Confirmation::Expired);
        }
        // The resident's own request: it subscribes them again even after an opt-out.
        let unsubscribe_token = random_token(16);
        let (contact_id,): (i64,) = Sql::new(
            "INSERT INTO contacts (address_id, channel, destination, language, \
             unsubscribe_token, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (address_id, channel, \
             destination) DO UPDATE SET language = excluded.language, opted_out_at = NULL, \
             updated_at = excluded.updated_at RETURNING id",
        )
        .bind(address_id)
        .bind(&channel)
        .bind(&destination)
        .bind(&language)
        .bind(&unsubscribe_token)
        .bind(now)
        .fetch_one(&mut tx)
        .await?;
        Sql::new("UPDATE subscriptions SET confirmed_at = $2, contact_id = $3 WHERE id = $1")
            .bind(id)
            .bind(now)
            .bind(contact_id)
            .execute(&mut tx)
            .await?;
        // Following the link proved the address receives: a bounce before no
        // longer holds its messages back, at any of its addresses.
        Sql::new(
            "UPDATE contacts SET undeliverable_at = NULL, undeliverable_reason = NULL \
             WHERE channel = $1 AND destination = $2 AND undeliverable_at IS NOT NULL",
        )
        .bind(&channel)
        .bind(&destination)
        .execute(&mut tx)
        .await?;
        record_consent::<B>(
            &mut tx,
            &[contact_id],
            consent::Action::Given,
            confirmed.via,
            now,
        )
        .await?;
        // Their own request outweighs an earlier STOP or deletion.
        Sql::new("DELETE FROM suppressions WHERE destination_hash = $1")
            .bind(confirmed.suppression)
            .execute(&mut tx)
            .await?;
        // Outages already under way at the address are news to the new subscriber.
        let queued =
            queue_open_outages(&mut tx, contact_id, now, to_ms(delivery_expires_at)).await?;
        contacts_changed::<B>(&mut tx).await?;
        publish::<B>(&mut tx, now).await?;
        if queued > 0 {
            B::announce(&mut tx, Announce::Work).await?;
        }
        tx.commit().await?;
        Ok(Confirmation::Confirmed { contact_id, queued })
    }

    async fn take_tokens(&self, r: &TokenRequest<'_>) -> Result<Grant> {
        let mut tx = self.0.begin_write().await?;
        // The first take creates the bucket; the lock (the row on PostgreSQL, the
        // write transaction on SQLite) then makes concurrent takers, on every
        // node, take from it one after another.
        Sql::new(
            "INSERT INTO rate_limits (bucket, tokens, refilled_at) VALUES ($1, $2, $3) \
             ON CONFLICT (bucket) DO NOTHING",
        )
        .bind(r.bucket)
        .bind(r.burst as f64)
        .bind(r.now_ms)
        .execute(&mut tx)
        .await?;
        let (tokens, refilled_at): (f64, i64) = Sql::new(format!(
            "SELECT tokens, refilled_at FROM rate_limits WHERE bucket = $1{}",
            B::ROW_LOCK
        ))
        .bind(r.bucket)
        .fetch_one(&mut tx)
        .await?;
        let grant = r.apply(tokens, refilled_at);
        Sql::new("UPDATE rate_limits SET tokens = $1, refilled_at = $2 WHERE bucket = $3")
            .bind(grant.tokens)
            .bind(grant.refilled_at)
            .bind(r.bucket)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(grant)
    }
}

async fn fetch_outage(conn: &mut impl Exec, id: i64, lock: &str) -> Result<Option<Outage>> {
    Sql::new(format!(
        "SELECT {OUTAGE_COLUMNS} FROM outages WHERE id = $1{lock}"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Ends an import's transaction. A batch that changed the register changes
/// what residents and the IVR see: status by address and postcode reads the
/// addresses (whose version also tells every node to rebuild its indexes),
/// status by caller number the contacts.
async fn finish_import<B: Backend>(
    mut tx: Tx<B>,
    table: BulkTable,
    counts: ImportCounts,
    now: i64,
) -> Result<()> {
    if counts.inserted + counts.updated > 0 {
        match table {
            BulkTable::Addresses => {
                Sql::new("UPDATE meta SET value = value + 1 WHERE key = 'addresses_version'")
                    .execute(&mut tx)
                    .await?;
            }
            BulkTable::Contacts => contacts_changed::<B>(&mut tx).await?,
        }
        publish::<B>(&mut tx, now).await?;
    }
    Ok(tx.commit().await?)
}

/// Tells every node to rebuild its caller map (see `meta.contacts_version`).
pub(super) async fn contacts_changed<B: Backend>(tx: &mut Tx<B>) -> Result<()> {
    Sql::new("UPDATE meta SET value = value + 1 WHERE key = 'contacts_version'")
        .execute(tx)
        .await?;
    Ok(())
}

/// Marks the published state as changed (in the same transaction as the
/// change), and tells the other nodes when it commits.
async fn publish<B: Backend>(tx: &mut Tx<B>, now: i64) -> Result<()> {
    Sql::new(
        "UPDATE meta SET value = CASE key WHEN 'outages_version' THEN value + 1 ELSE $1 END \
         WHERE key IN ('outages_version', 'outages_changed_at')",
    )
    .bind(now)
    .execute(tx)
    .await?;
    B::announce(tx, Announce::Published).await
}

/// Copies the outage's current row into its revision history.
async fn insert_revision(
    tx: &mut impl Exec,
    id: i64,
    change: ChangeKind,
    fields: &[OutageField],
    now: i64,
) -> Result<()> {
    let fields: Vec<&str> = fields.iter().map(|f| f.as_str()).collect();
    Sql::new(
        "INSERT INTO outage_revisions (outage_id, revision, change, changed_fields, status, \
         cause, etr, starts_at, area, messages, affected_addresses, created_at) \
         SELECT id, revision, $2, $3, status, cause, etr, starts_at, area, messages, \
         affected_addresses, $4 FROM outages WHERE id = $1",
    )
    .bind(id)
    .bind(change.as_str())
    .bind(fields.join(",").as_str())
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

/// Writes the outage's area (ascending address ids) as runs, replacing any before.
async fn write_area<B: Backend>(tx: &mut Tx<B>, outage_id: i64, ids: &[i64]) -> Result<()> {
    let runs = runs::id_runs(ids);
    let batch = Batch::default()
        .int("first_id", runs.iter().map(|r| Some(r.0)))
        .int("last_id", runs.iter().map(|r| Some(r.1)));
    Sql::new("DELETE FROM outage_ranges WHERE outage_id = $1")
        .bind(outage_id)
        .execute(tx)
        .await?;
    Sql::new(format!(
        "INSERT INTO outage_ranges (outage_id, first_id, last_id) \
         SELECT $1, u.first_id, u.last_id FROM ({}) AS u",
        B::rows(&batch, 2)
    ))
    .bind(outage_id)
    .bind(&batch)
    .execute(tx)
    .await?;
    Ok(())
}

/// The audit entry of an outage's change, in its transaction.
async fn audit_outage(
    tx: &mut impl Exec,
    by: &Actor,
    at: DateTime<Utc>,
    action: Action,
    before: Option<&Outage>,
    after: &Outage,
) -> Result<()> {
    let entry = Entry {
        at,
        actor: by,
        action,
        subject: Some(after.reference.to_string()),
        details: audit::outage_details(before, after),
    };
    insert_audit(tx, &entry).await
}

/// The highest id in `table` (0 if empty).
async fn max_id(tx: &mut impl Exec, table: BulkTable) -> Result<i64> {
    let sql = format!("SELECT COALESCE(MAX(id), 0) FROM {}", table.as_str());
    let (max,): (i64,) = Sql::new(sql).fetch_one(tx).await?;
    Ok(max)
}

/// Counts an upsert's `RETURNING id, {INSERTED}` rows (see [`Backend::INSERTED`];
/// an unchanged row returns none): where the database cannot tell, rows with
/// ids above `max_before` are new (SQLite's write transaction holds the table).
fn import_counts(changed: &[(i64, Option<bool>)], max_before: i64) -> ImportCounts {
    let inserted = changed.iter().filter(|&&c| is_new(c, max_before)).count() as u64;
    ImportCounts {
        inserted,
        updated: changed.len() as u64 - inserted,
    }
}

/// Whether an import's returned row was inserted rather than updated: told by
/// PostgreSQL, and on SQLite by an id above every id before the import.
fn is_new((id, inserted): (i64, Option<bool>), max_before: i64) -> bool {
    inserted.unwrap_or(id > max_before)
}

/// How a claimed row's outcome is recorded, in both queues (deliveries and
/// sign-up confirmations), one statement per batch: the rows travel as
/// an [`outcome_batch`] in a `MATERIALIZED` CTE `u`, which SQLite then scans
/// once, looking each row up by id (given the rows as a subquery, it looks up
/// the batch's rows by lease and scans the whole array for each). Each
/// statement also requires the claim's lease, its fencing token: a worker whose
/// lease ran out and was taken over by another changes nothing.
const OUTCOME: &str = "state = u.state, lease_until = NULL, attempts = attempts - u.unsent, \
                       next_attempt_at = COALESCE(u.at, next_attempt_at), last_error = u.error";

/// An outcome as the batch [`OUTCOME`] reads it: id, new state, when due again
/// (or unchanged), last error, whether the attempt is not counted (put back
/// unsent), what a sent message records (revision, provider id, segments), and
/// for a hold, until when and the expiry it moves to. `failed` names the state
/// a failure ends in.
struct OutcomeRow<'a> {
    id: i64,
    state: &'a str,
    at: Option<i64>,
    error: Option<&'a str>,
    unsent: i64,
    rev: Option<i64>,
    pid: Option<&'a str>,
    seg: Option<i64>,
    held: Option<i64>,
    expires: Option<i64>,
}

fn outcome<'a>(r: &'a Completion, now: i64, failed: fn(Failure) -> &'static str) -> OutcomeRow<'a> {
    let (id, state, at, error, unsent) = match r {
        Completion::Sent { id, .. } => (*id, "sent", None, None, 0),
        Completion::Retry { id, at, error } => (*id, "pending", Some(*at), Some(error.as_str()), 0),
        Completion::Failed {
            id,
            failure,
            reason,
        } => (*id, failed(*failure), None, Some(reason.as_str()), 0),
        Completion::Release { .. } | Completion::Defer { .. } => {
            let (id, at, reason) = r.unsent(from_ms(now)).expect("unsent");
            (id, "pending", Some(at), Some(reason), 1)
        }
    };
    let (rev, pid, seg) = match r {
        Completion::Sent {
            sent_revision,
            provider_message_id,
            segments,
            ..
        } => (
            Some(*sent_revision),
            provider_message_id.as_deref(),
            *segments,
        ),
        _ => (None, None, None),
    };
    let (held, expires) = match r {
        Completion::Defer {
            until,
            hold: Some(expires),
            ..
        } => (Some(to_ms(*until)), Some(to_ms(*expires))),
        _ => (None, None),
    };
    OutcomeRow {
        id,
        state,
        at: at.map(to_ms),
        error,
        unsent,
        rev,
        pid,
        seg,
        held,
        expires,
    }
}

/// The outcomes as the batch [`OUTCOME`] reads as `u`.
fn outcome_batch<'a>(rows: &'a [OutcomeRow<'a>]) -> Batch<'a> {
    Batch::default()
        .int("id", rows.iter().map(|r| Some(r.id)))
        .text("state", rows.iter().map(|r| Some(r.state)))
        .int("at", rows.iter().map(|r| r.at))
        .text("error", rows.iter().map(|r| r.error))
        .int("unsent", rows.iter().map(|r| Some(r.unsent)))
        .int("rev", rows.iter().map(|r| r.rev))
        .text("pid", rows.iter().map(|r| r.pid))
        .int("seg", rows.iter().map(|r| r.seg))
        .int("held", rows.iter().map(|r| r.held))
        .int("expires", rows.iter().map(|r| r.expires))
}

/// The address ids in the outage's area, ascending.
async fn area_ids(tx: &mut impl Exec, outage_id: i64) -> Result<Vec<i64>> {
    let runs: Vec<(i64, i64)> = Sql::new(
        "SELECT first_id, last_id FROM outage_ranges WHERE outage_id = $1 ORDER BY first_id",
    )
    .bind(outage_id)
    .fetch_all(tx)
    .await?;
    Ok(runs::expand_runs(&runs))
}

/// Queues the first message of every outage under way at the contact's
/// address, unless it has heard of it (or is about to): what a new sign-up,
/// or a contact moved to another address, has missed. How many.
pub(super) async fn queue_open_outages(
    tx: &mut impl Exec,
    contact_id: i64,
    now: i64,
    expires_at: i64,
) -> Result<u64> {
    Sql::new(format!(
        "{NEW_DELIVERY} SELECT o.id, o.revision, 'declared', c.id, c.channel, \
         'pending', o.urgency = 'urgent', 0, $2, $3, $2, $2 \
         FROM contacts c JOIN outages o ON {covers} \
         WHERE c.id = $1 AND o.status IN ('scheduled', 'active') \
         AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.outage_id = o.id \
         AND d.contact_id = c.id AND d.kind IN {news} \
         AND d.state IN ('pending', 'sending', 'sent')) \
         ON CONFLICT DO NOTHING",
        covers = rows::covers("o.id", "c.address_id"),
        news = kinds_sql(DeliveryKind::NEWS),
    ))
    .bind(contact_id)
    .bind(now)
    .bind(expires_at)
    .execute(tx)
    .await
}

/// Queues `kind` for every contact at the given addresses (all of a new area, or
/// the part a change added). No `ON CONFLICT`: the revision is new in this
/// transaction and the outage row is locked (or just created; on SQLite the
/// transaction holds the write lock), so no other transaction can hold a row
/// with this key, and skipping the speculative insertion saves a quarter of a
/// second per 100,000 rows on PostgreSQL.
async fn enqueue_news<B: Backend>(
    tx: &mut Tx<B>,
    f: &Fanout<'_>,
    addresses: &[i64],
    kind: DeliveryKind,
) -> Result<()> {
    let from = format!(
        "contacts c WHERE {} AND c.opted_out_at IS NULL",
        B::any("c.address_id", 8)
    );
    f.queue(kind, &from).bind(addresses).execute(tx).await?;
    Ok(())
}

/// Queues `kind` (restored, cancelled, withdrawn) for contacts who were told about
/// the outage: nobody hears "it's over" about an outage they never heard of. With
/// `addresses` set, only contacts there (and no longer in the area) are considered;
/// otherwise the contacts in the area.
async fn enqueue_to_told<B: Backend>(
    tx: &mut Tx<B>,
    f: &Fanout<'_>,
    kind: DeliveryKind,
) -> Result<()> {
    let scope = match f.addresses {
        Some(_) => format!("contacts c WHERE {}", B::any("c.address_id", 8)),
        None => format!(
            "{} WHERE TRUE",
            rows::in_area("contacts", "c", "address_id")
        ),
    };
    let from = format!(
        "{scope} AND c.opted_out_at IS NULL \
         AND EXISTS (SELECT 1 FROM deliveries d WHERE d.outage_id = $1 AND d.contact_id = c.id \
         AND d.kind IN {news} AND d.state IN ('sending', 'sent')) \
         ON CONFLICT DO NOTHING",
        news = kinds_sql(DeliveryKind::NEWS),
    );
    let mut q = f.queue(kind, &from);
    if let Some(addresses) = f.addresses {
        q = q.bind(addresses);
    }
    q.execute(tx).await?;
    Ok(())
}

/// Queues an update for contacts still in the area who were already told about the
/// outage. Contacts whose first message is still pending get nothing new: that
/// message renders the newest state when it goes out (one message, not two).
async fn enqueue_update(tx: &mut impl Exec, f: &Fanout<'_>) -> Result<()> {
    let from = format!(
        "{area} WHERE c.opted_out_at IS NULL \
         AND EXISTS (SELECT 1 FROM deliveries d WHERE d.outage_id = $1 AND d.contact_id = c.id \
         AND d.kind IN {news} AND d.state IN ('sending', 'sent')) \
         AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.outage_id = $1 \
         AND d.contact_id = c.id AND d.kind IN {news} AND d.state = 'pending') \
         ON CONFLICT DO NOTHING",
        area = rows::in_area("contacts", "c", "address_id"),
        news = kinds_sql(DeliveryKind::NEWS),
    );
    f.queue(DeliveryKind::Updated, &from).execute(tx).await?;
    Ok(())
}

/// Marks pending deliveries of the given kinds as superseded (for the given
/// addresses, or the whole outage); with `keep_held`, first messages held for
/// the contact's window stay (to go as a summary).
async fn supersede_pending<B: Backend>(
    tx: &mut Tx<B>,
    f: &Fanout<'_>,
    kinds: &[DeliveryKind],
    reason: &str,
    keep_held: bool,
) -> Result<()> {
    let mut scope = match f.addresses {
        Some(_) => format!(
            " AND contact_id IN (SELECT id FROM contacts WHERE {})",
            B::any("address_id", 4)
        ),
        None => String::new(),
    };
    if keep_held {
        scope.push_str(" AND NOT (kind = 'declared' AND held_until IS NOT NULL)");
    }
    let mut q = Sql::new(format!(
        "UPDATE deliveries SET state = 'superseded', last_error = $2, updated_at = $3 \
         WHERE outage_id = $1 AND state = 'pending' AND kind IN {}{scope}",
        kinds_sql(kinds)
    ))
    .bind(f.outage_id)
    .bind(reason)
    .bind(f.now);
    if let Some(addresses) = f.addresses {
        q = q.bind(addresses);
    }
    q.execute(tx).await?;
    Ok(())
}
