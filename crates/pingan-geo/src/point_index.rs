//! The k nearest points (police stations, patrol cars, cameras) to a location, by great-circle
//! distance.
//!
//! rstar answers nearest-neighbour queries in a Euclidean space, and lon/lat is not one: a degree
//! of longitude is 111 km at the equator and 85 km at Shenyang, and lon 179.9° is next to −179.9°.
//! So each point is stored as its unit vector on the sphere (x, y, z). The straight-line (chord)
//! distance between unit vectors grows strictly with the great-circle angle between them, so
//! rstar's Euclidean k-nearest in 3-D are exactly the k nearest by great-circle distance, with
//! no re-ranking and no projection to choose. The chord converts back to metres on the same
//! sphere as [`haversine_m`](crate::distance::haversine_m).

use geo::Point;
use rstar::primitives::GeomWithData;
use rstar::RTree;

use crate::distance::MEAN_EARTH_RADIUS_M;

/// A point given to [`PointIndex::new`] with a non-finite coordinate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("point {id} has a non-finite coordinate")]
pub struct NonFinitePoint {
    pub id: i64,
}

/// Points by id, for k-nearest queries by great-circle distance.
#[derive(Debug, Clone)]
pub struct PointIndex {
    tree: RTree<GeomWithData<[f64; 3], i64>>,
}

fn unit_vector(p: Point<f64>) -> [f64; 3] {
    let (lon, lat) = (p.x().to_radians(), p.y().to_radians());
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

/// Great-circle metres for a squared chord between unit vectors.
fn metres(chord_2: f64) -> f64 {
    2.0 * MEAN_EARTH_RADIUS_M * (chord_2.sqrt() / 2.0).min(1.0).asin()
}

impl PointIndex {
    /// Indexes `(id, lon/lat point)` pairs. Ids need not be unique.
    pub fn new(points: impl IntoIterator<Item = (i64, Point<f64>)>) -> Result<Self, NonFinitePoint> {
        let elements = points
            .into_iter()
            .map(|(id, p)| {
                if p.x().is_finite() && p.y().is_finite() {
                    Ok(GeomWithData::new(unit_vector(p), id))
                } else {
                    Err(NonFinitePoint { id })
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PointIndex { tree: RTree::bulk_load(elements) })
    }

    pub fn len(&self) -> usize {
        self.tree.size()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.size() == 0
    }

    /// The `k` points nearest to `p` as `(id, metres)`, nearest first; equally distant points
    /// in id order, so the answer is deterministic. Fewer if the index holds fewer; none for a
    /// non-finite `p`.
    pub fn nearest(&self, p: Point<f64>, k: usize) -> Vec<(i64, f64)> {
        if k == 0 || !p.x().is_finite() || !p.y().is_finite() {
            return Vec::new();
        }
        let mut found: Vec<(f64, i64)> = Vec::with_capacity(k);
        for (e, d2) in self.tree.nearest_neighbor_iter_with_distance_2(&unit_vector(p)) {
            // Past the k-th, keep only ties with it, so the id order below decides among them.
            if found.len() >= k && d2 > found[k - 1].0 {
                break;
            }
            found.push((d2, e.data));
        }
        found.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        found.truncate(k);
        found.into_iter().map(|(d2, id)| (id, metres(d2))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance::haversine_m;
    use proptest::prelude::*;

    #[test]
    fn nearest_with_distances() {
        let idx = PointIndex::new([
            (1, Point::new(116.40, 39.90)),
            (2, Point::new(116.41, 39.90)),
            (3, Point::new(116.50, 39.90)),
            (4, Point::new(121.47, 31.23)),
        ])
        .expect("finite");
        let got = idx.nearest(Point::new(116.402, 39.90), 2);
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), vec![1, 2]);
        let want = haversine_m(Point::new(116.402, 39.90), Point::new(116.40, 39.90));
        assert!((got[0].1 - want).abs() < 1e-6, "{} vs {want}", got[0].1);
        assert_eq!(idx.nearest(Point::new(0.0, 0.0), 10).len(), 4);
        assert!(idx.nearest(Point::new(f64::NAN, 0.0), 1).is_empty());
        assert!(idx.nearest(Point::new(0.0, 0.0), 0).is_empty());
    }

    #[test]
    fn ties_break_by_id_and_the_antimeridian_is_no_wall() {
        // (±1°, 0) are exactly equidistant from (0, 0): mirror images.
        let idx = PointIndex::new([(9, Point::new(1.0, 0.0)), (7, Point::new(0.0, 2.0)), (5, Point::new(-1.0, 0.0))])
            .expect("finite");
        assert_eq!(idx.nearest(Point::new(0.0, 0.0), 1)[0].0, 5);
        assert_eq!(idx.nearest(Point::new(0.0, 0.0), 2).iter().map(|g| g.0).collect::<Vec<_>>(), vec![5, 9]);
        let idx = PointIndex::new([(1, Point::new(179.9, 10.0)), (2, Point::new(178.0, 10.0))]).expect("finite");
        assert_eq!(idx.nearest(Point::new(-179.9, 10.0), 1)[0].0, 1);
        assert_eq!(PointIndex::new([(3, Point::new(f64::INFINITY, 0.0))]).err(), Some(NonFinitePoint { id: 3 }));
    }

    proptest! {
        /// Same distances as a brute-force haversine ranking, at city scale and continent scale.
        #[test]
        fn agrees_with_brute_force(
            pts in prop::collection::vec((73.0f64..135.0, 18.0f64..53.0), 1..60),
            q in (73.0f64..135.0, 18.0f64..53.0),
            k in 1usize..8,
            scale in prop::sample::select(vec![1.0, 0.01]),
        ) {
            let pts: Vec<Point<f64>> = pts.iter().map(|&(x, y)| Point::new(104.0 + (x - 104.0) * scale, 35.0 + (y - 35.0) * scale)).collect();
            let q = Point::new(104.0 + (q.0 - 104.0) * scale, 35.0 + (q.1 - 35.0) * scale);
            let idx = PointIndex::new(pts.iter().enumerate().map(|(i, p)| (i as i64, *p))).expect("finite");
            let mut want: Vec<f64> = pts.iter().map(|p| haversine_m(q, *p)).collect();
            want.sort_by(f64::total_cmp);
            want.truncate(k);
            let got: Vec<f64> = idx.nearest(q, k).iter().map(|g| g.1).collect();
            prop_assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                prop_assert!((g - w).abs() < 1e-6 * w.max(1.0), "{} vs {}", g, w);
            }
        }
    }
}
