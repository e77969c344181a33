//! The PostgreSQL backend, for when one machine is outgrown: several web nodes
//! and workers share one database. Statements both databases run alike are in
//! `shared.rs`; here are the hooks they need and what PostgreSQL does its own
//! way when several processes share the database:
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

use sqlx::postgres::{
    PgArguments, PgConnectOptions, PgConnection, PgListener, PgPool, PgPoolOptions, PgRow,
};
use sqlx::Arguments;

use super::rows::{self, NewsRow, Scanned};
use super::shared::finish_import;
use super::sql::{kinds_sql, Announce, Arg, Backend, Bound, ClaimBatch, Dialect, Sql, Tx};
use super::*;
use crate::clock::{from_ms, to_ms};

/// Notified when deliveries or confirmations are queued.
pub const CHANNEL_WORK: &str = "herald_work";
/// Notified when the published state (outages, register) changed.
pub const CHANNEL_PUBLISHED: &str = "herald_published";

pub(super) struct Postgres {
    pool: PgPool,
    /// For [`Backend::scan`]'s own connection: a whole-table read takes
    /// seconds by design, which is no "slow statement" to warn about.
    scan_options: PgConnectOptions,
}

impl Postgres {
    pub async fn open(
        url: &str,
        config: &crate::config::DatabaseConfig,
    ) -> anyhow::Result<Postgres> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| {
                anyhow::anyhow!(
                    "database_url '{}' is not usable: {e}",
                    crate::config::redact_url(url)
                )
            })?
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
            .connect_lazy_with(options.clone());
        let scan_options = sqlx::ConnectOptions::log_slow_statements(
            options,
            tracing::log::LevelFilter::Off,
            Duration::MAX,
        );
        Ok(Postgres { pool, scan_options })
    }
}

impl Dialect for sqlx::Postgres {
    fn bind<'q>(args: &mut PgArguments, arg: Arg<'q>) -> Bound {
        match arg {
            Arg::Int(v) => args.add(v),
            Arg::Float(v) => args.add(v),
            Arg::Bool(v) => args.add(v),
            Arg::Text(v) => args.add(v),
            // Lists travel as arrays (`= ANY($n)`, `UNNEST`).
            Arg::Ids(v) => args.add(v),
            Arg::Texts(v) => args.add(v),
        }
    }

    fn executor(conn: &mut PgConnection) -> impl sqlx::Executor<'_, Database = Self> {
        conn
    }
}

impl Backend for Postgres {
    type Db = sqlx::Postgres;

    const NAME: &'static str = "postgres";
    const ROW_LOCK: &'static str = " FOR UPDATE";
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";

    async fn begin_write(&self) -> Result<Tx<Self>> {
        Ok(self.pool.begin().await?)
    }

    fn pool(&self) -> &sqlx::Pool<Self::Db> {
        &self.pool
    }

    /// Streams through sqlx, whose PostgreSQL rows are cheap (about 1 µs each
    /// for the register), on the caller's blocking thread and a connection of
    /// its own, so a scan neither holds one of the pool's for seconds nor
    /// warns of a slow statement.
    fn scan(&self, sql: &str, visit: &mut dyn FnMut(&dyn Scanned)) -> Result<()> {
        use futures::TryStreamExt;
        tokio::runtime::Handle::current().block_on(async {
            let mut conn: PgConnection = sqlx::ConnectOptions::connect(&self.scan_options).await?;
            let mut rows = sqlx::query(sql).fetch(&mut conn);
            while let Some(row) = rows.try_next().await? {
                visit(&row);
            }
            drop(rows);
            Ok(sqlx::Connection::close(conn).await?)
        })
    }

    fn any(column: &str, param: usize) -> String {
        format!("{column} = ANY(${param})")
    }

