//! The `pingan` command line.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::app::{self, AppState};
use crate::audit::{self, Entry};
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::pii::DataKey;

#[derive(Parser)]
#[command(name = "pingan", version, about = "平安 pingan: platform for a city public-security bureau", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (needs the data key; refuses a demo database).
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to listen on, e.g. 0.0.0.0:8080.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Create or reuse a demo data directory with a demo organisation and accounts, and serve it.
    Demo(DemoArgs),
    /// Apply database migrations and exit.
    Migrate(Common),
    /// Data key management.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Account management from the server's shell.
    #[command(subcommand)]
    User(UserCommand),
    /// Organisation management.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Grid boundaries.
    #[command(subcommand)]
    Grids(GridsCommand),
    /// Bulk import of base data from CSV (UTF-8 or GBK) or XLSX, or write a blank template.
    Import(ImportArgs),
    /// Audit log tools.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Encrypted, consistent copy of the SQLite database (safe while the server runs).
    Backup(BackupArgs),
    /// Check the configuration, key and database, and exit.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// Options every command that opens the database takes.
#[derive(Args, Clone, Default)]
struct Common {
    /// TOML configuration file (default: ./pingan.toml if present).
    #[arg(long, env = "PINGAN_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (SQLite database, lock file; the key by default).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Database URL: sqlite://path or postgres://user@host/db.
    #[arg(long)]
    database_url: Option<String>,
    /// Data key file (made by `pingan key generate`).
    #[arg(long)]
    key: Option<PathBuf>,
}

