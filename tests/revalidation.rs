//! Conditional GETs (RFC 9110 §13.1.2) on the status pages and the IVR: every
//! form of `If-None-Match` a browser, a cache or an IVR platform may send gets
//! `304 Not Modified` when it names the current representation — one tag, a
//! list, several header lines, `*`, a weak tag — and a full answer otherwise.

mod support;

use support::app::{TestApp, Town};

async fn get(app: &TestApp, path: &str, if_none_match: &[&str]) -> reqwest::Response {
    // The IVR's token (answers by number need it; the rest ignore it).
    let mut r = app.http.get(app.url(path)).bearer_auth(&app.ivr_token);
    // Each call adds a header line of its own (reqwest appends).
    for line in if_none_match {
        r = r.header("If-None-Match", *line);
    }
    r.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_ivr_answers_revalidate_with_every_form_of_if_none_match() {
    let app = TestApp::spawn().await;
    app.import_town(&Town).await;
    let outage = app.declare(&app.water_outage(Town::rect(0, 1, 0, 0))).await;
    let reference = outage["reference"].as_str().unwrap();
    for path in [
        "/".to_string(),
        format!("/o/{reference}?lang=en"),
        "/search?q=kossuth".to_string(),
        "/ivr/v1/status?postcode=1111".to_string(),
        "/ivr/v1/status?phone=%2B36301000000&format=vxml".to_string(),
        "/ivr/v1/feed".to_string(),
    ] {
        let first = get(&app, &path, &[]).await;
        assert_eq!(first.status(), 200, "{path}");
        let tag = first.headers()["etag"].to_str().unwrap().to_string();
        assert!(
            tag.starts_with('"') && tag.ends_with('"'),
            "{path}: a strong tag {tag}"
        );
        let list = format!("\"elsewhere-1\", {tag}, \"elsewhere-2\"");
        let weak = format!("W/{tag}");
        let weak_in_list = format!("W/\"elsewhere\", {weak}");
        for (what, lines) in [
            ("the tag", vec![tag.as_str()]),
            ("two header lines, tag second", vec!["\"elsewhere\"", &tag]),
            ("two header lines, tag first", vec![&tag, "\"elsewhere\""]),
            ("a list", vec![list.as_str()]),
            ("*", vec!["*"]),
            ("a weak tag", vec![weak.as_str()]),
            ("a weak tag in a list", vec![weak_in_list.as_str()]),
        ] {
            let r = get(&app, &path, &lines).await;
            assert_eq!(r.status(), 304, "{path}: {what}: {lines:?}");
            assert_eq!(r.headers()["etag"].to_str().unwrap(), tag, "{path}: {what}");
            assert!(r.headers().contains_key("cache-control"), "{path}: {what}");
            assert!(r.bytes().await.unwrap().is_empty(), "{path}: {what}");
        }
        for (what, lines) in [
            ("another tag", vec!["\"elsewhere\""]),
            (
                "two other lines",
                vec!["\"elsewhere-1\"", "\"elsewhere-2\""],
            ),
            ("the tag unquoted", vec![tag.trim_matches('"')]),
            ("a lowercase weak prefix", vec![&*format!("w/{tag}")]),
        ] {
            let r = get(&app, &path, &lines).await;
            assert_eq!(r.status(), 200, "{path}: {what}: {lines:?}");
            assert!(!r.bytes().await.unwrap().is_empty(), "{path}: {what}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_does_not_exist_is_never_not_modified() {
    let app = TestApp::spawn().await;
    app.import_town(&Town).await;
    app.declare(&app.water_outage(Town::rect(0, 1, 0, 0))).await;
    let missing = "/o/XX-0000-0";
    let first = get(&app, missing, &[]).await;
    assert_eq!(first.status(), 404);
    // A 404 ignores preconditions (RFC 9110 §13.2.1): it carries no tag to send
    // back, and `*` ("any current representation") has nothing to match.
    assert!(first.headers().get("etag").is_none());
    let r = get(&app, missing, &["*"]).await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("<html"));
    // While the page that does exist answers `*` with a 304, rendered or cached.
    let (_, v) = app.get_json("/api/v1/outages").await;
    let reference = v["outages"][0]["reference"].as_str().unwrap();
    for _ in 0..2 {
        let r = get(&app, &format!("/o/{reference}"), &["*"]).await;
        assert_eq!(r.status(), 304);
        assert!(r.headers().contains_key("etag"));
    }
}

/// Parameters a page or answer does not read change nothing: `/?x=1` … `/?x=5000`
/// are the page `/`, one render kept and one ETag (issue 10, item 6).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_parameters_share_one_cache_entry_and_one_etag() {
    let app = TestApp::spawn().await;
    app.import_town(&Town).await;
    app.declare(&app.water_outage(Town::rect(0, 1, 0, 0))).await;
    for (base, cache) in [
        ("/?", "pages"),
        ("/ivr/v1/status?postcode=1111&", "ivr_answers"),
    ] {
        let plain = get(&app, base.trim_end_matches(['?', '&']), &[]).await;
        let tag = plain.headers()["etag"].to_str().unwrap().to_string();
        let usage = || match cache {
            "pages" => app.state().pages.usage(),
            _ => app.state().ivr_answers.usage(),
        };
        let before = usage();
        for n in 0..5_000 {
            let r = get(&app, &format!("{base}x={n}&utm_source=s{n}"), &[]).await;
            assert_eq!(r.status(), 200);
            assert_eq!(r.headers()["etag"].to_str().unwrap(), tag, "x={n}");
        }
        assert_eq!(usage(), before, "{cache}: still one entry for the page");
        assert_eq!(before.0, 1, "{cache}: {before:?}");
    }
}
