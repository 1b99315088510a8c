use crate::helpers::{spawn_app, PASSWORD};
use serde_json::json;

#[tokio::test]
async fn sign_in_gives_a_token_that_works_until_sign_out() {
    let app = spawn_app().await;
    let token = app.login("station_head").await;
    let (status, me) = app.get("/api/v1/auth/me", Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(me["username"], "station_head");
    assert!(me["roles"].as_array().unwrap().contains(&json!("station_head")));
    let (status, _) = app.post("/api/v1/auth/logout", Some(&token), json!({})).await;
    assert_eq!(status, 204);
    let (status, body) = app.get("/api/v1/auth/me", Some(&token)).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthenticated");
}

#[tokio::test]
async fn unknown_user_wrong_password_and_locked_account_answer_alike() {
    let app = spawn_app().await;
    app.exempt_all_roles_from_mfa().await;
    let (s1, unknown) = app.login_with("nobody_here", PASSWORD, None).await;
    let (s2, wrong) = app.login_with("officer", "wrong-password-123", None).await;
    for _ in 0..4 {
        app.login_with("officer", "wrong-password-123", None).await;
    }
    // Five failures in the window: the right password is now refused the same way.
    let (s3, locked) = app.login_with("officer", PASSWORD, None).await;
    assert_eq!((s1, s2, s3), (401, 401, 401));
    for body in [&unknown, &wrong, &locked] {
        assert_eq!(body["error"]["code"], "invalid_credentials");
        assert_eq!(body["error"]["reason"], unknown["error"]["reason"]);
    }
    // After 15 minutes the lock lifts.
    app.clock.advance_ms(15 * 60_000 + 1);
    let (status, _) = app.login_with("officer", PASSWORD, None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn failed_and_successful_sign_ins_are_audited() {
    let app = spawn_app().await;
    let head = app.audit_head().await;
    app.exempt_all_roles_from_mfa().await;
    app.login_with("officer", "wrong-password-123", None).await;
    app.login_with("officer", PASSWORD, None).await;
    let entries = app.audit_since(head).await;
    let sign_ins: Vec<_> = entries.iter().filter(|e| e.0 == "auth.sign_in").collect();
    assert_eq!(sign_ins.len(), 2);
    assert_eq!(sign_ins[0].1, "failed");
    assert_eq!(sign_ins[1].1, "ok");
    // The wrong password itself is never recorded.
    assert!(entries.iter().all(|e| !e.3.contains("wrong-password")));
}

#[tokio::test]
async fn sessions_end_after_30_idle_minutes_and_12_hours_in_all() {
    let app = spawn_app().await;
    let token = app.login("officer").await;
    app.clock.advance_ms(29 * 60_000);
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).await.0, 200);
    app.clock.advance_ms(29 * 60_000);
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).await.0, 200, "activity keeps it alive");
    app.clock.advance_ms(31 * 60_000);
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).await.0, 401, "idle for 31 minutes");

    let token = app.login("officer").await;
    for _ in 0..25 {
        app.clock.advance_ms(29 * 60_000);
        app.get("/api/v1/auth/me", Some(&token)).await;
    }
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).await.0, 401, "past 12 hours");
}

