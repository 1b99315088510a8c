//! Geodetic datums that reach pingan, and conversion between WGS-84 and GCJ-02.
//!
//! Everything is stored in WGS-84. Coordinates arrive in three datums:
//! - WGS-84 (GPS receivers, most GIS exports);
//! - CGCS2000, China's national datum: it differs from WGS-84 by centimetres, below what a grid
//!   assignment can notice, so it is taken as WGS-84 unchanged;
//! - GCJ-02, the obfuscated datum every Chinese web map (AMap, Tencent, …) shows: a smooth,
//!   non-linear offset of up to several hundred metres that must be undone before a point is
//!   stored or located.
//!
//! The GCJ-02 forward transform is the published formula (Krasovsky 1940 ellipsoid plus the
//! `transformLat`/`transformLon` trigonometric series on `lon − 105°`, `lat − 35°`), written here
//! from the formula. It has no closed-form inverse, so [`gcj02_to_wgs84`] iterates the forward
//! transform (see [`GCJ02_INVERSE_MAX_ITERATIONS`]).

use std::f64::consts::PI;
use std::fmt;
use std::str::FromStr;

use geo::Point;

/// A geodetic datum a lon/lat pair can be expressed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Datum {
    /// WGS-84 (EPSG:4326): what pingan stores.
    Wgs84,
    /// GCJ-02: the offset datum of Chinese web maps.
    Gcj02,
    /// CGCS2000 (EPSG:4490): treated as WGS-84; the two agree to a few centimetres.
    Cgcs2000,
}

impl Datum {
    /// The canonical name, which [`Datum::from_str`] accepts back.
    pub fn as_str(self) -> &'static str {
        match self {
            Datum::Wgs84 => "WGS84",
            Datum::Gcj02 => "GCJ02",
            Datum::Cgcs2000 => "CGCS2000",
        }
    }
}

impl fmt::Display for Datum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A datum name that is none of the accepted spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown datum {0:?}: expected WGS84 (EPSG:4326), GCJ02 or CGCS2000 (EPSG:4490)")]
pub struct UnknownDatum(pub String);

impl FromStr for Datum {
    type Err = UnknownDatum;

    /// Accepts, case-insensitively and ignoring `-`, `_` and spaces: `WGS84`/`wgs-84`/`EPSG:4326`,
    /// `GCJ02`/`gcj-02`, `CGCS2000`/`EPSG:4490`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key: String = s.chars().filter(|c| !matches!(c, '-' | '_' | ' ')).map(|c| c.to_ascii_uppercase()).collect();
        match key.as_str() {
            "WGS84" | "EPSG:4326" => Ok(Datum::Wgs84),
            "GCJ02" => Ok(Datum::Gcj02),
            "CGCS2000" | "EPSG:4490" => Ok(Datum::Cgcs2000),
            _ => Err(UnknownDatum(s.to_string())),
        }
    }
}

/// Semi-major axis of the Krasovsky 1940 ellipsoid, metres, as the GCJ-02 formula uses it.
const KRASOVSKY_A: f64 = 6_378_245.0;
/// First eccentricity squared of the Krasovsky 1940 ellipsoid. The formula publishes it as
/// 0.00669342162296594323, which rounds to this same f64.
const KRASOVSKY_EE: f64 = 0.006_693_421_622_965_943;

/// The rough box the GCJ-02 formula is applied in: lon 72.004–137.8347, lat 0.8293–55.8271.
///
/// This is the conventional "out of China" test of the published formula and of the web map
/// SDKs; it is a rectangle, so it also covers neighbouring countries. What matters is that it is
/// the same test the maps apply, so a point the map offset is un-offset here and vice versa.
pub fn out_of_china(p: Point<f64>) -> bool {
    let (lon, lat) = (p.x(), p.y());
    !(72.004..=137.8347).contains(&lon) || !(0.8293..=55.8271).contains(&lat)
}

/// The latitude series of the GCJ-02 formula, in "metre-like" units scaled later by the ellipsoid.
fn series_lat(x: f64, y: f64) -> f64 {
    let base = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    let wave_x = 20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin();
    let wave_y = 20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin();
    let long_wave_y = 160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin();
    base + (wave_x + wave_y + long_wave_y) * 2.0 / 3.0
}

