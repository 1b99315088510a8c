//! Grid outlines simplified for a map zoom level, so a city-wide view does not ship every vertex.
//!
//! Uses geo's topology-preserving Visvalingam–Whyatt (`SimplifyVwPreserve`): it removes the
//! vertices whose triangle with their neighbours has the least area, but never one whose removal
//! would make a ring cross itself or another ring of the polygon. Neighbouring grids are
//! simplified independently, so at coarse zooms their shared edges may part by up to the
//! tolerance, i.e. about half a pixel: invisible by construction.
//!
//! The tolerance is half a screen pixel at the zoom level, on 256-pixel Web Mercator tiles:
//! `d = 180° / (256 · 2^zoom) · cos(lat)`, in degrees, where `180° / (256 · 2^zoom)` is half a
//! pixel of longitude and `cos(lat)` shrinks it to the smaller latitude step of a pixel so the
//! bound holds both ways. The area threshold handed to Visvalingam–Whyatt is `d²`: a vertex
//! goes when its triangle is smaller than one with a base of `2d` and a height of `d`.

use geo::{Area, BoundingRect, MultiPolygon, Polygon, SimplifyVwPreserve};

/// Zoom levels above this are treated as this one (street level already needs every vertex).
pub const MAX_ZOOM: u8 = 24;

/// Half a pixel at `zoom` near latitude `lat`, in degrees (see the module docs).
pub fn tolerance_deg(zoom: u8, lat: f64) -> f64 {
    let half_pixel_lon = 180.0 / (256.0 * f64::from(1u32 << zoom.min(MAX_ZOOM)));
    half_pixel_lon * lat.clamp(-85.0, 85.0).to_radians().cos()
}

/// `geometry` simplified for display at `zoom`. A polygon never collapses: if simplification
/// would leave its exterior without area, the tolerance is halved until it does not (after
/// 16 halvings the polygon is kept as it was). Holes that shrink to nothing are dropped.
pub fn simplify_for_zoom(geometry: &MultiPolygon<f64>, zoom: u8) -> MultiPolygon<f64> {
    let Some(bbox) = geometry.bounding_rect() else { return geometry.clone() };
    let d = tolerance_deg(zoom, bbox.center().y);
    let epsilon = d * d;
    geometry.iter().map(|p| simplify_polygon(p, epsilon)).collect()
}

fn has_area(ring: &geo::LineString<f64>) -> bool {
    ring.0.len() >= 4 && Polygon::new(ring.clone(), vec![]).unsigned_area() > 0.0
}

/// Halvings of the tolerance tried before a polygon that keeps collapsing is kept as it was.
const MAX_RETRIES: usize = 16;

fn simplify_polygon(p: &Polygon<f64>, epsilon: f64) -> Polygon<f64> {
    // A polygon smaller than the tolerance collapses; retry with a smaller one so it still
    // shows as the simplest shape that has area.
    let mut epsilon = epsilon;
    for _ in 0..MAX_RETRIES {
        let simplified = p.simplify_vw_preserve(epsilon);
        if has_area(simplified.exterior()) {
            let holes = simplified.interiors().iter().filter(|r| has_area(r)).cloned().collect();
            return Polygon::new(simplified.exterior().clone(), holes);
        }
        epsilon /= 4.0; // the tolerance halves, its square quarters
    }
    p.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::city_grids;
    use geo::{CoordsIter, Rect, Validation};

    #[test]
    fn tolerance_halves_per_zoom_level() {
        assert!((tolerance_deg(0, 0.0) - 180.0 / 256.0).abs() < 1e-12);
        assert!((tolerance_deg(11, 32.0) * 2.0 - tolerance_deg(10, 32.0)).abs() < 1e-15);
        assert!(tolerance_deg(10, 60.0) < tolerance_deg(10, 0.0));
        assert_eq!(tolerance_deg(30, 0.0), tolerance_deg(MAX_ZOOM, 0.0));
    }

    #[test]
    fn fewer_vertices_as_zoom_drops_and_always_valid() {
        let grids = city_grids(9, 40);
        for (code, g) in &grids {
            let mut last = usize::MAX;
            for zoom in (8..=18).rev() {
                let s = simplify_for_zoom(g, zoom);
                let n = s.coords_count();
                assert!(n <= last, "{code} zoom {zoom}: {n} > {last}");
                assert!(s.is_valid(), "{code} zoom {zoom}: {:?}", s.validation_errors());
                assert!(s.unsigned_area() > 0.0);
                last = n;
            }
            // At street level only exactly collinear vertices (on the city's straight outline) go.
            let street = simplify_for_zoom(g, 22);
            assert!((street.unsigned_area() - g.unsigned_area()).abs() <= 1e-12 * g.unsigned_area(), "{code}");
            // A lattice grid here (not an enclave) is ~5 km, ~150 px wide at zoom 8: its ±5 %
            // wiggles are a few pixels, and many of its 40–60 vertices go.
            if g.coords_count() >= 40 {
                assert!(simplify_for_zoom(g, 8).coords_count() < g.coords_count() * 2 / 3, "{code}");
            }
        }
    }

    #[test]
    fn never_collapses_a_small_polygon() {
        // A 10 m square is far below a pixel at zoom 3, yet it stays.
        let tiny: MultiPolygon<f64> = Rect::new((118.0, 32.0), (118.0001, 32.0001)).to_polygon().into();
        let s = simplify_for_zoom(&tiny, 3);
        assert_eq!(s.0.len(), 1);
        assert!(s.unsigned_area() > 0.0);
        assert_eq!(simplify_for_zoom(&MultiPolygon::new(vec![]), 3), MultiPolygon::new(vec![]));
    }
}