    /// `NOTIFY` is transactional: listeners hear it only if the transaction
    /// commits, and once however often it was sent in it.
    async fn announce(tx: &mut Tx<Self>, what: Announce) -> Result<()> {
        let channel = match what {
            Announce::Work => CHANNEL_WORK,
            Announce::Published => CHANNEL_PUBLISHED,
        };
        Sql::new("SELECT pg_notify($1, '')")
            .bind(channel)
            .execute(tx)
            .await?;
        Ok(())
    }

    async fn lock_key(tx: &mut Tx<Self>, key: &str, seed: i64) -> Result<()> {
        Sql::new("SELECT pg_advisory_xact_lock(hashtextextended($1, $2))")
            .bind(key)
            .bind(seed)
            .execute(tx)
            .await?;
        Ok(())
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        // sqlx holds a PostgreSQL advisory lock while migrating, so nodes that
        // start together apply each migration once and the others wait for it.
        sqlx::migrate!("./migrations/postgres")
            .run(&self.pool)
            .await?;
        Ok(())
    }

    /// `VACUUM (ANALYZE)`: without it, autovacuum reaches a freshly loaded table
    /// up to a minute later, and an outage declared meanwhile competes with it
    /// (planning 100,000 deliveries took 2.0 s instead of 1.1 s while autovacuum
    /// worked through 2,000,000 new addresses on the same two cores).
    async fn after_bulk_load(&self, table: BulkTable) -> Result<()> {
        Sql::new(format!("VACUUM (ANALYZE) {}", table.as_str()))
            .execute(&mut self.read().await?)
            .await?;
        Ok(())
    }

    /// One statement per batch, the rows as one array per column; `xmax = 0`
    /// tells a new row from an updated one.
    async fn upsert_addresses(&self, rows: &[NewAddress], now: i64) -> Result<ImportCounts> {
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
        // An absent street or postcode is stored empty.
        .bind(col(|a| a.address.street().unwrap_or("")))
        .bind(col(|a| a.address.house_number()))
        .bind(col(|a| a.address.postcode().unwrap_or("")))
        .bind(col(|a| a.address.settlement()))
        .bind(rows.iter().map(|a| a.lon).collect::<Vec<_>>())
        .bind(rows.iter().map(|a| a.lat).collect::<Vec<_>>())
        .bind(rows.iter().map(|a| a.utilities as i64).collect::<Vec<_>>())
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let counts = insert_update_counts(&changed);
        finish_import::<Self>(tx, BulkTable::Addresses, counts, now).await?;
        Ok(counts)
    }