/// The longitude series of the GCJ-02 formula.
fn series_lon(x: f64, y: f64) -> f64 {
    let base = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    let wave_x = 20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin();
    let wave_x2 = 20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin();
    let long_wave_x = 150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin();
    base + (wave_x + wave_x2 + long_wave_x) * 2.0 / 3.0
}

/// WGS-84 → GCJ-02. Points outside [`out_of_china`]'s box come back unchanged.
pub fn wgs84_to_gcj02(p: Point<f64>) -> Point<f64> {
    if out_of_china(p) {
        return p;
    }
    let (lon, lat) = (p.x(), p.y());
    let (x, y) = (lon - 105.0, lat - 35.0);
    let rad_lat = lat / 180.0 * PI;
    let sin_lat = rad_lat.sin();
    let w = 1.0 - KRASOVSKY_EE * sin_lat * sin_lat;
    let sqrt_w = w.sqrt();
    // The series are in metres along the meridian / parallel; divide by the radii of curvature
    // (meridional M = a(1−e²)/W³, prime vertical N = a/W) to turn them into degrees.
    let d_lat = series_lat(x, y) * 180.0 / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (w * sqrt_w) * PI);
    let d_lon = series_lon(x, y) * 180.0 / (KRASOVSKY_A / sqrt_w * rad_lat.cos() * PI);
    Point::new(lon + d_lon, lat + d_lat)
}

/// Most fixed-point steps [`gcj02_to_wgs84`] takes. The offset field varies by well under 1 % per
/// metre, so each step shrinks the error ~100-fold: 3–4 steps reach 1e-9°, and the cap only
/// guards pathological input such as points straddling the edge of the box.
pub const GCJ02_INVERSE_MAX_ITERATIONS: usize = 20;

/// Stop iterating once the forward transform of the estimate is this close to the input, in
/// degrees (1e-9° ≈ 0.1 mm): far inside the 0.5 m promise.
const INVERSE_TOLERANCE_DEG: f64 = 1e-9;

/// GCJ-02 → WGS-84, by fixed-point iteration of the forward transform: `w ← w − (f(w) − g)`.
///
/// Accurate to well under 0.5 m (in practice < 1e-9°) for points inside China's box. A GCJ-02
/// point within a few hundred metres of the box's edge can be the image of a point inside the box
/// and also (unchanged) of itself; the iteration starts from the point itself, so such a point
/// outside the box is returned unchanged. If the cap is reached the best estimate seen is returned.
pub fn gcj02_to_wgs84(g: Point<f64>) -> Point<f64> {
    if !g.x().is_finite() || !g.y().is_finite() {
        return g;
    }
    let mut estimate = g;
    let mut best = (f64::INFINITY, g);
    for _ in 0..GCJ02_INVERSE_MAX_ITERATIONS {
        let image = wgs84_to_gcj02(estimate);
        let (dx, dy) = (image.x() - g.x(), image.y() - g.y());
        let residual = dx.abs().max(dy.abs());
        if residual < best.0 {
            best = (residual, estimate);
        }
        if residual <= INVERSE_TOLERANCE_DEG {
            break;
        }
        estimate = Point::new(estimate.x() - dx, estimate.y() - dy);
    }
    best.1
}

/// A point given in `datum`, expressed in WGS-84 (what pingan stores).
pub fn to_wgs84(p: Point<f64>, datum: Datum) -> Point<f64> {
    match datum {
        Datum::Wgs84 | Datum::Cgcs2000 => p,
        Datum::Gcj02 => gcj02_to_wgs84(p),
    }
}

