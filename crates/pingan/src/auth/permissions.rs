//! The closed set of permissions. Roles are named sets of these, stored in the database; the
//! set itself lives only here, so no stored string can invent a new power.

use std::collections::BTreeSet;

macro_rules! permissions {
    ($($variant:ident = $code:literal, $data:literal;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Permission { $($variant),* }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$variant),*];

            pub fn code(self) -> &'static str {
                match self { $(Permission::$variant => $code),* }
            }

            pub fn parse(code: &str) -> Option<Permission> {
                match code { $($code => Some(Permission::$variant),)* _ => None }
            }

            /// Data permissions reach personal data. The system administrator may not hand
            /// them out (separation of duties).
            pub fn is_data(self) -> bool {
                match self { $(Permission::$variant => $data),* }
            }
        }
    };
}

permissions! {
    OrgRead = "org:read", false;
    OrgWrite = "org:write", false;
    AccountsRead = "accounts:read", false;
    AccountsWrite = "accounts:write", false;
    RolesAssign = "roles:assign", true;
    GrantsWrite = "grants:write", true;
    SecurityPolicy = "security:policy", true;
    AuditRead = "audit:read", true;
    PiiUnmask = "pii:unmask", true;
    PeopleRead = "people:read", true;
    PeopleReadMasked = "people:read_masked", true;
    PeopleCounts = "people:counts", true;
    BaseDataWrite = "basedata:write", true;
    PeopleExport = "people:export", true;
    DutiesAssign = "duties:assign", true;
    TeamsAssign = "teams:assign", true;
    TokensManage = "tokens:manage", false;
    WarningsWrite = "warnings:write", true;
    IncidentsWrite = "incidents:write", true;
    WarningsWork = "warnings:work", true;
    AntifraudManage = "antifraud:manage", false;
    PushSend = "push:send", false;
    PushManage = "push:manage", false;
}

/// A string enum of `codes`, for OpenAPI: the closed sets live in code, so the document lists
/// exactly what the server accepts.
pub fn code_enum_schema(codes: &[&'static str]) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(codes.iter().copied()))
        .into()
}

impl utoipa::PartialSchema for Permission {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        code_enum_schema(&Permission::ALL.iter().map(|p| p.code()).collect::<Vec<_>>())
    }
}

impl utoipa::ToSchema for Permission {}

/// The permissions an integration token may carry, as an OpenAPI enum (see
/// `integration::INGEST_PERMISSIONS`).
pub struct IngestPermission;

impl utoipa::PartialSchema for IngestPermission {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        code_enum_schema(&super::integration::INGEST_PERMISSIONS.iter().map(|p| p.code()).collect::<Vec<_>>())
    }
}

impl utoipa::ToSchema for IngestPermission {}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionSet(BTreeSet<Permission>);

impl PermissionSet {
    /// Parses a stored comma-separated list; codes this binary does not know are dropped,
    /// never widened into something else.
    pub fn parse_list(list: &str) -> PermissionSet {
        PermissionSet(list.split(',').filter_map(|c| Permission::parse(c.trim())).collect())
    }

    pub fn has(&self, p: Permission) -> bool {
        self.0.contains(&p)
    }

    pub fn extend(&mut self, other: &PermissionSet) {
        self.0.extend(other.0.iter().copied());
    }

    pub fn insert(&mut self, p: Permission) {
        self.0.insert(p);
    }

    pub fn iter(&self) -> impl Iterator<Item = Permission> + '_ {
        self.0.iter().copied()
    }

    pub fn to_list(&self) -> String {
        self.0.iter().map(|p| p.code()).collect::<Vec<_>>().join(",")
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The roles every deployment starts with: (code, 中文, English, permissions).
pub const BUILTIN_ROLES: &[(&str, &str, &str, &str)] = &[
    (
        "system_admin",
        "系统管理员",
        "System administrator",
        "org:read,org:write,accounts:read,accounts:write,tokens:manage,push:manage",
    ),
    (
        "security_admin",
        "安全管理员",
        "Security administrator",
        "org:read,accounts:read,roles:assign,grants:write,security:policy",
    ),
    ("auditor", "审计员", "Auditor", "audit:read"),
    ("city_commander", "市局指挥长", "City commander", "org:read,accounts:read,people:read,pii:unmask,duties:assign,warnings:work,warnings:write,antifraud:manage"),
    ("branch_leader", "分局领导", "Branch leader", "org:read,accounts:read,people:read,pii:unmask,duties:assign,warnings:work"),
    (
        "station_head",
        "派出所所长",
        "Station head",
        "org:read,accounts:read,people:read,pii:unmask,basedata:write,people:export,duties:assign,teams:assign,warnings:work,push:send",
    ),
    (
        "community_officer",
        "社区民警",
        "Community officer",
        "org:read,people:read,pii:unmask,basedata:write,people:export,warnings:work",
    ),
    ("auxiliary", "辅警", "Auxiliary", "org:read,people:read_masked,basedata:write,warnings:work"),
    ("grid_worker", "网格员", "Grid worker", "people:read_masked,basedata:write"),
    ("volunteer", "义警", "Volunteer", "people:counts"),
    ("dispatcher", "调度员", "Dispatcher", "org:read,people:read,incidents:write"),
    ("analyst", "分析员", "Analyst", "org:read,people:counts,people:read_masked"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_roles_use_only_known_permissions() {
        for (code, _, _, list) in BUILTIN_ROLES {
            let parsed = PermissionSet::parse_list(list);
            assert_eq!(parsed.to_list().split(',').count(), list.split(',').count(), "{code}");
        }
    }

    #[test]
    fn system_administrator_holds_no_data_permission() {
        let sys = PermissionSet::parse_list(BUILTIN_ROLES[0].3);
        assert!(sys.iter().all(|p| !p.is_data()));
    }

    #[test]
    fn unknown_codes_are_dropped() {
        assert!(PermissionSet::parse_list("root:everything").is_empty());
    }
}
