//! The demo: a deterministic city, one account per role and work already done, flagged as a
//! demo so `serve` refuses it. Three sizes (`pingan demo --scale`): `small`, two stations for a
//! quick look; `district`, the default, the organisation the integration tests know ([`seed`]);
//! `city`, Xinxiang-sized (4,507 grids, 1.3 million people), built in about a minute.
//!
//! Units, shapes and the demo accounts go through `org::service`, `grids::store` and
//! `accounts::service`; the thousands of officers and the millions of base-data rows through
//! batched INSERTs (`bulk.rs`), since one statement per row would take many minutes.
//!
//! A full demo also holds 400 days of fraud warnings worked to closed cases (`warnings.rs`), a
//! few open cases made through the real intake path, and, while `pingan demo` serves, a new
//! warning every 30 to 90 s (`trickle.rs`; `--no-trickle` stops it).
//!
//! Invariant: the same seed gives the same city; only visit, duty and warning times follow the
//! clock.
//! Invariant: every scale has the units of [`DEMO_ACCOUNTS`], so the same accounts sign in.

mod activity;
mod base;
mod bulk;
mod city;
mod fraud;
mod names;
mod people;
mod routes;
mod shapes;
mod team;
mod trickle;
mod warnings;
mod words;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::clock::Clock;
use crate::config::Config;
use crate::db::{Backend, Db, Tx};
use crate::org::service::{create_in, NewNode};
use crate::pii::DataKey;
use crate::settings::{self, SecurityPolicy};

pub const DEFAULT_PASSWORD: &str = "Pingan-Demo-2026";
/// Fraud warnings over the district demo's 400 days of history.
const DISTRICT_WARNINGS: u64 = 3_000;

/// (username, role, unit code, 姓名, 警号)
pub const DEMO_ACCOUNTS: &[(&str, &str, &str, &str, &str)] = &[
    ("sysadmin", "system_admin", "410700000000", "韩志强", ""),
    ("secadmin", "security_admin", "410700000000", "许文静", ""),
    ("auditor", "auditor", "410700000000", "邓玉梅", ""),
    ("commander", "city_commander", "410700000000", "高建国", "410001"),
    ("dispatcher", "dispatcher", "410700990000", "马晓东", "410002"),
    ("analyst", "analyst", "410700980000", "孙丽娜", "410003"),
    ("branch_leader", "branch_leader", "410702000000", "王振华", "410101"),
    ("station_head", "station_head", "410702010000", "李卫东", "410111"),
    ("officer", "community_officer", "410702010100", "张宏伟", "410112"),
    ("auxiliary", "auxiliary", "410702010100", "刘小军", "F410113"),
    ("gridworker", "grid_worker", "410702010101", "陈秀兰", ""),
    ("volunteer", "volunteer", "410702010101", "赵大勇", ""),
    ("other_station_head", "station_head", "410703010000", "周国庆", "410211"),
];

/// How big a demo city to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scale {
    /// Two stations, 16 grids, some 1,200 residents: a quick look.
    Small,
    /// Three branches, six stations, 36 grids: what the integration tests run on.
    District,
    /// Xinxiang-sized: 4,507 grids, 1.3 million residents, 3,800 officers; a minute to build.
    City,
}

