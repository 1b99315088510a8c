//! Each grid's team (社区警务团队): its responsible officer (一格一警) and the community officers,
//! auxiliaries, grid workers and volunteers who work it with them.
//!
//! Invariant: a member's account is active, sits in the grid's station (its subtree), and holds a
//! role that fits the duty; one responsible officer per grid (a unique index says so too).
//! Invariant: a team changes only by the hand of someone who manages the grid: `org:write` or
//! `teams:assign`, for a grid in their own subtree. Grants widen what a caller sees, never this.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::permissions::PermissionSet;
use crate::auth::{Caller, Permission};
use crate::jurisdiction::{org_scope_of, staff_scope_of, Level};
use crate::web::error::AppError;
use crate::web::i18n::Lang;
use crate::web::middleware::RequestMeta;

/// The closed set of duties in a grid's team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Duty {
    /// 责任民警: the one sworn officer answering for the grid (一格一警).
    Responsible,
    /// 社区民警: further sworn officers working the grid.
    CommunityOfficer,
    /// 辅警.
    Auxiliary,
    /// 网格员.
    GridWorker,
    /// 义警.
    Volunteer,
}

impl Duty {
    pub const ALL: [Duty; 5] =
        [Duty::Responsible, Duty::CommunityOfficer, Duty::Auxiliary, Duty::GridWorker, Duty::Volunteer];

    pub fn code(self) -> &'static str {
        match self {
            Duty::Responsible => "responsible",
            Duty::CommunityOfficer => "community_officer",
            Duty::Auxiliary => "auxiliary",
            Duty::GridWorker => "grid_worker",
            Duty::Volunteer => "volunteer",
        }
    }

    pub fn parse(s: &str) -> Option<Duty> {
        Duty::ALL.into_iter().find(|d| d.code() == s)
    }

    pub fn label(self, lang: Lang) -> &'static str {
        lang.t(match self {
            Duty::Responsible => "team.duty.responsible",
            Duty::CommunityOfficer => "team.duty.community_officer",
            Duty::Auxiliary => "team.duty.auxiliary",
            Duty::GridWorker => "team.duty.grid_worker",
            Duty::Volunteer => "team.duty.volunteer",
        })
    }

    /// Whether an account holding `roles` (code, permissions) may take this duty. Sworn duties
    /// need a role that sees people police-style (`people:read`, as `Caller::viewer` and the
    /// participation figure count sworn officers); the others need their own role, so a grid
    /// worker is never entered as an auxiliary police officer.
    pub fn fits(self, roles: &[(String, PermissionSet)]) -> bool {
        match self.role() {
            None => roles.iter().any(|(_, p)| p.has(Permission::PeopleRead)),
            Some(code) => roles.iter().any(|(c, _)| c == code),
        }
    }

    /// The role a non-sworn duty needs; None for the sworn duties.
    fn role(self) -> Option<&'static str> {
        match self {
            Duty::Responsible | Duty::CommunityOfficer => None,
            Duty::Auxiliary => Some("auxiliary"),
            Duty::GridWorker => Some("grid_worker"),
            Duty::Volunteer => Some("volunteer"),
        }
    }

    fn needs(self) -> String {
        match self.role() {
            None => "a sworn officer (a role with people:read, such as community officer or station head)".into(),
            Some(code) => format!("an account with the role {code}"),
        }
    }
}

/// One member of a grid's team.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Member {
    pub account_id: i64,
    pub name: String,
    pub police_number: Option<String>,
    pub duty: Duty,
    /// When they joined the team (ms since the epoch).
    pub since: i64,
}

/// An account that may join a grid's team, with the duties its roles fit.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub account_id: i64,
    pub name: String,
    pub police_number: Option<String>,
    pub duties: Vec<Duty>,
}

