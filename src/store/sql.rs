//! What a statement written once needs from a backend: a statement with its
//! arguments ([`Sql`]), something to run it on ([`Exec`]), and the few places
//! where the two databases really differ ([`Backend`]).
//!
//! Shared statements are ordinary Rust over `B: Backend` (see `shared.rs`): the
//! SQL text is the same on both databases (placeholders `$1`, `$2` …, `CAST(… AS
//! BIGINT)`, `TRUE`), arguments are bound as [`Arg`]s, and a backend supplies
//! the hooks: how a write transaction begins, how rows are locked, how work is
//! announced to other processes, how a list or a [`Batch`] of rows is bound
//! and read. The statements that are different by nature (claiming, LISTEN,
//! migrations) are the backend's own methods.

use std::future::Future;

use sqlx::error::BoxDynError;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgQueryResult, PgRow};
use sqlx::sqlite::{SqliteQueryResult, SqliteRow};
use sqlx::{FromRow, IntoArguments};

use super::rows::{Cols, Scanned};
use super::*;
use crate::domain::DeliveryKind;
use crate::error::Error;

/// One argument of a statement.
#[derive(Debug, Clone, Copy)]
pub(super) enum Arg<'a> {
    /// An integer, or NULL.
    Int(Option<i64>),
    Float(f64),
    Bool(bool),
    /// A string, or NULL.
    Text(Option<&'a str>),
    /// A list of ids: a JSON array on SQLite (read with `json_each`), an `int8[]`
    /// on PostgreSQL. Written into SQL with [`Backend::any`].
    Ids(&'a [i64]),
    /// A list of strings, as [`Arg::Ids`].
    Texts(&'a [&'a str]),
    /// A batch of rows, read back with [`Backend::rows`]; always a statement's
    /// last argument (on PostgreSQL it takes one placeholder per column).
    Rows(&'a Batch<'a>),
}

/// `From` conversions, so that `bind` takes Herald's values as they are.
macro_rules! arg_from {
    ($($t:ty => |$v:ident| $arg:expr;)*) => {
        $(impl<'a> From<$t> for Arg<'a> {
            fn from($v: $t) -> Self {
                $arg
            }
        })*
    };
}

arg_from! {
    i64 => |v| Arg::Int(Some(v));
    Option<i64> => |v| Arg::Int(v);
    f64 => |v| Arg::Float(v);
    bool => |v| Arg::Bool(v);
    &'a str => |v| Arg::Text(Some(v));
    &'a String => |v| Arg::Text(Some(v));
    Option<&'a str> => |v| Arg::Text(v);
    &'a [i64] => |v| Arg::Ids(v);
    &'a Vec<i64> => |v| Arg::Ids(v);
    &'a [&'a str] => |v| Arg::Texts(v);
    &'a Batch<'a> => |v| Arg::Rows(v);
}

/// A batch of rows for one statement (an import batch, a worker's outcomes),
/// held column by column. Each backend binds it the way it reads fastest: a
/// JSON array of rows on SQLite (`json_each`), one typed array per column on
/// PostgreSQL (`UNNEST`, about a third cheaper than parsing the same rows from
/// `jsonb`: 16 s against 23 s to re-import 2,000,000 unchanged addresses).
#[derive(Debug, Default)]
pub(super) struct Batch<'a> {
    pub columns: Vec<(&'static str, Column<'a>)>,
}

/// One column of a [`Batch`].
#[derive(Debug)]
pub(super) enum Column<'a> {
    Int(Vec<Option<i64>>),
    Float(Vec<f64>),
    Text(Vec<Option<&'a str>>),
}

impl Column<'_> {
    /// Its type in a `CAST`, the same name on both databases.
    pub fn sql_type(&self) -> &'static str {
        match self {
            Column::Int(_) => "BIGINT",
            Column::Float(_) => "DOUBLE PRECISION",
            Column::Text(_) => "TEXT",
        }
    }

    fn len(&self) -> usize {
        match self {
            Column::Int(v) => v.len(),
            Column::Float(v) => v.len(),
            Column::Text(v) => v.len(),
        }
    }
}

