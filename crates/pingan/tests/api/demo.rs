//! `pingan demo --scale small`: the same seed builds the same city, and every demo account
//! signs in to it. (The city scale takes a minute; it is measured by hand, not here.)

use std::sync::Arc;

use pingan::clock::Clock;
use pingan::db::Db;
use pingan::demo::{Options, Scale, DEMO_ACCOUNTS};
use serde_json::json;

use crate::helpers::{key, spawn_on, PASSWORD};

/// An empty, migrated database: an SQLite file, or a fresh PostgreSQL database when
/// PINGAN_TEST_DATABASE_URL is set. Returns its URL and the temp dir holding the file.
pub async fn empty_database(now: i64, n: u32) -> (String, Option<tempfile::TempDir>) {
    let (url, dir) = match std::env::var("PINGAN_TEST_DATABASE_URL").ok().filter(|s| !s.is_empty()) {
        Some(base) => {
            let name = format!("pingan_demo_{}_{n}", std::process::id());
            let admin = Db::connect(&base).await.unwrap();
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(admin.writer()).await.unwrap();
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(admin.writer()).await.unwrap();
            admin.close().await;
            let (prefix, _) = base.rsplit_once('/').expect("PINGAN_TEST_DATABASE_URL ends in /DATABASE");
            (format!("{prefix}/{name}"), None)
        }
        None => {
            let dir = tempfile::tempdir().unwrap();
            (format!("sqlite://{}", dir.path().join("pingan.db").display()), Some(dir))
        }
    };
    let db = Db::connect(&url).await.unwrap();
    pingan::db::migrate(&db, now).await.unwrap();
    pingan::meta::check_key(&db, &key()).await.unwrap();
    db.close().await;
    (url, dir)
}

/// What a built demo holds: row counts, and every resident's name and ID-number hash in order.
async fn contents(db: &Db) -> (Vec<i64>, Vec<(String, Option<Vec<u8>>)>) {
    let mut counts = Vec::new();
    for table in [
        "org_nodes",
        "grid_shapes",
        "accounts",
        "addresses",
        "houses",
        "residents",
        "establishments",
        "visits",
        "duties",
        "fraud_cases",
        "fraud_warnings",
        "fraud_case_events",
    ] {
        counts.push(sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(db.reader()).await.unwrap());
    }
    let people =
        sqlx::query_as("SELECT name, id_hash FROM residents ORDER BY id").fetch_all(db.reader()).await.unwrap();
    // The warnings' grades and kinds too: the same seed and `now` give the same year of work.
    let graded: Vec<(String, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT grade || ' ' || kind || ' ' || COALESCE(outcome, 'open') || ' ' || opened_at, subject_hash \
         FROM fraud_cases ORDER BY id",
    )
    .fetch_all(db.reader())
    .await
    .unwrap();
    (counts, people.into_iter().chain(graded).collect())
}

#[tokio::test]
async fn small_demo_is_the_same_city_every_time_and_every_demo_account_signs_in() {
    let now = chrono::Utc::now().timestamp_millis();
    let small = Options { scale: Scale::Small, grids_only: false };
    let data_key = Arc::new(key());
    let mut built = Vec::new();
    let mut urls = Vec::new();
    for n in 0..2 {
        let (url, dir) = empty_database(now, n).await;
        let db = Db::connect(&url).await.unwrap();
        assert!(pingan::demo::build(&db, &data_key, now, PASSWORD, small).await.unwrap());
        assert!(
            !pingan::demo::build(&db, &data_key, now, PASSWORD, small).await.unwrap(),
            "a second build changes nothing"
        );
        assert_eq!(pingan::meta::get(&db, "demo_scale").await.unwrap().as_deref(), Some("small"));
        built.push(contents(&db).await);
        db.close().await;
        urls.push((url, dir));
    }
    let (counts, people) = &built[0];
    assert_eq!(built[0], built[1], "the same seed built another city");
    assert!(counts.iter().all(|&c| c > 0), "an empty table in the small demo: {counts:?}");
    assert!(people.iter().all(|(_, hash)| hash.is_some()), "every demo resident has an ID number");
    assert!(!people[0].0.is_empty());

    let (url, dir) = urls.pop().unwrap();
    let app = spawn_on(&url, Clock::manual(now), dir).await;
    for (username, ..) in DEMO_ACCOUNTS {
        let (status, body) = app.login_with(username, PASSWORD, None).await;
        assert_eq!(status, 200, "{username} cannot sign in to the small demo: {body}");
    }
    // Rows made after the demo get fresh ids: on PostgreSQL the identity sequences were moved
    // past the demo's explicit ones.
    let head = app.login("station_head").await;
    let resident = json!({"name": "新来的", "residence": "registered"});
    let (status, body) = app.post("/api/v1/residents", Some(&head), resident).await;
    assert_eq!(status, 201, "{body}");
    let link = json!({"account_id": app.account_id("auxiliary").await, "node_id": app.node_id("410702010102").await});
    let (status, body) = app.post("/api/v1/duty-links", Some(&head), link).await;
    assert_eq!(status, 201, "{body}");
    // The CI fuzzer greps logs for this prefix: a demo phone outside it could hide a leak.
    let phones: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT phone_enc FROM resident_phones").fetch_all(app.state.db.reader()).await.unwrap();
    assert!(!phones.is_empty());
    for enc in phones {
        let phone = app.state.key.decrypt_str(&enc).unwrap();
        assert!(phone.starts_with("19903"), "a demo phone outside 19903: {phone}");
    }
}
