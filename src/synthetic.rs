//! Deterministic synthetic address registers for benchmarks (`herald synth`).
//!
//! Addresses cluster like a country's: ~3,000 towns over a Hungary-and-Poland-sized
//! box, sized by a Zipf law (a few big cities, many villages), each town a bundle of
//! straight streets with houses along them. Same count and seed, same output, on
//! every machine: the generator carries its own SplitMix64 rather than depending on
//! a random crate's stream staying stable.

use std::io::Write;

/// One generated service address.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticAddress {
    pub external_id: String,
    pub street: String,
    pub house_number: String,
    pub postcode: String,
    pub settlement: String,
    pub lon: f64,
    pub lat: f64,
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and stable forever.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> SplitMix {
        SplitMix(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = self.unit().max(1e-12);
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos()
    }
}

const TOWNS: usize = 3_000;
const HU_STREETS: &[&str] = &[
    "Kossuth Lajos utca",
    "Petőfi Sándor utca",
    "Rákóczi út",
    "Ady Endre utca",
    "Dózsa György út",
    "Béke utca",
    "Arany János utca",
    "Széchenyi utca",
    "Jókai Mór utca",
    "Vasút utca",
    "Fő utca",
    "Táncsics Mihály utca",
    "Bartók Béla út",
    "Hunyadi utca",
    "Bem József utca",
];
const PL_STREETS: &[&str] = &[
    "Mickiewicza",
    "Kościuszki",
    "Długa",
    "Polna",
    "Leśna",
    "Szkolna",
    "Ogrodowa",
    "Słoneczna",
    "Lipowa",
    "Kolejowa",
    "Piłsudskiego",
    "Sienkiewicza",
    "Żeromskiego",
    "Łąkowa",
    "Wiśniowa",
];

struct Town {
    index: usize,
    lon: f64,
    lat: f64,
    addresses: usize,
    polish: bool,
}

fn towns(count: usize, rng: &mut SplitMix) -> Vec<Town> {
    let weights: Vec<f64> = (0..TOWNS)
        .map(|i| 1.0 / ((i + 1) as f64).powf(1.1))
        .collect();
    let total: f64 = weights.iter().sum();
    let mut sizes: Vec<usize> = weights
        .iter()
        .map(|w| (count as f64 * w / total).floor() as usize)
        .collect();
    let mut missing = count - sizes.iter().sum::<usize>();
    for s in sizes.iter_mut() {
        if missing == 0 {
            break;
        }
        *s += 1;
        missing -= 1;
    }
    sizes
        .into_iter()
        .enumerate()
        .map(|(index, addresses)| {
            let lon = rng.range(16.2, 24.0);
            let lat = rng.range(45.9, 54.6);
            Town {
                index,
                lon,
                lat,
                addresses,
                polish: lat > 49.6,
            }
        })
        .collect()
}

/// The town's radius in degrees of latitude: cities spread, villages are small.
fn radius(addresses: usize) -> f64 {
    0.004 * (addresses.max(20) as f64 / 100.0).sqrt()
}

fn town_addresses(town: Town, rng: &mut SplitMix) -> Vec<SyntheticAddress> {
    let r = radius(town.addresses);
    let lon_scale = 1.0 / town.lat.to_radians().cos();
    let names = if town.polish { PL_STREETS } else { HU_STREETS };
    let settlement = if town.polish {
        format!("Miasto {}", town.index + 1)
    } else {
        format!("Település {}", town.index + 1)
    };
    let postcode = if town.polish {
        format!("{:02}-{:03}", 10 + town.index % 89, town.index % 1000)
    } else {
        format!("{}", 1000 + town.index % 9000)
    };
    let streets = town.addresses.div_ceil(60).max(1);
    let mut out = Vec::with_capacity(town.addresses);
    for s in 0..streets {
        let on_street = town.addresses / streets + usize::from(s < town.addresses % streets);
        let (cx, cy) = (rng.normal() * r * 0.5, rng.normal() * r * 0.5);
        let angle = rng.range(0.0, std::f64::consts::PI);
        let length = r * rng.range(0.3, 1.2);
        let (dx, dy) = (angle.cos(), angle.sin());
        let name = if s < names.len() {
            names[s].to_string()
        } else {
            format!("{} {}", names[s % names.len()], s / names.len() + 1)
        };
        for h in 0..on_street {
            let t = if on_street > 1 {
                h as f64 / (on_street - 1) as f64 - 0.5
            } else {
                0.0
            };
            let side = if h % 2 == 0 { 1.0 } else { -1.0 } * 0.00008;
            let x = cx + dx * t * length - dy * side + rng.normal() * 0.00002;
            let y = cy + dy * t * length + dx * side + rng.normal() * 0.00002;
            out.push(SyntheticAddress {
                external_id: String::new(),
                street: name.clone(),
                house_number: (h + 1).to_string(),
                postcode: postcode.clone(),
                settlement: settlement.clone(),
                lon: ((town.lon + x * lon_scale) * 1e7).round() / 1e7,
                lat: ((town.lat + y) * 1e7).round() / 1e7,
            });
        }
    }
    out
}

/// `count` addresses, deterministic in `seed`.
pub fn generate(count: usize, seed: u64) -> impl Iterator<Item = SyntheticAddress> {
    let mut rng = SplitMix::new(seed);
    let towns = towns(count, &mut rng);
    let mut n = 0usize;
    towns
        .into_iter()
        .flat_map(move |town| town_addresses(town, &mut rng))
        .map(move |mut a| {
            n += 1;
            a.external_id = format!("S{n:08}");
            a
        })
}

/// Writes `generate(count, seed)` as an importable CSV.
pub fn write_csv<W: Write>(mut w: W, count: usize, seed: u64) -> std::io::Result<()> {
    writeln!(
        w,
        "external_id,street,house_number,postcode,settlement,lon,lat"
    )?;
    for a in generate(count, seed) {
        writeln!(
            w,
            "{},{},{},{},{},{:.7},{:.7}",
            a.external_id, a.street, a.house_number, a.postcode, a.settlement, a.lon, a.lat
        )?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_exact_count_and_clustered() {
        let a: Vec<_> = generate(20_000, 7).collect();
        let b: Vec<_> = generate(20_000, 7).collect();
        assert_eq!(a.len(), 20_000);
        assert_eq!(a, b);
        assert_ne!(a[0], generate(20_000, 8).next().unwrap());
        assert!(a
            .iter()
            .all(|x| (16.0..24.5).contains(&x.lon) && (45.5..55.0).contains(&x.lat)));
        // Clustered: the biggest town holds a large share.
        let biggest = a.iter().filter(|x| x.settlement == a[0].settlement).count();
        assert!(biggest > 1_000, "{biggest}");
        let mut csv = Vec::new();
        write_csv(&mut csv, 100, 1).unwrap();
        assert_eq!(String::from_utf8(csv).unwrap().lines().count(), 101);
    }
}
