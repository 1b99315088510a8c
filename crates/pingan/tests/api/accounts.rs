use crate::helpers::spawn_app;
use serde_json::json;

#[tokio::test]
async fn system_administrator_cannot_grant_roles_or_data_access() {
    let app = spawn_app().await;
    let admin = app.login("sysadmin").await;
    let me = app.account_id("sysadmin").await;
    let officer = app.account_id("officer").await;
    for target in [me, officer] {
        let (status, _) = app
            .post(
                &format!("/api/v1/accounts/{target}/change"),
                Some(&admin),
                json!({"action": "set_roles", "roles": ["city_commander"]}),
            )
            .await;
        assert_eq!(status, 403);
    }
    let node = app.node_id("410700000000").await;
    let (status, _) = app
        .post(
            "/api/v1/grants",
            Some(&admin),
            json!({"account_id": officer, "node_id": node, "level": "full", "reason": "需要查看"}),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .post(
            "/api/v1/accounts",
            Some(&admin),
            json!({"username": "newbie", "name": "新人", "node_id": node, "roles": ["auditor"]}),
        )
        .await;
    assert_eq!(status, 403, "creating an account with roles is assigning roles");
}

#[tokio::test]
async fn security_administrator_assigns_roles_but_never_to_itself() {
    let app = spawn_app().await;
    let sec = app.login("secadmin").await;
    let me = app.account_id("secadmin").await;
    let (status, _) = app
        .post(
            &format!("/api/v1/accounts/{me}/change"),
            Some(&sec),
            json!({"action": "set_roles", "roles": ["city_commander"]}),
        )
        .await;
    assert_eq!(status, 403);
    let aux = app.account_id("auxiliary").await;
    let (status, _) = app
        .post(
            &format!("/api/v1/accounts/{aux}/change"),
            Some(&sec),
            json!({"action": "set_roles", "roles": ["community_officer"]}),
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn auditor_reads_the_audit_log_and_nothing_else_and_its_searches_are_audited() {
    let app = spawn_app().await;
    let auditor = app.login("auditor").await;
    assert_eq!(app.get("/api/v1/accounts", Some(&auditor)).await.0, 403);
    assert_eq!(app.get("/api/v1/org/nodes", Some(&auditor)).await.0, 403);
    let head = app.audit_head().await;
    let (status, body) = app.get("/api/v1/audit?action=auth.", Some(&auditor)).await;
    assert_eq!(status, 200);
    assert!(body["total"].as_i64().unwrap() >= 1);
    assert!(app.audit_since(head).await.iter().any(|e| e.0 == "audit.search"));
}

#[tokio::test]
async fn accounts_outside_jurisdiction_answer_404_and_the_attempt_is_audited() {
    let app = spawn_app().await;
    let head_token = app.login("station_head").await;
    let own = app.account_id("officer").await;
    let foreign = app.account_id("other_station_head").await;
    assert_eq!(app.get(&format!("/api/v1/accounts/{own}"), Some(&head_token)).await.0, 200);
    let head = app.audit_head().await;
    let (status, outside) = app.get(&format!("/api/v1/accounts/{foreign}"), Some(&head_token)).await;
    let (status_missing, missing) = app.get("/api/v1/accounts/999999", Some(&head_token)).await;
    assert_eq!((status, status_missing), (404, 404));
    assert_eq!(outside["error"]["code"], missing["error"]["code"]);
    let denied: Vec<_> = app.audit_since(head).await.into_iter().filter(|e| e.1 == "denied").collect();
    assert!(denied.iter().any(|e| e.2.contains(&format!(",account:{foreign},"))));
    // The list shows only the station's own accounts.
    let (_, list) = app.get("/api/v1/accounts?per_page=200", Some(&head_token)).await;
    let names: Vec<&str> = list["items"].as_array().unwrap().iter().map(|a| a["username"].as_str().unwrap()).collect();
    assert!(names.contains(&"officer"));
    assert!(!names.contains(&"other_station_head"));
}

#[tokio::test]
async fn a_grant_widens_the_scope_until_revoked() {
    let app = spawn_app().await;
    let sec = app.login("secadmin").await;
    let head_token = app.login("station_head").await;
    let foreign = app.account_id("other_station_head").await;
    let station = app.node_id("410703010000").await;
    let grantee = app.account_id("station_head").await;
    let (status, id) = app
        .post(
            "/api/v1/grants",
            Some(&sec),
            json!({"account_id": grantee, "node_id": station, "level": "masked", "reason": "联合办案"}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(app.get(&format!("/api/v1/accounts/{foreign}"), Some(&head_token)).await.0, 200);
    // Masked level: no unmasking there.
    let (status, _) = app
        .post(&format!("/api/v1/accounts/{foreign}/unmask-phone"), Some(&head_token), json!({"reason": "联系本人核实"}))
        .await;
    assert_eq!(status, 403);
    app.post(&format!("/api/v1/grants/{}/revoke", id["id"].as_i64().unwrap()), Some(&sec), json!({})).await;
    assert_eq!(app.get(&format!("/api/v1/accounts/{foreign}"), Some(&head_token)).await.0, 404);
}

#[tokio::test]
async fn phones_are_masked_and_unmasked_only_with_a_reason_that_is_audited() {
    let app = spawn_app().await;
    let head_token = app.login("station_head").await;
    let id = app.account_id("officer").await;
    let (_, account) = app.get(&format!("/api/v1/accounts/{id}"), Some(&head_token)).await;
    let masked = account["phone"].as_str().unwrap();
    assert!(masked.contains("****"), "{masked}");
    let (status, body) =
        app.post(&format!("/api/v1/accounts/{id}/unmask-phone"), Some(&head_token), json!({"reason": ""})).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["field"], "reason");
    // The API document bounds what is sent: 201 characters are refused even when trimming would
    // leave 200.
    let padded = format!("\n{}", "核".repeat(200));
    let (status, body) =
        app.post(&format!("/api/v1/accounts/{id}/unmask-phone"), Some(&head_token), json!({"reason": padded})).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["field"], "reason");
    let head = app.audit_head().await;
    let (status, body) = app
        .post(&format!("/api/v1/accounts/{id}/unmask-phone"), Some(&head_token), json!({"reason": "通知紧急集合"}))
        .await;
    assert_eq!(status, 200);
    let full = body["phone"].as_str().unwrap();
    assert_eq!(full.len(), 11);
    assert_eq!(&full[..3], &masked[..3]);
    let entries = app.audit_since(head).await;
    assert!(entries.iter().any(|e| e.0 == "account.unmask_phone" && e.3.contains("通知紧急集合")));
    assert!(entries.iter().all(|e| !e.3.contains(full)), "the number itself is not in the audit log");
}

#[tokio::test]
async fn the_raw_database_holds_no_plaintext_id_number_or_phone() {
    let app = spawn_app().await;
    let admin = app.login("sysadmin").await;
    let node = app.node_id("410702010100").await;
    let (status, _) = app
        .post(
            "/api/v1/accounts",
            Some(&admin),
            json!({"username": "plain", "name": "明文", "node_id": node, "phone": "13812345678"}),
        )
        .await;
    assert_eq!(status, 201);
    let officer = app.login("officer").await;
    let id = crate::helpers::id_number("41070219790315123");
    let (status, body) = app
        .post(
            "/api/v1/residents",
            Some(&officer),
            json!({"name": "明文乙", "id_number": id, "phones": ["13787654321"], "residence": "registered"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    // The officer looks the person up by the whole number: the search is audited, the number is not.
    let (status, found) = app.post("/api/v1/residents/search", Some(&officer), json!({"id_number": id})).await;
    assert_eq!((status, found["total"].as_i64()), (200, Some(1)), "{found}");
    let secrets = [id.as_str(), "13812345678", "13787654321"];
    if app.state.db.backend == pingan::db::Backend::Sqlite {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(app.state.db.writer()).await.unwrap();
        let path = app.url.trim_start_matches("sqlite://");
        let bytes = std::fs::read(path).unwrap();
        for s in secrets {
            assert!(!contains(&bytes, s.as_bytes()), "{s} is in the database file in the clear");
        }
        assert!(!crate::helpers::holds_demo_phone(&bytes), "a demo phone is in the database file in the clear");
    } else {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
        )
        .fetch_all(app.state.db.reader())
        .await
        .unwrap();
        assert!(tables.len() > 20 && tables.iter().any(|t| t == "resident_phones"), "{tables:?}");
        for t in tables {
            let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT CAST(t AS TEXT) FROM {t} t"))
                .fetch_all(app.state.db.reader())
                .await
                .unwrap();
            for s in secrets {
                assert!(rows.iter().all(|r| !r.contains(s)), "{s} is in {t} in the clear");
            }
            let phone = rows.iter().find(|r| crate::helpers::holds_demo_phone(r.as_bytes()));
            assert!(phone.is_none(), "a demo phone is in {t} in the clear: {phone:?}");
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn account_import_reports_every_bad_row_and_writes_nothing() {
    let app = spawn_app().await;
    let admin = app.login("sysadmin").await;
    let csv = "用户名,姓名,警号,手机号,单位代码\nnew_one,新人甲,,13800000001,410702010100\nx,新人乙,,12345,410702010100\nnew_three,新人丙,,,999\n";
    let resp = app
        .client
        .post(app.at("/api/v1/accounts/import"))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 422);
    let report: serde_json::Value = resp.json().await.unwrap();
    let lines: Vec<i64> = report["errors"].as_array().unwrap().iter().map(|e| e["line"].as_i64().unwrap()).collect();
    assert!(lines.contains(&3) && lines.contains(&4), "{report}");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE username = 'new_one'")
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    assert_eq!(n, 0);
    let good = "username,name,police_number,phone,node_code\nnew_one,新人甲,,13800000001,410702010100\n";
    let resp = app
        .client
        .post(app.at("/api/v1/accounts/import"))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body(good)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let report: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(report["created"], 1);
}

#[tokio::test]
async fn the_security_administrator_defines_roles_from_the_closed_set() {
    let app = spawn_app().await;
    let sec = app.login("secadmin").await;
    let admin = app.login("sysadmin").await;
    let role = json!({"code": "village_assistant", "name_zh": "警务助理", "name_en": "Police assistant", "permissions": ["people:counts"]});
    assert_eq!(app.post("/api/v1/roles", Some(&admin), role.clone()).await.0, 403, "not the system administrator");
    let (status, body) = app
        .post(
            "/api/v1/roles",
            Some(&sec),
            json!({"code": "x_1", "name_zh": "越权", "name_en": "x", "permissions": ["root:all"]}),
        )
        .await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("permissions")));
    let (status, _) = app
        .post(
            "/api/v1/roles",
            Some(&sec),
            json!({"code": "station_head", "name_zh": "改", "name_en": "x", "permissions": []}),
        )
        .await;
    assert_eq!(status, 409, "built-in roles stay as they are");
    assert_eq!(app.post("/api/v1/roles", Some(&sec), role).await.0, 200);

    let aux = app.account_id("auxiliary").await;
    let (status, _) = app
        .post(
            &format!("/api/v1/accounts/{aux}/change"),
            Some(&sec),
            json!({"action": "set_roles", "roles": ["village_assistant"]}),
        )
        .await;
    assert_eq!(status, 200);
    let token = app.login("auxiliary").await;
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).await.1["permissions"], json!(["people:counts"]));
    // Changing the role signs its holders out, so no session runs on the old set.
    let wider = json!({"code": "village_assistant", "name_zh": "警务助理", "name_en": "Police assistant", "permissions": ["people:counts", "org:read"]});
    assert_eq!(app.post("/api/v1/roles", Some(&sec), wider).await.0, 200);
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).await.0, 401);
}

#[tokio::test]
async fn account_search_treats_underscores_literally() {
    let app = spawn_app().await;
    let sysadmin = app.login("sysadmin").await;
    let (status, body) = app.get("/api/v1/accounts?q=station_head", Some(&sysadmin)).await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> = body["items"].as_array().unwrap().iter().map(|a| a["username"].as_str().unwrap()).collect();
    assert!(names.contains(&"station_head") && names.contains(&"other_station_head"), "{names:?}");
    let (_, none) = app.get("/api/v1/accounts?q=station_hea_", Some(&sysadmin)).await;
    assert_eq!(none["total"], 0, "`_` is not a wildcard: {none}");
}

#[tokio::test]
async fn administrators_who_manage_accounts_see_no_figures_about_people() {
    let app = spawn_app().await;
    let officer = app.login("officer").await;
    let (_, mine) = app.get("/api/v1/grids/stats", Some(&officer)).await;
    let residents =
        |v: &serde_json::Value| v.as_array().unwrap().iter().map(|g| g["residents"].as_i64().unwrap()).sum::<i64>();
    assert!(residents(&mine) > 0, "the officer sees the residents of their grids: {mine}");
    for admin in ["sysadmin", "secadmin"] {
        let token = app.login(admin).await;
        let (status, body) = app.get("/api/v1/grids/stats", Some(&token)).await;
        assert_eq!(status, 200);
        assert_eq!(residents(&body), 0, "{admin} manages accounts, not people: {body}");
        let (status, found) = app.post("/api/v1/residents/search", Some(&token), serde_json::json!({})).await;
        assert!(
            status == 403 || (status == 200 && found["total"] == 0),
            "{admin} finds no residents: {status} {found}"
        );
    }
    // Still, the system administrator manages every account in the bureau.
    let sysadmin = app.login("sysadmin").await;
    let (_, accounts) = app.get("/api/v1/accounts?per_page=200", Some(&sysadmin)).await;
    assert!(accounts["total"].as_i64().unwrap() >= 13, "{accounts}");
}
