//! The PostgreSQL backend, for when one machine is outgrown: several web nodes
//! and workers share one database. Statements both databases run alike are in
//! `shared.rs`; here are the hooks they need and what PostgreSQL does its own
//! way when several processes share the database:
//!
//! - workers claim with `FOR UPDATE SKIP LOCKED`, so N workers take disjoint
//!   batches without waiting on each other;
//! - writers that must see a consistent outage lock its row (`FOR UPDATE`); every
//!   publishing transaction also updates the `meta` version row, which orders them;
//! - lists travel as arrays (`= ANY($1)`), batches of rows as one typed array
//!   per column (`UNNEST`), so a bulk statement is one round trip whatever its
//!   size;
//! - the register's whole-table reads are binary `COPY`s (`pg_copy.rs`);
//! - committed changes are announced with `NOTIFY` ([`CHANNEL_WORK`],
//!   [`CHANNEL_PUBLISHED`]) so idle workers and other web nodes react at once;
//!   polling stays as the fallback.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{
    PgArguments, PgConnectOptions, PgConnection, PgListener, PgPool, PgPoolOptions,
};
use sqlx::Arguments;

use super::rows::{self, Scanned};
use super::sql::{Announce, Arg, Backend, Batch, Bound, ClaimBatch, Column, Dialect, Sql, Tx};
use super::*;

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
            Arg::Rows(batch) => batch
                .columns
                .iter()
                .try_for_each(|(_, column)| match column {
                    Column::Int(v) => args.add(v),
                    Column::Float(v) => args.add(v),
                    Column::Text(v) => args.add(v),
                }),
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
    const INSERTED: &'static str = "xmax = 0";

    async fn begin_write(&self) -> Result<Tx<Self>> {
        Ok(self.pool.begin().await?)
    }

    fn pool(&self) -> &sqlx::Pool<Self::Db> {
        &self.pool
    }

    /// Streams a binary `COPY` of the query (read in place by
    /// [`pg_copy`](super::pg_copy), five times cheaper than sqlx's rows) on a
    /// connection of its own, so a scan neither holds one of the pool's for
    /// seconds nor warns of a slow statement.
    ///
    /// In two stages: the protocol (one `CopyData` message per row, 2,000,000
    /// of them) on a runtime task, the decoding and `visit` here on the
    /// caller's blocking thread, with batches of chunks handed between them.
    /// In one stage the caller's thread did both, and the register's read was
    /// that thread's speed, however idle the second core.
    fn scan(&self, sql: &str, visit: &mut dyn FnMut(&dyn Scanned)) -> Result<()> {
        use futures::TryStreamExt;
        /// Chunks (rows) per hand-over, and hand-overs in flight.
        const BATCH: usize = 1024;
        const IN_FLIGHT: usize = 8;
        let options = self.scan_options.clone();
        let copy = format!("COPY ({sql}) TO STDOUT (FORMAT binary)");
        let (chunks_tx, mut chunks_rx) = tokio::sync::mpsc::channel(IN_FLIGHT);
        let runtime = tokio::runtime::Handle::current();
        let protocol = runtime.spawn(async move {
            let mut conn: PgConnection = sqlx::ConnectOptions::connect(&options).await?;
            let mut chunks = conn.copy_out_raw(&copy).await?;
            let mut batch = Vec::with_capacity(BATCH);
            while let Some(chunk) = chunks.try_next().await? {
                batch.push(chunk);
                if batch.len() == BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    if chunks_tx.send(full).await.is_err() {
                        break; // the reader stopped: its error is the scan's
                    }
                }
            }
            let _ = chunks_tx.send(batch).await;
            drop(chunks);
            sqlx::Connection::close(conn).await?;
            Ok::<(), crate::error::Error>(())
        });
        let mut reader = super::pg_copy::CopyReader::default();
        let mut read = Ok(());
        while let Some(batch) = chunks_rx.blocking_recv() {
            read = batch
                .iter()
                .try_for_each(|chunk| reader.feed(chunk, visit))
                .map_err(anyhow::Error::msg);
            if read.is_err() {
                break;
            }
        }
        drop(chunks_rx);
        let streamed = runtime
            .block_on(protocol)
            .map_err(|e| anyhow::anyhow!("register scan: {e}"))?;
        read?;
        streamed?;
        reader.finish().map_err(anyhow::Error::msg)?;
        Ok(())
    }

    fn any(column: &str, param: usize) -> String {
        format!("{column} = ANY(${param})")
    }

    /// One typed array per column, from `$param` on, zipped by `UNNEST`.
    fn rows(batch: &Batch<'_>, param: usize) -> String {
        let (mut arrays, mut names) = (Vec::new(), Vec::new());
        for (i, (name, column)) in batch.columns.iter().enumerate() {
            arrays.push(format!("CAST(${} AS {}[])", param + i, column.sql_type()));
            names.push(*name);
        }
        format!(
            "SELECT * FROM UNNEST({}) AS b({})",
            arrays.join(", "),
            names.join(", ")
        )
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
        .fetch_all(&mut self.read().await?)
        .await
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
}
