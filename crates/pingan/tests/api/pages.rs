use crate::helpers::{csrf_of, spawn_app, PASSWORD};

#[tokio::test]
async fn sign_in_page_signs_in_and_the_home_page_fits_the_role() {
    let app = spawn_app().await;
    app.exempt_all_roles_from_mfa().await;
    let (client, resp) = app.web_login("station_head", PASSWORD).await;
    assert_eq!(resp.status().as_u16(), 303);
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("pingan_session="));
    let cookie = cookie.expect("session cookie set");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let (status, html, _) = app.page(&client, "/").await;
    assert_eq!(status, 200);
    assert!(html.contains("工作台") && html.contains("李卫东"));
    assert!(html.contains("href=\"/accounts\""), "a station head manages its accounts");
    assert!(!html.contains("href=\"/audit\""), "but does not read the audit log");
    let (_, auditor_resp) = app.web_login("auditor", PASSWORD).await;
    assert_eq!(auditor_resp.status().as_u16(), 303);
}

#[tokio::test]
async fn a_wrong_password_returns_to_the_form_with_one_message() {
    let app = spawn_app().await;
    let (client, resp) = app.web_login("station_head", "wrong-password-123").await;
    assert_eq!(resp.status().as_u16(), 303);
    let to = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(to.starts_with("/login?failed=1"));
    let (_, html, _) = app.page(&client, &to).await;
    assert!(html.contains("用户名、密码或验证码错误"));
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused() {
    let app = spawn_app().await;
    app.exempt_all_roles_from_mfa().await;
    // The sign-in form itself: no token, no sign-in.
    let client =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let resp =
        client.post(app.at("/login")).form(&[("username", "sysadmin"), ("password", PASSWORD)]).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let (client, _) = app.web_login("sysadmin", PASSWORD).await;
    let form = [("csrf", "forged"), ("code", "Z9"), ("name", "伪造"), ("kind", "post"), ("parent_id", "1")];
    let resp = client.post(app.at("/org")).form(&form).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM org_nodes WHERE code = 'Z9'")
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn mfa_enrolment_is_required_before_anything_else_when_the_policy_says_so() {
    let app = spawn_app().await;
    app.require_mfa_for_all().await;
    let (client, resp) = app.web_login("station_head", PASSWORD).await;
    assert_eq!(resp.headers()["location"], "/me");
    let (status, _, location) = app.page(&client, "/accounts").await;
    assert_eq!((status, location.as_deref()), (303, Some("/me")));
    let (_, me, _) = app.page(&client, "/me").await;
    let resp = client.post(app.at("/me/mfa/start")).form(&[("csrf", csrf_of(&me))]).send().await.unwrap();
    let html = resp.text().await.unwrap();
    assert!(html.contains("<svg"), "QR code rendered as SVG");
    let secret_b32 = html.split("id=\"totp-secret\">").nth(1).unwrap().split('<').next().unwrap().to_string();
    let raw: Vec<u8> = sqlx::query_scalar("SELECT totp_secret_enc FROM accounts WHERE username = 'station_head'")
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    let secret = pingan::auth::totp::TotpSecret::from_bytes(&app.state.key.decrypt(&raw).unwrap()).unwrap();
    assert_eq!(secret.to_base32(), secret_b32);
    let code = pingan::auth::totp::code_for_step(&secret, pingan::auth::totp::step_at(app.clock.now_ms()));
    let resp =
        client.post(app.at("/me/mfa/confirm")).form(&[("csrf", csrf_of(&html)), ("code", code)]).send().await.unwrap();
    let html = resp.text().await.unwrap();
    assert!(html.contains("恢复码"));
    let (status, _, _) = app.page(&client, "/accounts").await;
    assert_eq!(status, 200, "enrolled: the session is no longer restricted");
}

#[tokio::test]
async fn the_language_switch_is_remembered() {
    let app = spawn_app().await;
    app.exempt_all_roles_from_mfa().await;
    let (client, _) = app.web_login("officer", PASSWORD).await;
    let (status, _, location) = app.page(&client, "/lang?to=en&back=/").await;
    assert_eq!((status, location.as_deref()), (303, Some("/")));
    let (_, html, _) = app.page(&client, "/").await;
    assert!(html.contains("Workbench") && html.contains("lang=\"en\""));
    let (_, _, location) = app.page(&client, "/lang?to=zh&back=//evil.example").await;
    assert_eq!(location.as_deref(), Some("/"), "no open redirect");
}

#[tokio::test]
async fn each_administrative_page_renders_for_its_role_and_only_for_it() {
    let app = spawn_app().await;
    app.exempt_all_roles_from_mfa().await;
    for (user, allowed, refused) in [
        ("sysadmin", vec!["/org", "/accounts", "/tokens", "/me"], vec!["/grants", "/security", "/audit"]),
        ("secadmin", vec!["/grants", "/security", "/accounts"], vec!["/tokens", "/audit"]),
        ("auditor", vec!["/audit", "/me"], vec!["/org", "/accounts", "/grants", "/security", "/tokens"]),
    ] {
        let (client, _) = app.web_login(user, PASSWORD).await;
        for path in allowed {
            assert_eq!(app.page(&client, path).await.0, 200, "{user} {path}");
        }
        for path in refused {
            assert_eq!(app.page(&client, path).await.0, 403, "{user} {path}");
        }
    }
}

#[tokio::test]
async fn the_security_administrator_changes_the_policy_and_it_is_audited() {
    let app = spawn_app().await;
    app.exempt_all_roles_from_mfa().await;
    let (client, _) = app.web_login("secadmin", PASSWORD).await;
    let (_, html, _) = app.page(&client, "/security").await;
    let head = app.audit_head().await;
    let form = [
        ("csrf", csrf_of(&html)),
        ("mfa_required", "station_head".into()),
        ("lockout_failures", "5".into()),
        ("lockout_window_minutes", "15".into()),
        ("lockout_minutes", "15".into()),
        ("address_failures", "200".into()),
        ("idle_minutes", "30".into()),
        ("absolute_hours", "12".into()),
    ];
    let resp = client.post(app.at("/security")).form(&form).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let policy = app.state.security_policy().await.unwrap();
    assert!(!policy.mfa_exempt_roles.contains(&"station_head".to_string()));
    assert!(policy.mfa_exempt_roles.contains(&"community_officer".to_string()));
    assert!(app.audit_since(head).await.iter().any(|e| e.0 == "security.policy_change"));
    // Now a station head must enrol, an officer need not.
    assert_eq!(app.login_with("station_head", PASSWORD, None).await.0, 403);
    assert_eq!(app.login_with("officer", PASSWORD, None).await.0, 200);
}

#[tokio::test]
async fn administrators_disable_accounts_and_create_tokens_from_their_pages() {
    let app = spawn_app().await;
    app.exempt_all_roles_from_mfa().await;
    let (client, _) = app.web_login("sysadmin", PASSWORD).await;
    let officer = app.account_id("officer").await;
    let (_, html, _) = app.page(&client, &format!("/accounts/{officer}")).await;
    let resp = client
        .post(app.at(&format!("/accounts/{officer}/change")))
        .form(&[("csrf", csrf_of(&html)), ("action", "disable".into())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    assert_eq!(app.login_with("officer", PASSWORD, None).await.0, 401, "a disabled account cannot sign in");

    let (_, html, _) = app.page(&client, "/tokens").await;
    let form = [
        ("csrf", csrf_of(&html)),
        ("name", "反诈中心".to_string()),
        ("permissions", "warnings:write".to_string()),
        ("expires", pingan::clock::beijing_date(app.clock.now_ms() + 30 * 86_400_000)),
    ];
    let html = client.post(app.at("/tokens")).form(&form).send().await.unwrap().text().await.unwrap();
    let token = html.split("id=\"new-token\">").nth(1).expect("the token is shown once").split('<').next().unwrap();
    assert!(token.starts_with("pai_"));
    assert_eq!(app.get("/api/v1/auth/me", Some(token)).await.0, 200);
    let (_, again, _) = app.page(&client, "/tokens").await;
    assert!(!again.contains(token), "and never again");
}
