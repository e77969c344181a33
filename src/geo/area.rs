//! Outage areas: GeoJSON (RFC 7946) in, a validated `geo::MultiPolygon` out.
//!
//! Every rejection names where the problem is (`area.coordinates[0][3]`) so a
//! dispatcher's tool can point at it. Either ring orientation is accepted; holes
//! and MultiPolygons are supported; a Feature (or a one-feature collection)
//! wrapping the geometry is unwrapped.

use geo::{Coord, LineString, MultiPolygon, Polygon};
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

/// Parses and validates an outage area.
pub fn parse_area(value: &Value, max_vertices: usize) -> Result<MultiPolygon<f64>, AreaError> {
    let mut budget = max_vertices;
    geometry(value, "area", &mut budget, max_vertices)
}

fn geometry(
    value: &Value,
    path: &str,
    budget: &mut usize,
    max: usize,
) -> Result<MultiPolygon<f64>, AreaError> {
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
            Some(g) if !g.is_null() => geometry(g, &format!("{path}.geometry"), budget, max),
            _ => err(path, "the Feature has no geometry"),
        },
        "FeatureCollection" => match obj.get("features").and_then(Value::as_array) {
            Some(f) if f.len() == 1 => geometry(&f[0], &format!("{path}.features[0]"), budget, max),
            _ => err(
                path,
                "a FeatureCollection must hold exactly one Polygon or MultiPolygon feature",
            ),
        },
        "Polygon" => {
            let p = polygon(coords()?, &format!("{path}.coordinates"), budget, max)?;
            Ok(MultiPolygon(vec![p]))
        }
        "MultiPolygon" => {
            let path = format!("{path}.coordinates");
            let Some(polys) = coords()?.as_array().filter(|a| !a.is_empty()) else {
                return err(&path, "expected a non-empty array of polygons");
            };
            polys
                .iter()
                .enumerate()
                .map(|(i, p)| polygon(p, &format!("{path}[{i}]"), budget, max))
                .collect::<Result<Vec<_>, _>>()
                .map(MultiPolygon)
        }
        "" => err(path, "missing \"type\"; expected Polygon or MultiPolygon"),
        other => err(
            path,
            format!("wrong geometry type {other}; expected Polygon or MultiPolygon"),
        ),
    }
}

fn polygon(
    value: &Value,
    path: &str,
    budget: &mut usize,
    max: usize,
) -> Result<Polygon<f64>, AreaError> {
    let Some(rings) = value.as_array().filter(|a| !a.is_empty()) else {
        return err(path, "expected a non-empty array of linear rings");
    };
    let mut parsed = Vec::with_capacity(rings.len());
    for (i, r) in rings.iter().enumerate() {
        parsed.push(ring(r, &format!("{path}[{i}]"), budget, max)?);
    }
    let exterior = parsed.remove(0);
    Ok(Polygon::new(exterior, parsed))
}

fn ring(
    value: &Value,
    path: &str,
    budget: &mut usize,
    max: usize,
) -> Result<LineString<f64>, AreaError> {
    let Some(positions) = value.as_array() else {
        return err(path, "expected an array of positions");
    };
    if positions.len() > *budget {
        return err(path, format!("the area has more than {max} vertices"));
    }
    *budget -= positions.len();
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
}
