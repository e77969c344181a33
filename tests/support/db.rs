//! Which database a test runs on. The test command runs every integration test
//! twice: on SQLite (a file in the test's temporary directory), and with
//! `HERALD_TEST_POSTGRES` set to a server URL (scripts/postgres starts one) on
//! PostgreSQL, where each test gets a database of its own.

use sqlx::{Connection, Executor};

/// The server the PostgreSQL pass runs against, if this is that pass.
pub fn postgres_server() -> Option<String> {
    std::env::var("HERALD_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())
}

/// A fresh, empty database for one test: `None` means the SQLite default.
pub async fn fresh_database() -> Option<String> {
    let server = postgres_server()?;
    let name = format!(
        "herald_test_{}",
        herald::auth::random_token(8).to_lowercase()
    );
    let mut admin = sqlx::PgConnection::connect(&server)
        .await
        .unwrap_or_else(|e| panic!("HERALD_TEST_POSTGRES={server} is not reachable: {e}"));
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create test database");
    let mut url = reqwest::Url::parse(&server).expect("HERALD_TEST_POSTGRES is a URL");
    url.set_path(&name);
    Some(url.to_string())
}

/// A connection of the test's own to the database the app uses, for looking
/// behind the API or acting as another node would.
pub async fn connect(url: &str) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}
