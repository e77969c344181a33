//! The status page's "Am I affected?" address search, in memory, without
//! HTTP: the index over the synthetic register (`herald::synthetic`, seed 42)
//! and the queries `benches/storm.sh` rotates over (every 40th address, as
//! it reads: "street number settlement"), each asked once.
//!
//!   cargo bench --bench search          (BENCH_ADDRESSES=2000000)
//!
//! Prints the build time, the mean, p50, p99 and worst time of one search,
//! and the slowest queries with how many results they found, so a change to
//! `src/search.rs` can be weighed without a storm run.

use std::time::Instant;

use herald::domain::Address;
use herald::search::{AddressSearch, SearchAddress};

fn main() {
    let n: usize = std::env::var("BENCH_ADDRESSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let mut queries = Vec::new();
    let addresses: Vec<SearchAddress> = herald::synthetic::generate(n, 42)
        .enumerate()
        .map(|(i, a)| {
            // storm.sh: CSV line NR % 40 == 0 is address 39, 79, ... (0-based).
            if (i + 2) % 40 == 0 && queries.len() < 50_000 {
                queries.push(format!("{} {} {}", a.street, a.house_number, a.settlement));
            }
            SearchAddress {
                id: i as i64 + 1,
                external_id: a.external_id,
                address: Address::stored(a.street, a.house_number, a.postcode, a.settlement),
            }
        })
        .collect();
    let started = Instant::now();
    let index = AddressSearch::build(addresses);
    println!(
        "index of {n} addresses built in {:.2} s ({:.1} MiB)",
        started.elapsed().as_secs_f64(),
        index.bytes() as f64 / 1048576.0
    );
    if let Ok(q) = std::env::var("BENCH_QUERY") {
        let t = Instant::now();
        let hits = index.search(&q, 10).len();
        println!(
            "{q}: {hits} found in {:.1} µs",
            t.elapsed().as_secs_f64() * 1e6
        );
        return;
    }
    // Once over, untimed, so the timed pass is warm like a server's.
    let mut found = 0;
    for q in &queries {
        found += index.search(q, 10).len();
    }
    let mut times: Vec<(f64, usize, &str)> = Vec::with_capacity(queries.len());
    let all = Instant::now();
    for q in &queries {
        let t = Instant::now();
        let hits = index.search(q, 10).len();
        times.push((t.elapsed().as_secs_f64() * 1e6, hits, q));
    }
    let total = all.elapsed().as_secs_f64();
    times.sort_by(|a, b| a.0.total_cmp(&b.0));
    let at = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize].0;
    println!(
        "{} searches ({found} results): mean {:.1} µs, p50 {:.1} µs, p99 {:.1} µs, worst {:.1} µs; {:.0} searches/s on one core",
        times.len(),
        total * 1e6 / times.len() as f64,
        at(0.5),
        at(0.99),
        times.last().map_or(0.0, |t| t.0),
        times.len() as f64 / total
    );
    println!("slowest:");
    for (us, hits, q) in times.iter().rev().take(8) {
        println!("  {us:8.1} µs  {hits:2} found  {q}");
    }
}
