//! Outage areas: GeoJSON (RFC 7946) in, a validated `geo::MultiPolygon` out.
//!
//! Every rejection names where the problem is (`area.coordinates[0][3]`) so a
//! dispatcher's tool can point at it. Either ring orientation is accepted; holes
//! and MultiPolygons are supported; a Feature (or a one-feature collection)
//! wrapping the geometry is unwrapped.
//!
//! Besides the shape of the JSON, [`parse_area`] refuses geometry that is not
//! what the dispatcher meant: an edge spanning more than 180° of longitude (a
//! strip across the antimeridian read the long way round the globe; RFC 7946
//! §3.1.9 asks for such a polygon to be split), a hole not inside its shell, holes
//! overlapping each other, and parts of a MultiPolygon overlapping each other.
//! Parts and holes may touch at points or along edges. Areas read back from the
//! store go through [`read_stored_area`], which parses without those checks.

use std::collections::HashSet;

use geo::algorithm::dimensions::Dimensions;
use geo::coordinate_position::CoordPos;
use geo::{
    Area, BoundingRect, Coord, Intersects, Line, LineString, MultiLineString, MultiPolygon, Point,
    Polygon, PreparedGeometry, Relate,
};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, RTreeObject};
use serde_json::Value;

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[error("{path}: {message}")]
pub struct AreaError {
    pub path: String,
    pub message: String,
}

fn err<T>(path: &str, message: impl Into<String>) -> Result<T, AreaError> {
    Err(AreaError {
        path: path.to_string(),
        message: message.into(),
    })
}

/// Parses and validates an outage area from a dispatcher.
pub fn parse_area(value: &Value, max_vertices: usize) -> Result<MultiPolygon<f64>, AreaError> {
    Reader {
        budget: max_vertices,
        max: max_vertices,
        topology: true,
    }
    .geometry(value, "area")
}

/// Reads an area that [`parse_area`] accepted when its outage was stored,
/// without the vertex cap (which may have been lowered since) and without the
/// checks of what the dispatcher meant (antimeridian, holes, overlapping parts):
/// those cost time on every point lookup and map, and an outage stored before a
/// check existed must read as it did when its messages went out, so that the
/// phone line and the page agree with them.
pub fn read_stored_area(value: &Value) -> Result<MultiPolygon<f64>, AreaError> {
    Reader {
        budget: usize::MAX,
        max: usize::MAX,
        topology: false,
    }
    .geometry(value, "area")
}

struct Reader {
    /// Vertices still allowed.
    budget: usize,
    max: usize,
    /// Whether to check what the geometry means, not only how it is written.
    topology: bool,
}

