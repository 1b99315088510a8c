//! The warnings file template: one row per warning, the columns of the JSON intake
//! ([`super::model::WarningInput`]) with Chinese and English headers, and the conversion of a row
//! into that input. The row then takes the JSON path unchanged, so a file and an API call can
//! never disagree about what a valid warning is.

use chrono::{NaiveDate, NaiveDateTime, TimeZone};

use super::model::{Kind, WarningInput};
use crate::tabular::template::column as col;
use crate::tabular::{Record, Template};
use crate::web::error::RowError;
use crate::web::i18n::Lang;

pub static WARNINGS: Template = Template {
    name: "warnings",
    columns: &[
        col("source", "来源", "Source", true, &["来源系统"], "发送方代码，如 fzzx（反诈中心）", "the sender's code, e.g. fzzx (the anti-fraud centre)"),
        col("upstream_id", "上游编号", "Upstream ID", true, &["预警编号"], "发送方自己的编号；同一来源同一编号只存一次", "the sender's own id; one source and id is stored once"),
        col(
            "time",
            "预警时间",
            "Time",
            true,
            &["时间"],
            "如 2026-12-01 09:30:00；未写时区即为北京时间（+08:00）；Excel日期单元格亦可",
            "e.g. 2026-12-01 09:30:00; without an offset it is Beijing time (+08:00); Excel date cells work",
        ),
        col("name", "姓名", "Name", false, &[], "", ""),
        col("id_number", "身份证号", "ID number", false, &["公民身份号码", "证件号码"], "18位；请将该列设为文本格式", "18 characters; format the column as text"),
        col("phone", "手机号", "Phone", false, &["手机号码", "联系电话"], "", ""),
        col(
            "kind",
            "诈骗类型",
            "Kind",
            true,
            &["类型"],
            "刷单返利、冒充客服、投资理财、网络贷款、冒充公检法、网络交友婚恋、游戏交易、其他（或英文代码）",
            "brushing, fake_service, investment, loan, impersonation, romance, game_trade, other (or the Chinese label)",
        ),
        col("contacts_count", "接触次数", "Contacts", false, &["contacts count"], "整数", "a whole number"),
        col("longest_call_s", "最长通话秒数", "Longest call (s)", false, &["longest call s"], "整数，0–86400", "a whole number, 0–86400"),
        col("app_installed", "是否安装涉诈App", "App installed", false, &[], "是/否", "yes/no, true/false or 1/0"),
        col("app_name", "App名称", "App name", false, &[], "", ""),
        col("amount_yuan", "涉案金额（元）", "Amount (yuan)", false, &["涉案金额", "金额"], "最多两位小数", "at most two decimals"),
        col("flagged_account", "涉诈账户", "Flagged account", false, &[], "", ""),
    ],
};

/// A row as the JSON intake takes it, or every problem the cells have. Only the conversions a
/// spreadsheet needs happen here (Beijing local times, Chinese kind labels, 是/否); the checks
/// themselves are `model::parse`'s.
pub fn input(r: &Record<'_>) -> Result<WarningInput, Vec<RowError>> {
    let mut errors = Vec::new();
    let mut problem = |field: &str, reason: String| errors.push(RowError { line: r.line, field: field.into(), reason });
    let text = |key: &str| Some(r.get(key).to_string()).filter(|s| !s.is_empty());
    let time = match beijing_time(r.get("time")) {
        Some(t) => t,
        None if r.get("time").is_empty() => {
            problem("time", "required".into());
            String::new()
        }
        None => {
            problem(
                "time",
                "a time such as 2026-12-01 09:30:00 (Beijing time), or ISO 8601 with an offset, that exists on the calendar"
                    .into(),
            );
            String::new()
        }
    };
    let kind = match kind(r.get("kind")) {
        Some(k) => k.code().to_string(),
        None => {
            let labels: Vec<&str> = Kind::ALL.iter().map(|k| k.label(Lang::Zh)).collect();
            let reason = if r.get("kind").is_empty() { "required; one of" } else { "unknown kind; one of" };
            problem("kind", format!("{reason} {} (or {})", labels.join("、"), Kind::codes()));
            String::new()
        }
    };
    let mut whole = |key: &str| match r.get(key) {
        "" => None,
        v => v.parse::<i64>().map_err(|_| problem(key, "a whole number".into())).ok(),
    };
    let contacts_count = whole("contacts_count");
    let longest_call_s = whole("longest_call_s");
    let app_installed = match r.get("app_installed") {
        "" => None,
        v => {
            let yes_no = yes_no(v);
            if yes_no.is_none() {
                problem("app_installed", "是 or 否 (yes/no, true/false, 1/0)".into());
            }
            yes_no
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(WarningInput {
        source: r.get("source").to_string(),
        upstream_id: r.get("upstream_id").to_string(),
        time,
        name: text("name"),
        id_number: text("id_number"),
        phone: text("phone"),
        kind,
        contacts_count,
        longest_call_s,
        app_installed,
        app_name: text("app_name"),
        amount_yuan: text("amount_yuan").map(serde_json::Value::String),
        flagged_account: text("flagged_account"),
    })
}

/// A cell's time as RFC 3339. One with an offset passes as written; one without is Beijing
/// time, because offices type the wall-clock time and Excel date cells carry no zone at all.
fn beijing_time(cell: &str) -> Option<String> {
    let cell = cell.trim();
    if chrono::DateTime::parse_from_rfc3339(cell).is_ok() {
        return Some(cell.to_string());
    }
    const FORMATS: [&str; 6] = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
    ];
    let naive = FORMATS.iter().find_map(|f| NaiveDateTime::parse_from_str(cell, f).ok()).or_else(|| {
        ["%Y-%m-%d", "%Y/%m/%d"]
            .iter()
            .find_map(|f| NaiveDate::parse_from_str(cell, f).ok())
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })?;
    let beijing = chrono::FixedOffset::east_opt(8 * 3600)?;
    let t = beijing.from_local_datetime(&naive).single()?;
    Some(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false))
}

