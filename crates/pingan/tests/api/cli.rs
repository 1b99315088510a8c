//! The `pingan` binary's operator commands, run as a process.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn pingan(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pingan"))
        .args(args)
        .env_remove("PINGAN_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn an_operator_sets_up_a_deployment_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = dir.path().join("pingan.key");
    let (d, k) = (data.to_str().unwrap(), key.to_str().unwrap());

    let o = pingan(&["serve", "--data", d, "--key", k], None);
    assert!(!o.status.success());
    assert!(text(&o).contains("pingan key generate"), "serve without a key says how to make one: {}", text(&o));

    assert!(pingan(&["key", "generate", "--out", k], None).status.success());
    let again = pingan(&["key", "generate", "--out", k], None);
    assert!(!again.status.success(), "a key is never overwritten");

    let csv = dir.path().join("units.csv");
    std::fs::write(
        &csv,
        "code,kind,name,parent_code,valid_from\n4107,bureau,新乡市公安局,,2020-01-01\n410702,branch,红旗分局,4107,\n41070201,station,向阳派出所,410702,\n",
    )
    .unwrap();
    let o = pingan(&["org", "import", "--data", d, "--key", k, csv.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("created 3"));

    let features: Vec<serde_json::Value> = pingan_geo::synthetic::city_grids(3, 2)
        .into_iter()
        .enumerate()
        .map(|(i, (_, shape))| {
            let rings: Vec<Vec<[f64; 2]>> = std::iter::once(shape.0[0].exterior()).map(|r| r.0.iter().map(|c| [c.x, c.y]).collect()).collect();
            serde_json::json!({"type": "Feature", "properties": {"code": format!("4107020100{i}"), "name": format!("网格{i}"), "station": "41070201"},
                               "geometry": {"type": "Polygon", "coordinates": rings}})
        })
        .collect();
    let grids = dir.path().join("grids.geojson");
    std::fs::write(&grids, serde_json::json!({"type": "FeatureCollection", "features": features}).to_string()).unwrap();
    let o = pingan(&["grids", "import", "--data", d, "--key", k, grids.to_str().unwrap()], None);
    assert!(!o.status.success() && text(&o).contains("state the datum"), "{}", text(&o));
    let o = pingan(&["grids", "import", "--data", d, "--key", k, "--datum", "wgs84", grids.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("created 2"), "{}", text(&o));

    let add = [
        "user",
        "add",
        "--data",
        d,
        "--key",
        k,
        "--username",
        "admin",
        "--name",
        "韩志强",
        "--node",
        "4107",
        "--role",
        "system_admin",
    ];
    let o = pingan(&add, Some("short\n"));
    assert!(!o.status.success() && text(&o).contains("password"), "{}", text(&o));
    let o = pingan(&add, Some("Correct-Horse-Battery-9\n"));
    assert!(o.status.success(), "{}", text(&o));
    assert!(pingan(&["user", "disable", "--data", d, "--key", k, "--username", "admin"], None).status.success());
    assert!(pingan(&["user", "unlock", "--data", d, "--key", k, "--username", "admin"], None).status.success());

    let o = pingan(&["audit", "verify", "--data", d, "--key", k], None);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("audit chain intact"));

    let backup = dir.path().join("pingan.bak");
    let o = pingan(&["backup", "--data", d, "--key", k, "--out", backup.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", text(&o));
    let sealed = std::fs::read(&backup).unwrap();
    assert!(!sealed.windows(6).any(|w| w == "韩志强".as_bytes()), "the backup is encrypted");
    let restored = dir.path().join("restored.db");
    let o = pingan(
        &["backup", "--key", k, "--restore", backup.to_str().unwrap(), "--to", restored.to_str().unwrap()],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(std::fs::read(&restored).unwrap().windows(9).any(|w| w == "韩志强".as_bytes()));

    let o = pingan(&["config", "check", "--data", d, "--key", k], None);
    assert!(o.status.success() && text(&o).contains("ok"), "{}", text(&o));

    // Another key: refused before anything is decrypted.
    let other = dir.path().join("other.key");
    pingan(&["key", "generate", "--out", other.to_str().unwrap()], None);
    let o = pingan(&["migrate", "--data", d, "--key", other.to_str().unwrap()], None);
    assert!(!o.status.success() && text(&o).contains("another data key"), "{}", text(&o));
}

#[test]
fn serve_refuses_a_demo_database_and_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let key = dir.path().join("pingan.key");
    let (d, k) = (data.to_str().unwrap(), key.to_str().unwrap());
    pingan(&["key", "generate", "--out", k], None);
    assert!(pingan(&["migrate", "--data", d, "--key", k], None).status.success());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = format!("sqlite://{}", data.join("pingan.db").display());
    rt.block_on(async {
        let db = pingan::db::Db::connect(&url).await.unwrap();
        pingan::meta::set(&db, "demo", "1").await.unwrap();
        db.close().await;
    });
    let o = pingan(&["serve", "--data", d, "--key", k, "--listen", "127.0.0.1:0"], None);
    assert!(!o.status.success() && text(&o).contains("demo"), "{}", text(&o));
    rt.block_on(async {
        let db = pingan::db::Db::connect(&url).await.unwrap();
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)")
            .execute(db.writer())
            .await
            .unwrap();
        db.close().await;
    });
    let o = pingan(&["migrate", "--data", d, "--key", k], None);
    assert!(!o.status.success() && text(&o).contains("newer than this binary"), "{}", text(&o));
}

#[test]
fn residents_import_from_the_command_line_with_a_template_and_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let (data, key) = one_bureau(dir.path());
    let (d, k) = (data.as_str(), key.as_str());

    let template = dir.path().join("residents.csv");
    let o = pingan(&["import", "--template", "residents", "--out", template.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", text(&o));
    let header = std::fs::read_to_string(&template).unwrap();
    assert!(header.starts_with("\u{feff}姓名,公民身份号码"), "{header}");

    let file = dir.path().join("people.csv");
    let body = format!(
        "{}\r\n甲,,男,13800001111,户籍人口,,南京测试路1号,118.7,32.0,,,,,,\r\n乙,,女,99,流动人口,,南京测试路1号,,,,,,,,\r\n",
        header.trim_end()
    );
    std::fs::write(&file, body).unwrap();
    let f = file.to_str().unwrap();
    let o = pingan(&["import", "residents", f, "--data", d, "--key", k], None);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("line 3: phones[0]") && text(&o).contains("nothing was imported"), "{}", text(&o));
    let rejects = dir.path().join("rejects.csv");
    let o = pingan(&["import", "residents", f, "--rejects", rejects.to_str().unwrap(), "--data", d, "--key", k], None);
    assert!(!o.status.success() && text(&o).contains("--skip-invalid"), "{}", text(&o));
    let o = pingan(
        &["import", "residents", f, "--skip-invalid", "--rejects", rejects.to_str().unwrap(), "--data", d, "--key", k],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("1 residents created") && text(&o).contains("1 rows skipped"), "{}", text(&o));
    assert!(std::fs::read_to_string(&rejects).unwrap().contains("3,phones[0]"));
}

/// A first import large enough to build its indexes after its rows says so while it does (the
/// page shows the same phase); a small one into the filled register writes through the indexes.
#[test]
fn a_large_first_import_reports_building_its_indexes_and_a_small_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let (data, key) = one_bureau(dir.path());
    let (d, k) = (data.as_str(), key.as_str());
    let template = dir.path().join("residents.csv");
    assert!(pingan(&["import", "--template", "residents", "--out", template.to_str().unwrap()], None).status.success());
    let header = std::fs::read_to_string(&template).unwrap();
    let rows = |n: usize| {
        let mut body = format!("{}\r\n", header.trim_end());
        for i in 0..n {
            body.push_str(&format!("甲,,男,,户籍人口,,南京测试路{}号,118.7,32.0,,,,,,\r\n", i % 50 + 1));
        }
        body
    };
    let file = dir.path().join("people.csv");
    std::fs::write(&file, rows(1_200)).unwrap();
    let o = pingan(&["import", "residents", file.to_str().unwrap(), "--data", d, "--key", k], None);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("1200 residents created"), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let phases: Vec<&str> = err.split('\r').filter_map(|l| l.split(':').next()).filter(|p| !p.is_empty()).collect();
    let (write, index) = (phases.iter().position(|p| *p == "write"), phases.iter().position(|p| *p == "index"));
    assert!(write.is_some() && index > write, "phases: {phases:?}");

    std::fs::write(&file, rows(2)).unwrap();
    let o = pingan(&["import", "residents", file.to_str().unwrap(), "--data", d, "--key", k], None);
    assert!(o.status.success() && text(&o).contains("2 residents created"), "{}", text(&o));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("\rindex:"), "{}", text(&o));
}

