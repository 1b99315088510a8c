//! Polygons for the demo's grids: the synthetic city of `pingan_geo::synthetic`, moved onto
//! Xinxiang. The district demo cuts it into one vertical strip per station, so each station's
//! grids lie together, and folds the enclaves (a grid inside another's hole) back into the grid
//! around them: an enclave would otherwise often land in another station's strip. The city
//! keeps the tiling whole and gives each enclave to the post of the grid around it ([`city`],
//! [`split`]).

use std::collections::HashMap;

use geo::{Centroid, Contains, MapCoords, MultiPolygon, Polygon};

/// Where the synthetic city's south-west corner lands: central Xinxiang, WGS-84.
const ORIGIN: (f64, f64) = (113.80, 35.22);

/// (grid code, shape) for every grid code given, grouped by station in the order given.
pub fn for_grids(stations: &[(String, Vec<String>)]) -> Vec<(String, MultiPolygon<f64>)> {
    let total: usize = stations.iter().map(|(_, g)| g.len()).sum();
    let bbox = pingan_geo::synthetic::city_bbox();
    let (dx, dy) = (ORIGIN.0 - bbox.min().x, ORIGIN.1 - bbox.min().y);
    // Some cells are enclaves to be dropped: ask for a few more than needed.
    let generated: Vec<MultiPolygon<f64>> = pingan_geo::synthetic::city_grids(20_261_123, total + total / 8 + 2)
        .into_iter()
        .map(|(_, s)| s.map_coords(|c| geo::Coord { x: c.x + dx, y: c.y + dy }))
        .collect();
    let in_a_hole = |s: &MultiPolygon<f64>| {
        s.centroid().is_some_and(|c| {
            generated
                .iter()
                .any(|o| o.0.iter().any(|p| p.interiors().iter().any(|h| Polygon::new(h.clone(), vec![]).contains(&c))))
        })
    };
    let mut shapes: Vec<MultiPolygon<f64>> = generated
        .iter()
        .filter(|s| !in_a_hole(s))
        .map(|s| MultiPolygon(s.0.iter().map(|p| Polygon::new(p.exterior().clone(), vec![])).collect()))
        .collect();
    let key = |s: &MultiPolygon<f64>| s.centroid().map(|p| (p.x(), p.y())).unwrap_or_default();
    shapes.sort_by(|a, b| key(a).0.total_cmp(&key(b).0));
    let mut out = Vec::with_capacity(total);
    let mut rest = shapes.as_mut_slice();
    for (_, grids) in stations {
        let take = grids.len().min(rest.len());
        let (strip, tail) = rest.split_at_mut(take);
        strip.sort_by(|a, b| key(a).1.total_cmp(&key(b).1));
        out.extend(grids.iter().cloned().zip(strip.iter().cloned()));
        rest = tail;
    }
    out
}

/// Groups grid codes by their station (the first 8 digits of a demo code, padded).
pub fn by_station(codes: &HashMap<String, i64>) -> Vec<(String, Vec<String>)> {
    let mut stations: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for code in codes.keys().filter(|c| c.len() == 12 && !c.ends_with("00")) {
        stations.entry(format!("{}0000", &code[..8])).or_default().push(code.clone());
    }
    stations
        .into_iter()
        .map(|(s, mut g)| {
            g.sort();
            (s, g)
        })
        .collect()
}

/// The synthetic city of `n` grids moved onto Xinxiang, as it tiles: (shape, host) where `host`
/// is the index of the grid an enclave lies in (a compound inside a neighbourhood), if any.
pub fn city(seed: u64, n: usize) -> Vec<(MultiPolygon<f64>, Option<usize>)> {
    let bbox = pingan_geo::synthetic::city_bbox();
    let (dx, dy) = (ORIGIN.0 - bbox.min().x, ORIGIN.1 - bbox.min().y);
    let shapes: Vec<MultiPolygon<f64>> = pingan_geo::synthetic::city_grids(seed, n)
        .into_iter()
        .map(|(_, s)| s.map_coords(|c| geo::Coord { x: c.x + dx, y: c.y + dy }))
        .collect();
    // city_grids lists the lattice cells first and then one enclave per holed cell, in the
    // order of those cells.
    let holed: Vec<usize> =
        (0..shapes.len()).filter(|&i| shapes[i].0.iter().any(|p| !p.interiors().is_empty())).collect();
    let first_enclave = shapes.len() - holed.len();
    shapes
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let host = i.checked_sub(first_enclave).map(|k| holed[k]);
            (s, host)
        })
        .collect()
}

/// Splits `cells` among groups of the given sizes (which add up to `cells.len()`) into compact
/// regions: the group list is halved and the cells cut across the longer side of their extent,
/// again and again. Neighbouring groups get neighbouring regions, so a station's posts lie together.
pub fn split(mut cells: Vec<usize>, centre: &[(f64, f64)], sizes: &[usize]) -> Vec<Vec<usize>> {
    if sizes.len() <= 1 {
        return vec![cells];
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &c in &cells {
        let (x, y) = centre[c];
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    // A degree of longitude is cos(35.3°) ≈ 0.82 of a degree of latitude here.
    let across = (x1 - x0) * 0.82 >= y1 - y0;
    let key = |c: usize| if across { centre[c].0 } else { -centre[c].1 };
    cells.sort_by(|&a, &b| key(a).total_cmp(&key(b)).then(a.cmp(&b)));
    let half = sizes.len() / 2;
    let left: usize = sizes[..half].iter().sum();
    let right = cells.split_off(left.min(cells.len()));
    let mut out = split(cells, centre, &sizes[..half]);
    out.extend(split(right, centre, &sizes[half..]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_enclave_fills_its_host_s_hole() {
        let city = city(7, 600);
        assert_eq!(city.len(), 600);
        let enclaves: Vec<_> = city.iter().filter_map(|(s, host)| host.map(|h| (s, h))).collect();
        assert!(!enclaves.is_empty());
        for (shape, host) in enclaves {
            assert_eq!(shape.0[0].exterior(), &city[host].0 .0[0].interiors()[0]);
        }
        let centre: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 0.0)).collect();
        let parts = split((0..10).collect(), &centre, &[3, 3, 4]);
        assert_eq!(parts, vec![vec![0, 1, 2], vec![3, 4, 5], vec![6, 7, 8, 9]]);
    }
}