/// The code, or the Chinese or English label, so a file typed by hand in either language reads.
fn kind(cell: &str) -> Option<Kind> {
    Kind::parse(cell).or_else(|| {
        Kind::ALL.iter().copied().find(|k| {
            k.code().eq_ignore_ascii_case(cell)
                || k.label(Lang::Zh) == cell
                || k.label(Lang::En).eq_ignore_ascii_case(cell)
        })
    })
}

fn yes_no(cell: &str) -> Option<bool> {
    match cell.to_ascii_lowercase().as_str() {
        "是" | "true" | "1" | "yes" | "y" => Some(true),
        "否" | "false" | "0" | "no" | "n" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tabular::{open, Limits};

    #[test]
    fn times_without_an_offset_are_beijing_time() {
        assert_eq!(beijing_time("2026-12-01 09:30:00").as_deref(), Some("2026-12-01T09:30:00+08:00"));
        assert_eq!(beijing_time("2026/12/1 9:30").as_deref(), Some("2026-12-01T09:30:00+08:00"));
        assert_eq!(beijing_time("2026-12-01").as_deref(), Some("2026-12-01T00:00:00+08:00"));
        assert_eq!(beijing_time("2026-12-01T01:30:00Z").as_deref(), Some("2026-12-01T01:30:00Z"));
        assert_eq!(beijing_time("2026-02-30 09:00:00"), None);
        assert_eq!(beijing_time("昨天"), None);
    }

    #[test]
    fn kinds_read_as_code_or_label_and_yes_no_in_both_languages() {
        assert_eq!(kind("投资理财"), Some(Kind::Investment));
        assert_eq!(kind("investment"), Some(Kind::Investment));
        assert_eq!(kind("Online loan"), Some(Kind::Loan));
        assert_eq!(kind("彩票"), None);
        assert_eq!(
            (yes_no("是"), yes_no("FALSE"), yes_no("1"), yes_no("也许")),
            (Some(true), Some(false), Some(true), None)
        );
    }

    #[test]
    fn a_row_becomes_the_json_input_and_bad_cells_are_all_named() {
        let csv = "来源,上游编号,预警时间,诈骗类型,接触次数,是否安装涉诈App,涉案金额（元）\n\
                   fzzx,A-1,2026-12-01 09:30,投资理财,3,是,1200.5\n\
                   fzzx,A-2,明天,彩票,三,也许,\n";
        let sheet = open(csv.as_bytes(), &WARNINGS, &Limits::UPLOAD).unwrap();
        let rows: Vec<_> = sheet.records().map(|r| input(&r.unwrap())).collect();
        let ok = rows[0].as_ref().unwrap();
        assert_eq!((ok.time.as_str(), ok.kind.as_str()), ("2026-12-01T09:30:00+08:00", "investment"));
        assert_eq!((ok.contacts_count, ok.app_installed), (Some(3), Some(true)));
        assert_eq!(ok.amount_yuan, Some(serde_json::json!("1200.5")));
        let fields: Vec<_> = rows[1].as_ref().unwrap_err().iter().map(|e| (e.line, e.field.clone())).collect();
        let line = |f: &str| (3, f.to_string());
        assert_eq!(fields, [line("time"), line("kind"), line("contacts_count"), line("app_installed")]);
    }

    #[test]
    fn the_template_opens_as_an_empty_import() {
        for bytes in [WARNINGS.csv_header_file(), WARNINGS.xlsx_file()] {
            assert_eq!(open(&bytes, &WARNINGS, &Limits::UPLOAD).unwrap().records().count(), 0);
        }
    }
}
