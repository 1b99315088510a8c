//! Work already done in the demo city, read off what the database holds: household visits and
//! establishment inspections over the last 120 days, so coverage differs from grid to grid
//! (some grids neglected, some fully visited), and every officer's 挂钩 link with the duties
//! done on it, some lapsed weeks ago so they show as overdue.

use std::collections::HashMap;

use chrono::{Duration, TimeZone};

use super::bulk::{self, Insert};
use super::names::Lcg;
use crate::clock::{beijing, beijing_today};
use crate::db::{Backend, Tx};
use crate::visits::COVERAGE_DAYS;

const DAY_MS: i64 = 86_400_000;
/// Visits go back this far: past the 90 days coverage counts, so some have just dropped out.
const HISTORY_DAYS: u64 = 120;

struct Visit {
    kind: &'static str,
    address: i64,
    house: Option<i64>,
    establishment: Option<i64>,
    resident: Option<i64>,
    officer: i64,
    at: i64,
    finding: &'static str,
    note: &'static str,
    grid: i64,
}

/// Adds visits and duty links for everything in the database; deterministic in `seed`, with
/// times counted back from `now`.
pub async fn seed(tx: &mut Tx, backend: Backend, seed: u64, now: i64) -> anyhow::Result<()> {
    let mut rng = Lcg(seed ^ 0x5649_5349);
    let grids: Vec<(i64, Option<i64>)> = sqlx::query_as(
        "SELECT n.id, n.parent_id FROM org_nodes n JOIN grid_shapes g ON g.node_id = n.id \
         WHERE n.valid_to IS NULL ORDER BY n.code",
    )
    .fetch_all(&mut **tx)
    .await?;
    let responsible: HashMap<i64, i64> =
        sqlx::query_as::<_, (i64, i64)>("SELECT node_id, account_id FROM grid_team WHERE duty = 'responsible'")
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .collect();
    let officers: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT a.id, a.node_id, r.code FROM accounts a JOIN account_roles ar ON ar.account_id = a.id \
         JOIN roles r ON r.id = ar.role_id \
         WHERE r.code IN ('community_officer', 'auxiliary', 'station_head', 'branch_leader') ORDER BY a.id",
    )
    .fetch_all(&mut **tx)
    .await?;
    // Who visits a grid: its responsible officer, else a community officer of its post.
    let mut at_post: HashMap<i64, i64> = HashMap::new();
    for (id, node, role) in &officers {
        if role == "community_officer" {
            at_post.entry(*node).or_insert(*id);
        }
    }
    let visitor: HashMap<i64, i64> = grids
        .iter()
        .filter_map(|(g, post)| responsible.get(g).or_else(|| post.and_then(|p| at_post.get(&p))).map(|o| (*g, *o)))
        .collect();
    // How diligent each grid's team is: one grid in eight neglected, the rest between a quarter
    // and all of their households visited.
    let diligence: HashMap<i64, f64> = grids
        .iter()
        .map(|(g, _)| {
            let d = if rng.next().is_multiple_of(8) { 0.0 } else { 0.25 + 0.75 * rng.unit() };
            (*g, d)
        })
        .collect();
    let visits = visits(tx, &mut rng, &visitor, &diligence, now).await?;
    let cols = [
        "kind",
        "address_id",
        "house_id",
        "establishment_id",
        "resident_id",
        "officer_id",
        "visited_at",
        "finding",
        "note",
        "grid_id",
        "node_id",
        "created_at",
    ];
    Insert::new(backend, "visits", &cols, &[])
        .run(tx, &visits, |q, v| {
            q.bind(v.kind)
                .bind(v.address)
                .bind(v.house)
                .bind(v.establishment)
                .bind(v.resident)
                .bind(v.officer)
                .bind(v.at)
                .bind(v.finding)
                .bind(v.note)
                .bind(v.grid)
                .bind(v.grid)
                .bind(v.at)
        })
        .await?;
    duties(tx, backend, &mut rng, &responsible, &officers, now).await
}

