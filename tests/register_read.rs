//! The whole-register read (`Database::each_address`) that builds every node's
//! in-memory register, when it fails. On PostgreSQL it is a binary `COPY`
//! streamed on a connection of its own (`store/postgres.rs`, `pg_copy.rs`): a
//! connection that cannot be opened, or that is cut mid-stream, must end the
//! read with an error (the register keeps its last build and reads again on
//! the next change), never a hang or a short register taken for the whole;
//! and the next read must be whole again. On SQLite the register is read in
//! place from the file, with no connection to lose: there the test checks
//! that the read is whole.

mod support;

use herald::store::Store;
use sqlx::{Connection, Executor};
use support::app::TestApp;

/// Addresses written straight into the table: enough that PostgreSQL is
/// still sending when the test cuts the connection (the reader holds at most
/// a few thousand rows in flight, and loopback's socket buffers a few MB).
const ON_POSTGRES: i64 = 300_000;
const ON_SQLITE: i64 = 1_000;

/// Rows written behind the API, in one statement (the register's version is
/// not moved, so the node does not start a read of its own meanwhile).
async fn fill(app: &TestApp, n: i64) {
    let rows = "SELECT 'R' || g, 'Fő utca', CAST(g AS TEXT), '1000', 'Budapest', \
                19.0 + g * 0.0000001, 47.5, 0, 0, 0";
    let sql = if app.on_postgres() {
        format!("{INSERT} {rows} FROM generate_series(1, {n}) AS g")
    } else {
        format!(
            "{INSERT} WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s \
             WHERE g < {n}) {rows} FROM s"
        )
    };
    app.db().await.execute(sql.as_str()).await.unwrap();
}

const INSERT: &str = "INSERT INTO addresses (external_id, street, house_number, postcode, \
                      settlement, lon, lat, utilities, created_at, updated_at)";

/// Reads the whole register on a blocking thread, as the register's build
/// does, calling `on_first` (on that thread) once the first row has arrived:
/// how many rows were handed over, and how the read ended.
async fn read(
    store: &Store,
    on_first: impl FnOnce() + Send + 'static,
) -> (usize, herald::error::Result<()>) {
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let mut on_first = Some(on_first);
        let mut rows = 0;
        let read = store.each_address(&mut |_| {
            rows += 1;
            if let Some(f) = on_first.take() {
                f();
            }
        });
        (rows, read)
    })
    .await
    .unwrap()
}

async fn count(app: &TestApp) -> usize {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM addresses")
        .fetch_one(&mut app.db().await)
        .await
        .unwrap();
    n as usize
}

/// Runs `sql` on a connection of the test's own to the server the PostgreSQL
/// pass runs against (as `support::db` does to create the app's database), so
/// that it may change the app's database itself.
async fn on_server(sql: &str) {
    let server = support::db::postgres_server().expect("the PostgreSQL pass");
    let mut admin = sqlx::PgConnection::connect(&server).await.unwrap();
    admin.execute(sql).await.unwrap();
}

fn database_name(app: &TestApp) -> String {
    let url = reqwest::Url::parse(&app.state().config.database_url()).unwrap();
    url.path().trim_start_matches('/').to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_register_read_cut_short_is_an_error_and_the_next_one_is_whole() {
    let app = TestApp::spawn().await;
    let store = app.state().store.clone();
    fill(
        &app,
        if app.on_postgres() {
            ON_POSTGRES
        } else {
            ON_SQLITE
        },
    )
    .await;
    let all = count(&app).await;

    let (rows, read_whole) = read(&store, || {}).await;
    read_whole.expect("a whole read");
    assert_eq!(rows, all, "every address, once");
    if !app.on_postgres() {
        return;
    }

    // Cut mid-stream: the server ends the read's connection while the reader
    // is busy with its first row.
    let url = app.state().config.database_url();
    let handle = tokio::runtime::Handle::current();
    let (rows, cut) = read(&store, move || {
        handle.block_on(async {
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            let (ended,): (i64,) = sqlx::query_as(
                "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid() \
                 AND query LIKE 'COPY%'",
            )
            .fetch_one(&mut c)
            .await
            .unwrap();
            assert_eq!(ended, 1, "the read's own connection");
        })
    })
    .await;
    assert!(
        cut.is_err(),
        "a read cut short is an error ({rows} of {all} rows)"
    );
    assert!(rows < all, "it was cut before the end ({rows} of {all})");

    // No connection to be had: the read fails at once.
    let name = database_name(&app);
    on_server(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")).await;
    let (rows, refused) = read(&store, || {}).await;
    on_server(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")).await;
    let error = refused.expect_err("no connection, no register");
    assert_eq!(rows, 0);
    assert!(
        format!("{error:#}").contains("not currently accepting connections"),
        "the database's own reason: {error:#}"
    );

    // The store goes on: the next read is whole.
    let (rows, again) = read(&store, || {}).await;
    again.expect("a whole read after the failures");
    assert_eq!(rows, all);
}
