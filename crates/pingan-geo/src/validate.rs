//! Checks the grid importer runs before it accepts a set of grids, as structured reports.
//!
//! - [`validate_geometry`]: one grid's geometry on its own: rings with too few distinct points or
//!   no area, self-intersections, holes outside their polygon, rings or parts crossing each
//!   other. geo's OGC `Validation` does the topology; the zero-area test is added here, since a
//!   ring whose points are (nearly) collinear is topologically "valid" enough to slip through.
//! - [`find_overlaps`]: pairs of grids sharing area, which would make grid assignment depend on
//!   the code-order tie-break instead of the drawing. Candidate pairs come from an R-tree over
//!   bounding boxes; each is intersected with geo's `BooleanOps`.
//! - [`find_gaps`]: holes in the union of a set of grids (a station's area), where residents
//!   would belong to no grid.
//!
//! Areas are reported in square metres on the sphere (Chamberlain–Duquette), from lon/lat
//! degrees. Shared edges between neighbours produce intersections and union seams of zero or
//! floating-point-noise area, hence the `min_area_m2` thresholds.

use geo::algorithm::validation::{InvalidMultiPolygon, InvalidPolygon, RingRole};
use geo::{
    Area, BooleanOps, BoundingRect, ChamberlainDuquetteArea, LineString, MultiPolygon, Orient, Polygon, Validation,
};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

use crate::geojson::RingRef;

/// A ring whose area is below this many square metres counts as having no area: 1 cm², far
/// below anything drawn on purpose, far above floating-point noise on collinear points.
const ZERO_AREA_M2: f64 = 1e-4;

/// Something wrong with one grid's geometry.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GeometryProblem {
    #[error("{0} has fewer than 3 distinct points")]
    TooFewPoints(RingRef),
    #[error("{0} encloses no area")]
    ZeroArea(RingRef),
    #[error("{0} intersects itself")]
    SelfIntersection(RingRef),
    #[error("{0} has a non-finite coordinate")]
    NonFinite(RingRef),
    #[error("{0} is not inside its polygon's exterior ring")]
    HoleOutsideExterior(RingRef),
    #[error("{0} and {1} cross or share a stretch of boundary")]
    RingsIntersect(RingRef, RingRef),
    #[error("polygons {0} and {1} overlap")]
    PartsOverlap(usize, usize),
    #[error("polygons {0} and {1} share a stretch of boundary")]
    PartsTouchOnALine(usize, usize),
}

/// The area a ring encloses in lon/lat as drawn, in square metres near its latitude. Not
/// Chamberlain–Duquette: that one integrates along the sphere, where a ring of collinear lon/lat
/// points still encloses a sliver.
fn planar_area_m2(ring: &LineString<f64>) -> f64 {
    let poly = Polygon::new(ring.clone(), vec![]);
    let lat = poly.bounding_rect().map_or(0.0, |r| r.center().y);
    let metres_per_degree = crate::distance::MEAN_EARTH_RADIUS_M.to_radians();
    poly.unsigned_area() * metres_per_degree * metres_per_degree * lat.to_radians().cos()
}

fn ring_ref(polygon: usize, role: RingRole) -> RingRef {
    match role {
        RingRole::Exterior => RingRef { polygon, ring: 0 },
        RingRole::Interior(i) => RingRef { polygon, ring: i + 1 },
    }
}

fn from_polygon_error(polygon: usize, e: InvalidPolygon) -> GeometryProblem {
    match e {
        InvalidPolygon::TooFewPointsInRing(r) => GeometryProblem::TooFewPoints(ring_ref(polygon, r)),
        InvalidPolygon::SelfIntersection(r) => GeometryProblem::SelfIntersection(ring_ref(polygon, r)),
        InvalidPolygon::NonFiniteCoord(r, _) => GeometryProblem::NonFinite(ring_ref(polygon, r)),
        InvalidPolygon::InteriorRingNotContainedInExteriorRing(r) => {
            GeometryProblem::HoleOutsideExterior(ring_ref(polygon, r))
        }
        InvalidPolygon::IntersectingRingsOnALine(a, b) | InvalidPolygon::IntersectingRingsOnAnArea(a, b) => {
            GeometryProblem::RingsIntersect(ring_ref(polygon, a), ring_ref(polygon, b))
        }
    }
}

