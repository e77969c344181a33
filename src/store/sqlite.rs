//! The SQLite backend: the embedded default. Statements both databases run
//! alike are in `shared.rs`; here are the hooks they need and what SQLite does
//! its own way.
//!
//! WAL journal, a busy timeout, and `BEGIN IMMEDIATE` for every transaction that
//! writes, so writers queue on the lock instead of failing on upgrade (and a
//! write transaction never needs row locks: it holds the whole database). Instants
//! are INTEGER milliseconds; lists travel as one JSON array through `json_each`,
//! which keeps bulk statements to a single round trip. Other processes sharing
//! the file learn of changes by polling: SQLite cannot announce them.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Arguments, SqliteConnection};

use super::rows::{self, Scanned};
use super::shared::finish_import;
use super::sql::{kinds_sql, Announce, Arg, Backend, Bound, ClaimBatch, Dialect, Sql, Tx};
use super::*;
use crate::clock::{from_ms, to_ms};
use crate::domain::token::random_token;

pub(super) struct Sqlite {
    pool: SqlitePool,
    /// The database file, for [`Backend::scan`]'s connections.
    path: std::path::PathBuf,
    busy_timeout: Duration,
}

impl Sqlite {
    pub async fn open(url: &str, config: &crate::config::DatabaseConfig) -> anyhow::Result<Sqlite> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_millis(config.busy_timeout_ms))
            .foreign_keys(true)
            .pragma("temp_store", "memory");
        let path = options.get_filename().to_path_buf();
        if url.contains(":memory:") || url.contains("mode=memory") {
            // Every pooled connection would be a database of its own.
            anyhow::bail!("database_url: an in-memory SQLite database is not supported");
        }
        if let Some(dir) = path.parent() {
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
        Ok(Sqlite {
            pool,
            path,
            busy_timeout: Duration::from_millis(config.busy_timeout_ms),
        })
    }
}

impl Scanned for rusqlite::Row<'_> {
    fn int(&self, i: usize) -> i64 {
        self.get_unwrap(i)
    }
    fn float(&self, i: usize) -> f64 {
        self.get_unwrap(i)
    }
    fn text(&self, i: usize) -> &str {
        self.get_ref_unwrap(i).as_str().expect("a text column")
    }
    fn flag(&self, i: usize) -> bool {
        self.get_unwrap(i)
    }
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("serializes")
}

impl Dialect for sqlx::Sqlite {
    fn bind<'q>(args: &mut SqliteArguments<'q>, arg: Arg<'q>) -> Bound {
        match arg {
            Arg::Int(v) => args.add(v),
            Arg::Float(v) => args.add(v),
            Arg::Bool(v) => args.add(v),
            Arg::Text(v) => args.add(v),
            // Lists travel as JSON arrays, read with `json_each`.
            Arg::Ids(v) => args.add(json(v)),
            Arg::Texts(v) => args.add(json(v)),
        }
    }

    fn executor(conn: &mut SqliteConnection) -> impl sqlx::Executor<'_, Database = Self> {
        conn
    }
}

impl Backend for Sqlite {
    type Db = sqlx::Sqlite;

    const NAME: &'static str = "sqlite";
    const ROW_LOCK: &'static str = "";
    const SKIP_LOCKED: &'static str = "";

    fn pool(&self) -> &sqlx::Pool<Self::Db> {
        &self.pool
    }

    /// `BEGIN IMMEDIATE` takes SQLite's write lock at once, so writers queue on
    /// it instead of failing to upgrade a read lock.
    async fn begin_write(&self) -> Result<Tx<Self>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    fn any(column: &str, param: usize) -> String {
        format!("{column} IN (SELECT value FROM json_each(${param}))")
    }

    /// Other processes find queued work and published changes by polling.
    async fn announce(_tx: &mut Tx<Self>, _what: Announce) -> Result<()> {
        Ok(())
    }

    /// The write transaction already excludes every other writer.
    async fn lock_key(_tx: &mut Tx<Self>, _key: &str, _seed: i64) -> Result<()> {
        Ok(())
    }

