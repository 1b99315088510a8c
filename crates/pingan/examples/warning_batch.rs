//! The batch side of the anti-fraud benchmark (`bench/warning_batch.sh`): a city's nine months
//! of warnings loaded from one file as history, the way `pingan import warnings --history FILE`
//! loads it (the same function, in process, so the figure is the import and nothing else).
//!
//!   warning_batch build <small|district|city> <data-dir>
//!       builds the demo city into <data-dir>/base.db (SQLite) with its key, once;
//!   warning_batch file <data-dir> <count> <out.csv>
//!       writes <count> warnings about the demo's people over the nine months before today,
//!       deterministic: 55 % carry a resident's ID number (half with their phone too), 15 % only
//!       a resident's phone, 15 % an ID number from outside the city (unmatched: routed by
//!       region or to the city queue), 10 % another warning about someone warned in the hours
//!       before (merged into their case), 5 % a resend of an earlier row (a duplicate);
//!   warning_batch load <data-dir> <file>
//!       copies base.db to run.db and imports the file into it as history; prints the rows,
//!       the seconds and the warnings per second.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use pingan::clock::Clock;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    // The load's phases (parse, residents, matching, writer, index builds) as pingan logs them.
    let filter = tracing_subscriber::EnvFilter::try_from_env("PINGAN_LOG")
        .unwrap_or_else(|_| "warn,pingan=info,sqlx=error".into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    match (args.get(1).map(String::as_str), args.len()) {
        (Some("build"), 4) => rt.block_on(build(&args[2], Path::new(&args[3]))),
        (Some("file"), 5) => rt.block_on(file(Path::new(&args[2]), args[3].parse()?, Path::new(&args[4]))),
        (Some("load"), 4) => rt.block_on(load(Path::new(&args[2]), Path::new(&args[3]))),
        _ => anyhow::bail!(
            "usage: warning_batch build <small|district|city> <data-dir> | file <data-dir> <count> <out.csv> | \
             load <data-dir> <file>"
        ),
    }
}

fn config(data: &Path, db_file: &str) -> pingan::config::Config {
    let mut cfg = pingan::config::Config::default();
    cfg.paths.data_dir = data.to_path_buf();
    cfg.paths.key_file = data.join("pingan.key");
    cfg.database.url = format!("sqlite://{}", data.join(db_file).display());
    cfg
}

async fn build(scale: &str, data: &Path) -> anyhow::Result<()> {
    let scale = match scale {
        "small" => pingan::demo::Scale::Small,
        "district" => pingan::demo::Scale::District,
        "city" => pingan::demo::Scale::City,
        other => anyhow::bail!("unknown scale {other}"),
    };
    std::fs::create_dir_all(data)?;
    let key_path = data.join("pingan.key");
    if !key_path.exists() {
        pingan::pii::DataKey::write_new(&key_path)?;
    }
    let started = Instant::now();
    let (db, key) = pingan::cli::open(&config(data, "base.db")).await?;
    let opts = pingan::demo::Options { scale, grids_only: false };
    pingan::demo::build(&db, &Arc::new(key), Clock::System.now_ms(), pingan::demo::DEFAULT_PASSWORD, opts).await?;
    // One file, no WAL beside it, so `load` can copy it.
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(db.writer()).await?;
    println!("built the {} demo in {:.1} s", scale.name(), started.elapsed().as_secs_f64());
    Ok(())
}

/// A resident's identifiers, decrypted: what an upstream centre would know about them.
struct Person {
    name: String,
    id_number: Option<String>,
    phone: Option<String>,
}

async fn people(data: &Path) -> anyhow::Result<Vec<Person>> {
    let (db, key) = pingan::cli::open(&config(data, "base.db")).await?;
    // (name, ID number, first phone), encrypted.
    type Row = (String, Option<Vec<u8>>, Option<Vec<u8>>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT r.name, r.id_enc, (SELECT p.phone_enc FROM resident_phones p WHERE p.resident_id = r.id \
         ORDER BY p.ord LIMIT 1) FROM residents r ORDER BY r.id",
    )
    .fetch_all(db.reader())
    .await?;
    let plain = |blob: Option<Vec<u8>>| blob.and_then(|b| key.decrypt_str(&b).ok());
    Ok(rows.into_iter().map(|(name, id, phone)| Person { name, id_number: plain(id), phone: plain(phone) }).collect())
}

/// Knuth's MMIX LCG: the same file for the same count, on every machine.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    /// Uniform enough below `n`: 62 bits drawn, so that spans wider than 2^31 (nine months in
    /// milliseconds) are covered too.
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() << 31) | self.next()) % n.max(1)
    }
}

/// A valid ID number from a county outside Henan: no demo resident holds it.
fn outsider(rng: &mut Lcg) -> String {
    const REGIONS: [&str; 6] = ["440305", "330106", "320583", "510107", "350203", "110105"];
    let birth = format!("{}{:02}{:02}", 1945 + rng.below(60), 1 + rng.below(12), 1 + rng.below(28));
    let seventeen = format!("{}{birth}{:03}", REGIONS[rng.below(6) as usize], rng.below(1000));
    let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = seventeen.chars().zip(weights).map(|(c, w)| c.to_digit(10).unwrap_or(0) * w).sum();
    format!("{seventeen}{}", "10X98765432".as_bytes()[(sum % 11) as usize] as char)
}

