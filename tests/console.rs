//! The dispatcher console's accounts: signing in and out, sessions that
//! expire, CSRF, lock-out, roles for sessions and for tokens that belong to an
//! operator, and the audit log of every action. On both databases.

mod support;

use std::time::Duration;

use herald::auth::Role;
use herald::domain::audit::Actor;
use herald::store::NewToken;
use serde_json::{json, Value};
use support::app::{TestApp, Town};
use support::console::{app, hidden, operator, Browser, PASSWORD};

/// A token that belongs to `operator`, as `herald token create --operator` makes.
async fn token_of(app: &TestApp, name: &str, operator: &str) -> String {
    let store = &app.state().store;
    let username = herald::domain::operator::Username::parse(operator).unwrap();
    let login = store.operator_login(&username).await.unwrap().unwrap();
    let token = herald::auth::new_api_token();
    store
        .create_token(&NewToken {
            name,
            token_hash: &herald::auth::hash_token(&token),
            role: Role::Operator,
            operator_id: Some(login.id),
            expires_at: None,
            now: app.now(),
        })
        .await
        .unwrap();
    token
}

#[tokio::test]
async fn an_operator_signs_in_sees_the_outages_and_signs_out() {
    let app = app().await;
    operator(&app, "Anna", Role::Dispatcher).await;
    let outage = app.declare(&app.water_outage(Town::rect(0, 1, 0, 1))).await;
    let reference = outage["reference"].as_str().unwrap();
    let mut b = Browser::new(&app);

    let away = b.get("/console").await;
    assert_eq!(away.status, 303);
    assert_eq!(
        away.location.as_deref(),
        Some("/console/login?next=/console")
    );

    let wrong = b.sign_in("anna", "not the password").await;
    assert_eq!(wrong.status, 401);
    assert!(
        wrong.text.contains("Wrong username or password"),
        "{}",
        wrong.text
    );
    assert!(!b.cookies.contains_key("herald_session"));

    let signed_in = b.sign_in("ANNA", PASSWORD).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.text);
    assert_eq!(signed_in.location.as_deref(), Some("/console"));
    let session = signed_in
        .set_cookies
        .iter()
        .find(|c| c.starts_with("herald_session="))
        .expect("session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(session.contains(attribute), "{session}");
    }
    assert!(!session.contains("Secure"), "plain http: {session}");

    let home = b.get("/console").await;
    assert_eq!(home.status, 200);
    assert!(home.text.contains("Signed in as anna"), "{}", home.text);
    assert!(home.text.contains(reference), "{}", home.text);
    let csrf = hidden(&home.text, "csrf");

    // Signing out needs the form's token; then the session is gone.
    let forged = b.post_form("/console/logout", &[("csrf", "guess")]).await;
    assert_eq!(forged.status, 403);
    assert_eq!(b.get("/console").await.status, 200, "still signed in");
    let out = b.post_form("/console/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 303);
    assert_eq!(b.get("/console").await.status, 303);
}

