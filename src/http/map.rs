//! The outage map: the area's outline over the affected address points, as inline
//! SVG with a scale bar and a text alternative. Coordinates are projected
//! equirectangularly around the area's centre (exact enough for a town) and scaled
//! to fit.

use askama::Template;
use geo::BoundingRect;

use super::public::Words;
use crate::error::{Error, Result};

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 400.0;
const MARGIN: f64 = 24.0;
const METRES_PER_DEGREE: f64 = 111_320.0;

#[derive(Template)]
#[template(path = "pages/map.svg", escape = "html")]
struct MapSvg {
    width: u32,
    height: u32,
    title: String,
    desc: String,
    area: String,
    points: Vec<(String, String)>,
    bar: u32,
    scale: String,
}

/// The SVG and the scale bar's label ("500 m").
pub fn outage_map(
    w: &Words,
    area: &serde_json::Value,
    points: &[(f64, f64)],
) -> Result<(String, String)> {
    let area = crate::geo::read_stored_area(area)
        .map_err(|e| Error::Internal(anyhow::anyhow!("stored area: {e}")))?;
    let bbox = area
        .bounding_rect()
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("empty area")))?;
    let (cx, cy) = (bbox.center().x, bbox.center().y);
    let kx = cy.to_radians().cos();
    let (dx, dy) = ((bbox.width() * kx).max(1e-9), bbox.height().max(1e-9));
    let s = ((WIDTH - 2.0 * MARGIN) / dx).min((HEIGHT - 2.0 * MARGIN) / dy);
    let project = |lon: f64, lat: f64| {
        (
            WIDTH / 2.0 + (lon - cx) * kx * s,
            HEIGHT / 2.0 - (lat - cy) * s,
        )
    };
    let mut d = String::new();
    for polygon in &area.0 {
        for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
            for (i, c) in ring.0.iter().enumerate() {
                let (x, y) = project(c.x, c.y);
                d.push_str(&format!("{}{x:.1} {y:.1} ", if i == 0 { 'M' } else { 'L' }));
            }
            d.push_str("Z ");
        }
    }
    let pts = points
        .iter()
        .map(|(lon, lat)| {
            let (x, y) = project(*lon, *lat);
            (format!("{x:.1}"), format!("{y:.1}"))
        })
        .collect();
    // The longest round length that fits in a quarter of the width.
    let metres_per_px = METRES_PER_DEGREE / s;
    let bar_m = [
        10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5,
    ]
    .into_iter()
    .take_while(|m| m / metres_per_px <= WIDTH / 4.0)
    .last()
    .unwrap_or(10.0);
    let scale = if bar_m >= 1000.0 {
        format!("{} km", bar_m / 1000.0)
    } else {
        format!("{bar_m} m")
    };
    let svg = MapSvg {
        width: WIDTH as u32,
        height: HEIGHT as u32,
        title: w.t("page-map-title"),
        desc: w.ta("page-map-desc", "count", &points.len().to_string()),
        area: d.trim_end().to_string(),
        points: pts,
        bar: (bar_m / metres_per_px).round().max(1.0) as u32,
        scale: scale.clone(),
    }
    .render()
    .map_err(|e| Error::Internal(anyhow::anyhow!("map template: {e}")))?;
    Ok((svg, scale))
}
