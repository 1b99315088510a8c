//! The figures leaders read: counts, outcomes, on-time contact and money protected, with 同比 and
//! 环比, cut by jurisdiction, on the page (with its SVG charts) and as a file.

use serde_json::{json, Value};

use crate::antifraud::{resident_in, upstream, warning};
use crate::helpers::{spawn_app, TestApp, PASSWORD};

/// 2026-12-01 10:00 Beijing; the figures asked for are that one day.
const DAY: &str = "/api/v1/antifraud/figures?from=2026-12-01&to=2026-12-01";

/// Two live cases in station 410702010000 on 2026-12-01 (one red, worked and dissuaded in time;
/// one yellow, never contacted), one history warning on the same date a year before, and two on
/// the day before.
async fn a_worked_day() -> TestApp {
    let app = spawn_app().await;
    let ten = pingan::clock::parse_beijing("2026-12-01T10:00").unwrap();
    let now = app.clock.now_ms();
    app.clock.advance_ms(ten - now);
    let token = upstream(&app).await;
    let (_, first) = resident_in(&app, "410702010101", "41070219800202091", "13912124444", json!({})).await;
    let (_, second) = resident_in(&app, "410702010102", "41070219850505101", "13912125555", json!({})).await;
    let send = |uid: &str, extra: Value, history: bool| {
        let path = if history { "/api/v1/warnings?history=true" } else { "/api/v1/warnings" };
        let body = warning(uid, extra);
        let token = token.clone();
        let app = &app;
        async move {
            let (status, body) = app.post(path, Some(&token), body).await;
            assert_eq!(status, 201, "{body}");
            body
        }
    };
    let red = send("F-1", json!({"id_number": first, "amount_yuan": 5000}), false).await;
    send("F-2", json!({"id_number": second, "app_installed": true}), false).await;
    send("F-0", json!({"id_number": first, "time": "2025-12-01T09:00:00+08:00"}), true).await;
    send("F-3", json!({"id_number": second, "time": "2026-11-30T09:00:00+08:00"}), true).await;
    send("F-4", json!({"id_number": second, "time": "2026-11-30T11:00:00+08:00"}), true).await;
    // The red case: called five minutes in (its deadline is ten), seen, dissuaded with ¥5,000 kept.
    let head = app.login("station_head").await;
    let url = format!("/api/v1/fraud-cases/{}/actions", red["case_id"]);
    app.clock.advance_ms(5 * 60_000);
    for action in [
        json!({"action": "contact", "method": "call", "reached": true}),
        json!({"action": "contact", "method": "visit", "reached": true}),
        json!({"action": "close", "outcome": "dissuaded", "amount_yuan": "5000"}),
    ] {
        let (status, body) = app.post(&url, Some(&head), action).await;
        assert_eq!(status, 204, "{body}");
    }
    // Past the yellow case's two hours, still uncontacted.
    app.clock.advance_ms(3 * 3_600_000);
    app
}

#[tokio::test]
async fn figures_count_the_days_work_with_year_on_year_and_period_on_period() {
    let app = a_worked_day().await;
    let head = app.login("station_head").await;
    let (status, f) = app.get(DAY, Some(&head)).await;
    assert_eq!(status, 200, "{f}");
    assert_eq!(f["warnings"]["value"], 2, "{f}");
    assert_eq!(f["warnings"]["year_before"], 1);
    assert_eq!(f["warnings"]["period_before"], 2);
    assert_eq!(f["warnings"]["yoy"], 1.0, "同比 up 100%");
    assert_eq!(f["warnings"]["mom"], 0.0, "环比 level");
    let grade =
        |g: &str| f["by_grade"].as_array().unwrap().iter().find(|x| x["grade"] == g).unwrap()["warnings"].clone();
    assert_eq!((grade("red"), grade("yellow"), grade("blue")), (json!(1), json!(1), json!(0)));
    assert_eq!(f["dissuaded"]["value"], 1);
    assert_eq!(f["dissuasion_rate"], 1.0);
    assert_eq!((f["due"].clone(), f["on_time"].clone(), f["on_time_rate"].clone()), (json!(2), json!(1), json!(0.5)));
    assert_eq!(f["protected_fen"]["value"], 500_000);
    assert_eq!(f["by_day"], json!([{"date": "2026-12-01", "warnings": 2}]));
    let station = &f["by_station"][0];
    assert_eq!((station["code"].as_str(), station["warnings"].as_i64()), (Some("410702010000"), Some(2)), "{f}");
    assert_eq!(station["protected_fen"], 500_000);
    // The investment kind rose from one case's two history warnings to two live ones: level.
    let investment = f["by_kind"].as_array().unwrap().iter().find(|k| k["kind"] == "investment").unwrap().clone();
    assert_eq!((investment["warnings"].as_i64(), investment["period_before"].as_i64()), (Some(2), Some(2)));
}