/// The grid's team, best duty first; 404 for a grid outside the caller's scope. Counts-only
/// callers see it too, as the grid's card shows its officer to them.
pub async fn members(state: &AppState, caller: &Caller, grid: i64) -> Result<Vec<Member>, AppError> {
    let scope = org_scope_of(state, caller).await?;
    if !is_live_grid(state, grid).await? || !scope.covers(state, grid, Level::CountsOnly).await? {
        return Err(AppError::NotFound);
    }
    let rows: Vec<(i64, String, Option<String>, String, i64)> = sqlx::query_as(
        "SELECT a.id, a.name, a.police_number, t.duty, t.since FROM grid_team t JOIN accounts a ON a.id = t.account_id \
         WHERE t.node_id = $1",
    )
    .bind(grid)
    .fetch_all(state.db.reader())
    .await?;
    let mut out: Vec<Member> = rows
        .into_iter()
        .filter_map(|(account_id, name, police_number, duty, since)| {
            let duty = Duty::parse(&duty)?;
            Some(Member { account_id, name, police_number: police_number.filter(|p| !p.is_empty()), duty, since })
        })
        .collect();
    out.sort_by(|a, b| (a.duty, &a.name, a.account_id).cmp(&(b.duty, &b.name, b.account_id)));
    Ok(out)
}

async fn is_live_grid(state: &AppState, grid: i64) -> Result<bool, AppError> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM org_nodes WHERE id = $1 AND kind = 'grid' AND valid_to IS NULL")
            .bind(grid)
            .fetch_one(state.db.reader())
            .await?;
    Ok(n > 0)
}

/// Whether the caller may change this grid's team; permissions aside, a grid of their own subtree.
pub async fn may_manage(state: &AppState, caller: &Caller, grid: i64) -> Result<bool, AppError> {
    if !(caller.has(Permission::OrgWrite) || caller.has(Permission::TeamsAssign)) {
        return Ok(false);
    }
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM org_closure WHERE ancestor = $1 AND descendant = $2")
        .bind(caller.node_id)
        .bind(grid)
        .fetch_one(state.db.reader())
        .await?;
    Ok(n > 0 && is_live_grid(state, grid).await?)
}

