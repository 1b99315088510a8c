//! Working a case: each contact attempt, the outcome, follow-ups, a match made by hand, and the
//! full identifiers for a stated reason. Each is one transaction with its audit entry and an
//! event, so every open queue sees it.

use serde::Deserialize;
use utoipa::ToSchema;

use super::cases;
use super::model::{parse_amount, MatchKind, Outcome};
use super::store::{self, Line};
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::{Caller, Permission};
use crate::jurisdiction::Level;
use crate::web::error::AppError;
use crate::web::middleware::RequestMeta;

#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// A phone call.
    Call,
    /// Face to face (见面劝阻).
    Visit,
}

/// What the API document says of a case action: one flat object per action. The server reads
/// it as [`CaseAction`], which names the field inside an action when one is wrong.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, tag = "action", rename_all = "snake_case")]
#[allow(dead_code)]
pub enum CaseActionBody {
    /// One attempt to reach the person; `reached` false records a missed call or nobody home.
    Contact {
        method: Method,
        reached: bool,
        #[schema(max_length = 500)]
        note: Option<String>,
    },
    /// Closes the case. Dissuaded may carry the amount protected, defrauded must carry the amount
    /// lost (the case goes to the case team), unreachable needs an unanswered attempt first.
    Close {
        outcome: Outcome,
        #[schema(value_type = Option<super::model::AmountYuan>)]
        amount_yuan: Option<serde_json::Value>,
        #[schema(max_length = 500)]
        note: Option<String>,
    },
    /// A note after the fact, on an open or closed case.
    FollowUp {
        #[schema(min_length = 1, max_length = 500)]
        note: String,
    },
}