impl Reader {
    fn geometry(&mut self, value: &Value, path: &str) -> Result<MultiPolygon<f64>, AreaError> {
        let Some(obj) = value.as_object() else {
            return err(path, "expected a GeoJSON object with a \"type\"");
        };
        let kind = obj.get("type").and_then(Value::as_str).unwrap_or("");
        let coords = || {
            obj.get("coordinates").ok_or_else(|| AreaError {
                path: path.into(),
                message: "missing \"coordinates\"".into(),
            })
        };
        match kind {
            "Feature" => match obj.get("geometry") {
                Some(g) if !g.is_null() => self.geometry(g, &format!("{path}.geometry")),
                _ => err(path, "the Feature has no geometry"),
            },
            "FeatureCollection" => match obj.get("features").and_then(Value::as_array) {
                Some(f) if f.len() == 1 => self.geometry(&f[0], &format!("{path}.features[0]")),
                _ => err(
                    path,
                    "a FeatureCollection must hold exactly one Polygon or MultiPolygon feature",
                ),
            },
            "Polygon" => {
                let p = self.polygon(coords()?, &format!("{path}.coordinates"))?;
                Ok(MultiPolygon(vec![p]))
            }
            "MultiPolygon" => {
                let path = format!("{path}.coordinates");
                let Some(polys) = coords()?.as_array().filter(|a| !a.is_empty()) else {
                    return err(&path, "expected a non-empty array of polygons");
                };
                let parts = polys
                    .iter()
                    .enumerate()
                    .map(|(i, p)| self.polygon(p, &format!("{path}[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?;
                if self.topology {
                    check_parts(&parts, &path)?;
                }
                Ok(MultiPolygon(parts))
            }
            "" => err(path, "missing \"type\"; expected Polygon or MultiPolygon"),
            other => err(
                path,
                format!("wrong geometry type {other}; expected Polygon or MultiPolygon"),
            ),
        }
    }

    fn polygon(&mut self, value: &Value, path: &str) -> Result<Polygon<f64>, AreaError> {
        let Some(rings) = value.as_array().filter(|a| !a.is_empty()) else {
            return err(path, "expected a non-empty array of linear rings");
        };
        let mut parsed = Vec::with_capacity(rings.len());
        for (i, r) in rings.iter().enumerate() {
            parsed.push(self.ring(r, &format!("{path}[{i}]"))?);
        }
        let exterior = parsed.remove(0);
        if self.topology && !parsed.is_empty() {
            check_holes(&exterior, &parsed, path)?;
        }
        Ok(Polygon::new(exterior, parsed))
    }

    fn ring(&mut self, value: &Value, path: &str) -> Result<LineString<f64>, AreaError> {
        let Some(positions) = value.as_array() else {
            return err(path, "expected an array of positions");
        };
        if positions.len() > self.budget {
            return err(
                path,
                format!("the area has more than {} vertices", self.max),
            );
        }
        self.budget -= positions.len();
        if positions.len() < 4 {
            return err(
                path,
                format!(
                    "a linear ring needs at least 4 positions, found {}",
                    positions.len()
                ),
            );
        }
        let mut coords = Vec::with_capacity(positions.len());
        for (i, p) in positions.iter().enumerate() {
            let here = format!("{path}[{i}]");
            let Some(xy) = p.as_array().filter(|a| a.len() >= 2) else {
                return err(&here, "a position is an array [longitude, latitude]");
            };
            let (Some(x), Some(y)) = (xy[0].as_f64(), xy[1].as_f64()) else {
                return err(&here, "coordinates must be numbers");
            };
            if !x.is_finite() || !y.is_finite() {
                return err(&here, "coordinates must be finite numbers");
            }
            if !(-180.0..=180.0).contains(&x) {
                return err(&here, format!("longitude {x} is outside -180..180"));
            }
            if !(-90.0..=90.0).contains(&y) {
                return err(&here, format!("latitude {y} is outside -90..90"));
            }
            coords.push(Coord { x, y });
        }
        if coords.first() != coords.last() {
            return err(
                path,
                "the ring is not closed: its first and last positions differ",
            );
        }
        if self.topology {
            check_antimeridian(&coords, path)?;
        }
        // All positions on one line (or all the same): nothing is enclosed.
        let first = coords[0];
        let enclosed = coords
            .iter()
            .find(|c| **c != first)
            .is_some_and(|&second| coords.iter().any(|&c| orient(first, second, c) != 0.0));
        if !enclosed {
            return err(path, "the ring encloses no area");
        }
        if let Some((a, b)) = self_intersection(&coords) {
            return err(
                path,
                format!("the ring crosses itself (edge {a} meets edge {b})"),
            );
        }
        Ok(LineString::new(coords))
    }
}

/// GeoJSON edges are straight lines in longitude and latitude, so an edge from
/// 179° to -179° runs 358° the long way round, not 2° across the antimeridian.
/// RFC 7946 §3.1.9 asks for such a geometry to be cut in two instead.
fn check_antimeridian(ring: &[Coord<f64>], path: &str) -> Result<(), AreaError> {
    for (i, pair) in ring.windows(2).enumerate() {
        let (a, b) = (pair[0], pair[1]);
        let span = (b.x - a.x).abs();
        if span > 180.0 {
            return err(
                &format!("{path}[{}]", i + 1),
                format!(
                    "the edge from [{}, {}] to [{}, {}] spans {span}° of longitude, more than \
                     180°, so it would be read the long way round the globe; if the area \
                     crosses the antimeridian, split the polygon at the antimeridian \
                     (longitude 180/-180) into a MultiPolygon with one part on each side, \
                     as RFC 7946 §3.1.9 asks",
                    a.x, a.y, b.x, b.y
                ),
            );
        }
    }
    Ok(())
}

/// The rings of one polygon's holes each lie within its shell (touching the
/// shell's boundary is allowed), no two holes overlap, and the holes leave
/// something of the shell.
fn check_holes(
    shell: &LineString<f64>,
    holes: &[LineString<f64>],
    path: &str,
) -> Result<(), AreaError> {
    let shell_area = Polygon::new(shell.clone(), vec![]);
    let shell_path = format!("{path}[0]");
    // A shell has no holes of its own, so a hole's region lies within it exactly
    // when the hole's ring does: one relate for all the rings answers for all.
    let rings = MultiLineString(holes.to_vec());
    if !shell_area.relate(&rings).is_covers() {
        let prepared = PreparedGeometry::from(&shell_area);
        for (k, hole) in holes.iter().enumerate() {
            let m = prepared.relate(&Polygon::new(hole.clone(), vec![]));
            if m.is_covers() {
                continue;
            }
            let message = if m.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::Empty {
                format!(
                    "the hole lies outside its shell {shell_path}; a hole must lie within \
                     the polygon's first ring"
                )
            } else {
                format!(
                    "the hole reaches outside its shell {shell_path} (it crosses the shell's \
                     boundary or surrounds it); a hole must lie within the polygon's first \
                     ring (touching it is allowed)"
                )
            };
            return err(&format!("{path}[{}]", k + 1), message);
        }
    }
    let holes: Vec<Polygon<f64>> = holes
        .iter()
        .map(|h| Polygon::new(h.clone(), vec![]))
        .collect();
    if let Some((i, j)) = first_overlap(&holes).map_err(|e| e.at(path, "holes"))? {
        return err(
            &format!("{path}[{}]", j + 1),
            format!(
                "the hole overlaps the hole {path}[{}]; holes of one polygon must not overlap \
                 (merge them into one)",
                i + 1
            ),
        );
    }
    // Within the shell and apart, the holes cover all of it only if their areas
    // add up to the shell's.
    let cut: f64 = holes.iter().map(Area::unsigned_area).sum();
    if cut >= shell_area.unsigned_area() * (1.0 - 1e-12) {
        let (here, what) = match holes.len() {
            1 => (format!("{path}[1]"), "the hole is its whole shell"),
            _ => (path.to_string(), "the holes cover the whole of the shell"),
        };
        return err(
            &here,
            format!("{what} {shell_path}: nothing is left of the area"),
        );
    }
    Ok(())
}

/// No two parts of a MultiPolygon overlap; they may touch at points or along edges.
fn check_parts(parts: &[Polygon<f64>], path: &str) -> Result<(), AreaError> {
    if let Some((i, j)) = first_overlap(parts).map_err(|e| e.at(path, "polygons"))? {
        return err(
            &format!("{path}[{j}]"),
            format!(
                "the polygon overlaps the polygon {path}[{i}]; parts of a MultiPolygon must \
                 not overlap (they may share edges): merge them into one polygon or remove \
                 the overlap"
            ),
        );
    }
    Ok(())
}

/// How many pairs of parts (or of holes) of one area may touch. Each touching
/// pair costs a `relate` (a few microseconds for small polygons); thousands of
/// feeder zones sharing edges stay well below this, while 4,000 slivers meeting
/// at one point (8 million pairs) would take minutes.
const MAX_TOUCHING: usize = 50_000;

/// More than [`MAX_TOUCHING`] pairs touch.
struct TooManyContacts;

impl TooManyContacts {
    fn at(self, path: &str, what: &str) -> AreaError {
        AreaError {
            path: path.to_string(),
            message: format!(
                "more than {MAX_TOUCHING} pairs of its {what} touch one another; merge \
                 touching {what} into fewer"
            ),
        }
    }
}

/// An edge of polygon `data`, and the bounding box of polygon `data`.
type Edge = GeomWithData<Line<f64>, usize>;
type Bounds = GeomWithData<Rectangle<Point<f64>>, usize>;

fn rings(p: &Polygon<f64>) -> impl Iterator<Item = &LineString<f64>> {
    std::iter::once(p.exterior()).chain(p.interiors())
}

/// The first pair `(i, j)`, `i < j`, by `j` then `i`, of (each valid) polygons
/// whose interiors intersect.
///
/// Relating every pair costs far too much for an area of thousands of parts (a
/// few hundred rings nested in one another's holes took minutes), so:
/// - only polygons whose bounding boxes meet are compared;
/// - if the boundaries of two polygons meet (found for all pairs at once from an
///   R-tree of every edge), `relate` tells a shared edge or point from an overlap;
/// - if they do not, every ring of one lies wholly inside or wholly outside the
///   other, and the two overlap exactly when some ring of one lies inside the
///   other: one point of each ring tells.
///
/// More than [`MAX_TOUCHING`] touching pairs are refused before any is related.
fn first_overlap(polygons: &[Polygon<f64>]) -> Result<Option<(usize, usize)>, TooManyContacts> {
    if polygons.len() < 2 {
        return Ok(None);
    }
    let boxes: Vec<Bounds> = polygons
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let r = p.bounding_rect().expect("a parsed ring has positions");
            Bounds::new(Rectangle::from_corners(r.min().into(), r.max().into()), i)
        })
        .collect();
    let bounds = RTree::bulk_load(boxes.clone());
    let edges = RTree::bulk_load(
        polygons
            .iter()
            .enumerate()
            .flat_map(|(i, p)| {
                rings(p)
                    .flat_map(|r| r.lines())
                    .map(move |l| Edge::new(l, i))
            })
            .collect(),
    );
    let mut touching = HashSet::new();
    for (a, b) in edges.intersection_candidates_with_other_tree(&edges) {
        if a.data < b.data && a.geom().intersects(b.geom()) {
            touching.insert((a.data, b.data));
            if touching.len() > MAX_TOUCHING {
                return Err(TooManyContacts);
            }
        }
    }
    let inside =
        |a: &Polygon<f64>, b: &Polygon<f64>| rings(a).any(|r| b.intersects(&Point::from(r.0[0])));
    let mut prepared: Vec<Option<PreparedGeometry<'_, &Polygon<f64>>>> =
        (0..polygons.len()).map(|_| None).collect();
    for (j, this) in boxes.iter().enumerate() {
        let mut earlier: Vec<usize> = bounds
            .locate_in_envelope_intersecting(&this.envelope())
            .map(|b| b.data)
            .filter(|&i| i < j)
            .collect();
        earlier.sort_unstable();
        for i in earlier {
            let overlap = if touching.contains(&(i, j)) {
                for k in [i, j] {
                    if prepared[k].is_none() {
                        prepared[k] = Some(PreparedGeometry::from(&polygons[k]));
                    }
                }
                let (Some(a), Some(b)) = (&prepared[i], &prepared[j]) else {
                    unreachable!("both were just prepared");
                };
                a.relate(b).get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional
            } else {
                inside(&polygons[i], &polygons[j]) || inside(&polygons[j], &polygons[i])
            };
            if overlap {
                return Ok(Some((i, j)));
            }
        }
    }
    Ok(None)
}

fn orient(a: Coord<f64>, b: Coord<f64>, c: Coord<f64>) -> f64 {
    (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x)
}

fn on_segment(a: Coord<f64>, b: Coord<f64>, p: Coord<f64>) -> bool {
    p.x >= a.x.min(b.x) && p.x <= a.x.max(b.x) && p.y >= a.y.min(b.y) && p.y <= a.y.max(b.y)
}

fn segments_meet(a: Coord<f64>, b: Coord<f64>, c: Coord<f64>, d: Coord<f64>) -> bool {
    let (o1, o2, o3, o4) = (
        orient(a, b, c),
        orient(a, b, d),
        orient(c, d, a),
        orient(c, d, b),
    );
    if ((o1 > 0.0 && o2 < 0.0) || (o1 < 0.0 && o2 > 0.0))
        && ((o3 > 0.0 && o4 < 0.0) || (o3 < 0.0 && o4 > 0.0))
    {
        return true;
    }
    (o1 == 0.0 && on_segment(a, b, c))
        || (o2 == 0.0 && on_segment(a, b, d))
        || (o3 == 0.0 && on_segment(c, d, a))
        || (o4 == 0.0 && on_segment(c, d, b))
}

/// Finds two non-adjacent edges of a closed ring that touch or cross. Edges are
/// swept in order of their left end, so only edges overlapping in x are compared.
fn self_intersection(ring: &[Coord<f64>]) -> Option<(usize, usize)> {
    let n = ring.len() - 1;
    let mut edges: Vec<(f64, f64, usize)> = (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[i + 1]);
            (a.x.min(b.x), a.x.max(b.x), i)
        })
        .collect();
    edges.sort_by(|p, q| p.0.total_cmp(&q.0));
    for (k, &(_, max_x, i)) in edges.iter().enumerate() {
        for &(min_x, _, j) in &edges[k + 1..] {
            if min_x > max_x {
                break;
            }
            let adjacent = i.abs_diff(j) == 1 || i.abs_diff(j) == n - 1;
            if adjacent {
                // Neighbours share a vertex; they only conflict if they fold back on each other.
                let (shared, other_i, other_j) = if (i + 1) % n == j {
                    (ring[j], ring[i], ring[j + 1])
                } else {
                    (ring[i], ring[i + 1], ring[j])
                };
                if orient(other_i, shared, other_j) == 0.0
                    && (other_j.x - shared.x) * (other_i.x - shared.x)
                        + (other_j.y - shared.y) * (other_i.y - shared.y)
                        > 0.0
                {
                    return Some((i.min(j), i.max(j)));
                }
                continue;
            }
            if segments_meet(ring[i], ring[i + 1], ring[j], ring[j + 1]) {
                return Some((i.min(j), i.max(j)));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn poly(ring: Value) -> Value {
        json!({"type": "Polygon", "coordinates": [ring]})
    }

    #[test]
    fn accepts_both_orientations_holes_features_and_multipolygons() {
        let ccw = json!([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]);
        let cw = json!([[0.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0], [0.0, 0.0]]);
        assert!(parse_area(&poly(ccw.clone()), 100).is_ok());
        assert!(parse_area(&poly(cw), 100).is_ok());
        let hole = json!([[0.2, 0.2], [0.4, 0.2], [0.4, 0.4], [0.2, 0.4], [0.2, 0.2]]);
        let with_hole =
            parse_area(&json!({"type": "Polygon", "coordinates": [ccw, hole]}), 100).unwrap();
        assert_eq!(with_hole.0[0].interiors().len(), 1);
        let feature = json!({"type": "Feature", "properties": {}, "geometry": poly(json!([[0,0],[1,0],[1,1],[0,0]]))});
        assert!(parse_area(&feature, 100).is_ok());
        let multi = json!({"type": "MultiPolygon", "coordinates": [[[[0,0],[1,0],[1,1],[0,0]]], [[[5,5],[6,5],[6,6],[5,5]]]]});
        assert_eq!(parse_area(&multi, 100).unwrap().0.len(), 2);
    }

    #[test]
    fn rejections_name_the_place() {
        let cases = [
            (
                poly(json!([[0, 0], [1, 0], [1, 1], [0, 1]])),
                "area.coordinates[0]",
                "not closed",
            ),
            (
                poly(json!([[0, 0], [1, 0], [0, 0]])),
                "area.coordinates[0]",
                "at least 4",
            ),
            (
                poly(json!([[0, 0], [1, 0], [1, "x"], [0, 0]])),
                "area.coordinates[0][2]",
                "numbers",
            ),
            (
                poly(json!([[0, 0], [181, 0], [1, 1], [0, 0]])),
                "area.coordinates[0][1]",
                "longitude",
            ),
            (
                poly(json!([[0, 0], [1, 0], [1, -91], [0, 0]])),
                "area.coordinates[0][2]",
                "latitude",
            ),
            (
                poly(json!([[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]])),
                "area.coordinates[0]",
                "crosses itself",
            ),
            (
                poly(json!([[0, 0], [1, 0], [2, 0], [0, 0]])),
                "area.coordinates[0]",
                "no area",
            ),
            (
                json!({"type": "Point", "coordinates": [0, 0]}),
                "area",
                "wrong geometry type Point",
            ),
            (
                json!({"type": "Polygon", "coordinates": []}),
                "area.coordinates",
                "non-empty",
            ),
            (json!([1, 2]), "area", "GeoJSON object"),
        ];
        for (value, path, needle) in cases {
            let e = parse_area(&value, 100).unwrap_err();
            assert_eq!(e.path, path, "{e}");
            assert!(e.message.contains(needle), "{e}");
        }
        let big: Vec<Value> = (0..50)
            .map(|i| {
                let a = i as f64 / 50.0 * std::f64::consts::TAU;
                json!([a.cos(), a.sin()])
            })
            .chain([json!([1.0, 0.0])])
            .collect();
        let e = parse_area(&poly(Value::Array(big)), 20).unwrap_err();
        assert!(e.message.contains("more than 20 vertices"), "{e}");
    }

    fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Value {
        json!([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]])
    }

    fn multi(parts: Vec<Value>) -> Value {
        json!({"type": "MultiPolygon", "coordinates": parts})
    }

    /// The path and a few words of the message, or "ok".
    fn outcome(value: &Value) -> (String, String) {
        match parse_area(value, 1_000) {
            Ok(_) => ("ok".into(), String::new()),
            Err(e) => (e.path, e.message),
        }
    }

    #[track_caller]
    fn refused(value: Value, path: &str, needles: &[&str]) {
        let (p, message) = outcome(&value);
        assert_eq!(p, path, "{message}");
        for needle in needles {
            assert!(message.contains(needle), "{path}: {message}");
        }
    }

    #[track_caller]
    fn accepted(value: Value) {
        let (p, message) = outcome(&value);
        assert_eq!(p, "ok", "{message}");
    }

    #[test]
    fn edges_spanning_more_than_180_degrees_ask_for_the_antimeridian_split() {
        // Issue 10's strip: 2° wide across the antimeridian, read the long way round.
        let strip = json!([[179, 46], [-179, 46], [-179, 47], [179, 47], [179, 46]]);
        refused(
            poly(strip.clone()),
            "area.coordinates[0][1]",
            &[
                "RFC 7946 §3.1.9",
                "split the polygon at the antimeridian",
                "358° of longitude",
                "[179, 46] to [-179, 46]",
            ],
        );
        // The long edge wherever it is: the closing one, one in a hole, in a part.
        refused(
            poly(json!([
                [-179, 46],
                [-179, 47],
                [179, 47],
                [179, 46],
                [-179, 46]
            ])),
            "area.coordinates[0][2]",
            &["RFC 7946 §3.1.9"],
        );
        refused(
            poly(json!([
                [170, 40],
                [175, 40],
                [175, 45],
                [170, 45],
                [-170, 40]
            ])),
            "area.coordinates[0]",
            &["not closed"],
        );
        refused(
            json!({"type": "Polygon", "coordinates": [
                rect(-180.0, 0.0, 180.0, 10.0),
                [[-179, 1], [179, 1], [179, 2], [-179, 2], [-179, 1]],
            ]}),
            "area.coordinates[0][1]",
            &["360° of longitude"],
        );
        refused(
            multi(vec![json!([rect(0.0, 0.0, 1.0, 1.0)]), json!([strip])]),
            "area.coordinates[1][0][1]",
            &["RFC 7946 §3.1.9"],
        );
        // The split the message asks for is accepted: the halves meet at ±180 only
        // on the globe, and in plane coordinates are far apart.
        accepted(multi(vec![
            json!([rect(179.0, 46.0, 180.0, 47.0)]),
            json!([rect(-180.0, 46.0, -179.0, 47.0)]),
        ]));
        // Exactly 180° is not more than 180°; a world-wide band built of short edges is fine.
        accepted(poly(rect(0.0, 0.0, 180.0, 1.0)));
        accepted(poly(json!([
            [-180, 0],
            [0, 0],
            [180, 0],
            [180, 1],
            [0, 1],
            [-180, 1],
            [-180, 0]
        ])));
        // An area stored before the check reads as it did.
        let stored = read_stored_area(&poly(strip)).unwrap();
        assert_eq!(stored.0[0].exterior().0.len(), 5);
    }

    #[test]
    fn holes_lie_within_their_shell() {
        let shell = rect(0.0, 0.0, 4.0, 4.0);
        let with = |holes: Vec<Value>| {
            let mut rings = vec![shell.clone()];
            rings.extend(holes);
            json!({"type": "Polygon", "coordinates": rings})
        };
        refused(
            with(vec![rect(5.0, 5.0, 6.0, 6.0)]),
            "area.coordinates[1]",
            &["outside its shell area.coordinates[0]"],
        );
        // Touching the shell from outside is still outside.
        refused(
            with(vec![rect(4.0, 1.0, 5.0, 2.0)]),
            "area.coordinates[1]",
            &["outside its shell"],
        );
        refused(
            with(vec![rect(1.0, 1.0, 2.0, 2.0), rect(3.0, 3.0, 5.0, 5.0)]),
            "area.coordinates[2]",
            &["reaches outside its shell area.coordinates[0]"],
        );
        // A "hole" around the whole shell.
        refused(
            with(vec![rect(-1.0, -1.0, 5.0, 5.0)]),
            "area.coordinates[1]",
            &["reaches outside its shell"],
        );
        refused(
            with(vec![json!([[0, 0], [0, 4], [4, 4], [4, 0], [0, 0]])]),
            "area.coordinates[1]",
            &["whole shell", "nothing is left"],
        );
        // Holes must not overlap one another (nor lie one inside another)…
        refused(
            with(vec![rect(1.0, 1.0, 2.5, 2.5), rect(2.0, 2.0, 3.0, 3.0)]),
            "area.coordinates[2]",
            &["overlaps the hole area.coordinates[1]"],
        );
        refused(
            with(vec![
                rect(0.5, 0.5, 1.0, 1.0),
                rect(1.0, 1.0, 3.0, 3.0),
                rect(1.5, 1.5, 2.0, 2.0),
            ]),
            "area.coordinates[3]",
            &["overlaps the hole area.coordinates[2]"],
        );
        // …but holes may touch the shell and each other, at a point or along an edge.
        accepted(with(vec![json!([[0, 2], [1, 1], [2, 2], [1, 3], [0, 2]])]));
        accepted(with(vec![rect(0.0, 0.0, 1.0, 1.0)]));
        accepted(with(vec![
            rect(1.0, 1.0, 2.0, 2.0),
            rect(2.0, 2.0, 3.0, 3.0),
        ]));
        accepted(with(vec![
            rect(1.0, 1.0, 2.0, 2.0),
            rect(2.0, 1.0, 3.0, 2.0),
        ]));
        // Either orientation of shell and hole.
        accepted(json!({"type": "Polygon", "coordinates": [
            [[0, 0], [0, 4], [4, 4], [4, 0], [0, 0]],
            [[1, 1], [1, 2], [2, 2], [2, 1], [1, 1]],
        ]}));
        // The path follows the wrapping.
        let feature = json!({"type": "Feature", "properties": {},
            "geometry": with(vec![rect(5.0, 5.0, 6.0, 6.0)])});
        refused(feature, "area.geometry.coordinates[1]", &["outside"]);
        refused(
            multi(vec![
                json!([rect(10.0, 10.0, 11.0, 11.0)]),
                json!([shell.clone(), rect(3.0, 3.0, 5.0, 5.0)]),
            ]),
            "area.coordinates[1][1]",
            &["shell area.coordinates[1][0]"],
        );
    }

    #[test]
    fn parts_of_a_multipolygon_may_touch_but_not_overlap() {
        let a = json!([rect(0.0, 0.0, 2.0, 2.0)]);
        refused(
            multi(vec![a.clone(), json!([rect(1.0, 1.0, 3.0, 3.0)])]),
            "area.coordinates[1]",
            &["overlaps the polygon area.coordinates[0]"],
        );
        refused(
            multi(vec![a.clone(), a.clone()]),
            "area.coordinates[1]",
            &["overlaps"],
        );
        // One inside another; the later part is named, with the one it overlaps.
        refused(
            multi(vec![
                json!([rect(0.5, 0.5, 1.0, 1.0)]),
                json!([rect(5.0, 5.0, 6.0, 6.0)]),
                a.clone(),
            ]),
            "area.coordinates[2]",
            &["overlaps the polygon area.coordinates[0]"],
        );
        // An island in a part's hole, reaching over the hole's edge.
        let lake = json!([rect(0.0, 0.0, 4.0, 4.0), rect(1.0, 1.0, 3.0, 3.0)]);
        refused(
            multi(vec![lake.clone(), json!([rect(1.5, 1.5, 3.5, 2.5)])]),
            "area.coordinates[1]",
            &["overlaps"],
        );
        // Touching along an edge or at a corner, or an island inside a hole: one area.
        accepted(multi(vec![a.clone(), json!([rect(2.0, 0.0, 4.0, 2.0)])]));
        accepted(multi(vec![a.clone(), json!([rect(2.0, 2.0, 4.0, 4.0)])]));
        accepted(multi(vec![a.clone(), json!([rect(2.0, 0.5, 3.0, 1.5)])]));
        accepted(multi(vec![lake.clone(), json!([rect(1.5, 1.5, 2.5, 2.5)])]));
        accepted(multi(vec![lake, json!([rect(1.0, 1.0, 3.0, 3.0)])]));
        // Stored areas are read without the check (see read_stored_area).
        let overlapping = multi(vec![a.clone(), a]);
        assert_eq!(read_stored_area(&overlapping).unwrap().0.len(), 2);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
        /// On a small grid, where touching is common: two rectangles (the second
        /// possibly a hole in the first, or a second part) are refused exactly when
        /// the arithmetic says their interiors meet or the hole leaves its shell.
        #[test]
        fn rectangles_agree_with_arithmetic(
            a in (0u8..4, 0u8..4, 1u8..4, 1u8..4),
            b in (0u8..5, 0u8..5, 1u8..4, 1u8..4),
        ) {
            let r = |(x, y, w, h): (u8, u8, u8, u8)| {
                (f64::from(x), f64::from(y), f64::from(x + w), f64::from(y + h))
            };
            let (a, b) = (r(a), r(b));
            let overlap = a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3;
            let parts = multi(vec![
                json!([rect(a.0, a.1, a.2, a.3)]),
                json!([rect(b.0, b.1, b.2, b.3)]),
            ]);
            proptest::prop_assert_eq!(parse_area(&parts, 100).is_ok(), !overlap);
            let inside = a.0 <= b.0 && b.2 <= a.2 && a.1 <= b.1 && b.3 <= a.3;
            let holed = json!({"type": "Polygon", "coordinates": [
                rect(a.0, a.1, a.2, a.3),
                rect(b.0, b.1, b.2, b.3),
            ]});
            proptest::prop_assert_eq!(parse_area(&holed, 100).is_ok(), inside && a != b);
        }
    }

    #[test]
    fn the_fixture_outages_pass() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/outages");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let outage: Value = serde_json::from_str(&text).unwrap();
            if let Err(e) = parse_area(&outage["area"], 20_000) {
                panic!("{}: {e}", path.display());
            }
            n += 1;
        }
        assert!(n >= 2, "{n} fixtures in {dir}");
    }

    #[test]
    fn too_many_touching_parts_are_refused_before_any_is_related() {
        // Slivers all meeting at one point: every pair touches.
        let fan = |k: usize| {
            let at = |i: usize| {
                let a = i as f64 / k as f64 * std::f64::consts::TAU;
                json!([a.cos(), a.sin()])
            };
            let parts = (0..k)
                .map(|i| json!([[[0.0, 0.0], at(i), at(i + 1), [0.0, 0.0]]]))
                .collect();
            multi(parts)
        };
        accepted(fan(60));
        let e = parse_area(&fan(400), 10_000).unwrap_err();
        assert_eq!(e.path, "area.coordinates");
        assert!(e.message.contains("more than 50000 pairs"), "{e}");
    }

    /// A polygon for the cross-check below: a rectangle, a rectangle with a hole
    /// strictly inside (so `relate`, the reference, sees a valid polygon) or a
    /// triangle, on a small grid where touching and nesting are common.
    fn shape() -> impl proptest::strategy::Strategy<Value = Polygon<f64>> {
        use proptest::prelude::*;
        (0u8..3, 0u8..6, 0u8..6, 1u8..5, 1u8..5, 0u8..8, 0u8..8).prop_map(
            |(kind, x, y, w, h, a, b)| {
                let (x, y, w, h) = (f64::from(x), f64::from(y), f64::from(w), f64::from(h));
                let ring = |x0: f64, y0: f64, x1: f64, y1: f64| {
                    LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)])
                };
                match kind {
                    1 if w >= 3.0 && h >= 3.0 => {
                        let hx = x + 1.0 + f64::from(a) % (w - 2.0);
                        let hy = y + 1.0 + f64::from(b) % (h - 2.0);
                        let hole = LineString::from(vec![
                            (hx, hy),
                            (hx + 0.5, hy),
                            (hx + 0.5, hy + 0.5),
                            (hx, hy),
                        ]);
                        Polygon::new(ring(x, y, x + w, y + h), vec![hole])
                    }
                    2 => {
                        let c = (f64::from(a % 6), f64::from(b % 6));
                        if c.1 == y {
                            Polygon::new(ring(x, y, x + w, y + h), vec![])
                        } else {
                            Polygon::new(
                                LineString::from(vec![(x, y), (x + w, y), c, (x, y)]),
                                vec![],
                            )
                        }
                    }
                    _ => Polygon::new(ring(x, y, x + w, y + h), vec![]),
                }
            },
        )
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        /// The search that relates only touching pairs finds the same first
        /// overlapping pair as relating every pair.
        #[test]
        fn first_overlap_agrees_with_relating_every_pair(
            shapes in proptest::collection::vec(shape(), 2..7),
        ) {
            let expected = (1..shapes.len()).find_map(|j| {
                (0..j).find(|&i| {
                    shapes[i].relate(&shapes[j]).get(CoordPos::Inside, CoordPos::Inside)
                        == Dimensions::TwoDimensional
                })
                .map(|i| (i, j))
            });
            let found = first_overlap(&shapes).ok().unwrap();
            proptest::prop_assert_eq!(found, expected, "{:?}", shapes);
        }
    }
}