async fn require_manage(state: &AppState, caller: &Caller, grid: i64) -> Result<(), AppError> {
    if !(caller.has(Permission::OrgWrite) || caller.has(Permission::TeamsAssign)) {
        return Err(AppError::Forbidden("this needs the permission teams:assign or org:write".into()));
    }
    if !may_manage(state, caller, grid).await? {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// The station the grid belongs to (its nearest station ancestor; its parent if it has none).
async fn station_of(state: &AppState, grid: i64) -> Result<i64, AppError> {
    let station: Option<i64> = sqlx::query_scalar(
        "SELECT c.ancestor FROM org_closure c JOIN org_nodes n ON n.id = c.ancestor \
         WHERE c.descendant = $1 AND n.kind = 'station' ORDER BY c.depth LIMIT 1",
    )
    .bind(grid)
    .fetch_optional(state.db.reader())
    .await?;
    match station {
        Some(s) => Ok(s),
        None => {
            let parent: Option<i64> = sqlx::query_scalar("SELECT parent_id FROM org_nodes WHERE id = $1")
                .bind(grid)
                .fetch_one(state.db.reader())
                .await?;
            Ok(parent.unwrap_or(grid))
        }
    }
}

/// (account id, name, police number, role code, role permissions) of the active accounts in
/// `station`'s subtree, optionally only `account`.
type AccountRole = (i64, String, Option<String>, String, String);

async fn accounts_in(state: &AppState, station: i64, account: Option<i64>) -> Result<Vec<AccountRole>, AppError> {
    Ok(sqlx::query_as(
        "SELECT a.id, a.name, a.police_number, r.code, r.permissions FROM accounts a \
         JOIN account_roles ar ON ar.account_id = a.id JOIN roles r ON r.id = ar.role_id \
         WHERE a.disabled = 0 AND a.node_id IN (SELECT descendant FROM org_closure WHERE ancestor = $1) \
         AND ($2 = 0 OR a.id = $2) ORDER BY a.name, a.id, r.code",
    )
    .bind(station)
    .bind(account.unwrap_or(0))
    .fetch_all(state.db.reader())
    .await?)
}

fn group(rows: Vec<AccountRole>) -> Vec<Candidate> {
    let mut out: Vec<(Candidate, Vec<(String, PermissionSet)>)> = Vec::new();
    for (id, name, police_number, code, permissions) in rows {
        let role = (code, PermissionSet::parse_list(&permissions));
        match out.last_mut() {
            Some((c, roles)) if c.account_id == id => roles.push(role),
            _ => out.push((
                Candidate {
                    account_id: id,
                    name,
                    police_number: police_number.filter(|p| !p.is_empty()),
                    duties: vec![],
                },
                vec![role],
            )),
        }
    }
    out.into_iter()
        .map(|(mut c, roles)| {
            c.duties = Duty::ALL.into_iter().filter(|d| d.fits(&roles)).collect();
            c
        })
        .filter(|c| !c.duties.is_empty())
        .collect()
}

/// The accounts that could join this grid's team, for the form that assigns them.
pub async fn candidates(state: &AppState, caller: &Caller, grid: i64) -> Result<Vec<Candidate>, AppError> {
    require_manage(state, caller, grid).await?;
    let station = station_of(state, grid).await?;
    Ok(group(accounts_in(state, station, None).await?))
}

/// Checks that `account` may take `duty` in this grid, naming the field and reason if not.
async fn check_member(state: &AppState, caller: &Caller, grid: i64, account: i64, duty: Duty) -> Result<(), AppError> {
    let home: Option<i64> = sqlx::query_scalar("SELECT node_id FROM accounts WHERE id = $1 AND disabled = 0")
        .bind(account)
        .fetch_optional(state.db.reader())
        .await?;
    let scope = staff_scope_of(state, caller).await?;
    match home {
        Some(n) if scope.covers(state, n, Level::Masked).await? => {}
        _ => return Err(AppError::invalid("account_id", "no such active account in your jurisdiction")),
    }
    let station = station_of(state, grid).await?;
    let in_station: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM accounts a JOIN org_closure c ON c.descendant = a.node_id WHERE a.id = $1 AND c.ancestor = $2",
    )
    .bind(account)
    .bind(station)
    .fetch_one(state.db.reader())
    .await?;
    if in_station == 0 {
        let code = crate::org::service::code_of(state, station).await?;
        return Err(AppError::invalid("account_id", format!("the account is not in the grid's station {code}")));
    }
    let fits = group(accounts_in(state, station, Some(account)).await?).iter().any(|c| c.duties.contains(&duty));
    if !fits {
        return Err(AppError::invalid("duty", format!("{} needs {}", duty.code(), duty.needs())));
    }
    Ok(())
}

/// Puts `account` in the grid's team with `duty`. A new responsible officer replaces the one
/// before (who leaves the team) and may be a member already, promoted; anyone else already in
/// the team is a conflict. Returns the accounts replaced.
pub async fn add(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    grid: i64,
    account: i64,
    duty: Duty,
) -> Result<Vec<i64>, AppError> {
    require_manage(state, caller, grid).await?;
    check_member(state, caller, grid, account, duty).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let current: Vec<(i64, String)> = sqlx::query_as("SELECT account_id, duty FROM grid_team WHERE node_id = $1")
        .bind(grid)
        .fetch_all(&mut *tx)
        .await?;
    if let Some((_, held)) = current.iter().find(|(a, _)| *a == account) {
        if held == duty.code() || duty != Duty::Responsible {
            return Err(AppError::conflict("account_id", format!("already in this grid's team as {held}")));
        }
    }
    let replaced: Vec<i64> = if duty == Duty::Responsible {
        current.iter().filter(|(a, d)| d == "responsible" && *a != account).map(|(a, _)| *a).collect()
    } else {
        Vec::new()
    };
    if duty == Duty::Responsible {
        sqlx::query("DELETE FROM grid_team WHERE node_id = $1 AND (duty = 'responsible' OR account_id = $2)")
            .bind(grid)
            .bind(account)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("INSERT INTO grid_team (node_id, account_id, duty, since) VALUES ($1, $2, $3, $4)")
        .bind(grid)
        .bind(account)
        .bind(duty.code())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if crate::db::is_unique_violation(&e) {
                AppError::conflict("account_id", "the team changed meanwhile; reload and try again")
            } else {
                e.into()
            }
        })?;
    let payload = serde_json::json!({"grid_id": grid, "account_id": account, "duty": duty.code(), "change": "added", "replaced": replaced});
    crate::events::publish(&mut tx, &state.db, "grid.team", Some(grid), &payload, now).await?;
    let entry = Entry::new(meta, Some(caller), "grid.team.add")
        .record(format!("node:{grid}"))
        .record(format!("account:{account}"))
        .records(replaced.iter().map(|a| format!("account:{a}")))
        .detail(serde_json::json!({"duty": duty.code(), "replaced": replaced}));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    crate::events::wake(state);
    Ok(replaced)
}

