use crate::helpers::{capture_logs, captured_logs, spawn_app, PASSWORD};
use serde_json::json;

#[tokio::test]
async fn logs_carry_no_identifiers_or_passwords() {
    capture_logs();
    let app = spawn_app().await;
    let admin = app.login("sysadmin").await;
    let node = app.node_id("410702010100").await;
    let (status, _) = app
        .post(
            "/api/v1/accounts",
            Some(&admin),
            json!({"username": "logged", "name": "日志", "node_id": node, "phone": "13912345678"}),
        )
        .await;
    assert_eq!(status, 201);
    let head = app.login("station_head").await;
    let id = app.account_id("logged").await;
    let (status, body) =
        app.post(&format!("/api/v1/accounts/{id}/unmask-phone"), Some(&head), json!({"reason": "核实身份信息"})).await;
    assert_eq!((status, body["phone"].as_str()), (200, Some("13912345678")));
    let officer = app.login("officer").await;
    let resident_id = crate::helpers::id_number("41070219790315123");
    let (status, body) = app
        .post(
            "/api/v1/residents",
            Some(&officer),
            json!({"name": "日志乙", "id_number": resident_id, "phones": ["13787654321"], "residence": "registered"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    app.post("/api/v1/residents/search", Some(&officer), json!({"id_number": resident_id})).await;
    // A refused number is answered with the field and reason, never the number itself.
    app.post(
        "/api/v1/residents",
        Some(&officer),
        json!({"name": "错号", "id_number": "410702197903151239", "residence": "registered"}),
    )
    .await;
    let rid = body["id"].as_i64().unwrap();
    let (status, _) = app
        .post(
            &format!("/api/v1/residents/{rid}/unmask"),
            Some(&officer),
            json!({"field": "id_number", "reason": "核实身份信息"}),
        )
        .await;
    assert_eq!(status, 200);
    app.login_with("officer", "not-the-password-123", None).await;
    app.get(&format!("/api/v1/accounts/{id}"), Some(&head)).await;
    let logs = captured_logs();
    assert!(logs.contains("\"route\":\"/api/v1/accounts/{id}/unmask-phone\""), "requests are logged by route template");
    for secret in
        ["13912345678", PASSWORD, "not-the-password-123", &admin, &resident_id, "13787654321", "410702197903151239"]
    {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
    }
    assert!(!crate::helpers::holds_demo_phone(logs.as_bytes()), "a demo phone leaked into the logs");
}
