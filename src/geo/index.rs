//! The in-memory address index: which service points lie inside an outage area.
//!
//! Points are sorted by the Morton (Z-order) code of their position on a 2¹⁶×2¹⁶
//! grid, which makes every quadtree node a contiguous slice of the arrays. A query
//! walks the quadtree carrying only the polygon edges that touch each node:
//! - a node no edge touches is wholly inside (its slice is taken whole) or wholly
//!   outside (skipped), decided by one parity test at its centre;
//! - a small node an edge touches has its points tested one by one.
//!
//! Point tests count ray crossings against a strip-bucketed edge list (only the
//! edges whose y-range covers the point's strip) using robust orientation
//! predicates, and treat a point lying on an edge as inside. The result is exactly
//! `geo`'s `Intersects` (interior or boundary; a point in a hole is outside, one on
//! a hole's edge inside); the property tests below check it.
//!
//! Ids come back in index order; callers that need them sorted sort them.

use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::{Coord, MultiPolygon, Polygon};

/// What a map shows of the addresses in its view ([`AddressIndex::map_points`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "items")]
pub enum MapPoints {
    /// Every address, as (lon, lat).
    Points(Vec<(f64, f64)>),
    /// Too many to draw one by one: how many in each cell of a grid, largest first.
    Cells(Vec<MapCell>),
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MapCell {
    pub lon: f64,
    pub lat: f64,
    pub count: u32,
}

/// An address as the geo index needs it.
#[derive(Clone, Copy, Debug)]
pub struct IndexPoint {
    pub id: i64,
    pub lon: f64,
    pub lat: f64,
    /// Utilities served (bit mask); 0 means unknown, i.e. all.
    pub utilities: u8,
}

const BITS: u32 = 16;
/// Nodes with at most this many points are tested point by point.
const LEAF: usize = 24;

pub struct AddressIndex {
    codes: Vec<u32>,
    coords: Vec<Coord<f64>>,
    ids: Vec<i64>,
    utilities: Vec<u8>,
    /// Whether any point has a utilities mask (else filtering is skipped).
    any_utilities: bool,
    origin: Coord<f64>,
    /// Grid cells per degree.
    scale: Coord<f64>,
    /// The smallest rectangle holding every point (the console map's first
    /// view), found once at build.
    extent: Option<geo::Rect<f64>>,
}

/// Interleaves the bits of x and y (x in even positions).
fn morton(x: u32, y: u32) -> u32 {
    fn spread(mut v: u32) -> u32 {
        v &= 0xFFFF;
        v = (v | (v << 8)) & 0x00FF_00FF;
        v = (v | (v << 4)) & 0x0F0F_0F0F;
        v = (v | (v << 2)) & 0x3333_3333;
        v = (v | (v << 1)) & 0x5555_5555;
        v
    }
    spread(x) | (spread(y) << 1)
}

impl AddressIndex {
    pub fn build(points: Vec<IndexPoint>) -> AddressIndex {
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for p in &points {
            x0 = x0.min(p.lon);
            y0 = y0.min(p.lat);
            x1 = x1.max(p.lon);
            y1 = y1.max(p.lat);
        }
        if points.is_empty() {
            (x0, y0, x1, y1) = (0.0, 0.0, 1.0, 1.0);
        }
        let cells = (1u32 << BITS) as f64;
        // Slightly less than cells/extent so the largest coordinate stays in range.
        let scale = Coord {
            x: cells / (x1 - x0).max(1e-9) * (1.0 - 1e-12),
            y: cells / (y1 - y0).max(1e-9) * (1.0 - 1e-12),
        };
        let origin = Coord { x: x0, y: y0 };
        let cell = |v: f64, o: f64, s: f64| (((v - o) * s) as u32).min((1 << BITS) - 1);
        let mut keyed: Vec<(u32, u32)> = points
            .iter()
            .enumerate()
            .map(|(i, p)| {
                (
                    morton(cell(p.lon, x0, scale.x), cell(p.lat, y0, scale.y)),
                    i as u32,
                )
            })
            .collect();
        keyed.sort_unstable();
        let mut index = AddressIndex {
            codes: Vec::with_capacity(points.len()),
            coords: Vec::with_capacity(points.len()),
            ids: Vec::with_capacity(points.len()),
            utilities: Vec::with_capacity(points.len()),
            any_utilities: false,
            origin,
            scale,
            extent: None,
        };
        for (code, i) in keyed {
            let p = &points[i as usize];
            index.codes.push(code);
            index.coords.push(Coord { x: p.lon, y: p.lat });
            index.ids.push(p.id);
            index.utilities.push(p.utilities);
            index.any_utilities |= p.utilities != 0;
        }
        index.extent = Self::compute_extent(&index.coords);
        index
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The smallest rectangle holding every point; None when there are none.
    pub fn extent(&self) -> Option<geo::Rect<f64>> {
        self.extent
    }

    fn compute_extent(coords: &[Coord<f64>]) -> Option<geo::Rect<f64>> {
        let first = *coords.first()?;
        let (lo, hi) = coords.iter().fold((first, first), |(lo, hi), c| {
            (
                Coord {
                    x: lo.x.min(c.x),
                    y: lo.y.min(c.y),
                },
                Coord {
                    x: hi.x.max(c.x),
                    y: hi.y.max(c.y),
                },
            )
        });
        Some(geo::Rect::new(lo, hi))
    }

    /// Heap bytes held by the index.
    pub fn memory_bytes(&self) -> usize {
        self.codes.capacity() * 4
            + self.coords.capacity() * 16
            + self.ids.capacity() * 8
            + self.utilities.capacity()
    }

    /// Ids of the points inside `area` or on its boundary that are served
    /// `utility_bit` (0: any), in index order, each once.
    pub fn lookup(&self, area: &MultiPolygon<f64>, utility_bit: u8) -> Vec<i64> {
        let mut out = Vec::new();
        for (i, polygon) in area.0.iter().enumerate() {
            let before = out.len();
            self.lookup_polygon(polygon, utility_bit, &mut out);
            if i > 0 && out.len() > before {
                // Parts of a MultiPolygon may touch or overlap: keep each point once.
                out.sort_unstable();
                out.dedup();
            }
        }
        out
    }

    /// The points inside `view` for a map: each of them when there are at
    /// most `max_points`, otherwise their counts on a `grid`×`grid` raster of
    /// the view (each cell at the mean of its points, so a cluster sits where
    /// its addresses are). One pass over the coordinates: ~4 ms for 2,000,000.
    pub fn map_points(&self, view: geo::Rect<f64>, max_points: usize, grid: u32) -> MapPoints {
        let (min, max) = (view.min(), view.max());
        let inside = |c: &Coord<f64>| c.x >= min.x && c.x <= max.x && c.y >= min.y && c.y <= max.y;
        let mut points = Vec::new();
        let mut cells: Option<std::collections::HashMap<u32, (u32, f64, f64)>> = None;
        let (w, h) = (
            view.width().max(f64::MIN_POSITIVE),
            view.height().max(f64::MIN_POSITIVE),
        );
        let g = grid.max(1);
        let cell_of = |c: &Coord<f64>| {
            let i = (((c.x - min.x) / w * g as f64) as u32).min(g - 1);
            let j = (((c.y - min.y) / h * g as f64) as u32).min(g - 1);
            j * g + i
        };
        for c in self.coords.iter().filter(|c| inside(c)) {
            match &mut cells {
                Some(map) => {
                    let e = map.entry(cell_of(c)).or_insert((0, 0.0, 0.0));
                    *e = (e.0 + 1, e.1 + c.x, e.2 + c.y);
                }
                None if points.len() < max_points => points.push(*c),
                None => {
                    let mut map = std::collections::HashMap::new();
                    for p in points.drain(..).chain(std::iter::once(*c)) {
                        let e = map.entry(cell_of(&p)).or_insert((0u32, 0.0, 0.0));
                        *e = (e.0 + 1, e.1 + p.x, e.2 + p.y);
                    }
                    cells = Some(map);
                }
            }
        }
        match cells {
            None => MapPoints::Points(points.iter().map(|c| (c.x, c.y)).collect()),
            Some(map) => {
                let mut cells: Vec<MapCell> = map
                    .into_iter()
                    .map(|(_, (count, sx, sy))| MapCell {
                        lon: sx / count as f64,
                        lat: sy / count as f64,
                        count,
                    })
                    .collect();
                cells.sort_unstable_by_key(|c| std::cmp::Reverse(c.count));
                MapPoints::Cells(cells)
            }
        }
    }

    pub fn count(&self, area: &MultiPolygon<f64>, utility_bit: u8) -> usize {
        self.lookup(area, utility_bit).len()
    }

    fn lookup_polygon(&self, polygon: &Polygon<f64>, utility_bit: u8, out: &mut Vec<i64>) {
        let edges = Edges::new(polygon);
        if edges.segments.is_empty() || self.is_empty() {
            return;
        }
        let mut query = Query {
            index: self,
            edges: &edges,
            filter: if self.any_utilities { utility_bit } else { 0 },
            stack: (0..edges.segments.len() as u32).collect(),
            out,
        };
        let n = edges.segments.len();
        query.visit(0, 0, 0, 0, self.codes.len(), 0, n);
    }
}

/// A prepared polygon: its edges, bucketed by horizontal strips.
struct Edges {
    segments: Vec<(Coord<f64>, Coord<f64>)>,
    min: Coord<f64>,
    max: Coord<f64>,
    strip_height: f64,
    /// CSR: strip `s` holds `strip_edges[strip_start[s]..strip_start[s + 1]]`.
    strip_start: Vec<u32>,
    strip_edges: Vec<u32>,
}

impl Edges {
    fn new(polygon: &Polygon<f64>) -> Edges {
        let mut segments = Vec::new();
        for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
            for w in ring.0.windows(2) {
                if w[0] != w[1] {
                    segments.push((w[0], w[1]));
                }
            }
        }
        let (mut min, mut max) = (
            Coord {
                x: f64::MAX,
                y: f64::MAX,
            },
            Coord {
                x: f64::MIN,
                y: f64::MIN,
            },
        );
        for (a, b) in &segments {
            for c in [a, b] {
                min.x = min.x.min(c.x);
                min.y = min.y.min(c.y);
                max.x = max.x.max(c.x);
                max.y = max.y.max(c.y);
            }
        }
        let strips = segments.len().clamp(1, 1 << 16);
        let strip_height = ((max.y - min.y) / strips as f64).max(f64::MIN_POSITIVE);
        let mut edges = Edges {
            segments,
            min,
            max,
            strip_height,
            strip_start: vec![0; strips + 1],
            strip_edges: Vec::new(),
        };
        let span = |e: &Edges, (a, b): (Coord<f64>, Coord<f64>)| {
            (e.strip(a.y.min(b.y)), e.strip(a.y.max(b.y)))
        };
        for &seg in &edges.segments {
            let (s0, s1) = span(&edges, seg);
            for s in s0..=s1 {
                edges.strip_start[s + 1] += 1;
            }
        }
        for s in 1..edges.strip_start.len() {
            edges.strip_start[s] += edges.strip_start[s - 1];
        }
        let mut fill = edges.strip_start.clone();
        edges.strip_edges = vec![0; edges.strip_start[strips] as usize];
        for (i, &seg) in edges.segments.iter().enumerate() {
            let (s0, s1) = span(&edges, seg);
            for f in &mut fill[s0..=s1] {
                edges.strip_edges[*f as usize] = i as u32;
                *f += 1;
            }
        }
        edges
    }