#[tokio::test]
async fn figures_follow_the_jurisdiction_and_refuse_bad_periods() {
    let app = a_worked_day().await;
    let other = app.login("other_station_head").await;
    let (status, f) = app.get(DAY, Some(&other)).await;
    assert_eq!(status, 200, "{f}");
    assert_eq!((f["warnings"]["value"].as_i64(), f["dissuaded"]["value"].as_i64()), (Some(0), Some(0)), "{f}");
    assert_eq!(f["by_station"], json!([]));
    let commander = app.login("commander").await;
    assert_eq!(app.get(DAY, Some(&commander)).await.1["warnings"]["value"], 2, "the city sees every station");
    let admin = app.login("sysadmin").await;
    assert_eq!(app.get(DAY, Some(&admin)).await.0, 403, "the system administrator sees no people, not even counted");
    for (query, field) in [
        ("from=2026-12-32", "from"),
        ("from=2026-12-02&to=2026-12-01", "from"),
        ("from=2024-01-01&to=2026-12-01", "from"),
        ("to=2027-03-01", "to"),
        ("since=2026-12-01", "since"),
    ] {
        let (status, body) = app.get(&format!("/api/v1/antifraud/figures?{query}"), Some(&commander)).await;
        assert_eq!((status, body["error"]["field"].as_str()), (422, Some(field)), "{query}: {body}");
    }
}

#[tokio::test]
async fn figures_export_as_a_watermarked_audited_file_and_show_on_the_page() {
    let app = a_worked_day().await;
    let head = app.login("station_head").await;
    let before = app.audit_head().await;
    let resp = app
        .client
        .get(app.at("/api/v1/antifraud/figures/export?from=2026-12-01&to=2026-12-01&format=csv"))
        .bearer_auth(&head)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let csv = resp.text().await.unwrap();
    assert!(csv.contains("李卫东"), "watermarked with the viewer: {csv}");
    assert!(csv.contains("劝阻成功") && csv.contains("同比上升100.0%") && csv.contains("5000.00"), "{csv}");
    let xlsx =
        app.client.get(app.at("/api/v1/antifraud/figures/export?format=xlsx")).bearer_auth(&head).send().await.unwrap();
    assert_eq!(xlsx.headers()["content-type"], "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    assert!(xlsx.bytes().await.unwrap().starts_with(b"PK"), "a zip, as XLSX is");
    let exports = app.audit_since(before).await.into_iter().filter(|a| a.0 == "antifraud.figures.export").count();
    assert_eq!(exports, 2);

    let (client, _) = app.web_login("station_head", PASSWORD).await;
    let (status, page, _) = app.page(&client, "/antifraud/figures?from=2026-12-01&to=2026-12-01").await;
    assert_eq!(status, 200);
    assert!(page.contains("同比上升100.0%") && page.contains("环比持平"), "the comparisons as reports quote them");
    assert!(page.contains("<svg") && page.contains("2026-12-01: 2"), "the daily chart, with the day's count");
    assert!(page.contains("/antifraud/figures/export?from=2026-12-01&amp;to=2026-12-01&amp;format=xlsx"));
    let (status, page, _) = app.page(&client, "/antifraud/figures?from=2020-01-01&to=2020-01-31").await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"no-figures\""), "an empty period says so");
}
