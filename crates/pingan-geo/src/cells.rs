//! The cell directory behind `GridIndex::locate`: a raster over all grids that answers most
//! points with one or two array reads.
//!
//! Grids tile a city, so almost every point lies well inside exactly one of them. The extent of
//! all polygons is cut into cells; a cell that no polygon edge comes near is entirely inside some
//! set of polygons (or none), so its answer, the smallest grid code among them, is stored in the
//! cell. Only cells that an edge touches ("mixed" cells) keep a record: the polygons whose
//! boundary passes through them, by grid code, each with the edges the point must be tested
//! against, and the answer to fall back on if none of them covers the point.
//!
//! Those edges come from per-polygon slabs, bands of `SLAB_ROWS` raster rows: slab (P, band)
//! holds every edge of P that meets the band, which includes every edge a horizontal ray from a
//! point in the band can meet, so the crossing-number test on it is exact (see `pip`). A slab is
//! sorted by its edges' right ends, and a cell's record starts at the first edge reaching the
//! cell: edges wholly to its left can neither be crossed by the ray nor hold the point.
//!
//! The raster is stored in two levels, because random points make its reads cache misses: a
//! coarse table small enough to stay mostly in cache, where a coarse cell inside one grid holds
//! the answer, and 4 × 4 blocks of fine cells (one cache line each) for the coarse cells a
//! boundary crosses.
//!
//! Exactness does not depend on the raster: a cell is marked as touched by an edge whenever the
//! edge comes within a small slack of it, larger than any rounding of the point-to-cell mapping,
//! so a point is never answered from a cell whose stored answer could be wrong for it. Extra
//! marked cells only cost a little speed.

use geo::{Coord, Polygon};

use crate::pip::{covers_by_crossings, Edge, PreparedPolygon};

/// Tag bit of a fine cell value that is an offset into `records`; without it a value is
/// `rank + 1`, or 0 for none.
const MIXED: u32 = 1 << 31;
/// Tag bit of a coarse cell value that indexes `blocks`; without it, as a fine value.
const BLOCK: u32 = 1 << 31;
/// Fine cells per coarse cell side.
const S: usize = 4;
/// Fine rows per edge slab.
const SLAB_ROWS: usize = 4;
/// `full[cell]` for a cell no polygon covers entirely.
const NONE: u32 = u32::MAX;

/// See the module docs.
#[derive(Debug, Clone)]
pub(crate) struct CellDirectory {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
    inv_w: f64,
    inv_h: f64,
    /// Fine raster size, a multiple of `S` both ways.
    nx: usize,
    ny: usize,
    /// Coarse cells, `nx / S` per row.
    top: Vec<u32>,
    /// Fine cells of the coarse cells that are not uniform, row-major within the block.
    blocks: Vec<[u32; S * S]>,
    /// Mixed cell records, each `[fallback, n, (rank, start, end) × n]`: `fallback` is the
    /// `rank + 1` of the best full cover (or 0), then candidates by ascending rank with their
    /// range in `edges`.
    records: Vec<u32>,
    edges: Vec<Edge>,
    mixed_cells: usize,
}

/// Mapping of coordinates to cell units, with the slack used when marking edges.
struct Raster {
    x0: f64,
    y0: f64,
    inv_w: f64,
    inv_h: f64,
    nx: usize,
    ny: usize,
    slack_x: f64,
    slack_y: f64,
}

impl Raster {
    fn u(&self, x: f64) -> f64 {
        (x - self.x0) * self.inv_w
    }
    fn v(&self, y: f64) -> f64 {
        (y - self.y0) * self.inv_h
    }
    /// Clamped cell column/row of a cell-unit value.
    fn clamp_floor(t: f64, n: usize) -> usize {
        if t <= 0.0 {
            0
        } else {
            (t as usize).min(n - 1)
        }
    }
}