impl<'a> Batch<'a> {
    pub fn int(self, name: &'static str, values: impl IntoIterator<Item = Option<i64>>) -> Self {
        self.with(name, Column::Int(values.into_iter().collect()))
    }

    pub fn float(self, name: &'static str, values: impl IntoIterator<Item = f64>) -> Self {
        self.with(name, Column::Float(values.into_iter().collect()))
    }

    pub fn text(
        self,
        name: &'static str,
        values: impl IntoIterator<Item = Option<&'a str>>,
    ) -> Self {
        self.with(name, Column::Text(values.into_iter().collect()))
    }

    fn with(mut self, name: &'static str, column: Column<'a>) -> Self {
        debug_assert!(self.columns.iter().all(|(_, c)| c.len() == column.len()));
        self.columns.push((name, column));
        self
    }

    pub fn len(&self) -> usize {
        self.columns.first().map_or(0, |(_, c)| c.len())
    }

    /// The rows as one JSON array of arrays, each in column order.
    pub fn json_rows(&self) -> String {
        let mut out = Vec::with_capacity(self.len() * 16 * self.columns.len());
        out.push(b'[');
        for row in 0..self.len() {
            if row > 0 {
                out.push(b',');
            }
            out.push(b'[');
            for (i, (_, column)) in self.columns.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let written = match column {
                    Column::Int(v) => serde_json::to_writer(&mut out, &v[row]),
                    Column::Float(v) => serde_json::to_writer(&mut out, &v[row]),
                    Column::Text(v) => serde_json::to_writer(&mut out, &v[row]),
                };
                written.expect("a number or a string serializes");
            }
            out.push(b']');
        }
        out.push(b']');
        String::from_utf8(out).expect("JSON is UTF-8")
    }
}

/// A statement and its arguments, in placeholder order.
#[derive(Debug, Clone)]
pub(super) struct Sql<'a> {
    pub text: String,
    pub args: Vec<Arg<'a>>,
}

impl<'a> Sql<'a> {
    pub fn new(text: impl Into<String>) -> Sql<'a> {
        Sql {
            text: text.into(),
            args: Vec::new(),
        }
    }

    pub fn bind(mut self, arg: impl Into<Arg<'a>>) -> Sql<'a> {
        self.args.push(arg.into());
        self
    }

    // Each runs the statement on `on`, a transaction or a pooled connection
    // (see [`Exec`]), so a statement reads as sqlx's do: the SQL, its
    // arguments, then where it runs.

    /// The rows the statement changed.
    pub async fn execute(self, on: &mut impl Exec) -> Result<u64> {
        let args = arguments(self.args)?;
        let done = sqlx::query_with(&self.text, args)
            .execute(on.executor())
            .await?;
        Ok(done.affected())
    }

    pub async fn fetch_all<T: FromCols>(self, on: &mut impl Exec) -> Result<Vec<T>> {
        let args = arguments(self.args)?;
        let rows = sqlx::query_with(&self.text, args)
            .fetch_all(on.executor())
            .await?;
        rows.iter().map(T::from_cols).collect()
    }

    /// The first row, if any (sqlx stops reading there).
    pub async fn fetch_optional<T: FromCols>(self, on: &mut impl Exec) -> Result<Option<T>> {
        let args = arguments(self.args)?;
        let row = sqlx::query_with(&self.text, args)
            .fetch_optional(on.executor())
            .await?;
        row.as_ref().map(T::from_cols).transpose()
    }

    pub async fn fetch_one<T: FromCols>(self, on: &mut impl Exec) -> Result<T> {
        self.fetch_optional(on).await?.ok_or_else(|| {
            Error::Internal(anyhow::anyhow!(
                "a statement that returns a row returned none"
            ))
        })
    }
}

