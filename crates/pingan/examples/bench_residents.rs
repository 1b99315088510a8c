//! Writes the data of the resident import benchmark (`bench/resident_import.sh`): a bureau with
//! one station, 4,507 synthetic grids (GeoJSON) and N residents (CSV, the import template's
//! Chinese headers) living ~2.9 to an address, 1 % of them a second time (a merge).
//!
//!   cargo run --release --example bench_residents -- <rows> <out dir> [grids, default 4507]

use std::io::Write;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let rows: usize = args.get(1).and_then(|s| s.parse().ok()).expect("usage: bench_residents <rows> <out dir>");
    let out = std::path::PathBuf::from(args.get(2).expect("usage: bench_residents <rows> <out dir>"));
    let grid_count: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(4507);
    std::fs::create_dir_all(&out)?;
    std::fs::write(
        out.join("units.csv"),
        "code,kind,name,parent_code,valid_from\n4107,bureau,新乡市公安局,,2020-01-01\n41070201,station,向阳派出所,4107,\n",
    )?;
    let grids = pingan_geo::synthetic::city_grids(4507, grid_count);
    let mut features = Vec::with_capacity(grids.len());
    for (i, (_, shape)) in grids.iter().enumerate() {
        let coords: Vec<Vec<Vec<[f64; 2]>>> = shape
            .0
            .iter()
            .map(|p| {
                std::iter::once(p.exterior())
                    .chain(p.interiors())
                    .map(|r| r.0.iter().map(|c| [c.x, c.y]).collect())
                    .collect()
            })
            .collect();
        features.push(serde_json::json!({"type": "Feature",
            "properties": {"code": format!("41070201{i:04}"), "name": format!("网格{i}"), "station": "41070201"},
            "geometry": {"type": "MultiPolygon", "coordinates": coords}}));
    }
    let doc = serde_json::json!({"type": "FeatureCollection", "datum": "wgs84", "features": features});
    std::fs::write(out.join("grids.geojson"), doc.to_string())?;

    let points = pingan_geo::synthetic::random_points(7, rows / 3 + 1, pingan_geo::synthetic::city_bbox());
    let mut csv = std::io::BufWriter::new(std::fs::File::create(out.join("residents.csv"))?);
    writeln!(
        csv,
        "姓名,公民身份号码,性别,联系电话,人口类型,现住地址,经度,纬度,房屋（单元/室）,与房屋关系,关注标签,备注"
    )?;
    const SURNAMES: [&str; 10] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
    const GIVEN: [&str; 10] = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军"];
    let mut written = 0;
    let mut n = 0usize;
    while written < rows {
        // Every hundredth row repeats the person of the row before it with another phone.
        let person = if n % 100 == 99 { n - 1 } else { n };
        let birth = 19_400_101 + (person % 60) * 10_000 + (person / 60 % 12) * 100 + person / 720 % 28;
        let seq = person / 20_160 % 1000;
        let id = with_check(&format!("410702{birth}{seq:03}"));
        let address = person / 3;
        let p = points[address % points.len()];
        let name = format!("{}{}", SURNAMES[person % 10], GIVEN[person / 10 % 10]);
        writeln!(
            csv,
            "{name},{id},,199{:08},{},新乡市测试路{address}号,{:.6},{:.6},{}单元,{},{},",
            n % 100_000_000,
            if person % 5 == 0 { "流动人口" } else { "户籍人口" },
            p.x(),
            p.y(),
            person % 3 + 1,
            if person % 5 == 0 { "租户" } else { "家庭成员" },
            if person % 50 == 0 { "独居老人" } else { "" },
        )?;
        written += 1;
        n += 1;
    }
    csv.flush()
}

fn with_check(seventeen: &str) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let sum: u32 = seventeen.bytes().zip(W).map(|(b, w)| (b - b'0') as u32 * w).sum();
    format!("{seventeen}{}", C[(sum % 11) as usize])
}
