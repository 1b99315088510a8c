//! Anti-fraud early warning: intake, matching, grading, merging, deadlines, case work.

use geo::InteriorPoint;
use serde_json::{json, Value};

use crate::helpers::{id_number, spawn_app, TestApp};

/// An integration token for an upstream system, as the system administrator makes one.
pub async fn upstream(app: &TestApp) -> String {
    let admin = app.login("sysadmin").await;
    let expires = pingan::clock::iso_beijing(app.clock.now_ms() + 30 * 86_400_000);
    let (status, body) = app
        .post(
            "/api/v1/tokens",
            Some(&admin),
            json!({"name": "fzzx", "permissions": ["warnings:write"], "expires_at": expires}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["token"].as_str().unwrap().to_string()
}

/// A resident of grid `grid_code` with an address inside it: (resident id, ID number, phone).
pub async fn resident_in(app: &TestApp, grid_code: &str, seventeen: &str, phone: &str, extra: Value) -> (i64, String) {
    let officer = app.login("station_head").await;
    let wkb: Vec<u8> = sqlx::query_scalar("SELECT shape FROM grid_shapes WHERE node_id = $1")
        .bind(app.node_id(grid_code).await)
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    let p = pingan_geo::wkb::decode(&wkb).unwrap().interior_point().unwrap();
    let text = format!("测试路{seventeen}号");
    let (status, address) =
        app.post("/api/v1/addresses", Some(&officer), json!({"text": text, "lon": p.x(), "lat": p.y()})).await;
    assert_eq!(status, 201, "{address}");
    let id = id_number(seventeen);
    let mut body = json!({"name": "王秀英", "id_number": id, "phones": [phone], "residence": "registered", "address_id": address["id"]});
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        body[k] = v;
    }
    let (status, r) = app.post("/api/v1/residents", Some(&officer), body).await;
    assert_eq!(status, 201, "{r}");
    (r["id"].as_i64().unwrap(), id)
}

pub fn warning(upstream_id: &str, extra: Value) -> Value {
    let mut w = json!({
        "source": "fzzx", "upstream_id": upstream_id, "time": "2026-12-01T09:30:00+08:00",
        "name": "王秀英", "id_number": null, "phone": null, "kind": "investment",
        "contacts_count": 1, "longest_call_s": 30, "app_installed": false, "app_name": null,
        "amount_yuan": null, "flagged_account": null
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        w[k] = v;
    }
    w
}

/// A clock at 2026-12-01 10:00 Beijing, so the warnings above are an half hour old.
pub async fn app_at_ten() -> TestApp {
    let app = spawn_app().await;
    let ten = pingan::clock::parse_beijing("2026-12-01T10:00").unwrap();
    let now = app.clock.now_ms();
    app.clock.advance_ms(ten - now);
    app
}

async fn case(app: &TestApp, token: &str, id: i64) -> Value {
    let (status, body) = app.get(&format!("/api/v1/fraud-cases/{id}"), Some(token)).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn the_same_warning_twice_is_stored_once_and_a_changed_one_is_refused() {
    let app = app_at_ten().await;
    let token = upstream(&app).await;
    let w = warning("A-1", json!({"amount_yuan": "1200.5"}));
    let (status, first) = app.post("/api/v1/warnings", Some(&token), w.clone()).await;
    assert_eq!((status, first["status"].as_str()), (201, Some("created")), "{first}");
    // The same content again, the amount spelt another way: a duplicate, nothing changes.
    let again = warning("A-1", json!({"amount_yuan": 1200.50}));
    let (status, second) = app.post("/api/v1/warnings", Some(&token), again).await;
    assert_eq!((status, second["status"].as_str()), (200, Some("duplicate")), "{second}");
    assert_eq!(first["id"], second["id"]);
    let changed = warning("A-1", json!({"amount_yuan": "99"}));
    let (status, refused) = app.post("/api/v1/warnings", Some(&token), changed).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["field"], "amount_yuan");
    let reason = refused["error"]["reason"].as_str().unwrap();
    assert!(reason.contains(&format!("warning {}", first["id"])), "names the stored warning: {reason}");
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM fraud_warnings").fetch_one(app.state.db.reader()).await.unwrap();
    assert_eq!(n, 1);
    let amount: i64 =
        sqlx::query_scalar("SELECT amount_fen FROM fraud_warnings").fetch_one(app.state.db.reader()).await.unwrap();
    assert_eq!(amount, 120_050, "the first one stands, in fen");
}

#[tokio::test]
async fn malformed_warnings_are_refused_whole_naming_the_field() {
    let app = app_at_ten().await;
    let token = upstream(&app).await;
    let bad_check = {
        let good = id_number("41070219500101002");
        let last = if good.ends_with('0') { "1" } else { "0" };
        format!("{}{last}", &good[..17])
    };
    let cases: Vec<(Value, &str)> = vec![
        (warning("B-1", json!({"id_number": bad_check})), "id_number"),
        (warning("B-2", json!({"time": "2026-02-30T09:00:00+08:00"})), "time"),
        (warning("B-3", json!({"time": "2026-12-01T09:00:00"})), "time"),
        (warning("B-4", json!({"time": "2027-01-01T09:00:00+08:00"})), "time"),
        (warning("B-5", json!({"amount_yuan": -5})), "amount_yuan"),
        (warning("B-6", json!({"amount_yuan": "五百"})), "amount_yuan"),
        (warning("B-7", json!({"kind": "lottery"})), "kind"),
        (warning("B-8", json!({"source": ""})), "source"),
        (warning("", json!({})), "upstream_id"),
        (warning("B-10", json!({"phone": "12345"})), "phone"),
        (warning("B-11", json!({"contacts_count": -1})), "contacts_count"),
        (warning("B-12", json!({"amount_yuan": "1.234"})), "amount_yuan"),
        (warning("B-13", json!({"surprise": 1})), "surprise"),
    ];
    for (body, field) in &cases {
        let (status, answer) = app.post("/api/v1/warnings", Some(&token), body.clone()).await;
        assert_eq!((status, answer["error"]["field"].as_str()), (422, Some(*field)), "{body}: {answer}");
    }
    let mut missing = warning("B-14", json!({}));
    missing.as_object_mut().unwrap().remove("source");
    let (status, answer) = app.post("/api/v1/warnings", Some(&token), missing).await;
    assert_eq!((status, answer["error"]["field"].as_str()), (422, Some("source")), "{answer}");
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM fraud_warnings").fetch_one(app.state.db.reader()).await.unwrap();
    assert_eq!(n, 0, "nothing was stored");
    // In a batch each refused item is reported and the rest are stored.
    let batch = json!([
        warning("C-1", json!({})),
        cases[0].0.clone(),
        warning("C-3", json!({"kind": "lottery"})),
        warning("C-1", json!({}))
    ]);
    let (status, report) = app.post("/api/v1/warnings", Some(&token), batch).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (report["created"].as_i64(), report["duplicates"].as_i64(), report["refused"].as_i64()),
        (Some(1), Some(1), Some(2)),
        "{report}"
    );
    let results = report["results"].as_array().unwrap();
    assert_eq!(results[1]["field"], "id_number");
    assert_eq!(results[2]["field"], "kind");
    assert_eq!(results[3]["status"], "duplicate", "the same key twice in one batch is stored once");
    // Only upstream systems and those allowed may send warnings.
    let officer = app.login("officer").await;
    assert_eq!(app.post("/api/v1/warnings", Some(&officer), warning("D-1", json!({}))).await.0, 403);
    assert_eq!(app.post("/api/v1/warnings", None, warning("D-1", json!({}))).await.0, 401);
}

#[tokio::test]
async fn a_warning_finds_its_resident_by_id_number_and_reaches_the_grids_officer() {
    let app = app_at_ten().await;
    let token = upstream(&app).await;
    let (resident, id) = resident_in(&app, "410702010101", "41070219800202001", "13911112222", json!({})).await;
    let (status, body) = app.post("/api/v1/warnings", Some(&token), warning("E-1", json!({"id_number": id}))).await;
    assert_eq!((status, body["match"].as_str()), (201, Some("id_number")), "{body}");
    let row: (Option<i64>, Option<i64>, Option<i64>, Option<i64>, i64) =
        sqlx::query_as("SELECT resident_id, grid_id, station_id, officer_id, node_id FROM fraud_cases WHERE id = $1")
            .bind(body["case_id"].as_i64().unwrap())
            .fetch_one(app.state.db.reader())
            .await
            .unwrap();
    let grid = app.node_id("410702010101").await;
    let responsible: Option<i64> =
        sqlx::query_scalar("SELECT account_id FROM grid_team WHERE node_id = $1 AND duty = 'responsible'")
            .bind(grid)
            .fetch_optional(app.state.db.reader())
            .await
            .unwrap();
    assert_eq!(row, (Some(resident), Some(grid), Some(app.node_id("410702010000").await), responsible, grid));
    // The responsible officer is told, in the inbox.
    if let Some(officer) = responsible {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM notifications WHERE account_id = $1 AND kind = 'antifraud.case_assigned'",
        )
        .bind(officer)
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
        assert_eq!(n, 1);
    }
}