    fn strip(&self, y: f64) -> usize {
        let strips = self.strip_start.len() - 1;
        (((y - self.min.y) / self.strip_height).max(0.0) as usize).min(strips - 1)
    }

    /// Exact: inside, or on an edge.
    fn contains(&self, p: Coord<f64>) -> bool {
        if p.y < self.min.y || p.y > self.max.y || p.x < self.min.x || p.x > self.max.x {
            return false;
        }
        let s = self.strip(p.y);
        let mut inside = false;
        for &e in &self.strip_edges[self.strip_start[s] as usize..self.strip_start[s + 1] as usize]
        {
            let (a, b) = self.segments[e as usize];
            if (a.y > p.y) == (b.y > p.y) {
                // The ray at p.y does not cross; p may still lie on a horizontal or end segment.
                if (a.y == p.y || b.y == p.y) && on_segment(a, b, p) {
                    return true;
                }
                continue;
            }
            match RobustKernel::orient2d(a, b, p) {
                Orientation::Collinear => return true,
                // Upward edge with p on its left, or downward edge with p on its right:
                // the rightward ray crosses it.
                Orientation::CounterClockwise if b.y > a.y => inside = !inside,
                Orientation::Clockwise if a.y > b.y => inside = !inside,
                _ => {}
            }
        }
        inside
    }
}

fn on_segment(a: Coord<f64>, b: Coord<f64>, p: Coord<f64>) -> bool {
    p.x >= a.x.min(b.x)
        && p.x <= a.x.max(b.x)
        && p.y >= a.y.min(b.y)
        && p.y <= a.y.max(b.y)
        && RobustKernel::orient2d(a, b, p) == Orientation::Collinear
}

/// Whether segment `ab` may touch the box (conservative: never misses).
fn touches_box(a: Coord<f64>, b: Coord<f64>, lo: Coord<f64>, hi: Coord<f64>) -> bool {
    if a.x.max(b.x) < lo.x || a.x.min(b.x) > hi.x || a.y.max(b.y) < lo.y || a.y.min(b.y) > hi.y {
        return false;
    }
    // Separating-axis test on the segment's normal: are all four corners strictly on one side?
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let side = |c: Coord<f64>| dx * (c.y - a.y) - dy * (c.x - a.x);
    let s = [
        side(lo),
        side(hi),
        side(Coord { x: lo.x, y: hi.y }),
        side(Coord { x: hi.x, y: lo.y }),
    ];
    !(s.iter().all(|v| *v > 0.0) || s.iter().all(|v| *v < 0.0))
}

struct Query<'a> {
    index: &'a AddressIndex,
    edges: &'a Edges,
    filter: u8,
    /// Edge ids; each recursion level appends the subset touching its node.
    stack: Vec<u32>,
    out: &'a mut Vec<i64>,
}

