//! Statements that read the same on both backends, written once. The macros
//! expand them inside each backend's module (with its own pool, connection type
//! and imports). Where only the locking or the announcing differs, a backend
//! supplies it: `begin_write` (SQLite's `BEGIN IMMEDIATE`), `ROW_LOCK` (`FOR
//! UPDATE` on PostgreSQL) and `queued_work` (`NOTIFY` on PostgreSQL). Everything
//! else stays in `sqlite.rs` or `postgres.rs`.

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
                Ok(sqlx::query_as(&format!(
                    "SELECT a.lon, a.lat FROM {} LIMIT $2",
                    rows::in_area("addresses", "a", "id")
                ))
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
                Ok(sqlx::query_as(&format!(
                    "SELECT DISTINCT a.settlement, a.postcode, a.street FROM {} \
                     ORDER BY a.settlement, a.postcode, a.street",
                    rows::in_area("addresses", "a", "id")
                ))
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

            /// (outage id, address id) for every open outage covering one of the
            /// addresses, by outage then address. The runs that can contain an id
            /// in [lowest, highest] are, per open outage, the one starting at or
            /// before the lowest (a primary-key probe) and those starting inside
            /// the span (a range scan): a caller's one address costs a probe per
            /// outage, a postcode of 100,000 addresses the runs in its span.
            pub async fn open_outages_at(&self, address_ids: &[i64]) -> Result<Vec<(i64, i64)>> {
                let (Some(&lowest), Some(&highest)) =
                    (address_ids.iter().min(), address_ids.iter().max())
                else {
                    return Ok(Vec::new());
                };
                let runs: Vec<(i64, i64, i64)> = sqlx::query_as(
                    "SELECT r.outage_id, r.first_id, r.last_id FROM outages o \
                     JOIN outage_ranges r ON r.outage_id = o.id \
                     WHERE o.status IN ('scheduled', 'active') AND r.first_id > $1 AND r.first_id <= $2 \
                     UNION ALL \
                     SELECT r.outage_id, r.first_id, r.last_id FROM outages o \
                     JOIN outage_ranges r ON r.outage_id = o.id \
                     WHERE o.status IN ('scheduled', 'active') AND r.last_id >= $1 \
                     AND r.first_id = (SELECT MAX(x.first_id) FROM outage_ranges x \
                                       WHERE x.outage_id = o.id AND x.first_id <= $1) \
                     ORDER BY 1, 2",
                )
                .bind(lowest)
                .bind(highest)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows::covered(&runs, address_ids))
            }

            pub async fn opt_out(&self, token: &str, now: DateTime<Utc>) -> Result<bool> {
                let now = to_ms(now);
                let mut tx = self.begin_write().await?;
                let id: Option<i64> = sqlx::query_scalar(
                    "UPDATE contacts SET opted_out_at = COALESCE(opted_out_at, $2), updated_at = $2 \
                     WHERE unsubscribe_token = $1 RETURNING id",
                )
                .bind(token)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(id) = id else {
                    return Ok(false);
                };
                sqlx::query(
                    "UPDATE deliveries SET state = 'suppressed', last_error = 'contact opted out', \
                     updated_at = $2 WHERE contact_id = $1 AND state = 'pending'",
                )
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(true)
            }

            pub async fn confirm_subscription(
                &self,
                token: &str,
                now: DateTime<Utc>,
                delivery_expires_at: DateTime<Utc>,
            ) -> Result<Confirmation> {
                let now = to_ms(now);
                let mut tx = self.begin_write().await?;
                // Locked (the row, or all of SQLite): a double click confirms once.
                let row = sqlx::query(&format!(
                    "SELECT id, address_id, channel, destination, language, expires_at, contact_id \
                     FROM subscriptions WHERE token = $1{ROW_LOCK}"
                ))
                .bind(token)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = row else {
                    return Ok(Confirmation::Unknown);
                };
                if row.get::<Option<i64>, _>(6).is_some() {
                    return Ok(Confirmation::AlreadyConfirmed);
                }
                if row.get::<i64, _>(5) < now {
                    return Ok(Confirmation::Expired);
                }
                let (id, address_id): (i64, i64) = (row.get(0), row.get(1));
                // The resident's own request: it subscribes them again even after an opt-out.
                let contact_id: i64 = sqlx::query_scalar(
                    "INSERT INTO contacts (address_id, channel, destination, language, \
                     unsubscribe_token, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
                     ON CONFLICT (address_id, channel, destination) DO UPDATE \
                     SET language = excluded.language, opted_out_at = NULL, updated_at = excluded.updated_at \
                     RETURNING id",
                )
                .bind(address_id)
                .bind(row.get::<&str, _>(2))
                .bind(row.get::<&str, _>(3))
                .bind(row.get::<&str, _>(4))
                .bind(crate::auth::random_token(16))
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query("UPDATE subscriptions SET confirmed_at = $2, contact_id = $3 WHERE id = $1")
                    .bind(id)
                    .bind(now)
                    .bind(contact_id)
                    .execute(&mut *tx)
                    .await?;
                // Outages already under way at the address are news to the new subscriber,
                // unless this contact has heard of them (or is about to).
                let queued = sqlx::query(&format!(
                    "INSERT INTO deliveries (outage_id, revision, kind, contact_id, channel, state, \
                     urgent, attempts, next_attempt_at, expires_at, created_at, updated_at) \
                     SELECT o.id, o.revision, 'declared', c.id, c.channel, 'pending', \
                     o.urgency = 'urgent', 0, $2, $3, $2, $2 \
                     FROM contacts c JOIN outages o ON {covers} \
                     WHERE c.id = $1 AND o.status IN ('scheduled', 'active') \
                     AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.outage_id = o.id \
                         AND d.contact_id = c.id AND d.kind IN {NEWS_KINDS} \
                         AND d.state IN ('pending', 'sending', 'sent')) \
                     ON CONFLICT DO NOTHING",
                    covers = rows::covers("o.id", "c.address_id")
                ))
                .bind(contact_id)
                .bind(now)
                .bind(to_ms(delivery_expires_at))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                publish(&mut tx, now).await?;
                if queued > 0 {
                    queued_work(&mut tx).await?;
                }
                tx.commit().await?;
                Ok(Confirmation::Confirmed { contact_id, queued })
            }
        }
    };
}