#[derive(Debug, Clone)]
pub enum CaseAction {
    /// One attempt to reach the person; `reached` false records a missed call or nobody home.
    Contact(Contact),
    /// Closes the case. Dissuaded may carry the amount protected, defrauded must carry the amount
    /// lost (the case goes to the case team), unreachable needs an unanswered attempt first.
    Close(Close),
    /// A note after the fact, on an open or closed case.
    FollowUp(FollowUp),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub method: Method,
    pub reached: bool,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Close {
    pub outcome: Outcome,
    #[serde(default)]
    pub amount_yuan: Option<serde_json::Value>,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowUp {
    pub note: String,
}

impl CaseAction {
    /// Reads the tag, then the variant's own fields, so an error names the field inside it
    /// (serde's tagged enums lose the path).
    pub fn from_json(v: serde_json::Value) -> Result<CaseAction, AppError> {
        let serde_json::Value::Object(mut map) = v else {
            return Err(AppError::invalid("body", "the body must be a JSON object"));
        };
        let action = match map.remove("action") {
            Some(serde_json::Value::String(a)) => a,
            Some(_) => return Err(AppError::invalid("action", "one of contact, close, follow_up")),
            None => return Err(AppError::invalid("action", "missing field `action`")),
        };
        let rest = serde_json::Value::Object(map);
        use crate::web::extract::from_value;
        Ok(match action.as_str() {
            "contact" => CaseAction::Contact(from_value(rest)?),
            "close" => CaseAction::Close(from_value(rest)?),
            "follow_up" => CaseAction::FollowUp(from_value(rest)?),
            other => {
                return Err(AppError::invalid(
                    "action",
                    format!("unknown action {other:?}; one of contact, close, follow_up"),
                ))
            }
        })
    }
}

#[derive(sqlx::FromRow)]
struct Head {
    state: String,
    node_id: i64,
    station_id: Option<i64>,
    grade: String,
    first_contact_at: Option<i64>,
}

fn note(s: &str) -> Result<String, AppError> {
    crate::basedata::model::check_multiline(s, 500).map_err(|r| AppError::invalid("note", r))
}

pub async fn act(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    id: i64,
    action: &CaseAction,
) -> Result<(), AppError> {
    caller.require(Permission::WarningsWork)?;
    let who = caller.account_id_or_forbidden()?;
    cases::visible(state, meta, caller, id, "antifraud.case.act").await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let h: Head =
        sqlx::query_as("SELECT state, node_id, station_id, grade, first_contact_at FROM fraud_cases WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    let (change, detail) = match action {
        CaseAction::Contact(Contact { method, reached, note: n }) => {
            let n = note(n)?;
            if h.state != "open" {
                return Err(AppError::Conflict {
                    field: None,
                    reason: "the case is closed; add a follow-up instead".into(),
                });
            }
            if *reached {
                let visit = *method == Method::Visit;
                sqlx::query(
                    "UPDATE fraud_cases SET first_contact_at = COALESCE(first_contact_at, $2), \
                     visited_at = CASE WHEN $3 = 1 THEN COALESCE(visited_at, $2) ELSE visited_at END WHERE id = $1",
                )
                .bind(id)
                .bind(now)
                .bind(i64::from(visit))
                .execute(&mut *tx)
                .await?;
            }
            let kind = if *method == Method::Visit { "visit" } else { "call" };
            let result = if *reached { "reached" } else { "not_reached" };
            store::timeline(
                &mut tx,
                &Line {
                    case_id: id,
                    at: now,
                    account_id: Some(who),
                    kind,
                    result: Some(result),
                    note: &n,
                    amount_fen: None,
                },
            )
            .await?;
            ("contact", serde_json::json!({"method": kind, "reached": reached}))
        }
        CaseAction::Close(Close { outcome, amount_yuan, note: n }) => {
            let n = note(n)?;
            if h.state != "open" {
                return Err(AppError::Conflict { field: None, reason: "the case is already closed".into() });
            }
            let amount = match amount_yuan {
                None | Some(serde_json::Value::Null) => None,
                Some(v) => Some(parse_amount(v).map_err(|r| AppError::invalid("amount_yuan", r))?),
            };
            let (protected, lost) = match outcome {
                Outcome::Dissuaded => (Some(amount.unwrap_or(0)), None),
                Outcome::Defrauded => match amount {
                    Some(a) if a > 0 => (None, Some(a)),
                    _ => return Err(AppError::invalid("amount_yuan", "state the amount lost (more than 0)")),
                },
                Outcome::Unreachable => {
                    let tried: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM fraud_case_events WHERE case_id = $1 AND kind IN ('call', 'visit') AND result = 'not_reached'",
                    )
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                    if tried == 0 {
                        return Err(AppError::invalid("outcome", "record the unanswered attempts first"));
                    }
                    (None, None)
                }
                Outcome::NotFraud => {
                    if n.chars().count() < 4 {
                        return Err(AppError::invalid("note", "say why it is not fraud (at least 4 characters)"));
                    }
                    (None, None)
                }
            };
            if matches!(outcome, Outcome::Dissuaded | Outcome::Defrauded) && h.first_contact_at.is_none() {
                return Err(AppError::invalid("outcome", "record the contact with the person first"));
            }
            sqlx::query(
                "UPDATE fraud_cases SET state = 'closed', outcome = $2, amount_protected_fen = $3, amount_lost_fen = $4, \
                 closed_at = $5, closed_by = $6 WHERE id = $1",
            )
            .bind(id)
            .bind(outcome.code())
            .bind(protected)
            .bind(lost)
            .bind(now)
            .bind(who)
            .execute(&mut *tx)
            .await?;
            store::timeline(
                &mut tx,
                &Line {
                    case_id: id,
                    at: now,
                    account_id: Some(who),
                    kind: "closed",
                    result: Some(outcome.code()),
                    note: &n,
                    amount_fen: protected.or(lost),
                },
            )
            .await?;
            if *outcome == Outcome::Defrauded {
                // 移交办案: the station's case team takes the loss from here.
                let node = h.station_id.unwrap_or(h.node_id);
                let payload = serde_json::json!({"grade": h.grade, "amount_fen": lost});
                crate::notifications::send_to_role(
                    &mut tx,
                    node,
                    "station_head",
                    "antifraud.handed_over",
                    Some(id),
                    &payload,
                    now,
                )
                .await?;
            }
            ("closed", serde_json::json!({"outcome": outcome.code(), "amount_fen": protected.or(lost)}))
        }
        CaseAction::FollowUp(FollowUp { note: n }) => {
            let n = note(n)?;
            if n.is_empty() {
                return Err(AppError::invalid("note", "required"));
            }
            store::timeline(
                &mut tx,
                &Line {
                    case_id: id,
                    at: now,
                    account_id: Some(who),
                    kind: "follow_up",
                    result: None,
                    note: &n,
                    amount_fen: None,
                },
            )
            .await?;
            ("follow_up", serde_json::Value::Null)
        }
    };
    let event = serde_json::json!({"case_id": id, "grade": h.grade, "change": change});
    crate::events::publish(&mut tx, &state.db, "antifraud.case", Some(h.node_id), &event, now).await?;
    let entry = Entry::new(meta, Some(caller), &format!("antifraud.case.{change}"))
        .record(format!("fraud_case:{id}"))
        .detail(detail);
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    crate::events::wake(state);
    Ok(())
}

/// Matches a pending or unmatched case to a resident by hand; the case moves to the resident's
/// grid and officer.
pub async fn match_resident(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    id: i64,
    resident_id: i64,
) -> Result<(), AppError> {
    caller.require(Permission::WarningsWork)?;
    let who = caller.account_id_or_forbidden()?;
    let (old_node, _) = cases::visible(state, meta, caller, id, "antifraud.case.match").await?;
    crate::basedata::visible(
        state,
        meta,
        caller,
        crate::basedata::Table::Resident,
        resident_id,
        "antifraud.case.match",
    )
    .await
    .map_err(|e| match e {
        AppError::NotFound => AppError::invalid("resident_id", "no such resident in your jurisdiction"),
        other => other,
    })?;
    let route = super::matching::route_resident(state.db.reader(), resident_id)
        .await?
        .ok_or_else(|| AppError::invalid("resident_id", "no such resident"))?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let current: Option<String> =
        sqlx::query_scalar("SELECT match_state FROM fraud_cases WHERE id = $1").bind(id).fetch_one(&mut *tx).await?;
    if matches!(current.as_deref(), Some("id_number" | "phone" | "manual")) {
        return Err(AppError::Conflict {
            field: Some("resident_id".into()),
            reason: "the case is already matched".into(),
        });
    }
    sqlx::query(
        "UPDATE fraud_cases SET resident_id = $2, match_state = $3, grid_id = $4, post_id = $5, station_id = $6, \
         node_id = $7, officer_id = $8 WHERE id = $1",
    )
    .bind(id)
    .bind(resident_id)
    .bind(MatchKind::Manual.code())
    .bind(route.grid_id)
    .bind(route.post_id)
    .bind(route.station_id)
    .bind(route.node_id)
    .bind(route.officer_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM fraud_candidates WHERE case_id = $1").bind(id).execute(&mut *tx).await?;
    store::timeline(
        &mut tx,
        &Line {
            case_id: id,
            at: now,
            account_id: Some(who),
            kind: "matched",
            result: Some("manual"),
            note: "",
            amount_fen: None,
        },
    )
    .await?;
    for node in [old_node, route.node_id] {
        let event = serde_json::json!({"case_id": id, "change": "matched"});
        crate::events::publish(&mut tx, &state.db, "antifraud.case", Some(node), &event, now).await?;
    }
    let entry = Entry::new(meta, Some(caller), "antifraud.case.match")
        .record(format!("fraud_case:{id}"))
        .record(format!("resident:{resident_id}"));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    crate::events::wake(state);
    Ok(())
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum UnmaskField {
    IdNumber,
    Phone,
}

/// The full ID number or phone a case's newest warning carried, for a stated reason (audited).
pub async fn unmask(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    id: i64,
    field: UnmaskField,
    reason: &str,
) -> Result<Option<String>, AppError> {
    caller.require(Permission::PiiUnmask)?;
    let reason = crate::pii::check_unmask_reason(reason).map_err(|r| AppError::invalid("reason", r))?;
    let (_, level) = cases::visible(state, meta, caller, id, "antifraud.case.unmask").await?;
    if level < Level::Full {
        return Err(AppError::Forbidden("your access to this unit is masked".into()));
    }
    let column = match field {
        UnmaskField::IdNumber => "id_enc",
        UnmaskField::Phone => "phone_enc",
    };
    let enc: Option<Vec<u8>> = sqlx::query_scalar(&format!(
        "SELECT {column} FROM fraud_warnings WHERE case_id = $1 AND {column} IS NOT NULL ORDER BY id DESC LIMIT 1"
    ))
    .bind(id)
    .fetch_optional(state.db.reader())
    .await?;
    let field_code = if field == UnmaskField::IdNumber { "id_number" } else { "phone" };
    let entry = Entry::new(meta, Some(caller), "antifraud.case.unmask")
        .record(format!("fraud_case:{id}"))
        .detail(serde_json::json!({"field": field_code, "reason": reason}));
    audit::write(state, entry).await?;
    enc.map(|e| state.key.decrypt_str(&e).map_err(|e| AppError::Internal(e.into()))).transpose()
}
