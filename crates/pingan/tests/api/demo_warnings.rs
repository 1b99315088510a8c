//! The demo's fraud warnings: a year of worked cases, a few open ones at the demo station with
//! live deadlines, and the caller-less intake the live trickle uses.

use std::collections::HashSet;
use std::sync::Arc;

use pingan::antifraud::model::{Kind, Warning};
use pingan::db::Db;
use pingan::demo::{Options, Scale};
use serde_json::json;

use crate::antifraud::resident_in;
use crate::demo::empty_database;
use crate::helpers::{key, spawn_app, PASSWORD};

const DAY_MS: i64 = 86_400_000;

/// A warning's encrypted ID number and phone, and its text columns joined.
type StoredIds = (Option<Vec<u8>>, Option<Vec<u8>>, String);

async fn scalar(db: &Db, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db.reader()).await.unwrap()
}

#[tokio::test]
async fn small_demo_holds_a_year_of_worked_warnings_and_open_cases_at_the_demo_station() {
    let now = chrono::Utc::now().timestamp_millis();
    let (url, _dir) = empty_database(now, 7).await;
    let db = Db::connect(&url).await.unwrap();
    let data_key = Arc::new(key());
    let small = Options { scale: Scale::Small, grids_only: false };
    assert!(pingan::demo::build(&db, &data_key, now, PASSWORD, small).await.unwrap());

    let warnings = scalar(&db, "SELECT COUNT(*) FROM fraud_warnings").await;
    assert!((800..=1_300).contains(&warnings), "about 1,000 warnings in the small demo, not {warnings}");
    let closed = scalar(&db, "SELECT COUNT(*) FROM fraud_cases WHERE state = 'closed' AND history = 0").await;
    let merged = scalar(&db, "SELECT COUNT(*) FROM fraud_cases WHERE warnings > 1").await;
    assert!(merged * 20 > closed && merged * 5 < closed, "about one case in eight merges: {merged} of {closed}");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM fraud_cases WHERE state = 'history' OR history = 1").await, 0);

    // Spread over the 400 days, every month of them, with every outcome, kind and grade.
    let oldest = scalar(&db, "SELECT MIN(opened_at) FROM fraud_cases").await;
    assert!(oldest < now - 390 * DAY_MS && oldest >= now - 401 * DAY_MS, "{}", (now - oldest) / DAY_MS);
    let opened: Vec<i64> = sqlx::query_scalar("SELECT opened_at FROM fraud_cases WHERE state = 'closed'")
        .fetch_all(db.reader())
        .await
        .unwrap();
    let months: HashSet<i64> = opened.iter().map(|t| (now - t) / (30 * DAY_MS)).collect();
    assert_eq!(months.len(), 14, "cases in each 30 days of the 400: {months:?}");
    let year_ago = opened.iter().filter(|t| (now - 395 * DAY_MS..now - 365 * DAY_MS).contains(*t)).count();
    assert!(year_ago > 30, "the month a year ago has cases to compare with: {year_ago}");
    for (column, codes) in [
        ("outcome", &["dissuaded", "defrauded", "unreachable", "not_fraud"][..]),
        ("grade", &["red", "yellow", "blue"][..]),
        ("kind", &Kind::ALL.iter().map(|k| k.code()).collect::<Vec<_>>()[..]),
    ] {
        let found: Vec<String> =
            sqlx::query_scalar(&format!("SELECT DISTINCT {column} FROM fraud_cases WHERE state = 'closed'"))
                .fetch_all(db.reader())
                .await
                .unwrap();
        for code in codes {
            assert!(found.iter().any(|f| f == code), "no closed case with {column} {code}: {found:?}");
        }
    }
    let dissuaded = scalar(&db, "SELECT COUNT(*) FROM fraud_cases WHERE outcome = 'dissuaded'").await;
    assert!(dissuaded * 100 > closed * 70, "most cases end dissuaded: {dissuaded} of {closed}");
    let unworked = "SELECT COUNT(*) FROM fraud_cases WHERE state = 'closed' AND (closed_at IS NULL OR closed_by IS NULL \
                    OR contact_due_at IS NULL OR closed_at > $1 OR (outcome = 'dissuaded' AND first_contact_at IS NULL) \
                    OR (outcome = 'defrauded' AND amount_lost_fen IS NULL) OR (grade = 'red' AND visit_due_at IS NULL))";
    let bad: i64 = sqlx::query_scalar(unworked).bind(now).fetch_one(db.reader()).await.unwrap();
    assert_eq!(bad, 0, "every closed case was worked like a live one");
    let late = scalar(&db, "SELECT COUNT(*) FROM fraud_cases WHERE first_contact_at > contact_due_at").await;
    assert!(late > 0 && late * 5 < closed, "about one contact in ten is late: {late} of {closed}");
    let lines = scalar(&db, "SELECT COUNT(*) FROM fraud_case_events WHERE kind = 'closed'").await;
    assert_eq!(lines, closed, "each closed case has its outcome on the timeline");
    // Brushing rose over the year and impersonation fell, so "rising kinds" has something to show.
    let share = |kind: &str, from: i64, to: i64| {
        let sql = format!(
            "SELECT COUNT(*) FROM fraud_warnings WHERE kind = '{kind}' AND received_at >= {} AND received_at < {}",
            now - from * DAY_MS,
            now - to * DAY_MS
        );
        let db = db.clone();
        async move { scalar(&db, &sql).await }
    };
    assert!(share("brushing", 120, 0).await > share("brushing", 400, 280).await);
    assert!(share("impersonation", 120, 0).await < share("impersonation", 400, 280).await);

    // The open cases: received in the last hours at the demo station's post, routed to an officer,
    // their deadlines scheduled as jobs.
    let station: i64 = scalar(&db, "SELECT id FROM org_nodes WHERE code = '410702010000'").await;
    let post: i64 = scalar(&db, "SELECT id FROM org_nodes WHERE code = '410702010100'").await;
    let open: Vec<(i64, i64, i64, Option<i64>, i64)> = sqlx::query_as(
        "SELECT id, station_id, post_id, officer_id, opened_at FROM fraud_cases WHERE state = 'open' ORDER BY id",
    )
    .fetch_all(db.reader())
    .await
    .unwrap();
    assert_eq!(open.len(), 8, "{open:?}");
    let jobs: Vec<String> = sqlx::query_scalar("SELECT payload FROM jobs WHERE kind = 'antifraud.deadline'")
        .fetch_all(db.reader())
        .await
        .unwrap();
    let scheduled: HashSet<i64> = jobs
        .iter()
        .map(|p| serde_json::from_str::<serde_json::Value>(p).unwrap()["case_id"].as_i64().unwrap())
        .collect();
    for (id, s, p, officer, at) in &open {
        assert_eq!((*s, *p), (station, post), "case {id} is outside the demo station's post");
        assert!(officer.is_some(), "case {id} has no officer");
        assert!((now - 7 * 3_600_000..now).contains(at), "case {id} was not received in the last hours");
        assert!(scheduled.contains(id), "case {id} has no deadline job");
    }
    let audited = scalar(&db, "SELECT COUNT(*) FROM audit_log WHERE action = 'demo.antifraud.warning'").await;
    assert_eq!(audited, 8, "each open case's warning is audited like any intake");

    // Identifiers are ciphertext and keyed hashes: no ID number or phone in the clear.
    let rows: Vec<StoredIds> = sqlx::query_as(
        "SELECT id_enc, phone_enc, source || '|' || upstream_id || '|' || COALESCE(name, '') || '|' || \
         COALESCE(id_head, '') || COALESCE(id_tail, '') || '|' || COALESCE(phone_masked, '') || '|' || \
         COALESCE(app_name, '') || '|' || reasons || '|' || match_kind FROM fraud_warnings",
    )
    .fetch_all(db.reader())
    .await
    .unwrap();
    let mut secrets = HashSet::new();
    for (id_enc, phone_enc, _) in &rows {
        for enc in [id_enc, phone_enc].into_iter().flatten() {
            let plain = data_key.decrypt_str(enc).unwrap();
            assert!(!enc.windows(plain.len()).any(|w| w == plain.as_bytes()));
            secrets.insert(plain);
        }
    }
    assert!(secrets.len() > 500 && secrets.iter().any(|s| s.starts_with("19903")), "{}", secrets.len());
    for (_, _, text) in &rows {
        for run in text.split(|c: char| !c.is_ascii_digit() && c != 'X').filter(|r| r.len() >= 8) {
            assert!(!secrets.contains(run), "an identifier in the clear in fraud_warnings");
        }
    }
    db.close().await;
}

