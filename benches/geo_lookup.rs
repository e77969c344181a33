//! Geo lookup over 2,000,000 synthetic addresses (`herald::synthetic`, seed 42):
//! index build time and memory, and lookups — including per-polygon preparation —
//! for a 5-vertex block (~200 hits), a 200-vertex town polygon (~50k hits) and a
//! 5,000-vertex concave region (~500k hits). Each result is first checked against
//! `geo`'s exact `Intersects` over every address.
//!
//! `cargo bench --bench geo_lookup`

use std::time::Instant;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use geo::{Coord, Intersects, MultiPolygon, Point};
use herald::geo::{AddressIndex, IndexPoint};

const N: usize = 2_000_000;

#[path = "shapes.rs"]
mod shapes;
use shapes::{concave, ring};

fn points() -> Vec<IndexPoint> {
    herald::synthetic::generate(N, 42)
        .enumerate()
        .map(|(i, a)| IndexPoint {
            id: i as i64 + 1,
            lon: a.lon,
            lat: a.lat,
            utilities: 0,
        })
        .collect()
}

/// Scales the ring until it holds about `target` addresses.
fn tuned(
    index: &AddressIndex,
    target: usize,
    make: impl Fn(f64) -> MultiPolygon<f64>,
) -> MultiPolygon<f64> {
    let (mut lo, mut hi) = (1e-5_f64, 5.0_f64);
    for _ in 0..60 {
        let mid = (lo * hi).sqrt();
        if index.count(&make(mid), 0) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    make(hi)
}

fn exact(points: &[IndexPoint], area: &MultiPolygon<f64>) -> Vec<i64> {
    points
        .iter()
        .filter(|p| area.intersects(&Point::new(p.lon, p.lat)))
        .map(|p| p.id)
        .collect()
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |k| k / 1024.0)
}

fn bench(c: &mut Criterion) {
    let pts = points();
    let before = peak_rss_mib();
    let started = Instant::now();
    let index = AddressIndex::build(pts.clone());
    println!(
        "index: {} addresses built in {:.3} s, {:.1} MiB held (peak RSS grew {:.0} MiB during the build)",
        index.len(),
        started.elapsed().as_secs_f64(),
        index.memory_bytes() as f64 / 1048576.0,
        peak_rss_mib() - before
    );
    // The biggest city is generated first.
    let centre = Coord {
        x: pts[0].lon,
        y: pts[0].lat,
    };
    let cases = [
        (
            "5-vertex block",
            200,
            tuned(&index, 200, |r| ring(centre, r, 5, |_| 1.0)),
        ),
        (
            "200-vertex town",
            50_000,
            tuned(&index, 50_000, |r| {
                ring(centre, r, 200, |t| 1.0 + 0.15 * (5.0 * t).sin())
            }),
        ),
        (
            "5000-vertex concave region",
            500_000,
            tuned(&index, 500_000, |r| concave(centre, r)),
        ),
    ];
    for (name, _, area) in &cases {
        let mut got = index.lookup(area, 0);
        got.sort_unstable();
        let started = Instant::now();
        let want = exact(&pts, area);
        let brute = started.elapsed();
        assert_eq!(got, want, "{name}: index and geo disagree");
        println!(
            "{name}: {} hits, equal to geo's exact answer (brute force took {:.2} s)",
            got.len(),
            brute.as_secs_f64()
        );
    }
    let mut group = c.benchmark_group("geo_lookup");
    group.sample_size(20);
    for (name, _, area) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| index.lookup(std::hint::black_box(area), 0))
        });
    }
    group.sample_size(10);
    group.bench_function("index build (2M)", |b| {
        b.iter_batched(|| pts.clone(), AddressIndex::build, BatchSize::LargeInput)
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
