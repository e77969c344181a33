//! The public status pages in a real browser: Debian's Chromium (through
//! playwright-core) takes desktop and phone screenshots and runs axe-core's
//! WCAG 2.1 A/AA rules, the first Tab must reach a visible skip link, and the
//! Nu HTML Checker validates the served HTML — with hostile text in an outage's
//! cause, to show that escaping keeps the pages valid.
//!
//! `scripts/browser-setup` installs what this needs (Chromium, Java, the npm
//! packages of tests/browser). Where that cannot be done and `CI` is unset, the
//! test says so and passes; under CI it fails.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::Duration as ChronoDuration;
use serde_json::json;
use support::app::{TestApp, Town};

fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn show(out: &Output) -> String {
    format!(
        "exit: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The machine cannot run the check: fail under CI, otherwise explain and skip.
fn missing_tools(what: &str) {
    let msg = format!(
        "browser test: {what}\n\
         It needs Debian's chromium, java and node 20+ with tests/browser's npm packages; \
         run scripts/browser-setup (as root) to install them."
    );
    assert!(!in_ci(), "{msg}");
    eprintln!("SKIPPED (CI is not set): {msg}");
}

/// Runs a blocking command off the async workers, so the server keeps serving.
async fn run(mut cmd: Command) -> std::io::Result<Output> {
    tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_pages_in_a_real_browser() {
    let app = TestApp::spawn().await;
    app.import_town(&Town).await;

    let mut water = app.water_outage(Town::rect(0, 2, 0, 1));
    water["cause"] = json!("<script>alert(1)</script> burst & \"main\"");
    water["message"] = json!({
        "en": "<img src=x onerror=alert(2)> tanker on the square",
        "hu": "Lajtos kocsi a téren",
        "pl": "Beczkowóz na placu",
    });
    let water = app.declare(&water).await["reference"]
        .as_str()
        .expect("reference")
        .to_string();

    let starts = app.now() + ChronoDuration::days(2);
    let planned = json!({
        "utility": "power",
        "kind": "planned",
        "cause": "Transformer replacement <b>&</b> cable work",
        "starts_at": starts.to_rfc3339(),
        "etr": (starts + ChronoDuration::hours(5)).to_rfc3339(),
        "area": Town::rect(5, 8, 5, 7),
    });
    let planned = app.declare(&planned).await["reference"]
        .as_str()
        .expect("reference")
        .to_string();

    let search = format!("/search?q={}", encode("Kossuth Lajos utca 1, Budapest"));
    let outage = format!("/o/{water}");
    let paths = [
        "/",
        outage.as_str(),
        "/planned",
        search.as_str(),
        "/?lang=hu",
        "/?lang=pl",
        "/subscribe",
        "/subscribe?q=kossuth+12",
        "/subscribe?address=12&lang=pl",
    ];
    check(&app, &paths, None).await;
    println!("outage {water}, planned {planned}");
}

/// Runs tests/browser/check.mjs over `paths` (after scripts/browser-setup), with
/// a console session's cookie when given.
async fn check(app: &TestApp, paths: &[&str], cookie: Option<&str>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let setup = root.join("scripts/browser-setup");
    let mut cmd = Command::new(&setup);
    cmd.current_dir(root).stdin(std::process::Stdio::null());
    match run(cmd).await {
        Ok(out) if out.status.success() => {}
        Ok(out) => return missing_tools(&format!("{} failed:\n{}", setup.display(), show(&out))),
        Err(e) => return missing_tools(&format!("cannot run {}: {e}", setup.display())),
    }
    let out_dir: PathBuf = root.join("target/browser-screenshots");
    let mut cmd = Command::new("node");
    cmd.current_dir(root)
        .stdin(std::process::Stdio::null())
        .arg(root.join("tests/browser/check.mjs"))
        .arg(app.url(""))
        .arg(&out_dir)
        .args(paths);
    if let Some(cookie) = cookie {
        cmd.env("HERALD_CHECK_COOKIE", cookie);
    }
    let out = match run(cmd).await {
        Ok(out) => out,
        Err(e) => return missing_tools(&format!("cannot run node: {e}")),
    };
    // check.mjs exits 2 when it could not run at all (no browser, no java).
    if out.status.code() == Some(2) {
        return missing_tools(&format!("check.mjs could not run:\n{}", show(&out)));
    }
    assert!(
        out.status.success(),
        "browser check of {paths:?} failed:\n{}",
        show(&out)
    );
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
}

/// The dispatcher console, signed in as a supervisor (every page and form it
/// can show), and its sign-in page, through the same checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_pages_in_a_real_browser() {
    let app = TestApp::spawn().await;
    app.import_town(&Town).await;
    let mut water = app.water_outage(Town::rect(0, 2, 0, 1));
    water["cause"] = json!("<script>alert(1)</script> burst & \"main\"");
    let water = app.declare(&water).await["reference"]
        .as_str()
        .expect("reference")
        .to_string();
    app.drain().await;
    herald::operators::create(
        &app.state().store,
        "sue",
        herald::auth::Role::Supervisor,
        "correct horse battery".into(),
        &herald::domain::audit::Actor::cli(),
        app.now(),
    )
    .await
    .expect("operator");
    let signed_in = herald::operators::sign_in(
        &app.state().store,
        &app.state().server_key,
        "sue",
        "correct horse battery",
        None,
        app.now(),
    )
    .await
    .expect("signs in");
    check(&app, &["/console/login", "/console/login?lang=hu"], None).await;
    let cookie = format!("herald_session={}", signed_in.session_id);
    let outage = format!("/console/o/{water}");
    let paths = [
        "/console",
        "/console?status=active&utility=water",
        outage.as_str(),
        "/console/audit",
        "/console?lang=pl",
    ];
    check(&app, &paths, Some(&cookie)).await;
}
