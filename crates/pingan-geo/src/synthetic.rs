//! Deterministic synthetic city grids and points, for the benchmark, the demo city and tests.
//!
//! Real grid data is confidential, so what is measured and demonstrated is a stand-in with the
//! same shape: ~4,500 irregular polygons of 40–60 vertices tiling a 30 × 30 km city without gap
//! or overlap, about one in sixteen with a hole that is itself another grid (a compound inside
//! a neighbourhood). The same seed gives the same output on every platform: only `+ − × ÷` and
//! `sqrt`, which IEEE 754 rounds exactly, are used, and the random source is SplitMix64.

use geo::{Coord, LineString, MultiPolygon, Point, Polygon, Rect};

/// The synthetic city's extent: lon 118.62–118.94, lat 31.905–32.175 (about 30.2 × 30.0 km,
/// around Nanjing), in WGS-84.
pub fn city_bbox() -> Rect<f64> {
    Rect::new(Coord { x: 118.62, y: 31.905 }, Coord { x: 118.94, y: 32.175 })
}

/// SplitMix64 (Steele, Lea & Flood 2014): tiny, fast, and the same everywhere.
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64, stream: u64) -> Self {
        SplitMix64(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03))
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    /// Uniform in [-1, 1).
    fn signed(&mut self) -> f64 {
        self.unit() * 2.0 - 1.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize
    }
}

/// How far lattice corners move, as a fraction of a cell.
const CORNER_JITTER: f64 = 0.12;
/// How far an edge's interior vertices stray from its chord, as a fraction of a cell.
const EDGE_WIGGLE: f64 = 0.05;

/// `n` grids tiling [`city_bbox`], coded `G0001`, `G0002`, … (zero-padded, so byte order is
/// numeric order). A jittered lattice of cells whose shared edges carry 9–14 extra wiggled
/// vertices each (so neighbours share them exactly); about 6 % of cells get a 12-vertex hole
/// filled by an extra "enclave" grid. Deterministic in `seed`.
pub fn city_grids(seed: u64, n: usize) -> Vec<(String, MultiPolygon<f64>)> {
    if n == 0 {
        return Vec::new();
    }
    let mut rng = SplitMix64::new(seed, 1);
    let target = ((n as f64 / 1.06).ceil() as usize).max(1);
    let my = ((target as f64).sqrt() as usize).max(1);
    let mx = (target / my).max(1);
    let enclaves = n - mx * my;

    let bbox = city_bbox();
    let (cw, ch) = (bbox.width() / mx as f64, bbox.height() / my as f64);
    // Corners; those on the city's outline only slide along it, so the outline stays the bbox.
    let mut corner = vec![Coord::zero(); (mx + 1) * (my + 1)];
    for j in 0..=my {
        for i in 0..=mx {
            let (dx, dy) = (rng.signed() * CORNER_JITTER * cw, rng.signed() * CORNER_JITTER * ch);
            let dx = if i == 0 || i == mx { 0.0 } else { dx };
            let dy = if j == 0 || j == my { 0.0 } else { dy };
            corner[j * (mx + 1) + i] =
                Coord { x: bbox.min().x + i as f64 * cw + dx, y: bbox.min().y + j as f64 * ch + dy };
        }
    }
    let c = |i: usize, j: usize| corner[j * (mx + 1) + i];
    // Edge polylines without their end corners; outline edges stay straight.
    let mut edge = |a: Coord<f64>, b: Coord<f64>, outline: bool, horizontal: bool| -> Vec<Coord<f64>> {
        let k = 9 + rng.below(6);
        (1..=k)
            .map(|s| {
                let t = s as f64 / (k + 1) as f64;
                // Taper the wiggle to zero at the corners so neighbouring edges never cross there.
                let off = if outline { 0.0 } else { rng.signed() * EDGE_WIGGLE * 4.0 * t * (1.0 - t) };
                let base = a + (b - a) * t;
                if horizontal {
                    Coord { x: base.x, y: base.y + off * ch }
                } else {
                    Coord { x: base.x + off * cw, y: base.y }
                }
            })
            .collect()
    };
    let horiz: Vec<Vec<Coord<f64>>> = (0..=my)
        .flat_map(|j| (0..mx).map(move |i| (i, j)))
        .map(|(i, j)| edge(c(i, j), c(i + 1, j), j == 0 || j == my, true))
        .collect();
    let vert: Vec<Vec<Coord<f64>>> = (0..my)
        .flat_map(|j| (0..=mx).map(move |i| (i, j)))
        .map(|(i, j)| edge(c(i, j), c(i, j + 1), i == 0 || i == mx, false))
        .collect();

    // Which cells get a hole: the first `enclaves` of a seeded shuffle.
    let mut order: Vec<usize> = (0..mx * my).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let mut holed = vec![false; mx * my];
    for &cell in &order[..enclaves] {
        holed[cell] = true;
    }

    let width = n.to_string().len().max(4);
    let code = |k: usize| format!("G{:0width$}", k + 1);
    let mut out = Vec::with_capacity(n);
    let mut enclave_rings = Vec::with_capacity(enclaves);
    for j in 0..my {
        for i in 0..mx {
            let mut ring = vec![c(i, j)];
            ring.extend(&horiz[j * mx + i]);
            ring.push(c(i + 1, j));
            ring.extend(&vert[j * (mx + 1) + i + 1]);
            ring.push(c(i + 1, j + 1));
            ring.extend(horiz[(j + 1) * mx + i].iter().rev());
            ring.push(c(i, j + 1));
            ring.extend(vert[j * (mx + 1) + i].iter().rev());
            let mut holes = Vec::new();
            if holed[j * mx + i] {
                let centre = (c(i, j) + c(i + 1, j) + c(i + 1, j + 1) + c(i, j + 1)) / 4.0;
                let hole = hole_ring(&mut rng, centre, cw.min(ch));
                enclave_rings.push(hole.clone());
                holes.push(hole);
            }
            out.push((code(out.len()), Polygon::new(LineString::new(ring), holes).into()));
        }
    }
    for ring in enclave_rings {
        out.push((code(out.len()), Polygon::new(ring, vec![]).into()));
    }
    out
}

