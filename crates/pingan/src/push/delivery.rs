//! Delivering one queued message to one chat group: a job (`push.deliver`) per attempt. The
//! request goes out before the job's transaction opens, so a slow webhook never holds the
//! database's writer; the result, the log line and the next attempt (or the dead letter) then
//! commit with the job's completion.
//!
//! Invariant: a delivery is sent until it succeeds or 24 hours have passed; each attempt is
//! logged; the same idempotency key goes with every attempt, so a receiver that got an earlier
//! one (and whose answer was lost) drops the repeat.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::model::{self, DeliveryState, DestinationKind};
use super::store::{self, Outgoing};
use crate::app::AppState;
use crate::db::Tx;
use crate::jobs::Job;

pub const DELIVER_JOB: &str = "push.deliver";
/// Well inside the job lease (60 s), so a job never outlives its claim while waiting.
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Deserialize)]
struct Payload {
    delivery_id: i64,
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub status: Option<i64>,
    pub ok: bool,
    pub error: Option<String>,
    pub duration_ms: i64,
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(TIMEOUT)
            // A webhook that redirects is misconfigured; following it could post elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("pingan/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("BUG: a reqwest client with a timeout builds")
    })
}

/// The first phase, outside any transaction: sends the request if the delivery is still
/// pending. `None` when there is nothing to send (delivered, dead, or gone).
pub async fn send(state: &AppState, job: &Job) -> anyhow::Result<Option<Attempt>> {
    let p: Payload = serde_json::from_str(&job.payload)?;
    let Some(o) = store::outgoing(state.db.reader(), p.delivery_id).await? else { return Ok(None) };
    if o.state != DeliveryState::Pending.code() {
        return Ok(None);
    }
    if o.disabled_at.is_some() {
        let error = "the destination was taken off the allowlist".to_string();
        return Ok(Some(Attempt { status: None, ok: false, error: Some(error), duration_ms: 0 }));
    }
    let started = Instant::now();
    let (url, body) = request(state, &o)?;
    let answer = client().post(url).header("Idempotency-Key", &o.idempotency_key).json(&body).send().await;
    let mut attempt = Attempt { status: None, ok: false, error: None, duration_ms: 0 };
    match answer {
        Ok(resp) => {
            let status = resp.status();
            attempt.status = Some(i64::from(status.as_u16()));
            let text = resp.text().await.unwrap_or_default();
            let kind = DestinationKind::parse(&o.kind).unwrap_or(DestinationKind::Json);
            attempt.ok = status.is_success();
            if !status.is_success() {
                attempt.error = Some(format!("HTTP {}", status.as_u16()));
            } else if kind != DestinationKind::Json {
                if let Err(e) = model::chat_answer_ok(&text) {
                    attempt.ok = false;
                    attempt.error = Some(e);
                }
            }
        }
        // The error names the host, never the address: the path and query hold the key.
        Err(e) if e.is_timeout() => attempt.error = Some(format!("no answer within {} s", TIMEOUT.as_secs())),
        Err(e) if e.is_connect() => attempt.error = Some("could not connect".into()),
        Err(_) => attempt.error = Some("the request failed".into()),
    }
    attempt.duration_ms = started.elapsed().as_millis() as i64;
    Ok(Some(attempt))
}

/// The address and body for one destination kind.
fn request(state: &AppState, o: &Outgoing) -> anyhow::Result<(String, serde_json::Value)> {
    let text = model::chat_text(&o.title, &o.body);
    Ok(match DestinationKind::parse(&o.kind).unwrap_or(DestinationKind::Json) {
        DestinationKind::Wecom => (o.url.clone(), serde_json::json!({"msgtype": "text", "text": {"content": text}})),
        DestinationKind::Dingtalk => {
            let url = match &o.secret_enc {
                Some(enc) => {
                    let secret =
                        state.key.decrypt_str(enc).map_err(|_| anyhow::anyhow!("the signing secret is unreadable"))?;
                    model::dingtalk_signed_url(&o.url, &secret, state.clock.now_ms())
                }
                None => o.url.clone(),
            };
            (url, serde_json::json!({"msgtype": "text", "text": {"content": text}}))
        }
        DestinationKind::Json => (
            o.url.clone(),
            serde_json::json!({
                "id": o.idempotency_key,
                "message_id": o.message_id,
                "title": o.title,
                "body": o.body,
                "kinds": o.kinds.split(',').filter(|k| !k.is_empty()).collect::<Vec<_>>(),
                "grid": {"code": o.node_code, "name": o.node_name},
                "sent_at": crate::clock::iso_beijing(state.clock.now_ms()),
            }),
        ),
    })
}

/// The second phase, in the job's transaction: logs the attempt and moves the delivery on —
/// delivered; or another job after the backoff; or, past 24 hours, a dead letter that tells the
/// author.
pub async fn record(state: &AppState, tx: &mut Tx, job: &Job, attempt: Option<Attempt>) -> anyhow::Result<()> {
    let Some(a) = attempt else { return Ok(()) };
    let p: Payload = serde_json::from_str(&job.payload)?;
    let Some(o) = store::outgoing(&mut **tx, p.delivery_id).await? else { return Ok(()) };
    if o.state != DeliveryState::Pending.code() {
        return Ok(());
    }
    let now = state.clock.now_ms();
    store::log_attempt(tx, o.id, now, a.status, a.ok, a.error.as_deref(), a.duration_ms).await?;
    let attempts = o.attempts + 1;
    if a.ok {
        store::settle(tx, o.id, DeliveryState::Delivered, attempts, None, Some(now), None).await?;
        return Ok(());
    }
    match model::next_attempt(o.created_at, attempts, now) {
        Some(next) => {
            store::settle(tx, o.id, DeliveryState::Pending, attempts, Some(next), None, a.error.as_deref()).await?;
            crate::jobs::schedule(tx, DELIVER_JOB, next, &serde_json::json!({"delivery_id": o.id}), now).await?;
        }
        None => {
            store::settle(tx, o.id, DeliveryState::Dead, attempts, None, None, a.error.as_deref()).await?;
            if let Some(author) = o.author_id {
                let payload = serde_json::json!({"message_id": o.message_id, "grid": o.node_name});
                crate::notifications::send_to_account(tx, author, "push.dead", None, &payload, now).await?;
            }
        }
    }
    Ok(())
}