#[tokio::test]
async fn a_phone_matches_only_when_exactly_one_resident_holds_it() {
    let app = app_at_ten().await;
    let token = upstream(&app).await;
    let (resident, _) = resident_in(&app, "410702010101", "41070219800202011", "13922223333", json!({})).await;
    let (_, one) = app.post("/api/v1/warnings", Some(&token), warning("F-1", json!({"phone": "139 2222 3333"}))).await;
    assert_eq!(one["match"], "phone", "{one}");
    let matched: Option<i64> = sqlx::query_scalar("SELECT resident_id FROM fraud_cases WHERE id = $1")
        .bind(one["case_id"].as_i64().unwrap())
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    assert_eq!(matched, Some(resident));
    // A second holder of another phone... and then the shared phone: two holders, a person chooses.
    let (other, _) = resident_in(&app, "410702010102", "41070219800202012", "13933334444", json!({})).await;
    resident_in(&app, "410702010102", "41070219800202013", "13933334444", json!({})).await;
    let (_, shared) = app.post("/api/v1/warnings", Some(&token), warning("F-2", json!({"phone": "13933334444"}))).await;
    assert_eq!(shared["match"], "pending", "{shared}");
    let head = app.login("station_head").await;
    let detail = case(&app, &head, shared["case_id"].as_i64().unwrap()).await;
    assert_eq!(detail["candidates"].as_array().unwrap().len(), 2, "{detail}");
    // Never by name alone: a name and nothing else matches nobody.
    let (_, named) = app.post("/api/v1/warnings", Some(&token), warning("F-3", json!({"name": "王秀英"}))).await;
    assert_eq!(named["match"], "unmatched");
    // The station head picks the right resident; the case moves to their grid.
    let url = format!("/api/v1/fraud-cases/{}/match", shared["case_id"]);
    let (status, body) = app.post(&url, Some(&head), json!({"resident_id": other})).await;
    assert_eq!(status, 204, "{body}");
    let detail = case(&app, &head, shared["case_id"].as_i64().unwrap()).await;
    assert_eq!(detail["case"]["match"], "manual");
    assert_eq!(detail["resident_id"], other);
}