/// A 12-vertex star-shaped ring around `centre`, radius 10–16 % of `cell`.
fn hole_ring(rng: &mut SplitMix64, centre: Coord<f64>, cell: f64) -> LineString<f64> {
    let h = 3f64.sqrt() / 2.0;
    let dirs = [
        (1.0, 0.0),
        (h, 0.5),
        (0.5, h),
        (0.0, 1.0),
        (-0.5, h),
        (-h, 0.5),
        (-1.0, 0.0),
        (-h, -0.5),
        (-0.5, -h),
        (0.0, -1.0),
        (0.5, -h),
        (h, -0.5),
    ];
    let ring: Vec<Coord<f64>> = dirs
        .iter()
        .map(|&(dx, dy)| {
            let r = cell * (0.10 + 0.06 * rng.unit());
            Coord { x: centre.x + dx * r, y: centre.y + dy * r }
        })
        .collect();
    LineString::new(ring)
}

/// `n` points uniformly distributed in `bbox`, deterministic in `seed`.
pub fn random_points(seed: u64, n: usize, bbox: Rect<f64>) -> Vec<Point<f64>> {
    let mut rng = SplitMix64::new(seed, 2);
    (0..n)
        .map(|_| Point::new(bbox.min().x + rng.unit() * bbox.width(), bbox.min().y + rng.unit() * bbox.height()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid_index::GridIndex;
    use geo::{Area, CoordsIter, Validation};

    #[test]
    fn deterministic_and_sized() {
        assert_eq!(city_grids(7, 300), city_grids(7, 300));
        assert_ne!(city_grids(7, 300), city_grids(8, 300));
        for n in [0, 1, 2, 3, 5, 7, 10, 300, 4507] {
            let grids = city_grids(1, n);
            assert_eq!(grids.len(), n);
            let mut codes: Vec<_> = grids.iter().map(|(c, _)| c.clone()).collect();
            codes.dedup();
            assert_eq!(codes.len(), n, "codes unique and already in byte order");
        }
        assert_eq!(random_points(3, 10, city_bbox()), random_points(3, 10, city_bbox()));
    }

    #[test]
    fn a_valid_gapless_tiling_of_the_city() {
        let grids = city_grids(42, 600);
        assert!(grids.iter().any(|(_, g)| g.0[0].interiors().len() == 1), "some holes");
        for (code, g) in &grids {
            assert!(g.is_valid(), "{code}: {:?}", g.validation_errors());
            let outer = g.0[0].exterior().coords_count() - 1;
            let is_enclave = outer == 12;
            assert!(is_enclave || (40..=60).contains(&outer), "{code}: {outer} vertices");
        }
        // Areas add up to the bbox: no overlap and no gap (given every polygon is valid).
        let total: f64 = grids.iter().map(|(_, g)| g.unsigned_area()).sum();
        let bbox = city_bbox();
        assert!((total - bbox.unsigned_area()).abs() < 1e-9 * bbox.unsigned_area(), "{total}");
        // Every point of the city is in some grid.
        let idx = GridIndex::new(grids).expect("valid");
        for p in random_points(1, 2000, bbox) {
            assert!(idx.locate(p).is_some(), "{p:?}");
        }
    }
}
