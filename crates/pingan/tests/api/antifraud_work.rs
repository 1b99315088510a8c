//! Anti-fraud cases over time: deadlines that escalate, a restart in between, the work of the
//! responsible officer, and the walls between stations.

use serde_json::{json, Value};

use crate::antifraud::{resident_in, upstream, warning};
use crate::helpers::{spawn_app, TestApp};

async fn at_ten() -> TestApp {
    let app = spawn_app().await;
    let ten = pingan::clock::parse_beijing("2026-12-01T10:00").unwrap();
    let now = app.clock.now_ms();
    app.clock.advance_ms(ten - now);
    app
}

async fn red_case(app: &TestApp, uid: &str, seventeen: &str, phone: &str) -> i64 {
    let token = upstream(app).await;
    let (_, id) = resident_in(app, "410702010101", seventeen, phone, json!({})).await;
    let (status, body) =
        app.post("/api/v1/warnings", Some(&token), warning(uid, json!({"id_number": id, "amount_yuan": 5000}))).await;
    assert_eq!((status, body["grade"].as_str()), (201, Some("red")), "{body}");
    body["case_id"].as_i64().unwrap()
}

async fn inbox(app: &TestApp, username: &str) -> Vec<Value> {
    let token = app.login(username).await;
    let (status, body) = app.get("/api/v1/notifications", Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

async fn escalation(app: &TestApp, case: i64) -> i64 {
    sqlx::query_scalar("SELECT escalation FROM fraud_cases WHERE id = $1")
        .bind(case)
        .fetch_one(app.state.db.reader())
        .await
        .unwrap()
}

#[tokio::test]
async fn an_overdue_red_case_escalates_to_the_station_head_then_the_branch() {
    let app = at_ten().await;
    let case = red_case(&app, "R-1", "41070219800202031", "13966667777").await;
    pingan::jobs::run_due(&app.state).await.unwrap();
    assert_eq!(escalation(&app, case).await, 0, "nothing is due yet");
    app.clock.advance_ms(10 * 60_000 + 1);
    pingan::jobs::run_due(&app.state).await.unwrap();
    assert_eq!(escalation(&app, case).await, 1);
    let head = inbox(&app, "station_head").await;
    assert!(head.iter().any(|n| n["kind"] == "antifraud.escalated" && n["case_id"] == case), "{head:?}");
    assert!(inbox(&app, "branch_leader").await.is_empty(), "the branch is not told yet");
    // Another station's head reads nothing of it.
    assert!(inbox(&app, "other_station_head").await.iter().all(|n| n["case_id"] != case));
    app.clock.advance_ms(30 * 60_000);
    pingan::jobs::run_due(&app.state).await.unwrap();
    assert_eq!(escalation(&app, case).await, 2);
    let branch = inbox(&app, "branch_leader").await;
    assert!(branch.iter().any(|n| n["kind"] == "antifraud.escalated" && n["case_id"] == case), "{branch:?}");
    app.clock.advance_ms(20 * 60_000);
    pingan::jobs::run_due(&app.state).await.unwrap();
    // The face-to-face deadline (60 min) escalated on its own, once per step.
    let steps: Vec<String> = sqlx::query_scalar(
        "SELECT result FROM fraud_case_events WHERE case_id = $1 AND kind = 'escalated' ORDER BY id",
    )
    .bind(case)
    .fetch_all(app.state.db.reader())
    .await
    .unwrap();
    assert_eq!(steps, ["contact:station", "contact:branch", "visit:station"], "{steps:?}");
    let audited =
        app.audit_since(0).await.into_iter().filter(|(action, ..)| action == "antifraud.case.escalate").count();
    assert_eq!(audited, 3);
}

#[tokio::test]
async fn a_case_contacted_in_time_does_not_escalate() {
    let app = at_ten().await;
    let case = red_case(&app, "R-2", "41070219800202041", "13977778888").await;
    let officer = app.login("station_head").await;
    let url = format!("/api/v1/fraud-cases/{case}/actions");
    app.clock.advance_ms(5 * 60_000);
    let (status, body) = app
        .post(
            &url,
            Some(&officer),
            json!({"action": "contact", "method": "call", "reached": true, "note": "已电话劝阻"}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    app.clock.advance_ms(6 * 60_000);
    pingan::jobs::run_due(&app.state).await.unwrap();
    assert_eq!(escalation(&app, case).await, 0, "the call was in time");
    // The visit was not: that step escalates.
    app.clock.advance_ms(50 * 60_000);
    pingan::jobs::run_due(&app.state).await.unwrap();
    assert_eq!(escalation(&app, case).await, 1);
}

#[tokio::test]
async fn deadlines_survive_a_restart_and_fire_once_across_servers() {
    let mut first = at_ten().await;
    let case = red_case(&first, "R-3", "41070219800202051", "13988889999").await;
    assert!(first.shut_down().await);
    // A new server on the same database, and another beside it.
    let second = first.second_server().await;
    let third = first.second_server().await;
    second.clock.advance_ms(11 * 60_000);
    pingan::jobs::run_due(&second.state).await.unwrap();
    pingan::jobs::run_due(&third.state).await.unwrap();
    let lines: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM fraud_case_events WHERE case_id = $1 AND kind = 'escalated'")
            .bind(case)
            .fetch_one(second.state.db.reader())
            .await
            .unwrap();
    assert_eq!(lines, 1, "the deadline fired once");
    let notes: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE case_id = $1 AND kind = 'antifraud.escalated'")
            .bind(case)
            .fetch_one(second.state.db.reader())
            .await
            .unwrap();
    assert_eq!(notes, 1);
}

#[tokio::test]
async fn history_creates_no_deadline_no_event_and_stays_out_of_the_queue() {
    let app = at_ten().await;
    let token = upstream(&app).await;
    let jobs_before: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM jobs").fetch_one(app.state.db.reader()).await.unwrap();
    let events_before = pingan::events::latest_id(&app.state.db).await.unwrap();
    let old = warning("HIST-1", json!({"time": "2026-03-01T08:00:00+08:00", "amount_yuan": 100}));
    let (status, body) = app.post("/api/v1/warnings?history=true", Some(&token), old).await;
    assert_eq!(status, 201, "{body}");
    let jobs_after: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM jobs").fetch_one(app.state.db.reader()).await.unwrap();
    assert_eq!(jobs_after, jobs_before);
    assert_eq!(pingan::events::latest_id(&app.state.db).await.unwrap(), events_before);
    let commander = app.login("commander").await;
    let (_, open) = app.get("/api/v1/fraud-cases", Some(&commander)).await;
    assert_eq!(open["total"], 0, "{open}");
    let (_, history) = app.get("/api/v1/fraud-cases?state=history", Some(&commander)).await;
    assert_eq!(history["total"], 1, "{history}");
}

#[tokio::test]
async fn the_officer_works_a_case_to_its_outcome() {
    let app = at_ten().await;
    let case = red_case(&app, "W-1", "41070219800202061", "13912120000").await;
    let officer = app.login("station_head").await;
    let url = format!("/api/v1/fraud-cases/{case}/actions");
    let act = |body: Value| app.post(&url, Some(&officer), body);
    // Refusals first: each names its field and changes nothing.
    let (status, body) = act(json!({"action": "close", "outcome": "unreachable"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("outcome")), "{body}");
    let (status, body) = act(json!({"action": "close", "outcome": "dissuaded"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("outcome")), "contact comes first: {body}");
    let (status, body) = act(json!({"action": "contact", "method": "phone", "reached": true})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("method")), "{body}");
    // A missed call, then the visit.
    assert_eq!(act(json!({"action": "contact", "method": "call", "reached": false})).await.0, 204);
    assert_eq!(act(json!({"action": "contact", "method": "visit", "reached": true, "note": "上门劝阻"})).await.0, 204);
    let (status, body) = act(json!({"action": "close", "outcome": "defrauded"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("amount_yuan")), "{body}");
    let (status, body) = act(json!({"action": "close", "outcome": "dissuaded", "amount_yuan": "5000"})).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = act(json!({"action": "close", "outcome": "not_fraud", "note": "核实为正常转账"})).await;
    assert_eq!(status, 409, "closed once: {body}");
    assert_eq!(act(json!({"action": "follow_up", "note": "三天后回访，未再受骗"})).await.0, 204);
    let (_, detail) = app.get(&format!("/api/v1/fraud-cases/{case}"), Some(&officer)).await;
    assert_eq!(detail["case"]["state"], "closed");
    assert_eq!(detail["case"]["outcome"], "dissuaded");
    assert_eq!(detail["amount_protected_fen"], 500_000);
    let kinds: Vec<&str> = detail["timeline"].as_array().unwrap().iter().map(|t| t["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["warning", "call", "visit", "closed", "follow_up"], "{detail}");
    // Nothing is due any more: no escalation later.
    app.clock.advance_ms(2 * 3_600_000);
    pingan::jobs::run_due(&app.state).await.unwrap();
    assert_eq!(escalation(&app, case).await, 0);
}

#[tokio::test]
async fn another_stations_officers_cannot_see_or_act_on_the_case_and_are_audited() {
    let app = at_ten().await;
    let case = red_case(&app, "S-1", "41070219800202071", "13912121111").await;
    let other = app.login("other_station_head").await;
    let (status, _) = app.get(&format!("/api/v1/fraud-cases/{case}"), Some(&other)).await;
    let (missing, _) = app.get("/api/v1/fraud-cases/999999", Some(&other)).await;
    assert_eq!((status, missing), (404, 404));
    let url = format!("/api/v1/fraud-cases/{case}/actions");
    let (status, _) =
        app.post(&url, Some(&other), json!({"action": "contact", "method": "call", "reached": true})).await;
    assert_eq!(status, 404);
    let (_, list) = app.get("/api/v1/fraud-cases", Some(&other)).await;
    assert!(list["items"].as_array().unwrap().iter().all(|c| c["id"] != case), "{list}");
    let denied: Vec<_> = app
        .audit_since(0)
        .await
        .into_iter()
        .filter(|(action, outcome, records, _)| {
            action.starts_with("antifraud.case.")
                && outcome == "denied"
                && records.contains(&format!("fraud_case:{case}"))
        })
        .collect();
    assert_eq!(denied.len(), 2, "{denied:?}");
    // The own station's auxiliary sees it masked, and may not unmask.
    let aux = app.login("auxiliary").await;
    let (status, masked) = app.get(&format!("/api/v1/fraud-cases/{case}"), Some(&aux)).await;
    assert_eq!(status, 200, "{masked}");
    assert_eq!(masked["case"]["name"], "王*");
    let (status, _) = app
        .post(
            &format!("/api/v1/fraud-cases/{case}/unmask"),
            Some(&aux),
            json!({"field": "phone", "reason": "联系当事人"}),
        )
        .await;
    assert_eq!(status, 403);
    // The station head unmasks the phone for a reason, which the audit log keeps.
    let head = app.login("station_head").await;
    let (status, phone) = app
        .post(
            &format!("/api/v1/fraud-cases/{case}/unmask"),
            Some(&head),
            json!({"field": "phone", "reason": "联系当事人"}),
        )
        .await;
    assert_eq!((status, phone["value"].as_str()), (200, None), "the warning carried no phone: {phone}");
    let (status, id) = app
        .post(
            &format!("/api/v1/fraud-cases/{case}/unmask"),
            Some(&head),
            json!({"field": "id_number", "reason": "核实身份"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(id["value"].as_str().map(str::len), Some(18));
    let reasons: Vec<String> = app
        .audit_since(0)
        .await
        .into_iter()
        .filter(|(a, ..)| a == "antifraud.case.unmask")
        .map(|(_, _, _, d)| d)
        .collect();
    assert!(reasons.iter().any(|d| d.contains("核实身份")), "{reasons:?}");
}
