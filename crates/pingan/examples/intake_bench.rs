//! The two sides of the warning-intake load benchmark (`bench/warning_api.sh`), run as separate
//! processes so each can be pinned to its own core:
//!
//!   intake_bench serve <database-url> <data-dir>
//!       builds the district demo into an empty database (SQLite `sqlite://…` or `postgres://…`),
//!       then serves it on 127.0.0.1:<free port> like `pingan demo`, jobs included, and prints
//!       `serving http://…` once it listens;
//!   intake_bench load <base-url> <rate per s> <seconds> warnings|healthz
//!       an open-loop generator: request i is due at start + i/rate whatever happened to the
//!       ones before, and its latency counts from when it was due (no coordinated omission).
//!       `warnings` signs in as the demo's system administrator, makes an integration token and
//!       posts one new warning per request (each with its own upstream id, so every one is
//!       stored, matched, graded and routed); `healthz` GETs the cheapest route, the ceiling.
//!       Prints one line: sent, ok, errors, achieved rate, p50, p90, p99, max (ms).

use std::sync::Arc;
use std::time::{Duration, Instant};

use pingan::clock::Clock;
use serde_json::{json, Value};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("serve") if args.len() == 4 => serve(&args[2], &args[3]),
        Some("load") if args.len() == 6 => load(&args[2], args[3].parse()?, args[4].parse()?, &args[5]),
        _ => anyhow::bail!(
            "usage: intake_bench serve <database-url> <data-dir> | load <base-url> <rate> <seconds> warnings|healthz"
        ),
    }
}

fn serve(url: &str, data: &str) -> anyhow::Result<()> {
    // The runtime `pingan serve` starts: one worker per core it may use, which under the
    // script's pinning is one. (sqlx runs each SQLite connection on a thread of its own.)
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let data = std::path::PathBuf::from(data);
        std::fs::create_dir_all(&data)?;
        let key_path = data.join("pingan.key");
        if !key_path.exists() {
            pingan::pii::DataKey::write_new(&key_path)?;
        }
        let mut cfg = pingan::config::Config::default();
        cfg.paths.data_dir = data.clone();
        cfg.paths.key_file = key_path;
        cfg.database.url = url.to_string();
        cfg.server.secure_cookies = false;
        let (db, key) = pingan::cli::open(&cfg).await?;
        let key = Arc::new(key);
        let opts = pingan::demo::Options { scale: pingan::demo::Scale::District, grids_only: false };
        pingan::demo::build(&db, &key, Clock::System.now_ms(), pingan::demo::DEFAULT_PASSWORD, opts).await?;
        let state = pingan::app::AppState::with_key(db, key, Clock::System, cfg).await?;
        pingan::jobs::start(state.clone()).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("serving http://{}", listener.local_addr()?);
        pingan::app::serve(state, listener, pingan::app::shutdown_signal()).await
    })
}

/// A valid 18-digit ID number nobody in the demo has (born 1950–1999 in 410702, sequence 9xx).
fn id_number(i: u64) -> String {
    let birth = format!("{}{:02}{:02}", 1950 + i % 50, 1 + i / 50 % 12, 1 + i / 600 % 28);
    let seventeen = format!("410702{birth}{:03}", 900 + i / 16_800 % 100);
    let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = seventeen.chars().zip(weights).map(|(c, w)| c.to_digit(10).unwrap_or(0) * w).sum();
    format!("{seventeen}{}", "10X98765432".as_bytes()[(sum % 11) as usize] as char)
}

const KINDS: [&str; 8] =
    ["brushing", "fake_service", "investment", "loan", "impersonation", "romance", "game_trade", "other"];

fn warning(run: u128, i: u64) -> Value {
    let time = pingan::clock::iso_beijing(Clock::System.now_ms() - 60_000);
    json!({
        "source": "bench", "upstream_id": format!("{run}-{i}"), "time": time, "name": null,
        "id_number": id_number(i), "phone": null, "kind": KINDS[(i % 8) as usize],
        "contacts_count": 1 + i % 3, "longest_call_s": (i * 37) % 400, "app_installed": i.is_multiple_of(5),
        "app_name": null, "amount_yuan": if i.is_multiple_of(10) { json!("2000.00") } else { Value::Null },
        "flagged_account": null
    })
}

async fn token(client: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let login = json!({"username": "sysadmin", "password": pingan::demo::DEFAULT_PASSWORD, "totp": null});
    let v: Value = client.post(format!("{base}/api/v1/auth/login")).json(&login).send().await?.json().await?;
    let admin = v["token"].as_str().ok_or_else(|| anyhow::anyhow!("sign-in failed: {v}"))?;
    let expires = pingan::clock::iso_beijing(Clock::System.now_ms() + 86_400_000);
    let body = json!({"name": "bench", "permissions": ["warnings:write"], "expires_at": expires});
    let v: Value =
        client.post(format!("{base}/api/v1/tokens")).bearer_auth(admin).json(&body).send().await?.json().await?;
    Ok(v["token"].as_str().ok_or_else(|| anyhow::anyhow!("no token: {v}"))?.to_string())
}

fn load(base: &str, rate: u64, seconds: u64, what: &str) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let client = reqwest::Client::builder().pool_max_idle_per_host(256).timeout(Duration::from_secs(10)).build()?;
        let token = if what == "warnings" { Some(token(&client, base).await?) } else { None };
        let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();
        let total = rate * seconds;
        let interval = Duration::from_secs_f64(1.0 / rate as f64);
        let start = Instant::now() + Duration::from_millis(100);
        let mut tasks = Vec::with_capacity(total as usize);
        for i in 0..total {
            let due = start + interval.mul_f64(i as f64);
            tokio::time::sleep_until(due.into()).await;
            let req = match &token {
                Some(t) => client.post(format!("{base}/api/v1/warnings")).bearer_auth(t).json(&warning(run, i)),
                None => client.get(format!("{base}/healthz")),
            };
            tasks.push(tokio::spawn(async move {
                let ok = matches!(req.send().await, Ok(r) if r.status().is_success());
                (ok, due.elapsed())
            }));
        }
        let mut latencies = Vec::with_capacity(tasks.len());
        let mut errors = 0;
        for t in tasks {
            let (ok, latency) = t.await?;
            if !ok {
                errors += 1;
            }
            latencies.push(latency);
        }
        let elapsed = start.elapsed().as_secs_f64();
        if std::env::var_os("PER_SECOND").is_some() {
            // Where the slow requests fall in the run: the worst latency of each second, on stderr.
            for (second, chunk) in latencies.chunks(rate as usize).enumerate() {
                let worst = chunk.iter().max().map_or(0.0, |d| d.as_secs_f64() * 1000.0);
                eprintln!("{what}: second {second}: max {worst:.1} ms");
            }
        }
        latencies.sort();
        let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)].as_secs_f64() * 1000.0;
        println!(
            "{what}: sent {total}, ok {}, errors {errors}, {:.0}/s achieved, p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            total - errors,
            total as f64 / elapsed,
            at(0.50),
            at(0.90),
            at(0.99),
            at(1.0)
        );
        Ok(())
    })
}
