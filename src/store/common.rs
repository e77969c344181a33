//! Statements that read the same on both backends, written once. The macro
//! expands them inside each backend's `impl` (each with its own pool type and
//! imports); everything whose SQL or locking differs stays in `sqlite.rs` or
//! `postgres.rs`.

macro_rules! common_queries {
    ($store:ty) => {
        impl $store {
            pub async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            pub async fn addresses_version(&self) -> Result<i64> {
                Ok(
                    sqlx::query_scalar("SELECT value FROM meta WHERE key = 'addresses_version'")
                        .fetch_one(&self.pool)
                        .await?,
                )
            }

            pub async fn index_points(&self) -> Result<Vec<IndexPoint>> {
                let rows = sqlx::query("SELECT id, lon, lat, utilities FROM addresses")
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|r| IndexPoint {
                        id: r.get(0),
                        lon: r.get(1),
                        lat: r.get(2),
                        utilities: r.get::<i64, _>(3) as u8,
                    })
                    .collect())
            }

            pub async fn create_token(
                &self,
                name: &str,
                token_hash: &str,
                now: DateTime<Utc>,
            ) -> Result<i64> {
                Ok(sqlx::query_scalar(
                    "INSERT INTO api_tokens (name, token_hash, created_at) VALUES ($1, $2, $3) RETURNING id",
                )
                .bind(name)
                .bind(token_hash)
                .bind(to_ms(now))
                .fetch_one(&self.pool)
                .await?)
            }

            pub async fn token_id(&self, token_hash: &str) -> Result<Option<i64>> {
                Ok(sqlx::query_scalar(
                    "SELECT id FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
                )
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?)
            }

            pub async fn outage_by_reference(&self, reference: &Reference) -> Result<Option<Outage>> {
                sqlx::query_as::<_, OutageRow>(&format!(
                    "SELECT {OUTAGE_COLUMNS} FROM outages WHERE reference = $1"
                ))
                .bind(reference.as_str())
                .fetch_optional(&self.pool)
                .await?
                .map(OutageRow::into_outage)
                .transpose()
            }

            pub async fn revisions(&self, outage_id: i64) -> Result<Vec<RevisionRow>> {
                let rows = sqlx::query(
                    "SELECT revision, change, changed_fields, status, cause, etr, starts_at, \
                     affected_addresses, created_at FROM outage_revisions WHERE outage_id = $1 \
                     ORDER BY revision",
                )
                .bind(outage_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(rows::revision).collect()
            }

            pub async fn delivery_counts(&self, outage_id: i64) -> Result<Vec<DeliveryCount>> {
                let rows = sqlx::query(
                    "SELECT channel, kind, state, COUNT(*) FROM deliveries WHERE outage_id = $1 \
                     GROUP BY channel, kind, state ORDER BY channel, kind, state",
                )
                .bind(outage_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(rows::delivery_count).collect()
            }

            pub async fn revision_fanout(&self, outage_id: i64, revision: i64) -> Result<ChannelCounts> {
                let rows = sqlx::query(
                    "SELECT channel, COUNT(*) FROM deliveries WHERE outage_id = $1 AND revision = $2 \
                     GROUP BY channel",
                )
                .bind(outage_id)
                .bind(revision)
                .fetch_all(&self.pool)
                .await?;
                rows::channel_counts(&rows)
            }

            pub async fn published(&self) -> Result<Published> {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT key, value FROM meta WHERE key IN ('outages_version', 'outages_changed_at')",
                )
                .fetch_all(&self.pool)
                .await?;
                let get = |k: &str| rows.iter().find(|r| r.0 == k).map_or(0, |r| r.1);
                Ok(Published {
                    version: get("outages_version"),
                    changed_at: from_ms(get("outages_changed_at")),
                })
            }

            pub async fn open_outages(&self) -> Result<Vec<Outage>> {
                sqlx::query_as::<_, OutageRow>(&format!(
                    "SELECT {OUTAGE_COLUMNS} FROM outages WHERE status IN ('scheduled', 'active') \
                     ORDER BY id"
                ))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(OutageRow::into_outage)
                .collect()
            }

            pub async fn outage_points(&self, outage_id: i64, limit: i64) -> Result<Vec<(f64, f64)>> {
                Ok(sqlx::query_as(
                    "SELECT a.lon, a.lat FROM outage_addresses oa JOIN addresses a ON a.id = oa.address_id \
                     WHERE oa.outage_id = $1 LIMIT $2",
                )
                .bind(outage_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }

            pub async fn search_addresses(&self) -> Result<Vec<crate::search::SearchAddress>> {
                let rows =
                    sqlx::query("SELECT id, street, house_number, postcode, settlement FROM addresses")
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows
                    .into_iter()
                    .map(|r| crate::search::SearchAddress {
                        id: r.get(0),
                        street: r.get(1),
                        house_number: r.get(2),
                        postcode: r.get(3),
                        settlement: r.get(4),
                    })
                    .collect())
            }

            pub async fn outage_places(&self, outage_id: i64) -> Result<Vec<(String, String, String)>> {
                Ok(sqlx::query_as(
                    "SELECT DISTINCT a.settlement, a.postcode, a.street FROM outage_addresses oa \
                     JOIN addresses a ON a.id = oa.address_id WHERE oa.outage_id = $1 \
                     ORDER BY a.settlement, a.postcode, a.street",
                )
                .bind(outage_id)
                .fetch_all(&self.pool)
                .await?)
            }

            pub async fn delivery_totals(&self) -> Result<Vec<(Channel, DeliveryState, i64)>> {
                let rows =
                    sqlx::query("SELECT channel, state, COUNT(*) FROM deliveries GROUP BY channel, state")
                        .fetch_all(&self.pool)
                        .await?;
                rows.iter().map(rows::total).collect()
            }

            pub async fn contact_by_token(&self, token: &str) -> Result<Option<ContactSummary>> {
                let row = sqlx::query(
                    "SELECT c.id, c.channel, c.destination, c.language, c.opted_out_at IS NOT NULL, \
                     a.street || ' ' || a.house_number || ', ' || a.settlement \
                     FROM contacts c JOIN addresses a ON a.id = c.address_id \
                     WHERE c.unsubscribe_token = $1",
                )
                .bind(token)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(rows::contact_summary).transpose()
            }

            pub async fn subscription(&self, token: &str) -> Result<Option<SubscriptionView>> {
                let row = sqlx::query(
                    "SELECT s.channel, s.destination, s.language, s.confirmed_at IS NOT NULL, s.expires_at, \
                     a.street || ' ' || a.house_number || ', ' || a.postcode || ' ' || a.settlement \
                     FROM subscriptions s JOIN addresses a ON a.id = s.address_id WHERE s.token = $1",
                )
                .bind(token)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(rows::subscription_view).transpose()
            }
        }
    };
}

pub(super) use common_queries;