/// Every problem found in one grid's geometry; empty when it is valid.
pub fn validate_geometry(geometry: &MultiPolygon<f64>) -> Vec<GeometryProblem> {
    let mut problems = Vec::new();
    for (polygon, p) in geometry.iter().enumerate() {
        for (ring, line) in std::iter::once(p.exterior()).chain(p.interiors()).enumerate() {
            let area = planar_area_m2(line);
            // NaN (non-finite input) is geo's to report.
            if area < ZERO_AREA_M2 && line.0.len() >= 4 {
                problems.push(GeometryProblem::ZeroArea(RingRef { polygon, ring }));
            }
        }
    }
    for e in geometry.validation_errors() {
        let problem = match e {
            InvalidMultiPolygon::InvalidPolygon(i, e) => from_polygon_error(i.0, e),
            InvalidMultiPolygon::ElementsOverlaps(a, b) => GeometryProblem::PartsOverlap(a.0, b.0),
            InvalidMultiPolygon::ElementsTouchOnALine(a, b) => GeometryProblem::PartsTouchOnALine(a.0, b.0),
        };
        if !problems.contains(&problem) {
            problems.push(problem);
        }
    }
    problems
}

/// Two grids, by their index in the input, sharing `area_m2` square metres.
#[derive(Debug, Clone, PartialEq)]
pub struct Overlap {
    pub a: usize,
    pub b: usize,
    pub area_m2: f64,
}

/// Every pair of grids whose intersection exceeds `min_area_m2` (`a < b`, sorted). The grids
/// should each be valid (see [`validate_geometry`]); on invalid ones the areas are unreliable.
pub fn find_overlaps(grids: &[MultiPolygon<f64>], min_area_m2: f64) -> Vec<Overlap> {
    let boxes: Vec<Option<AABB<[f64; 2]>>> = grids
        .iter()
        .map(|g| g.bounding_rect().map(|r| AABB::from_corners(r.min().x_y().into(), r.max().x_y().into())))
        .collect();
    let tree = RTree::bulk_load(
        boxes
            .iter()
            .enumerate()
            .filter_map(|(i, b)| b.map(|b| GeomWithData::new(Rectangle::from_aabb(b), i)))
            .collect(),
    );
    let mut out = Vec::new();
    for (a, bbox) in boxes.iter().enumerate() {
        let Some(bbox) = bbox else { continue };
        let mut candidates: Vec<usize> =
            tree.locate_in_envelope_intersecting(bbox).map(|e| e.data).filter(|&b| b > a).collect();
        candidates.sort_unstable();
        for b in candidates {
            let area_m2 = grids[a].intersection(&grids[b]).chamberlain_duquette_unsigned_area();
            if area_m2 > min_area_m2 {
                out.push(Overlap { a, b, area_m2 });
            }
        }
    }
    out
}

/// A hole in the union of a set of grids.
#[derive(Debug, Clone, PartialEq)]
pub struct Gap {
    pub ring: LineString<f64>,
    pub area_m2: f64,
}

/// What the union of a set of grids looks like.
#[derive(Debug, Clone, PartialEq)]
pub struct GapReport {
    /// Holes of the union larger than `min_area_m2`, largest first.
    pub gaps: Vec<Gap>,
    /// Separate pieces of the union larger than `min_area_m2`: 1 for a connected area.
    pub pieces: usize,
}