/// A data directory and key in `dir` holding one bureau (4107): (data dir, key file).
fn one_bureau(dir: &std::path::Path) -> (String, String) {
    let data = dir.join("data").to_str().unwrap().to_string();
    let key = dir.join("pingan.key").to_str().unwrap().to_string();
    assert!(pingan(&["key", "generate", "--out", &key], None).status.success());
    let csv = dir.join("units.csv");
    std::fs::write(&csv, "code,kind,name,parent_code,valid_from\n4107,bureau,新乡市公安局,,2020-01-01\n").unwrap();
    assert!(pingan(&["org", "import", "--data", &data, "--key", &key, csv.to_str().unwrap()], None).status.success());
    (data, key)
}

/// A deployment with one bureau and a system administrator, in a temporary directory.
fn small_deployment(dir: &std::path::Path) -> (String, String) {
    let (data, key) = one_bureau(dir);
    let add = [
        "user",
        "add",
        "--data",
        &data,
        "--key",
        &key,
        "--username",
        "admin",
        "--name",
        "韩志强",
        "--node",
        "4107",
        "--role",
        "system_admin",
    ];
    let o = pingan(&add, Some("Correct-Horse-Battery-9\n"));
    assert!(o.status.success(), "{}", text(&o));
    (data, key)
}

