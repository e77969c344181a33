//! Herald's own static files under `/static/`: its scripts, and the vendored
//! front-end libraries (see `static/vendor/README.md`). They are compiled into
//! the binary, so a node needs no files beside it and the console works
//! offline; nothing is ever loaded from a CDN.

use std::sync::{Arc, OnceLock};

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::{conditional, AppState};
use crate::auth::sha256_hex;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/static/{*path}", get(asset))
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const PNG: &str = "image/png";
const TEXT: &str = "text/plain; charset=utf-8";

/// One file of `static/`, by its path there.
macro_rules! asset {
    ($path:literal, $type:expr) => {
        (
            $path,
            $type,
            include_bytes!(concat!("../../static/", $path)),
        )
    };
}

/// Every file served: its path under `/static/`, its type and its bytes.
static ASSETS: &[(&str, &str, &[u8])] = &[
    asset!("refresh.js", JS),
    asset!("console.js", JS),
    asset!("console-map.js", JS),
    asset!("vendor/leaflet/leaflet.js", JS),
    asset!("vendor/leaflet/leaflet.css", CSS),
    asset!("vendor/leaflet/LICENSE", TEXT),
    asset!("vendor/leaflet/images/layers.png", PNG),
    asset!("vendor/leaflet/images/layers-2x.png", PNG),
    asset!("vendor/leaflet/images/marker-icon.png", PNG),
    asset!("vendor/leaflet/images/marker-icon-2x.png", PNG),
    asset!("vendor/leaflet/images/marker-shadow.png", PNG),
    asset!("vendor/geoman/leaflet-geoman.js", JS),
    asset!("vendor/geoman/leaflet-geoman.css", CSS),
    asset!("vendor/geoman/LICENSE", TEXT),
    asset!("vendor/geoman/THIRD-PARTY-LICENSES", TEXT),
];

/// Each asset's strong validator, computed on first use.
fn tags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|(_, _, body)| format!("\"{}\"", &sha256_hex(body)[..20]))
            .collect()
    })
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let Some(i) = ASSETS.iter().position(|(p, _, _)| *p == path) else {
        return (StatusCode::NOT_FOUND, "no such file\n").into_response();
    };
    let (_, content_type, body) = ASSETS[i];
    let tag = &tags()[i];
    let mut r = if conditional::not_modified(&headers, tag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = body.into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        r
    };
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(tag) {
        h.insert(header::ETAG, v);
    }
    // An hour, then revalidated: a new release is picked up the same day.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_unique_path_and_a_body() {
        let mut paths: Vec<&str> = ASSETS.iter().map(|a| a.0).collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), ASSETS.len());
        assert!(ASSETS.iter().all(|a| !a.2.is_empty()));
    }

    /// Every vendored file is served, with its licence (see
    /// `static/vendor/SHA256SUMS`, which lists them).
    #[test]
    fn every_vendored_file_is_served() {
        let sums = include_str!("../../static/vendor/SHA256SUMS");
        for line in sums.lines() {
            let file = line.split_whitespace().last().unwrap();
            let path = format!("vendor/{}", file.trim_start_matches('*'));
            assert!(ASSETS.iter().any(|a| a.0 == path), "{path} is not served");
        }
    }
}
