//! Fan-out benchmark: an outage covering 100,000 contacts.
//!
//! Measures (1) planning — the declare call: area lookup plus writing the outage
//! and one delivery per contact in one transaction — and (2) delivery throughput:
//! every e-mail handed to a real SMTP server, every SMS to a real Kannel, rate
//! limits off. Run through `benches/fanout.sh`, which starts postfix's
//! `smtp-sink` and Kannel with its fake SMSC; without them it only plans.
//!
//! Environment: BENCH_CONTACTS (default 100000), BENCH_SMTP (host:port),
//! BENCH_KANNEL (base URL).

use std::sync::Arc;
use std::time::{Duration, Instant};

use herald::app::AppState;
use herald::clock::SystemClock;
use herald::config::{Config, EmailTransport, SmsProvider};
use herald::domain::{Channel, DeliveryState};
use herald::import::{self, Mode};
use serde_json::json;

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// `n` addresses on a square grid around Budapest, each with one contact.
fn data(n: usize, channel: Channel) -> (String, String) {
    let side = (n as f64).sqrt().ceil() as usize;
    let mut addresses =
        String::from("external_id,street,house_number,postcode,settlement,lon,lat\n");
    let mut contacts = String::from("address_external_id,channel,destination,language\n");
    for i in 0..n {
        let (x, y) = (i % side, i / side);
        addresses.push_str(&format!(
            "B{i},Bartók Béla út,{},1114,Budapest,{:.6},{:.6}\n",
            i + 1,
            19.0 + x as f64 * 0.0001,
            47.4 + y as f64 * 0.0001
        ));
        let lang = ["hu", "pl", "en"][i % 3];
        match channel {
            Channel::Email => contacts.push_str(&format!("B{i},email,r{i}@bench.example,{lang}\n")),
            Channel::Sms => {
                contacts.push_str(&format!("B{i},sms,+3630{:07},{lang}\n", 2_000_000 + i))
            }
        }
    }
    (addresses, contacts)
}

async fn run(
    channel: Channel,
    n: usize,
    smtp: Option<&str>,
    kannel: Option<&str>,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    config.delivery.batch_size = 1000;
    config.delivery.poll_interval_ms = 20;
    config.email.concurrency = 64;
    config.sms.concurrency = 64;
    match smtp.and_then(|s| s.rsplit_once(':')) {
        Some((host, port)) => {
            config.email.transport = EmailTransport::Smtp;
            config.email.smtp.host = host.into();
            config.email.smtp.port = port.parse()?;
            config.email.smtp.pool_size = 16;
        }
        None => config.email.transport = EmailTransport::File,
    }
    match kannel {
        Some(url) => {
            config.sms.provider = SmsProvider::Kannel;
            config.sms.kannel.url = url.into();
            // Each SMS asks Kannel for a delivery report (as in production);
            // BENCH_SMS_REPORTS=0 measures without, to tell their cost. No
            // Herald listens here, so Kannel's report calls fail and retry.
            config.sms.delivery_reports = std::env::var("BENCH_SMS_REPORTS").as_deref() != Ok("0");
        }
        None => config.sms.provider = SmsProvider::File,
    }
    let state = AppState::new(config, Arc::new(SystemClock)).await?;
    let (addresses, contacts) = data(n, channel);
    let now = chrono::Utc::now();
    import::import_addresses(
        &state.store,
        import::Input::Bytes(addresses.as_bytes()),
        Mode::Skip,
        now,
    )
    .await?;
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
    state.register.address_index().await?;

    let body = json!({
        "utility": "power",
        "cause": "Storm damage to the 22 kV line",
        "etr": (now + chrono::Duration::hours(4)).to_rfc3339(),
        "area": {"type": "Polygon", "coordinates": [[[18.99, 47.39], [19.2, 47.39], [19.2, 47.6], [18.99, 47.6], [18.99, 47.39]]]},
    });
    let started = Instant::now();
    let (outage, _, fanout) = herald::outages::declare(
        &state.outages(),
        &body,
        None,
        &herald::domain::audit::Actor::cli(),
    )
    .await?;
    let planning = started.elapsed();
    let planned = fanout.email + fanout.sms;
    println!(
        "{channel}: planned {planned} deliveries for {} addresses in {:.3} s",
        outage.affected_addresses,
        planning.as_secs_f64()
    );
    if (channel == Channel::Email && smtp.is_none())
        || (channel == Channel::Sms && kannel.is_none())
    {
        println!("{channel}: no provider given; skipping the send phase");
        return Ok(());
    }
    let workers = state.dispatcher().await?.start();
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let totals = state.store.delivery_totals().await?;
        let busy: i64 = totals
            .iter()
            .filter(|(c, s, _)| {
                *c == channel && matches!(s, DeliveryState::Pending | DeliveryState::Sending)
            })
            .map(|t| t.2)
            .sum();
        if busy == 0 {
            let sent: i64 = totals
                .iter()
                .filter(|(c, s, _)| *c == channel && *s == DeliveryState::Sent)
                .map(|t| t.2)
                .sum();
            let secs = started.elapsed().as_secs_f64();
            println!(
                "{channel}: {sent} of {planned} handed to the provider in {secs:.2} s = {:.0} messages/s",
                sent as f64 / secs
            );
            anyhow::ensure!(
                sent == planned,
                "{} deliveries did not end as sent: {totals:?}",
                planned - sent
            );
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "gave up waiting: {totals:?}"
        );
    }
    workers.stop().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let n: usize = std::env::var("BENCH_CONTACTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let smtp = std::env::var("BENCH_SMTP").ok();
    let kannel = std::env::var("BENCH_KANNEL").ok();
    run(Channel::Email, n, smtp.as_deref(), kannel.as_deref()).await?;
    run(Channel::Sms, n, smtp.as_deref(), kannel.as_deref()).await?;
    println!("peak resident memory: {:.0} MiB", peak_rss_mib());
    Ok(())
}
