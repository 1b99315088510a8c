//! `spawn_app()`: the real server on an ephemeral port over a fresh database: an SQLite file,
//! or a clone of a migrated, seeded PostgreSQL template when PINGAN_TEST_DATABASE_URL is set.
//! The clock is manual; nothing sleeps.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};

use pingan::app::{self, AppState};
use pingan::clock::Clock;
use pingan::config::Config;
use pingan::db::Db;
use pingan::pii::DataKey;
use serde_json::Value;
use tokio::sync::OnceCell;

pub const PASSWORD: &str = pingan::demo::DEFAULT_PASSWORD;
const TEST_KEY: &str = "pingan-data-key-v1 dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktdGVzdC0=\n";

/// 17 digits and their GB 11643 check digit.
pub fn id_number(seventeen: &str) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let sum: u32 = seventeen.bytes().zip(W).map(|(b, w)| (b - b'0') as u32 * w).sum();
    format!("{seventeen}{}", C[(sum % 11) as usize])
}

pub fn key() -> DataKey {
    DataKey::from_file_text(TEST_KEY).expect("test key parses")
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub state: AppState,
    pub clock: Clock,
    pub url: String,
    pub client: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
    }
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

fn pg_base() -> Option<String> {
    std::env::var("PINGAN_TEST_DATABASE_URL").ok().filter(|s| !s.is_empty())
}

/// PINGAN_TEST_DATABASE_URL names a database to connect to for administration
/// (e.g. `postgres://postgres@127.0.0.1:5432/postgres`); test databases replace its last segment.
fn with_db(base: &str, db: &str) -> String {
    let (prefix, _) = base.rsplit_once('/').expect("PINGAN_TEST_DATABASE_URL must end in /DATABASE");
    format!("{prefix}/{db}")
}

/// The seeded template: a PostgreSQL database name, or an SQLite file path. Built once per
/// test process, so each test starts from a copy instead of hashing every demo password again.
async fn template(now: i64) -> String {
    TEMPLATE
        .get_or_init(|| async move {
            let pid = std::process::id();
            if let Some(base) = pg_base() {
                let name = format!("pingan_tpl_{pid}");
                let admin = Db::connect(&base).await.expect("PostgreSQL reachable at PINGAN_TEST_DATABASE_URL");
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(admin.writer()).await.unwrap();
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(admin.writer()).await.unwrap();
                admin.close().await;
                let db = Db::connect(&with_db(&base, &name)).await.unwrap();
                prepare(&db, now).await;
                db.close().await;
                name
            } else {
                let dir = std::env::temp_dir().join(format!("pingan-test-template-{pid}"));
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(&dir).unwrap();
                let path = dir.join("template.db");
                let db = Db::connect(&format!("sqlite://{}", path.display())).await.unwrap();
                prepare(&db, now).await;
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(db.writer()).await.unwrap();
                db.close().await;
                path.display().to_string()
            }
        })
        .await
        .clone()
}

async fn prepare(db: &Db, now: i64) {
    pingan::db::migrate(db, now).await.unwrap();
    pingan::meta::check_key(db, &key()).await.unwrap();
    pingan::demo::seed(db, &key(), now, PASSWORD).await.unwrap();
    // Tests exercise the production default: the demo flag off, second factor per policy.
    sqlx::query("DELETE FROM meta WHERE key = 'demo'").execute(db.writer()).await.unwrap();
}

/// A fresh database cloned from the template; returns its URL and the temp dir holding it.
async fn fresh_database(now: i64) -> (String, Option<tempfile::TempDir>) {
    let tpl = template(now).await;
    if let Some(base) = pg_base() {
        let name = format!("pingan_t_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
        let admin = Db::connect(&base).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name} TEMPLATE {tpl}")).execute(admin.writer()).await.unwrap();
        admin.close().await;
        (with_db(&base, &name), None)
    } else {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pingan.db");
        std::fs::copy(&tpl, &path).unwrap();
        (format!("sqlite://{}", path.display()), Some(dir))
    }
}

pub async fn spawn_app() -> TestApp {
    let clock = Clock::manual(chrono::Utc::now().timestamp_millis());
    let (url, dir) = fresh_database(clock.now_ms()).await;
    spawn_on(&url, clock, dir).await
}

