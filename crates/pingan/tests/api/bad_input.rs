use crate::helpers::spawn_app;

async fn raw(
    app: &crate::helpers::TestApp,
    method: reqwest::Method,
    path: &str,
    ctype: Option<&str>,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let mut req = app.client.request(method, app.at(path)).body(body);
    if let Some(c) = ctype {
        req = req.header("content-type", c);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

fn assert_shape(body: &serde_json::Value) {
    let e = &body["error"];
    assert!(e["code"].is_string() && e["reason"].is_string() && e["request_id"].is_string(), "{body}");
}

#[tokio::test]
async fn malformed_bodies_get_the_error_shape_naming_the_field() {
    let app = spawn_app().await;
    let login = "/api/v1/auth/login";
    let json = Some("application/json");
    // (content type, body, expected status, expected field)
    type Case<'a> = (Option<&'a str>, Vec<u8>, u16, Option<&'a str>);
    let cases: Vec<Case> = vec![
        (json, b"{\"username\": \"a\",".to_vec(), 422, Some("body")),
        (json, br#"{"username": 5, "password": "x", "totp": null}"#.to_vec(), 422, Some("username")),
        (json, br#"{"password": "x", "totp": null}"#.to_vec(), 422, Some("username")),
        (json, br#"{"username": "a", "password": "x", "totp": null, "role": "admin"}"#.to_vec(), 422, Some("role")),
        (json, vec![b'"', 0xff, 0xfe, b'"'], 422, Some("body")),
        (Some("text/plain"), br#"{"username":"a","password":"b"}"#.to_vec(), 415, Some("content-type")),
        (json, vec![b' '; 2 * 1024 * 1024], 413, Some("body")),
    ];
    for (ctype, body, status, field) in cases {
        let (got, answer) = raw(&app, reqwest::Method::POST, login, ctype, body).await;
        assert_eq!(got, status, "{answer}");
        assert_shape(&answer);
        assert_eq!(answer["error"]["field"].as_str(), field, "{answer}");
    }
}

#[tokio::test]
async fn an_account_change_without_fields_still_refuses_unknown_ones() {
    let app = spawn_app().await;
    let admin = app.login("sysadmin").await;
    let id = app.account_id("officer").await;
    let path = format!("/api/v1/accounts/{id}/change");
    for action in ["unlock", "disable", "enable", "reset_password"] {
        let (status, body) = app.post(&path, Some(&admin), serde_json::json!({"action": action, "force": true})).await;
        assert_eq!(status, 422, "{action}: {body}");
        assert_eq!(body["error"]["field"], "force", "{action}: {body}");
    }
    // Nothing was applied: the officer still signs in.
    app.login("officer").await;
}

#[tokio::test]
async fn a_phone_that_is_only_an_area_code_is_refused_naming_the_field() {
    // The fuzzer found "07-" panicking the landline parser (a slice past the end).
    let app = spawn_app().await;
    let admin = app.login("sysadmin").await;
    let node = app.node_id("410702010000").await;
    for phone in ["07-", "010", "0"] {
        let body = serde_json::json!({"name": "测试", "node_id": node, "username": "phone_check", "phone": phone});
        let (status, v) = app.post("/api/v1/accounts", Some(&admin), body).await;
        assert_eq!((status, v["error"]["field"].as_str()), (422, Some("phone")), "{phone}: {v}");
    }
}

#[tokio::test]
async fn unknown_enum_values_are_refused() {
    let app = spawn_app().await;
    let admin = app.login("sysadmin").await;
    let (status, body) = app
        .post(
            "/api/v1/org/nodes",
            Some(&admin),
            serde_json::json!({"code": "Z1", "kind": "galaxy", "name": "x", "parent_id": 1}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["field"], "kind");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_shape() {
    let app = spawn_app().await;
    let (status, body) = raw(&app, reqwest::Method::GET, "/api/v1/nothing-here", None, vec![]).await;
    assert_eq!(status, 404);
    assert_shape(&body);
    let (status, body) = raw(&app, reqwest::Method::DELETE, "/api/v1/auth/login", None, vec![]).await;
    assert_eq!(status, 405);
    assert_shape(&body);
}

#[tokio::test]
async fn api_routes_refuse_anonymous_callers() {
    let app = spawn_app().await;
    for path in
        ["/api/v1/accounts", "/api/v1/org/nodes", "/api/v1/audit", "/api/v1/tokens", "/api/v1/grants", "/api/v1/roles"]
    {
        let (status, body) = app.get(path, None).await;
        assert_eq!(status, 401, "{path}");
        assert_shape(&body);
    }
}

#[tokio::test]
async fn health_ready_metrics_and_openapi_are_served() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz", None).await.1["status"], "ok");
    let (status, ready) = app.get("/readyz", None).await;
    assert_eq!(status, 200, "{ready}");
    app.get("/api/v1/org/nodes/12345", None).await;
    let metrics = app.client.get(app.at("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("route=\"/api/v1/org/nodes/{id}\""), "route templates, never raw paths");
    assert!(!metrics.contains("/12345"));
    for name in [
        "http_requests_total{",
        "http_request_duration_seconds_bucket{",
        "http_request_duration_seconds_count{",
        "db_pool_connections",
        "audit_write_failures_total",
    ] {
        assert!(metrics.contains(name), "/metrics has {name}");
    }
    let (_, spec) = app.get("/api/v1/openapi.json", None).await;
    assert!(spec["paths"]["/api/v1/auth/login"]["post"].is_object());
    assert_eq!(spec["components"]["schemas"]["LoginRequest"]["additionalProperties"], false);
}

#[tokio::test]
async fn readyz_answers_503_for_a_schema_newer_than_this_binary() {
    let app = spawn_app().await;
    sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'from_the_future', 0)")
        .bind(pingan::db::LATEST_VERSION + 1)
        .execute(app.state.db.writer())
        .await
        .unwrap();
    let (status, ready) = app.get("/readyz", None).await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["checks"]["schema"]["ok"], false, "{ready}");
    assert_eq!(ready["checks"]["audit"]["ok"], true, "only the schema is wrong: {ready}");
}

#[tokio::test]
async fn pages_send_security_headers_and_no_store() {
    let app = spawn_app().await;
    let resp = app.client.get(app.at("/login")).send().await.unwrap();
    let h = resp.headers();
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["cache-control"], "no-store");
    assert!(h["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
    let html = resp.text().await.unwrap();
    assert!(html.contains("授权人员"), "the system-use notice, in Chinese by default");
    assert!(!html.contains("<script>"), "no inline script");
}

#[tokio::test]
async fn bad_query_and_path_parameters_are_named() {
    let app = spawn_app().await;
    let admin = app.login("sysadmin").await;
    let (status, body) = app.get("/api/v1/accounts?per_page=lots", Some(&admin)).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("per_page")), "{body}");
    let (status, body) = app.get("/api/v1/accounts?colour=blue", Some(&admin)).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("colour")), "{body}");
    let (status, body) = app.get("/api/v1/accounts/abc", Some(&admin)).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("id")), "{body}");
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.login("secadmin").await;
    let before: pingan::settings::SecurityPolicy =
        pingan::settings::get(&app.state.db, pingan::settings::SECURITY_POLICY).await.unwrap();
    for body in ["[]", "[5, 15]", "null", "7", "\"policy\""] {
        let resp = app
            .client
            .put(app.at("/api/v1/security/policy"))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let answer: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(status, 422, "{body}: {answer}");
        assert_eq!(answer["error"]["field"], "body", "{body}: {answer}");
    }
    let after: pingan::settings::SecurityPolicy =
        pingan::settings::get(&app.state.db, pingan::settings::SECURITY_POLICY).await.unwrap();
    assert_eq!(before, after);
}

