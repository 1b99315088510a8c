//! The synthetic city's organisation: Xinxiang's county-level branches, a station per town,
//! community posts, grids that tile the city, and the officers of every unit. The demo
//! accounts' units (410702010000, 410702010100, 410702010101, 410703010000, …) exist at every
//! size, so the same accounts sign in whatever the scale.

use std::collections::HashMap;

use geo::{Centroid, MultiPolygon};

use super::names::{self, Lcg};
use super::team::{self, NewAccount};
use super::words::{self, COUNTIES};
use super::{bulk, shapes};
use crate::db::{Backend, Tx};
use crate::org::service::{create_in, NewNode};
use crate::pii::DataKey;

/// How big a city to make.
pub struct Plan {
    pub seed: u64,
    /// The first this many of [`COUNTIES`].
    pub counties: usize,
    /// At most this many stations (towns) per county.
    pub towns: usize,
    /// Posts per station, from..=to.
    pub posts: (u64, u64),
    pub grids: usize,
    /// Mean houses per grid.
    pub houses: u64,
    /// Mean establishments per city grid; a village has half as many.
    pub shops: u64,
    /// Officers and auxiliaries at a post, per grid of the post.
    pub staff_per_grid: f64,
    /// Fraud warnings over the 400 days of history (the city's centre sends about 150 a day).
    pub warnings: u64,
}

/// Two branches, one station each: a quick look at everything, built in a second or two.
pub const SMALL: Plan = Plan {
    seed: 20_261_123,
    counties: 2,
    towns: 1,
    posts: (2, 2),
    grids: 16,
    houses: 24,
    shops: 4,
    staff_per_grid: 0.8,
    warnings: 1_000,
};

/// Xinxiang: 4,507 grids (DOMAIN.md §1), about 450,000 houses, 1.3 million people, 60,000
/// establishments and 3,800 officers.
pub const CITY: Plan = Plan {
    seed: 20_261_123,
    counties: 12,
    towns: 99,
    posts: (4, 6),
    grids: 4507,
    houses: 100,
    shops: 20,
    staff_per_grid: 0.8,
    warnings: 60_000,
};

/// A grid as the base-data generator needs it.
pub struct Grid {
    pub id: i64,
    pub shape: MultiPolygon<f64>,
    pub county: usize,
    pub town: &'static str,
}

struct Post {
    code: String,
    name: String,
    county: usize,
    town: &'static str,
    /// Indices into the city's shapes, in grid-code order.
    cells: Vec<usize>,
}

