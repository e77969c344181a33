//! The public status site: home grouped by settlement and utility, planned work,
//! the outage page with its map, "Am I affected?" search, languages, ETag/304,
//! and hostile text in outage fields rendered harmlessly everywhere.

mod support;

use chrono::Duration as ChronoDuration;
use serde_json::{json, Value};
use support::app::{TestApp, Town};

const EXTRA: &str = "external_id,street,house_number,postcode,settlement,lon,lat\n\
E1,Bartók Béla út,12/A,1114,Budapest,19.0001,47.0002\n\
E2,Bartók Béla út,43-47,1114,Budapest,19.0002,47.0002\n\
E3,Długa,5,80-827,Gdańsk,18.6500,54.3490\n\
E4,aleja Grunwaldzka,110,80-244,Gdańsk,18.6000,54.3800\n\
E5,Móricz Zsigmond körtér,3,1114,Budapest,19.0003,47.0001\n";

async fn site() -> (TestApp, String, String) {
    let app = TestApp::spawn().await;
    app.import_town(&Town).await;
    let (s, v) = app.post_body("/api/v1/addresses/import", EXTRA).await;
    assert_eq!(s, 200, "{v}");
    let mut water = app.water_outage(Town::rect(0, 1, 0, 0)); // T0, T1 and E1, E2, E5 near (19.0, 47.0)
    water["cause"] = json!("<script>alert(1)</script> burst & \"main\"");
    water["message"] =
        json!({"en": "<img src=x onerror=alert(2)> tanker on the square", "hu": "Lajtos kocsi"});
    let water = app.declare(&water).await["reference"]
        .as_str()
        .unwrap()
        .to_string();
    let gdansk = json!({
        "utility": "power", "kind": "planned", "cause": "Substation maintenance",
        "starts_at": (app.now() + ChronoDuration::days(2)).to_rfc3339(),
        "etr": (app.now() + ChronoDuration::days(2) + ChronoDuration::hours(5)).to_rfc3339(),
        "area": {"type": "Polygon", "coordinates": [[[18.64, 54.34], [18.66, 54.34], [18.66, 54.36], [18.64, 54.36], [18.64, 54.34]]]},
    });
    let planned = app.declare(&gdansk).await["reference"]
        .as_str()
        .unwrap()
        .to_string();
    (app, water, planned)
}

async fn page(
    app: &TestApp,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut r = app.http.get(app.url(path));
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let r = r.send().await.unwrap();
    let (status, h) = (r.status().as_u16(), r.headers().clone());
    (status, h, r.text().await.unwrap())
}

