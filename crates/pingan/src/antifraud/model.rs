//! The words of anti-fraud work: fraud kinds, grades, outcomes, and a warning as upstream sends
//! it, parsed once at the edge into a [`Warning`] that cannot hold a bad ID number, a future time
//! or a negative amount.

use chrono::{DateTime, NaiveDate};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::pii::id_number::IdNumber;
use crate::pii::mask::Phone;

macro_rules! codes {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $code:literal, $zh:literal, $en:literal;)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),* }
            }

            pub fn label(self, lang: crate::web::i18n::Lang) -> &'static str {
                match (self, lang) {
                    $(($name::$variant, crate::web::i18n::Lang::Zh) => $zh,
                      ($name::$variant, crate::web::i18n::Lang::En) => $en,)*
                }
            }

            pub fn parse(s: &str) -> Option<$name> {
                match s { $($code => Some($name::$variant),)* _ => None }
            }

            pub fn codes() -> String {
                [$($code),*].join(", ")
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                crate::auth::permissions::code_enum_schema(&[$($code),*])
            }
        }

        impl utoipa::ToSchema for $name {}

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.code())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s).ok_or_else(|| {
                    serde::de::Error::custom(format!("unknown value {s:?}, expected one of {}", $name::codes()))
                })
            }
        }
    };
}

/// Closed sets of codes with Chinese and English labels; prevention pushes use it too.
pub(crate) use codes;

codes! {
    /// What the fraud is (the upstream centres' categories).
    Kind {
        Brushing = "brushing", "刷单返利", "Paid brushing";
        FakeService = "fake_service", "冒充客服", "Fake customer service";
        Investment = "investment", "投资理财", "Investment";
        Loan = "loan", "网络贷款", "Online loan";
        Impersonation = "impersonation", "冒充公检法", "Impersonating officials";
        Romance = "romance", "网络交友婚恋", "Online romance";
        GameTrade = "game_trade", "游戏交易", "Game trading";
        Other = "other", "其他", "Other";
    }
}

codes! {
    /// 红黄蓝三色预警: red is the most urgent.
    Grade {
        Blue = "blue", "蓝色", "Blue";
        Yellow = "yellow", "黄色", "Yellow";
        Red = "red", "红色", "Red";
    }
}

impl Grade {
    /// 3 for red down to 1 for blue: the order queues sort by.
    pub fn rank(self) -> i64 {
        match self {
            Grade::Blue => 1,
            Grade::Yellow => 2,
            Grade::Red => 3,
        }
    }

    pub fn from_rank(rank: i64) -> Grade {
        match rank {
            r if r >= 3 => Grade::Red,
            2 => Grade::Yellow,
            _ => Grade::Blue,
        }
    }

    /// One grade more urgent (red stays red).
    pub fn raised(self) -> Grade {
        Grade::from_rank(self.rank() + 1)
    }
}

codes! {
    /// Why a warning got its grade; kept with the warning and shown on the case.
    Reason {
        MoneyMoving = "money_moving", "资金正在转出", "Money is moving now";
        LongCall = "long_call", "与涉诈号码长时间通话", "Long call with a fraud number";
        AppInstalled = "app_installed", "已安装涉诈App", "Fraud app installed";
        RepeatedContacts = "repeated_contacts", "多次接触涉诈号码", "Repeated contacts";
        SingleContact = "single_contact", "单次短暂接触", "A single short contact";
        Elderly = "elderly", "年龄超过60岁，升一级", "Over 60: raised one grade";
        LivingAlone = "living_alone", "独居，升一级", "Living alone: raised one grade";
    }
}

codes! {
    /// How a case ends.
    Outcome {
        Dissuaded = "dissuaded", "劝阻成功", "Dissuaded";
        Defrauded = "defrauded", "已被骗（移交办案）", "Already defrauded (handed to the case team)";
        Unreachable = "unreachable", "无法联系", "Unreachable";
        NotFraud = "not_fraud", "非诈骗", "Not fraud";
    }
}

codes! {
    /// How a warning found its person. Never by name alone.
    MatchKind {
        IdNumber = "id_number", "身份证号匹配", "Matched by ID number";
        Phone = "phone", "手机号唯一匹配", "Matched by the only holder of the phone";
        Manual = "manual", "人工匹配", "Matched by hand";
        Pending = "pending", "待人工确认（多人持有该号码）", "Waiting: several residents hold the phone";
        Unmatched = "unmatched", "未匹配", "Not matched";
    }
}