impl Scale {
    pub fn name(self) -> &'static str {
        match self {
            Scale::Small => "small",
            Scale::District => "district",
            Scale::City => "city",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub scale: Scale,
    /// Only the organisation, grids and accounts: no people, visits or duties (map tests).
    pub grids_only: bool,
}

impl Options {
    /// "city", "city --grids-only": what a data directory holds, as the command line says it.
    pub fn label(&self) -> String {
        let only = if self.grids_only { " --grids-only" } else { "" };
        format!("{}{only}", self.scale.name())
    }
}

/// Builds the district demo the integration tests know (organisation, accounts, base data, no
/// visits or duty links: the tests count those from zero) into an empty database. Returns false
/// if the database was already seeded (nothing is changed then).
pub async fn seed(db: &Db, key: &DataKey, now: i64, password: &str) -> anyhow::Result<bool> {
    district(db, key, now, password, true, false).await
}

/// Builds the demo at `opts.scale` into an empty database, with visits and duty links unless
/// grids only. Returns false if the database was already seeded (nothing is changed then).
pub async fn build(db: &Db, key: &Arc<DataKey>, now: i64, password: &str, opts: Options) -> anyhow::Result<bool> {
    let full = !opts.grids_only;
    let built = match opts.scale {
        Scale::District => district(db, key, now, password, full, full).await?,
        Scale::Small => city_scale(db, key, now, password, &city::SMALL, full).await?,
        Scale::City => city_scale(db, key, now, password, &city::CITY, full).await?,
    };
    if built && full {
        // After the city is committed: intake reads base data on the read pool.
        trickle::open_cases(db, key, now, 20_261_123, trickle::OPEN_CASES).await?;
    }
    if built {
        crate::meta::set(db, "demo_scale", &opts.label()).await?;
    }
    Ok(built)
}

async fn district(db: &Db, key: &DataKey, now: i64, password: &str, people: bool, work: bool) -> anyhow::Result<bool> {
    let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM org_nodes").fetch_one(db.reader()).await?;
    if existing > 0 {
        return Ok(false);
    }
    crate::accounts::roles::seed(db).await?;
    let mut tx = db.begin().await?;
    let mut ids = HashMap::new();
    for (code, kind, name, parent) in names::org_units() {
        let parent_id = parent.map(|p| *ids.get(&p).expect("BUG: demo parents come first"));
        let input = NewNode {
            code: code.clone(),
            kind: kind.to_string(),
            name,
            parent_id,
            valid_from: Some("2020-01-01".into()),
        };
        let id =
            create_in(&mut tx, None, None, &input, now).await.map_err(|e| anyhow::anyhow!("demo unit {code}: {e}"))?;
        ids.insert(code, id);
    }
    let mut grids = Vec::new();
    for (code, shape) in shapes::for_grids(&shapes::by_station(&ids)) {
        crate::grids::store::put_shape(&mut tx, ids[&code], &shape, "wgs84", None, now).await?;
        grids.push((ids[&code], code, shape));
    }
    let today = crate::clock::beijing_today(now);
    if people {
        people::seed(&mut tx, key, &grids, &people::DISTRICT, today, now).await?;
    } else {
        people::set_area(&mut tx, grids.iter().map(|(_, _, s)| s), now).await?;
    }
    let mut rng = names::Lcg(20_261_123);
    demo_accounts(&mut tx, key, &ids, password, &mut rng, now).await?;
    // More officers, so lists have something to page through.
    // Sorted: a HashMap's order differs between runs, and the demo must not.
    let mut posts: Vec<&String> = ids.keys().filter(|c| c.ends_with("0100") || c.ends_with("0200")).collect();
    posts.sort();
    let mut teams = Vec::new();
    for (i, unit) in posts.into_iter().enumerate() {
        let mut post =
            team::Post { grids: Vec::new(), responsible: Vec::new(), officers: Vec::new(), auxiliaries: Vec::new() };
        for j in 0..3 {
            let input = crate::accounts::service::NewAccount {
                username: format!("officer{:03}", i * 3 + j + 1),
                name: names::person(&mut rng),
                police_number: Some(format!("4107{:04}", i * 3 + j + 1)),
                phone: Some(names::mobile(&mut rng)),
                node_id: ids[unit],
                password: Some(password.to_string()),
                roles: vec!["community_officer".to_string()],
            };
            let (officer, _) = crate::accounts::service::create_in(&mut tx, key, &input, false, now)
                .await
                .map_err(|e| anyhow::anyhow!("demo officer: {e}"))?;
            post.officers.push(officer);
            // One officer per grid of the post (一格一警), leaving a few grids without one so
            // the "unassigned" list and the map's colours have something to show.
            if let Some(grid_id) = ids.get(&format!("{}{:02}", &unit[..10], j + 1)) {
                post.grids.push(*grid_id);
                post.responsible.push(Some(officer).filter(|_| !(j == 2 && i % 2 == 0)));
            }
        }
        teams.push((ids[unit], post));
    }
    team::district(&mut tx, db.backend, key, &ids, teams, password, now).await?;
    if work {
        activity::seed(&mut tx, db.backend, 20_261_123, now).await?;
        warnings::seed(&mut tx, db.backend, key, 20_261_123, now, DISTRICT_WARNINGS).await?;
    }
    finish(db, tx, key, now).await?;
    Ok(true)
}

async fn city_scale(
    db: &Db,
    key: &Arc<DataKey>,
    now: i64,
    password: &str,
    plan: &city::Plan,
    people: bool,
) -> anyhow::Result<bool> {
    let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM org_nodes").fetch_one(db.reader()).await?;
    if existing > 0 {
        return Ok(false);
    }
    crate::accounts::roles::seed(db).await?;
    let mut tx = db.begin().await?;
    if db.backend == Backend::Sqlite {
        // A bigger page cache for the residents' indexes, whose inserts land at random places.
        // City build, measured: 2 MB default 90 s (240 MB resident); 256 MB 76 s (540 MB);
        // 1 GB 66 s (1.3 GB). 256 MB buys most of it for a laptop's memory.
        sqlx::query("PRAGMA cache_size = -262144").execute(&mut *tx).await?;
    }
    let org = city::org(&mut tx, plan, now).await?;
    let mut rng = names::Lcg(plan.seed);
    demo_accounts(&mut tx, key, &org.ids, password, &mut rng, now).await?;
    city::staff(&mut tx, db.backend, key, plan, &org, password, now).await?;
    people::set_area(&mut tx, org.grids.iter().map(|g| &g.shape), now).await?;
    if people {
        base::seed(&mut tx, db.backend, key.clone(), org.grids, plan.seed, plan.houses, plan.shops, now).await?;
        activity::seed(&mut tx, db.backend, plan.seed, now).await?;
        warnings::seed(&mut tx, db.backend, key, plan.seed, now, plan.warnings).await?;
    }
    finish(db, tx, key, now).await?;
    if db.backend == Backend::Sqlite {
        sqlx::query("PRAGMA cache_size = -2000").execute(db.writer()).await?;
        // The one big transaction left a WAL file as large as the database (0.9 GB at city
        // scale); its pages are in the database now.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(db.writer()).await?;
    }
    Ok(true)
}

/// The accounts of [`DEMO_ACCOUNTS`].
async fn demo_accounts(
    tx: &mut Tx,
    key: &DataKey,
    ids: &HashMap<String, i64>,
    password: &str,
    rng: &mut names::Lcg,
    now: i64,
) -> anyhow::Result<()> {
    for (username, role, unit, name, pn) in DEMO_ACCOUNTS {
        let input = crate::accounts::service::NewAccount {
            username: username.to_string(),
            name: name.to_string(),
            police_number: Some(pn.to_string()),
            phone: Some(names::mobile(rng)),
            node_id: ids[*unit],
            password: Some(password.to_string()),
            roles: vec![role.to_string()],
        };
        crate::accounts::service::create_in(tx, key, &input, false, now)
            .await
            .map_err(|e| anyhow::anyhow!("demo account {username}: {e}"))?;
    }
    Ok(())
}

/// Lifts the second factor, audits the seeding, commits and marks the database a demo.
async fn finish(db: &Db, mut tx: Tx, key: &DataKey, now: i64) -> anyhow::Result<()> {
    // The demo lifts the second factor for every role, and says so on every page.
    let policy = SecurityPolicy {
        mfa_exempt_roles: crate::auth::permissions::BUILTIN_ROLES.iter().map(|r| r.0.to_string()).collect(),
        ..SecurityPolicy::default()
    };
    settings::set(&mut tx, settings::SECURITY_POLICY, &policy, None, now).await?;
    audit::append(&mut tx, db, key, now, &Entry::cli("demo.seed")).await?;
    tx.commit().await?;
    crate::meta::set(db, "demo", "1").await?;
    Ok(())
}

pub async fn set_passwords(db: &Db, password: &str) -> anyhow::Result<()> {
    let hash = crate::auth::password::hash(password);
    sqlx::query("UPDATE accounts SET password_hash = $1, locked_until = NULL").bind(hash).execute(db.writer()).await?;
    sqlx::query("DELETE FROM auth_failures").execute(db.writer()).await?;
    Ok(())
}

/// Builds (or reuses) the demo in `data` and serves it; `trickle` sends a new warning every
/// 30 to 90 s while it serves.
pub async fn run(
    data: PathBuf,
    listen: SocketAddr,
    password: Option<String>,
    opts: Options,
    trickle: bool,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&data)?;
    let key_path = data.join("pingan.key");
    if !key_path.exists() {
        DataKey::write_new(&key_path)?;
    }
    let mut cfg = Config::default();
    cfg.paths.data_dir = data.clone();
    cfg.paths.key_file = key_path;
    cfg.server.listen = listen;
    // The demo serves plain HTTP on the loopback: a Secure cookie would never come back.
    cfg.server.secure_cookies = false;
    // The map's tile server is the one deployment setting a demo may want (PINGAN_MAP__*).
    cfg.map = Config::load(None, &std::env::vars().collect())?.0.map;
    let (db, key) = crate::cli::open(&cfg).await?;
    let fresh_db: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM org_nodes").fetch_one(db.reader()).await?;
    if fresh_db > 0 && !crate::meta::is_demo(&db).await? {
        anyhow::bail!("{} holds a real database, not a demo; choose another --data", data.display());
    }
    let pw = password.clone().unwrap_or_else(|| DEFAULT_PASSWORD.to_string());
    let personal = crate::auth::password::Personal { username: "", name: "", police_number: None };
    crate::auth::password::check_policy(&pw, &personal)
        .map_err(|p| anyhow::anyhow!("--password: {}", p.reason_en()))?;
    // Progress goes out before the address line, and must not start like it: scripts and the
    // browser tests read the first "pingan demo: " line for the address.
    if fresh_db == 0 && opts.scale == Scale::City && !opts.grids_only {
        println!("building the city-scale demo city (a minute or two; the next start reuses it)…");
    }
    if fresh_db == 0 {
        // Flagged before anything is written, so that even a build cut short leaves a database
        // `serve` refuses; "complete" marks a build that finished.
        crate::meta::set(&db, "demo", "1").await?;
    } else if crate::meta::get(&db, "demo_complete").await?.is_none() {
        anyhow::bail!(
            "the demo in {} was cut short while it was built; delete the directory and run again",
            data.display()
        );
    }
    let started = Instant::now();
    let key = Arc::new(key);
    let seeded = build(&db, &key, Clock::System.now_ms(), &pw, opts).await?;
    crate::meta::set(&db, "demo_complete", "1").await?;
    if seeded {
        println!("built the {} demo in {:.1} s: {}", opts.label(), started.elapsed().as_secs_f64(), counts(&db).await?);
    } else {
        // Directories made before scales existed hold the district demo.
        let held = crate::meta::get(&db, "demo_scale").await?.unwrap_or_else(|| Scale::District.name().into());
        println!("reusing the {held} demo in {} (--scale applies to a new --data directory only)", data.display());
        if password.is_some() {
            set_passwords(&db, &pw).await?;
        }
    }
    // Bind before printing, so `--listen 127.0.0.1:0` prints the port actually chosen.
    let listener =
        tokio::net::TcpListener::bind(listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let bound = listener.local_addr()?;
    println!("pingan demo: http://{bound}/  (data in {})", data.display());
    println!("demo accounts (password: {pw}):");
    for (username, role, _, name, _) in DEMO_ACCOUNTS {
        println!("  {username:<20} {role:<18} {name}");
    }
    // The builder's live warnings went through a short-lived state whose writer task may still
    // hold its clone of the key for a moment after answering: share the key, do not unwrap it.
    let state = AppState::with_key(db, key, Clock::System, cfg).await?;
    crate::jobs::start(state.clone()).await?;
    if trickle {
        trickle::start(state.clone());
        println!("a new fraud warning arrives every 30 to 90 s (--no-trickle to stop them)");
    }
    tracing::info!(address = %bound, "pingan demo serving");
    crate::app::serve(state, listener, crate::app::shutdown_signal()).await
}

/// "4,507 grids, 3,812 accounts, …": what the demo database holds.
pub async fn counts(db: &Db) -> anyhow::Result<String> {
    let mut out = Vec::new();
    for (what, sql) in [
        ("grids", "SELECT COUNT(*) FROM org_nodes WHERE kind = 'grid'"),
        ("accounts", "SELECT COUNT(*) FROM accounts"),
        ("addresses", "SELECT COUNT(*) FROM addresses"),
        ("houses", "SELECT COUNT(*) FROM houses"),
        ("residents", "SELECT COUNT(*) FROM residents"),
        ("establishments", "SELECT COUNT(*) FROM establishments"),
        ("visits", "SELECT COUNT(*) FROM visits"),
        ("duty links", "SELECT COUNT(*) FROM duty_links"),
        ("duties", "SELECT COUNT(*) FROM duties"),
        ("fraud warnings", "SELECT COUNT(*) FROM fraud_warnings"),
    ] {
        let n: i64 = sqlx::query_scalar(sql).fetch_one(db.reader()).await?;
        out.push(format!("{} {what}", thousands(n)));
    }
    Ok(out.join(", "))
}

fn thousands(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
