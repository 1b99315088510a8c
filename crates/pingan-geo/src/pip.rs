//! Exact closed point-in-polygon for one polygon, prepared once and asked millions of times.
//!
//! geo's `Intersects<Point>` answers the same question with the same closed semantics, but walks
//! every edge of every ring on each call. Grid polygons are asked about a million points each
//! import, so here the edges are bucketed into horizontal slabs: a point only looks at the few
//! edges whose y-range meets its slab. The decision itself is the classic crossing number with a
//! ray towards +x, using geo's robust (exact-sign) orientation predicate, so a point exactly on an
//! edge or a vertex is always found to be on the boundary, never on one side by rounding.
//!
//! Rings combine by the even-odd rule: inside the exterior and not inside a hole. A point on any
//! ring, exterior or hole, is covered (the polygon is closed).

use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::{Coord, Polygon, Rect};

/// One ring edge, endpoints as given.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Edge {
    pub(crate) a: Coord<f64>,
    pub(crate) b: Coord<f64>,
}

/// A polygon (exterior and holes) prepared for fast exact closed containment tests.
#[derive(Debug, Clone)]
pub(crate) struct PreparedPolygon {
    bbox: Rect<f64>,
    slab_y0: f64,
    slab_inv_height: f64,
    /// `slab_start[i]..slab_start[i + 1]` indexes slab `i`'s edges in `slab_edges`.
    slab_start: Vec<u32>,
    /// Edges, repeated in each slab their y-range meets.
    slab_edges: Vec<Edge>,
}

/// Slack, in slab heights, when deciding which slabs an edge meets: far above the rounding of
/// `(y − y0) · inv_height`, so an edge is never missing from the slab a point is sent to.
const SLAB_SLACK: f64 = 1e-7;

impl PreparedPolygon {
    /// Prepares `poly`; `None` for a polygon without any coordinate (it covers nothing).
    /// Coordinates must be finite: the caller checks.
    pub(crate) fn new(poly: &Polygon<f64>) -> Option<Self> {
        let edges: Vec<Edge> = std::iter::once(poly.exterior())
            .chain(poly.interiors())
            .flat_map(|ring| ring.lines())
            .map(|line| Edge { a: line.start, b: line.end })
            .collect();
        let bbox = geo::BoundingRect::bounding_rect(poly)?;
        if edges.is_empty() {
            return None;
        }
        // About two edges per slab on average: a simple ring crosses each horizontal line an even
        // number of times (usually twice), so a point then examines a handful of edges.
        let n_slabs = (edges.len() / 2).clamp(1, 4096);
        let height = bbox.height();
        let slab_inv_height = if height > 0.0 { n_slabs as f64 / height } else { 0.0 };
        let slab_y0 = bbox.min().y;
        let slab_of = |y: f64| -> usize { ((y - slab_y0) * slab_inv_height).max(0.0) as usize };
        let span = |e: &Edge| {
            let (lo, hi) = (e.a.y.min(e.b.y), e.a.y.max(e.b.y));
            let first = slab_of(lo - SLAB_SLACK / slab_inv_height.max(f64::MIN_POSITIVE)).min(n_slabs - 1);
            let last = slab_of(hi + SLAB_SLACK / slab_inv_height.max(f64::MIN_POSITIVE)).min(n_slabs - 1);
            first..=last
        };
        // Two passes (count, then fill) keep the slab lists in one contiguous allocation.
        let mut counts = vec![0u32; n_slabs + 1];
        for e in &edges {
            for s in span(e) {
                counts[s + 1] += 1;
            }
        }
        for i in 0..n_slabs {
            counts[i + 1] += counts[i];
        }
        let mut fill = counts.clone();
        let mut slab_edges = vec![Edge { a: Coord::zero(), b: Coord::zero() }; counts[n_slabs] as usize];
        for e in &edges {
            for s in span(e) {
                slab_edges[fill[s] as usize] = *e;
                fill[s] += 1;
            }
        }
        Some(PreparedPolygon { bbox, slab_y0, slab_inv_height, slab_start: counts, slab_edges })
    }

    pub(crate) fn bbox(&self) -> Rect<f64> {
        self.bbox
    }

    /// Whether the closed polygon covers `p`: true inside, on the exterior ring or on a hole's
    /// ring; false outside or strictly inside a hole. False for NaN coordinates.
    #[inline]
    pub(crate) fn covers(&self, p: Coord<f64>) -> bool {
        let (min, max) = (self.bbox.min(), self.bbox.max());
        // Written so that NaN fails every comparison and lands in "outside".
        if !(p.x >= min.x && p.x <= max.x && p.y >= min.y && p.y <= max.y) {
            return false;
        }
        let n_slabs = self.slab_start.len() - 1;
        let slab = (((p.y - self.slab_y0) * self.slab_inv_height) as usize).min(n_slabs - 1);
        covers_by_crossings(&self.slab_edges[self.slab_start[slab] as usize..self.slab_start[slab + 1] as usize], p)
    }
}