#[tokio::test]
async fn every_json_request_schema_is_exact() {
    let app = spawn_app().await;
    let (_, spec) = app.get("/api/v1/openapi.json", None).await;
    let schemas = &spec["components"]["schemas"];
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(schema) = op["requestBody"]["content"]["application/json"]["schema"].as_object() else { continue };
            let Some(name) = schema.get("$ref").and_then(|r| r.as_str()).and_then(|r| r.rsplit('/').next()) else {
                continue;
            };
            let body = &schemas[name];
            // Tagged unions are exact through their variants; plain objects through themselves.
            let variants: Vec<&serde_json::Value> = match body["oneOf"].as_array() {
                Some(v) => v.iter().collect(),
                None => vec![body],
            };
            for v in variants {
                if v["type"] != "object" {
                    continue;
                }
                assert_eq!(v["additionalProperties"], false, "{method} {path}: {name} admits unknown fields: {body}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 20, "only {checked} request schemas were found");
    // And the server refuses what the document refuses: an unknown field, on every JSON route.
    let token = app.login("station_head").await;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op["requestBody"]["content"]["application/json"].is_null() || path == "/api/v1/auth/login" {
                continue;
            }
            let url = app.at(&path.replace("{id}", "1").replace("{code}", "x"));
            let req = match method.as_str() {
                "post" => app.client.post(url),
                "put" => app.client.put(url),
                "patch" => app.client.patch(url),
                _ => continue,
            };
            let resp = req.bearer_auth(&token).json(&serde_json::json!({"zzz_unknown": 1})).send().await.unwrap();
            assert_eq!(resp.status().as_u16(), 422, "{method} {path} accepted an unknown field");
        }
    }
    // Closed sets are enums in the document, as they are in the code.
    let resolve = |v: &serde_json::Value| match v["$ref"].as_str() {
        Some(r) => schemas[r.rsplit('/').next().unwrap()].clone(),
        None => v.clone(),
    };
    let perms = resolve(&schemas["SaveRole"]["properties"]["permissions"]["items"]);
    assert!(perms["enum"].as_array().is_some_and(|e| e.iter().any(|p| p == "people:read_masked")), "{perms}");
    let ingest = resolve(&schemas["CreateToken"]["properties"]["permissions"]["items"]);
    assert_eq!(ingest["enum"], serde_json::json!(["warnings:write", "incidents:write"]));
    let level = resolve(&schemas["CreateGrant"]["properties"]["level"]);
    assert_eq!(level["enum"], serde_json::json!(["full", "masked", "counts_only"]));
}
