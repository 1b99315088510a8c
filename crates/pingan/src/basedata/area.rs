//! Where a point may be and which grid it belongs to: the bureau's configured area (a business
//! setting, so the security of coordinates does not depend on a deployment file) and the
//! in-memory grid index.

use geo::{Contains, Intersects, LineString, Point, Polygon};
use pingan_geo::Datum;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::web::error::AppError;

pub const BUREAU_AREA: &str = "bureau.area";

/// The bureau's area as one outer ring in WGS-84, `[lon, lat]` pairs. Unset (empty), every
/// point in China is accepted and the settings page says so.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BureauArea {
    #[schema(value_type = Vec<Vec<f64>>)]
    pub ring: Vec<[f64; 2]>,
}

impl BureauArea {
    pub fn polygon(&self) -> Option<Polygon<f64>> {
        if self.ring.len() < 3 {
            return None;
        }
        Some(Polygon::new(LineString::from(self.ring.iter().map(|[x, y]| (*x, *y)).collect::<Vec<_>>()), vec![]))
    }

    /// Checks a ring given in `datum` and returns it in WGS-84.
    pub fn parse(ring: &[[f64; 2]], datum: Datum) -> Result<BureauArea, AppError> {
        if ring.len() < 3 || ring.len() > 100_000 {
            return Err(AppError::invalid("ring", "an area needs 3 to 100000 points"));
        }
        if ring.iter().flatten().any(|v| !v.is_finite()) {
            return Err(AppError::invalid("ring", "coordinates must be finite numbers"));
        }
        let ring: Vec<[f64; 2]> = ring
            .iter()
            .map(|[x, y]| {
                let p = pingan_geo::to_wgs84(Point::new(*x, *y), datum);
                [p.x(), p.y()]
            })
            .collect();
        let area = BureauArea { ring };
        let polygon = area.polygon().expect("BUG: checked length");
        if !pingan_geo::validate::validate_geometry(&polygon.clone().into()).is_empty() {
            return Err(AppError::invalid("ring", "the ring crosses itself or has no area"));
        }
        Ok(area)
    }
}

/// A point accepted for storage: WGS-84, inside the bureau's area, with the grid it lies in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placed {
    pub lon: f64,
    pub lat: f64,
    pub grid_id: Option<i64>,
}

/// Converts a point from `datum` to WGS-84, checks it against the bureau's area and finds its grid.
pub async fn place(state: &AppState, lon: f64, lat: f64, datum: Datum) -> Result<Placed, AppError> {
    let checker = Checker::load(state).await?;
    let index = crate::grids::index::current(state).await?;
    let p = checker.check(lon, lat, datum)?;
    let grid_id = index.index.locate(p).and_then(|code| index.nodes.get(code)).map(|(id, _)| *id);
    Ok(Placed { lon: p.x(), lat: p.y(), grid_id })
}

/// The area check, loaded once for a batch (an import checks a million points with one load).
pub struct Checker(Option<Polygon<f64>>);

impl Checker {
    pub async fn load(state: &AppState) -> Result<Checker, AppError> {
        let area: BureauArea = crate::settings::get(&state.db, BUREAU_AREA).await?;
        Ok(Checker(area.polygon()))
    }

    pub fn check(&self, lon: f64, lat: f64, datum: Datum) -> Result<Point<f64>, AppError> {
        if !lon.is_finite() || !lat.is_finite() || !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
            return Err(AppError::invalid("lon", "not a longitude and latitude"));
        }
        let p = pingan_geo::to_wgs84(Point::new(lon, lat), datum);
        match &self.0 {
            // Closed like grids: a point on the boundary is inside.
            Some(area) if !(area.contains(&p) || area.exterior().intersects(&p)) => Err(AppError::invalid(
                "lon",
                "the point lies outside the bureau's area; check the datum and the digits",
            )),
            None if pingan_geo::datum::out_of_china(p) => {
                Err(AppError::invalid("lon", "the point lies outside China; check longitude and latitude order"))
            }
            _ => Ok(p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square() -> Checker {
        let area =
            BureauArea::parse(&[[113.0, 35.0], [114.0, 35.0], [114.0, 36.0], [113.0, 36.0]], Datum::Wgs84).unwrap();
        Checker(area.polygon())
    }

    #[test]
    fn points_outside_the_area_are_refused_and_edges_are_inside() {
        let c = square();
        assert!(c.check(113.5, 35.5, Datum::Wgs84).is_ok());
        assert!(c.check(114.0, 35.5, Datum::Wgs84).is_ok());
        assert!(c.check(116.4, 39.9, Datum::Wgs84).is_err());
        // Latitude and longitude swapped: the commonest data-entry error.
        assert!(c.check(35.5, 113.5, Datum::Wgs84).is_err());
        assert!(c.check(f64::NAN, 35.5, Datum::Wgs84).is_err());
    }

    #[test]
    fn gcj02_input_is_converted_before_the_check() {
        let c = square();
        let p = c.check(113.5, 35.5, Datum::Gcj02).unwrap();
        assert!((p.x() - 113.5).abs() > 1e-4, "GCJ-02 offset applied");
    }

    #[test]
    fn without_an_area_any_point_in_china_passes() {
        let c = Checker(None);
        assert!(c.check(113.5, 35.5, Datum::Wgs84).is_ok());
        assert!(c.check(2.35, 48.85, Datum::Wgs84).is_err());
    }

    #[test]
    fn a_self_crossing_ring_is_refused() {
        let bow = [[113.0, 35.0], [114.0, 36.0], [114.0, 35.0], [113.0, 36.0]];
        assert!(BureauArea::parse(&bow, Datum::Wgs84).is_err());
    }
}
