//! `GET /api/v1/events`: server-sent events for the signed-in caller, resumable with
//! `Last-Event-ID`.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::stream::{self, Stream};

use super::Event;
use crate::app::AppState;
use crate::auth::Caller;
use crate::jurisdiction::{scope_of, staff_scope_of, Level};
use crate::web::error::AppError;
use crate::web::extract::ApiQuery;

/// The stream takes no query parameters; unknown ones are refused like everywhere else.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParameters {}

/// How often a subscriber looks for events even without a wake-up.
const POLL: Duration = Duration::from_secs(1);

/// How often a stream re-checks that its session is alive: often enough that a sign-out ends
/// it promptly, rarely enough that thousands of open pages cost little.
const LIVENESS: Duration = Duration::from_secs(5);

struct Cursor {
    state: AppState,
    caller: Caller,
    after: i64,
    filter: String,
    pending: VecDeque<Event>,
    checked: Option<tokio::time::Instant>,
}

/// Streams the events in the caller's scope after `Last-Event-ID` (or from now), ending when
/// the caller's session ends.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", security(("bearer" = [])),
    params(("Last-Event-ID" = Option<i64>, Header, minimum = 0, description = "resume after this event id")),
    responses((status = 200, content_type = "text/event-stream", description = "a stream of events"),
              (status = 401, body = crate::auth::api::ErrorBody)))]
pub async fn sse(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    _: ApiQuery<NoParameters>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, AppError> {
    let after = match headers.get("last-event-id") {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|id| *id >= 0)
            .ok_or_else(|| AppError::invalid("Last-Event-ID", "the id of an event this stream sent"))?,
        None => super::latest_id(&state.db).await?,
    };
    // Organisation changes reach whoever manages that part of the tree; everything else is
    // about people and follows the people scope.
    let people = scope_of(&state, &caller).await?.nodes_sql(Level::CountsOnly);
    let staff = staff_scope_of(&state, &caller).await?.nodes_sql(Level::CountsOnly);
    let filter = format!("(node_id IS NULL OR node_id IN ({people}) OR (kind LIKE 'org.%' AND node_id IN ({staff})))");
    let cursor = Cursor { state, caller, after, filter, pending: VecDeque::new(), checked: None };
    let events = stream::unfold(cursor, next_event);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

async fn next_event(mut c: Cursor) -> Option<(Result<SseEvent, Infallible>, Cursor)> {
    loop {
        if let Some(e) = c.pending.pop_front() {
            c.after = e.id;
            let sse = SseEvent::default().id(e.id.to_string()).event(e.kind.clone()).data(e.payload.clone());
            return Some((Ok(sse), c));
        }
        if c.state.shutdown.is_cancelled() {
            return None;
        }
        if c.checked.is_none_or(|t| t.elapsed() >= LIVENESS) {
            if !still_signed_in(&c).await {
                return None;
            }
            c.checked = Some(tokio::time::Instant::now());
        }
        let sql = format!(
            "SELECT id, at, kind, node_id, payload FROM events WHERE id > $1 AND {} ORDER BY id LIMIT 100",
            c.filter
        );
        match sqlx::query_as::<_, Event>(&sql).bind(c.after).fetch_all(c.state.db.reader()).await {
            Ok(rows) if !rows.is_empty() => c.pending.extend(rows),
            Ok(_) => {
                let wake = c.state.events_wake.clone();
                let shutdown = c.state.shutdown.clone();
                tokio::select! {
                    _ = tokio::time::timeout(POLL, wake.notified()) => {}
                    _ = shutdown.cancelled() => return None,
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "reading events failed; ending the stream");
                return None;
            }
        }
    }
}

/// A stream outlives the request that opened it: it ends when its session or token does. An
/// open stream is not activity, so the idle limit counts from the session's last request.
async fn still_signed_in(c: &Cursor) -> bool {
    let now = c.state.clock.now_ms();
    let idle_ms = match c.state.security_policy().await {
        Ok(p) => p.idle_minutes * 60_000,
        Err(_) => return false,
    };
    let live: Result<Option<i64>, _> = match (c.caller.session_id, c.caller.token_id) {
        (Some(sid), _) => {
            sqlx::query_scalar(
                "SELECT s.id FROM sessions s JOIN accounts a ON a.id = s.account_id \
             WHERE s.id = $1 AND s.revoked_at IS NULL AND a.disabled = 0 AND s.auth_epoch = a.auth_epoch \
             AND s.expires_at > $2 AND s.last_seen_at > $3",
            )
            .bind(sid)
            .bind(now)
            .bind(now - idle_ms)
            .fetch_optional(c.state.db.reader())
            .await
        }
        (None, Some(tid)) => {
            sqlx::query_scalar(
                "SELECT id FROM integration_tokens WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2",
            )
            .bind(tid)
            .bind(now)
            .fetch_optional(c.state.db.reader())
            .await
        }
        _ => Ok(None),
    };
    matches!(live, Ok(Some(_)))
}