#[tokio::test]
async fn the_sign_in_form_needs_its_own_cookie_and_follows_only_console_paths() {
    let app = app().await;
    operator(&app, "anna", Role::Viewer).await;
    let mut b = Browser::new(&app);
    // Posted from elsewhere (no herald_login cookie): refused, nothing signed in.
    let forged = b
        .post_form(
            "/console/login",
            &[("username", "anna"), ("password", PASSWORD), ("csrf", "x")],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert!(forged.text.contains("expired"), "{}", forged.text);
    assert!(!b.cookies.contains_key("herald_session"));

    let form = b.get("/console/login?next=https://evil.example/").await;
    let csrf = hidden(&form.text, "csrf");
    assert_eq!(hidden(&form.text, "next"), "/console");
    let done = b
        .post_form(
            "/console/login",
            &[
                ("username", "anna"),
                ("password", PASSWORD),
                ("csrf", &csrf),
                ("next", "//evil.example"),
            ],
        )
        .await;
    assert_eq!(done.location.as_deref(), Some("/console"));
}

#[tokio::test]
async fn roles_decide_what_sessions_and_operator_tokens_may_do() {
    let app = app().await;
    for (name, role) in [
        ("vera", Role::Viewer),
        ("dan", Role::Dispatcher),
        ("sue", Role::Supervisor),
    ] {
        operator(&app, name, role).await;
    }
    let outage = app.declare(&app.water_outage(Town::rect(0, 1, 0, 1))).await;
    let id = outage["id"].as_i64().unwrap();
    let body = app.water_outage(Town::rect(2, 3, 2, 3));
    let changes: Vec<(&str, String, Value)> = vec![
        ("POST", "/api/v1/outages".into(), body.clone()),
        (
            "PATCH",
            format!("/api/v1/outages/{id}"),
            json!({"cause": "x"}),
        ),
        ("POST", format!("/api/v1/outages/{id}/restore"), json!({})),
        ("POST", format!("/api/v1/outages/{id}/cancel"), json!({})),
    ];

    // A viewer's session and token read, and get 403 on every change.
    let mut viewer = Browser::new(&app);
    assert_eq!(viewer.sign_in("vera", PASSWORD).await.status, 303);
    let csrf = viewer.csrf().await;
    assert_eq!(
        viewer
            .api("GET", "/api/v1/outages", &json!(null), None)
            .await,
        200
    );
    let viewer_token = token_of(&app, "vera-cli", "vera").await;
    for (method, path, body) in &changes {
        assert_eq!(
            viewer.api(method, path, body, Some(&csrf)).await,
            403,
            "{method} {path}"
        );
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = app
            .http
            .request(m, app.url(path))
            .bearer_auth(&viewer_token)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "viewer token: {method} {path}");
    }
    let r = app
        .http
        .get(app.url("/api/v1/outages"))
        .bearer_auth(&viewer_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // A dispatcher's session changes outages, but only with the CSRF token.
    let mut dispatcher = Browser::from(&app, "203.0.113.8");
    assert_eq!(dispatcher.sign_in("dan", PASSWORD).await.status, 303);
    let csrf = dispatcher.csrf().await;
    assert_eq!(
        dispatcher.api("POST", "/api/v1/outages", &body, None).await,
        403
    );
    assert_eq!(
        dispatcher
            .api("POST", "/api/v1/outages", &body, Some("wrong"))
            .await,
        403
    );
    assert_eq!(
        dispatcher
            .api("POST", "/api/v1/outages", &body, Some(&csrf))
            .await,
        201
    );
    // …and cannot read the audit log, by session or by token.
    assert_eq!(
        dispatcher
            .api("GET", "/api/v1/audit", &json!(null), None)
            .await,
        403
    );
    let dan_token = token_of(&app, "dan-oms", "dan").await;
    let r = app
        .http
        .get(app.url("/api/v1/audit"))
        .bearer_auth(&dan_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(dispatcher.get("/console/audit").await.status, 403);

    // A supervisor can; a token without an operator keeps working as before.
    let sue_token = token_of(&app, "sue-audit", "sue").await;
    let r = app
        .http
        .get(app.url("/api/v1/audit"))
        .bearer_auth(&sue_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(app.get_json("/api/v1/audit").await.0, 200);

    // Disabling an operator ends their sessions and stops their tokens.
    herald::operators::disable(&app.state().store, "dan", &Actor::cli(), app.now())
        .await
        .unwrap();
    assert_eq!(dispatcher.get("/console").await.status, 303);
    // Tokens are re-read within half a second (see credentials::FRESH).
    support::within(Duration::from_secs(2), || async {
        let r = app
            .http
            .get(app.url("/api/v1/outages"))
            .bearer_auth(&dan_token)
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            401 => Ok(()),
            other => Err(format!("a disabled operator's token got {other}")),
        }
    })
    .await;
    assert_eq!(dispatcher.sign_in("dan", PASSWORD).await.status, 401);
}

#[tokio::test]
async fn repeated_failures_lock_the_account_and_the_client_out_with_back_off() {
    let app = app().await;
    operator(&app, "anna", Role::Dispatcher).await;
    operator(&app, "bela", Role::Dispatcher).await;
    let mut b = Browser::new(&app);
    for _ in 0..5 {
        assert_eq!(b.sign_in("anna", "guess guess guess").await.status, 401);
    }
    // Locked for a minute: even the right password is refused, from anywhere.
    let mut elsewhere = Browser::from(&app, "198.51.100.20");
    assert_eq!(
        elsewhere.sign_in("anna", PASSWORD).await.status,
        303,
        "5 tries are free"
    );
    for _ in 0..6 {
        assert_eq!(b.sign_in("anna", "guess guess guess").await.status, 401);
    }
    assert_eq!(
        elsewhere.sign_in("anna", PASSWORD).await.status,
        401,
        "locked"
    );
    // A failure after the first lock doubles it; tries while locked do not count.
    app.advance(Duration::from_secs(61));
    assert_eq!(b.sign_in("anna", "guess guess guess").await.status, 401);
    app.advance(Duration::from_secs(61));
    assert_eq!(
        elsewhere.sign_in("anna", PASSWORD).await.status,
        401,
        "locked for 2 min"
    );
    app.advance(Duration::from_secs(60));
    assert_eq!(elsewhere.sign_in("anna", PASSWORD).await.status, 303);

    // More than twenty failures from one client lock it out of every account.
    let mut guesser = Browser::from(&app, "192.0.2.99");
    for i in 0..21 {
        let name = format!("nobody{i}");
        assert_eq!(
            guesser.sign_in(&name, "guess guess guess").await.status,
            401
        );
    }
    assert_eq!(guesser.sign_in("bela", PASSWORD).await.status, 401);
    assert_eq!(
        Browser::from(&app, "192.0.2.100")
            .sign_in("bela", PASSWORD)
            .await
            .status,
        303
    );

    // A password reset lifts the account's lock.
    for _ in 0..10 {
        b.sign_in("bela", "guess guess guess").await;
    }
    let store = &app.state().store;
    herald::operators::reset_password(
        store,
        "bela",
        "a new long password".into(),
        &Actor::cli(),
        app.now(),
    )
    .await
    .unwrap();
    let mut fresh = Browser::from(&app, "192.0.2.101");
    assert_eq!(
        fresh.sign_in("bela", "a new long password").await.status,
        303
    );
}

#[tokio::test]
async fn sessions_end_when_idle_too_long_at_their_age_limit_and_everywhere_at_once() {
    let app = app().await;
    operator(&app, "anna", Role::Viewer).await;
    let mut b = Browser::new(&app);
    assert_eq!(b.sign_in("anna", PASSWORD).await.status, 303);
    app.advance(Duration::from_secs(29 * 60));
    assert_eq!(
        b.get("/console").await.status,
        200,
        "used within 30 minutes"
    );
    app.advance(Duration::from_secs(31 * 60));
    assert_eq!(b.get("/console").await.status, 303, "idle for 31 minutes");

    // Busy all night, but 12 hours is the most.
    assert_eq!(b.sign_in("anna", PASSWORD).await.status, 303);
    for _ in 0..35 {
        app.advance(Duration::from_secs(20 * 60));
        assert_eq!(b.get("/console").await.status, 200);
    }
    app.advance(Duration::from_secs(20 * 60));
    assert_eq!(
        b.get("/console").await.status,
        303,
        "12 h 0 min after sign-in"
    );

    // Sign out everywhere ends the other browser's session too.
    let mut laptop = Browser::new(&app);
    let mut desk = Browser::from(&app, "203.0.113.9");
    assert_eq!(laptop.sign_in("anna", PASSWORD).await.status, 303);
    assert_eq!(desk.sign_in("anna", PASSWORD).await.status, 303);
    let csrf = laptop.csrf().await;
    let out = laptop
        .post_form("/console/logout-everywhere", &[("csrf", &csrf)])
        .await;
    assert_eq!(out.status, 303);
    assert_eq!(desk.get("/console").await.status, 303);
    assert_eq!(laptop.get("/console").await.status, 303);
}

#[tokio::test]
async fn the_audit_log_records_who_changed_what_before_and_after() {
    let app = app().await;
    operator(&app, "anna", Role::Dispatcher).await;
    let mut b = Browser::from(&app, "203.0.113.50");
    assert_eq!(b.sign_in("anna", PASSWORD).await.status, 303);
    let csrf = b.csrf().await;
    let body = app.water_outage(Town::rect(0, 1, 0, 1));
    assert_eq!(
        b.api("POST", "/api/v1/outages", &body, Some(&csrf)).await,
        201
    );
    let (_, list) = app.get_json("/api/v1/outages").await;
    let outage = &list["outages"][0];
    let id = outage["id"].as_i64().unwrap();
    let reference = outage["reference"].as_str().unwrap();
    let etr = app.tomorrow_at(18, 0);
    let patch = json!({ "etr": etr });
    assert_eq!(
        b.api(
            "PATCH",
            &format!("/api/v1/outages/{id}"),
            &patch,
            Some(&csrf)
        )
        .await,
        200
    );
    // The operator API token restores it.
    let (status, _) = app
        .post_json(&format!("/api/v1/outages/{id}/restore"), &json!({}))
        .await;
    assert_eq!(status, 200);
    b.sign_in("anna", "wrong wrong wrong").await;

    let (status, log) = app.get_json("/api/v1/audit").await;
    assert_eq!(status, 200);
    let entries = log["entries"].as_array().unwrap();
    let find = |action: &str| {
        entries
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action} in {entries:?}"))
    };
    let declared = find("outage.declared");
    assert_eq!(declared["actor"], "anna");
    assert_eq!(declared["subject"], reference);
    assert_eq!(declared["client"], "203.0.113.50");
    assert_eq!(declared["details"]["after"]["area_vertices"], 5);
    let updated = find("outage.updated");
    let time = |v: &Value| {
        v.as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    };
    let details = &updated["details"];
    assert_eq!(
        time(&details["before"]["etr"]),
        time(&body["etr"]),
        "{updated}"
    );
    assert_eq!(
        time(&details["after"]["etr"]),
        time(&json!(etr)),
        "{updated}"
    );
    let restored = find("outage.restored");
    assert_eq!(restored["actor"], "token:test");
    assert_eq!(restored["details"]["after"]["status"], "restored");
    assert_eq!(find("session.signed_in")["actor"], "anna");
    assert_eq!(find("session.sign_in_failed")["actor"], "anna");
    assert_eq!(find("operator.created")["actor"], "cli");
    // Newest first.
    assert_eq!(entries[0]["action"], "session.sign_in_failed");

    let r = app
        .http
        .get(app.url("/api/v1/audit?format=csv"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = r.text().await.unwrap();
    assert!(
        csv.starts_with("id,at,actor,action,subject,details,client\n"),
        "{csv}"
    );
    assert!(csv.contains(",anna,outage.updated,"), "{csv}");
    let (status, err) = app.get_json("/api/v1/audit?since=yesterday").await;
    assert_eq!(status, 400);
    assert!(err.to_string().contains("since"), "{err}");
}

/// The number right after `before` in a page.
fn number_after(html: &str, before: &str) -> i64 {
    let at = html
        .find(before)
        .unwrap_or_else(|| panic!("no '{before}' in {html}"))
        + before.len();
    let digits: String = html[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after '{before}'"))
}

#[tokio::test]
async fn a_dispatcher_moves_the_etr_and_restores_after_seeing_what_each_sends() {
    let app = app().await;
    operator(&app, "dan", Role::Dispatcher).await;
    operator(&app, "vera", Role::Viewer).await;
    let outage = app.declare(&app.water_outage(Town::rect(0, 1, 0, 1))).await;
    let (id, reference) = (
        outage["id"].as_i64().unwrap(),
        outage["reference"].as_str().unwrap(),
    );
    app.drain().await;
    let told_email = app.delivery_count(id, "email", "sent").await;
    let told_sms = app.delivery_count(id, "sms", "sent").await;
    assert!(told_email > 0 && told_sms > 0);
    let page_path = format!("/console/o/{reference}");

    let mut b = Browser::new(&app);
    assert_eq!(b.sign_in("dan", PASSWORD).await.status, 303);
    let page = b.get(&page_path).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains("+1 hour") && page.text.contains("Mark as restored"),
        "{}",
        page.text
    );
    let csrf = hidden(&page.text, "csrf");
    // The +1 hour button's time: an hour after the current ETR.
    let etr_before: chrono::DateTime<chrono::Utc> =
        outage["etr"].as_str().unwrap().parse().unwrap();
    let plus_hour = (etr_before + chrono::Duration::hours(1)).to_rfc3339();
    assert!(page.text.contains(&plus_hour), "{}", page.text);

    // Review: what it sends, to how many, in every language; nothing changes yet.
    let form = [
        ("csrf", csrf.as_str()),
        ("change", "etr"),
        ("etr", plus_hour.as_str()),
    ];
    let review = b.post_form(&format!("{page_path}/review"), &form).await;
    assert_eq!(review.status, 200, "{}", review.text);
    assert_eq!(
        number_after(&review.text, "Sends to "),
        told_email,
        "{}",
        review.text
    );
    assert_eq!(number_after(&review.text, "and "), told_sms);
    for lang in ["hu", "pl", "en"] {
        assert!(
            review.text.contains(&format!("lang=\"{lang}\" aria-label")),
            "{lang}"
        );
    }
    assert!(review.text.contains(" SMS · gsm7") || review.text.contains(" SMS · ucs2"));
    assert_eq!(
        app.get_json(&format!("/api/v1/outages/{id}")).await.1["revision"],
        1
    );
    let revision = hidden(&review.text, "revision");

    // A viewer sees the page without the forms and cannot review or apply.
    let mut viewer = Browser::from(&app, "203.0.113.77");
    assert_eq!(viewer.sign_in("vera", PASSWORD).await.status, 303);
    let seen = viewer.get(&page_path).await;
    assert_eq!(seen.status, 200);
    assert!(!seen.text.contains("/review"), "{}", seen.text);
    let viewer_csrf = hidden(&seen.text, "csrf");
    let form = [
        ("csrf", viewer_csrf.as_str()),
        ("change", "restore"),
        ("revision", "1"),
    ];
    assert_eq!(
        viewer
            .post_form(&format!("{page_path}/apply"), &form)
            .await
            .status,
        403
    );

    // Confirm: without the token nothing happens; with it the ETR moves.
    let apply = |csrf: &str, revision: &str| {
        vec![
            ("csrf", csrf.to_string()),
            ("change", "etr".to_string()),
            ("etr", plus_hour.clone()),
            ("cause", String::new()),
            ("revision", revision.to_string()),
        ]
    };
    let pairs = apply("wrong", &revision);
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        b.post_form(&format!("{page_path}/apply"), &pairs)
            .await
            .status,
        403
    );
    let pairs = apply(&csrf, &revision);
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let done = b.post_form(&format!("{page_path}/apply"), &pairs).await;
    assert_eq!(done.status, 303, "{}", done.text);
    assert_eq!(
        done.location.as_deref(),
        Some(format!("{page_path}?done=1").as_str())
    );
    let (_, now) = app.get_json(&format!("/api/v1/outages/{id}")).await;
    let etr_after: chrono::DateTime<chrono::Utc> = now["etr"].as_str().unwrap().parse().unwrap();
    assert_eq!(etr_after, etr_before + chrono::Duration::hours(1));
    app.drain().await;
    assert_eq!(
        app.delivery_count(id, "email", "sent").await,
        2 * told_email,
        "one update each"
    );
    // The same review applied twice is refused: the outage moved on.
    assert_eq!(
        b.post_form(&format!("{page_path}/apply"), &pairs)
            .await
            .status,
        409
    );

    // A custom time in the utility's time zone, checked.
    let bad = [
        ("csrf", csrf.as_str()),
        ("change", "etr"),
        ("etr_local", "tomorrow"),
    ];
    let refused = b.post_form(&format!("{page_path}/review"), &bad).await;
    assert!(
        refused.status == 400 || refused.status == 422,
        "{}",
        refused.status
    );
    assert!(refused.text.contains("etr_local"), "{}", refused.text);
    // A cause is held to the same rules as through the API (no control characters).
    let bad = [
        ("csrf", csrf.as_str()),
        ("change", "cause"),
        ("cause", "bell \u{7}"),
    ];
    let refused = b.post_form(&format!("{page_path}/review"), &bad).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(
        refused.text.contains("control characters"),
        "{}",
        refused.text
    );

    // Restore, reviewed then confirmed.
    let form = [("csrf", csrf.as_str()), ("change", "restore")];
    let review = b.post_form(&format!("{page_path}/review"), &form).await;
    assert!(review.text.contains("Status: restored"), "{}", review.text);
    let revision = hidden(&review.text, "revision");
    let form = [
        ("csrf", csrf.as_str()),
        ("change", "restore"),
        ("revision", revision.as_str()),
    ];
    assert_eq!(
        b.post_form(&format!("{page_path}/apply"), &form)
            .await
            .status,
        303
    );
    let (_, ended) = app.get_json(&format!("/api/v1/outages/{id}")).await;
    assert_eq!(ended["status"], "restored");
    let after = b.get(&page_path).await;
    assert!(
        !after.text.contains("/review"),
        "an ended outage offers no changes"
    );

    // Each change is in the audit log under the dispatcher's name.
    let (_, log) = app.get_json("/api/v1/audit").await;
    let by_dan: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "dan" && e["subject"] == reference)
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(by_dan, ["outage.restored", "outage.updated"]);
}

#[tokio::test]
async fn failed_messages_are_listed_with_reasons_exported_and_retried() {
    let app = app().await;
    operator(&app, "dan", Role::Dispatcher).await;
    operator(&app, "vera", Role::Viewer).await;
    // A policy refusal (not of the address itself, which would mark it
    // undeliverable and hold later messages back): worth retrying by hand.
    app.smtp
        .reject_recipient(&Town::email(0), 554, "5.7.1 Message refused by policy");
    let outage = app.declare(&app.water_outage(Town::rect(0, 1, 0, 0))).await;
    let (id, reference) = (
        outage["id"].as_i64().unwrap(),
        outage["reference"].as_str().unwrap(),
    );
    let r = app.drain().await;
    assert_eq!(r.email.dead, 1, "{r:?}");
    let page_path = format!("/console/o/{reference}");

    let mut viewer = Browser::new(&app);
    assert_eq!(viewer.sign_in("vera", PASSWORD).await.status, 303);
    let seen = viewer.get(&page_path).await;
    assert!(
        seen.text.contains(&Town::email(0)) && seen.text.contains("refused by policy"),
        "{}",
        seen.text
    );
    assert!(!seen.text.contains("retry-dead"), "a viewer cannot retry");

    // The export: every delivery, one line each, with its state and reason.
    let csv = viewer.get(&format!("{page_path}/deliveries.csv")).await;
    assert_eq!(csv.status, 200);
    let lines: Vec<&str> = csv.text.lines().collect();
    assert!(
        lines[0].starts_with("id,revision,kind,channel,destination,state"),
        "{}",
        csv.text
    );
    let sent =
        app.delivery_count(id, "email", "sent").await + app.delivery_count(id, "sms", "sent").await;
    assert_eq!(lines.len() as i64 - 1, sent + 1, "{}", csv.text);
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&Town::email(0)) && l.contains(",dead,")),
        "{}",
        csv.text
    );

    let mut b = Browser::from(&app, "203.0.113.60");
    assert_eq!(b.sign_in("dan", PASSWORD).await.status, 303);
    let page = b.get(&page_path).await;
    let csrf = hidden(&page.text, "csrf");
    assert!(page.text.contains("retry-dead"));
    assert_eq!(
        b.post_form(&format!("{page_path}/retry-dead"), &[("csrf", "x")])
            .await
            .status,
        403
    );
    let retried = b
        .post_form(&format!("{page_path}/retry-dead"), &[("csrf", &csrf)])
        .await;
    assert_eq!(retried.status, 303);
    assert_eq!(app.delivery_count(id, "email", "pending").await, 1);
    assert_eq!(app.delivery_count(id, "email", "dead").await, 0);
    // Tried again (the mailbox still refuses): dead again after one attempt.
    let r = app.drain().await;
    assert_eq!((r.email.dead, r.email.total()), (1, 1), "{r:?}");
    // The API does the same for an integrator.
    let (status, v) = app
        .post_json(&format!("/api/v1/outages/{id}/retry-dead"), &json!({}))
        .await;
    assert_eq!((status, v["retried"].as_i64()), (200, Some(1)));
    let (_, log) = app.get_json("/api/v1/audit").await;
    let retries: Vec<&Value> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "deliveries.dead_retried")
        .collect();
    assert_eq!(retries.len(), 2);
    assert_eq!(retries[1]["actor"], "dan");
    assert_eq!(retries[0]["details"]["retried"], 1);
}

