//! Prevention pushes (云宣防) against a local receiver: delivery to each chat group with its
//! idempotency key, retries with backoff, the dead letter after a day, the refusals.

use std::sync::{Arc, Mutex};

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp, PASSWORD};

#[derive(Debug, Clone)]
struct Received {
    path: String,
    key: String,
    query: Option<String>,
    body: Value,
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    /// The first this many requests get a 500.
    fail_first: usize,
}

impl Receiver {
    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

async fn hook(
    State(r): State<Receiver>,
    uri: axum::http::Uri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    let mut got = r.got.lock().unwrap();
    got.push(Received {
        path: uri.path().to_string(),
        key: headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_string(),
        query,
        body: serde_json::from_str(&body).unwrap_or(Value::Null),
    });
    if got.len() <= r.fail_first {
        (StatusCode::INTERNAL_SERVER_ERROR, "busy".into())
    } else {
        (StatusCode::OK, r#"{"errcode":0,"errmsg":"ok"}"#.into())
    }
}

/// A webhook receiver on an ephemeral loopback port: its base address and what it records.
async fn receiver(fail_first: usize) -> (String, Receiver) {
    let r = Receiver { fail_first, ..Receiver::default() };
    let app = axum::Router::new().route("/{*path}", post(hook)).with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), r)
}

async fn destination(app: &TestApp, kind: &str, url: &str, grid: &str, secret: Option<&str>) -> i64 {
    let admin = app.login("sysadmin").await;
    let body = json!({"name": format!("{grid} 反诈宣传群"), "kind": kind, "url": url, "secret": secret, "node_id": app.node_id(grid).await});
    let (status, v) = app.post("/api/v1/push/destinations", Some(&admin), body).await;
    assert_eq!(status, 201, "{v}");
    v["id"].as_i64().unwrap()
}

async fn send(app: &TestApp, node: &str) -> (u16, Value) {
    let head = app.login("station_head").await;
    let body = json!({
        "title": "反诈提醒", "body": "近期刷单返利类诈骗多发，凡是先垫付的都是诈骗！", "kinds": ["brushing"],
        "node_ids": [app.node_id(node).await]
    });
    app.post("/api/v1/push/messages", Some(&head), body).await
}

