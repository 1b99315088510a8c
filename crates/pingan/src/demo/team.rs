//! Every demo grid's team (社区警务团队): its responsible officer (一格一警) unless the scale
//! leaves it open, the next officer of its post as community officer, an auxiliary of the post
//! in turn, and a grid worker and a volunteer of its own. The demo grid (410702010101) gets the
//! demo accounts 陈秀兰 and 赵大勇, so they sign in to a grid they work.
//!
//! Grid workers and volunteers are made here, thousands at city scale: batched INSERTs with one
//! password hash, like the city's officers ([`insert_accounts`]).

use std::collections::HashMap;

use super::bulk::{self, Insert};
use super::names::Lcg;
use super::words;
use crate::db::{Backend, Tx};
use crate::grids::team::Duty;
use crate::pii::DataKey;

/// The grid whose team holds the demo grid worker and volunteer.
pub const DEMO_GRID: &str = "410702010101";

/// An account made in bulk: no second factor, the shared demo password.
pub struct NewAccount {
    pub id: i64,
    pub username: String,
    pub name: String,
    pub police_number: Option<String>,
    pub phone_enc: Vec<u8>,
    pub phone_hash: Vec<u8>,
    pub node: i64,
    pub role: &'static str,
}

/// A post's grids (in code order) and the people who work them.
pub struct Post {
    pub grids: Vec<i64>,
    /// Each grid's responsible officer, or None where the demo leaves a 一格一警 gap.
    pub responsible: Vec<Option<i64>>,
    pub officers: Vec<i64>,
    pub auxiliaries: Vec<i64>,
}

/// One grid's team rows: (account, duty).
fn team_of(post: &Post, g: usize, worker: i64, volunteer: i64) -> Vec<(i64, Duty)> {
    let responsible = post.responsible.get(g).copied().flatten();
    let mut out: Vec<(i64, Duty)> = responsible.map(|r| (r, Duty::Responsible)).into_iter().collect();
    if !post.officers.is_empty() {
        let next = post.officers[(g + 1) % post.officers.len()];
        if Some(next) != responsible {
            out.push((next, Duty::CommunityOfficer));
        }
    }
    if !post.auxiliaries.is_empty() {
        out.push((post.auxiliaries[g % post.auxiliaries.len()], Duty::Auxiliary));
    }
    out.push((worker, Duty::GridWorker));
    out.push((volunteer, Duty::Volunteer));
    out
}

/// Inserts `accounts` with their roles in batches, all with the password hash `hash`.
pub async fn insert_accounts(
    tx: &mut Tx,
    backend: Backend,
    accounts: &[NewAccount],
    hash: &str,
    now: i64,
) -> anyhow::Result<()> {
    let fixed =
        [("must_change_password", "0".into()), ("created_at", now.to_string()), ("updated_at", now.to_string())];
    let cols = ["id", "username", "name", "police_number", "phone_enc", "phone_hash", "node_id", "password_hash"];
    Insert::new(backend, "accounts", &cols, &fixed)
        .run(tx, accounts, |q, s| {
            q.bind(s.id)
                .bind(s.username.as_str())
                .bind(s.name.as_str())
                .bind(s.police_number.as_deref())
                .bind(s.phone_enc.as_slice())
                .bind(s.phone_hash.as_slice())
                .bind(s.node)
                .bind(hash.to_string())
        })
        .await?;
    let roles: HashMap<String, i64> = sqlx::query_as::<_, (String, i64)>("SELECT code, id FROM roles")
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .collect();
    let role_rows: Vec<(i64, i64)> = accounts.iter().map(|s| (s.id, roles[s.role])).collect();
    Insert::new(backend, "account_roles", &["account_id", "role_id"], &[])
        .run(tx, &role_rows, |q, r| q.bind(r.0).bind(r.1))
        .await?;
    bulk::move_sequences(tx, backend, &["accounts"]).await?;
    Ok(())
}

/// A generated person's name, deterministic in `rng`.
pub fn name(rng: &mut Lcg) -> String {
    let born = 1965 + (rng.next() % 35) as i32;
    let male = rng.next() % 100 < 60;
    format!("{}{}", words::surname(rng), words::given(rng, male, born))
}