/// Statements inside a backend's write transactions that read the same on both,
/// as free functions over the backend's connection type.
macro_rules! common_statements {
    ($conn:ty) => {
        /// Copies the outage's current row into its revision history.
        async fn insert_revision(
            conn: &mut $conn,
            id: i64,
            change: ChangeKind,
            fields: &[&str],
            now: i64,
        ) -> Result<()> {
            sqlx::query(
                "INSERT INTO outage_revisions (outage_id, revision, change, changed_fields, status, cause, \
                 etr, starts_at, area, messages, affected_addresses, created_at) \
                 SELECT id, revision, $2, $3, status, cause, etr, starts_at, area, messages, \
                 affected_addresses, $4 FROM outages WHERE id = $1",
            )
            .bind(id)
            .bind(change.as_str())
            .bind(fields.join(","))
            .bind(now)
            .execute(conn)
            .await?;
            Ok(())
        }

        /// Forgets the outage's area (before the backend writes the new one).
        async fn clear_area(conn: &mut $conn, outage_id: i64) -> Result<()> {
            sqlx::query("DELETE FROM outage_ranges WHERE outage_id = $1")
                .bind(outage_id)
                .execute(conn)
                .await?;
            Ok(())
        }

        /// The address ids in the outage's area, ascending.
        async fn area_ids(conn: &mut $conn, outage_id: i64) -> Result<Vec<i64>> {
            let runs: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT first_id, last_id FROM outage_ranges WHERE outage_id = $1 ORDER BY first_id",
            )
            .bind(outage_id)
            .fetch_all(conn)
            .await?;
            Ok(rows::expand_runs(&runs))
        }

        /// Queues an update for contacts still in the area who were already told about the
        /// outage. Contacts whose first message is still pending get nothing new: that
        /// message renders the newest state when it goes out (one message, not two).
        async fn enqueue_update(conn: &mut $conn, f: &Fanout<'_>) -> Result<()> {
            sqlx::query(&format!(
                "INSERT INTO deliveries (outage_id, revision, kind, contact_id, channel, state, urgent, \
                 attempts, next_attempt_at, expires_at, created_at, updated_at) \
                 SELECT $1, $2, 'updated', c.id, c.channel, 'pending', $3, 0, $4, $5, $4, $4 \
                 FROM {area} WHERE c.opted_out_at IS NULL \
                 AND EXISTS (SELECT 1 FROM deliveries d WHERE d.outage_id = $1 AND d.contact_id = c.id \
                             AND d.kind IN {NEWS_KINDS} AND d.state IN ('sending', 'sent')) \
                 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.outage_id = $1 \
                             AND d.contact_id = c.id AND d.kind IN {NEWS_KINDS} AND d.state = 'pending') \
                 ON CONFLICT DO NOTHING",
                area = rows::in_area("contacts", "c", "address_id")
            ))
            .bind(f.outage_id)
            .bind(f.revision)
            .bind(f.urgent)
            .bind(f.now)
            .bind(f.expires_at)
            .execute(conn)
            .await?;
            Ok(())
        }
    };
}

pub(super) use {common_queries, common_statements};
