//! Grid teams (一格一警 and the rest): who may join with which duty, who may change a team, and
//! where a team shows (the API, the grid's card, its page, the event stream).

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{csrf_of, spawn_app, TestApp, PASSWORD};

/// A grid of the demo station head's station, not the demo grid worker's own.
const GRID: &str = "410702010102";

async fn team(app: &TestApp, token: &str, grid: i64) -> Vec<(String, String)> {
    let (status, body) = app.get(&format!("/api/v1/grids/{grid}/team"), Some(token)).await;
    assert_eq!(status, 200, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap().to_string(), m["duty"].as_str().unwrap().to_string()))
        .collect()
}

async fn add(app: &TestApp, token: &str, grid: i64, username: &str, duty: &str) -> (u16, Value) {
    let account = app.account_id(username).await;
    app.post(&format!("/api/v1/grids/{grid}/team"), Some(token), json!({"account_id": account, "duty": duty})).await
}

fn refused(got: (u16, Value), field: &str) {
    assert_eq!((got.0, got.1["error"]["field"].as_str()), (422, Some(field)), "{}", got.1);
}

#[tokio::test]
async fn a_station_head_builds_a_grid_team_within_the_rules() {
    let app = spawn_app().await;
    let head = app.login("station_head").await;
    let grid = app.node_id(GRID).await;
    // The role must fit the duty: a grid worker is no auxiliary, an auxiliary no sworn officer.
    refused(add(&app, &head, grid, "gridworker", "auxiliary").await, "duty");
    refused(add(&app, &head, grid, "auxiliary", "responsible").await, "duty");
    refused(add(&app, &head, grid, "other_station_head", "community_officer").await, "account_id");
    let (status, body) =
        app.post(&format!("/api/v1/grids/{grid}/team"), Some(&head), json!({"account_id": 1, "duty": "chief"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("duty")), "a closed set of duties: {body}");
    let (status, body) = add(&app, &head, grid, "gridworker", "grid_worker").await;
    assert_eq!(status, 201, "{body}");
    assert!(team(&app, &head, grid).await.contains(&("陈秀兰".into(), "grid_worker".into())));
    assert_eq!(add(&app, &head, grid, "gridworker", "grid_worker").await.0, 409, "already in the team");

    // A new responsible officer replaces the one before, who leaves the team; audited.
    let before: Option<i64> =
        sqlx::query_scalar("SELECT account_id FROM grid_team WHERE node_id = $1 AND duty = 'responsible'")
            .bind(grid)
            .fetch_optional(app.state.db.reader())
            .await
            .unwrap();
    let seq = app.audit_head().await;
    let (status, body) = add(&app, &head, grid, "officer", "responsible").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body[0]["name"], "张宏伟", "the responsible officer heads the team: {body}");
    assert_eq!(body.as_array().unwrap().iter().filter(|m| m["duty"] == "responsible").count(), 1);
    let entries = app.audit_since(seq).await;
    let (_, _, records, detail) = entries.iter().find(|e| e.0 == "grid.team.add").expect("audited");
    assert!(
        records.contains(&format!(",node:{grid},"))
            && records.contains(&format!(",account:{},", app.account_id("officer").await))
    );
    if let Some(old) = before {
        assert!(
            records.contains(&format!(",account:{old},")) && detail.contains(&old.to_string()),
            "{records} {detail}"
        );
        assert!(!body.as_array().unwrap().iter().any(|m| m["account_id"] == old), "the old one left the team");
    }
    assert_eq!(add(&app, &head, grid, "officer", "community_officer").await.0, 409);

    // A disabled account cannot join.
    let admin = app.login("sysadmin").await;
    let volunteer = app.account_id("volunteer").await;
    let (status, _) =
        app.post(&format!("/api/v1/accounts/{volunteer}/change"), Some(&admin), json!({"action": "disable"})).await;
    assert_eq!(status, 200);
    refused(add(&app, &head, grid, "volunteer", "volunteer").await, "account_id");

    // Removing a member; removing them again finds no one.
    let gw = app.account_id("gridworker").await;
    let remove = |token: String| {
        let app = &app;
        async move {
            let resp = app
                .client
                .delete(app.at(&format!("/api/v1/grids/{grid}/team/{gw}")))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            resp.status().as_u16()
        }
    };
    assert_eq!(remove(head.clone()).await, 204);
    assert_eq!(remove(head.clone()).await, 404);
    assert!(!team(&app, &head, grid).await.iter().any(|(n, _)| n == "陈秀兰"));
}

#[tokio::test]
async fn only_those_who_manage_the_grid_change_its_team() {
    let app = spawn_app().await;
    let grid = app.node_id(GRID).await;
    let officer = app.login("officer").await;
    assert_eq!(add(&app, &officer, grid, "gridworker", "grid_worker").await.0, 403, "an officer assigns no one");
    let other = app.login("other_station_head").await;
    assert_eq!(add(&app, &other, grid, "gridworker", "grid_worker").await.0, 404, "another station's grid");
    assert_eq!(app.get(&format!("/api/v1/grids/{grid}/team"), Some(&other)).await.0, 404);
    // The system administrator may, as before, with the same checks: the account must be in the
    // grid's station, whoever asks.
    let admin = app.login("sysadmin").await;
    let (status, body) = add(&app, &admin, grid, "other_station_head", "community_officer").await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("account_id")), "{body}");
    assert!(body["error"]["reason"].as_str().unwrap().contains("410702010000"), "{body}");
    let (status, body) = app
        .post(
            &format!("/api/v1/grids/{grid}/responsible"),
            Some(&admin),
            json!({"account_id": app.account_id("auxiliary").await}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("duty")),
        "the older call checks the same: {body}"
    );
    assert_eq!(add(&app, &admin, grid, "gridworker", "grid_worker").await.0, 201);
}