/// Takes `account` out of the grid's team; 404 if they are not in it.
pub async fn remove(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    grid: i64,
    account: i64,
) -> Result<(), AppError> {
    require_manage(state, caller, grid).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let held: Option<String> = sqlx::query_scalar("SELECT duty FROM grid_team WHERE node_id = $1 AND account_id = $2")
        .bind(grid)
        .bind(account)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(duty) = held else { return Err(AppError::NotFound) };
    sqlx::query("DELETE FROM grid_team WHERE node_id = $1 AND account_id = $2")
        .bind(grid)
        .bind(account)
        .execute(&mut *tx)
        .await?;
    let payload = serde_json::json!({"grid_id": grid, "account_id": account, "duty": duty, "change": "removed"});
    crate::events::publish(&mut tx, &state.db, "grid.team", Some(grid), &payload, now).await?;
    let entry = Entry::new(meta, Some(caller), "grid.team.remove")
        .record(format!("node:{grid}"))
        .record(format!("account:{account}"))
        .detail(serde_json::json!({"duty": duty}));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    crate::events::wake(state);
    Ok(())
}

/// The older single-purpose call: makes `account` the responsible officer, or with None leaves
/// the grid without one. Setting the one already responsible changes nothing.
pub async fn set_responsible(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    grid: i64,
    account: Option<i64>,
) -> Result<(), AppError> {
    require_manage(state, caller, grid).await?;
    let current: Option<i64> =
        sqlx::query_scalar("SELECT account_id FROM grid_team WHERE node_id = $1 AND duty = 'responsible'")
            .bind(grid)
            .fetch_optional(state.db.reader())
            .await?;
    match (account, current) {
        (Some(a), Some(c)) if a == c => Ok(()),
        (Some(a), _) => add(state, meta, caller, grid, a, Duty::Responsible).await.map(|_| ()),
        (None, Some(c)) => remove(state, meta, caller, grid, c).await,
        (None, None) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(list: &[(&str, &str)]) -> Vec<(String, PermissionSet)> {
        list.iter().map(|(c, p)| (c.to_string(), PermissionSet::parse_list(p))).collect()
    }

    #[test]
    fn sworn_duties_need_people_read_and_the_others_their_own_role() {
        let officer = roles(&[("community_officer", "org:read,people:read,basedata:write")]);
        let auxiliary = roles(&[("auxiliary", "org:read,people:read_masked,basedata:write")]);
        let worker = roles(&[("grid_worker", "people:read_masked,basedata:write")]);
        assert!(Duty::Responsible.fits(&officer) && Duty::CommunityOfficer.fits(&officer));
        assert!(!Duty::Auxiliary.fits(&officer), "an officer is not an auxiliary");
        assert!(!Duty::Responsible.fits(&auxiliary), "一格一警 needs a sworn officer");
        assert!(Duty::Auxiliary.fits(&auxiliary) && !Duty::Auxiliary.fits(&worker));
        assert!(Duty::GridWorker.fits(&worker) && !Duty::Volunteer.fits(&worker));
    }

    #[test]
    fn duty_codes_round_trip() {
        for d in Duty::ALL {
            assert_eq!(Duty::parse(d.code()), Some(d));
        }
        assert_eq!(Duty::parse("chief"), None);
    }
}