impl Query<'_> {
    fn emit(&mut self, lo: usize, hi: usize) {
        let ix = self.index;
        if self.filter == 0 {
            self.out.extend_from_slice(&ix.ids[lo..hi]);
        } else {
            for i in lo..hi {
                let u = ix.utilities[i];
                if u == 0 || u & self.filter != 0 {
                    self.out.push(ix.ids[i]);
                }
            }
        }
    }

    fn test_points(&mut self, lo: usize, hi: usize) {
        let ix = self.index;
        for i in lo..hi {
            let u = ix.utilities[i];
            if self.filter != 0 && u != 0 && u & self.filter == 0 {
                continue;
            }
            if self.edges.contains(ix.coords[i]) {
                self.out.push(ix.ids[i]);
            }
        }
    }

    /// Visits the node at `level` with grid origin (`cx`, `cy`) covering points
    /// `lo..hi`; the edges touching it are `stack[e0..e1]`.
    #[allow(clippy::too_many_arguments)]
    fn visit(&mut self, level: u32, cx: u32, cy: u32, lo: usize, hi: usize, e0: usize, e1: usize) {
        if lo == hi {
            return;
        }
        let ix = self.index;
        let size = 1u64 << (BITS - level);
        // The node's box in degrees, widened so rounding in the grid assignment of
        // a point can never put it outside the box it is tested against.
        let pad = Coord {
            x: 2.0 / ix.scale.x,
            y: 2.0 / ix.scale.y,
        };
        let lo_c = Coord {
            x: ix.origin.x + cx as f64 / ix.scale.x - pad.x,
            y: ix.origin.y + cy as f64 / ix.scale.y - pad.y,
        };
        let hi_c = Coord {
            x: ix.origin.x + (cx as u64 + size) as f64 / ix.scale.x + pad.x,
            y: ix.origin.y + (cy as u64 + size) as f64 / ix.scale.y + pad.y,
        };
        let start = self.stack.len();
        for k in e0..e1 {
            let e = self.stack[k];
            let (a, b) = self.edges.segments[e as usize];
            if touches_box(a, b, lo_c, hi_c) {
                self.stack.push(e);
            }
        }
        let end = self.stack.len();
        if start == end {
            // No edge near: the whole node is on one side.
            let centre = Coord {
                x: (lo_c.x + hi_c.x) / 2.0,
                y: (lo_c.y + hi_c.y) / 2.0,
            };
            if self.edges.contains(centre) {
                self.emit(lo, hi);
            }
        } else if hi - lo <= LEAF || level == BITS {
            self.test_points(lo, hi);
        } else {
            let half = (size / 2) as u32;
            let shift = 2 * (BITS - level - 1);
            let base = morton(cx, cy);
            let codes = &ix.codes;
            let mut bounds = [lo, 0, 0, 0, hi];
            for q in 1..4u32 {
                let first = base + (q << shift);
                bounds[q as usize] = lo + codes[lo..hi].partition_point(|c| *c < first);
            }
            for q in 0..4u32 {
                let (qx, qy) = (cx + (q & 1) * half, cy + (q >> 1) * half);
                self.visit(
                    level + 1,
                    qx,
                    qy,
                    bounds[q as usize],
                    bounds[q as usize + 1],
                    start,
                    end,
                );
            }
        }
        self.stack.truncate(start);
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_map_gets_every_point_or_counts_per_cell() {
        let points: Vec<IndexPoint> = (0..100)
            .map(|i| IndexPoint {
                id: i,
                lon: 19.0 + (i % 10) as f64 * 0.001,
                lat: 47.0 + (i / 10) as f64 * 0.001,
                utilities: 0,
            })
            .collect();
        let index = AddressIndex::build(points);
        let view = |x0: f64, y0: f64, x1: f64, y1: f64| {
            geo::Rect::new(Coord { x: x0, y: y0 }, Coord { x: x1, y: y1 })
        };
        // The first column only (boundary included): ten points.
        match index.map_points(view(18.9995, 46.9995, 19.0005, 47.0095), 50, 4) {
            MapPoints::Points(p) => assert_eq!(p.len(), 10),
            other => panic!("{other:?}"),
        }
        // All hundred, more than 50: counts on a 2×2 grid, summing to 100.
        match index.map_points(view(18.9995, 46.9995, 19.0095, 47.0095), 50, 2) {
            MapPoints::Cells(cells) => {
                assert_eq!(cells.len(), 4, "{cells:?}");
                assert_eq!(cells.iter().map(|c| c.count).sum::<u32>(), 100);
                assert!(cells.iter().all(|c| c.count == 25), "{cells:?}");
            }
            other => panic!("{other:?}"),
        }
        // Nothing there.
        assert_eq!(
            index.map_points(view(0.0, 0.0, 1.0, 1.0), 50, 4),
            MapPoints::Points(vec![])
        );
    }

    use super::*;
    use geo::{Intersects, LineString, Point};
    use proptest::prelude::*;

    /// A star-shaped (generally concave) ring around `c` on a 1/256 lattice, so
    /// edge midpoints are exactly representable.
    fn star(c: (f64, f64), radii: &[f64], jitter: &[f64]) -> LineString<f64> {
        let k = radii.len();
        let q = |v: f64| (v * 256.0).round() / 256.0;
        let mut pts: Vec<Coord<f64>> = (0..k)
            .map(|i| {
                let a = (i as f64 + jitter[i] * 0.45) / k as f64 * std::f64::consts::TAU;
                Coord {
                    x: q(c.0 + radii[i] * a.cos()),
                    y: q(c.1 + radii[i] * a.sin()),
                }
            })
            .collect();
        pts.dedup();
        pts.push(pts[0]);
        LineString::new(pts)
    }

    fn exact(points: &[IndexPoint], area: &MultiPolygon<f64>, bit: u8) -> Vec<i64> {
        let mut v: Vec<i64> = points
            .iter()
            .filter(|p| bit == 0 || p.utilities == 0 || p.utilities & bit != 0)
            .filter(|p| area.intersects(&Point::new(p.lon, p.lat)))
            .map(|p| p.id)
            .collect();
        v.sort_unstable();
        v
    }

    fn sorted(mut v: Vec<i64>) -> Vec<i64> {
        v.sort_unstable();
        v
    }

    fn area_strategy() -> impl Strategy<Value = MultiPolygon<f64>> {
        let ring = (6usize..40).prop_flat_map(|k| {
            (
                proptest::collection::vec(4.0f64..16.0, k),
                proptest::collection::vec(-1.0f64..1.0, k),
                proptest::collection::vec(0.5f64..2.5, 6),
                proptest::collection::vec(-1.0f64..1.0, 6),
                any::<bool>(),
            )
        });
        (ring, -20.0f64..20.0, -20.0f64..20.0, any::<bool>()).prop_map(
            |((radii, jit, hr, hj, hole), cx, cy, second)| {
                let outer = star((cx, cy), &radii, &jit);
                let holes = if hole {
                    vec![star((cx, cy), &hr, &hj)]
                } else {
                    vec![]
                };
                let mut parts = vec![Polygon::new(outer, holes)];
                if second {
                    let other: Vec<f64> = radii.iter().map(|r| r * 0.5).collect();
                    parts.push(Polygon::new(
                        star((cx + 18.0, cy - 6.0), &other, &jit),
                        vec![],
                    ));
                }
                MultiPolygon(parts)
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        #[test]
        fn matches_geo_exactly(area in area_strategy(), seed in any::<u64>(), bit in 0u8..3) {
            let mut rng = crate::synthetic::SplitMix::new(seed);
            let mut points: Vec<IndexPoint> = (0..3000)
                .map(|i| IndexPoint {
                    id: i,
                    lon: rng.range(-45.0, 50.0),
                    lat: rng.range(-45.0, 45.0),
                    utilities: (rng.next_u64() % 4) as u8,
                })
                .collect();
            // Points exactly on vertices and on edge midpoints (exact on the lattice).
            for poly in &area.0 {
                for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                    for w in ring.0.windows(2) {
                        for c in [w[0], Coord { x: (w[0].x + w[1].x) / 2.0, y: (w[0].y + w[1].y) / 2.0 }] {
                            let id = points.len() as i64;
                            points.push(IndexPoint { id, lon: c.x, lat: c.y, utilities: 0 });
                        }
                    }
                }
            }
            let index = AddressIndex::build(points.clone());
            prop_assert_eq!(sorted(index.lookup(&area, bit)), exact(&points, &area, bit));
        }
    }

    #[test]
    fn dense_clusters_and_boundaries() {
        // A dense city block (many points per leaf) around a tiny rectangle.
        let mut points = Vec::new();
        for i in 0..200 {
            for j in 0..200 {
                let id = points.len() as i64;
                points.push(IndexPoint {
                    id,
                    lon: 19.0 + i as f64 * 1e-5,
                    lat: 47.0 + j as f64 * 1e-5,
                    utilities: 0,
                });
            }
        }
        points.push(IndexPoint {
            id: -1,
            lon: 24.0,
            lat: 54.0,
            utilities: 0,
        });
        let index = AddressIndex::build(points.clone());
        let rect = |x0: f64, y0: f64, x1: f64, y1: f64| {
            MultiPolygon(vec![Polygon::new(
                LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]),
                vec![],
            )])
        };
        for area in [
            rect(19.0005, 47.0005, 19.0012, 47.0009),
            rect(18.9, 46.9, 19.5, 47.5),
            rect(20.0, 47.0, 21.0, 48.0),
        ] {
            assert_eq!(sorted(index.lookup(&area, 0)), exact(&points, &area, 0));
        }
        assert_eq!(index.len(), 40_001);
        assert!(AddressIndex::build(vec![])
            .lookup(&rect(0.0, 0.0, 1.0, 1.0), 0)
            .is_empty());
    }
}
