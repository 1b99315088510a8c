//! Point-in-grid benchmark, pingan's side: writes the synthetic city for the peers (PostGIS,
//! shapely), times `GridIndex` on one thread and writes its answers for the cross-check.
//!
//! ```text
//! cargo run --release -p pingan-geo --example locate_bench -- --grids 4507 --points 1000000 --out DIR
//! ```
//!
//! Writes to DIR:
//! - `grids.tsv`: `code<TAB>MULTIPOLYGON(...)` WKT, one grid a line;
//! - `points.csv`: `id,lon,lat` (header line), coordinates printed with `{:?}`, Rust's shortest
//!   representation that parses back to the same f64, so every peer sees bit-identical input;
//! - `pingan.csv`: `id,code` (header line), code empty when no grid covers the point.
//!
//! Prints `build_s`, `locate_s` and `points_per_s` lines (`key value`) for `bench/point_in_grid.sh`.
//! Everything runs on the calling thread: pin it with `taskset -c 0` for a single-core figure.
//!
//! Uniform random points almost never land exactly on an edge, so the boundary rule would go
//! untested: every `--vertex-every`-th point (default 1000) is replaced by a vertex of some grid.
//! Vertices are exactly representable and shared by two or more neighbouring grids (or by a grid
//! and the enclave filling its hole), so those points exercise "closed grids, smallest code wins".

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use geo::{MultiPolygon, Point};
use pingan_geo::synthetic::{city_bbox, city_grids, random_points};
use pingan_geo::GridIndex;

/// The seeds of the criterion bench (`benches/locate.rs`), so both measure the same city.
const GRID_SEED: u64 = 42;
const POINT_SEED: u64 = 7;
/// Timed runs; the best is reported (the machine may be shared, the minimum is the least noisy).
const RUNS: usize = 3;

struct Args {
    grids: usize,
    points: usize,
    out: PathBuf,
    vertex_every: usize,
}

fn parse_args() -> Args {
    let mut args =
        Args { grids: 4_507, points: 1_000_000, out: PathBuf::from("target/bench-data"), vertex_every: 1000 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--grids" => args.grids = value().parse().unwrap_or_else(|_| usage("--grids: not a number")),
            "--points" => args.points = value().parse().unwrap_or_else(|_| usage("--points: not a number")),
            "--out" => args.out = PathBuf::from(value()),
            "--vertex-every" => {
                args.vertex_every = value().parse().unwrap_or_else(|_| usage("--vertex-every: not a number"))
            }
            _ => usage(&format!("unknown argument {flag}")),
        }
    }
    args
}

fn usage(why: &str) -> ! {
    eprintln!(
        "locate_bench: {why}\nusage: locate_bench [--grids N] [--points M] [--out DIR] [--vertex-every K (0: none)]"
    );
    std::process::exit(2)
}

fn write_wkt(w: &mut impl Write, mp: &MultiPolygon<f64>) -> std::io::Result<()> {
    write!(w, "MULTIPOLYGON(")?;
    for (i, poly) in mp.0.iter().enumerate() {
        write!(w, "{}(", if i > 0 { "," } else { "" })?;
        for (j, ring) in std::iter::once(poly.exterior()).chain(poly.interiors()).enumerate() {
            write!(w, "{}(", if j > 0 { "," } else { "" })?;
            for (k, c) in ring.0.iter().enumerate() {
                // `{:?}` round-trips f64 exactly (shortest repr); `{}` would too, but Debug is
                // what the points use, so one formatting rule covers the whole data set.
                write!(w, "{}{:?} {:?}", if k > 0 { "," } else { "" }, c.x, c.y)?;
            }
            write!(w, ")")?;
        }
        write!(w, ")")?;
    }
    write!(w, ")")
}

fn main() -> std::io::Result<()> {
    let args = parse_args();
    std::fs::create_dir_all(&args.out)?;

    let grids = city_grids(GRID_SEED, args.grids);
    let mut points = random_points(POINT_SEED, args.points, city_bbox());
    if args.vertex_every > 0 && !grids.is_empty() {
        // A deterministic walk over grids and their exterior vertices (Knuth's multiplicative
        // hash spreads the picks over the city instead of taking grids in code order).
        for (k, i) in (0..points.len()).step_by(args.vertex_every).enumerate() {
            let (_, mp) = &grids[(k.wrapping_mul(2_654_435_761)) % grids.len()];
            let ring = &mp.0[0].exterior().0;
            points[i] = Point(ring[k % (ring.len() - 1)]);
        }
    }

    let mut w = BufWriter::new(File::create(args.out.join("grids.tsv"))?);
    for (code, mp) in &grids {
        write!(w, "{code}\t")?;
        write_wkt(&mut w, mp)?;
        writeln!(w)?;
    }
    w.flush()?;
    let mut w = BufWriter::new(File::create(args.out.join("points.csv"))?);
    writeln!(w, "id,lon,lat")?;
    for (id, p) in points.iter().enumerate() {
        writeln!(w, "{id},{:?},{:?}", p.x(), p.y())?;
    }
    w.flush()?;

    // Build: the grids are cloned outside the timed part (the peers also get their geometries
    // parsed before their clock starts).
    let mut build_s = f64::INFINITY;
    let mut index = None;
    for _ in 0..RUNS {
        let input = grids.clone();
        let t = Instant::now();
        let built = GridIndex::new(input).expect("BUG: synthetic grids are valid");
        build_s = build_s.min(t.elapsed().as_secs_f64());
        index = Some(built);
    }
    let index = index.expect("RUNS > 0");

    // Locate: `locate_many`, the batch form an importer uses; `locate` in a loop for reference.
    let mut locate_s = f64::INFINITY;
    let mut answers = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        answers = std::hint::black_box(index.locate_many(std::hint::black_box(&points)));
        locate_s = locate_s.min(t.elapsed().as_secs_f64());
    }
    let mut single_s = f64::INFINITY;
    for _ in 0..RUNS {
        let t = Instant::now();
        let found = points.iter().filter(|p| index.locate(std::hint::black_box(**p)).is_some()).count();
        single_s = single_s.min(t.elapsed().as_secs_f64());
        std::hint::black_box(found);
    }

    let mut w = BufWriter::new(File::create(args.out.join("pingan.csv"))?);
    writeln!(w, "id,code")?;
    for (id, a) in answers.iter().enumerate() {
        writeln!(w, "{id},{}", a.unwrap_or(""))?;
    }
    w.flush()?;

    let n = points.len() as f64;
    println!("grids {}", grids.len());
    println!("points {}", points.len());
    println!("stats {:?}", index.stats());
    println!("build_s {build_s:.6}");
    println!("locate_s {locate_s:.6}");
    println!("points_per_s {:.0}", n / locate_s);
    println!("locate_loop_points_per_s {:.0}", n / single_s);
    Ok(())
}