/// Every table with its row count and the audit head: what a change would alter.
fn contents(db: &std::path::Path) -> Vec<(String, i64)> {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=ro", db.display())).await.unwrap();
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                .fetch_all(&pool)
                .await
                .unwrap();
        let mut out = Vec::new();
        for t in tables {
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM \"{t}\"")).fetch_one(&pool).await.unwrap();
            out.push((t, n));
        }
        let head: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_log").fetch_one(&pool).await.unwrap();
        out.push(("audit head".into(), head));
        pool.close().await;
        out
    })
}

#[test]
fn config_check_looks_without_changing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("fresh");
    let key = dir.path().join("fresh.key");
    assert!(pingan(&["key", "generate", "--out", key.to_str().unwrap()], None).status.success());
    let o = pingan(&["config", "check", "--data", data.to_str().unwrap(), "--key", key.to_str().unwrap()], None);
    assert!(o.status.success() && text(&o).contains("none yet"), "{}", text(&o));
    assert!(!data.join("pingan.db").exists(), "a check creates no database");
    let (d, k) = small_deployment(dir.path());
    let db = std::path::Path::new(&d).join("pingan.db");
    let before = contents(&db);
    let o = pingan(&["config", "check", "--data", &d, "--key", &k], None);
    assert!(o.status.success() && text(&o).contains("data key matches"), "{}", text(&o));
    assert!(contents(&db) == before, "the database is unchanged");
    let other = dir.path().join("other.key");
    pingan(&["key", "generate", "--out", other.to_str().unwrap()], None);
    let o = pingan(&["config", "check", "--data", &d, "--key", other.to_str().unwrap()], None);
    assert!(!o.status.success() && text(&o).contains("another data key"), "{}", text(&o));
}

#[test]
fn passwords_are_set_and_backups_taken_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (d, k) = small_deployment(dir.path());
    let passwd = ["user", "passwd", "--data", &d, "--key", &k, "--username", "admin"];
    let o = pingan(&passwd, Some("password1234\n"));
    assert!(!o.status.success() && text(&o).contains("password"), "a common password is refused: {}", text(&o));
    let o = pingan(&passwd, Some("Another-Long-Passphrase-7\n"));
    assert!(o.status.success(), "{}", text(&o));

    let mut server = Command::new(env!("CARGO_BIN_EXE_pingan"))
        .args(["serve", "--data", &d, "--key", &k, "--listen", "127.0.0.1:0"])
        .env("PINGAN_SERVER__SECURE_COOKIES", "false")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = server.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let address = loop {
        let line = rx.recv_timeout(std::time::Duration::from_secs(60)).expect("the server starts");
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
            if v["fields"]["message"] == "pingan serving" {
                break v["fields"]["address"].as_str().unwrap().to_string();
            }
        }
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (status, answer) = runtime.block_on(async {
        let body = serde_json::json!({"username": "admin", "password": "Another-Long-Passphrase-7", "totp": null});
        let resp = reqwest::Client::new()
            .post(format!("http://{address}/api/v1/auth/login"))
            .json(&body)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json::<serde_json::Value>().await.unwrap())
    });
    // The new password is right; serve requires a second factor by default, not yet enrolled.
    assert_eq!((status, answer["error"]["code"].as_str()), (403, Some("mfa_enrolment_required")), "{answer}");
    let second = pingan(&["serve", "--data", &d, "--key", &k, "--listen", "127.0.0.1:0"], None);
    assert!(!second.status.success() && text(&second).contains("another pingan is serving"), "{}", text(&second));

    let backup = dir.path().join("live.bak");
    let o = pingan(&["backup", "--data", &d, "--key", &k, "--out", backup.to_str().unwrap()], None);
    assert!(o.status.success(), "a backup while the server runs: {}", text(&o));
    server.kill().unwrap();
    let _ = server.wait();
    let restored = dir.path().join("restored.db");
    let o = pingan(
        &["backup", "--key", &k, "--restore", backup.to_str().unwrap(), "--to", restored.to_str().unwrap()],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(std::fs::read(&restored).unwrap().windows(9).any(|w| w == "韩志强".as_bytes()));
}