impl CellDirectory {
    /// Builds the directory for polygon parts `polys[i]` (prepared as `prepared[i]`, of grid rank
    /// `rank[i]`), with about `budget` cells. All inputs are non-empty with finite coordinates.
    pub(crate) fn build(polys: &[&Polygon<f64>], prepared: &[PreparedPolygon], rank: &[u32], budget: usize) -> Self {
        let mut ext = prepared[0].bbox();
        for p in &prepared[1..] {
            let b = p.bbox();
            ext = geo::Rect::new(
                Coord { x: ext.min().x.min(b.min().x), y: ext.min().y.min(b.min().y) },
                Coord { x: ext.max().x.max(b.max().x), y: ext.max().y.max(b.max().y) },
            );
        }
        let (x0, y0, x1, y1) = (ext.min().x, ext.min().y, ext.max().x, ext.max().y);
        // A degenerate extent (all polygons on one line) still needs a positive cell size.
        let w = (x1 - x0).max(f64::MIN_POSITIVE.sqrt());
        let h = (y1 - y0).max(f64::MIN_POSITIVE.sqrt());
        let coarse = (budget / (S * S)).max(1) as f64;
        let nx = (coarse * w / h).sqrt().round().clamp(1.0, coarse) as usize * S;
        let ny = (coarse / (nx / S) as f64).ceil().max(1.0) as usize * S;
        let (inv_w, inv_h) = (nx as f64 / w, ny as f64 / h);
        // Far above the rounding of (x − x0)·inv_w, which grows with the magnitude of the
        // coordinates relative to the cell size.
        let slack_x = 1e-6 + 64.0 * f64::EPSILON * (x0.abs() + x1.abs() + w) * inv_w;
        let slack_y = 1e-6 + 64.0 * f64::EPSILON * (y0.abs() + y1.abs() + h) * inv_h;
        let r = Raster { x0, y0, inv_w, inv_h, nx, ny, slack_x, slack_y };

        let mut marks: Vec<(u32, u32)> = Vec::new(); // (part, cell)
        for (pid, poly) in polys.iter().enumerate() {
            for line in std::iter::once(poly.exterior()).chain(poly.interiors()).flat_map(|ring| ring.lines()) {
                mark_edge(&r, line.start, line.end, |cell| marks.push((pid as u32, cell)));
            }
        }
        marks.sort_unstable();
        marks.dedup();

        let mut full = vec![NONE; nx * ny];
        let mut group_start = 0;
        for (pid, part) in prepared.iter().enumerate() {
            let group_end = group_start + marks[group_start..].partition_point(|&(p, _)| p as usize == pid);
            let marked = &marks[group_start..group_end];
            group_start = group_end;
            classify_unmarked(&r, part, marked, |cell| full[cell] = full[cell].min(rank[pid]));
        }

        let slabs = RowSlabs::build(&r, polys);

        // Regroup the marks by cell, best (smallest) grid rank first.
        let mut by_cell: Vec<(u32, u32, u32)> =
            marks.iter().map(|&(pid, cell)| (cell, rank[pid as usize], pid)).collect();
        drop(marks);
        by_cell.sort_unstable();
        let encode = |r: u32| if r == NONE { 0 } else { r + 1 };
        let mut cells: Vec<u32> = full.iter().map(|&r| encode(r)).collect();
        drop(full);
        let mut records: Vec<u32> = Vec::new();
        let mut mixed_cells = 0;
        let mut last_header = None;
        let mut i = 0;
        while i < by_cell.len() {
            let cell = by_cell[i].0 as usize;
            let best_full = cells[cell].wrapping_sub(1);
            let (row, col) = (cell / nx, cell % nx);
            let header = records.len();
            records.extend([cells[cell], 0]);
            while i < by_cell.len() && by_cell[i].0 as usize == cell {
                let (_, pid_rank, pid) = by_cell[i];
                i += 1;
                // A polygon ranked no better than a full cover can never be the answer here.
                if pid_rank >= best_full {
                    continue;
                }
                let (start, end) = slabs.range(pid, row / SLAB_ROWS, col as f64 - r.slack_x);
                records.extend([pid_rank, start, end]);
                records[header + 1] += 1;
            }
            if records[header + 1] == 0 {
                records.truncate(header);
                continue;
            }
            mixed_cells += 1;
            // Neighbouring cells along a row often need the very same record: share it.
            match last_header {
                Some(last) if records[last..header] == records[header..] => {
                    records.truncate(header);
                    cells[cell] = MIXED | last as u32;
                }
                _ => {
                    cells[cell] = MIXED | header as u32;
                    last_header = Some(header);
                }
            }
        }
        assert!(records.len() < MIXED as usize, "BUG: GridIndex::build caps the raster well below this");
        let (top, blocks) = two_levels(&cells, nx, ny);
        CellDirectory { x0, y0, x1, y1, inv_w, inv_h, nx, ny, top, blocks, records, edges: slabs.edges, mixed_cells }
    }

