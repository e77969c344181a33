//! The live preview of a large area, end to end over HTTP: what the console's
//! map asks while a dispatcher draws (`POST /api/v1/outages/preview`, the same
//! lookup and counts as `POST /console/new/preview`).
//!
//! 2,000,000 synthetic addresses (`herald::synthetic`, seed 42) and 200,000
//! contacts (e-mail and SMS at every tenth address); the 5,000-vertex concave
//! region of `benches/geo_lookup.rs` around the largest town, scaled to about
//! 500,000 addresses. A server on loopback with its in-memory register built,
//! then 5 warm-up and 60 timed previews, one at a time.
//!
//!   cargo bench --bench preview                      (SQLite, the default)
//!   HERALD_DATABASE_URL=postgres://… cargo bench --bench preview
//!
//! Then the console's pages at that size, signed in (the "under 1 s" target):
//! the outage list, the outage's page and live figures, the map page and its
//! layers over the whole register.
//!
//! Environment: BENCH_ADDRESSES (2000000), BENCH_CONTACT_EVERY (10).

use std::time::Instant;

use geo::Coord;
use herald::app::Server;
use herald::auth::Role;
use herald::config::Config;
use herald::import::{self, Mode};
use herald::store::NewToken;
use serde_json::json;

#[path = "shapes.rs"]
mod shapes;
use shapes::concave;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n = env("BENCH_ADDRESSES", 2_000_000);
    let every = env("BENCH_CONTACT_EVERY", 10).max(1);
    let dir = tempfile::tempdir()?;
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        bind: "127.0.0.1:0".into(),
        run_workers: false,
        ..Config::default()
    };
    if let Ok(url) = std::env::var("HERALD_DATABASE_URL") {
        config.database_url = Some(url.into());
    }
    let server = Server::start(config).await?;
    let state = &server.state;
    println!("backend: {}", state.store.backend_name());

    let csv = dir.path().join("addresses.csv");
    herald::synthetic::write_csv(std::fs::File::create(&csv)?, n, 42)?;
    let now = chrono::Utc::now();
    let started = Instant::now();
    import::import_addresses(&state.store, import::Input::File(&csv), Mode::Skip, now).await?;
    println!(
        "imported {n} addresses in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut contacts = String::from("address_external_id,channel,destination,language\n");
    let mut k = 0;
    for (i, a) in herald::synthetic::generate(n, 42).enumerate() {
        if i % every != 0 {
            continue;
        }
        k += 1;
        let lang = ["hu", "pl", "en"][k % 3];
        if k % 2 == 0 {
            contacts.push_str(&format!(
                "{},email,p{k}@preview.example,{lang}\n",
                a.external_id
            ));
        } else {
            contacts.push_str(&format!("{},sms,+3630{:07},{lang}\n", a.external_id, k));
        }
    }
    let region = herald::domain::contact::parse_region("HU")?;
    import::import_contacts(
        &state.store,
        import::Input::Bytes(contacts.as_bytes()),
        import::ListSource {
            name: "bench",
            key: &state.server_key,
        },
        region,
        Mode::Skip,
        now,
    )
    .await?;
    println!("imported {k} contacts");

    // The region, scaled around the largest town (generated first) to hold
    // about 500,000 addresses.
    let index = state.register.address_index().await?;
    let first = herald::synthetic::generate(1, 42)
        .next()
        .expect("an address");
    let centre = Coord {
        x: first.lon,
        y: first.lat,
    };
    let (mut lo, mut hi) = (1e-4_f64, 5.0_f64);
    for _ in 0..50 {
        let mid = (lo * hi).sqrt();
        if index.count(&concave(centre, mid), 0) < n / 4 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let area = geojson::Geometry::from(&concave(centre, hi));
    let body = json!({
        "utility": "power",
        "cause": "Storm",
        "area": serde_json::to_value(&area)?,
    })
    .to_string();
    println!("area: 5000 vertices, {} bytes of GeoJSON", body.len());

    let token = herald::auth::new_api_token();
    state
        .store
        .create_token(&NewToken {
            name: "bench",
            token_hash: &herald::auth::hash_token(&token),
            role: Role::Operator,
            operator_id: None,
            expires_at: None,
            now,
        })
        .await?;
    let http = reqwest::Client::new();
    let url = format!("http://{}/api/v1/outages/preview", server.addr);
    let ask = || {
        http.post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
    };
    let mut answer = serde_json::Value::Null;
    for _ in 0..5 {
        answer = ask().await?.error_for_status()?.json().await?;
    }
    println!(
        "reaches {} addresses, {} e-mail and {} SMS contacts",
        answer["affected_addresses"], answer["contacts"]["email"], answer["contacts"]["sms"]
    );
    let mut ms = Vec::new();
    for _ in 0..60 {
        let started = Instant::now();
        let r = ask().await?.error_for_status()?;
        r.bytes().await?;
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "preview over HTTP: median {:.1} ms, p90 {:.1} ms, max {:.1} ms (60 requests)",
        percentile(&ms, 0.5),
        percentile(&ms, 0.9),
        ms[ms.len() - 1]
    );

    // The console's pages at this size, signed in: the outage list, one
    // outage's page (its area holding the 500,000 addresses and a fan-out of
    // 49,999 messages waiting), its live figures, the map page and its layers.
    let body: serde_json::Value = serde_json::from_str(&body)?;
    let (outage, _, _) = herald::outages::declare(
        &state.outages(),
        &body,
        None,
        &herald::domain::audit::Actor::cli(),
    )
    .await?;
    herald::operators::create(
        &state.store,
        "bench",
        Role::Dispatcher,
        "correct horse battery".into(),
        &herald::domain::audit::Actor::cli(),
        now,
    )
    .await?;
    let session = herald::operators::sign_in(
        &state.store,
        &state.server_key,
        "bench",
        "correct horse battery",
        None,
        chrono::Utc::now(),
    )
    .await?
    .session_id;
    let cookie = format!("herald_session={session}");
    let extent = index.extent().expect("addresses");
    let whole = format!(
        "{},{},{},{}",
        extent.min().x,
        extent.min().y,
        extent.max().x,
        extent.max().y
    );
    let base = format!("http://{}", server.addr);
    let pages = [
        "/console".to_string(),
        format!("/console/o/{}", outage.reference),
        format!("/console/o/{}/live", outage.reference),
        "/console/new".to_string(),
        format!("/console/map/points?bbox={whole}"),
        "/console/map/labels".to_string(),
        "/console/map/outages".to_string(),
    ];
    println!("console pages (target: each under 1 s), 10 requests each:");
    for path in &pages {
        let mut ms = Vec::new();
        let mut bytes = 0;
        for _ in 0..10 {
            let started = Instant::now();
            let r = http
                .get(format!("{base}{path}"))
                .header("cookie", &cookie)
                .send()
                .await?
                .error_for_status()?;
            bytes = r.bytes().await?.len();
            ms.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        ms.sort_by(f64::total_cmp);
        println!(
            "  {path}: median {:.1} ms, max {:.1} ms, {} KiB",
            percentile(&ms, 0.5),
            ms[ms.len() - 1],
            bytes / 1024
        );
    }
    server.stop().await;
    Ok(())
}
