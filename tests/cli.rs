//! The `herald` binary: configuration from the environment, imports that report
//! bad rows by line and skip them, idempotent re-import, tokens shown once.

mod support;

use std::process::Command;

/// Runs `herald` on the test's database: SQLite under `dir` unless `db` names one.
fn herald_on(db: Option<&str>, dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_herald"));
    cmd.args(args)
        .current_dir(dir)
        .env("HERALD_DATA_DIR", dir.join("data"))
        .env_remove("HERALD_DATABASE_URL")
        .env("RUST_LOG", "warn");
    if let Some(url) = db {
        cmd.env("HERALD_DATABASE_URL", url);
    }
    let out = cmd.output().expect("run herald");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn migrate_import_and_token_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = support::db::fresh_database().await;
    let herald = |dir: &std::path::Path, args: &[&str]| herald_on(db.as_deref(), dir, args);
    let (ok, out, err) = herald(dir.path(), &["migrate"]);
    assert!(ok, "{out}{err}");
    if db.is_none() {
        assert!(
            dir.path().join("data/herald.db").exists(),
            "database created under HERALD_DATA_DIR"
        );
    }
    // Migrating again (as every node does on start) changes nothing.
    let (ok, out, err) = herald(dir.path(), &["migrate"]);
    assert!(ok, "{out}{err}");

    std::fs::write(
        dir.path().join("addresses.csv"),
        "external_id,street,house_number,postcode,settlement,lon,lat,utilities\n\
         A1,Fő utca,1,1011,Budapest,19.04,47.49,power;water\n\
         A2,Fő utca,2,1011,Budapest,19.04,91.5,\n\
         A3,Długa,5,80-827,Gdańsk,18.65,54.35,\n",
    )
    .unwrap();
    let (ok, out, err) = herald(dir.path(), &["import", "addresses", "addresses.csv"]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("3 rows: 2 inserted, 0 updated, 0 unchanged, 1 rejected"),
        "{out}"
    );
    assert!(out.contains("line 3: lat"), "{out}");
    let (_, out, _) = herald(dir.path(), &["import", "addresses", "addresses.csv"]);
    assert!(
        out.contains("0 inserted, 0 updated, 2 unchanged, 1 rejected"),
        "{out}"
    );
    // Strict mode imports nothing when a row is bad.
    let (ok, _, err) = herald(
        dir.path(),
        &["import", "addresses", "--strict", "addresses.csv"],
    );
    assert!(!ok);
    assert!(err.contains("line 3"), "{err}");

    std::fs::write(
        dir.path().join("contacts.csv"),
        "address_external_id,channel,destination,language\n\
         A1,sms,06 30 123 4567,hu\n\
         A3,sms,+48 512 345 678,pl\n\
         A1,email,bad-address,en\n\
         ZZ,email,x@example.com,en\n",
    )
    .unwrap();
    let (ok, out, err) = herald(dir.path(), &["import", "contacts", "contacts.csv"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("4 rows: 2 inserted"), "{out}");
    assert!(out.contains("line 4: destination"), "{out}");
    assert!(out.contains("line 5: address_external_id"), "{out}");

    let (ok, token, err) = herald(dir.path(), &["token", "create", "ops"]);
    assert!(ok, "{err}");
    assert!(token.trim().starts_with("hrld_"), "{token}");
    assert!(err.contains("shown only once"), "{err}");
    let (ok, ivr, err) = herald(
        dir.path(),
        &[
            "token",
            "create",
            "phones",
            "--role",
            "ivr",
            "--expires-in",
            "30d",
        ],
    );
    assert!(ok, "{err}");
    let (ok, _, err) = herald(dir.path(), &["token", "create", "phones"]);
    assert!(!ok && err.contains("in use"), "a name in use: {err}");
    let (ok, _, err) = herald(dir.path(), &["token", "create", "x", "--role", "admin"]);
    assert!(!ok && err.contains("operator or ivr"), "{err}");
    let (ok, _, err) = herald(
        dir.path(),
        &["token", "create", "x", "--expires-in", "soon"],
    );
    assert!(!ok && err.contains("unit"), "{err}");
    let (ok, list, err) = herald(dir.path(), &["token", "list"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = list.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("LAST USED"),
        "{list}"
    );
    let phones = lines
        .iter()
        .find(|l| l.starts_with("phones"))
        .expect("listed");
    assert!(
        phones.contains("ivr") && phones.contains(" active ") && phones.ends_with(" -"),
        "{phones}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ops ") && l.contains("operator")),
        "{list}"
    );
    for secret in [token.trim(), ivr.trim()] {
        assert!(!list.contains(&secret[5..]), "the list shows no secret");
    }
    let (ok, out, err) = herald(dir.path(), &["token", "revoke", "phones"]);
    assert!(ok && out.contains("revoked 1"), "{out}{err}");
    let (ok, _, err) = herald(dir.path(), &["token", "revoke", "phones"]);
    assert!(!ok && err.contains("no token named 'phones'"), "{err}");
    let (_, list, _) = herald(dir.path(), &["token", "list"]);
    assert!(
        list.lines()
            .any(|l| l.starts_with("phones") && l.contains(" revoked ")),
        "{list}"
    );

    // A bad configuration value is refused with its name.
    let out = Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("migrate")
        .current_dir(dir.path())
        .env("HERALD_DATA_DIR", dir.path().join("data"))
        .env("HERALD_TIME_ZONE", "Mars/Olympus")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("time_zone"));
}

