//! Live warnings that queue up while the writer is busy are written together (`antifraud/live.rs`).
//! The outcome must be the one they would have had one after another: the same stored warnings
//! and cases, deadlines, timeline lines, events and notifications, and one audit entry each.

use std::collections::HashMap;

use serde_json::Value;

use crate::antifraud::upstream;
use crate::antifraud_bulk::{stored, twin_apps, warnings};
use crate::helpers::TestApp;
use pingan::antifraud::intake::{self, Settings, Status};
use pingan::antifraud::live::Item;
use pingan::antifraud::model::{self, WarningInput};

/// Case id → the first upstream id among its warnings: a name both apps agree on.
async fn case_names(app: &TestApp) -> HashMap<i64, String> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT case_id, MIN(upstream_id) FROM fraud_warnings GROUP BY case_id")
            .fetch_all(app.state.db.reader())
            .await
            .unwrap();
    rows.into_iter().collect()
}

/// Everything the writes did besides warnings and cases, ids replaced by case names, in the
/// order it was written.
async fn side_effects(app: &TestApp) -> Vec<String> {
    let names = case_names(app).await;
    let db = app.state.db.reader();
    let case_of = |payload: &str| {
        let v: Value = serde_json::from_str(payload).unwrap();
        names[&v["case_id"].as_i64().unwrap()].clone()
    };
    let mut out = Vec::new();
    let jobs: Vec<(i64, String)> =
        sqlx::query_as("SELECT due_at, payload FROM jobs WHERE kind = 'antifraud.deadline' ORDER BY id")
            .fetch_all(db)
            .await
            .unwrap();
    for (due, payload) in jobs {
        let step = serde_json::from_str::<Value>(&payload).unwrap()["step"].clone();
        out.push(format!("deadline {} {step} {due}", case_of(&payload)));
    }
    let lines: Vec<(i64, i64, String, Option<String>, String)> =
        sqlx::query_as("SELECT case_id, at, kind, result, note FROM fraud_case_events ORDER BY id")
            .fetch_all(db)
            .await
            .unwrap();
    for (case, at, kind, result, note) in lines {
        out.push(format!("line {} {at} {kind} {result:?} {note:?}", names[&case]));
    }
    let events: Vec<(Option<i64>, String)> =
        sqlx::query_as("SELECT node_id, payload FROM events WHERE kind = 'antifraud.case' ORDER BY id")
            .fetch_all(db)
            .await
            .unwrap();
    for (node, payload) in events {
        let v: Value = serde_json::from_str(&payload).unwrap();
        out.push(format!("event {} {node:?} {} {}", case_of(&payload), v["grade"], v["change"]));
    }
    let notes: Vec<(i64, String, Option<i64>, String)> =
        sqlx::query_as("SELECT account_id, kind, case_id, payload FROM notifications ORDER BY id")
            .fetch_all(db)
            .await
            .unwrap();
    for (account, kind, case, payload) in notes {
        out.push(format!("note {account} {kind} {:?} {payload}", case.map(|c| names[&c].clone())));
    }
    out
}

#[tokio::test]
async fn live_warnings_written_together_store_what_one_after_another_store() {
    let (one_by_one, together, ids) = twin_apps().await;
    let all = warnings(&ids);

    // One by one: a batch request applies its warnings one after another in one transaction.
    let token = upstream(&one_by_one).await;
    let (status, report) = one_by_one.post("/api/v1/warnings", Some(&token), Value::Array(all.clone())).await;
    assert_eq!(status, 200, "{report}");
    let statuses: Vec<&str> =
        report["results"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();

    // Together: the writer is held while every warning queues, in order, behind the first.
    let state = together.state.clone();
    let (release, held) = tokio::sync::oneshot::channel::<()>();
    let (holding, writer_held) = tokio::sync::oneshot::channel::<()>();
    let blocker = tokio::spawn({
        let db = state.db.clone();
        async move {
            db.grouped(move |_| {
                Box::pin(async move {
                    let _ = holding.send(());
                    let _ = held.await;
                    Ok(())
                })
            })
            .await
        }
    });
    writer_held.await.unwrap();
    let head = together.audit_head().await;
    let now = together.clock.now_ms();
    let settings = Settings::load(&state).await.unwrap();
    let mut items = Vec::new();
    for w in &all {
        let input: WarningInput = serde_json::from_value(w.clone()).unwrap();
        let warning = model::parse(&input, now).unwrap();
        let prepared = intake::prepare(&state, warning, &settings).await.unwrap();
        let entry = pingan::audit::Entry::cli("test.live");
        items.push(Item { prepared, settings: settings.clone(), now, entry });
    }
    // The first poll queues every warning, in order (the test's runtime has one thread, so the
    // writer's task cannot take any before they all are queued); only then is the writer let go.
    let writes = futures_util::future::join_all(items.into_iter().map(|item| state.warning_writer.write(&state, item)));
    let (outcomes, ()) = tokio::join!(writes, async { release.send(()).unwrap() });
    blocker.await.unwrap().unwrap();

    let together_statuses: Vec<&str> = outcomes
        .iter()
        .map(|o| match o.as_ref().unwrap() {
            Ok(r) if r.status == Status::Created => "created",
            Ok(_) => "duplicate",
            Err(_) => "conflict",
        })
        .collect();
    assert_eq!(together_statuses, statuses);
    let created = statuses.iter().filter(|s| **s == "created").count();
    assert_eq!(created, all.len() - 2, "{statuses:?}");

    let (a, b) = (stored(&one_by_one).await, stored(&together).await);
    assert_eq!(a.len(), created);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "warning {} differs: one after another (left), together (right)", x[0]);
    }
    let (a_side, b_side) = (side_effects(&one_by_one).await, side_effects(&together).await);
    assert_eq!(a_side, b_side);
    // The rules did apply: B-02 raised the case B-01 opened and brought a visit deadline forward.
    let row = |id: &str| a.iter().find(|r| r[0] == id).cloned().unwrap();
    assert_eq!(row("B-02")[5], "B-01", "the second warning about the person joins the first's case");
    assert!(row("B-01")[2].contains("|red|"), "{:?}", row("B-01"));
    assert!(a_side.iter().any(|l| l.starts_with("deadline B-01 \"visit\"")), "{a_side:?}");
    assert!(a_side.iter().any(|l| l.starts_with("note ")), "a new case's officer is told: {a_side:?}");

    // One audit entry per stored warning, none for the duplicate or the conflict.
    let entries = together.audit_since(head).await;
    assert_eq!(entries.iter().filter(|e| e.0 == "test.live").count(), created, "{entries:?}");
}