#[tokio::test]
async fn unmatched_warnings_go_to_the_station_of_their_region_else_the_city_queue() {
    let app = app_at_ten().await;
    let token = upstream(&app).await;
    let commander = app.login("commander").await;
    let (status, body) = app
        .client
        .put(app.at("/api/v1/antifraud/regions"))
        .bearer_auth(&commander)
        .json(&json!({"regions": [{"region": "410781", "station_code": "410703010000"}]}))
        .send()
        .await
        .map(|r| (r.status().as_u16(), r))
        .unwrap();
    assert_eq!(status, 200, "{:?}", body.text().await);
    let mapped = id_number("41078119700101003");
    let (_, a) = app.post("/api/v1/warnings", Some(&token), warning("G-1", json!({"id_number": mapped}))).await;
    let (_, b) = app
        .post("/api/v1/warnings", Some(&token), warning("G-2", json!({"id_number": id_number("11010119700101004")})))
        .await;
    let node = |id: &Value| {
        let id = id.as_i64().unwrap();
        let db = app.state.db.reader().clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT node_id FROM fraud_cases WHERE id = $1")
                .bind(id)
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    assert_eq!(node(&a["case_id"]).await, app.node_id("410703010000").await);
    assert_eq!(node(&b["case_id"]).await, app.node_id("410700000000").await, "the city queue");
    // The region table is the manager's: others are refused, bad rows named.
    let head = app.login("station_head").await;
    let put = |token: String, body: Value| {
        let req = app.client.put(app.at("/api/v1/antifraud/regions")).bearer_auth(token).json(&body);
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    assert_eq!(put(head, json!({"regions": []})).await.0, 403);
    let (status, bad) =
        put(commander.clone(), json!({"regions": [{"region": "4107", "station_code": "410703010000"}]})).await;
    assert_eq!((status, bad["error"]["field"].as_str()), (422, Some("regions[0].region")));
    let (status, bad) =
        put(commander, json!({"regions": [{"region": "410702", "station_code": "410702010100"}]})).await;
    assert_eq!(
        (status, bad["error"]["field"].as_str()),
        (422, Some("regions[0].station_code")),
        "a post is not a station"
    );
}

#[tokio::test]
async fn grading_follows_the_rules_and_the_person() {
    let app = app_at_ten().await;
    let token = upstream(&app).await;
    let send = |uid: &'static str, extra: Value| {
        let token = token.clone();
        let app = &app;
        async move { app.post("/api/v1/warnings", Some(&token), warning(uid, extra)).await.1["grade"].clone() }
    };
    assert_eq!(send("H-1", json!({})).await, "blue");
    assert_eq!(send("H-2", json!({"app_installed": true})).await, "yellow");
    assert_eq!(send("H-3", json!({"contacts_count": 3})).await, "yellow");
    assert_eq!(send("H-4", json!({"amount_yuan": 3000})).await, "red");
    assert_eq!(send("H-5", json!({"longest_call_s": 900})).await, "red");
    // An ID number of someone born in 1950 (76 at the warning): one grade up.
    assert_eq!(send("H-6", json!({"id_number": id_number("11010119500101005")})).await, "yellow");
    // A resident tagged as living alone: one grade up.
    let (_, id) =
        resident_in(&app, "410702010101", "41070219900303007", "13944445555", json!({"tags": ["elderly_alone"]})).await;
    assert_eq!(send("H-7", json!({"id_number": id})).await, "yellow");
    // The manager changes a rule: new warnings follow it, and the change is audited.
    let commander = app.login("commander").await;
    let (_, mut rules) = app.get("/api/v1/antifraud/rules", Some(&commander)).await;
    rules["grading"]["red_call_seconds"] = json!(25);
    rules.as_object_mut().unwrap().remove("version");
    let resp =
        app.client.put(app.at("/api/v1/antifraud/rules")).bearer_auth(&commander).json(&rules).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(send("H-8", json!({})).await, "red", "a 30 s call is now long");
    let audited = app.audit_since(0).await.into_iter().any(|(action, ..)| action == "antifraud.rules.set");
    assert!(audited);
    let (_, v) = app.get("/api/v1/antifraud/rules", Some(&commander)).await;
    assert_eq!(v["version"], 1);
}

#[tokio::test]
async fn repeated_warnings_about_one_person_merge_into_one_case_whose_grade_only_rises() {
    let app = app_at_ten().await;
    let token = upstream(&app).await;
    let (_, id) = resident_in(&app, "410702010101", "41070219800202021", "13955556666", json!({})).await;
    let (_, first) = app.post("/api/v1/warnings", Some(&token), warning("M-1", json!({"id_number": id}))).await;
    assert_eq!(first["grade"], "blue");
    // The same person by phone, an hour later: the same case, now red.
    app.clock.advance_ms(3_600_000);
    let (_, second) = app
        .post("/api/v1/warnings", Some(&token), warning("M-2", json!({"phone": "13955556666", "amount_yuan": 800})))
        .await;
    assert_eq!(second["case_id"], first["case_id"], "{second}");
    // A later blue warning does not bring the case down.
    let (_, third) = app.post("/api/v1/warnings", Some(&token), warning("M-3", json!({"id_number": id}))).await;
    assert_eq!(third["case_id"], first["case_id"]);
    let head = app.login("station_head").await;
    let detail = case(&app, &head, first["case_id"].as_i64().unwrap()).await;
    assert_eq!(
        (detail["case"]["grade"].as_str(), detail["case"]["warnings"].as_i64()),
        (Some("red"), Some(3)),
        "{detail}"
    );
    // Red brings the deadlines forward, from the red warning's receipt.
    let red_at = app.clock.now_ms();
    assert_eq!(detail["case"]["contact_due_at"], red_at + 10 * 60_000);
    assert_eq!(detail["case"]["visit_due_at"], red_at + 60 * 60_000);
    // Past the 72-hour window a new warning opens a new case.
    app.clock.advance_ms(72 * 3_600_000);
    let (_, late) = app.post("/api/v1/warnings", Some(&token), warning("M-4", json!({"id_number": id}))).await;
    assert_ne!(late["case_id"], first["case_id"]);
}
