//! [`Residents`], carried out once for both databases: SMS consent by
//! keyword, the consent ledger, suppressed destinations and the text messages
//! received.

use async_trait::async_trait;

use super::rows::{self, ADDRESS_COLUMNS};
use super::shared::{contacts_changed, queue_open_outages, SqlStore};
use super::sql::{Announce, Backend, Batch, Sql, Tx};
use super::*;
use crate::clock::{from_ms, to_ms};
use crate::domain::consent::{Action, Event, ALERTS};
use crate::error::Error;

/// Appends one ledger event per contact, in the caller's transaction.
pub(super) async fn record_consent<B: Backend>(
    tx: &mut Tx<B>,
    contact_ids: &[i64],
    action: consent::Action,
    via: &Via,
    at: i64,
) -> Result<()> {
    if contact_ids.is_empty() {
        return Ok(());
    }
    Sql::new(format!(
        "INSERT INTO consent_events (contact_id, channel, purpose, action, method, detail, \
         source, at) SELECT id, channel, $2, $3, $4, $5, $6, $7 FROM contacts WHERE {}",
        B::any("id", 1)
    ))
    .bind(contact_ids)
    .bind(ALERTS)
    .bind(action.as_str())
    .bind(via.method.as_str())
    .bind(via.detail.as_str())
    .bind(via.source.as_deref())
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}

/// A keyword or a complaint changed the consent of the destination's
/// contacts `ids`: their ledger events, and (when there are any) the caller
/// map's version, which every node follows (callers' "press 2" offer follows
/// consent).
async fn destination_consent_changed<B: Backend>(
    tx: &mut Tx<B>,
    ids: &[i64],
    action: Action,
    c: &DestinationConsent<'_>,
) -> Result<()> {
    record_consent::<B>(tx, ids, action, c.via, to_ms(c.at)).await?;
    if !ids.is_empty() {
        contacts_changed::<B>(tx).await?;
        B::announce(tx, Announce::Published).await?;
    }
    Ok(())
}

#[async_trait]
impl<B: Backend> Residents for SqlStore<B> {
    async fn opt_out_destination(&self, c: &DestinationConsent<'_>) -> Result<DestinationOptOut> {
        let at = to_ms(c.at);
        let mut tx = self.0.begin_write().await?;
        let ids: Vec<(i64,)> = Sql::new(
            "UPDATE contacts SET opted_out_at = $3, updated_at = $3 WHERE channel = $1 \
             AND destination = $2 AND opted_out_at IS NULL RETURNING id",
        )
        .bind(c.channel.as_str())
        .bind(c.destination)
        .bind(at)
        .fetch_all(&mut tx)
        .await?;
        let ids: Vec<i64> = ids.into_iter().map(|r| r.0).collect();
        let why = match c.via.method {
            consent::Method::SmsKeyword => "number texted STOP",
            consent::Method::Complaint => "the recipient complained",
            _ => "contact opted out",
        };
        Sql::new(
            "UPDATE deliveries SET state = 'suppressed', last_error = $4, \
             updated_at = $3 WHERE state = 'pending' AND contact_id IN \
             (SELECT id FROM contacts WHERE channel = $1 AND destination = $2)",
        )
        .bind(c.channel.as_str())
        .bind(c.destination)
        .bind(at)
        .bind(why)
        .execute(&mut tx)
        .await?;
        // A deletion's tombstone stays what it is.
        let suppressed = Sql::new(
            "INSERT INTO suppressions (channel, destination_hash, reason, at) \
             VALUES ($1, $2, 'stopped', $3) ON CONFLICT DO NOTHING",
        )
        .bind(c.channel.as_str())
        .bind(c.suppression)
        .bind(at)
        .execute(&mut tx)
        .await?;
        destination_consent_changed::<B>(&mut tx, &ids, Action::Withdrawn, c).await?;
        tx.commit().await?;
        Ok(DestinationOptOut {
            contacts: ids.len() as u64,
            first: !ids.is_empty() || suppressed > 0,
        })
    }

