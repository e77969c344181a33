//! Polygons the benches share: rings of many vertices around a centre.

use geo::{Coord, LineString, MultiPolygon, Polygon};

/// A ring of `k` vertices around `c` with radius `r·shape(θ)` (degrees; x scaled for latitude).
pub fn ring(c: Coord<f64>, r: f64, k: usize, shape: impl Fn(f64) -> f64) -> MultiPolygon<f64> {
    let kx = 1.0 / c.y.to_radians().cos();
    let mut pts: Vec<Coord<f64>> = (0..k)
        .map(|i| {
            let t = i as f64 / k as f64 * std::f64::consts::TAU;
            let rr = r * shape(t);
            Coord {
                x: c.x + rr * t.cos() * kx,
                y: c.y + rr * t.sin(),
            }
        })
        .collect();
    pts.push(pts[0]);
    MultiPolygon(vec![Polygon::new(LineString::new(pts), vec![])])
}

/// The 5,000-vertex concave region of radius about `r` around `c`.
pub fn concave(c: Coord<f64>, r: f64) -> MultiPolygon<f64> {
    ring(c, r, 5000, |t| {
        1.0 + 0.35 * (7.0 * t).sin() + 0.12 * (61.0 * t).sin()
    })
}