    /// `Some(rank)` of the smallest grid covering `p`, `None` if none does.
    #[inline]
    pub(crate) fn locate(&self, p: Coord<f64>) -> Option<u32> {
        self.resolve(self.cell_value(p), p)
    }

    /// The cell value for `p`: what [`CellDirectory::resolve`] takes. Only arithmetic and one
    /// load, so a batch of these runs with many cache misses in flight at once.
    #[inline]
    pub(crate) fn cell_value(&self, p: Coord<f64>) -> u32 {
        if !(p.x >= self.x0 && p.x <= self.x1 && p.y >= self.y0 && p.y <= self.y1) {
            return 0;
        }
        let col = (((p.x - self.x0) * self.inv_w) as usize).min(self.nx - 1);
        let row = (((p.y - self.y0) * self.inv_h) as usize).min(self.ny - 1);
        let coarse = self.top[(row / S) * (self.nx / S) + col / S];
        if coarse & BLOCK == 0 {
            coarse
        } else {
            self.blocks[(coarse & !BLOCK) as usize][(row % S) * S + col % S]
        }
    }

    /// Finishes [`CellDirectory::locate`] from a [`CellDirectory::cell_value`].
    #[inline]
    pub(crate) fn resolve(&self, value: u32, p: Coord<f64>) -> Option<u32> {
        if value & MIXED == 0 {
            return value.checked_sub(1);
        }
        let header = (value & !MIXED) as usize;
        let n = self.records[header + 1] as usize;
        let candidates = &self.records[header + 2..header + 2 + 3 * n];
        for c in candidates.chunks_exact(3) {
            if covers_by_crossings(&self.edges[c[1] as usize..c[2] as usize], p) {
                return Some(c[0]);
            }
        }
        self.records[header].checked_sub(1)
    }

    /// (fine cells, mixed cells, bytes of heap) for reporting.
    pub(crate) fn counts(&self) -> (usize, usize, usize) {
        let bytes = self.top.len() * 4
            + self.blocks.len() * std::mem::size_of::<[u32; S * S]>()
            + self.records.len() * 4
            + self.edges.len() * std::mem::size_of::<Edge>();
        (self.nx * self.ny, self.mixed_cells, bytes)
    }
}

/// Splits the fine raster into the coarse table and the blocks of non-uniform coarse cells.
fn two_levels(cells: &[u32], nx: usize, ny: usize) -> (Vec<u32>, Vec<[u32; S * S]>) {
    let (tx, ty) = (nx / S, ny / S);
    let mut top = Vec::with_capacity(tx * ty);
    let mut blocks = Vec::new();
    for row in 0..ty {
        for col in 0..tx {
            let mut block = [0u32; S * S];
            for (k, v) in block.iter_mut().enumerate() {
                *v = cells[(row * S + k / S) * nx + col * S + k % S];
            }
            if block[0] & MIXED == 0 && block.iter().all(|&v| v == block[0]) {
                top.push(block[0]);
            } else {
                top.push(BLOCK | blocks.len() as u32);
                blocks.push(block);
            }
        }
    }
    (top, blocks)
}

/// Every polygon's edges, grouped by (polygon, band of `SLAB_ROWS` rows) and sorted by right end
/// within each group.
struct RowSlabs {
    /// (polygon, band, start, end) into `edges`, sorted.
    index: Vec<(u32, u32, u32, u32)>,
    /// The right end of each edge, in cell units.
    right: Vec<f64>,
    edges: Vec<Edge>,
}