#[tokio::test]
async fn a_warning_the_system_ingests_reaches_the_station_heads_queue() {
    let app = spawn_app().await;
    let (_, id) = resident_in(&app, "410702010101", "41070219600101321", "13900001111", json!({})).await;
    let now = app.clock.now_ms();
    let w = Warning {
        source: "fzzx".into(),
        upstream_id: "live-1".into(),
        event_at: now - 60_000,
        name: Some("王秀英".into()),
        id_number: Some(pingan::pii::id_number::IdNumber::parse(&id, pingan::clock::beijing_today(now)).unwrap()),
        phone: None,
        kind: Kind::Brushing,
        contacts_count: Some(1),
        longest_call_s: Some(20),
        app_installed: Some(false),
        app_name: None,
        amount_fen: None,
        flagged_account: None,
    };
    let head = app.login("station_head").await;
    let (_, before) = app.get("/api/v1/fraud-cases", Some(&head)).await;
    assert_eq!(before["total"], 0, "{before}");
    let accepted =
        pingan::antifraud::service::ingest_system(&app.state, w.clone(), "demo.antifraud.warning").await.unwrap();
    assert_eq!(accepted.status, "created");
    let (status, queue) = app.get("/api/v1/fraud-cases", Some(&head)).await;
    assert_eq!((status, queue["total"].as_i64()), (200, Some(1)), "{queue}");
    assert_eq!(queue["items"][0]["id"].as_i64(), Some(accepted.case_id), "{queue}");
    let jobs = scalar(&app.state.db, "SELECT COUNT(*) FROM jobs WHERE kind = 'antifraud.deadline'").await;
    assert!(jobs >= 1, "the deadline is scheduled like any live warning's");
    let entries = app.audit_since(0).await;
    assert!(entries.iter().any(|e| e.0 == "demo.antifraud.warning"), "{entries:?}");
    let again = pingan::antifraud::service::ingest_system(&app.state, w, "demo.antifraud.warning").await.unwrap();
    assert_eq!((again.status, again.case_id), ("duplicate", accepted.case_id));
}