/// A warning as upstream sends it. `source`, `upstream_id`, `time` and `kind` are required;
/// everything else may be absent or null.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WarningInput {
    /// The sending system, e.g. `fzzx` (the anti-fraud centre) or a bank's code.
    #[schema(min_length = 1, max_length = 64)]
    pub source: String,
    /// The sender's own id for this warning: (source, upstream_id) is stored once.
    #[schema(min_length = 1, max_length = 128)]
    pub upstream_id: String,
    /// When upstream saw it: ISO 8601 with an offset, e.g. `2026-12-01T09:30:00+08:00`.
    #[schema(format = DateTime)]
    pub time: String,
    #[serde(default)]
    #[schema(max_length = 50)]
    pub name: Option<String>,
    /// 18 characters (GB 11643; 15-digit numbers are upgraded).
    #[serde(default)]
    #[schema(max_length = 18)]
    pub id_number: Option<String>,
    #[serde(default)]
    #[schema(max_length = 20)]
    pub phone: Option<String>,
    #[schema(value_type = Kind)]
    pub kind: String,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100000)]
    pub contacts_count: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 86400)]
    pub longest_call_s: Option<i64>,
    #[serde(default)]
    pub app_installed: Option<bool>,
    #[serde(default)]
    #[schema(max_length = 100)]
    pub app_name: Option<String>,
    /// Decimal yuan, at most two decimals (stored as fen): a number or a string such as "1200.50".
    #[serde(default)]
    #[schema(value_type = Option<AmountYuan>)]
    pub amount_yuan: Option<serde_json::Value>,
    /// The account money is going to, as upstream flagged it.
    #[serde(default)]
    #[schema(max_length = 64)]
    pub flagged_account: Option<String>,
}

/// An amount in yuan: a number with at most two decimals, or the same as a string.
pub struct AmountYuan;

impl utoipa::PartialSchema for AmountYuan {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Number)
                    .minimum(Some(0.0))
                    .maximum(Some(1e12))
                    .multiple_of(Some(0.01)),
            )
            .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some(r"^[0-9]{1,13}(\.[0-9]{1,2})?$")))
            .into()
    }
}

impl utoipa::ToSchema for AmountYuan {}

/// A warning that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    pub source: String,
    pub upstream_id: String,
    pub event_at: i64,
    pub name: Option<String>,
    pub id_number: Option<IdNumber>,
    pub phone: Option<Phone>,
    pub kind: Kind,
    pub contacts_count: Option<i64>,
    pub longest_call_s: Option<i64>,
    pub app_installed: Option<bool>,
    pub app_name: Option<String>,
    pub amount_fen: Option<i64>,
    pub flagged_account: Option<String>,
}

/// The first problem with a warning: (field, reason).
pub type Refusal = (&'static str, String);

/// Upstream clocks may run a little ahead of ours; more than this is a future time.
const CLOCK_SKEW_MS: i64 = 5 * 60_000;

/// Checks every field; `now` is our receipt time.
pub fn parse(input: &WarningInput, now: i64) -> Result<Warning, Refusal> {
    let source = required_text("source", &input.source, 64)?;
    let upstream_id = required_text("upstream_id", &input.upstream_id, 128)?;
    let event_at = parse_time(&input.time, now)?;
    let name = optional_text("name", input.name.as_deref(), 50)?;
    let today = crate::clock::beijing_today(now);
    let id_number = match input.id_number.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Some(IdNumber::parse(s, today).map_err(|r| ("id_number", r.to_string()))?),
        None => None,
    };
    let phone = match input.phone.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Some(Phone::parse(s).map_err(|r| ("phone", r.to_string()))?),
        None => None,
    };
    let kind = Kind::parse(input.kind.trim())
        .ok_or_else(|| ("kind", format!("unknown kind {:?}; one of {}", input.kind, Kind::codes())))?;
    let contacts_count = bounded("contacts_count", input.contacts_count, 100_000)?;
    let longest_call_s = bounded("longest_call_s", input.longest_call_s, 86_400)?;
    let app_name = optional_text("app_name", input.app_name.as_deref(), 100)?;
    let amount_fen = match &input.amount_yuan {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => Some(parse_amount(v).map_err(|r| ("amount_yuan", r))?),
    };
    let flagged_account = optional_text("flagged_account", input.flagged_account.as_deref(), 64)?;
    Ok(Warning {
        source,
        upstream_id,
        event_at,
        name,
        id_number,
        phone,
        kind,
        contacts_count,
        longest_call_s,
        app_installed: input.app_installed,
        app_name,
        amount_fen,
        flagged_account,
    })
}

