//! The SQLite backend: the embedded default. Statements both databases run
//! alike are in `shared.rs`; here are the hooks they need and what SQLite does
//! its own way.
//!
//! WAL journal, a busy timeout, and `BEGIN IMMEDIATE` for every transaction that
//! writes, so writers queue on the lock instead of failing on upgrade (and a
//! write transaction never needs row locks: it holds the whole database). A
//! process writes through one connection of its own, so queued writers never
//! hold the connections reads need. Instants
//! are INTEGER milliseconds; lists travel as one JSON array through `json_each`,
//! which keeps bulk statements to a single round trip. Other processes sharing
//! the file learn of changes by polling: SQLite cannot announce them.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Arguments, SqliteConnection};

use super::rows::{self, Scanned};
use super::sql::{json, Announce, Arg, Backend, Batch, Bound, ClaimBatch, Dialect, Sql, Tx};
use super::*;

pub(super) struct Sqlite {
    /// Reads, and writes that are a statement of their own.
    pool: SqlitePool,
    /// The one connection this process writes through: SQLite lets one
    /// writer in at a time anyway, and writers queued here wait without
    /// holding one of the readers' connections. When they took those (a
    /// storm's delivery reports, each waiting on the lock while another
    /// process's fan-out held it), reads such as the published version's
    /// re-read found no connection, and every page and IVR answer waited.
    writer: SqlitePool,
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
        let pool_options = |connections: u32| {
            SqlitePoolOptions::new()
                .max_connections(connections)
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
        };
        let pool = pool_options(config.max_connections.max(2))
            .connect_with(options.clone())
            .await?;
        // Writers queue for the connection, then for the lock: as long as both
        // waits may take, together.
        let writer = pool_options(1)
            .acquire_timeout(Duration::from_millis(
                config.acquire_timeout_ms + config.busy_timeout_ms,
            ))
            .connect_with(options)
            .await?;
        Ok(Sqlite {
            pool,
            writer,
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
            Arg::Rows(batch) => args.add(batch.json_rows()),
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
    const INSERTED: &'static str = "NULL";

    fn pool(&self) -> &sqlx::Pool<Self::Db> {
        &self.pool
    }

    /// `BEGIN IMMEDIATE` takes SQLite's write lock at once, so writers queue on
    /// it instead of failing to upgrade a read lock.
    async fn begin_write(&self) -> Result<Tx<Self>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    fn any(column: &str, param: usize) -> String {
        format!("{column} IN (SELECT value FROM json_each(${param}))")
    }

    /// Each row of the JSON array is read once, by position (`->>`).
    fn rows(batch: &Batch<'_>, param: usize) -> String {
        let columns: Vec<String> = batch
            .columns
            .iter()
            .enumerate()
            .map(|(i, (name, column))| {
                format!("CAST(value ->> {i} AS {}) AS {name}", column.sql_type())
            })
            .collect();
        format!("SELECT {} FROM json_each(${param})", columns.join(", "))
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

    /// The claim commits on its own before anything is sent: a crash after this
    /// point leaves a lease that expires, never a lost message. A single
    /// statement is its own transaction, and takes the write lock.
    async fn claim(&self, batch: ClaimBatch) -> Result<Vec<ClaimedDelivery>> {
        let mut conn = self.writer.acquire().await?;
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
        .fetch_all(&mut conn)
        .await
    }

    async fn listen(&self, _on: OnChange) -> Result<bool> {
        Ok(false)
    }
}