/// Makes a grid worker and a volunteer for every grid but the demo grid (which has the demo
/// accounts) and writes every grid's team. `grid_codes` names each grid id.
#[allow(clippy::too_many_arguments)]
pub async fn seed(
    tx: &mut Tx,
    backend: Backend,
    key: &DataKey,
    posts: &[Post],
    grid_codes: &HashMap<i64, String>,
    hash: &str,
    seed: u64,
    now: i64,
) -> anyhow::Result<()> {
    let mut rng = Lcg(seed ^ 0x5445_414d);
    let demo: HashMap<String, i64> = sqlx::query_as::<_, (String, i64)>(
        "SELECT username, id FROM accounts WHERE username IN ('gridworker', 'volunteer')",
    )
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .collect();
    let mut next = bulk::next_id(tx, "accounts").await?;
    let mut accounts = Vec::new();
    let mut people: HashMap<i64, (i64, i64)> = HashMap::new(); // grid → (grid worker, volunteer)
    for &grid in posts.iter().flat_map(|p| &p.grids) {
        if grid_codes.get(&grid).map(String::as_str) == Some(DEMO_GRID) {
            if let (Some(&w), Some(&v)) = (demo.get("gridworker"), demo.get("volunteer")) {
                people.insert(grid, (w, v));
                continue;
            }
        }
        let mut pair = [0i64; 2];
        for (k, (stem, role)) in [("gw", "grid_worker"), ("vol", "volunteer")].into_iter().enumerate() {
            let phone = super::names::mobile(&mut rng);
            accounts.push(NewAccount {
                id: next,
                username: format!("{stem}{:04}", people.len() + 1),
                name: name(&mut rng),
                police_number: None,
                phone_enc: key.encrypt_str(&phone),
                phone_hash: key.lookup_hash(crate::pii::PHONE, &phone),
                node: grid,
                role,
            });
            pair[k] = next;
            next += 1;
        }
        people.insert(grid, (pair[0], pair[1]));
    }
    insert_accounts(tx, backend, &accounts, hash, now).await?;
    let mut rows: Vec<(i64, i64, &'static str)> = Vec::new();
    for post in posts {
        for (g, &grid) in post.grids.iter().enumerate() {
            let (worker, volunteer) = people[&grid];
            rows.extend(team_of(post, g, worker, volunteer).into_iter().map(|(a, d)| (grid, a, d.code())));
        }
    }
    Insert::new(backend, "grid_team", &["node_id", "account_id", "duty"], &[("since", now.to_string())])
        .run(tx, &rows, |q, r| q.bind(r.0).bind(r.1).bind(r.2))
        .await?;
    Ok(())
}

/// The district demo: one auxiliary per post (the demo auxiliary at the demo's own post), then
/// every grid's team. `teams` holds each post's id with its grids and officers.
pub async fn district(
    tx: &mut Tx,
    backend: Backend,
    key: &DataKey,
    ids: &HashMap<String, i64>,
    mut teams: Vec<(i64, Post)>,
    password: &str,
    now: i64,
) -> anyhow::Result<()> {
    let mut rng = super::names::Lcg(20_261_124);
    let demo_aux: i64 =
        sqlx::query_scalar("SELECT id FROM accounts WHERE username = 'auxiliary'").fetch_one(&mut **tx).await?;
    let demo_post = ids["410702010100"];
    let first = bulk::next_id(tx, "accounts").await?;
    let mut auxiliaries = Vec::new();
    for (post_id, post) in teams.iter_mut() {
        if *post_id == demo_post {
            post.auxiliaries.push(demo_aux);
            continue;
        }
        let id = first + auxiliaries.len() as i64;
        let phone = super::names::mobile(&mut rng);
        auxiliaries.push(NewAccount {
            id,
            username: format!("aux{:03}", auxiliaries.len() + 1),
            name: super::names::person(&mut rng),
            police_number: Some(format!("F4108{:03}", auxiliaries.len() + 1)),
            phone_enc: key.encrypt_str(&phone),
            phone_hash: key.lookup_hash(crate::pii::PHONE, &phone),
            node: *post_id,
            role: "auxiliary",
        });
        post.auxiliaries.push(id);
    }
    let hash = crate::auth::password::hash(password);
    insert_accounts(tx, backend, &auxiliaries, &hash, now).await?;
    let codes: HashMap<i64, String> = ids.iter().map(|(c, id)| (*id, c.clone())).collect();
    let posts: Vec<Post> = teams.into_iter().map(|(_, p)| p).collect();
    seed(tx, backend, key, &posts, &codes, &hash, 20_261_123, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_grid_gets_a_whole_team_and_gaps_stay_gaps() {
        let post = Post {
            grids: vec![10, 11, 12],
            responsible: vec![Some(1), Some(2), None],
            officers: vec![1, 2, 3],
            auxiliaries: vec![7],
        };
        let first = team_of(&post, 0, 100, 200);
        assert_eq!(
            first,
            vec![
                (1, Duty::Responsible),
                (2, Duty::CommunityOfficer),
                (7, Duty::Auxiliary),
                (100, Duty::GridWorker),
                (200, Duty::Volunteer)
            ]
        );
        let gap = team_of(&post, 2, 101, 201);
        assert!(!gap.iter().any(|(_, d)| *d == Duty::Responsible), "a gap the list of 一格一警 gaps can show");
        assert!(gap.contains(&(1, Duty::CommunityOfficer)));
        // A post with one officer: they are responsible, not also their own community officer.
        let lone = Post { grids: vec![10], responsible: vec![Some(1)], officers: vec![1], auxiliaries: vec![] };
        assert_eq!(team_of(&lone, 0, 100, 200).len(), 3);
    }
}
