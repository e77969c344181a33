//! The in-memory address index: which service points lie inside an outage area.
//!
//! Points live in a uniform grid (cells in CSR layout). A lookup visits the cells
//! under the area's bounding box and tests each point there exactly with `geo`'s
//! `Intersects` (points on the boundary count as affected).

use geo::{BoundingRect, Intersects, MultiPolygon, Point};

#[derive(Clone, Copy, Debug)]
pub struct IndexPoint {
    pub id: i64,
    pub lon: f64,
    pub lat: f64,
    /// Utilities served (bit mask); 0 means unknown, i.e. all.
    pub utilities: u8,
}

pub struct AddressIndex {
    min: (f64, f64),
    cell: f64,
    cols: usize,
    rows: usize,
    /// `starts[c]..starts[c+1]` are the points of cell `c`.
    starts: Vec<u32>,
    points: Vec<IndexPoint>,
}

impl AddressIndex {
    pub fn build(mut points: Vec<IndexPoint>) -> AddressIndex {
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
        // About 8 points per cell on average.
        let cells = (points.len() / 8).max(1) as f64;
        let (w, h) = ((x1 - x0).max(1e-9), (y1 - y0).max(1e-9));
        let cell = (w * h / cells).sqrt().max(1e-7);
        let cols = ((w / cell) as usize + 1).min(1 << 14);
        let rows = ((h / cell) as usize + 1).min(1 << 14);
        let cell = (w / cols as f64).max(h / rows as f64).max(1e-9) * 1.000_001;
        let key = |p: &IndexPoint| {
            let c = (((p.lon - x0) / cell) as usize).min(cols - 1);
            let r = (((p.lat - y0) / cell) as usize).min(rows - 1);
            r * cols + c
        };
        points.sort_by_key(key);
        let mut starts = vec![0u32; cols * rows + 1];
        for p in &points {
            starts[key(p) + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        AddressIndex {
            min: (x0, y0),
            cell,
            cols,
            rows,
            starts,
            points,
        }
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    pub fn memory_bytes(&self) -> usize {
        self.points.capacity() * std::mem::size_of::<IndexPoint>() + self.starts.capacity() * 4
    }

    /// Ids of the points inside or on the boundary of `area` that are served
    /// `utility_bit` (0: any), ascending.
    pub fn lookup(&self, area: &MultiPolygon<f64>, utility_bit: u8) -> Vec<i64> {
        let Some(bbox) = area.bounding_rect() else {
            return Vec::new();
        };
        let cell_of = |v: f64, origin: f64, n: usize| {
            (((v - origin) / self.cell).floor().max(0.0) as usize).min(n - 1)
        };
        let (c0, c1) = (
            cell_of(bbox.min().x, self.min.0, self.cols),
            cell_of(bbox.max().x, self.min.0, self.cols),
        );
        let (r0, r1) = (
            cell_of(bbox.min().y, self.min.1, self.rows),
            cell_of(bbox.max().y, self.min.1, self.rows),
        );
        let mut out = Vec::new();
        for r in r0..=r1 {
            let (a, b) = (
                self.starts[r * self.cols + c0] as usize,
                self.starts[r * self.cols + c1 + 1] as usize,
            );
            for p in &self.points[a..b] {
                if utility_bit != 0 && p.utilities != 0 && p.utilities & utility_bit == 0 {
                    continue;
                }
                if p.lon < bbox.min().x
                    || p.lon > bbox.max().x
                    || p.lat < bbox.min().y
                    || p.lat > bbox.max().y
                {
                    continue;
                }
                if area.intersects(&Point::new(p.lon, p.lat)) {
                    out.push(p.id);
                }
            }
        }
        out.sort_unstable();
        out
    }
}
