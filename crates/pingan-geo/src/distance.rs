//! Great-circle distance in metres between WGS-84 lon/lat points.
//!
//! A thin convenience over geo's [`Haversine`] metric space, which already uses the IUGG mean
//! Earth radius (6,371,008.8 m). Haversine on a sphere is within 0.5 % of the ellipsoidal
//! distance: plenty for "nearest police station" and "how far is the patrol car", and an order
//! of magnitude cheaper than geodesic (Karney) distance.

use geo::{Distance, Haversine, Point};

/// Mean Earth radius in metres (IUGG R1 = 6,371,008.8 m), the sphere [`haversine_m`] works on.
pub const MEAN_EARTH_RADIUS_M: f64 = Haversine.radius();

/// Great-circle distance between two lon/lat points in degrees, in metres.
pub fn haversine_m(a: Point<f64>, b: Point<f64>) -> f64 {
    Haversine.distance(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radius_is_the_iugg_mean() {
        assert!((MEAN_EARTH_RADIUS_M - 6_371_008.8).abs() < 0.1);
    }

    #[test]
    fn one_degree_of_latitude_is_about_111_km() {
        let d = haversine_m(Point::new(116.0, 39.0), Point::new(116.0, 40.0));
        assert!((d - 111_195.0).abs() < 5.0, "{d}");
    }

    #[test]
    fn beijing_to_shanghai() {
        // Tiananmen to the Bund: ~1,067 km along the great circle.
        let d = haversine_m(Point::new(116.3975, 39.9087), Point::new(121.4906, 31.2397));
        assert!((1_060_000.0..1_075_000.0).contains(&d), "{d}");
        assert_eq!(haversine_m(Point::new(1.0, 2.0), Point::new(1.0, 2.0)), 0.0);
    }
}