    async fn opt_in_destination(&self, c: &DestinationConsent<'_>) -> Result<u64> {
        let at = to_ms(c.at);
        let mut tx = self.0.begin_write().await?;
        let ids: Vec<(i64,)> = Sql::new(
            "UPDATE contacts SET opted_out_at = NULL, updated_at = $3 WHERE channel = $1 \
             AND destination = $2 AND opted_out_at IS NOT NULL RETURNING id",
        )
        .bind(c.channel.as_str())
        .bind(c.destination)
        .bind(at)
        .fetch_all(&mut tx)
        .await?;
        let ids: Vec<i64> = ids.into_iter().map(|r| r.0).collect();
        Sql::new(
            "DELETE FROM suppressions WHERE channel = $1 AND destination_hash = $2 \
             AND reason = 'stopped'",
        )
        .bind(c.channel.as_str())
        .bind(c.suppression)
        .execute(&mut tx)
        .await?;
        destination_consent_changed::<B>(&mut tx, &ids, Action::Given, c).await?;
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    async fn mark_undeliverable(
        &self,
        channel: Channel,
        destination: &str,
        reason: &str,
        via: &Via,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let at = to_ms(now);
        let mut tx = self.0.begin_write().await?;
        let ids: Vec<(i64,)> = Sql::new(
            "UPDATE contacts SET undeliverable_at = $3, undeliverable_reason = $4, \
             updated_at = $3 WHERE channel = $1 AND destination = $2 \
             AND undeliverable_at IS NULL RETURNING id",
        )
        .bind(channel.as_str())
        .bind(destination)
        .bind(at)
        .bind(reason)
        .fetch_all(&mut tx)
        .await?;
        let ids: Vec<i64> = ids.into_iter().map(|r| r.0).collect();
        record_consent::<B>(&mut tx, &ids, Action::Undeliverable, via, at).await?;
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    async fn record_receipts(&self, receipts: &[Receipt<'_>]) -> Result<Vec<bool>> {
        let mut recorded = vec![false; receipts.len()];
        let mut tx = self.0.begin_write().await?;
        // One statement per run of distinct deliveries: a second report for
        // the same delivery (a gateway's retry) must apply after the first,
        // which one statement's rows would not promise.
        let mut start = 0;
        while start < receipts.len() {
            let mut ids = HashSet::new();
            let end = start
                + receipts[start..]
                    .iter()
                    .take_while(|r| ids.insert(r.delivery_id))
                    .count();
            let run = &receipts[start..end];
            let batch = Batch::default()
                .int("did", run.iter().map(|r| Some(r.delivery_id)))
                .text(
                    "receipt",
                    run.iter()
                        .map(|r| Some(if r.delivered { "delivered" } else { "failed" })),
                )
                .text("reason", run.iter().map(|r| r.reason))
                .int("at", run.iter().map(|r| Some(to_ms(r.at))))
                .text("pid", run.iter().map(|r| r.provider_message_id));
            // 'sending' too: a carrier can report before the worker has
            // recorded the send (a fast SMSC); the worker's completion keeps
            // the receipt.
            let changed: Vec<(i64,)> = Sql::new(format!(
                "WITH u AS MATERIALIZED ({}) UPDATE deliveries SET receipt = u.receipt, \
                 receipt_reason = u.reason, receipt_at = u.at FROM u \
                 WHERE deliveries.id = u.did AND deliveries.state IN ('sending', 'sent') \
                 AND (u.pid IS NULL OR deliveries.provider_message_id = u.pid \
                 OR deliveries.provider_message_id IS NULL) RETURNING deliveries.id",
                B::rows(&batch, 1)
            ))
            .bind(&batch)
            .fetch_all(&mut tx)
            .await?;
            let changed: HashSet<i64> = changed.into_iter().map(|(id,)| id).collect();
            for (i, r) in run.iter().enumerate() {
                recorded[start + i] = changed.contains(&r.delivery_id);
            }
            start = end;
        }
        tx.commit().await?;
        Ok(recorded)
    }

    async fn contact_destination(&self, contact_id: i64) -> Result<Option<(Channel, String)>> {
        let row: Option<(String, String)> =
            Sql::new("SELECT channel, destination FROM contacts WHERE id = $1")
                .bind(contact_id)
                .fetch_optional(&mut self.0.read().await?)
                .await?;
        row.map(|(c, d)| Ok((rows::parse(&c, "channel")?, d)))
            .transpose()
    }

    async fn person(&self, channel: Channel, destination: &str) -> Result<Vec<PersonContact>> {
        Sql::new(format!(
            "SELECT {} FROM contacts c JOIN addresses a ON a.id = c.address_id \
             WHERE c.channel = $1 AND c.destination = $2 ORDER BY c.id",
            rows::PERSON_COLUMNS
        ))
        .bind(channel.as_str())
        .bind(destination)
        .fetch_all(&mut self.0.read().await?)
        .await
    }

    async fn set_person(
        &self,
        channel: Channel,
        destination: &str,
        settings: &PersonSettings,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let window = settings.window;
        let mut tx = self.0.begin_write().await?;
        let changed = Sql::new(
            "UPDATE contacts SET language = $3, window_start = $4, window_end = $5, \
             utilities = $6, updated_at = $7 WHERE channel = $1 AND destination = $2",
        )
        .bind(channel.as_str())
        .bind(destination)
        .bind(settings.language.as_str())
        .bind(window.map(|w| i64::from(w.start_minute())))
        .bind(window.map(|w| i64::from(w.end_minute())))
        .bind((settings.utilities != 0).then_some(i64::from(settings.utilities)))
        .bind(to_ms(now))
        .execute(&mut tx)
        .await?;
        // The caller map holds each number's language.
        if changed > 0 {
            contacts_changed::<B>(&mut tx).await?;
            B::announce(&mut tx, Announce::Published).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    async fn export_person(&self, channel: Channel, destination: &str) -> Result<PersonExport> {
        let contacts = self.person(channel, destination).await?;
        let mut conn = self.0.read().await?;
        let subscriptions = Sql::new(format!(
            "SELECT s.language, s.created_at, s.confirmed_at, {ADDRESS_COLUMNS}, s.purpose \
             FROM subscriptions s JOIN addresses a ON a.id = s.address_id \
             WHERE s.channel = $1 AND s.destination = $2 ORDER BY s.id"
        ))
        .bind(channel.as_str())
        .bind(destination)
        .fetch_all(&mut conn)
        .await?;
        let messages = Sql::new(format!(
            "SELECT d.id, o.reference, d.kind, d.channel, {}, d.created_at, d.sent_at \
             FROM deliveries d JOIN outages o ON o.id = d.outage_id \
             WHERE d.contact_id IN (SELECT id FROM contacts WHERE channel = $1 \
             AND destination = $2) ORDER BY d.id",
            rows::shown_state("d")
        ))
        .bind(channel.as_str())
        .bind(destination)
        .fetch_all(&mut conn)
        .await?;
        drop(conn);
        let mut consent = Vec::new();
        for c in &contacts {
            consent.extend(self.consent_history(c.id).await?.unwrap_or_default());
        }
        consent.sort_by_key(|e| (e.at, e.id));
        Ok(PersonExport {
            contacts,
            subscriptions,
            consent,
            messages,
        })
    }

    async fn move_contact(&self, m: &Move<'_>) -> Result<Option<i64>> {
        let now = to_ms(m.now);
        let mut tx = self.0.begin_write().await?;
        let known: Option<(i64,)> = Sql::new("SELECT id FROM addresses WHERE id = $1")
            .bind(m.address_id)
            .fetch_optional(&mut tx)
            .await?;
        if known.is_none() {
            return Ok(None);
        }
        let token = crate::auth::random_token(16);
        // The new contact keeps the old one's settings; one already there
        // (stopped, say) is taken up again.
        let moved: Option<(i64,)> = Sql::new(
            "INSERT INTO contacts (address_id, channel, destination, language, \
             unsubscribe_token, window_start, window_end, time_zone, utilities, \
             created_at, updated_at) \
             SELECT $2, channel, destination, language, $3, window_start, window_end, \
             time_zone, utilities, $4, $4 FROM contacts WHERE id = $1 \
             ON CONFLICT (address_id, channel, destination) DO UPDATE \
             SET opted_out_at = NULL, updated_at = excluded.updated_at RETURNING id",
        )
        .bind(m.contact_id)
        .bind(m.address_id)
        .bind(token.as_str())
        .bind(now)
        .fetch_optional(&mut tx)
        .await?;
        let Some((new_id,)) = moved else {
            return Ok(None);
        };
        if new_id == m.contact_id {
            // Moved to where it already is: nothing changes.
            return Ok(Some(new_id));
        }
        record_consent::<B>(&mut tx, &[new_id], Action::Given, m.via, now).await?;
        let stopped: Vec<(i64,)> = Sql::new(
            "UPDATE contacts SET opted_out_at = $2, updated_at = $2 \
             WHERE id = $1 AND opted_out_at IS NULL RETURNING id",
        )
        .bind(m.contact_id)
        .bind(now)
        .fetch_all(&mut tx)
        .await?;
        let stopped: Vec<i64> = stopped.into_iter().map(|r| r.0).collect();
        record_consent::<B>(&mut tx, &stopped, Action::Withdrawn, m.via, now).await?;
        Sql::new(
            "UPDATE deliveries SET state = 'suppressed', \
             last_error = 'the contact moved to another address', updated_at = $2 \
             WHERE contact_id = $1 AND state = 'pending'",
        )
        .bind(m.contact_id)
        .bind(now)
        .execute(&mut tx)
        .await?;
        Sql::new("DELETE FROM suppressions WHERE destination_hash = $1 AND reason = 'stopped'")
            .bind(m.suppression)
            .execute(&mut tx)
            .await?;
        let queued = queue_open_outages(&mut tx, new_id, now, to_ms(m.expires_at)).await?;
        contacts_changed::<B>(&mut tx).await?;
        B::announce(&mut tx, Announce::Published).await?;
        if queued > 0 {
            B::announce(&mut tx, Announce::Work).await?;
        }
        tx.commit().await?;
        Ok(Some(new_id))
    }

    async fn forget_texts(&self, before: DateTime<Utc>) -> Result<u64> {
        self.write(
            Sql::new("DELETE FROM sms_inbound WHERE received_at < $1").bind(to_ms(before)),
            None,
        )
        .await
    }

    async fn erase_person(&self, e: &Erasure<'_>, now: DateTime<Utc>) -> Result<u64> {
        let mut tx = self.0.begin_write().await?;
        let ids: Vec<(i64,)> =
            Sql::new("SELECT id FROM contacts WHERE channel = $1 AND destination = $2")
                .bind(e.channel.as_str())
                .bind(e.destination)
                .fetch_all(&mut tx)
                .await?;
        let ids: Vec<i64> = ids.into_iter().map(|r| r.0).collect();
        for table in ["deliveries", "consent_events"] {
            Sql::new(format!(
                "DELETE FROM {table} WHERE {}",
                B::any("contact_id", 1)
            ))
            .bind(&ids[..])
            .execute(&mut tx)
            .await?;
        }
        Sql::new("DELETE FROM subscriptions WHERE channel = $1 AND destination = $2")
            .bind(e.channel.as_str())
            .bind(e.destination)
            .execute(&mut tx)
            .await?;
        Sql::new(format!("DELETE FROM contacts WHERE {}", B::any("id", 1)))
            .bind(&ids[..])
            .execute(&mut tx)
            .await?;
        if let Some(sender) = e.sms_sender {
            Sql::new("DELETE FROM sms_inbound WHERE sender = $1")
                .bind(sender)
                .execute(&mut tx)
                .await?;
        }
        if let Some(caller) = e.caller {
            Sql::new("DELETE FROM ivr_calls WHERE caller = $1")
                .bind(caller)
                .execute(&mut tx)
                .await?;
        }
        // The tombstone: a "stopped" suppression becomes "deleted".
        Sql::new(
            "INSERT INTO suppressions (channel, destination_hash, reason, at) \
             VALUES ($1, $2, 'deleted', $3) ON CONFLICT (channel, destination_hash) \
             DO UPDATE SET reason = 'deleted', at = excluded.at",
        )
        .bind(e.channel.as_str())
        .bind(e.suppression)
        .bind(to_ms(now))
        .execute(&mut tx)
        .await?;
        if !ids.is_empty() {
            contacts_changed::<B>(&mut tx).await?;
            B::announce(&mut tx, Announce::Published).await?;
        }
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    async fn consent_history(&self, contact_id: i64) -> Result<Option<Vec<Event>>> {
        let mut conn = self.0.read().await?;
        let known: Option<(i64,)> = Sql::new("SELECT id FROM contacts WHERE id = $1")
            .bind(contact_id)
            .fetch_optional(&mut conn)
            .await?;
        if known.is_none() {
            return Ok(None);
        }
        type Row = (
            i64,
            String,
            String,
            String,
            String,
            String,
            Option<String>,
            i64,
        );
        let rows: Vec<Row> = Sql::new(
            "SELECT id, channel, purpose, action, method, detail, source, at \
             FROM consent_events WHERE contact_id = $1 ORDER BY id",
        )
        .bind(contact_id)
        .fetch_all(&mut conn)
        .await?;
        let corrupt = |what: &str, v: &str| {
            Error::Internal(anyhow::anyhow!("corrupt {what} '{v}' in consent_events"))
        };
        rows.into_iter()
            .map(
                |(id, channel, purpose, action, method, detail, source, at)| {
                    Ok(Event {
                        id,
                        contact_id,
                        channel: channel.parse().map_err(|_| corrupt("channel", &channel))?,
                        purpose,
                        action: Action::parse(&action).ok_or_else(|| corrupt("action", &action))?,
                        method: consent::Method::parse(&method)
                            .ok_or_else(|| corrupt("method", &method))?,
                        detail,
                        source,
                        at: from_ms(at),
                    })
                },
            )
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    async fn inbound(&self, m: &NewInbound<'_>, limits: &ReplyLimits) -> Result<bool> {
        const HOUR: i64 = 3_600_000;
        const DAY: i64 = 24 * HOUR;
        let now = to_ms(m.at);
        let mut tx = self.0.begin_write().await?;
        // Replies are counted one message at a time across every node, so a
        // flood of texts cannot overrun the limits by arriving together.
        B::lock_key(&mut tx, "sms-reply", 0).await?;
        let mut reply = m.reply;
        if reply.is_some() {
            let by_number = "SELECT COUNT(*) FROM sms_inbound WHERE reply IS NOT NULL \
                             AND received_at > $1 AND sender = $2";
            let (mine,): (i64,) = Sql::new(by_number)
                .bind(now - HOUR)
                .bind(m.sender)
                .fetch_one(&mut tx)
                .await?;
            let (all,): (i64,) = Sql::new(
                "SELECT COUNT(*) FROM sms_inbound WHERE reply IS NOT NULL AND received_at > $1",
            )
            .bind(now - HOUR)
            .fetch_one(&mut tx)
            .await?;
            let helped: Option<(i64,)> = if m.keyword == "unknown" {
                Sql::new(
                    "SELECT id FROM sms_inbound WHERE sender = $1 AND keyword = 'unknown' \
                     AND reply IS NOT NULL AND received_at > $2 LIMIT 1",
                )
                .bind(m.sender)
                .bind(now - DAY)
                .fetch_optional(&mut tx)
                .await?
            } else {
                None
            };
            if mine >= i64::from(limits.per_number_per_hour)
                || all >= i64::from(limits.per_hour)
                || helped.is_some()
            {
                reply = None;
            }
        }
        Sql::new(
            "INSERT INTO sms_inbound (sender, gateway, keyword, received_at, reply, \
             reply_language) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(m.sender)
        .bind(m.gateway)
        .bind(m.keyword)
        .bind(now)
        .bind(reply)
        .bind(reply.map(|_| m.language.as_str()))
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(reply.is_some())
    }

    async fn restored_at(
        &self,
        address_ids: &[i64],
        since: DateTime<Utc>,
    ) -> Result<Vec<Restored>> {
        if address_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(i64, String, String, i64)> = Sql::new(format!(
            "SELECT o.id, o.reference, o.utility, a.id FROM outages o, addresses a \
             WHERE {} AND o.status = 'restored' AND o.ended_at > $2 AND {} \
             ORDER BY o.ended_at DESC, o.id DESC",
            B::any("a.id", 1),
            rows::covers("o.id", "a.id")
        ))
        .bind(address_ids)
        .bind(to_ms(since))
        .fetch_all(&mut self.0.read().await?)
        .await?;
        rows.into_iter()
            .map(|(outage_id, reference, utility, address_id)| {
                Ok(Restored {
                    outage_id,
                    reference: rows::parse(&reference, "reference")?,
                    utility: rows::parse(&utility, "utility")?,
                    address_id,
                })
            })
            .collect()
    }
}