#[derive(Args)]
struct DemoArgs {
    /// Demo data directory.
    #[arg(long, default_value = "pingan-demo")]
    data: PathBuf,
    /// Address to listen on; 0.0.0.0:8080 to let other machines in.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// Password for every demo account.
    #[arg(long)]
    password: Option<String>,
    /// How big a city to build in a new data directory (one already built is reused as it is).
    #[arg(long, value_enum, default_value = "district")]
    scale: crate::demo::Scale,
    /// Only the organisation and grid shapes, no people: for map tests.
    #[arg(long)]
    grids_only: bool,
    /// No new fraud warning every 30 to 90 s while the demo serves.
    #[arg(long)]
    no_trickle: bool,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Write a new random data key to a file (refuses to overwrite).
    Generate {
        /// The key file to write (mode 0600); keep it away from the database and its backups.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account; the password is read from standard input (one line).
    Add {
        #[command(flatten)]
        common: Common,
        /// Sign-in name: 3 to 32 letters, digits, `.`, `_` or `-`.
        #[arg(long)]
        username: String,
        /// The person's name (姓名).
        #[arg(long)]
        name: String,
        /// Code of the unit the account belongs to.
        #[arg(long)]
        node: String,
        /// Police number (警号), for sworn officers and auxiliaries.
        #[arg(long)]
        police_number: Option<String>,
        /// Mobile or landline number; stored encrypted.
        #[arg(long)]
        phone: Option<String>,
        /// Role code (repeatable), e.g. system_admin.
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// Set a password, read from standard input (one line); ends the account's sessions.
    Passwd {
        #[command(flatten)]
        common: Common,
        /// The account's sign-in name.
        #[arg(long)]
        username: String,
    },
    /// Disable an account; its sessions end at their next request.
    Disable {
        #[command(flatten)]
        common: Common,
        /// The account's sign-in name.
        #[arg(long)]
        username: String,
    },
    /// Lift a sign-in lockout.
    Unlock {
        #[command(flatten)]
        common: Common,
        /// The account's sign-in name.
        #[arg(long)]
        username: String,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Import units from CSV (code,kind,name,parent_code,valid_from); all rows or none.
    Import {
        #[command(flatten)]
        common: Common,
        /// The CSV file (UTF-8, with or without BOM).
        file: PathBuf,
    },
}

#[derive(Args)]
#[command(after_help = "Examples:\n  pingan import --template residents --out residents.csv\n  \
pingan import residents people.xlsx --skip-invalid --rejects rejected.csv\n  \
pingan import --template warnings --format xlsx\n  \
pingan import warnings warnings-2026-12.csv --history")]
struct ImportArgs {
    #[command(flatten)]
    common: Common,
    /// Write the blank template for this kind (residents or warnings) and exit.
    #[arg(long, value_name = "KIND")]
    template: Option<String>,
    /// The template's format: csv (UTF-8 with BOM) or xlsx.
    #[arg(long, default_value = "csv")]
    format: String,
    /// Where to write the template (default: <kind>-template.<format>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// What the file holds: residents, or warnings (anti-fraud warnings, as from upstream).
    kind: Option<String>,
    /// The CSV or XLSX file.
    file: Option<PathBuf>,
    /// Import the good rows even if some are bad (default: nothing is written if any row is bad).
    #[arg(long)]
    skip_invalid: bool,
    /// With --skip-invalid: write the rejected rows' line, field and reason to this CSV file.
    #[arg(long)]
    rejects: Option<PathBuf>,
    /// Warnings only: load as history (stored, matched, graded and merged, but no deadlines,
    /// escalations or notifications).
    #[arg(long)]
    history: bool,
}

#[derive(Subcommand)]
enum GridsCommand {
    /// Import grid boundaries from a GeoJSON FeatureCollection (properties: code, name,
    /// station); every bad feature is reported and nothing is written unless all are good.
    Import {
        #[command(flatten)]
        common: Common,
        /// The coordinates' datum, unless the file declares it: wgs84, gcj02 or cgcs2000.
        #[arg(long)]
        datum: Option<String>,
        /// The GeoJSON file.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the HMAC chain and name the first broken link.
    Verify(Common),
}

#[derive(Args)]
struct BackupArgs {
    #[command(flatten)]
    common: Common,
    /// Where to write the encrypted backup.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Restore: decrypt this backup into --to instead.
    #[arg(long, requires = "to")]
    restore: Option<PathBuf>,
    /// With --restore: the database file to write (must not exist yet).
    #[arg(long)]
    to: Option<PathBuf>,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Load the configuration, key and database; report problems.
    Check(Common),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PINGAN_LOG").unwrap_or_else(|_| "info,sqlx=warn".into());
    let _ = tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

fn load_config(common: &Common) -> anyhow::Result<Config> {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let file =
        common.config.clone().or_else(|| Path::new("pingan.toml").exists().then(|| PathBuf::from("pingan.toml")));
    let (mut cfg, warnings) = Config::load(file.as_deref(), &env)?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    if let Some(d) = &common.data {
        cfg.paths.data_dir = d.clone();
    }
    if let Some(u) = &common.database_url {
        cfg.database.url = u.clone();
    }
    if let Some(k) = &common.key {
        cfg.paths.key_file = k.clone();
    }
    Ok(cfg)
}

/// Loads the key, opens and migrates the database, seeds built-in roles.
pub async fn open(cfg: &Config) -> anyhow::Result<(Db, DataKey)> {
    let key = DataKey::load(&cfg.key_path())
        .map_err(|e| anyhow::anyhow!("{e}; make one with `pingan key generate --out FILE`"))?;
    if cfg.database.url.is_empty() {
        std::fs::create_dir_all(&cfg.paths.data_dir)?;
    }
    let db = Db::connect(&cfg.database_url()).await?;
    crate::db::migrate(&db, Clock::System.now_ms()).await?;
    crate::meta::check_key(&db, &key).await?;
    crate::accounts::roles::seed(&db).await?;
    Ok((db, key))
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve { common, listen } => {
            let mut cfg = load_config(&common)?;
            if let Some(l) = listen {
                cfg.server.listen = l;
            }
            let (db, key) = open(&cfg).await?;
            if crate::meta::is_demo(&db).await? {
                anyhow::bail!("this database is a demo (made by `pingan demo`); serve refuses it");
            }
            let _lock = lock_data_dir(&cfg, &db)?;
            let state = AppState::new(db, key, Clock::System, cfg.clone()).await?;
            crate::jobs::start(state.clone()).await?;
            serve(state, cfg.server.listen).await
        }
        Command::Demo(args) => {
            let opts = crate::demo::Options { scale: args.scale, grids_only: args.grids_only };
            crate::demo::run(args.data, args.listen, args.password, opts, !args.no_trickle).await
        }
        Command::Migrate(common) => {
            let cfg = load_config(&common)?;
            let (_, _) = open(&cfg).await?;
            println!("schema is at version {}", crate::db::LATEST_VERSION);
            Ok(())
        }
        Command::Key(KeyCommand::Generate { out }) => {
            let key = DataKey::write_new(&out)?;
            println!(
                "wrote a new data key to {} (fingerprint {}); keep it outside the database and back it up separately",
                out.display(),
                key.fingerprint()
            );
            Ok(())
        }
        Command::User(cmd) => user(cmd).await,
        Command::Org(OrgCommand::Import { common, file }) => {
            let cfg = load_config(&common)?;
            let (db, key) = open(&cfg).await?;
            let bytes = std::fs::read(&file)?;
            let now = Clock::System.now_ms();
            let mut tx = db.begin().await?;
            let report = crate::org::import::apply(&mut tx, None, None, &bytes, now)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if !report.errors.is_empty() {
                tx.rollback().await?;
                for e in &report.errors {
                    eprintln!("line {}: {}: {}", e.line, e.field, e.reason);
                }
                anyhow::bail!("{} row(s) rejected; nothing was imported", report.errors.len());
            }
            let entry = Entry::cli("org.import").records(report.touched.iter().map(|id| format!("node:{id}")));
            audit::append(&mut tx, &db, &key, now, &entry).await?;
            tx.commit().await?;
            println!("created {}, updated {}, unchanged {}", report.created, report.updated, report.unchanged);
            Ok(())
        }
        Command::Grids(GridsCommand::Import { common, datum, file }) => {
            let cfg = load_config(&common)?;
            let (db, key) = open(&cfg).await?;
            let datum = datum
                .map(|d| d.parse::<pingan_geo::Datum>())
                .transpose()
                .map_err(|e| anyhow::anyhow!("--datum: {e}"))?;
            let text = std::fs::read_to_string(&file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let state = AppState::new(db, key, Clock::System, cfg).await?;
            let operator = crate::auth::Caller::operator(&state).await?;
            let meta = crate::web::middleware::RequestMeta::cli();
            let report = crate::grids::import::import(&state, &meta, &operator, &text, datum)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            for e in &report.errors {
                let at = e.feature.map(|i| format!("feature {i}")).unwrap_or_else(|| "file".into());
                eprintln!("{at} {}: {}: {}", e.code.clone().unwrap_or_default(), e.field, e.reason);
            }
            if !report.errors.is_empty() {
                anyhow::bail!("{} problem(s); nothing was imported", report.errors.len());
            }
            for g in &report.gaps {
                eprintln!("note: station {} has a gap of {:.0} m² between its grids", g.station, g.area_m2);
            }
            println!("created {}, reshaped {}, unchanged {}", report.created, report.reshaped, report.unchanged);
            Ok(())
        }
        Command::Import(a) => {
            let history = a.history;
            let args = crate::basedata::import_cli::Args {
                template: a.template,
                format: a.format,
                out: a.out,
                kind: a.kind,
                file: a.file,
                skip_invalid: a.skip_invalid,
                rejects: a.rejects,
            };
            if let Some(name) = args.template.as_deref() {
                let template = import_template(name)
                    .ok_or_else(|| anyhow::anyhow!("--template: no template {name:?}; try residents or warnings"))?;
                return crate::basedata::import_cli::write_template(&args, template);
            }
            let warnings = args.kind.as_deref() == Some("warnings");
            if history && !warnings {
                anyhow::bail!("--history is for warnings only: pingan import warnings FILE --history");
            }
            if args.rejects.is_some() && !args.skip_invalid {
                anyhow::bail!("--rejects needs --skip-invalid (without it nothing is written if any row is bad)");
            }
            let cfg = load_config(&a.common)?;
            let (db, key) = open(&cfg).await?;
            let state = AppState::new(db, key, Clock::System, cfg).await?;
            if warnings {
                let file = args
                    .file
                    .as_deref()
                    .ok_or_else(|| anyhow::anyhow!("give the file: pingan import warnings FILE"))?;
                let opts = crate::antifraud::import::Options { history, skip_invalid: args.skip_invalid };
                return crate::antifraud::import_cli::run(&state, file, opts, args.rejects.as_deref()).await;
            }
            crate::basedata::import_cli::run(&state, &args).await
        }
        Command::Audit(AuditCommand::Verify(common)) => {
            let cfg = load_config(&common)?;
            let (db, key) = open(&cfg).await?;
            match audit::verify(&db, &key).await? {
                Ok(n) => {
                    println!("audit chain intact: {n} entries verified");
                    Ok(())
                }
                Err(broken) => anyhow::bail!("audit chain broken: {broken}"),
            }
        }
        Command::Backup(args) => {
            let cfg = load_config(&args.common)?;
            if let (Some(from), Some(to)) = (&args.restore, &args.to) {
                let key = DataKey::load(&cfg.key_path())?;
                crate::backup::restore(&key, from, to)?;
                println!("restored {} into {}", from.display(), to.display());
                return Ok(());
            }
            let out = args.out.ok_or_else(|| anyhow::anyhow!("give --out FILE (or --restore FILE --to DB)"))?;
            let (db, key) = open(&cfg).await?;
            let bytes = crate::backup::create(&db, &key, &out).await?;
            println!("wrote an encrypted backup of {bytes} bytes of database to {}", out.display());
            Ok(())
        }
        Command::Config(ConfigCommand::Check(common)) => {
            let cfg = load_config(&common)?;
            println!("configuration: {cfg:?}");
            config_check(&cfg).await?;
            println!("ok");
            Ok(())
        }
    }
}

/// Loads the key and looks at the database without changing anything in it: no migration, no
/// file created, no fingerprint recorded.
async fn config_check(cfg: &Config) -> anyhow::Result<()> {
    let key = DataKey::load(&cfg.key_path())
        .map_err(|e| anyhow::anyhow!("{e}; make one with `pingan key generate --out FILE`"))?;
    println!("data key: {} (fingerprint {})", cfg.key_path().display(), key.fingerprint());
    let sqlite_file = cfg.database.url.is_empty().then(|| cfg.paths.data_dir.join("pingan.db"));
    if let Some(file) = sqlite_file.as_ref().filter(|f| !f.exists()) {
        println!("database: none yet at {}; `pingan serve` or `pingan migrate` creates it", file.display());
        return Ok(());
    }
    let db = Db::connect(&cfg.database_url()).await?;
    let schema = crate::db::schema_state(&db).await?;
    println!("database: {:?}, schema {schema:?} (this binary knows {})", db.backend, crate::db::LATEST_VERSION);
    if let crate::db::SchemaState::Newer { have } = schema {
        anyhow::bail!("the database schema is version {have}, newer than this binary; run a newer pingan");
    }
    if schema != (crate::db::SchemaState::Behind { have: 0 }) {
        match crate::meta::get(&db, "key_fingerprint").await? {
            Some(f) if f != key.fingerprint() => {
                anyhow::bail!(
                    "this database was created with another data key; start with the key file it was made with"
                )
            }
            _ => println!("data key matches the database"),
        }
    }
    db.close().await;
    Ok(())
}

/// One `serve` per SQLite data directory: a second would be a second writer.
fn lock_data_dir(cfg: &Config, db: &Db) -> anyhow::Result<Option<std::fs::File>> {
    if db.backend != crate::db::Backend::Sqlite || !cfg.database.url.is_empty() {
        return Ok(None);
    }
    let path = cfg.paths.data_dir.join("pingan.lock");
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
    file.try_lock().map_err(|_| {
        anyhow::anyhow!(
            "another pingan is serving {}; SQLite mode is one process (use PostgreSQL for several servers)",
            cfg.paths.data_dir.display()
        )
    })?;
    Ok(Some(file))
}

pub async fn serve(state: AppState, listen: std::net::SocketAddr) -> anyhow::Result<()> {
    let listener =
        tokio::net::TcpListener::bind(listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let bound = listener.local_addr()?;
    tracing::info!(address = %bound, "pingan serving");
    app::serve(state, listener, app::shutdown_signal()).await
}

fn read_password_from_stdin() -> anyhow::Result<String> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s)?;
    let p = s.lines().next().unwrap_or("").to_string();
    if p.is_empty() {
        anyhow::bail!("give the password on standard input, e.g. `read -rs P; echo \"$P\" | pingan user …`");
    }
    Ok(p)
}

async fn user(cmd: UserCommand) -> anyhow::Result<()> {
    let now = Clock::System.now_ms();
    match cmd {
        UserCommand::Add { common, username, name, node, police_number, phone, roles } => {
            let cfg = load_config(&common)?;
            let (db, key) = open(&cfg).await?;
            let node_id: i64 = sqlx::query_scalar("SELECT id FROM org_nodes WHERE code = $1")
                .bind(&node)
                .fetch_optional(db.reader())
                .await?
                .ok_or_else(|| anyhow::anyhow!("no unit has the code {node}"))?;
            let password = read_password_from_stdin()?;
            let input = crate::accounts::service::NewAccount {
                username: username.clone(),
                name,
                police_number,
                phone,
                node_id,
                password: Some(password),
                roles,
            };
            let mut tx = db.begin().await?;
            let (id, _) = crate::accounts::service::create_in(&mut tx, &key, &input, false, now)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            audit::append(&mut tx, &db, &key, now, &Entry::cli("account.create").record(format!("account:{id}")))
                .await?;
            tx.commit().await?;
            println!("created account {username} (id {id})");
            Ok(())
        }
        UserCommand::Passwd { common, username } => {
            let cfg = load_config(&common)?;
            let (db, key) = open(&cfg).await?;
            let (id, name, pn) = account_by_username(&db, &username).await?;
            let password = read_password_from_stdin()?;
            let personal =
                crate::auth::password::Personal { username: &username, name: &name, police_number: pn.as_deref() };
            crate::auth::password::check_policy(&password, &personal)
                .map_err(|p| anyhow::anyhow!("password: {}", p.reason_en()))?;
            let mut tx = db.begin().await?;
            sqlx::query(
                "UPDATE accounts SET password_hash = $1, must_change_password = 0, locked_until = NULL WHERE id = $2",
            )
            .bind(crate::auth::password::hash(&password))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            crate::auth::session::bump_epoch(&mut tx, id, now).await?;
            audit::append(&mut tx, &db, &key, now, &Entry::cli("account.set_password").record(format!("account:{id}")))
                .await?;
            tx.commit().await?;
            println!("password set for {username}; its sessions have ended");
            Ok(())
        }
        UserCommand::Disable { common, username } => {
            let cfg = load_config(&common)?;
            let (db, key) = open(&cfg).await?;
            let (id, _, _) = account_by_username(&db, &username).await?;
            let mut tx = db.begin().await?;
            sqlx::query("UPDATE accounts SET disabled = 1 WHERE id = $1").bind(id).execute(&mut *tx).await?;
            crate::auth::session::bump_epoch(&mut tx, id, now).await?;
            audit::append(&mut tx, &db, &key, now, &Entry::cli("account.set_disabled").record(format!("account:{id}")))
                .await?;
            tx.commit().await?;
            println!("disabled {username}");
            Ok(())
        }
        UserCommand::Unlock { common, username } => {
            let cfg = load_config(&common)?;
            let (db, key) = open(&cfg).await?;
            let (id, _, _) = account_by_username(&db, &username).await?;
            let mut tx = db.begin().await?;
            sqlx::query("UPDATE accounts SET locked_until = NULL WHERE id = $1").bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM auth_failures WHERE account_id = $1").bind(id).execute(&mut *tx).await?;
            audit::append(&mut tx, &db, &key, now, &Entry::cli("account.unlock").record(format!("account:{id}")))
                .await?;
            tx.commit().await?;
            println!("unlocked {username}");
            Ok(())
        }
    }
}

async fn account_by_username(db: &Db, username: &str) -> anyhow::Result<(i64, String, Option<String>)> {
    sqlx::query_as("SELECT id, name, police_number FROM accounts WHERE username = $1")
        .bind(username)
        .fetch_optional(db.reader())
        .await?
        .ok_or_else(|| anyhow::anyhow!("no account {username}"))
}

/// Every template `pingan import --template` can write; the command line is the one place that
/// knows all capabilities' templates.
fn import_template(name: &str) -> Option<&'static crate::tabular::Template> {
    match name {
        "warnings" => Some(&crate::antifraud::import_template::WARNINGS),
        other => crate::basedata::import_template::by_name(other),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Walks every subcommand and names each argument that `--help` would show bare.
    fn undocumented(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if id != "help" && id != "version" && arg.get_help().is_none() {
                out.push(format!("{path} {id}"));
            }
        }
        for sub in cmd.get_subcommands() {
            if sub.get_about().is_none() {
                out.push(format!("{path} {} (no description)", sub.get_name()));
            }
            undocumented(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn every_subcommand_and_argument_has_help_text() {
        let mut missing = Vec::new();
        undocumented(&Cli::command(), "pingan", &mut missing);
        assert!(missing.is_empty(), "without help text: {missing:?}");
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