/// What [`org`] made.
pub struct Org {
    pub ids: HashMap<String, i64>,
    /// (code, kind), parents first.
    pub units: Vec<(String, &'static str)>,
    /// (post id, its grids' ids in code order).
    pub posts: Vec<(i64, Vec<i64>)>,
    pub grids: Vec<Grid>,
}

/// A unit to create: (code, kind, name, parent code), parents first.
type Unit = (String, &'static str, String, Option<String>);

/// The city on paper: every unit, and for each grid its code, shape, county and town.
struct Layout {
    units: Vec<Unit>,
    grids: Vec<(String, MultiPolygon<f64>, usize, &'static str)>,
}

/// Creates the organisation and the grids' shapes.
pub async fn org(tx: &mut Tx, plan: &Plan, now: i64) -> anyhow::Result<Org> {
    let Layout { units, grids: planned } = layout(plan)?;
    let mut ids = HashMap::new();
    let kinds = units.iter().map(|(code, kind, _, _)| (code.clone(), *kind)).collect();
    for (code, kind, name, parent) in units {
        let input = NewNode {
            code: code.clone(),
            kind: kind.to_string(),
            name,
            parent_id: parent.map(|p| ids[&p]),
            valid_from: Some("2020-01-01".into()),
        };
        let id = create_in(tx, None, None, &input, now).await.map_err(|e| anyhow::anyhow!("demo unit {code}: {e}"))?;
        ids.insert(code, id);
    }
    let mut grids = Vec::with_capacity(planned.len());
    let mut posts: Vec<(i64, Vec<i64>)> = Vec::new();
    for (code, shape, county, town) in planned {
        let id = ids[&code];
        crate::grids::store::put_shape(tx, id, &shape, "wgs84", None, now).await?;
        let post = ids[&format!("{}00", &code[..10])];
        match posts.last_mut() {
            Some((p, of_post)) if *p == post => of_post.push(id),
            _ => posts.push((post, vec![id])),
        }
        grids.push(Grid { id, shape, county, town });
    }
    Ok(Org { ids, units: kinds, posts, grids })
}

fn layout(plan: &Plan) -> anyhow::Result<Layout> {
    let mut rng = Lcg(plan.seed);
    // Branches, stations and how many posts each station has.
    let mut stations: Vec<(usize, usize, &'static str, usize)> = Vec::new(); // (county, number, town, posts)
    for (c, county) in COUNTIES.iter().enumerate().take(plan.counties) {
        for (s, town) in county.towns.iter().enumerate().take(plan.towns) {
            let posts = plan.posts.0 + rng.next() % (plan.posts.1 - plan.posts.0 + 1);
            stations.push((c, s + 1, town, posts as usize));
        }
    }
    let shapes = shapes::city(plan.seed, plan.grids);
    let posts = posts(plan, &stations, &shapes);
    let root = "410700000000".to_string();
    let mut units: Vec<Unit> = vec![
        (root.clone(), "bureau", "新乡市公安局".into(), None),
        ("410700990000".into(), "unit", "市局指挥中心".into(), Some(root.clone())),
        ("410700980000".into(), "unit", "市局反诈中心".into(), Some(root.clone())),
    ];
    for county in COUNTIES.iter().take(plan.counties) {
        units.push((format!("{}000000", county.region), "branch", county.branch.into(), Some(root.clone())));
    }
    for &(c, number, town, _) in &stations {
        let region = COUNTIES[c].region;
        let code = format!("{region}{number:02}0000");
        units.push((code, "station", format!("{town}派出所"), Some(format!("{region}000000"))));
    }
    for post in &posts {
        units.push((post.code.clone(), "post", post.name.clone(), Some(format!("{}0000", &post.code[..8]))));
    }
    let mut shapes: Vec<Option<MultiPolygon<f64>>> = shapes.into_iter().map(|(s, _)| Some(s)).collect();
    let mut grids = Vec::new();
    for post in &posts {
        anyhow::ensure!(post.cells.len() < 100, "BUG: a post with {} grids does not fit two digits", post.cells.len());
        let number = post.code[8..10].trim_start_matches('0');
        for (g, &cell) in post.cells.iter().enumerate() {
            let code = format!("{}{:02}", &post.code[..10], g + 1);
            units.push((code.clone(), "grid", format!("{}{number}-{}网格", post.town, g + 1), Some(post.code.clone())));
            let shape = shapes[cell].take().expect("BUG: each cell is one grid");
            grids.push((code, shape, post.county, post.town));
        }
    }
    Ok(Layout { units, grids })
}

/// Cuts the city into branches, stations and posts of equal shares of the lattice cells; each
/// post then also takes the enclaves inside its cells.
fn posts(
    plan: &Plan,
    stations: &[(usize, usize, &'static str, usize)],
    shapes: &[(MultiPolygon<f64>, Option<usize>)],
) -> Vec<Post> {
    let cells: Vec<usize> = (0..shapes.len()).filter(|&i| shapes[i].1.is_none()).collect();
    let centre: Vec<(f64, f64)> =
        shapes.iter().map(|(s, _)| s.centroid().map(|p| (p.x(), p.y())).unwrap_or_default()).collect();
    let total_posts: usize = stations.iter().map(|s| s.3).sum();
    let share = |p: usize| cells.len() / total_posts + usize::from(p < cells.len() % total_posts);
    let mut sizes: Vec<Vec<Vec<usize>>> = vec![Vec::new(); plan.counties]; // county → station → post sizes
    let mut p = 0;
    for &(c, _, _, posts) in stations {
        sizes[c].push((p..p + posts).map(share).collect());
        p += posts;
    }
    let sum = |v: &Vec<usize>| v.iter().sum::<usize>();
    let county_sizes: Vec<usize> = sizes.iter().map(|st| st.iter().map(sum).sum()).collect();
    let mut enclaves: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, (_, host)) in shapes.iter().enumerate() {
        if let Some(h) = host {
            enclaves.entry(*h).or_default().push(i);
        }
    }
    let mut posts = Vec::new();
    let mut station_iter = stations.iter();
    for (c, region) in shapes::split(cells, &centre, &county_sizes).into_iter().enumerate() {
        let station_sizes: Vec<usize> = sizes[c].iter().map(sum).collect();
        for (s, region) in shapes::split(region, &centre, &station_sizes).into_iter().enumerate() {
            let &(_, number, town, _) = station_iter.next().expect("BUG: a station per region");
            for (k, mut region) in shapes::split(region, &centre, &sizes[c][s]).into_iter().enumerate() {
                // Grids numbered in reading order, north-west first; an enclave right after its host.
                region.sort_by(|&a, &b| {
                    (-centre[a].1).total_cmp(&-centre[b].1).then(centre[a].0.total_cmp(&centre[b].0))
                });
                let cells = region
                    .iter()
                    .flat_map(|h| std::iter::once(*h).chain(enclaves.get(h).into_iter().flatten().copied()))
                    .collect();
                posts.push(Post {
                    code: format!("{}{number:02}{:02}00", COUNTIES[c].region, k + 1),
                    name: format!("{town}第{}警务室", k + 1),
                    county: c,
                    town,
                    cells,
                });
            }
        }
    }
    posts
}

/// The city's officers, beyond the demo accounts: a leader per branch, two heads per station
/// (所长 and 教导员), the command and anti-fraud centres, and community officers and
/// auxiliaries at every post, who take its grids as responsible officers (一格一警), all but
/// one grid in twenty.
pub async fn staff(
    tx: &mut Tx,
    backend: Backend,
    key: &DataKey,
    plan: &Plan,
    org: &Org,
    password: &str,
    now: i64,
) -> anyhow::Result<()> {
    let mut rng = Lcg(plan.seed ^ 0x5747_4146);
    let ids = &org.ids;
    let mut plan_staff: Vec<(i64, &'static str)> = Vec::new(); // (unit, role)
    plan_staff.extend(std::iter::repeat_n((ids["410700990000"], "dispatcher"), 2 * plan.counties));
    plan_staff.extend(std::iter::repeat_n((ids["410700980000"], "analyst"), plan.counties));
    let grids_of: HashMap<i64, &Vec<i64>> = org.posts.iter().map(|(p, g)| (*p, g)).collect();
    for (code, kind) in &org.units {
        let unit = ids[code];
        match *kind {
            "branch" => plan_staff.push((unit, "branch_leader")),
            "station" => plan_staff.extend([(unit, "station_head"), (unit, "station_head")]),
            "post" => {
                let grids = grids_of.get(&unit).map_or(0, |g| g.len());
                let n = ((grids as f64 * plan.staff_per_grid).round() as usize).max(2);
                let officers = (n * 7).div_ceil(10);
                plan_staff.extend(std::iter::repeat_n((unit, "community_officer"), officers));
                plan_staff.extend(std::iter::repeat_n((unit, "auxiliary"), n - officers));
            }
            _ => {}
        }
    }
    let first = bulk::next_id(tx, "accounts").await?;
    let staff: Vec<NewAccount> = plan_staff
        .into_iter()
        .enumerate()
        .map(|(i, (node, role))| {
            let phone = names::mobile(&mut rng);
            let born = 1965 + (rng.next() % 35) as i32;
            let male = rng.next() % 100 < 80;
            let prefix = if role == "auxiliary" { "F" } else { "" };
            NewAccount {
                id: first + i as i64,
                username: format!("{}{:04}", username_stem(role), i + 1),
                name: format!("{}{}", words::surname(&mut rng), words::given(&mut rng, male, born)),
                police_number: Some(format!("{prefix}{}", 420_001 + i)),
                phone_enc: key.encrypt_str(&phone),
                phone_hash: key.lookup_hash(crate::pii::PHONE, &phone),
                node,
                role,
            }
        })
        .collect();
    // One Argon2 hash for all: hashing 3,800 passwords one by one would take minutes, and every
    // demo account shares the password anyway.
    let hash = crate::auth::password::hash(password);
    team::insert_accounts(tx, backend, &staff, &hash, now).await?;
    // Community officers take their post's grids in turn; auxiliaries join them the same way.
    let mut by_post: HashMap<(i64, &str), Vec<i64>> = HashMap::new();
    for s in &staff {
        by_post.entry((s.node, s.role)).or_default().push(s.id);
    }
    let demo_grid = ids.get(team::DEMO_GRID).copied();
    let demo: HashMap<String, i64> = sqlx::query_as::<_, (String, i64)>(
        "SELECT username, id FROM accounts WHERE username IN ('officer', 'auxiliary')",
    )
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .collect();
    let mut posts = Vec::with_capacity(org.posts.len());
    for (post, grids) in &org.posts {
        let officers = by_post.remove(&(*post, "community_officer")).unwrap_or_default();
        let mut auxiliaries = by_post.remove(&(*post, "auxiliary")).unwrap_or_default();
        if grids.first().copied() == demo_grid {
            // The demo auxiliary (刘小军) works the demo grid, the first of its post.
            auxiliaries.insert(0, demo["auxiliary"]);
        }
        let responsible = grids
            .iter()
            .enumerate()
            .map(|(g, &grid)| {
                let unassigned = rng.next().is_multiple_of(20);
                if Some(grid) == demo_grid {
                    // The demo officer (张宏伟) answers for the demo grid worker's grid.
                    Some(demo["officer"])
                } else if unassigned || officers.is_empty() {
                    None
                } else {
                    Some(officers[g % officers.len()])
                }
            })
            .collect();
        posts.push(team::Post { grids: grids.clone(), responsible, officers, auxiliaries });
    }
    let codes: HashMap<i64, String> = ids.iter().map(|(c, id)| (*id, c.clone())).collect();
    team::seed(tx, backend, key, &posts, &codes, &hash, plan.seed, now).await
}

fn username_stem(role: &str) -> &'static str {
    match role {
        "community_officer" => "officer",
        "auxiliary" => "aux",
        "station_head" => "head",
        "branch_leader" => "leader",
        "dispatcher" => "dispatch",
        _ => "analyst",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_city_has_4507_grids_and_every_demo_unit() {
        let Layout { units, grids } = layout(&CITY).unwrap();
        assert_eq!(grids.len(), 4507);
        let codes: std::collections::HashSet<&str> = units.iter().map(|u| u.0.as_str()).collect();
        assert_eq!(codes.len(), units.len(), "unit codes are unique");
        for (_, _, unit, _, _) in crate::demo::DEMO_ACCOUNTS {
            assert!(codes.contains(unit), "no unit {unit} for a demo account");
        }
        let small = layout(&SMALL).unwrap();
        let small_codes: std::collections::HashSet<&str> = small.units.iter().map(|u| u.0.as_str()).collect();
        assert!(crate::demo::DEMO_ACCOUNTS.iter().all(|a| small_codes.contains(a.2)));
    }
}
