//! The anti-fraud pages through a browser's eyes (forms, CSRF, masking), without a browser.

use serde_json::json;

use crate::antifraud::{resident_in, upstream, warning};
use crate::helpers::{csrf_of, spawn_app, PASSWORD};

#[tokio::test]
async fn the_station_head_works_a_case_from_the_pages() {
    let app = spawn_app().await;
    let token = upstream(&app).await;
    let (_, id) = resident_in(&app, "410702010101", "41070219800202081", "13912123333", json!({})).await;
    let now = pingan::clock::iso_beijing(app.clock.now_ms() - 60_000);
    let (_, w) = app
        .post(
            "/api/v1/warnings",
            Some(&token),
            warning("P-1", json!({"id_number": id, "time": now, "amount_yuan": 300})),
        )
        .await;
    let case = w["case_id"].as_i64().unwrap();
    let (client, _) = app.web_login("station_head", PASSWORD).await;
    let (status, queue, _) = app.page(&client, "/antifraud").await;
    assert_eq!(status, 200);
    assert!(queue.contains(&format!("/antifraud/cases/{case}")), "the case is in the queue");
    assert!(queue.contains("data-live=\"/antifraud/queue-rows?view=all\""), "the list refreshes itself");
    assert!(queue.contains("红色"));
    let (status, rows, _) = app.page(&client, "/antifraud/queue-rows?view=all").await;
    assert_eq!(status, 200);
    assert!(rows.contains(&format!("data-case=\"{case}\"")) && !rows.contains("<html"), "a fragment: {rows}");
    let (status, page, _) = app.page(&client, &format!("/antifraud/cases/{case}")).await;
    assert_eq!(status, 200);
    assert!(!page.contains(&id), "the ID number is masked");
    let csrf = csrf_of(&page);
    let post = |path: String, form: Vec<(&'static str, String)>| {
        let req = client.post(app.at(&path)).form(&form);
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    // Without the token nothing happens.
    let (status, _) = post(
        format!("/antifraud/cases/{case}/act"),
        vec![("action", "contact".into()), ("method", "call".into()), ("reached", "true".into())],
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = post(
        format!("/antifraud/cases/{case}/act"),
        vec![
            ("csrf", csrf.clone()),
            ("action", "contact".into()),
            ("method", "visit".into()),
            ("reached", "true".into()),
        ],
    )
    .await;
    assert_eq!(status, 303);
    // A bad amount comes back on the page, named.
    let (status, body) = post(
        format!("/antifraud/cases/{case}/act"),
        vec![
            ("csrf", csrf.clone()),
            ("action", "close".into()),
            ("outcome", "dissuaded".into()),
            ("amount_yuan", "很多".into()),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("amount_yuan"), "the field is named");
    let (status, _) = post(
        format!("/antifraud/cases/{case}/act"),
        vec![
            ("csrf", csrf.clone()),
            ("action", "close".into()),
            ("outcome", "dissuaded".into()),
            ("amount_yuan", "300".into()),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let (_, page, _) = app.page(&client, &format!("/antifraud/cases/{case}")).await;
    assert!(page.contains("劝阻成功") && page.contains("¥300.00"), "closed with the amount protected");
    // The full ID number, for a reason, once.
    let (status, body) = post(
        format!("/antifraud/cases/{case}/unmask"),
        vec![("csrf", csrf.clone()), ("field", "id_number".into()), ("reason", "核实身份信息".into())],
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains(&id), "shown after the reason");
    let (_, again, _) = app.page(&client, &format!("/antifraud/cases/{case}")).await;
    assert!(!again.contains(&id), "and not kept on the page");
}

#[tokio::test]
async fn the_manager_changes_rules_and_regions_on_the_rules_page() {
    let app = spawn_app().await;
    let (client, _) = app.web_login("commander", PASSWORD).await;
    let (status, page, _) = app.page(&client, "/antifraud/rules").await;
    assert_eq!(status, 200);
    let csrf = csrf_of(&page);
    let mut form: Vec<(&str, String)> = [
        ("red_amount_fen", "1"),
        ("red_call_seconds", "240"),
        ("yellow_app_installed", "1"),
        ("yellow_contacts", "3"),
        ("raise_age_over", "65"),
        ("merge_window_hours", "48"),
        ("red_contact_minutes", "15"),
        ("red_visit_minutes", "90"),
        ("yellow_contact_minutes", "120"),
        ("blue_contact_minutes", "1440"),
        ("branch_after_minutes", "30"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect();
    form.push(("csrf", csrf.clone()));
    let resp = client.post(app.at("/antifraud/rules/save")).form(&form).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (_, rules) = app.get("/api/v1/antifraud/rules", Some(&app.login("commander").await)).await;
    assert_eq!(rules["grading"]["red_call_seconds"], 240);
    assert_eq!(rules["grading"]["raise_living_alone"], false, "an unticked box is off");
    assert_eq!(rules["deadlines"]["red_visit_minutes"], 90);
    // A visit due before the first contact is refused, naming the field, and nothing changes.
    form.retain(|(k, _)| *k != "red_visit_minutes");
    form.push(("red_visit_minutes", "5".into()));
    let body = client.post(app.at("/antifraud/rules/save")).form(&form).send().await.unwrap().text().await.unwrap();
    assert!(body.contains("deadlines.red_visit_minutes"), "named");
    let regions = [("csrf", csrf.clone()), ("regions", "410781,410703010000\n410782，410702010000\n".to_string())];
    let body =
        client.post(app.at("/antifraud/rules/regions")).form(&regions).send().await.unwrap().text().await.unwrap();
    assert!(body.contains("410782,410702010000"), "saved and shown: {body}");
    // Other roles do not see the page.
    let (client, _) = app.web_login("station_head", PASSWORD).await;
    assert_eq!(app.page(&client, "/antifraud/rules").await.0, 403);
}

#[tokio::test]
async fn escalations_reach_the_inbox_page() {
    let app = spawn_app().await;
    let token = upstream(&app).await;
    let now = pingan::clock::iso_beijing(app.clock.now_ms() - 60_000);
    let (_, id) = resident_in(&app, "410702010101", "41070219800202091", "13912124444", json!({})).await;
    app.post(
        "/api/v1/warnings",
        Some(&token),
        warning("P-9", json!({"id_number": id, "time": now, "amount_yuan": 10})),
    )
    .await;
    app.clock.advance_ms(11 * 60_000);
    pingan::jobs::run_due(&app.state).await.unwrap();
    let (client, _) = app.web_login("station_head", PASSWORD).await;
    let (status, page, _) = app.page(&client, "/notifications").await;
    assert_eq!(status, 200);
    assert!(page.contains("超时未联系") && page.contains("已上报所长"), "the escalation in words");
    let csrf = csrf_of(&page);
    let newest = page.split("name=\"up_to\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let resp =
        client.post(app.at("/notifications/read")).form(&[("csrf", csrf), ("up_to", newest)]).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    let token = app.login("station_head").await;
    let (_, count) = app.get("/api/v1/notifications/unread", Some(&token)).await;
    assert_eq!(count["unread"], 0);
}