#[tokio::test]
async fn disabling_an_account_ends_its_session_on_another_server() {
    let app = spawn_app().await;
    let other = app.second_server().await;
    let officer = app.login("officer").await;
    assert_eq!(other.get("/api/v1/auth/me", Some(&officer)).await.0, 200);
    let admin = app.login("sysadmin").await;
    let id = app.account_id("officer").await;
    let (status, body) =
        app.post(&format!("/api/v1/accounts/{id}/change"), Some(&admin), json!({"action": "disable"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(other.get("/api/v1/auth/me", Some(&officer)).await.0, 401);
}

#[tokio::test]
async fn role_change_takes_effect_on_the_next_request() {
    let app = spawn_app().await;
    let officer = app.login("officer").await;
    let sec = app.login("secadmin").await;
    let id = app.account_id("officer").await;
    let (status, _) = app
        .post(
            &format!("/api/v1/accounts/{id}/change"),
            Some(&sec),
            json!({"action": "set_roles", "roles": ["auxiliary"]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.get("/api/v1/auth/me", Some(&officer)).await.0, 401);
}

#[tokio::test]
async fn mfa_is_required_by_default_and_codes_are_single_use() {
    let app = spawn_app().await;
    app.require_mfa_for_all().await;
    // Without a second factor enrolled, the API refuses and says why.
    let (status, body) = app.login_with("officer", PASSWORD, None).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "mfa_enrolment_required");

    // Enrol through the service as the web page does, then sign in with a code.
    let secret = pingan::auth::totp::TotpSecret::generate();
    let id = app.account_id("officer").await;
    sqlx::query("UPDATE accounts SET totp_secret_enc = $1, totp_enabled = 1 WHERE id = $2")
        .bind(app.state.key.encrypt(secret.as_bytes()))
        .bind(id)
        .execute(app.state.db.writer())
        .await
        .unwrap();
    let code = pingan::auth::totp::code_for_step(&secret, pingan::auth::totp::step_at(app.clock.now_ms()));
    let (status, _) = app.login_with("officer", PASSWORD, Some(&code)).await;
    assert_eq!(status, 200);
    // The same code again, on another server: refused.
    let other = app.second_server().await;
    let (status, _) = other.login_with("officer", PASSWORD, Some(&code)).await;
    assert_eq!(status, 401);
    let (status, _) = app.login_with("officer", PASSWORD, None).await;
    assert_eq!(status, 401, "a missing code is a failed sign-in");
}

#[tokio::test]
async fn web_enrolment_completes_only_with_a_valid_code_and_gives_recovery_codes() {
    let app = spawn_app().await;
    let caller = pingan::auth::Caller {
        account_id: Some(app.account_id("officer").await),
        token_id: None,
        label: "officer".into(),
        name: "张宏伟".into(),
        node_id: app.node_id("410702010100").await,
        roles: vec!["community_officer".into()],
        permissions: Default::default(),
        session_id: None,
        csrf: None,
        restriction: Some("mfa_enrol".into()),
    };
    let meta = pingan::web::middleware::RequestMeta {
        request_id: "t".into(),
        ip: "127.0.0.1".into(),
        lang: pingan::web::i18n::Lang::Zh,
        path: "/me".into(),
    };
    let enrol = pingan::auth::mfa::start(&app.state, &caller).await.unwrap();
    assert!(enrol.qr_svg.contains("<svg"));
    let wrong = pingan::auth::totp::code_for_step(&pingan::auth::totp::TotpSecret::generate(), 1);
    assert!(pingan::auth::mfa::confirm(&app.state, &meta, &caller, &wrong).await.is_err());
    let raw: Vec<u8> = sqlx::query_scalar("SELECT totp_secret_enc FROM accounts WHERE username = 'officer'")
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    let secret = pingan::auth::totp::TotpSecret::from_bytes(&app.state.key.decrypt(&raw).unwrap()).unwrap();
    let enabled: i64 = sqlx::query_scalar("SELECT totp_enabled FROM accounts WHERE username = 'officer'")
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    assert_eq!(enabled, 0, "pending until confirmed");
    let code = pingan::auth::totp::code_for_step(&secret, pingan::auth::totp::step_at(app.clock.now_ms()));
    let codes = pingan::auth::mfa::confirm(&app.state, &meta, &caller, &code).await.unwrap();
    assert_eq!(codes.len(), 10);
    // A recovery code signs in once.
    app.require_mfa_for_all().await;
    assert_eq!(app.login_with("officer", PASSWORD, Some(&codes[0])).await.0, 200);
    assert_eq!(app.login_with("officer", PASSWORD, Some(&codes[0])).await.0, 401);
}

#[tokio::test]
async fn integration_tokens_are_scoped_expire_and_revoke() {
    let app = spawn_app().await;
    let admin = app.login("sysadmin").await;
    let expires = pingan::clock::iso_beijing(app.clock.now_ms() + 3_600_000);
    let (status, body) = app
        .post(
            "/api/v1/tokens",
            Some(&admin),
            json!({"name": "反诈中心", "permissions": ["people:read"], "expires_at": expires}),
        )
        .await;
    assert_eq!(status, 422, "a data-reading permission cannot be given: {body}");
    let (status, body) = app
        .post(
            "/api/v1/tokens",
            Some(&admin),
            json!({"name": "反诈中心", "permissions": ["warnings:write"], "expires_at": expires}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let token = body["token"].as_str().unwrap().to_string();
    let id = body["id"].as_i64().unwrap();
    let (status, me) = app.get("/api/v1/auth/me", Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(me["permissions"], json!(["warnings:write"]));
    // Scoped: it cannot read accounts.
    assert_eq!(app.get("/api/v1/accounts", Some(&token)).await.0, 403);
    // An accepted use is audited by what the request does, under the token's name: one entry.
    let head = app.audit_head().await;
    let (status, body) =
        app.post("/api/v1/warnings", Some(&token), crate::antifraud::warning("auth-1", json!({}))).await;
    assert_eq!(status, 201, "{body}");
    let entries: Vec<(String, String)> =
        sqlx::query_as("SELECT action, actor FROM audit_log WHERE seq > $1 ORDER BY seq")
            .bind(head)
            .fetch_all(app.state.db.reader())
            .await
            .unwrap();
    assert_eq!(entries, vec![("antifraud.warnings.ingest".to_string(), "token:反诈中心".to_string())]);
    // Expiry.
    app.clock.advance_ms(3_600_001);
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).await.0, 401);
    app.clock.advance_ms(-3_600_001);
    // Revocation.
    assert_eq!(app.post(&format!("/api/v1/tokens/{id}/revoke"), Some(&admin), json!({})).await.0, 204);
    let head = app.audit_head().await;
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).await.0, 401);
    let refused = app.audit_since(head).await;
    assert!(
        refused.iter().any(|e| e.0 == "token.use" && e.1 == "denied" && e.3.contains("revoked")),
        "a refused use is audited with the reason: {refused:?}"
    );
}

#[tokio::test]
async fn integration_token_address_allowlist_is_enforced() {
    let app = spawn_app().await;
    let admin = app.login("sysadmin").await;
    let expires = pingan::clock::iso_beijing(app.clock.now_ms() + 3_600_000);
    let (_, body) = app.post("/api/v1/tokens", Some(&admin), json!({"name": "bank", "permissions": ["warnings:write"], "expires_at": expires, "allow_ips": ["10.1.2.3"]})).await;
    let token = body["token"].as_str().unwrap().to_string();
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).await.0, 401);
    let (_, body) = app.post("/api/v1/tokens", Some(&admin), json!({"name": "loopback", "permissions": ["warnings:write"], "expires_at": expires, "allow_ips": ["10.1.2.3", "127.0.0.256"]})).await;
    assert_eq!(body["error"]["field"], "allow_ips", "a malformed address is refused at creation: {body}");
    let (_, body) = app.post("/api/v1/tokens", Some(&admin), json!({"name": "loopback", "permissions": ["warnings:write"], "expires_at": expires, "allow_ips": ["10.1.2.3", "127.0.0.1"]})).await;
    let allowed = body["token"].as_str().unwrap().to_string();
    let (status, me) = app.get("/api/v1/auth/me", Some(&allowed)).await;
    assert_eq!(status, 200, "used from an allowed address: {me}");
}

#[tokio::test]
async fn long_chinese_passphrases_are_accepted() {
    let app = spawn_app().await;
    let admin = app.login("sysadmin").await;
    let node = app.node_id("410702010100").await;
    let phrase: String = "春眠不觉晓处处闻啼鸟夜来风雨声花落知多少".repeat(4).chars().take(64).collect();
    let (status, body) = app
        .post(
            "/api/v1/accounts",
            Some(&admin),
            json!({"username": "poet", "name": "孟浩然", "node_id": node, "password": phrase}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .post(
            "/api/v1/accounts",
            Some(&admin),
            json!({"username": "weak", "name": "弱", "node_id": node, "password": "password1234"}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["field"], "password");
}

#[tokio::test]
async fn an_address_with_too_many_failures_is_refused_for_a_while() {
    let app = spawn_app().await;
    let policy = pingan::settings::SecurityPolicy { address_failures: 20, ..Default::default() };
    let mut tx = app.state.db.begin().await.unwrap();
    pingan::settings::set(&mut tx, pingan::settings::SECURITY_POLICY, &policy, None, app.clock.now_ms()).await.unwrap();
    tx.commit().await.unwrap();
    for i in 0..20 {
        let (status, _) = app.login_with(&format!("guess{i}"), "wrong-password-123", None).await;
        assert_eq!(status, 401);
    }
    let (status, body) = app.login_with("officer", PASSWORD, None).await;
    assert_eq!(status, 429);
    assert_eq!(body["error"]["code"], "rate_limited");
    app.clock.advance_ms(15 * 60_000 + 1);
    assert_ne!(app.login_with("officer", PASSWORD, None).await.0, 429);
}

#[tokio::test]
async fn moving_an_account_to_another_unit_ends_its_sessions() {
    let app = spawn_app().await;
    let officer = app.login("officer").await;
    let id = app.account_id("officer").await;
    let other_post = app.node_id("410702010200").await;
    let mv = json!({"action": "move", "node_id": other_post});
    // Moving an officer changes whose residents it reads: the security administrator's call.
    let sysadmin = app.login("sysadmin").await;
    let (status, body) = app.post(&format!("/api/v1/accounts/{id}/change"), Some(&sysadmin), mv.clone()).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(app.get("/api/v1/auth/me", Some(&officer)).await.0, 200, "a refused move changes nothing");
    let admin = app.login("secadmin").await;
    let (status, body) = app.post(&format!("/api/v1/accounts/{id}/change"), Some(&admin), mv).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.get("/api/v1/auth/me", Some(&officer)).await.0, 401);
    let token = app.login("officer").await;
    let (_, me) = app.get("/api/v1/auth/me", Some(&token)).await;
    assert_eq!(me["node_id"], other_post);
}

#[tokio::test]
async fn a_reset_cannot_hand_the_system_administrator_an_account_that_reads_people() {
    let app = spawn_app().await;
    let sysadmin = app.login("sysadmin").await;
    let officer = app.account_id("officer").await;
    let reset = json!({"action": "reset_password"});
    // The demo policy lifts the second factor, so the temporary password alone would sign in.
    let (status, body) = app.post(&format!("/api/v1/accounts/{officer}/change"), Some(&sysadmin), reset.clone()).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"]["reason"].as_str().unwrap().contains("second factor"), "{body}");
    assert_eq!(app.login_with("officer", PASSWORD, None).await.0, 200, "the password is unchanged");
    // An account without data permissions (the auditor's is one: audit:read is a data permission,
    // so take a plain new account) is reset as before.
    let node = app.node_id("410702010100").await;
    let (status, created) = app
        .post("/api/v1/accounts", Some(&sysadmin), json!({"username": "clerk", "name": "文员", "node_id": node}))
        .await;
    assert_eq!(status, 201, "{created}");
    let clerk = created["id"].as_i64().unwrap();
    let (status, body) = app.post(&format!("/api/v1/accounts/{clerk}/change"), Some(&sysadmin), reset).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["temporary_password"].as_str().is_some_and(|t| t.len() >= 12), "{body}");
}

#[tokio::test]
async fn a_tokens_last_use_is_recorded_to_the_minute() {
    let app = spawn_app().await;
    let admin = app.login("sysadmin").await;
    let expires = pingan::clock::iso_beijing(app.clock.now_ms() + 3_600_000);
    let (_, body) = app
        .post(
            "/api/v1/tokens",
            Some(&admin),
            json!({"name": "bank", "permissions": ["warnings:write"], "expires_at": expires}),
        )
        .await;
    let token = body["token"].as_str().unwrap().to_string();
    assert_eq!(last_used(&app, &admin).await, serde_json::Value::Null, "never used");
    let first = app.clock.now_ms();
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).await.0, 200);
    assert_eq!(last_used(&app, &admin).await, json!(pingan::clock::iso_beijing(first)));
    // Used again within the minute: not written again.
    app.clock.advance_ms(30_000);
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).await.0, 200);
    assert_eq!(last_used(&app, &admin).await, json!(pingan::clock::iso_beijing(first)));
    // A minute on: written.
    app.clock.advance_ms(31_000);
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).await.0, 200);
    assert_eq!(last_used(&app, &admin).await, json!(pingan::clock::iso_beijing(first + 61_000)));
}

async fn last_used(app: &crate::helpers::TestApp, admin: &str) -> serde_json::Value {
    let (status, list) = app.get("/api/v1/tokens", Some(admin)).await;
    assert_eq!(status, 200, "{list}");
    list.as_array().unwrap().iter().find(|t| t["name"] == "bank").unwrap()["last_used_at"].clone()
}