const KINDS: [&str; 8] =
    ["brushing", "fake_service", "investment", "loan", "impersonation", "romance", "game_trade", "other"];
const NINE_MONTHS_MS: u64 = 273 * 86_400_000;

async fn file(data: &Path, count: u64, out: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let people = people(data).await?;
    anyhow::ensure!(!people.is_empty(), "the demo in {} has no residents", data.display());
    let mut rng = Lcg(count ^ 0x5741_524e);
    let end = Clock::System.now_ms() as u64 - 86_400_000;
    let start = end - NINE_MONTHS_MS;
    // (time, row without time): written sorted by time, as upstream exports are.
    let mut rows: Vec<(u64, String)> = Vec::with_capacity(count as usize);
    // (time, identifiers) of recent warnings, for repeats about the same person.
    let mut recent: Vec<(u64, String, String, String)> = Vec::new();
    let mut resends: Vec<usize> = Vec::new();
    let mut originals: Vec<usize> = Vec::new();
    while (rows.len() as u64) < count {
        let roll = rng.below(100);
        if roll >= 95 && !originals.is_empty() {
            // A resend of an earlier warning: written later in the file.
            resends.push(originals[rng.below(originals.len() as u64) as usize]);
            rows.push((u64::MAX, String::new()));
            continue;
        }
        let (mut t, name, id, phone) = if roll >= 85 && !recent.is_empty() {
            let (t0, name, id, phone) = recent[rng.below(recent.len() as u64) as usize].clone();
            (t0 + rng.below(48 * 3_600_000), name, id, phone)
        } else {
            let t = start + rng.below(NINE_MONTHS_MS);
            let p = &people[rng.below(people.len() as u64) as usize];
            let (id, phone) = match roll {
                0..=27 => (p.id_number.clone(), None),
                28..=54 => (p.id_number.clone(), p.phone.clone()),
                55..=69 => (None, p.phone.clone()),
                _ => (Some(outsider(&mut rng)), None),
            };
            let name = if roll < 70 { p.name.clone() } else { String::new() };
            (t, name, id.unwrap_or_default(), phone.unwrap_or_default())
        };
        if id.is_empty() && phone.is_empty() {
            continue;
        }
        t = t.min(end);
        if recent.len() < 4096 {
            recent.push((t, name.clone(), id.clone(), phone.clone()));
        } else {
            let slot = rng.below(4096) as usize;
            recent[slot] = (t, name.clone(), id.clone(), phone.clone());
        }
        let amount = if rng.below(10) == 0 {
            format!("{}.{:02}", 100 + rng.below(50_000), rng.below(100))
        } else {
            String::new()
        };
        let row = format!(
            "{name},{id},{phone},{},{},{},{},{amount}",
            KINDS[rng.below(8) as usize],
            1 + rng.below(4),
            rng.below(900),
            if rng.below(4) == 0 { "是" } else { "否" },
        );
        originals.push(rows.len());
        rows.push((t, row));
    }
    // Upstream numbers its warnings as it raises them: ids follow time.
    let mut order: Vec<usize> = (0..rows.len()).filter(|i| rows[*i].0 != u64::MAX).collect();
    order.sort_by_key(|i| rows[*i].0);
    let mut lines: Vec<String> = Vec::with_capacity(rows.len());
    let mut line_of = vec![0usize; rows.len()];
    for (seq, i) in order.into_iter().enumerate() {
        let (t, row) = &rows[i];
        line_of[i] = lines.len();
        lines.push(format!("fzzx,F{seq:08},{row},{}", pingan::clock::iso_beijing(*t as i64)));
    }
    // Each resend follows its first sending by up to a few thousand lines.
    let mut after: Vec<Vec<usize>> = vec![Vec::new(); lines.len()];
    for first in resends {
        let first = line_of[first];
        after[(first + rng.below(5_000) as usize).min(lines.len() - 1)].push(first);
    }
    let mut w = std::io::BufWriter::new(std::fs::File::create(out)?);
    writeln!(
        w,
        "source,upstream_id,name,id_number,phone,kind,contacts_count,longest_call_s,app_installed,amount_yuan,time"
    )?;
    for (line, resent) in lines.iter().zip(&after) {
        writeln!(w, "{line}")?;
        for r in resent {
            writeln!(w, "{}", lines[*r])?;
        }
    }
    w.flush()?;
    println!("wrote {count} warnings to {} in {:.1} s", out.display(), started.elapsed().as_secs_f64());
    Ok(())
}

async fn load(data: &Path, file: &Path) -> anyhow::Result<()> {
    let run: PathBuf = data.join("run.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", run.display()));
    }
    std::fs::copy(data.join("base.db"), &run)?;
    let cfg = config(data, "run.db");
    let (db, key) = pingan::cli::open(&cfg).await?;
    let state = pingan::app::AppState::with_key(db, Arc::new(key), Clock::System, cfg).await?;
    let before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM fraud_warnings").fetch_one(state.db.reader()).await?;
    let started = Instant::now();
    let opts = pingan::antifraud::import::Options { history: true, skip_invalid: false };
    pingan::antifraud::import_cli::run(&state, file, opts, None).await?;
    let secs = started.elapsed().as_secs_f64();
    let after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM fraud_warnings").fetch_one(state.db.reader()).await?;
    let stored = after - before;
    println!("stored {stored} warnings in {secs:.1} s: {:.0} warnings/s (file read included)", stored as f64 / secs);
    Ok(())
}