    /// Through a read-only connection of its own (rusqlite, on the caller's
    /// blocking thread), not the pool: sqlx's SQLite driver hands each row from
    /// its worker thread through a channel, some 4 µs a row — 9 s for a
    /// register of 2,000,000 addresses, against about 1 s here. The statement
    /// reads one snapshot (WAL), so writers go on meanwhile.
    fn scan(&self, sql: &str, visit: &mut dyn FnMut(&dyn Scanned)) -> Result<()> {
        use rusqlite::OpenFlags;
        let mut scan = || -> rusqlite::Result<()> {
            // No mutex: the connection lives on this thread alone.
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let conn = rusqlite::Connection::open_with_flags(&self.path, flags)?;
            conn.busy_timeout(self.busy_timeout)?;
            let mut statement = conn.prepare(sql)?;
            let mut rows = statement.raw_query();
            while let Some(row) = rows.next()? {
                visit(row);
            }
            Ok(())
        };
        scan().map_err(|e| anyhow::anyhow!("reading {}: {e}", self.path.display()).into())
    }

    async fn migrate(&self) -> anyhow::Result<()> {
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
    async fn after_bulk_load(&self, _table: BulkTable) -> Result<()> {
        Ok(())
    }

    /// Rows inserted by this batch get ids above the current maximum; an update
    /// keeps its old id; an unchanged row returns nothing.
    async fn upsert_addresses(&self, rows: &[NewAddress], now: i64) -> Result<ImportCounts> {
        let mut tx = self.begin_write().await?;
        let (max_id,): (i64,) = Sql::new("SELECT COALESCE(MAX(id), 0) FROM addresses")
            .fetch_one(&mut tx)
            .await?;
        // One statement per batch: the rows travel as one JSON array, which is
        // many times faster than a statement per row (2,000,000 rows in seconds,
        // not minutes).
        let batch: Vec<serde_json::Value> = last_of_each(rows, NewAddress::external_id)
            .into_iter()
            .map(|a| {
                let [street, house_number, postcode, settlement] = a.address.columns();
                serde_json::json!([
                    a.external_id,
                    street,
                    house_number,
                    postcode,
                    settlement,
                    a.lon,
                    a.lat,
                    a.utilities
                ])
            })
            .collect();
        let batch = json(&batch);
        let ids: Vec<(i64,)> = Sql::new(
            "INSERT INTO addresses (external_id, street, house_number, postcode, \
             settlement, lon, lat, utilities, created_at, updated_at) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, \
             value ->> 5, value ->> 6, value ->> 7, $2, $2 FROM json_each($1) WHERE true \
             ON CONFLICT (external_id) DO UPDATE SET street = excluded.street, \
             house_number = excluded.house_number, postcode = excluded.postcode, \
             settlement = excluded.settlement, lon = excluded.lon, lat = excluded.lat, \
             utilities = excluded.utilities, updated_at = excluded.updated_at \
             WHERE (street, house_number, postcode, settlement, lon, lat, utilities) IS \
             NOT (excluded.street, excluded.house_number, excluded.postcode, \
             excluded.settlement, excluded.lon, excluded.lat, excluded.utilities) \
             RETURNING id",
        )
        .bind(batch.as_str())
        .bind(now)
        .fetch_all(&mut tx)
        .await?;
        let mut counts = ImportCounts::default();
        for (id,) in ids {
            counts.count(Some(id), max_id);
        }
        finish_import::<Self>(tx, BulkTable::Addresses, counts, now).await?;
        Ok(counts)
    }

    /// A statement per row: SQLite runs them in-process, so there is no round
    /// trip to save, and the returned id tells insert from update.
    async fn upsert_contacts(&self, rows: &[NewContact], now: i64) -> Result<ContactImport> {
        let mut address_ids: HashMap<&str, Option<i64>> = HashMap::new();
        let mut result = ContactImport::default();
        let mut tx = self.begin_write().await?;
        let (max_id,): (i64,) = Sql::new("SELECT COALESCE(MAX(id), 0) FROM contacts")
            .fetch_one(&mut tx)
            .await?;
        for (i, c) in rows.iter().enumerate() {
            let address_id = match address_ids.get(c.address_external_id.as_str()) {
                Some(id) => *id,
                None => {
                    let id: Option<(i64,)> =
                        Sql::new("SELECT id FROM addresses WHERE external_id = $1")
                            .bind(&c.address_external_id)
                            .fetch_optional(&mut tx)
                            .await?;
                    let id = id.map(|r| r.0);
                    address_ids.insert(&c.address_external_id, id);
                    id
                }
            };
            let Some(address_id) = address_id else {
                result.unknown_address.push(i);
                continue;
            };
            // Consent is never touched here: an opted-out contact stays opted out.
            let token = random_token(16);
            let id: Option<(i64,)> = Sql::new(
                "INSERT INTO contacts (address_id, channel, destination, language, \
                 unsubscribe_token, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (address_id, channel, \
                 destination) DO UPDATE SET language = excluded.language, updated_at = \
                 excluded.updated_at WHERE language <> excluded.language RETURNING id",
            )
            .bind(address_id)
            .bind(c.channel.as_str())
            .bind(&c.destination)
            .bind(c.language.as_str())
            .bind(&token)
            .bind(now)
            .fetch_optional(&mut tx)
            .await?;
            result.counts.count(id.map(|r| r.0), max_id);
        }
        finish_import::<Self>(tx, BulkTable::Contacts, result.counts, now).await?;
        Ok(result)
    }

    async fn write_runs(tx: &mut Tx<Self>, outage_id: i64, runs: &[(i64, i64)]) -> Result<()> {
        let runs: Vec<[i64; 2]> = runs.iter().map(|&(f, l)| [f, l]).collect();
        let runs = json(&runs);
        Sql::new(
            "INSERT INTO outage_ranges (outage_id, first_id, last_id) \
             SELECT $1, value ->> 0, value ->> 1 FROM json_each($2)",
        )
        .bind(outage_id)
        .bind(runs.as_str())
        .execute(tx)
        .await?;
        Ok(())
    }

    /// The claim commits on its own before anything is sent: a crash after this
    /// point leaves a lease that expires, never a lost message. A single
    /// statement is its own transaction, and takes the write lock.
    async fn claim(&self, batch: ClaimBatch) -> Result<Vec<ClaimedDelivery>> {
        let mut conn = self.read().await?;
        let ids: Vec<(i64,)> = Sql::new(
            "UPDATE deliveries SET state = 'sending', attempts = attempts + 1, \
             lease_until = $3, updated_at = $2 WHERE id IN (SELECT id FROM deliveries \
             WHERE channel = $1 AND state = 'pending' AND next_attempt_at <= $2 \
             ORDER BY next_attempt_at LIMIT $4) RETURNING id",
        )
        .bind(batch.channel.as_str())
        .bind(batch.now)
        .bind(batch.lease_until)
        .bind(batch.limit as i64)
        .fetch_all(&mut conn)
        .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = ids.into_iter().map(|r| r.0).collect();
        Sql::new(format!(
            "SELECT {} FROM deliveries d JOIN contacts c ON c.id = d.contact_id \
             JOIN addresses a ON a.id = c.address_id WHERE {} ORDER BY d.id",
            rows::CLAIMED_COLUMNS,
            Self::any("d.id", 1)
        ))
        .bind(&ids)
        .map_all(&mut conn)
        .await
    }

    async fn complete(tx: &mut Tx<Self>, done: &[Completion], lease: i64, now: i64) -> Result<()> {
        // A statement per outcome, prepared once and run in-process: SQLite has
        // no round trips to save by batching them.
        for result in done {
            // The claim's lease is its fencing token: a worker whose lease ran out
            // and was taken over by another changes nothing.
            let q = match result {
                Completion::Sent {
                    id,
                    sent_revision,
                    provider_message_id,
                    segments,
                } => Sql::new(
                    "UPDATE deliveries SET state = 'sent', lease_until = NULL, sent_revision = $4, \
                     provider_message_id = $5, segments = $6, last_error = NULL, updated_at = $3 \
                     WHERE id = $1 AND state = 'sending' AND lease_until = $2",
                )
                .bind(*id)
                .bind(lease)
                .bind(now)
                .bind(*sent_revision)
                .bind(provider_message_id.as_deref())
                .bind(*segments),
                Completion::Retry { id, at, error } => Sql::new(
                    "UPDATE deliveries SET state = 'pending', lease_until = NULL, \
                     next_attempt_at = $4, last_error = $5, updated_at = $3 \
                     WHERE id = $1 AND state = 'sending' AND lease_until = $2",
                )
                .bind(*id)
                .bind(lease)
                .bind(now)
                .bind(to_ms(*at))
                .bind(error.as_str()),
                Completion::Failed {
                    id,
                    failure,
                    reason,
                } => Sql::new(
                    "UPDATE deliveries SET state = $4, lease_until = NULL, last_error = $5, \
                     updated_at = $3 WHERE id = $1 AND state = 'sending' AND lease_until = $2",
                )
                .bind(*id)
                .bind(lease)
                .bind(now)
                .bind(failure.state().as_str())
                .bind(reason.as_str()),
                Completion::Release { .. } | Completion::Defer { .. } => {
                    let (id, at, reason) = result.unsent(from_ms(now)).expect("unsent");
                    Sql::new(
                        "UPDATE deliveries SET state = 'pending', lease_until = NULL, \
                         attempts = attempts - 1, next_attempt_at = $4, last_error = $5, \
                         updated_at = $3 WHERE id = $1 AND state = 'sending' AND lease_until = $2",
                    )
                    .bind(id)
                    .bind(lease)
                    .bind(now)
                    .bind(to_ms(at))
                    .bind(reason)
                }
            };
            q.execute(tx).await?;
        }
        Ok(())
    }

    async fn news_sent(&self, pairs: &[(i64, i64)]) -> Result<HashMap<(i64, i64), NewsSent>> {
        let pairs = json(pairs);
        let rows: Vec<rows::NewsRow> = Sql::new(format!(
            "SELECT outage_id, contact_id, MAX(CASE \
             WHEN state = 'sent' THEN sent_revision END), MAX(state = 'sending') \
             FROM deliveries WHERE state IN ('sent', 'sending') AND kind IN {} \
             AND (outage_id, contact_id) IN (SELECT json_extract(value, '$[0]'), \
             json_extract(value, '$[1]') FROM json_each($1)) \
             GROUP BY outage_id, contact_id",
            kinds_sql(crate::domain::DeliveryKind::NEWS)
        ))
        .bind(pairs.as_str())
        .fetch_all(&mut self.read().await?)
        .await?;
        Ok(rows::news_sent(rows))
    }

    /// BEGIN IMMEDIATE holds the write lock: processes sharing the file take
    /// from the bucket one at a time.
    async fn take_tokens(&self, r: &TokenRequest<'_>) -> Result<Grant> {
        let mut tx = self.begin_write().await?;
        let row: Option<(f64, i64)> =
            Sql::new("SELECT tokens, refilled_at FROM rate_limits WHERE bucket = $1")
                .bind(r.bucket)
                .fetch_optional(&mut tx)
                .await?;
        let (tokens, refilled_at) = row.unwrap_or((r.burst as f64, r.now_ms));
        let grant = r.apply(tokens, refilled_at);
        Sql::new(
            "INSERT INTO rate_limits (bucket, tokens, refilled_at) VALUES ($1, $2, $3) \
             ON CONFLICT (bucket) DO UPDATE SET tokens = excluded.tokens, \
             refilled_at = excluded.refilled_at",
        )
        .bind(r.bucket)
        .bind(grant.tokens)
        .bind(grant.refilled_at)
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(grant)
    }

    async fn listen(&self, _on: OnChange) -> Result<bool> {
        Ok(false)
    }
}
