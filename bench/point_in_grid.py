"""Point-in-grid benchmark, the Python half: shapely 2 as a peer, and the cross-check and report.

Run by bench/point_in_grid.sh, not by hand:

    python point_in_grid.py shapely DIR REPEATS   # times both shapely forms, writes DIR/*.pairs.csv
    python point_in_grid.py report DIR            # boundary rule, cross-check, table; exit 1 on disagreement

Peers return every grid covering a point ("pairs": one `id,code` line per covering grid); the
boundary rule (closed grids, smallest code in byte order wins) is applied here, the same way for
every peer, and the result is compared point by point with pingan's DIR/pingan.csv.

shapely (GEOS) is single-threaded: no thread pool to pin, and the shell script runs this under
`taskset -c 0` anyway.
"""

import sys
import time

import numpy as np


def load_grids(d):
    codes, wkts = [], []
    with open(f"{d}/grids.tsv") as f:
        for line in f:
            code, wkt = line.rstrip("\n").split("\t")
            codes.append(code)
            wkts.append(wkt)
    return codes, wkts


def load_points(d):
    # Python's float() and numpy's parser are correctly rounded: bit-identical to pingan's f64.
    a = np.loadtxt(f"{d}/points.csv", delimiter=",", skiprows=1, dtype=np.float64)
    a = a.reshape(-1, 3)
    assert np.array_equal(a[:, 0], np.arange(len(a))), "points.csv ids are 0..n-1 in order"
    return a[:, 1].copy(), a[:, 2].copy()


def write_pairs(path, codes, point_idx, grid_idx):
    with open(path, "w") as f:
        f.writelines(f"{p},{codes[g]}\n" for p, g in zip(point_idx.tolist(), grid_idx.tolist()))


def best_of(repeats, fn):
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def run_shapely(d, repeats):
    import shapely

    codes, wkts = load_grids(d)
    xs, ys = load_points(d)
    n = len(xs)
    # Untimed: parsing and creating geometries is loading data, as COPY is for PostGIS.
    polys = shapely.from_wkt(wkts)
    t = time.perf_counter()
    pts = shapely.points(xs, ys)
    make_points_s = time.perf_counter() - t
    timings = []

    # 1. STRtree over the grids, queried with all points at once; "intersects" is closed
    #    (a point on an edge or vertex intersects), as the boundary rule wants.
    build_s, tree = best_of(repeats, lambda: shapely.STRtree(polys))
    locate_s, hits = best_of(repeats, lambda: tree.query(pts, predicate="intersects"))
    write_pairs(f"{d}/shapely_strtree.pairs.csv", codes, hits[0], hits[1])
    timings.append(("shapely_strtree", locate_s, build_s, f"STRtree.query(points, 'intersects'); point creation {make_points_s:.3f} s untimed"))

    # 2. Prepared polygons, one intersects_xy call per polygon on the points inside its bbox.
    #    Without the bbox filter it would be 4,507 × 1M tests; with points sorted by x, a
    #    searchsorted slice plus a y mask is the cheapest filter numpy offers. The sort is per
    #    point set, so it is in the timed part; preparing the polygons is the "build".
    def prepare():
        p = shapely.from_wkt(wkts)  # fresh copies: prepare() caches on the geometry object
        shapely.prepare(p)
        return p

    build2_s, prepared = best_of(repeats, prepare)
    bounds = shapely.bounds(prepared)

    def locate_prepared():
        order = np.argsort(xs, kind="stable")
        sx, sy = xs[order], ys[order]
        lo = np.searchsorted(sx, bounds[:, 0], side="left")
        hi = np.searchsorted(sx, bounds[:, 2], side="right")
        out_p, out_g = [], []
        for g in range(len(prepared)):
            sl = slice(lo[g], hi[g])
            yy = sy[sl]
            m = (yy >= bounds[g, 1]) & (yy <= bounds[g, 3])
            cand = np.nonzero(m)[0] + lo[g]
            inside = shapely.intersects_xy(prepared[g], sx[cand], sy[cand])
            sel = order[cand[inside]]
            out_p.append(sel)
            out_g.append(np.full(len(sel), g))
        return np.concatenate(out_p), np.concatenate(out_g)

    locate2_s, (p_idx, g_idx) = best_of(repeats, locate_prepared)
    write_pairs(f"{d}/shapely_prepared_xy.pairs.csv", codes, p_idx, g_idx)
    timings.append(("shapely_prepared_xy", locate2_s, build2_s, "prepare + per-polygon intersects_xy on bbox candidates (x-sort timed)"))

    with open(f"{d}/timings.txt", "a") as f:
        for name, loc, build, note in timings:
            f.write(f"{name}\t{loc:.6f}\t{build:.6f}\t{note}\n")
    print(f"shapely {shapely.__version__} (GEOS {shapely.geos_version_string}), {n} points: done")


def boundary_rule(path, rank, n):
    """Smallest covering code (by rank = position in byte order) per point; -1 if none."""
    best = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    ids, ranks = [], []
    with open(path) as f:
        for line in f:
            i, code = line.rstrip("\n").split(",")
            ids.append(int(i))
            ranks.append(rank[code])
    if ids:
        np.minimum.at(best, np.array(ids), np.array(ranks, dtype=np.int64))
    best[best == np.iinfo(np.int64).max] = -1
    return best, len(ids)


def report(d):
    codes, _ = load_grids(d)
    by_bytes = sorted(codes, key=lambda c: c.encode())
    rank = {c: r for r, c in enumerate(by_bytes)}
    ours = []
    with open(f"{d}/pingan.csv") as f:
        next(f)
        for line in f:
            i, code = line.rstrip("\n").split(",")
            if code and code not in rank:
                sys.exit(f"FAIL: pingan answered point {i} with {code!r}, which is not a grid code")
            ours.append(rank[code] if code else -1)
    ours = np.array(ours, dtype=np.int64)
    n = len(ours)

    rows = [line.rstrip("\n").split("\t") for line in open(f"{d}/timings.txt")]
    ok = True
    print()
    print(f"{n} points, {len(codes)} grids; all timings one core, best of the repeats")
    print(f"{'implementation':<22} {'points/s':>14} {'locate s':>10} {'build s':>9} {'pingan ×':>9}  agrees  note")
    pingan_pps = None
    for name, loc, build, note in rows:
        pps = n / float(loc)
        if name == "pingan":
            pingan_pps, agree = pps, "-"
        else:
            theirs, npairs = boundary_rule(f"{d}/{name}.pairs.csv", rank, n)
            bad = np.nonzero(theirs != ours)[0]
            agree = "yes" if len(bad) == 0 else f"NO ({len(bad)})"
            note = f"{note}; {npairs} pairs"
            if len(bad):
                ok = False
                for i in bad[:10]:
                    show = lambda r: by_bytes[r] if r >= 0 else "(none)"
                    print(f"  DISAGREE {name}: point {i}: pingan {show(ours[i])}, {name} {show(theirs[i])}", file=sys.stderr)
        ratio = f"{pingan_pps / pps:.1f}" if pingan_pps else "-"
        print(f"{name:<22} {pps:>14,.0f} {float(loc):>10.4f} {float(build):>9.4f} {ratio:>9}  {agree:<6}  {note}")
    covered = int((ours >= 0).sum())
    print(f"pingan covered {covered} of {n} points")
    if not ok:
        print("FAIL: some implementation disagrees with pingan (first disagreements above)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    if sys.argv[1] == "shapely":
        run_shapely(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "report":
        report(sys.argv[2])
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