/// Households visited in the last 90 days with each grid's diligence as the chance (a few
/// twice), some more only 91 to 120 days ago; establishments inspected a little less often.
async fn visits(
    tx: &mut Tx,
    rng: &mut Lcg,
    visitor: &HashMap<i64, i64>,
    diligence: &HashMap<i64, f64>,
    now: i64,
) -> anyhow::Result<Vec<Visit>> {
    let today = beijing_today(now);
    let when = |rng: &mut Lcg, from_day: u64, to_day: u64| -> i64 {
        let ago = from_day + rng.next() % (to_day - from_day).max(1);
        let day = today - Duration::days(ago as i64);
        let midnight = beijing()
            .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("BUG: midnight exists"))
            .single()
            .map(|t| t.timestamp_millis())
            .unwrap_or(now);
        // Office hours, 08:00 to 19:00; today's visits are already over.
        let t = midnight + 8 * 3_600_000 + (rng.next() % (11 * 3_600_000)) as i64;
        if t > now {
            now - (rng.next() % 3_600_000) as i64 - 60_000
        } else {
            t
        }
    };
    let mut visits = Vec::new();
    let houses: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT h.id, h.address_id, h.node_id, MIN(r.id) FROM houses h JOIN residents r ON r.house_id = h.id \
         GROUP BY h.id, h.address_id, h.node_id ORDER BY h.id",
    )
    .fetch_all(&mut **tx)
    .await?;
    for (house, address, grid, resident) in houses {
        let (Some(&officer), Some(&d)) = (visitor.get(&grid), diligence.get(&grid)) else { continue };
        let roll = rng.unit();
        let times = if roll < d {
            let mut t = vec![when(rng, 0, COVERAGE_DAYS as u64)];
            if rng.next().is_multiple_of(8) {
                t.push(when(rng, 0, HISTORY_DAYS));
            }
            t
        } else if roll < d + 0.2 {
            vec![when(rng, COVERAGE_DAYS as u64 + 1, HISTORY_DAYS)]
        } else {
            vec![]
        };
        for at in times {
            let (finding, note) = finding(rng);
            let resident = (rng.next() % 5 < 3).then_some(resident);
            visits.push(Visit {
                kind: "household",
                address,
                house: Some(house),
                establishment: None,
                resident,
                officer,
                at,
                finding,
                note,
                grid,
            });
        }
    }
    let shops: Vec<(i64, i64, i64)> =
        sqlx::query_as("SELECT id, address_id, node_id FROM establishments ORDER BY id").fetch_all(&mut **tx).await?;
    for (shop, address, grid) in shops {
        let (Some(&officer), Some(&d)) = (visitor.get(&grid), diligence.get(&grid)) else { continue };
        if rng.unit() < d * 0.8 {
            let at = when(rng, 0, HISTORY_DAYS);
            let (finding, note) = finding(rng);
            visits.push(Visit {
                kind: "inspection",
                address,
                house: None,
                establishment: Some(shop),
                resident: None,
                officer,
                at,
                finding,
                note,
                grid,
            });
        }
    }
    Ok(visits)
}

fn finding(rng: &mut Lcg) -> (&'static str, &'static str) {
    let f = match rng.next() % 100 {
        0..85 => "nothing",
        85..91 => "hazard",
        91..96 => "dispute",
        _ => "needs_help",
    };
    (f, super::words::visit_note(rng, f))
}