/// A stored WGS-84 point, expressed in `datum` (e.g. to draw it on a GCJ-02 web map).
pub fn from_wgs84(p: Point<f64>, datum: Datum) -> Point<f64> {
    match datum {
        Datum::Wgs84 | Datum::Cgcs2000 => p,
        Datum::Gcj02 => wgs84_to_gcj02(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance::haversine_m;
    use proptest::prelude::*;

    #[test]
    fn parses_the_accepted_spellings() {
        for s in ["WGS84", "wgs-84", "wgs84", "WGS 84", "EPSG:4326", "epsg:4326"] {
            assert_eq!(s.parse::<Datum>(), Ok(Datum::Wgs84), "{s}");
        }
        for s in ["GCJ02", "gcj-02", "gcj_02"] {
            assert_eq!(s.parse::<Datum>(), Ok(Datum::Gcj02), "{s}");
        }
        for s in ["CGCS2000", "cgcs2000", "EPSG:4490"] {
            assert_eq!(s.parse::<Datum>(), Ok(Datum::Cgcs2000), "{s}");
        }
        for s in ["", "BD09", "EPSG:3857", "WGS"] {
            assert!(s.parse::<Datum>().is_err(), "{s}");
        }
        for d in [Datum::Wgs84, Datum::Gcj02, Datum::Cgcs2000] {
            assert_eq!(d.to_string().parse::<Datum>(), Ok(d));
        }
    }

    /// WGS-84 (116.404, 39.915), near Tiananmen, and its GCJ-02 image (116.41024449916938,
    /// 39.91640428150164) as published by several independent implementations of the formula:
    /// the README and test/app.js of wandergis/coordtransform (JavaScript), the README of its
    /// Python port coordTransform_py, and Hutool's CoordinateUtilTest (Java). The last digits
    /// depend on the value of π each uses, hence the 1e-9° (0.1 mm) tolerance.
    #[test]
    fn forward_matches_the_published_beijing_value() {
        let g = wgs84_to_gcj02(Point::new(116.404, 39.915));
        assert!((g.x() - 116.410_244_499_169_38).abs() < 1e-9, "{g:?}");
        assert!((g.y() - 39.916_404_281_501_64).abs() < 1e-9, "{g:?}");
    }

    /// The same sources publish a one-step approximate inverse of (116.404, 39.915):
    /// (116.39775550083061, 39.91359571849836). The iterative inverse must be a true inverse and
    /// land within a couple of metres of that approximation.
    #[test]
    fn inverse_is_exact_and_near_the_published_approximation() {
        let g = Point::new(116.404, 39.915);
        let w = gcj02_to_wgs84(g);
        let back = wgs84_to_gcj02(w);
        assert!((back.x() - g.x()).abs() < 1e-9 && (back.y() - g.y()).abs() < 1e-9, "{back:?}");
        let published = Point::new(116.397_755_500_830_61, 39.913_595_718_498_36);
        assert!(haversine_m(w, published) < 2.0, "{}", haversine_m(w, published));
    }

    #[test]
    fn offset_is_hundreds_of_metres_in_china() {
        let w = Point::new(121.4737, 31.2304); // Shanghai
        let d = haversine_m(w, wgs84_to_gcj02(w));
        assert!((100.0..1000.0).contains(&d), "{d}");
    }

    #[test]
    fn outside_china_is_unchanged_both_ways() {
        for p in [
            Point::new(-0.1246, 51.5007),  // London
            Point::new(139.7454, 35.6586), // Tokyo, east of the box
            Point::new(103.8198, 0.5),     // south of the box
            Point::new(100.0, 56.0),       // north of the box
            Point::new(70.0, 40.0),        // west of the box
        ] {
            assert!(out_of_china(p), "{p:?}");
            assert_eq!(wgs84_to_gcj02(p), p);
            assert_eq!(gcj02_to_wgs84(p), p);
        }
        assert!(!out_of_china(Point::new(116.404, 39.915)));
    }

    #[test]
    fn cgcs2000_and_wgs84_are_identity() {
        let p = Point::new(118.78, 32.04);
        assert_eq!(to_wgs84(p, Datum::Wgs84), p);
        assert_eq!(to_wgs84(p, Datum::Cgcs2000), p);
        assert_eq!(from_wgs84(p, Datum::Cgcs2000), p);
        assert!(haversine_m(to_wgs84(from_wgs84(p, Datum::Gcj02), Datum::Gcj02), p) < 0.01);
    }

    #[test]
    fn non_finite_input_does_not_loop() {
        let p = gcj02_to_wgs84(Point::new(f64::NAN, 30.0));
        assert!(p.x().is_nan());
    }

    proptest! {
        /// Round trip WGS→GCJ→WGS within 0.5 m anywhere in China's box, less a 0.05° margin
        /// where a point's GCJ-02 image may leave the box (see `gcj02_to_wgs84`).
        #[test]
        fn round_trip_within_half_a_metre(lon in 72.054f64..137.7847, lat in 0.8793f64..55.7771) {
            let w = Point::new(lon, lat);
            let back = gcj02_to_wgs84(wgs84_to_gcj02(w));
            prop_assert!(haversine_m(w, back) < 0.5, "{:?} -> {:?}", w, back);
        }
    }
}
