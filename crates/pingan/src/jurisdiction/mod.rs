//! Jurisdiction, in one place: what part of the organisation a caller may see, and how much.
//!
//! A caller's scope = their node's subtree at the level their roles give, ∪ live grants
//! (each with its own level). Every store query that returns data about people takes a
//! `Scope` and filters with [`Scope::nodes_sql`].
//! Invariant: a record outside the scope is answered exactly like a record that does not exist
//! (404), and the attempt is audited by the caller of [`Scope::covers`].

use crate::app::AppState;
use crate::auth::{Caller, Permission};
use crate::web::error::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    CountsOnly,
    Masked,
    Full,
}

impl Level {
    pub fn code(self) -> &'static str {
        match self {
            Level::Full => "full",
            Level::Masked => "masked",
            Level::CountsOnly => "counts_only",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "full" => Some(Level::Full),
            "masked" => Some(Level::Masked),
            "counts_only" => Some(Level::CountsOnly),
            _ => None,
        }
    }
}

impl utoipa::PartialSchema for Level {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::auth::permissions::code_enum_schema(&[
            Level::Full.code(),
            Level::Masked.code(),
            Level::CountsOnly.code(),
        ])
    }
}

impl utoipa::ToSchema for Level {}

#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// (root node of a visible subtree, level there).
    pub entries: Vec<(i64, Level)>,
}

/// The one function that computes a caller's scope over data about people. Only the people
/// permissions count: an administrator who manages accounts sees no residents through it.
pub async fn scope_of(state: &AppState, caller: &Caller) -> Result<Scope, AppError> {
    let own = if caller.has(Permission::PeopleRead) {
        Some(Level::Full)
    } else if caller.has(Permission::PeopleReadMasked) {
        Some(Level::Masked)
    } else if caller.has(Permission::PeopleCounts) {
        Some(Level::CountsOnly)
    } else {
        None
    };
    let mut entries: Vec<(i64, Level)> = own.map(|l| vec![(caller.node_id, l)]).unwrap_or_default();
    if let Some(account_id) = caller.account_id {
        let now = state.clock.now_ms();
        let grants: Vec<(i64, String)> = sqlx::query_as(
            "SELECT node_id, level FROM grants WHERE account_id = $1 AND revoked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(account_id)
        .bind(now)
        .fetch_all(state.db.reader())
        .await?;
        entries.extend(grants.into_iter().filter_map(|(n, l)| Level::parse(&l).map(|l| (n, l))));
    }
    Ok(Scope { entries })
}

/// The scope over staff accounts: the people scope, widened for account managers to their own
/// subtree at the masked level (they manage accounts, they do not read their phones).
pub async fn staff_scope_of(state: &AppState, caller: &Caller) -> Result<Scope, AppError> {
    let mut scope = scope_of(state, caller).await?;
    if caller.has(Permission::AccountsRead)
        && !scope.entries.iter().any(|(n, l)| *n == caller.node_id && *l >= Level::Masked)
    {
        scope.entries.push((caller.node_id, Level::Masked));
    }
    Ok(scope)
}

/// The scope over the organisation itself (units, grids and who answers for them): the people
/// scope, widened for whoever reads the organisation to their own subtree. A grid's outline,
/// name and officers are no one's personal data; counts about residents stay behind
/// [`scope_of`].
pub async fn org_scope_of(state: &AppState, caller: &Caller) -> Result<Scope, AppError> {
    let mut scope = scope_of(state, caller).await?;
    if caller.has(Permission::OrgRead) && !scope.entries.iter().any(|(n, _)| *n == caller.node_id) {
        scope.entries.push((caller.node_id, Level::CountsOnly));
    }
    Ok(scope)
}

impl Scope {
    /// A subquery of every node id visible at `min` or better. Node ids are our own integers,
    /// formatted from `i64`, so inlining them cannot inject SQL.
    pub fn nodes_sql(&self, min: Level) -> String {
        let roots: Vec<String> = self.entries.iter().filter(|(_, l)| *l >= min).map(|(n, _)| n.to_string()).collect();
        if roots.is_empty() {
            "SELECT -1".to_string()
        } else {
            format!("SELECT descendant FROM org_closure WHERE ancestor IN ({})", roots.join(","))
        }
    }

    /// The best level at which `node_id` is visible, if at all.
    pub async fn level_at(&self, state: &AppState, node_id: i64) -> Result<Option<Level>, AppError> {
        if self.entries.is_empty() {
            return Ok(None);
        }
        let ancestors: Vec<i64> = sqlx::query_scalar("SELECT ancestor FROM org_closure WHERE descendant = $1")
            .bind(node_id)
            .fetch_all(state.db.reader())
            .await?;
        Ok(self.entries.iter().filter(|(root, _)| ancestors.contains(root)).map(|(_, l)| *l).max())
    }

    pub async fn covers(&self, state: &AppState, node_id: i64, min: Level) -> Result<bool, AppError> {
        Ok(self.level_at(state, node_id).await?.is_some_and(|l| l >= min))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_scope_matches_nothing() {
        assert_eq!(Scope::default().nodes_sql(Level::CountsOnly), "SELECT -1");
    }

    #[test]
    fn lower_levels_are_left_out_of_stricter_filters() {
        let s = Scope { entries: vec![(1, Level::Full), (7, Level::CountsOnly)] };
        assert!(s.nodes_sql(Level::Masked).ends_with("IN (1)"));
        assert!(s.nodes_sql(Level::CountsOnly).ends_with("IN (1,7)"));
    }
}
