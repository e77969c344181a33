//! [`Calls`], carried out once for both databases: the IVR's calls by phone,
//! and whether each caller had been sent a message before calling.

use async_trait::async_trait;

use super::shared::SqlStore;
use super::sql::{Backend, Batch, Sql};
use super::*;
use crate::clock::{from_ms, to_ms};

#[async_trait]
impl<B: Backend> Calls for SqlStore<B> {
    async fn record_calls(&self, calls: &[NewCall<'_>]) -> Result<()> {
        if calls.is_empty() {
            return Ok(());
        }
        let batch = Batch::default()
            .int("outage_id", calls.iter().map(|c| Some(c.outage_id)))
            .text("caller", calls.iter().map(|c| Some(c.caller)))
            .text("number", calls.iter().map(|c| Some(c.number)))
            .int("called_at", calls.iter().map(|c| Some(to_ms(c.at))));
        // A message counts from when it was sent (a sent delivery's last
        // update), to any contact row of the number: a number registered at two
        // addresses is one person. `CROSS JOIN` keeps SQLite's join order: the
        // number's contacts first (by `contacts_destination`), then their
        // deliveries of the outage; left to choose, with no statistics, it
        // walked every delivery of the outage for each call (100,000 rows a
        // call in a storm, a core's worth of work for a few thousand calls).
        let mut tx = self.0.begin_write().await?;
        Sql::new(format!(
            "INSERT INTO ivr_calls (outage_id, caller, called_at, told_at) \
             SELECT u.outage_id, u.caller, u.called_at, \
             (SELECT MIN(d.updated_at) FROM contacts c CROSS JOIN deliveries d \
              WHERE c.destination = u.number AND d.contact_id = c.id AND d.outage_id = u.outage_id \
              AND d.state = $1 AND d.updated_at <= u.called_at) \
             FROM ({}) AS u",
            B::rows(&batch, 2)
        ))
        .bind(DeliveryState::Sent.as_str())
        .bind(&batch)
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn outage_callers(&self, outage_id: i64) -> Result<Vec<OutageCaller>> {
        let rows: Vec<(i64, Option<i64>)> = Sql::new(
            "SELECT MIN(called_at), MIN(told_at) FROM ivr_calls \
             WHERE outage_id = $1 GROUP BY caller",
        )
        .bind(outage_id)
        .fetch_all(&mut self.0.read().await?)
        .await?;
        // Each row's told_at is the first message at or before that call, so
        // the caller was told before their first call exactly when the
        // earliest of them is no later than it.
        Ok(rows
            .into_iter()
            .map(|(first, told)| OutageCaller {
                first_call: from_ms(first),
                told_at: told.filter(|t| *t <= first).map(from_ms),
            })
            .collect())
    }

    async fn forget_calls(&self, before: DateTime<Utc>) -> Result<u64> {
        let mut tx = self.0.begin_write().await?;
        let n = Sql::new("DELETE FROM ivr_calls WHERE called_at < $1")
            .bind(to_ms(before))
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(n)
    }
}