/// 全警挂钩: every officer, auxiliary, station head and branch leader is linked to a village or
/// community: post staff to a grid of their post (their own, if responsible for one), heads and
/// leaders to a post under them. About one link in four lapsed some weeks ago.
async fn duties(
    tx: &mut Tx,
    backend: Backend,
    rng: &mut Lcg,
    responsible: &HashMap<i64, i64>,
    officers: &[(i64, i64, String)],
    now: i64,
) -> anyhow::Result<()> {
    let parents: Vec<(i64, Option<i64>, String)> =
        sqlx::query_as("SELECT id, parent_id, kind FROM org_nodes WHERE valid_to IS NULL ORDER BY code")
            .fetch_all(&mut **tx)
            .await?;
    let mut children: HashMap<i64, Vec<(i64, &str)>> = HashMap::new();
    let mut kind_of: HashMap<i64, &str> = HashMap::new();
    for (id, parent, kind) in &parents {
        kind_of.insert(*id, kind.as_str());
        if let Some(p) = parent {
            children.entry(*p).or_default().push((*id, kind.as_str()));
        }
    }
    // Sorted, so an officer answering for two grids is linked to the same one every time.
    let mut answers: Vec<(i64, i64)> = responsible.iter().map(|(g, a)| (*a, *g)).collect();
    answers.sort();
    let mut own: HashMap<i64, i64> = HashMap::new();
    for (account, grid) in answers {
        own.entry(account).or_insert(grid);
    }
    let first_link = bulk::next_id(tx, "duty_links").await?;
    let mut links: Vec<(i64, i64, i64, i64)> = Vec::new(); // (id, account, node, since)
    let mut done: Vec<(i64, &'static str, i64, &'static str, i64)> = Vec::new(); // (link, kind, at, note, node)
    for (account, home, _) in officers {
        let village = match own.get(account) {
            Some(g) => Some(*g),
            None => village_under(rng, &children, kind_of.get(home).copied(), *home),
        };
        let Some(village) = village else { continue };
        let id = first_link + links.len() as i64;
        let since = now - (60 + rng.next() % 300) as i64 * DAY_MS;
        links.push((id, *account, village, since));
        // A lapsed link stopped some 10 to 60 days ago.
        let stop = if rng.next().is_multiple_of(4) { now - (10 + rng.next() % 50) as i64 * DAY_MS } else { now };
        for (kind, period, note) in [
            ("contact", 7, "电话联系村(居)委干部，了解近期情况"),
            ("on_site", 30, "驻村(社区)开展走访，收集群众诉求"),
            ("deed", 91, "帮助群众办理户籍业务"),
        ] {
            let mut start = since.max(now - HISTORY_DAYS as i64 * DAY_MS);
            while start < stop {
                let at = start + (rng.next() % (period * DAY_MS as u64)) as i64;
                if at < stop {
                    done.push((id, kind, at, note, village));
                }
                start += period as i64 * DAY_MS;
            }
        }
    }
    Insert::new(backend, "duty_links", &["id", "account_id", "node_id", "since"], &[])
        .run(tx, &links, |q, l| q.bind(l.0).bind(l.1).bind(l.2).bind(l.3))
        .await?;
    Insert::new(backend, "duties", &["link_id", "kind", "done_at", "note", "node_id", "created_at"], &[])
        .run(tx, &done, |q, d| q.bind(d.0).bind(d.1).bind(d.2).bind(d.3).bind(d.4).bind(d.2))
        .await?;
    bulk::move_sequences(tx, backend, &["duty_links"]).await?;
    Ok(())
}

/// A village for someone at `home` who answers for no grid: a grid of their post, or a post
/// somewhere under their station or branch.
fn village_under(
    rng: &mut Lcg,
    children: &HashMap<i64, Vec<(i64, &str)>>,
    kind: Option<&str>,
    home: i64,
) -> Option<i64> {
    let pick = |rng: &mut Lcg, node: i64, wanted: &[&str]| {
        let kids: Vec<i64> =
            children.get(&node)?.iter().filter(|(_, k)| wanted.contains(k)).map(|(id, _)| *id).collect();
        (!kids.is_empty()).then(|| kids[(rng.next() as usize) % kids.len()])
    };
    match kind? {
        "post" => pick(rng, home, &["grid"]),
        "station" => pick(rng, home, &["post"]),
        "branch" => {
            let station = pick(rng, home, &["station"])?;
            pick(rng, station, &["post"])
        }
        _ => None,
    }
}
