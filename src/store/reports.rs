//! [`Reports`], carried out once for both databases: residents' "no supply
//! at my address" reports and their limits.

use async_trait::async_trait;

use super::shared::SqlStore;
use super::sql::{Backend, Sql};
use super::*;
use crate::clock::{from_ms, to_ms};
use crate::error::Error;

#[async_trait]
impl<B: Backend> Reports for SqlStore<B> {
    async fn report(&self, r: &NewReport<'_>, limits: &ReportLimits) -> Result<Reported> {
        let now = to_ms(r.at);
        let (hour, day) = (now - 3_600_000, now - 86_400_000);
        let mut tx = self.0.begin_write().await?;
        // Each limit: how many reports it counts since when, and when the
        // oldest of them stops counting (then a place frees up).
        let by_client = "SELECT COUNT(*), MIN(reported_at) FROM reports \
                         WHERE reported_at > $1 AND client_key = $2";
        let by_all = "SELECT COUNT(*), MIN(reported_at) FROM reports WHERE reported_at > $1";
        let checks = [
            (by_client, hour, limits.per_client_per_hour, 3_600_000),
            (by_client, day, limits.per_client_per_day, 86_400_000),
            (by_all, hour, limits.per_hour, 3_600_000),
        ];
        for (sql, since, limit, window) in checks {
            let mut q = Sql::new(sql).bind(since);
            if sql == by_client {
                q = q.bind(r.client_key);
            }
            let (n, oldest): (i64, Option<i64>) = q.fetch_one(&mut tx).await?;
            if n >= i64::from(limit) {
                let retry_at = from_ms(oldest.unwrap_or(now) + window);
                return Ok(Reported::Limited { retry_at });
            }
        }
        let known: Option<(i64,)> = Sql::new(
            "SELECT id FROM reports WHERE address_id = $1 AND utility = $2 AND reported_at > $3",
        )
        .bind(r.address_id)
        .bind(r.utility.as_str())
        .bind(hour)
        .fetch_optional(&mut tx)
        .await?;
        if known.is_some() {
            return Ok(Reported::Known);
        }
        let (id,): (i64,) = Sql::new(
            "INSERT INTO reports (address_id, utility, reported_at, client_key, outage_id, \
             still_out_of, via) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(r.address_id)
        .bind(r.utility.as_str())
        .bind(now)
        .bind(r.client_key)
        .bind(r.outage_id)
        .bind(r.still_out_of)
        .bind(r.via)
        .fetch_one(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(Reported::Stored(id))
    }

    async fn reports_since(&self, since: DateTime<Utc>, limit: i64) -> Result<Vec<ReportRow>> {
        let rows: Vec<(i64, i64, String, i64, Option<i64>, f64, f64)> = Sql::new(
            "SELECT r.id, r.address_id, r.utility, r.reported_at, r.outage_id, a.lon, a.lat \
             FROM reports r JOIN addresses a ON a.id = r.address_id \
             WHERE r.reported_at > $1 ORDER BY r.reported_at DESC, r.id DESC LIMIT $2",
        )
        .bind(to_ms(since))
        .bind(limit)
        .fetch_all(&mut self.0.read().await?)
        .await?;
        rows.into_iter()
            .map(|(id, address_id, utility, at, outage_id, lon, lat)| {
                Ok(ReportRow {
                    id,
                    address_id,
                    utility: utility.parse().map_err(|_| {
                        Error::Internal(anyhow::anyhow!("corrupt utility '{utility}' in reports"))
                    })?,
                    reported_at: from_ms(at),
                    outage_id,
                    lon,
                    lat,
                })
            })
            .collect()
    }

    async fn outage_reports(&self, outage_id: i64) -> Result<OutageReports> {
        let (inside, still_out, last): (i64, i64, Option<i64>) = Sql::new(
            "SELECT COUNT(*) FILTER (WHERE outage_id = $1), \
             COUNT(*) FILTER (WHERE still_out_of = $1), \
             MAX(reported_at) FILTER (WHERE still_out_of = $1) \
             FROM reports WHERE outage_id = $1 OR still_out_of = $1",
        )
        .bind(outage_id)
        .fetch_one(&mut self.0.read().await?)
        .await?;
        Ok(OutageReports {
            inside,
            still_out,
            last_still_out_at: last.map(from_ms),
        })
    }
}