impl RowSlabs {
    fn build(r: &Raster, polys: &[&Polygon<f64>]) -> Self {
        let mut entries: Vec<(u32, u32, f64, Edge)> = Vec::new();
        for (pid, poly) in polys.iter().enumerate() {
            for line in std::iter::once(poly.exterior()).chain(poly.interiors()).flat_map(|ring| ring.lines()) {
                let (va, vb) = (r.v(line.start.y), r.v(line.end.y));
                // The slack is not needed here (row lookups and v() are both monotonic in y),
                // but taking the same rows as `mark_edge` keeps every marked cell's slab present.
                let band_lo = Raster::clamp_floor(va.min(vb) - r.slack_y, r.ny) / SLAB_ROWS;
                let band_hi = Raster::clamp_floor(va.max(vb) + r.slack_y, r.ny) / SLAB_ROWS;
                let right = r.u(line.start.x.max(line.end.x));
                for band in band_lo..=band_hi {
                    entries.push((pid as u32, band as u32, right, Edge { a: line.start, b: line.end }));
                }
            }
        }
        entries.sort_unstable_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)).then(x.2.total_cmp(&y.2)));
        let mut index: Vec<(u32, u32, u32, u32)> = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            match index.last_mut() {
                Some(last) if (last.0, last.1) == (e.0, e.1) => last.3 = i as u32 + 1,
                _ => index.push((e.0, e.1, i as u32, i as u32 + 1)),
            }
        }
        let right = entries.iter().map(|e| e.2).collect();
        let edges = entries.into_iter().map(|e| e.3).collect();
        RowSlabs { index, right, edges }
    }

    /// The edges of polygon `pid` in `band` whose right end is at or beyond `from` (cell units).
    fn range(&self, pid: u32, band: usize, from: f64) -> (u32, u32) {
        let i = self
            .index
            .binary_search_by(|e| (e.0, e.1).cmp(&(pid, band as u32)))
            .expect("BUG: a cell marked by a polygon's edge lies in a band that edge meets");
        let (_, _, start, end) = self.index[i];
        let skip = self.right[start as usize..end as usize].partition_point(|&x| x < from);
        (start + skip as u32, end)
    }
}

/// Calls `mark` with every cell the segment `a`–`b` comes within the slack of.
fn mark_edge(r: &Raster, a: Coord<f64>, b: Coord<f64>, mut mark: impl FnMut(u32)) {
    let (au, av, bu, bv) = (r.u(a.x), r.v(a.y), r.u(b.x), r.v(b.y));
    let (vlo, vhi) = (av.min(bv), av.max(bv));
    let (ulo, uhi) = (au.min(bu), au.max(bu));
    let row_lo = Raster::clamp_floor(vlo - r.slack_y, r.ny);
    let row_hi = Raster::clamp_floor(vhi + r.slack_y, r.ny);
    for row in row_lo..=row_hi {
        // The part of the segment inside this row's band (widened by the slack), as an x-range.
        let band_lo = (row as f64 - r.slack_y).max(vlo);
        let band_hi = (row as f64 + 1.0 + r.slack_y).min(vhi);
        let (xlo, xhi) = if bv == av {
            (ulo, uhi)
        } else {
            let at = |v: f64| au + ((v - av) / (bv - av)).clamp(0.0, 1.0) * (bu - au);
            let (p, q) = (at(band_lo), at(band_hi));
            (p.min(q).max(ulo), p.max(q).min(uhi))
        };
        let col_lo = Raster::clamp_floor(xlo - r.slack_x, r.nx);
        let col_hi = Raster::clamp_floor(xhi + r.slack_x, r.nx);
        for col in col_lo..=col_hi {
            mark((row * r.nx + col) as u32);
        }
    }
}

/// Calls `covered` with every cell of `part`'s bounding box that no edge of it touches and that
/// lies inside it. `marked` holds the touched cells as (part, cell), sorted by cell.
fn classify_unmarked(r: &Raster, part: &PreparedPolygon, marked: &[(u32, u32)], mut covered: impl FnMut(usize)) {
    let b = part.bbox();
    let col_lo = Raster::clamp_floor(r.u(b.min().x) - r.slack_x, r.nx);
    let col_hi = Raster::clamp_floor(r.u(b.max().x) + r.slack_x, r.nx);
    let row_lo = Raster::clamp_floor(r.v(b.min().y) - r.slack_y, r.ny);
    let row_hi = Raster::clamp_floor(r.v(b.max().y) + r.slack_y, r.ny);
    let mut next_mark = 0;
    for row in row_lo..=row_hi {
        // Unmarked cells between two marked ones in a row form a run free of the boundary, so
        // one test of the first cell's centre decides the whole run.
        let mut run_status: Option<bool> = None;
        for col in col_lo..=col_hi {
            let cell = row * r.nx + col;
            while next_mark < marked.len() && (marked[next_mark].1 as usize) < cell {
                next_mark += 1;
            }
            if next_mark < marked.len() && marked[next_mark].1 as usize == cell {
                run_status = None;
                continue;
            }
            let inside = *run_status.get_or_insert_with(|| {
                let centre = Coord { x: r.x0 + (col as f64 + 0.5) / r.inv_w, y: r.y0 + (row as f64 + 0.5) / r.inv_h };
                part.covers(centre)
            });
            if inside {
                covered(cell);
            }
        }
    }
}