/// A row type either backend can decode (`#[derive(FromRow)]` structs, tuples).
pub(super) trait Record:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}
impl<T> Record for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

/// A row type: a [`Record`], or read by position through [`Cols`] (see `rows.rs`).
pub(super) trait FromCols: Sized + Send {
    fn from_cols(row: &impl Cols) -> Result<Self>;
}

impl<R: Record> FromCols for R {
    fn from_cols(row: &impl Cols) -> Result<Self> {
        Ok(row.decode()?)
    }
}

/// What [`Exec`] needs to know of each sqlx driver: how it binds an [`Arg`]
/// and how a statement is run on its connection. Rows are read through
/// [`Cols`], results through [`Affected`]; everything else about running a
/// statement is the same code for both.
pub(super) trait Dialect: sqlx::Database<Row: Cols, QueryResult: Affected> {
    fn bind<'q>(
        args: &mut Self::Arguments<'q>,
        arg: Arg<'q>,
    ) -> std::result::Result<(), BoxDynError>;
    fn executor(conn: &mut Self::Connection) -> impl sqlx::Executor<'_, Database = Self>;
}

/// Whether an argument could be bound.
pub(super) type Bound = std::result::Result<(), BoxDynError>;

/// Rows a statement changed.
pub(super) trait Affected {
    fn affected(&self) -> u64;
}

impl Affected for SqliteQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}

impl Affected for PgQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}

/// A driver's arguments, handed to sqlx as they are.
struct Args<'q, DB: sqlx::Database>(DB::Arguments<'q>);

impl<'q, DB: sqlx::Database> IntoArguments<'q, DB> for Args<'q, DB> {
    fn into_arguments(self) -> DB::Arguments<'q> {
        self.0
    }
}

fn arguments<'q, DB: Dialect>(args: Vec<Arg<'q>>) -> Result<Args<'q, DB>> {
    debug_assert!(
        args.iter()
            .rev()
            .skip(1)
            .all(|a| !matches!(a, Arg::Rows(_))),
        "a batch is a statement's last argument"
    );
    let mut out = DB::Arguments::default();
    for arg in args {
        DB::bind(&mut out, arg)
            .map_err(|e| Error::Internal(anyhow::anyhow!("binding an argument: {e}")))?;
    }
    Ok(Args(out))
}

/// Where a statement runs: a write transaction or a pooled connection of
/// either backend.
pub(super) trait Exec: Send {
    type Db: Dialect;
    fn connection(&mut self) -> &mut <Self::Db as sqlx::Database>::Connection;
    fn executor(&mut self) -> impl sqlx::Executor<'_, Database = Self::Db> {
        Self::Db::executor(self.connection())
    }
}

impl<DB: Dialect> Exec for sqlx::Transaction<'_, DB> {
    type Db = DB;
    fn connection(&mut self) -> &mut DB::Connection {
        self
    }
}

impl<DB: Dialect> Exec for PoolConnection<DB> {
    type Db = DB;
    fn connection(&mut self) -> &mut DB::Connection {
        self
    }
}

/// A write transaction on backend `B`; dropped without commit, it rolls back.
pub(super) type Tx<B> = sqlx::Transaction<'static, <B as Backend>::Db>;
/// A pooled connection of backend `B`, for reads.
pub(super) type Conn<B> = PoolConnection<<B as Backend>::Db>;

/// What a committed transaction tells the other processes on the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Announce {
    /// Deliveries or confirmations were queued: wake idle workers.
    Work,
    /// The published state changed: web nodes re-read it.
    Published,
}

/// What a worker asks to claim: up to `limit` due deliveries of `channel`,
/// leased until `lease_until`.
#[derive(Debug, Clone, Copy)]
pub(super) struct ClaimBatch {
    pub channel: Channel,
    pub limit: u32,
    pub now: i64,
    pub lease_until: i64,
}