/// Reads server-sent events until one of `kind` arrives (10 s at most): its data.
async fn next_event(resp: &mut reqwest::Response, kind: &str) -> Value {
    let mut buf = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk()).await.expect("an event within 10 s").unwrap();
        buf.push_str(&String::from_utf8_lossy(&chunk.expect("the stream stays open")));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let field = |name: &str| block.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string());
            if field("event:").as_deref() == Some(kind) {
                return serde_json::from_str(&field("data:").unwrap()).unwrap();
            }
        }
    }
}

#[tokio::test]
async fn a_team_change_reaches_the_event_stream_and_the_grid_s_card() {
    let app = spawn_app().await;
    let head = app.login("station_head").await;
    let grid = app.node_id(GRID).await;
    let mut stream = app.client.get(app.at("/api/v1/events")).bearer_auth(&head).send().await.unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    assert_eq!(add(&app, &head, grid, "gridworker", "grid_worker").await.0, 201);
    let event = next_event(&mut stream, "grid.team").await;
    assert_eq!((event["grid_id"].as_i64(), event["change"].as_str()), (Some(grid), Some("added")), "{event}");
    let (status, card) = app.get(&format!("/api/v1/grids/{grid}/card"), Some(&head)).await;
    assert_eq!(status, 200, "{card}");
    let member = card["team"].as_array().unwrap().iter().find(|m| m["name"] == "陈秀兰").cloned();
    assert_eq!(member.map(|m| m["duty"].clone()), Some(json!("grid_worker")), "{card}");
}

/// The team table of a grid's page (not the form's choices below it).
fn team_table(page: &str) -> &str {
    page.split("id=\"team\"").nth(1).and_then(|t| t.split("</table>").next()).unwrap_or("")
}

#[tokio::test]
async fn the_grid_page_shows_the_team_and_its_forms_change_it() {
    let app = spawn_app().await;
    app.exempt_all_roles_from_mfa().await;
    let grid = app.node_id(GRID).await;
    let (client, _) = app.web_login("station_head", PASSWORD).await;
    let path = format!("/grids/{grid}");
    let (status, page, _) = app.page(&client, &path).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("网格团队") && page.contains("id=\"add-member\""), "{page}");
    let gw = app.account_id("gridworker").await.to_string();
    assert!(page.contains(&format!("value=\"{gw}\"")), "the grid worker is offered");
    let form = [("csrf", csrf_of(&page)), ("account_id", gw.clone()), ("duty", "grid_worker".into())];
    let resp = client.post(app.at(&format!("{path}/team"))).form(&form).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    let (_, page, _) = app.page(&client, &format!("{path}?saved=1")).await;
    let table = team_table(&page);
    assert!(table.contains("陈秀兰") && table.contains("网格员"), "{page}");
    // A refusal comes back on the page, naming the field.
    let aux = app.account_id("auxiliary").await.to_string();
    let form = [("csrf", csrf_of(&page)), ("account_id", aux), ("duty", "responsible".into())];
    let resp = client.post(app.at(&format!("{path}/team"))).form(&form).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("role=\"alert\"") && html.contains("<code>duty</code>"), "{html}");
    let resp = client
        .post(app.at(&format!("{path}/team/{gw}/remove")))
        .form(&[("csrf", csrf_of(&page))])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    let (_, page, _) = app.page(&client, &path).await;
    assert!(!team_table(&page).contains("陈秀兰"), "{page}");
    // An officer sees the team but no forms.
    let (officer, _) = app.web_login("officer", PASSWORD).await;
    let (status, page, _) = app.page(&officer, &path).await;
    assert_eq!(status, 200);
    assert!(!page.contains("id=\"add-member\""));
}

#[tokio::test]
async fn every_demo_grid_has_a_whole_team_and_some_lack_a_responsible_officer() {
    let app = spawn_app().await;
    let admin = app.login("sysadmin").await;
    let grids: Vec<(i64, String)> = sqlx::query_as("SELECT id, code FROM org_nodes WHERE kind = 'grid' ORDER BY code")
        .fetch_all(app.state.db.reader())
        .await
        .unwrap();
    assert_eq!(grids.len(), 36);
    let mut gaps = 0;
    for (id, code) in &grids {
        let duties: Vec<String> = team(&app, &admin, *id).await.into_iter().map(|m| m.1).collect();
        for duty in ["community_officer", "auxiliary", "grid_worker", "volunteer"] {
            assert!(duties.iter().any(|d| d == duty), "grid {code} has no {duty}: {duties:?}");
        }
        gaps += usize::from(!duties.iter().any(|d| d == "responsible"));
    }
    assert!(gaps > 0 && gaps < 36, "{gaps} grids without a responsible officer");
    let demo = app.node_id("410702010101").await;
    let names: Vec<String> = team(&app, &admin, demo).await.into_iter().map(|m| m.0).collect();
    for who in ["陈秀兰", "赵大勇", "刘小军"] {
        assert!(names.iter().any(|n| n == who), "the demo account {who} works the demo grid: {names:?}");
    }
}