fn harmless(html: &str, what: &str) {
    for bad in ["<script>alert", "<img src=x", "onerror=alert(2)>"] {
        assert!(!html.contains(bad), "{what} contains {bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_planned_and_outage_pages() {
    let (app, water, planned) = site().await;
    let (s, h, home) = page(&app, "/", &[("Accept-Language", "en")]).await;
    assert_eq!(s, 200);
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert!(home.contains("<html lang=\"en\">"));
    assert!(home.contains("<h3>Budapest — Water outage</h3>"), "{home}");
    assert!(home.contains("<h3>Gdańsk — Power outage</h3>"), "{home}");
    assert!(home.contains(&water) && home.contains(&planned));
    assert!(home.contains("Addresses affected") && home.contains("Last update"));
    assert!(home.contains("<main id=\"content\">") && home.contains("<nav aria-label="));
    assert!(home.contains("<label for=\"q\">"));
    assert!(home.contains("name=\"herald-etag\"") && home.contains("/static/refresh.js"));
    assert!(home.contains("http-equiv=\"refresh\""), "no-JS fallback");
    harmless(&home, "home");

    let (_, _, plan) = page(&app, "/planned?lang=pl", &[]).await;
    assert!(
        plan.contains("Planowane wyłączenie prądu") && plan.contains(&planned),
        "{plan}"
    );
    assert!(!plan.contains(&water));

    let (s, _, o) = page(&app, &format!("/o/{water}?lang=en"), &[]).await;
    assert_eq!(s, 200);
    assert!(
        o.contains("<svg") && o.contains("role=\"img\"") && o.contains("<title id=\"map-title\">")
    );
    let dots = o.matches("<circle").count();
    let (_, v) = app.get_json(&format!("/api/v1/outages/{water}")).await;
    assert_eq!(
        dots as i64,
        v["affected_addresses"].as_i64().unwrap(),
        "one dot per affected address"
    );
    assert!(
        o.contains(" m</text>") || o.contains(" km</text>"),
        "scale bar"
    );
    assert!(
        o.contains("Kossuth Lajos utca") && o.contains("Bartók Béla út"),
        "streets listed"
    );
    assert!(o.contains("tanker on the square"));
    harmless(&o, "outage page");
    let (s, _, _) = page(&app, "/o/WA-0000-0", &[]).await;
    assert_eq!(s, 404);

    // Every other format shows the same text harmlessly too.
    let (_, _, search) = page(&app, "/search?q=kossuth+lajos+utca+1+budapest&lang=en", &[]).await;
    harmless(&search, "search");
    let (_, _, feed) = page(&app, "/ivr/v1/feed", &[]).await;
    let feed: Value = serde_json::from_str(&feed).unwrap();
    assert_eq!(
        feed["outages"][0]["cause"], "<script>alert(1)</script> burst & \"main\"",
        "JSON keeps text as data"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn am_i_affected_search() {
    let (app, water, planned) = site().await;
    let must_match = [
        (
            "Kossuth Lajos utca 1, Budapest",
            "Kossuth Lajos utca 1, 1111 Budapest",
            true,
        ),
        (
            "kossuth l. u. 1",
            "Kossuth Lajos utca 1, 1111 Budapest",
            true,
        ),
        (
            "KOSSUTH LAJOS UTCA 2 BUDAPEST",
            "Kossuth Lajos utca 2, 1111 Budapest",
            true,
        ),
        (
            "budapest kossuth lajos 2",
            "Kossuth Lajos utca 2, 1111 Budapest",
            true,
        ),
        (
            "kossuth 5 1111",
            "Kossuth Lajos utca 5, 1111 Budapest",
            false,
        ),
        (
            "Bartók Béla út 12/A",
            "Bartók Béla út 12/A, 1114 Budapest",
            true,
        ),
        (
            "bartok bela ut 12 a",
            "Bartók Béla út 12/A, 1114 Budapest",
            true,
        ),
        (
            "Bartok B. ut 45 budapest",
            "Bartók Béla út 43-47, 1114 Budapest",
            true,
        ),
        ("ul. Długa 5 Gdańsk", "Długa 5, 80-827 Gdańsk", false),
        ("dluga 5", "Długa 5, 80-827 Gdańsk", false),
        (
            "al. grunwaldzka 110",
            "aleja Grunwaldzka 110, 80-244 Gdańsk",
            false,
        ),
        (
            "moricz zs. korter 3",
            "Móricz Zsigmond körtér 3, 1114 Budapest",
            true,
        ),
    ];
    for (query, address, affected) in must_match {
        let (s, _, html) = page(
            &app,
            &format!(
                "/search?lang=en&q={}",
                query.replace(' ', "+").replace('/', "%2F")
            ),
            &[],
        )
        .await;
        assert_eq!(s, 200);
        assert!(
            html.contains(&format!("<h3>{address}</h3>")),
            "{query} should find {address}:\n{html}"
        );
        let section = html
            .split(&format!("<h3>{address}</h3>"))
            .nth(1)
            .unwrap()
            .split("</article>")
            .next()
            .unwrap();
        if affected {
            assert!(
                section.contains(&water),
                "{query}: affected by {water}: {section}"
            );
        } else if address.contains("Długa") || address.contains("Grunwaldzka") {
            assert!(!section.contains(&water), "{query}");
        } else {
            assert!(section.contains("No known outage"), "{query}: {section}");
        }
    }
    // Długa 5 is inside the planned Gdańsk work.
    let (_, _, html) = page(&app, "/search?lang=en&q=dluga+5", &[]).await;
    assert!(
        html.contains(&planned) && html.contains("Planned power cut"),
        "{html}"
    );
    for query in [
        "kossuth lajos utca 500",
        "petofi utca 1",
        "dluga 7 gdansk",
        "kossuth 1 gdansk",
        "xyz",
    ] {
        let (_, _, html) = page(
            &app,
            &format!("/search?lang=en&q={}", query.replace(' ', "+")),
            &[],
        )
        .await;
        assert!(
            html.contains("We could not find that address"),
            "{query} must not match:\n{html}"
        );
    }
    // A reference goes to its outage page, typed however.
    let r = app
        .http
        .get(app.url(&format!(
            "/search?q={}",
            water.to_lowercase().replace('-', "+")
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.url().path(), format!("/o/{water}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn languages_are_remembered_and_pages_revalidate() {
    let (app, water, _) = site().await;
    let (_, h, html) = page(&app, "/", &[("Accept-Language", "pl-PL,pl;q=0.9,en;q=0.5")]).await;
    assert!(html.contains("<html lang=\"pl\">") && html.contains("Trwające awarie"));
    assert_eq!(h["content-language"], "pl");
    // Choosing a language sets a cookie; later visits keep it over Accept-Language.
    let (_, h, html) = page(&app, "/?lang=hu", &[("Accept-Language", "pl")]).await;
    assert!(html.contains("Jelenlegi üzemzavarok"));
    let cookie = h["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(cookie, "herald_lang=hu");
    let (_, _, html) = page(
        &app,
        "/planned",
        &[("Accept-Language", "pl"), ("Cookie", &cookie)],
    )
    .await;
    assert!(html.contains("<html lang=\"hu\">"), "{html}");
    assert!(
        html.contains("href=\"/planned?lang=en\""),
        "the switcher links keep the page"
    );

    // ETag: 304 while nothing changes; a change serves the new state.
    let (_, h, _) = page(&app, "/", &[("Accept-Language", "en")]).await;
    let etag = h["etag"].to_str().unwrap().to_string();
    let (s, _, body) = page(
        &app,
        "/",
        &[("Accept-Language", "en"), ("If-None-Match", &etag)],
    )
    .await;
    assert_eq!((s, body.len()), (304, 0));
    let (_, v) = app.get_json(&format!("/api/v1/outages/{water}")).await;
    app.post_json(&format!("/api/v1/outages/{}/restore", v["id"]), &json!({}))
        .await;
    let (s, h, html) = page(
        &app,
        "/",
        &[("Accept-Language", "en"), ("If-None-Match", &etag)],
    )
    .await;
    assert_eq!(s, 200);
    assert_ne!(h["etag"].to_str().unwrap(), etag);
    assert!(
        !html.contains(&water),
        "restored outages leave the home page"
    );
    let (_, _, o) = page(&app, &format!("/o/{water}?lang=en"), &[]).await;
    assert!(o.contains("Restored"), "its page stays, marked restored");
    // The refresh script is served.
    let (s, h, js) = page(&app, "/static/refresh.js", &[]).await;
    assert_eq!(s, 200);
    assert!(h["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(js.contains("If-None-Match"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_ivr_answers_are_compressed_for_clients_that_accept_it() {
    use std::io::Read;
    let (app, water, _) = site().await;
    for path in [
        "/".to_string(),
        format!("/o/{water}"),
        "/ivr/v1/feed".to_string(),
    ] {
        let plain = app.http.get(app.url(&path)).send().await.unwrap();
        assert!(plain.headers().get("content-encoding").is_none());
        let plain = plain.bytes().await.unwrap();
        let r = app
            .http
            .get(app.url(&path))
            .header("Accept-Encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-encoding"], "gzip", "{path}");
        let packed = r.bytes().await.unwrap();
        assert!(packed.len() < plain.len(), "{path}: compressed is smaller");
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut unpacked)
            .unwrap();
        if path.starts_with("/ivr") {
            // The feed carries its generation time; compare what it says.
            let a: Value = serde_json::from_slice(&unpacked).unwrap();
            let b: Value = serde_json::from_slice(&plain).unwrap();
            assert_eq!(a["outages"], b["outages"]);
        } else {
            assert_eq!(unpacked, plain.to_vec(), "{path}");
        }
    }
}