/// As [`spawn_app`], with deployment settings changed first (e.g. the map's tile server).
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let clock = Clock::manual(chrono::Utc::now().timestamp_millis());
    let (url, dir) = fresh_database(clock.now_ms()).await;
    spawn_configured(&url, clock, dir, configure).await
}

pub async fn spawn_on(url: &str, clock: Clock, dir: Option<tempfile::TempDir>) -> TestApp {
    spawn_configured(url, clock, dir, |_| {}).await
}

async fn spawn_configured(
    url: &str,
    clock: Clock,
    dir: Option<tempfile::TempDir>,
    configure: impl FnOnce(&mut Config),
) -> TestApp {
    let db = Db::connect(url).await.unwrap();
    let mut config = Config::default();
    config.server.secure_cookies = false;
    config.database.url = url.to_string();
    configure(&mut config);
    let state = AppState::new(db, key(), clock.clone(), config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let s = state.clone();
    let served = tokio::spawn(async move {
        app::serve(s, listener, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    TestApp {
        addr,
        state,
        clock,
        url: url.to_string(),
        client: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        _dir: dir,
        shutdown: Some(tx),
        served: Some(served),
    }
}

impl TestApp {
    /// Signals shutdown as SIGTERM does and waits (at most 10 s) for the server to finish.
    /// False if it was still running then.
    pub async fn shut_down(&mut self) -> bool {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        match self.served.take() {
            Some(h) => tokio::time::timeout(std::time::Duration::from_secs(10), h).await.is_ok(),
            None => true,
        }
    }

    /// A second server on the same database and clock, as in a multi-server deployment.
    pub async fn second_server(&self) -> TestApp {
        spawn_on(&self.url, self.clock.clone(), None).await
    }

    pub fn at(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = self.client.post(self.at(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        read(req.send().await.unwrap()).await
    }

    /// A body of any content type (an import's CSV or XLSX), answered as JSON.
    pub async fn post_bytes(&self, path: &str, token: &str, ctype: &str, body: Vec<u8>) -> (u16, Value) {
        let req = self.client.post(self.at(path)).bearer_auth(token).header("content-type", ctype).body(body);
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.client.get(self.at(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        read(req.send().await.unwrap()).await
    }

    pub async fn login_with(&self, username: &str, password: &str, totp: Option<&str>) -> (u16, Value) {
        self.post(
            "/api/v1/auth/login",
            None,
            serde_json::json!({"username": username, "password": password, "totp": totp}),
        )
        .await
    }

    /// Signs in a demo account (second factor lifted for its role first) and returns its token.
    pub async fn login(&self, username: &str) -> String {
        self.exempt_all_roles_from_mfa().await;
        let (status, body) = self.login_with(username, PASSWORD, None).await;
        assert_eq!(status, 200, "login {username}: {body}");
        body["token"].as_str().unwrap().to_string()
    }

    pub async fn exempt_all_roles_from_mfa(&self) {
        let roles: Vec<String> =
            sqlx::query_scalar("SELECT code FROM roles ORDER BY code").fetch_all(self.state.db.reader()).await.unwrap();
        let policy = pingan::settings::SecurityPolicy { mfa_exempt_roles: roles, ..Default::default() };
        let current: pingan::settings::SecurityPolicy =
            pingan::settings::get(&self.state.db, pingan::settings::SECURITY_POLICY).await.unwrap();
        if current != policy {
            let mut tx = self.state.db.begin().await.unwrap();
            pingan::settings::set(&mut tx, pingan::settings::SECURITY_POLICY, &policy, None, self.clock.now_ms())
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    }

    pub async fn require_mfa_for_all(&self) {
        let mut tx = self.state.db.begin().await.unwrap();
        pingan::settings::set(
            &mut tx,
            pingan::settings::SECURITY_POLICY,
            &pingan::settings::SecurityPolicy::default(),
            None,
            self.clock.now_ms(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }

    pub async fn account_id(&self, username: &str) -> i64 {
        sqlx::query_scalar("SELECT id FROM accounts WHERE username = $1")
            .bind(username)
            .fetch_one(self.state.db.reader())
            .await
            .unwrap()
    }

    pub async fn node_id(&self, code: &str) -> i64 {
        sqlx::query_scalar("SELECT id FROM org_nodes WHERE code = $1")
            .bind(code)
            .fetch_one(self.state.db.reader())
            .await
            .unwrap()
    }

    /// (action, outcome, records) of every audit entry after `after_seq`.
    pub async fn audit_since(&self, after_seq: i64) -> Vec<(String, String, String, String)> {
        sqlx::query_as("SELECT action, outcome, records, detail FROM audit_log WHERE seq > $1 ORDER BY seq")
            .bind(after_seq)
            .fetch_all(self.state.db.reader())
            .await
            .unwrap()
    }

    pub async fn audit_head(&self) -> i64 {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT MAX(seq) FROM audit_log").fetch_one(self.state.db.reader()).await.unwrap();
        v.unwrap_or(0)
    }
}

async fn read(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// The value of the first hidden `csrf` input in a page.
pub fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("page has a CSRF field") + "name=\"csrf\" value=\"".len();
    html[at..].split('"').next().unwrap().to_string()
}

impl TestApp {
    /// A browser-like client (own cookie jar) signed in through the sign-in page.
    pub async fn web_login(&self, username: &str, password: &str) -> (reqwest::Client, reqwest::Response) {
        let client =
            reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let page = client.get(self.at("/login")).send().await.unwrap().text().await.unwrap();
        let form = [
            ("csrf", csrf_of(&page)),
            ("username", username.into()),
            ("password", password.into()),
            ("totp", String::new()),
            ("next", "/".into()),
        ];
        let resp = client.post(self.at("/login")).form(&form).send().await.unwrap();
        (client, resp)
    }

    pub async fn page(&self, client: &reqwest::Client, path: &str) -> (u16, String, Option<String>) {
        let resp = client.get(self.at(path)).send().await.unwrap();
        let status = resp.status().as_u16();
        let location = resp.headers().get("location").map(|v| v.to_str().unwrap().to_string());
        (status, resp.text().await.unwrap(), location)
    }
}

/// Every log line the servers of this test binary write, for checks that no identifier leaks.
pub fn captured_logs() -> String {
    let buf = LOGS.get_or_init(init_log_capture);
    String::from_utf8_lossy(&buf.lock().unwrap()).to_string()
}

type LogBuffer = std::sync::Arc<std::sync::Mutex<Vec<u8>>>;
static LOGS: std::sync::OnceLock<LogBuffer> = std::sync::OnceLock::new();

fn init_log_capture() -> LogBuffer {
    let buf: LogBuffer = Default::default();
    let writer = buf.clone();
    let _ = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || LogWriter(writer.clone()))
        .try_init();
    buf
}

struct LogWriter(LogBuffer);

impl std::io::Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts capturing before any server runs in this test.
pub fn capture_logs() {
    LOGS.get_or_init(init_log_capture);
}

/// Whether `hay` holds a whole demo phone number (19903 and six digits, `demo/names.rs`), not
/// inside a longer run of digits or of hex (a blob printed as hex may hold "19903" by chance).
pub fn holds_demo_phone(hay: &[u8]) -> bool {
    hay.windows(11).enumerate().any(|(i, w)| {
        w.starts_with(b"19903")
            && w[5..].iter().all(u8::is_ascii_digit)
            && (i == 0 || !hay[i - 1].is_ascii_hexdigit())
            && hay.get(i + 11).is_none_or(|c| !c.is_ascii_digit())
    })
}

/// After a large load on SQLite, which ran with its own writer settings: the writer is back to
/// the usual ones (its usual page cache, foreign keys checked) and every reference the load
/// wrote unchecked names a row that exists. `what` names the load in the messages.
pub async fn assert_writer_back_after_load(db: &Db, what: &str) {
    if db.backend != pingan::db::Backend::Sqlite {
        return;
    }
    let cache: i64 = sqlx::query_scalar("PRAGMA cache_size").fetch_one(db.writer()).await.unwrap();
    assert_eq!(
        cache,
        -i64::from(pingan::db::WRITER_CACHE_KIB),
        "the writer's page cache, widened for {what}, is back at its usual size"
    );
    let checked: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(db.writer()).await.unwrap();
    assert_eq!(checked, 1, "the writer checks foreign keys again after {what}, which did without");
    let broken: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM pragma_foreign_key_check").fetch_one(db.reader()).await.unwrap();
    assert_eq!(broken, 0, "every reference {what} wrote unchecked names a row that exists");
}