/// One database: its connections, its hooks, and the statements that differ.
pub(super) trait Backend: Send + Sync + 'static {
    type Db: Dialect;

    const NAME: &'static str;
    /// Appended to a `SELECT` in a write transaction whose rows the transaction
    /// decides on: `FOR UPDATE` on PostgreSQL; nothing on SQLite, where the
    /// write transaction holds the whole database.
    const ROW_LOCK: &'static str;
    /// Appended to the subquery that picks rows for a worker to take:
    /// `FOR UPDATE SKIP LOCKED` on PostgreSQL, so workers take disjoint rows
    /// without queueing on each other.
    const SKIP_LOCKED: &'static str;

    fn pool(&self) -> &sqlx::Pool<Self::Db>;
    /// A transaction that writes.
    fn begin_write(&self) -> impl Future<Output = Result<Tx<Self>>> + Send;
    /// A connection for reads.
    fn read(&self) -> impl Future<Output = Result<Conn<Self>>> + Send {
        async move { Ok(self.pool().acquire().await?) }
    }

    /// SQL condition: `column` is in the list bound at `$param` ([`Arg::Ids`],
    /// [`Arg::Texts`]).
    fn any(column: &str, param: usize) -> String;

    /// SQL query: the [`Batch`] bound at `$param` (the statement's last
    /// argument) as rows, its columns named as in the batch. A batch then takes
    /// one statement, one round trip.
    fn rows(batch: &Batch<'_>, param: usize) -> String;

    /// SQL expression in an upsert's `RETURNING`: whether the row is new
    /// (PostgreSQL's `xmax = 0`), or NULL where only its id can tell (SQLite:
    /// ids above the table's maximum before the batch).
    const INSERTED: &'static str;

    /// Tells other processes, when `tx` commits (PostgreSQL `NOTIFY`; SQLite's
    /// other processes poll).
    fn announce(tx: &mut Tx<Self>, what: Announce) -> impl Future<Output = Result<()>> + Send;

    /// Makes writers that name the same key queue behind each other until
    /// commit, across every node (PostgreSQL advisory lock; SQLite's write
    /// transaction already serializes all writers).
    fn lock_key(tx: &mut Tx<Self>, key: &str, seed: i64)
        -> impl Future<Output = Result<()>> + Send;

    fn migrate(&self) -> impl Future<Output = anyhow::Result<()>> + Send;

    /// See [`Database::after_bulk_load`].
    fn after_bulk_load(&self, table: BulkTable) -> impl Future<Output = Result<()>> + Send;

    /// See [`Database::claim`].
    fn claim(&self, batch: ClaimBatch)
        -> impl Future<Output = Result<Vec<ClaimedDelivery>>> + Send;

    /// See [`Database::listen`]; false where the database cannot announce.
    fn listen(&self, on: OnChange) -> impl Future<Output = Result<bool>> + Send;

    /// Runs `sql`, a read of a whole table, and hands each row to `visit` as it
    /// is read, holding none of them. **Blocking** (see
    /// [`Database::each_address`]). The backends differ in how: SQLite reads
    /// through a read-only connection of its own, PostgreSQL streams through
    /// sqlx (see each).
    fn scan(&self, sql: &str, visit: &mut dyn FnMut(&dyn Scanned)) -> Result<()>;
}

/// A JSON text of `value`: how SQLite binds a list.
pub(super) fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("serializes")
}

/// SQL list of the kinds, for `kind IN …`. The kinds are Herald's own enum, so
/// writing them into the statement is safe, and keeps the statement's text
/// constant per call site (one prepared statement).
pub(super) fn kinds_sql(kinds: &[DeliveryKind]) -> String {
    let quoted: Vec<String> = kinds.iter().map(|k| format!("'{}'", k.as_str())).collect();
    format!("({})", quoted.join(", "))
}