fn required_text(field: &'static str, s: &str, max: usize) -> Result<String, Refusal> {
    let t = trimmed(field, s, max)?;
    if t.is_empty() {
        return Err((field, "required".into()));
    }
    Ok(t.to_string())
}

fn optional_text(field: &'static str, s: Option<&str>, max: usize) -> Result<Option<String>, Refusal> {
    match s {
        Some(raw) => Ok(Some(trimmed(field, raw, max)?).filter(|t| !t.is_empty()).map(str::to_string)),
        None => Ok(None),
    }
}

/// The bound is on what was sent, as the API document's maxLength is; control characters are
/// refused only inside the text, since surrounding whitespace is trimmed away.
fn trimmed<'a>(field: &'static str, raw: &'a str, max: usize) -> Result<&'a str, Refusal> {
    if raw.chars().count() > max {
        return Err((field, format!("at most {max} characters")));
    }
    let t = raw.trim();
    if t.chars().any(char::is_control) {
        return Err((field, "control characters are not allowed".into()));
    }
    Ok(t)
}

fn bounded(field: &'static str, v: Option<i64>, max: i64) -> Result<Option<i64>, Refusal> {
    match v {
        Some(n) if !(0..=max).contains(&n) => Err((field, format!("between 0 and {max}"))),
        other => Ok(other),
    }
}

/// The earliest time a warning can truthfully carry: telecom fraud warnings began long after.
fn earliest() -> i64 {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
        .unwrap_or(0)
}

fn parse_time(s: &str, now: i64) -> Result<i64, Refusal> {
    let t = DateTime::parse_from_rfc3339(s.trim()).map_err(|_| {
        (
            "time",
            "an ISO 8601 time with an offset, e.g. 2026-12-01T09:30:00+08:00, that exists on the calendar".to_string(),
        )
    })?;
    let ms = t.timestamp_millis();
    if ms > now + CLOCK_SKEW_MS {
        return Err(("time", "in the future".into()));
    }
    if ms < earliest() {
        return Err(("time", "before the year 2000".into()));
    }
    Ok(ms)
}

/// Yuan to fen without floating point: "1200.5" is 120050 fen.
pub fn parse_amount(v: &serde_json::Value) -> Result<i64, String> {
    let text = match v {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.trim().to_string(),
        _ => return Err("a number of yuan, e.g. 1200.50".into()),
    };
    if text.starts_with('-') {
        return Err("may not be negative".into());
    }
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err("a number of yuan, e.g. 1200.50".into());
    }
    if frac.len() > 2 {
        return Err("at most two decimals (fen)".into());
    }
    if whole.len() > 13 {
        return Err("at most 10^13 yuan".into());
    }
    let yuan: i64 = whole.parse().map_err(|_| "a number of yuan, e.g. 1200.50".to_string())?;
    let fen: i64 = format!("{frac:0<2}").parse().unwrap_or(0);
    Ok(yuan * 100 + fen)
}

/// 120050 fen as "1200.50".
pub fn format_yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn amounts_are_exact_fen() {
        assert_eq!(parse_amount(&json!("1200.5")), Ok(120_050));
        assert_eq!(parse_amount(&json!(1200.55)), Ok(120_055));
        assert_eq!(parse_amount(&json!(7)), Ok(700));
        assert_eq!(parse_amount(&json!("0.01")), Ok(1));
        assert!(parse_amount(&json!("-1")).unwrap_err().contains("negative"));
        assert!(parse_amount(&json!(-0.5)).unwrap_err().contains("negative"));
        assert!(parse_amount(&json!("12.345")).unwrap_err().contains("two decimals"));
        assert!(parse_amount(&json!("一百")).is_err());
        assert!(parse_amount(&json!("1e5")).is_err());
        assert!(parse_amount(&json!(true)).is_err());
        assert_eq!(format_yuan(120_050), "1200.50");
    }

    #[test]
    fn grades_rise_one_step_and_red_stays_red() {
        assert_eq!(Grade::Blue.raised(), Grade::Yellow);
        assert_eq!(Grade::Red.raised(), Grade::Red);
        assert!(Grade::Red > Grade::Yellow && Grade::Yellow > Grade::Blue);
    }
}