/// The holes in the union of `grids` (e.g. all grids of one station), and how many separate
/// pieces it has. Slivers up to `min_area_m2` are taken as floating-point seams and ignored.
pub fn find_gaps(grids: &[MultiPolygon<f64>], min_area_m2: f64) -> GapReport {
    // unary_union decides inside from the winding of the first ring it sees, so give every
    // polygon the same orientation whatever the file had.
    let polygons: Vec<Polygon<f64>> =
        grids.iter().flat_map(|g| g.iter()).map(|p| p.orient(geo::orient::Direction::Default)).collect();
    let union = geo::unary_union(&polygons);
    let pieces = union.iter().filter(|p| p.chamberlain_duquette_unsigned_area() > min_area_m2).count();
    let mut gaps: Vec<Gap> = union
        .iter()
        .flat_map(|p| p.interiors())
        .map(|ring| Gap {
            ring: ring.clone(),
            area_m2: Polygon::new(ring.clone(), vec![]).chamberlain_duquette_unsigned_area(),
        })
        .filter(|g| g.area_m2 > min_area_m2)
        .collect();
    gaps.sort_by(|a, b| b.area_m2.total_cmp(&a.area_m2));
    GapReport { gaps, pieces }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::city_grids;
    use geo::{polygon, Rect};

    fn square(x: f64, y: f64, side: f64) -> MultiPolygon<f64> {
        Rect::new((x, y), (x + side, y + side)).to_polygon().into()
    }

    #[test]
    fn geometry_problems_are_reported_with_their_ring() {
        assert_eq!(validate_geometry(&square(118.0, 32.0, 0.01)), vec![]);
        let bowtie: MultiPolygon<f64> =
            polygon![(x: 118.0, y: 32.0), (x: 118.01, y: 32.01), (x: 118.01, y: 32.0), (x: 118.0, y: 32.01)].into();
        assert!(
            validate_geometry(&bowtie).contains(&GeometryProblem::SelfIntersection(RingRef { polygon: 0, ring: 0 }))
        );
        let flat: MultiPolygon<f64> =
            polygon![(x: 118.0, y: 32.0), (x: 118.01, y: 32.01), (x: 118.02, y: 32.02)].into();
        assert!(validate_geometry(&flat).contains(&GeometryProblem::ZeroArea(RingRef { polygon: 0, ring: 0 })));
        let stray_hole: MultiPolygon<f64> = polygon!(
            exterior: [(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 1.0)],
            interiors: [[(x: 2.0, y: 2.0), (x: 3.0, y: 2.0), (x: 3.0, y: 3.0)]],
        )
        .into();
        let problems = validate_geometry(&stray_hole);
        assert!(
            problems.contains(&GeometryProblem::HoleOutsideExterior(RingRef { polygon: 0, ring: 1 })),
            "{problems:?}"
        );
        let mut two = square(0.0, 0.0, 1.0);
        two.0.extend(square(0.5, 0.5, 1.0));
        assert!(validate_geometry(&two).contains(&GeometryProblem::PartsOverlap(0, 1)));
        assert_eq!(
            GeometryProblem::ZeroArea(RingRef { polygon: 2, ring: 1 }).to_string(),
            "polygon 2 hole 1 encloses no area"
        );
    }

    #[test]
    fn overlaps_but_not_shared_edges() {
        let grids = [square(118.0, 32.0, 0.01), square(118.01, 32.0, 0.01), square(118.005, 32.005, 0.01)];
        let found = find_overlaps(&grids, 1.0);
        assert_eq!(found.iter().map(|o| (o.a, o.b)).collect::<Vec<_>>(), vec![(0, 2), (1, 2)]);
        // A quarter of a 0.01° square at lat 32°: (0.005° × 94.4 km/°) × (0.005° × 111.2 km/°) ≈ 0.26 km².
        assert!((found[0].area_m2 - 262_000.0).abs() < 5_000.0, "{}", found[0].area_m2);
        let tiling = city_grids(3, 120).into_iter().map(|(_, g)| g).collect::<Vec<_>>();
        assert_eq!(find_overlaps(&tiling, 1.0), vec![]);
    }

    #[test]
    fn gaps_in_a_station_area() {
        let tiling: Vec<MultiPolygon<f64>> = city_grids(5, 64).into_iter().map(|(_, g)| g).collect();
        let whole = find_gaps(&tiling, 1.0);
        assert_eq!(
            (whole.gaps.len(), whole.pieces),
            (0, 1),
            "{:?}",
            whole.gaps.iter().map(|g| g.area_m2).collect::<Vec<_>>()
        );
        // Take out a grid away from the city's outline, without a hole: its outline becomes a gap.
        let city = crate::synthetic::city_bbox();
        let missing = tiling
            .iter()
            .position(|g| {
                let b = g.bounding_rect().expect("non-empty");
                g.0[0].interiors().is_empty()
                    && g.0[0].exterior().0.len() > 13
                    && b.min().x > city.min().x
                    && b.min().y > city.min().y
                    && b.max().x < city.max().x
                    && b.max().y < city.max().y
            })
            .expect("an inner grid");
        let mut holed = tiling.clone();
        let removed = holed.remove(missing);
        let report = find_gaps(&holed, 1.0);
        assert_eq!((report.gaps.len(), report.pieces), (1, 1));
        let want = removed.chamberlain_duquette_unsigned_area();
        assert!((report.gaps[0].area_m2 - want).abs() < 1e-3 * want, "{} vs {want}", report.gaps[0].area_m2);
        // Two squares far apart: two pieces, no gap.
        let apart = find_gaps(&[square(0.0, 0.0, 0.01), square(1.0, 1.0, 0.01)], 1.0);
        assert_eq!((apart.gaps.len(), apart.pieces), (0, 2));
    }
}
