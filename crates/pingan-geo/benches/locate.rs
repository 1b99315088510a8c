//! Throughput of `GridIndex::locate` on a synthetic city: 4,507 irregular grids of 40–60
//! vertices (some with holes) tiling 30 × 30 km, asked about uniformly random points.
//!
//! Run with `cargo bench -p pingan-geo --bench locate` (add `-- --quick` for a short run).
//! Criterion's throughput line is points per second on one core. `locate_all` (the R-tree path)
//! is measured beside it as the baseline an index without the cell raster would reach, and
//! `locate_many` (the batch form an importer uses) for the gain of overlapping cache misses.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use pingan_geo::synthetic::{city_bbox, city_grids, random_points};
use pingan_geo::GridIndex;

const GRIDS: usize = 4_507;
const POINTS: usize = 100_000;

fn bench(c: &mut Criterion) {
    let grids = city_grids(42, GRIDS);
    let index = GridIndex::new(grids.clone()).expect("BUG: synthetic grids are valid");
    let points = random_points(7, POINTS, city_bbox());
    // The fast path must agree with the independent one before its speed means anything.
    let many = index.locate_many(&points);
    for (p, m) in points.iter().zip(&many) {
        assert_eq!(index.locate(*p), index.locate_all(*p).first().copied(), "{p:?}");
        assert_eq!(index.locate(*p), *m, "{p:?}");
    }
    eprintln!("{:?}", index.stats());

    let mut group = c.benchmark_group("grid_index");
    group.throughput(Throughput::Elements(POINTS as u64));
    group.bench_function("locate", |b| {
        b.iter(|| {
            let mut found = 0usize;
            for p in &points {
                found += index.locate(black_box(*p)).is_some() as usize;
            }
            black_box(found)
        })
    });
    group.bench_function("locate_many", |b| b.iter(|| black_box(index.locate_many(black_box(&points)))));
    group.bench_function("locate_all", |b| {
        b.iter(|| {
            let mut found = 0usize;
            for p in &points {
                found += index.locate_all(black_box(*p)).len();
            }
            black_box(found)
        })
    });
    group.finish();

    let mut build = c.benchmark_group("grid_index_build");
    build.sample_size(10);
    build.bench_function("new_4507", |b| {
        b.iter_batched(|| grids.clone(), |g| GridIndex::new(g).expect("BUG: valid"), BatchSize::LargeInput)
    });
    build.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