#[tokio::test]
async fn migrate_is_safe_from_several_nodes_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = support::db::fresh_database().await;
    // Six nodes starting together against one new database.
    let runs: Vec<_> = (0..6)
        .map(|_| {
            let (db, path) = (db.clone(), dir.path().to_path_buf());
            std::thread::spawn(move || herald_on(db.as_deref(), &path, &["migrate"]))
        })
        .collect();
    for run in runs {
        let (ok, out, err) = run.join().unwrap();
        assert!(ok, "a concurrent migrate failed: {out}{err}");
        assert!(out.contains("up to date"), "{out}");
    }
    // And the schema works. A file naming an address twice: the later row wins.
    std::fs::write(
        dir.path().join("a.csv"),
        "external_id,street,house_number,postcode,settlement,lon,lat\n\
         A1,Fő utca,1,1011,Budapest,19.04,47.49\n\
         A1,Fő utca,3,1011,Budapest,19.04,47.49\n",
    )
    .unwrap();
    let (ok, out, err) = herald_on(db.as_deref(), dir.path(), &["import", "addresses", "a.csv"]);
    assert!(ok && out.contains("1 inserted"), "{out}{err}");
    let mut conn = support::db::connect(&match &db {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", dir.path().join("data/herald.db").display()),
    })
    .await;
    let number: String =
        sqlx::query_scalar("SELECT house_number FROM addresses WHERE external_id = 'A1'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(number, "3");
}

/// A real rural register: thousands of places without postcodes, most of them in
/// villages without streets, house numbers as registers write them (`12/A`,
/// `3-5`, `hrsz. 0123/4`). Every row imports; none is rejected.
#[tokio::test]
async fn a_register_without_postcodes_or_streets_imports_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let db = support::db::fresh_database().await;
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/villages.csv");
    let rows = std::fs::read_to_string(file).unwrap().lines().count() - 1;
    assert!(rows > 8_000, "{rows}");
    let (ok, out, err) = herald_on(db.as_deref(), dir.path(), &["import", "addresses", file]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(&format!(
            "{rows} rows: {rows} inserted, 0 updated, 0 unchanged, 0 rejected"
        )),
        "{out}"
    );
    // Strict mode agrees, and a re-import changes nothing.
    let (ok, out, err) = herald_on(
        db.as_deref(),
        dir.path(),
        &["import", "addresses", "--strict", file],
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(&format!(
            "0 inserted, 0 updated, {rows} unchanged, 0 rejected"
        )),
        "{out}"
    );
}

/// Runs `herald` with `input` on its standard input (not a terminal).
fn herald_with_input(
    db: Option<&str>,
    dir: &std::path::Path,
    args: &[&str],
    input: &str,
) -> (bool, String, String) {
    use std::io::Write;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_herald"));
    cmd.args(args)
        .current_dir(dir)
        .env("HERALD_DATA_DIR", dir.join("data"))
        .env_remove("HERALD_DATABASE_URL")
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(url) = db {
        cmd.env("HERALD_DATABASE_URL", url);
    }
    let mut child = cmd.spawn().expect("run herald");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn operators_and_their_tokens_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = support::db::fresh_database().await;
    let herald = |args: &[&str]| herald_on(db.as_deref(), dir.path(), args);
    let with_input =
        |args: &[&str], input: &str| herald_with_input(db.as_deref(), dir.path(), args, input);
    assert!(herald(&["migrate"]).0);

    // The password comes from standard input when it is not a terminal.
    let (ok, out, err) = with_input(
        &["operator", "create", "Anna", "--role", "dispatcher"],
        "correct horse battery\n",
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("dispatcher 'anna' created"), "{out}");
    let (ok, _, err) = with_input(
        &[
            "operator",
            "create",
            "anna",
            "--role",
            "viewer",
            "--password-stdin",
        ],
        "another long password\n",
    );
    assert!(
        !ok && err.contains("an operator named 'anna' exists"),
        "{err}"
    );
    let (ok, _, err) = with_input(
        &["operator", "create", "bob", "--role", "viewer"],
        "short\n",
    );
    assert!(!ok && err.contains("password"), "{err}");
    let (ok, _, err) = with_input(
        &["operator", "create", "bob", "--role", "ivr"],
        "long enough pw\n",
    );
    assert!(!ok && err.contains("role"), "{err}");

    let (ok, out, err) = herald(&["token", "create", "oms", "--operator", "anna"]);
    assert!(ok, "{out}{err}");
    assert!(out.trim().starts_with("hrld_"), "{out}");
    let (ok, _, err) = herald(&["token", "create", "x", "--role", "supervisor"]);
    assert!(!ok && err.contains("--operator"), "{err}");
    let (ok, _, err) = herald(&["token", "create", "x", "--operator", "nobody"]);
    assert!(!ok && err.contains("no operator named 'nobody'"), "{err}");
    let (_, out, _) = herald(&["token", "list"]);
    let line = out.lines().find(|l| l.starts_with("oms ")).expect("listed");
    assert!(
        line.contains("dispatcher") && line.ends_with("anna"),
        "{out}"
    );

    let (ok, out, err) = with_input(
        &["operator", "reset-password", "anna", "--password-stdin"],
        "a brand new password\n",
    );
    assert!(ok, "{out}{err}");
    let (ok, out, err) = herald(&["operator", "disable", "anna"]);
    assert!(ok, "{out}{err}");
    let (_, out, _) = herald(&["operator", "list"]);
    let line = out
        .lines()
        .find(|l| l.starts_with("anna "))
        .expect("listed");
    assert!(
        line.contains("dispatcher") && line.contains("disabled"),
        "{out}"
    );
    let (ok, _, err) = herald(&["operator", "disable", "nobody"]);
    assert!(!ok && err.contains("nobody"), "{err}");
}
