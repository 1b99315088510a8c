//! Deterministic synthetic names, numbers and units for the demo city.

pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        // Knuth's MMIX constants: good enough for picking names, and identical on every machine.
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        self.next() as f64 / (1u64 << 31) as f64
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() as usize) % items.len()]
    }
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林", "何", "郭", "马",
    "罗",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超",
    "秀兰", "霞",
];

pub fn person(rng: &mut Lcg) -> String {
    format!("{}{}", rng.pick(SURNAMES), rng.pick(GIVEN))
}

/// A mobile number in a 19x block, which carriers do not yet assign to public users.
pub fn mobile(rng: &mut Lcg) -> String {
    mobile_number(rng.next() % MOBILES)
}

/// How many demo mobile numbers there are: 19903 and six digits.
pub const MOBILES: u64 = 1_000_000;

/// Demo mobile number `n` (below [`MOBILES`]).
pub fn mobile_number(n: u64) -> String {
    format!("19903{n:06}")
}

/// (code, kind, name, parent code), parents first.
pub fn org_units() -> Vec<(String, &'static str, String, Option<String>)> {
    let mut out = vec![
        ("410700000000".to_string(), "bureau", "新乡市公安局".to_string(), None),
        ("410700990000".to_string(), "unit", "市局指挥中心".to_string(), Some("410700000000".to_string())),
        ("410700980000".to_string(), "unit", "市局反诈中心".to_string(), Some("410700000000".to_string())),
    ];
    let branches = [
        ("410702", "红旗分局", ["向阳派出所", "东街派出所"]),
        ("410703", "卫滨分局", ["胜利路派出所", "健康路派出所"]),
        ("410711", "牧野分局", ["王村派出所", "花园派出所"]),
    ];
    for (prefix, branch, stations) in branches {
        let bcode = format!("{prefix}000000");
        out.push((bcode.clone(), "branch", branch.to_string(), Some("410700000000".to_string())));
        for (s, station) in stations.iter().enumerate() {
            let scode = format!("{prefix}{:02}0000", s + 1);
            out.push((scode.clone(), "station", station.to_string(), Some(bcode.clone())));
            for p in 1..=2 {
                let pcode = format!("{prefix}{:02}{:02}00", s + 1, p);
                let post = format!("{}第{}警务室", station.trim_end_matches("派出所"), p);
                out.push((pcode.clone(), "post", post, Some(scode.clone())));
                for g in 1..=3 {
                    let gcode = format!("{prefix}{:02}{:02}{:02}", s + 1, p, g);
                    let grid = format!("{}{}-{}网格", station.trim_end_matches("派出所"), p, g);
                    out.push((gcode, "grid", grid, Some(pcode.clone())));
                }
            }
        }
    }
    out
}