/// The outage page's figures stay current through `…/live`, which the page's
/// script polls: deliveries by channel and state and the IVR's callers, and
/// the revision that tells the page it is out of date.
#[tokio::test]
async fn the_dashboard_follows_the_fan_out_and_the_callers_live() {
    let app = app().await;
    operator(&app, "vera", Role::Viewer).await;
    let outage = app.declare(&app.water_outage(Town::rect(0, 1, 0, 0))).await;
    let (id, reference) = (
        outage["id"].as_i64().unwrap(),
        outage["reference"].as_str().unwrap(),
    );
    let live_path = format!("/console/o/{reference}/live");

    // Without a session: to the sign-in page, as every console page.
    let mut anonymous = Browser::new(&app);
    assert_eq!(anonymous.get(&live_path).await.status, 303);

    let mut b = Browser::new(&app);
    assert_eq!(b.sign_in("vera", PASSWORD).await.status, 303);
    let page = b.get(&format!("/console/o/{reference}")).await;
    for needle in [
        format!("data-live-url=\"{live_path}\""),
        "data-revision=\"1\"".to_string(),
        "data-live=\"email-pending\">2<".to_string(),
        "Who called before being told".to_string(),
        "<script src=\"/static/console.js\" defer></script>".to_string(),
    ] {
        assert!(page.text.contains(&needle), "{needle} not in {}", page.text);
    }
    let script = b.get("/static/console.js").await;
    assert_eq!(script.status, 200);
    assert!(script.text.contains("data-live"), "{}", script.text);

    let live = |text: &str| -> Value { serde_json::from_str(text).unwrap() };
    let before = live(&b.get(&live_path).await.text);
    assert_eq!(before["revision"], 1);
    // Declared through the API: its messages go at once, there is nothing to undo.
    assert_eq!(before["undo"], false);
    assert!(!page.text.contains("Undo: send nothing"));
    assert_eq!(before["cells"]["email-pending"], "2");
    assert_eq!(before["cells"]["email-sent"], "0");
    assert_eq!(before["cells"]["sms-pending"], "1");
    assert_eq!(before["cells"]["calls-callers"], "0");
    assert_eq!(before["cells"]["calls-share"], "none yet");

    app.advance_and_drain(Duration::from_secs(60)).await;
    app.advance(Duration::from_secs(25 * 60));
    // T0, told 25 minutes ago, calls the phone system.
    let r = app
        .http
        .get(app.url(&format!(
            "/ivr/v1/status?phone={}",
            Town::phone(0).replace('+', "%2B")
        )))
        .bearer_auth(&app.ivr_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let after = live(&b.get(&live_path).await.text);
    assert_eq!(after["cells"]["email-pending"], "0");
    assert_eq!(after["cells"]["email-sent"], "2");
    assert_eq!(after["cells"]["sms-sent"], "1");
    assert_eq!(after["cells"]["calls-callers"], "1");
    assert_eq!(after["cells"]["calls-told"], "1");
    assert_eq!(after["cells"]["calls-share"], "100%");
    assert_eq!(after["cells"]["calls-lead"], "25 min");
    assert_eq!(after["dead"], 0);

    // A change elsewhere moves the revision: the page offers a reload.
    let (status, _) = app
        .patch_json(&format!("/api/v1/outages/{id}"), &json!({"etr": null}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(live(&b.get(&live_path).await.text)["revision"], 2);
}

/// `?lang=` on any console page (as the language links add it) answers in
/// that language, and the choice sticks for the pages after.
#[tokio::test]
async fn the_console_speaks_the_language_chosen() {
    let app = app().await;
    operator(&app, "vera", Role::Viewer).await;
    let mut b = Browser::new(&app);
    let login = b.get("/console/login?lang=hu").await;
    assert!(login.text.contains("Bejelentkezés"), "{}", login.text);
    b.sign_in("vera", PASSWORD).await;
    let page = b.get("/console").await;
    assert!(page.text.contains("<h1>Üzemzavarok</h1>"), "{}", page.text);
    let page = b.get("/console?lang=pl").await;
    assert!(page.text.contains("<h1>Awarie</h1>"), "{}", page.text);
    assert!(
        page.set_cookies
            .iter()
            .any(|c| c.starts_with("herald_lang=pl;")),
        "{:?}",
        page.set_cookies
    );
    let page = b.get("/console").await;
    assert!(page.text.contains("<h1>Awarie</h1>"), "{}", page.text);
    assert!(page.text.contains("lang=\"pl\""));
}

/// The extra message is changed from the outage page like the rest: reviewed
/// with every language's rendering, then sent to those already told.
#[tokio::test]
async fn a_dispatcher_changes_the_extra_message_after_reviewing_it() {
    const HU: &str = "Lajtos kocsi a templomnál.";
    const EN: &str = "A water tanker stands at the church.";
    let app = app().await;
    operator(&app, "dan", Role::Dispatcher).await;
    let outage = app.declare(&app.water_outage(Town::rect(0, 1, 0, 0))).await;
    let reference = outage["reference"].as_str().unwrap();
    app.drain().await;
    let path = format!("/console/o/{reference}");
    let mut b = Browser::new(&app);
    b.sign_in("dan", PASSWORD).await;
    let page = b.get(&path).await;
    assert!(page.text.contains("name=\"message_pl\""), "{}", page.text);
    let csrf = hidden(&page.text, "csrf");
    let form = [
        ("csrf", csrf.as_str()),
        ("change", "message"),
        ("message_hu", HU),
        ("message_pl", ""),
        ("message_en", EN),
    ];
    let review = b.post_form(&format!("{path}/review"), &form).await;
    assert_eq!(review.status, 200, "{}", review.text);
    assert!(
        review.text.contains("The extra message changes"),
        "{}",
        review.text
    );
    assert!(
        review.text.contains(HU) && review.text.contains(EN),
        "{}",
        review.text
    );
    assert!(review
        .text
        .contains(&format!("name=\"message_en\" value=\"{EN}\"")));
    let revision = hidden(&review.text, "revision");
    let mut confirm = form.to_vec();
    confirm.push(("revision", revision.as_str()));
    let done = b.post_form(&format!("{path}/apply"), &confirm).await;
    assert_eq!(done.status, 303, "{}", done.text);
    let (_, v) = app
        .get_json(&format!("/api/v1/outages/{}", outage["id"]))
        .await;
    assert_eq!(v["revision"], 2);
    assert_eq!(v["message"]["en"], EN);
    assert!(v["message"].get("pl").is_none(), "{v}");
    let r = app.drain().await;
    assert!(r.email.sent >= 2, "{r:?}");
    let mail = app.smtp.messages_to(&Town::email(0));
    let last = mail.last().unwrap().text_body();
    assert!(last.contains(HU), "{last}");
    // The same message again is no change.
    let same = b.post_form(&format!("{path}/review"), &form).await;
    assert_eq!(same.status, 422, "{}", same.text);
    assert!(
        same.text.contains("the message it has already"),
        "{}",
        same.text
    );
}