    /// One lookup of the batch's addresses and one insert of its contacts, as
    /// arrays.
    async fn upsert_contacts(&self, rows: &[NewContact], now: i64) -> Result<ContactImport> {
        let external: Vec<&str> = rows
            .iter()
            .map(|c| c.address_external_id.as_str())
            .collect();
        let mut tx = self.begin_write().await?;
        let ids: HashMap<String, i64> = Sql::new(format!(
            "SELECT external_id, id FROM addresses WHERE {}",
            Self::any("external_id", 1)
        ))
        .bind(&external[..])
        .fetch_all::<(String, i64)>(&mut tx)
        .await?
        .into_iter()
        .collect();
        // The last row for a (address, channel, destination) wins, as one by one.
        let mut result = ContactImport::default();
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
        let column = |f: fn(&NewContact) -> &str| keep.iter().map(|k| f(k.1)).collect::<Vec<_>>();
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
        .bind(column(|c| c.channel.as_str()))
        .bind(column(|c| &c.destination))
        .bind(column(|c| c.language.as_str()))
        .bind(
            keep.iter()
                .map(|_| crate::domain::token::random_token(16))
                .collect::<Vec<_>>(),
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        result.counts = insert_update_counts(&changed);
        finish_import::<Self>(tx, BulkTable::Contacts, result.counts, now).await?;
        Ok(result)
    }

    /// One statement, committed on return, before anything is sent: a crash
    /// after this leaves a lease that expires, never a lost message. SKIP LOCKED
    /// lets concurrent workers take the next rows instead of queueing on these.
    async fn claim(&self, batch: ClaimBatch) -> Result<Vec<ClaimedDelivery>> {
        Sql::new(format!(
            "WITH due AS (SELECT id FROM deliveries WHERE channel = $1 \
             AND state = 'pending' AND next_attempt_at <= $2 ORDER BY next_attempt_at \
             LIMIT $4 FOR UPDATE SKIP LOCKED), d AS (UPDATE deliveries \
             SET state = 'sending', attempts = deliveries.attempts + 1, lease_until = $3, \
             updated_at = $2 FROM due WHERE deliveries.id = due.id RETURNING deliveries.*) \
             SELECT {} FROM d JOIN contacts c ON c.id = d.contact_id \
             JOIN addresses a ON a.id = c.address_id ORDER BY d.id",
            rows::CLAIMED_COLUMNS
        ))
        .bind(batch.channel.as_str())
        .bind(batch.now)
        .bind(batch.lease_until)
        .bind(batch.limit as i64)
        .map_all(&mut self.read().await?)
        .await
    }

    async fn write_runs(tx: &mut Tx<Self>, outage_id: i64, runs: &[(i64, i64)]) -> Result<()> {
        let (first, last): (Vec<i64>, Vec<i64>) = runs.iter().copied().unzip();
        Sql::new(
            "INSERT INTO outage_ranges (outage_id, first_id, last_id) \
             SELECT $1, UNNEST($2::int8[]), UNNEST($3::int8[])",
        )
        .bind(outage_id)
        .bind(&first)
        .bind(&last)
        .execute(tx)
        .await?;
        Ok(())
    }

    async fn complete(tx: &mut Tx<Self>, done: &[Completion], lease: i64, now: i64) -> Result<()> {
        let by = Outcomes::split(done, now);
        // One statement per kind of outcome, the rows as arrays. The claim's lease
        // is its fencing token: a worker whose lease ran out and was taken over
        // by another changes nothing.
        sqlx::query(
            "UPDATE deliveries d SET state = 'sent', lease_until = NULL, sent_revision = u.rev, \
             provider_message_id = u.pid, segments = u.seg, last_error = NULL, updated_at = $5 \
             FROM UNNEST($1::int8[], $2::int8[], $3::text[], $4::int8[]) AS u(id, rev, pid, seg) \
             WHERE d.id = u.id AND d.state = 'sending' AND d.lease_until = $6",
        )
        .bind(&by.sent.id)
        .bind(&by.sent.revision)
        .bind(&by.sent.provider_id)
        .bind(&by.sent.segments)
        .bind(now)
        .bind(lease)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "UPDATE deliveries d SET state = 'pending', lease_until = NULL, next_attempt_at = \
             u.at, last_error = u.error, updated_at = $4 \
             FROM UNNEST($1::int8[], $2::int8[], $3::text[]) AS u(id, at, error) \
             WHERE d.id = u.id AND d.state = 'sending' AND d.lease_until = $5",
        )
        .bind(&by.retry.id)
        .bind(&by.retry.at)
        .bind(&by.retry.error)
        .bind(now)
        .bind(lease)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "UPDATE deliveries d SET state = u.state, lease_until = NULL, last_error = u.reason, \
             updated_at = $4 FROM UNNEST($1::int8[], $2::text[], $3::text[]) AS u(id, state, \
             reason) WHERE d.id = u.id AND d.state = 'sending' AND d.lease_until = $5",
        )
        .bind(&by.failed.id)
        .bind(&by.failed.state)
        .bind(&by.failed.reason)
        .bind(now)
        .bind(lease)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "UPDATE deliveries d SET state = 'pending', lease_until = NULL, \
             attempts = d.attempts - 1, next_attempt_at = u.at, last_error = u.reason, \
             updated_at = $4 FROM UNNEST($1::int8[], $2::int8[], $3::text[]) AS u(id, at, reason) \
             WHERE d.id = u.id AND d.state = 'sending' AND d.lease_until = $5",
        )
        .bind(&by.released.id)
        .bind(&by.released.at)
        .bind(&by.released.reason)
        .bind(now)
        .bind(lease)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn news_sent(&self, pairs: &[(i64, i64)]) -> Result<HashMap<(i64, i64), NewsSent>> {
        let (outages, contacts): (Vec<i64>, Vec<i64>) = pairs.iter().copied().unzip();
        let rows: Vec<NewsRow> = Sql::new(format!(
            "SELECT outage_id, contact_id, MAX(CASE \
             WHEN state = 'sent' THEN sent_revision END), MAX(CASE \
             WHEN state = 'sending' THEN 1 ELSE 0 END)::int8 FROM deliveries WHERE state \
             IN ('sent', 'sending') AND kind IN {} AND (outage_id, contact_id) \
             IN (SELECT * FROM UNNEST($1::int8[], $2::int8[])) \
             GROUP BY outage_id, contact_id",
            kinds_sql(crate::domain::DeliveryKind::NEWS)
        ))
        .bind(&outages)
        .bind(&contacts)
        .fetch_all(&mut self.read().await?)
        .await?;
        Ok(rows::news_sent(rows))
    }

    /// Calls `on` for every notification; with [`Change::Unknown`] when the
    /// connection was lost and re-established (anything may have happened
    /// meanwhile). Stops when `on` returns false.
    async fn listen(&self, on: OnChange) -> Result<bool> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener
            .listen_all([CHANNEL_WORK, CHANNEL_PUBLISHED])
            .await?;
        tokio::spawn(async move {
            loop {
                let go_on = match listener.try_recv().await {
                    Ok(Some(n)) => on(match n.channel() {
                        CHANNEL_WORK => Change::Work,
                        CHANNEL_PUBLISHED => Change::Published,
                        _ => Change::Unknown,
                    }),
                    Ok(None) => on(Change::Unknown),
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
        Ok(true)
    }

    async fn take_tokens(&self, r: &TokenRequest<'_>) -> Result<Grant> {
        let mut tx = self.begin_write().await?;
        // The first take creates the bucket; the row lock then makes concurrent
        // workers take from it one after another.
        Sql::new(
            "INSERT INTO rate_limits (bucket, tokens, refilled_at) VALUES ($1, $2, $3) \
             ON CONFLICT (bucket) DO NOTHING",
        )
        .bind(r.bucket)
        .bind(r.burst as f64)
        .bind(r.now_ms)
        .execute(&mut tx)
        .await?;
        let (tokens, refilled_at): (f64, i64) =
            Sql::new("SELECT tokens, refilled_at FROM rate_limits WHERE bucket = $1 FOR UPDATE")
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

/// Completions regrouped as columns, one array per field, for `UNNEST`.
#[derive(Default)]
struct Outcomes {
    sent: SentColumns,
    retry: RetryColumns,
    failed: FailedColumns,
    released: ReleasedColumns,
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

#[derive(Default)]
struct ReleasedColumns {
    id: Vec<i64>,
    at: Vec<i64>,
    reason: Vec<String>,
}

impl Outcomes {
    fn split(results: &[Completion], now: i64) -> Outcomes {
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
                Completion::Release { .. } | Completion::Defer { .. } => {
                    let (id, at, reason) = r.unsent(from_ms(now)).expect("unsent");
                    o.released.id.push(id);
                    o.released.at.push(to_ms(at));
                    o.released.reason.push(reason.to_string());
                }
            }
        }
        o
    }
}

/// Counts from `RETURNING xmax = 0` (true: inserted; false: updated).
fn insert_update_counts(rows: &[PgRow]) -> ImportCounts {
    use sqlx::Row;
    let inserted = rows.iter().filter(|r| r.get::<bool, _>(0)).count() as u64;
    ImportCounts {
        inserted,
        updated: rows.len() as u64 - inserted,
    }
}
