//! Organisation nodes and the rules of which kind may sit under which.

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Bureau,
    Branch,
    Station,
    Post,
    Grid,
    /// A functional unit (command centre, anti-fraud centre, traffic police), with or without territory.
    Unit,
}

impl Kind {
    pub const ALL: &'static [Kind] = &[Kind::Bureau, Kind::Branch, Kind::Station, Kind::Post, Kind::Grid, Kind::Unit];

    pub fn code(self) -> &'static str {
        match self {
            Kind::Bureau => "bureau",
            Kind::Branch => "branch",
            Kind::Station => "station",
            Kind::Post => "post",
            Kind::Grid => "grid",
            Kind::Unit => "unit",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.code() == s)
    }

    /// Whether a node of this kind may sit directly under `parent` (None: the root).
    pub fn may_sit_under(self, parent: Option<Kind>) -> bool {
        match (self, parent) {
            (Kind::Bureau, None) => true,
            (_, None) => false,
            (Kind::Bureau, Some(_)) => false,
            (Kind::Branch, Some(p)) => p == Kind::Bureau,
            (Kind::Station, Some(p)) => matches!(p, Kind::Bureau | Kind::Branch),
            (Kind::Post, Some(p)) => p == Kind::Station,
            (Kind::Grid, Some(p)) => matches!(p, Kind::Station | Kind::Post),
            (Kind::Unit, Some(p)) => p != Kind::Grid,
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Node {
    pub id: i64,
    pub code: String,
    pub kind: String,
    pub name: String,
    pub parent_id: Option<i64>,
    pub valid_from: String,
    pub valid_to: Option<String>,
}

impl Node {
    pub fn kind(&self) -> Option<Kind> {
        Kind::parse(&self.kind)
    }

    pub fn is_retired(&self) -> bool {
        self.valid_to.is_some()
    }
}

/// A node code: 1–32 ASCII letters, digits, `-` or `_` (public-security unit codes are
/// 12 digits, but functional units use mnemonic codes).
pub fn check_code(code: &str) -> Result<(), &'static str> {
    if code.is_empty() || code.len() > 32 {
        return Err("a code of 1 to 32 characters is required");
    }
    if !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err("letters, digits, - and _ only");
    }
    Ok(())
}

pub fn check_name(name: &str) -> Result<(), &'static str> {
    if name.chars().count() > 100 || name.trim().is_empty() {
        return Err("a name of 1 to 100 characters is required");
    }
    Ok(())
}

pub fn check_date(date: &str) -> Result<(), &'static str> {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").map(|_| ()).map_err(|_| "a date as YYYY-MM-DD is required")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_has_one_shape() {
        assert!(Kind::Bureau.may_sit_under(None));
        assert!(!Kind::Station.may_sit_under(None));
        assert!(Kind::Grid.may_sit_under(Some(Kind::Post)));
        assert!(!Kind::Grid.may_sit_under(Some(Kind::Branch)));
        assert!(!Kind::Branch.may_sit_under(Some(Kind::Station)));
    }

    #[test]
    fn codes_refuse_spaces_and_overlong_values() {
        assert!(check_code("410700000000").is_ok());
        assert!(check_code("a b").is_err());
        assert!(check_code(&"1".repeat(33)).is_err());
    }
}
