use crate::helpers::{key, spawn_app};
use pingan::audit::{verify, Broken};
use pingan::db::Backend;

async fn with_triggers_off(app: &crate::helpers::TestApp, sql: &str) {
    // An attacker with raw database access goes around the append-only triggers.
    match app.state.db.backend {
        Backend::Sqlite => {
            let mut tx = app.state.db.begin().await.unwrap();
            sqlx::query("DROP TRIGGER IF EXISTS audit_log_no_update").execute(&mut *tx).await.unwrap();
            sqlx::query("DROP TRIGGER IF EXISTS audit_log_no_delete").execute(&mut *tx).await.unwrap();
            sqlx::query(sql).execute(&mut *tx).await.unwrap();
            tx.commit().await.unwrap();
        }
        Backend::Postgres => {
            let mut tx = app.state.db.begin().await.unwrap();
            sqlx::query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change").execute(&mut *tx).await.unwrap();
            sqlx::query(sql).execute(&mut *tx).await.unwrap();
            tx.commit().await.unwrap();
        }
    }
}

async fn chain_with_entries() -> crate::helpers::TestApp {
    let app = spawn_app().await;
    for u in ["officer", "auxiliary", "station_head"] {
        app.login(u).await;
    }
    assert!(matches!(verify(&app.state.db, &key()).await.unwrap(), Ok(n) if n >= 4));
    app
}

#[tokio::test]
async fn the_audit_log_refuses_updates_and_deletes() {
    let app = spawn_app().await;
    app.login("officer").await;
    assert!(sqlx::query("UPDATE audit_log SET actor = 'x'").execute(app.state.db.writer()).await.is_err());
    assert!(sqlx::query("DELETE FROM audit_log").execute(app.state.db.writer()).await.is_err());
}

#[tokio::test]
async fn verification_names_an_altered_entry() {
    let app = chain_with_entries().await;
    with_triggers_off(&app, "UPDATE audit_log SET outcome = 'failed' WHERE seq = 2").await;
    assert_eq!(verify(&app.state.db, &key()).await.unwrap(), Err(Broken::Altered { seq: 2 }));
}

#[tokio::test]
async fn verification_names_a_removed_entry() {
    let app = chain_with_entries().await;
    with_triggers_off(&app, "DELETE FROM audit_log WHERE seq = 3").await;
    assert_eq!(verify(&app.state.db, &key()).await.unwrap(), Err(Broken::Missing { expected: 3, found: 4 }));
}

#[tokio::test]
async fn verification_names_an_inserted_entry() {
    let app = chain_with_entries().await;
    let head = app.audit_head().await;
    let sql = format!(
        "INSERT INTO audit_log (seq, at, actor, ip, action, records, outcome, request_id, detail, mac) \
         VALUES ({}, 0, 'ghost', '', 'account.read', '', 'ok', '', 'null', X'00')",
        head + 1
    )
    .replace("X'00'", if app.state.db.backend == Backend::Postgres { "'\\x00'::bytea" } else { "X'00'" });
    with_triggers_off(&app, &sql).await;
    assert_eq!(verify(&app.state.db, &key()).await.unwrap(), Err(Broken::Extra { seq: head + 1, head }));
}

#[tokio::test]
async fn verification_names_an_entry_inserted_in_place_of_a_removed_one() {
    let app = chain_with_entries().await;
    with_triggers_off(&app, "DELETE FROM audit_log WHERE seq = 2").await;
    let sql = "INSERT INTO audit_log (seq, at, actor, ip, action, records, outcome, request_id, detail, mac) \
               VALUES (2, 0, 'ghost', '', 'account.read', '', 'ok', '', 'null', X'00')"
        .replace("X'00'", if app.state.db.backend == Backend::Postgres { "'\\x00'::bytea" } else { "X'00'" });
    with_triggers_off(&app, &sql).await;
    assert_eq!(verify(&app.state.db, &key()).await.unwrap(), Err(Broken::Altered { seq: 2 }));
}

#[tokio::test]
async fn verification_notices_the_newest_entries_removed() {
    let app = chain_with_entries().await;
    let head = app.audit_head().await;
    with_triggers_off(&app, &format!("DELETE FROM audit_log WHERE seq >= {}", head - 1)).await;
    assert_eq!(verify(&app.state.db, &key()).await.unwrap(), Err(Broken::Truncated { last: head - 2, head }));
}

#[tokio::test]
async fn no_entry_may_be_numbered_below_one() {
    let app = chain_with_entries().await;
    let sql = "INSERT INTO audit_log (seq, at, actor, ip, action, records, outcome, request_id, detail, mac) \
               VALUES (0, 0, 'ghost', '', 'account.read', '', 'ok', '', 'null', X'00')"
        .replace("X'00'", if app.state.db.backend == Backend::Postgres { "'\\x00'::bytea" } else { "X'00'" });
    assert!(sqlx::query(&sql).execute(app.state.db.writer()).await.is_err(), "the schema refuses seq 0");
    assert!(
        sqlx::query("TRUNCATE audit_log").execute(app.state.db.writer()).await.is_err()
            || app.state.db.backend == Backend::Sqlite,
        "PostgreSQL refuses TRUNCATE (SQLite has no TRUNCATE statement)"
    );
    assert!(verify(&app.state.db, &key()).await.unwrap().is_ok());
}

#[tokio::test]
async fn auditors_search_by_an_exact_action_with_underscores() {
    let app = spawn_app().await;
    app.login("officer").await;
    let auditor = app.login("auditor").await;
    let (status, body) = app.get("/api/v1/audit?action=auth.sign_in", Some(&auditor)).await;
    assert_eq!(status, 200, "{body}");
    let entries = body["items"].as_array().expect("items");
    assert!(!entries.is_empty(), "sign-ins are found by their exact action code");
    assert!(entries.iter().all(|e| e["action"].as_str().unwrap().starts_with("auth.sign_in")));
    // `_` is literal, not a wildcard: `auth.sign_i_` matches nothing.
    let (_, none) = app.get("/api/v1/audit?action=auth.sign_i_", Some(&auditor)).await;
    assert_eq!(none["items"].as_array().map(Vec::len), Some(0), "{none}");
}

#[tokio::test]
async fn auditors_export_matching_entries_as_csv() {
    let app = spawn_app().await;
    let auditor = app.login("auditor").await;
    let resp = app.client.get(app.at("/audit/export.csv?action=auth.")).bearer_auth(&auditor).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.unwrap();
    assert!(text.contains("auth.sign_in"));
    assert!(text.lines().next().unwrap().contains("auditor"), "the export names who made it");
    assert!(text.lines().count() >= 2);
}
