//! Who may ask what (issue 10, items 1 and 8): a caller's number is personal
//! data, so answers by number and "press 2" need an `ivr` (or operator) token;
//! an `ivr` token opens nothing else; the public modes say nothing about
//! contacts; tokens expire and are revoked on every node within a second.

mod support;

use std::time::Duration;

use herald::app::Server;
use herald::auth::Role;
use serde_json::{json, Value};
use support::app::{new_token, TestApp, Town};

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> (u16, String) {
    let mut r = app.http.get(app.url(path));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// "Press 2" as the phone platform asks for it, with its token.
async fn press_2(app: &TestApp, phone: &str) -> u16 {
    app.http
        .post(app.url(&format!("/ivr/v1/sms?phone={phone}")))
        .bearer_auth(&app.ivr_token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn field(body: &str) -> Value {
    serde_json::from_str::<Value>(body).unwrap()["error"]["field"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_by_number_need_an_ivr_token_and_it_opens_nothing_else() {
    let app = TestApp::spawn().await;
    app.import_town(&Town).await;
    app.declare(&app.water_outage(Town::rect(0, 1, 0, 0))).await;
    let phone = "/ivr/v1/status?phone=%2B36301000000&format=json";

    // No token, a wrong one, a malformed header: 401, and the same for any
    // number, registered or not, readable or not (no oracle).
    for (path, token) in [
        (phone, None),
        (phone, Some("hrld_not-a-token")),
        ("/ivr/v1/status?phone=%2B36309999999", None),
        ("/ivr/v1/status?phone=anonymous", None),
        ("/ivr/v1/sms?phone=%2B36301000000", None),
        (
            "/ivr/v1/sms?phone=%2B36301000000&sig=00112233445566778899aabbccddeeff",
            None,
        ),
    ] {
        let (status, body) = get(&app, path, token).await;
        assert_eq!(status, 401, "{path}: {body}");
        assert_eq!(field(&body), "Authorization", "{body}");
        assert!(!body.contains("Budapest"), "{body}");
    }
    let r = app.http.get(app.url(phone)).send().await.unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    // A caller's answer is for the caller's client only; a postcode's for anyone.
    for (path, cache) in [
        (phone, "private, max-age=5"),
        ("/ivr/v1/status?postcode=1111", "public, max-age=5"),
    ] {
        let r = app
            .http
            .get(app.url(path))
            .bearer_auth(&app.ivr_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["cache-control"], cache, "{path}");
    }

    // The phone platform's token answers; so does an operator's.
    for token in [&app.ivr_token, &app.token] {
        let (status, body) = get(&app, phone, Some(token)).await;
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (v["known"].as_bool(), v["affected"].as_bool()),
            (Some(true), Some(true))
        );
        // Not the street address unless `ivr.speak_address`.
        assert_eq!(v["place"], "az Ön címe (Budapest)");
        assert!(!body.contains("Kossuth"), "{body}");
    }

    // An ivr token gets 403 on every operator endpoint.
    for (method, path) in [
        ("GET", "/api/v1/outages"),
        ("POST", "/api/v1/outages"),
        ("GET", "/api/v1/outages/1/deliveries"),
        ("POST", "/api/v1/contacts/import"),
    ] {
        let r = app
            .http
            .request(method.parse().unwrap(), app.url(path))
            .bearer_auth(&app.ivr_token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{method} {path}");
        let body = r.text().await.unwrap();
        assert!(body.contains("ivr"), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_street_address_is_spoken_only_when_configured() {
    let app = TestApp::spawn_with(|c| c.ivr.speak_address = true).await;
    app.import_town(&Town).await;
    app.declare(&app.water_outage(Town::rect(0, 1, 0, 0))).await;
    let (status, body) = get(
        &app,
        "/ivr/v1/status?phone=%2B36301000000&format=text",
        Some(&app.ivr_token),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("Kossuth Lajos utca 1, Budapest"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_modes_answer_the_same_whoever_is_registered() {
    let app = TestApp::spawn().await;
    app.import_town(&Town).await;
    app.declare(&app.water_outage(Town::rect(0, 1, 0, 0))).await;
    let public = [
        "/ivr/v1/status?postcode=1111&format=json",
        "/ivr/v1/status?address_id=T0&format=json",
        "/ivr/v1/status?address_id=T1&format=json",
        "/ivr/v1/status?lat=47.0&lon=19.0&format=json",
        "/ivr/v1/feed",
    ];
    let mut before = Vec::new();
    for path in public {
        let (status, body) = get(&app, path, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert!(
            !body.contains("+3630") && !body.contains("town.test"),
            "{body}"
        );
        before.push(body);
    }
    // T1 has no SMS contact; give it one, and opt T0's out: nothing public moves.
    let (s, v) = app
        .post_body(
            "/api/v1/contacts/import",
            "address_external_id,channel,destination,language\nT1,sms,+36301009999,pl\n",
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let token = app.unsubscribe_token("+36301000000").await;
    app.one_click_unsubscribe(&app.url(&format!("/unsubscribe/{token}")))
        .await;
    for (path, earlier) in public.iter().zip(before) {
        let (_, body) = get(&app, path, None).await;
        // The feed carries its generation time; compare without it.
        let strip = |b: &str| {
            let mut v: Value = serde_json::from_str(b).unwrap();
            // A contact import moves the published version (answers by number
            // depend on contacts); it says nothing about who.
            let o = v.as_object_mut().unwrap();
            o.remove("generated_at");
            o.remove("version");
            v
        };
        assert_eq!(strip(&body), strip(&earlier), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn press_2_texts_a_consenting_contact_once_per_outage() {
    let app = TestApp::spawn().await;
    app.import_town(&Town).await;
    let outage = app.declare(&app.water_outage(Town::rect(0, 3, 0, 0))).await;
    let id = outage["id"].as_i64().unwrap();
    app.drain().await;
    let sent = |phone: &str| app.sms.messages_to(phone).len();

    // The link in the VoiceXML answer carries its own signature: the VoiceXML
    // browser follows it without a bearer header.
    let vxml = get(
        &app,
        "/ivr/v1/status?phone=%2B36301000000&format=vxml",
        Some(&app.ivr_token),
    )
    .await
    .1;
    let link = support::xml::press_2_link(&vxml);
    assert!(link.contains("sig="), "{link}");
    let before = sent("+36301000000");
    let r = app.http.post(&link).send().await.unwrap();
    assert_eq!(r.status(), 200, "{link}");
    assert_eq!(app.drain().await.sms.sent, 1);
    assert_eq!(sent("+36301000000"), before + 1);

    // A signature is for its own number only.
    let other = link.replace("%2B36301000000", "%2B36301000002");
    assert_eq!(app.http.post(&other).send().await.unwrap().status(), 401);

    // Once per outage and number: a new ETR does not open another one.
    let (s, _) = app
        .patch_json(
            &format!("/api/v1/outages/{id}"),
            &json!({"etr": app.tomorrow_at(20, 0)}),
        )
        .await;
    assert_eq!(s, 200);
    app.drain().await;
    let after_update = sent("+36301000000");
    for _ in 0..3 {
        assert_eq!(press_2(&app, "%2B36301000000").await, 200);
    }
    assert_eq!(app.drain().await.sent(), 0);
    assert_eq!(sent("+36301000000"), after_update);

    // A contact who opted out gets nothing, though the answer is the same.
    let token = app.unsubscribe_token("+36301000002").await;
    app.one_click_unsubscribe(&app.url(&format!("/unsubscribe/{token}")))
        .await;
    let before = sent("+36301000002");
    assert_eq!(press_2(&app, "%2B36301000002").await, 200);
    app.drain().await;
    assert_eq!(sent("+36301000002"), before);
    // Nor does a number nobody registered.
    let total = app.sms.count();
    assert_eq!(press_2(&app, "%2B36309999999").await, 200);
    app.drain().await;
    assert_eq!(app.sms.count(), total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refused_at_once() {
    let app = TestApp::spawn().await;
    let expires = app.now() + chrono::Duration::hours(1);
    let token = new_token(app.state(), "short", Role::Operator, Some(expires)).await;
    assert_eq!(get(&app, "/api/v1/outages", Some(&token)).await.0, 200);
    app.advance(Duration::from_secs(3_599));
    assert_eq!(get(&app, "/api/v1/outages", Some(&token)).await.0, 200);
    app.advance(Duration::from_secs(1));
    let (status, body) = get(&app, "/api/v1/outages", Some(&token)).await;
    assert_eq!(status, 401, "{body}");
    // Its use was recorded; the list shows it, never the secret.
    let listed = app.state().store.tokens().await.unwrap();
    let short = listed.iter().find(|t| t.name == "short").unwrap();
    assert!(short.last_used_at.is_some());
    assert!(!serde_json::to_string(&listed)
        .unwrap()
        .contains(&token[5..]));
    // A name in use cannot be taken twice; an expired one can.
    let again = herald::auth::new_api_token();
    let in_use = app
        .state()
        .store
        .create_token(&herald::store::NewToken {
            name: "test",
            token_hash: &herald::auth::hash_token(&again),
            role: Role::Operator,
            operator_id: None,
            expires_at: None,
            now: app.now(),
        })
        .await;
    assert!(
        matches!(in_use, Err(herald::error::Error::Conflict(_))),
        "{in_use:?}"
    );
    new_token(app.state(), "short", Role::Ivr, None).await;
}

/// Revocation through the store (as `herald token revoke` does) while two
/// nodes serve: both refuse the token within a second. Live nodes, since the
/// question is about processes sharing a database in real time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_refused_by_every_node_within_a_second() {
    let app = TestApp::spawn_live(|c| c.run_workers = false).await;
    let mut config = app.config.clone();
    config.database_url = Some(app.config.database_url().into());
    let b = Server::start(config).await.expect("second node");
    let bases = [app.base.clone(), format!("http://{}", b.addr)];
    let ivr = "/ivr/v1/status?phone=%2B36301000000";
    let status = |base: &str, path: &str, token: &str| {
        let r = app.http.get(format!("{base}{path}")).bearer_auth(token);
        async move { r.send().await.unwrap().status().as_u16() }
    };
    // Both nodes have read (and remembered) both tokens.
    for base in &bases {
        assert_eq!(status(base, "/api/v1/outages", &app.token).await, 200);
        assert_eq!(status(base, ivr, &app.ivr_token).await, 200);
    }
    for (name, path, token) in [
        ("test-ivr", ivr, &app.ivr_token),
        ("test", "/api/v1/outages", &app.token),
    ] {
        assert_eq!(
            app.state()
                .store
                .revoke_token(name, app.now())
                .await
                .unwrap(),
            1
        );
        support::within(Duration::from_secs(1), || async {
            for base in &bases {
                if status(base, path, token).await != 401 {
                    return Err(format!("{base} still accepts '{name}' after revocation"));
                }
            }
            Ok(())
        })
        .await;
    }
    assert_eq!(
        app.state()
            .store
            .revoke_token("test", app.now())
            .await
            .unwrap(),
        0
    );
    b.stop().await;
}