async fn deliveries(app: &TestApp, message: i64) -> Vec<Value> {
    let head = app.login("station_head").await;
    let (status, v) = app.get(&format!("/api/v1/push/messages/{message}"), Some(&head)).await;
    assert_eq!(status, 200, "{v}");
    v["deliveries"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_message_reaches_each_chat_group_and_a_failure_is_retried_with_the_same_key() {
    let app = spawn_app().await;
    let (base, rx) = receiver(2).await;
    destination(&app, "json", &format!("{base}/json"), "410702010101", None).await;
    destination(&app, "wecom", &format!("{base}/cgi-bin/webhook/send?key=abc"), "410702010102", None).await;
    let (status, sent) = send(&app, "410702010000").await;
    assert_eq!((status, sent["deliveries"].as_i64()), (201, Some(2)), "{sent}");
    let message = sent["id"].as_i64().unwrap();

    pingan::jobs::run_due(&app.state).await.unwrap();
    assert_eq!(rx.got().len(), 2, "one attempt each, both refused by the receiver");
    let now = app.clock.now_ms();
    for d in deliveries(&app, message).await {
        assert_eq!((d["state"].as_str(), d["attempts"].as_i64()), (Some("pending"), Some(1)), "{d}");
        assert_eq!(d["next_attempt_at"], now + 30_000, "the first retry waits 30 s");
        assert_eq!(d["log"][0]["status"], 500);
    }
    pingan::jobs::run_due(&app.state).await.unwrap();
    assert_eq!(rx.got().len(), 2, "nothing is retried before its time");
    app.clock.advance_ms(30_000);
    pingan::jobs::run_due(&app.state).await.unwrap();
    let got = rx.got();
    assert_eq!(got.len(), 4);
    for d in deliveries(&app, message).await {
        assert_eq!((d["state"].as_str(), d["attempts"].as_i64()), (Some("delivered"), Some(2)), "{d}");
        let key = d["idempotency_key"].as_str().unwrap();
        assert_eq!(got.iter().filter(|r| r.key == key).count(), 2, "both attempts carry the delivery's key");
    }
    let json = got.iter().find(|r| r.path == "/json").unwrap();
    assert_eq!(json.body["title"], "反诈提醒");
    assert_eq!(json.body["grid"]["code"], "410702010101");
    assert_eq!(json.body["kinds"], json!(["brushing"]));
    assert_eq!(json.body["id"].as_str(), Some(json.key.as_str()));
    let wecom = got.iter().find(|r| r.path == "/cgi-bin/webhook/send").unwrap();
    assert_eq!(wecom.query.as_deref(), Some("key=abc"));
    assert_eq!(wecom.body["msgtype"], "text");
    assert!(wecom.body["text"]["content"].as_str().unwrap().starts_with("【反诈提醒】\n近期刷单返利"));
    pingan::jobs::run_due(&app.state).await.unwrap();
    assert_eq!(rx.got().len(), 4, "a delivered message is not sent again");
    let audited = app.audit_since(0).await.into_iter().any(|a| a.0 == "push.send");
    assert!(audited);
}

#[tokio::test]
async fn a_group_that_never_answers_becomes_a_dead_letter_after_a_day_and_can_be_sent_again() {
    let app = spawn_app().await;
    let (base, rx) = receiver(usize::MAX).await;
    destination(&app, "dingtalk", &format!("{base}/robot/send?access_token=t"), "410702010101", Some("SECdemo")).await;
    let queued_at = app.clock.now_ms();
    let (_, sent) = send(&app, "410702010101").await;
    let message = sent["id"].as_i64().unwrap();
    let mut rounds = 0;
    loop {
        pingan::jobs::run_due(&app.state).await.unwrap();
        let d = deliveries(&app, message).await.remove(0);
        if d["state"] == "dead" {
            break;
        }
        let next = d["next_attempt_at"].as_i64().unwrap();
        assert!(next <= queued_at + 24 * 3_600_000, "no attempt is planned past the day");
        app.clock.advance_ms(next - app.clock.now_ms());
        rounds += 1;
        assert!(rounds < 40, "still pending after {rounds} rounds: {d}");
    }
    let got = rx.got();
    let d = deliveries(&app, message).await.remove(0);
    assert_eq!(d["attempts"].as_i64(), Some(got.len() as i64));
    assert!(got.len() >= 10, "30 s doubling to 4 h fills the day with attempts: {}", got.len());
    assert_eq!(d["log"].as_array().unwrap().len(), got.len(), "every attempt is logged");
    let signed = got[0].query.as_deref().unwrap();
    assert!(signed.starts_with("access_token=t&timestamp=") && signed.contains("&sign="), "{signed}");
    // The author hears of it, and the page shows it.
    let head = app.login("station_head").await;
    let (_, inbox) = app.get("/api/v1/notifications", Some(&head)).await;
    assert!(inbox.as_array().unwrap().iter().any(|n| n["kind"] == "push.dead"), "{inbox}");
    let (client, _) = app.web_login("station_head", PASSWORD).await;
    let (status, page, _) = app.page(&client, &format!("/push/messages/{message}")).await;
    assert_eq!(status, 200);
    assert!(page.contains("data-state=\"dead\"") && page.contains("HTTP 500"), "the dead letter is visible");
    // Sent again by hand: pending, with a fresh day.
    let delivery = d["id"].as_i64().unwrap();
    let url = format!("/api/v1/push/deliveries/{delivery}/retry");
    assert_eq!(app.post(&url, Some(&head), json!({})).await.0, 204);
    assert_eq!(app.post(&url, Some(&head), json!({})).await.0, 409, "only a dead letter is sent again");
    pingan::jobs::run_due(&app.state).await.unwrap();
    assert_eq!(rx.got().len(), got.len() + 1);
    // The signing secret never sits in the database in clear.
    let raw: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT secret_enc FROM push_destinations").fetch_all(app.state.db.reader()).await.unwrap();
    assert!(!raw[0].windows(7).any(|w| w == b"SECdemo"));
}

#[tokio::test]
async fn pushes_refuse_personal_data_foreign_grids_and_the_wrong_roles() {
    let app = spawn_app().await;
    let (base, _rx) = receiver(0).await;
    let head = app.login("station_head").await;
    let grid = app.node_id("410702010101").await;
    let message =
        |body: &str, node: i64| json!({"title": "反诈提醒", "body": body, "kinds": ["loan"], "node_ids": [node]});
    let (status, v) = app.post("/api/v1/push/messages", Some(&head), message("近期网贷诈骗多发", grid)).await;
    assert_eq!((status, v["error"]["field"].as_str()), (422, Some("node_ids")), "no chat group yet: {v}");
    destination(&app, "json", &format!("{base}/json"), "410702010101", None).await;
    for body in ["受害人电话13912345678，请大家注意", "身份证 410702 19800202 0210"] {
        let (status, v) = app.post("/api/v1/push/messages", Some(&head), message(body, grid)).await;
        assert_eq!((status, v["error"]["field"].as_str()), (422, Some("body")), "{body}: {v}");
    }
    let foreign = app.node_id("410703010000").await;
    let (status, v) = app.post("/api/v1/push/messages", Some(&head), message("近期网贷诈骗多发", foreign)).await;
    assert_eq!((status, v["error"]["field"].as_str()), (422, Some("node_ids")), "{v}");
    let officer = app.login("officer").await;
    assert_eq!(app.post("/api/v1/push/messages", Some(&officer), message("近期网贷诈骗多发", grid)).await.0, 403);
    let (status, v) = app
        .post(
            "/api/v1/push/destinations",
            Some(&head),
            json!({"name": "x", "kind": "json", "url": format!("{base}/x"), "node_id": grid}),
        )
        .await;
    assert_eq!(status, 403, "the allowlist is the administrator's: {v}");
    let admin = app.login("sysadmin").await;
    for (url, field) in [("ftp://host/x", "url"), ("https://u:p@host/x", "url")] {
        let body = json!({"name": "x", "kind": "json", "url": url, "node_id": grid});
        let (status, v) = app.post("/api/v1/push/destinations", Some(&admin), body).await;
        assert_eq!((status, v["error"]["field"].as_str()), (422, Some(field)), "{url}: {v}");
    }
    let none_sent: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM push_messages").fetch_one(app.state.db.reader()).await.unwrap();
    assert_eq!(none_sent, 0, "refused messages leave nothing behind");
}

#[tokio::test]
async fn the_administrator_allowlists_a_group_and_the_station_sends_from_the_page() {
    let app = spawn_app().await;
    let (base, rx) = receiver(0).await;
    let (admin, _) = app.web_login("sysadmin", PASSWORD).await;
    let (status, page, _) = app.page(&admin, "/push/destinations").await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"no-destinations\""), "an empty allowlist says so");
    let form = vec![
        ("csrf", crate::helpers::csrf_of(&page)),
        ("name", "幸福里社区反诈群".to_string()),
        ("kind", "wecom".to_string()),
        ("url", format!("{base}/cgi-bin/webhook/send?key=secret-key")),
        ("secret", String::new()),
        ("node_code", "410702010101".to_string()),
    ];
    let page = admin.post(app.at("/push/destinations")).form(&form).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("幸福里社区反诈群") && !page.contains("secret-key"), "listed, its key not shown: {page}");

    let (head, _) = app.web_login("station_head", PASSWORD).await;
    let (status, page, _) = app.page(&head, "/push").await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"push-form\"") && page.contains("幸福里社区反诈群"), "the group is offered");
    assert!(page.contains("凡是要求先垫付资金"), "the message starts from a prevention text");
    let form = vec![
        ("csrf", crate::helpers::csrf_of(&page)),
        ("title", "反诈提醒".to_string()),
        ("kinds", "brushing".to_string()),
        ("body", "刷单就是诈骗，请勿轻信。".to_string()),
        ("node_ids", app.node_id("410702010101").await.to_string()),
    ];
    let resp = head.post(app.at("/push/send")).form(&form).send().await.unwrap();
    let to = resp.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    assert!(to.starts_with("/push/messages/"), "to the delivery log: {to:?} ({})", resp.status());
    let (_, page, _) = app.page(&head, &to).await;
    assert!(page.contains("data-state=\"pending\""), "queued, not yet sent");
    pingan::jobs::run_due(&app.state).await.unwrap();
    assert_eq!(rx.got().len(), 1);
    let form = vec![
        ("csrf", crate::helpers::csrf_of(&page)),
        ("title", "反诈提醒".into()),
        ("kinds", "loan".into()),
        ("body", "联系人13912345678".into()),
        ("node_ids", app.node_id("410702010101").await.to_string()),
    ];
    let page = head.post(app.at("/push/send")).form(&form).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("role=\"alert\"") && page.contains("body"), "the refusal is shown on the page");
}
