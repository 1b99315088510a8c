use std::time::Duration;

use crate::helpers::spawn_app;
use serde_json::json;

/// Reads server-sent events until `count` have arrived (or 10 s pass): (id, kind, data).
async fn read_events(resp: &mut reqwest::Response, count: usize) -> Vec<(i64, String, String)> {
    let mut buf = String::new();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while out.len() < count {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk()).await.expect("events within 10 s").unwrap();
        let Some(chunk) = chunk else { break };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let field = |name: &str| block.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string());
            if let (Some(id), Some(kind), Some(data)) = (field("id:"), field("event:"), field("data:")) {
                out.push((id.parse().unwrap(), kind, data));
            }
        }
    }
    out
}

#[tokio::test]
async fn changes_reach_subscribers_on_another_server_within_their_jurisdiction() {
    let app = spawn_app().await;
    let other = app.second_server().await;
    let head = app.login("station_head").await;
    let admin = app.login("sysadmin").await;
    let mut stream = other.client.get(other.at("/api/v1/events")).bearer_auth(&head).send().await.unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");

    let foreign = app.node_id("410703010100").await; // another station's post
    let own = app.node_id("410702010100").await; // the station head's own post
    for id in [foreign, own] {
        let (status, _) =
            app.post(&format!("/api/v1/org/nodes/{id}/rename"), Some(&admin), json!({"name": "改名后的警务室"})).await;
        assert_eq!(status, 204);
    }
    let got = read_events(&mut stream, 1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, "org.changed");
    let data: serde_json::Value = serde_json::from_str(&got[0].2).unwrap();
    assert_eq!(data["node_id"], own, "the other station's change is not in this station head's stream");

    // Resuming with Last-Event-ID replays what came after it.
    let mut resumed = other
        .client
        .get(other.at("/api/v1/events"))
        .bearer_auth(&head)
        .header("Last-Event-ID", (got[0].0 - 1).to_string())
        .send()
        .await
        .unwrap();
    let again = read_events(&mut resumed, 1).await;
    assert_eq!(again[0].0, got[0].0);
}

#[tokio::test]
async fn the_stream_ends_when_the_session_does() {
    let app = spawn_app().await;
    let head = app.login("station_head").await;
    let mut stream = app.client.get(app.at("/api/v1/events")).bearer_auth(&head).send().await.unwrap();
    app.post("/api/v1/auth/logout", Some(&head), json!({})).await;
    let end =
        tokio::time::timeout(Duration::from_secs(10), async { while let Ok(Some(_)) = stream.chunk().await {} }).await;
    assert!(end.is_ok(), "the stream closed after sign-out");
    assert_eq!(app.get("/api/v1/events", None).await.0, 401);
}

#[tokio::test]
async fn a_resume_id_that_is_not_an_event_id_is_refused() {
    let app = spawn_app().await;
    let head = app.login("station_head").await;
    let resp = app
        .client
        .get(app.at("/api/v1/events"))
        .bearer_auth(&head)
        .header("Last-Event-ID", "abc")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 422);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["field"], "Last-Event-ID");
}

#[tokio::test]
async fn shutting_down_ends_open_event_streams_instead_of_waiting_for_them() {
    let mut app = spawn_app().await;
    let head = app.login("station_head").await;
    let mut stream = app.client.get(app.at("/api/v1/events")).bearer_auth(&head).send().await.unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    assert!(app.shut_down().await, "the server finished while a stream was open");
    let rest =
        tokio::time::timeout(Duration::from_secs(10), async { while let Ok(Some(_)) = stream.chunk().await {} }).await;
    assert!(rest.is_ok(), "the stream ended");
}

#[tokio::test]
async fn an_idle_session_ends_its_event_stream() {
    let app = spawn_app().await;
    let head = app.login("station_head").await;
    let mut stream = app.client.get(app.at("/api/v1/events")).bearer_auth(&head).send().await.unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    // Nothing but the open stream for 31 minutes: the session is idle, the stream ends.
    app.clock.advance_ms(31 * 60_000);
    let ended =
        tokio::time::timeout(Duration::from_secs(15), async { while let Ok(Some(_)) = stream.chunk().await {} }).await;
    assert!(ended.is_ok(), "the stream of an idle session ended");
    assert_eq!(app.get("/api/v1/auth/me", Some(&head)).await.0, 401);
}
