use crate::helpers::spawn_app;
use serde_json::json;

#[tokio::test]
async fn administrators_create_rename_move_and_retire_units_with_history() {
    let app = spawn_app().await;
    let admin = app.login("sysadmin").await;
    let station = app.node_id("410702010000").await;
    let other_station = app.node_id("410702020000").await;
    let (status, node) = app
        .post(
            "/api/v1/org/nodes",
            Some(&admin),
            json!({"code": "410702010300", "kind": "post", "name": "向阳第3警务室", "parent_id": station}),
        )
        .await;
    assert_eq!(status, 201, "{node}");
    let id = node["id"].as_i64().unwrap();
    let (status, _) = app
        .post(
            "/api/v1/org/nodes",
            Some(&admin),
            json!({"code": "410702010300", "kind": "post", "name": "重复", "parent_id": station}),
        )
        .await;
    assert_eq!(status, 409);
    let (status, body) = app
        .post(
            "/api/v1/org/nodes",
            Some(&admin),
            json!({"code": "X1", "kind": "branch", "name": "错层", "parent_id": station}),
        )
        .await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("kind")));
    assert_eq!(
        app.post(&format!("/api/v1/org/nodes/{id}/rename"), Some(&admin), json!({"name": "向阳新区警务室"})).await.0,
        204
    );
    assert_eq!(
        app.post(&format!("/api/v1/org/nodes/{id}/move"), Some(&admin), json!({"parent_id": other_station})).await.0,
        204
    );
    // The station head of the old station no longer sees it; the closure moved with it.
    let under_other: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM org_closure WHERE ancestor = $1 AND descendant = $2")
            .bind(other_station)
            .bind(id)
            .fetch_one(app.state.db.reader())
            .await
            .unwrap();
    let under_old: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM org_closure WHERE ancestor = $1 AND descendant = $2")
        .bind(station)
        .bind(id)
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    assert_eq!((under_other, under_old), (1, 0));
    assert_eq!(app.post(&format!("/api/v1/org/nodes/{id}/retire"), Some(&admin), json!({})).await.0, 204);
    let (_, detail) = app.get(&format!("/api/v1/org/nodes/{id}"), Some(&admin)).await;
    let changes: Vec<&str> =
        detail["history"].as_array().unwrap().iter().map(|h| h["change"].as_str().unwrap()).collect();
    assert_eq!(changes, ["created", "renamed", "moved", "retired"]);
    assert!(detail["node"]["valid_to"].is_string());
}

#[tokio::test]
async fn retiring_a_unit_with_people_under_it_is_refused_with_a_reason() {
    let app = spawn_app().await;
    let admin = app.login("sysadmin").await;
    let post = app.node_id("410702010100").await;
    let (status, body) = app.post(&format!("/api/v1/org/nodes/{post}/retire"), Some(&admin), json!({})).await;
    assert_eq!(status, 409);
    assert!(body["error"]["reason"].as_str().unwrap().contains("account"));
}

#[tokio::test]
async fn a_unit_cannot_move_under_its_own_subtree() {
    let app = spawn_app().await;
    let admin = app.login("sysadmin").await;
    let station = app.node_id("410702010000").await;
    let branch = app.node_id("410702000000").await;
    let (status, _) =
        app.post(&format!("/api/v1/org/nodes/{branch}/move"), Some(&admin), json!({"parent_id": station})).await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn csv_import_is_all_or_nothing_with_line_numbers() {
    let app = spawn_app().await;
    let admin = app.login("sysadmin").await;
    let bad = "code,kind,name,parent_code,valid_from\n410702030000,station,新站,410702000000,2026-01-01\n410702030100,post,新室,NOPE,\n410702030200,branch,错层,410702030000,\n";
    let resp = app
        .client
        .post(app.at("/api/v1/org/import"))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body(bad)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 422);
    let report: serde_json::Value = resp.json().await.unwrap();
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.iter().map(|e| e["line"].as_i64().unwrap()).collect::<Vec<_>>(), [3, 4]);
    assert_eq!(errors[0]["field"], "parent_code");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM org_nodes WHERE code = '410702030000'")
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    assert_eq!(n, 0, "nothing written");
    let good = "代码,类型,名称,上级代码,生效日期\n410702030000,station,新站,410702000000,2026-01-01\n410702030100,post,新室,410702030000,\n";
    let resp = app
        .client
        .post(app.at("/api/v1/org/import"))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body(good)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let report: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(report["created"], 2);
}

#[tokio::test]
async fn a_file_without_the_header_row_is_reported_as_line_one() {
    let app = spawn_app().await;
    let admin = app.login("sysadmin").await;
    let resp = app
        .client
        .post(app.at("/api/v1/org/import"))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body("a,b\n1,2\n")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 422);
    let report: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(report["errors"][0]["line"], 1, "{report}");
    assert_eq!(report["errors"][0]["field"], "file");
    assert_eq!(report["created"], 0);
}

#[tokio::test]
async fn retiring_a_grid_that_still_holds_residents_is_refused_and_names_them() {
    let app = spawn_app().await;
    let admin = app.login("sysadmin").await;
    // A grid with residents, its team and accounts moved away: only its records keep it alive.
    let grid: i64 = sqlx::query_scalar(
        "SELECT n.id FROM org_nodes n WHERE n.kind = 'grid' \
         AND EXISTS (SELECT 1 FROM residents r WHERE r.node_id = n.id) ORDER BY n.code LIMIT 1",
    )
    .fetch_one(app.state.db.reader())
    .await
    .unwrap();
    sqlx::query("DELETE FROM grid_team WHERE node_id = $1").bind(grid).execute(app.state.db.writer()).await.unwrap();
    sqlx::query("UPDATE accounts SET disabled = 1 WHERE node_id = $1")
        .bind(grid)
        .execute(app.state.db.writer())
        .await
        .unwrap();
    let (status, body) = app.post(&format!("/api/v1/org/nodes/{grid}/retire"), Some(&admin), json!({})).await;
    assert_eq!(status, 409, "{body}");
    let reason = body["error"]["reason"].as_str().unwrap();
    assert!(reason.contains("resident(s)") && reason.contains("address(es)"), "{reason}");
    assert!(!reason.contains("account(s)"), "only the records are left: {reason}");
    let (status, node) = app.get(&format!("/api/v1/org/nodes/{grid}"), Some(&admin)).await;
    assert_eq!(status, 200, "{node}");
    assert!(
        node["node"]["id"] == grid && node["node"]["valid_to"].is_null(),
        "a refused retirement changes nothing: {node}"
    );
}

#[tokio::test]
async fn a_unit_outside_the_callers_tree_answers_404_like_a_missing_one_and_is_audited() {
    let app = spawn_app().await;
    let head = app.login("station_head").await;
    let foreign = app.node_id("410703010000").await; // another station
    let (status, outside) = app.get(&format!("/api/v1/org/nodes/{foreign}"), Some(&head)).await;
    let (missing_status, missing) = app.get("/api/v1/org/nodes/999999", Some(&head)).await;
    assert_eq!((status, missing_status), (404, 404));
    assert_eq!(outside["error"]["reason"], missing["error"]["reason"], "the answers cannot be told apart");
    let denied: Vec<_> = app
        .audit_since(0)
        .await
        .into_iter()
        .filter(|(action, outcome, records, _)| {
            action == "org.read" && outcome == "denied" && records.contains(&format!("node:{foreign}"))
        })
        .collect();
    assert_eq!(denied.len(), 1, "the read outside the tree is audited");
}