/// The closed point-in-polygon decision from a subset of a polygon's edges: `edges` must hold
/// every edge of every ring whose y-range contains `p.y` (more edges are harmless). True if `p`
/// is on one of them or an odd number of them cross the ray from `p` towards +x.
#[inline]
pub(crate) fn covers_by_crossings(edges: &[Edge], p: Coord<f64>) -> bool {
    let mut inside = false;
    for e in edges {
        let (a, b) = (e.a, e.b);
        if (a.y > p.y) != (b.y > p.y) {
            // The edge spans the horizontal line through p (half-open at its upper end, so a
            // vertex on the line is counted once).
            if p.x > a.x.max(b.x) {
                continue;
            }
            if p.x < a.x.min(b.x) {
                inside = !inside;
                continue;
            }
            match <RobustKernel as Kernel<f64>>::orient2d(a, b, p) {
                Orientation::Collinear => return true,
                // p left of an upward edge, or right of a downward one: the crossing is to
                // p's right.
                o => {
                    if (o == Orientation::CounterClockwise) == (b.y > a.y) {
                        inside = !inside;
                    }
                }
            }
        } else if a.y == p.y || b.y == p.y {
            // An edge that only touches the line through p: p is on it only at that vertex, or
            // anywhere along it if the edge is horizontal.
            if a.y == b.y {
                if a.x.min(b.x) <= p.x && p.x <= a.x.max(b.x) {
                    return true;
                }
            } else if (a.y == p.y && a.x == p.x) || (b.y == p.y && b.x == p.x) {
                return true;
            }
        }
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{polygon, Intersects, Point};
    use proptest::prelude::*;

    fn square_with_hole() -> Polygon<f64> {
        polygon!(
            exterior: [(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0)],
            interiors: [[(x: 4.0, y: 4.0), (x: 6.0, y: 4.0), (x: 6.0, y: 6.0), (x: 4.0, y: 6.0)]],
        )
    }

    #[test]
    fn closed_semantics_with_a_hole() {
        let p = PreparedPolygon::new(&square_with_hole()).expect("non-empty");
        let at = |x: f64, y: f64| p.covers(Coord { x, y });
        assert!(at(1.0, 1.0), "interior");
        assert!(at(0.0, 5.0) && at(10.0, 5.0) && at(5.0, 0.0) && at(5.0, 10.0), "exterior edges");
        assert!(at(0.0, 0.0) && at(10.0, 10.0), "exterior vertices");
        assert!(!at(5.0, 5.0) && !at(4.5, 5.5), "inside the hole");
        assert!(at(4.0, 5.0) && at(5.0, 6.0) && at(6.0, 6.0), "on the hole's ring");
        assert!(!at(-0.1, 5.0) && !at(5.0, 10.1) && !at(f64::NAN, 1.0), "outside");
    }

    #[test]
    fn concave_and_degenerate_shapes() {
        // A comb whose vertices sit on the horizontal lines a point may be tested on.
        let comb = polygon![
            (x: 0.0, y: 0.0), (x: 5.0, y: 0.0), (x: 5.0, y: 3.0), (x: 4.0, y: 1.0), (x: 3.0, y: 3.0),
            (x: 2.0, y: 1.0), (x: 1.0, y: 3.0), (x: 0.0, y: 1.0),
        ];
        let p = PreparedPolygon::new(&comb).expect("non-empty");
        for (x, y) in [(0.5, 1.0), (2.0, 1.0), (1.5, 1.0), (2.5, 2.0), (4.0, 1.0), (3.0, 3.0), (6.0, 1.0), (2.0, 2.5)] {
            let q = Coord { x, y };
            assert_eq!(p.covers(q), comb.intersects(&Point::from(q)), "{q:?}");
        }
        assert!(PreparedPolygon::new(&Polygon::new(geo::LineString::new(vec![]), vec![])).is_none());
    }

    proptest! {
        /// Star-shaped (hence simple) polygons, probed on a lattice, at their vertices and at
        /// their edges' midpoints, agree with geo's closed `Intersects`.
        #[test]
        fn agrees_with_geo_intersects(
            radii in prop::collection::vec(1.0f64..20.0, 3..24),
            probes in prop::collection::vec((-22i32..22, -22i32..22), 1..40),
        ) {
            let n = radii.len() as f64;
            let ring: Vec<Coord<f64>> = radii
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let t = i as f64 / n * std::f64::consts::TAU;
                    Coord { x: r * t.cos(), y: r * t.sin() }
                })
                .collect();
            let poly = Polygon::new(ring.clone().into(), vec![]);
            let prepared = PreparedPolygon::new(&poly).expect("non-empty");
            let lattice = probes.iter().map(|&(x, y)| Coord { x: x as f64, y: y as f64 });
            let midpoints = ring.iter().zip(ring.iter().cycle().skip(1)).map(|(a, b)| (*a + *b) / 2.0);
            for q in lattice.chain(ring.iter().copied()).chain(midpoints) {
                prop_assert_eq!(prepared.covers(q), poly.intersects(&Point::from(q)), "{:?}", q);
            }
            for v in &ring {
                prop_assert!(prepared.covers(*v));
            }
        }
    }
}
