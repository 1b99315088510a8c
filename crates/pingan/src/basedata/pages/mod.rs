//! Pages for base data (一标三实): residents, addresses, houses and establishments. Each has a list
//! with search and pages, the record (masked for the viewer), forms to record and correct it, and
//! an export of the list. Searches that may carry an identifier are posted, so identifiers never
//! reach a URL; places (a grid, an address, a house) may.

mod addresses;
mod establishments;
mod houses;
mod resident_form;
mod residents;

use axum::Router;
use maud::{html, Markup};

use super::{visible, Table};
use crate::app::AppState;
use crate::auth::{Caller, Permission};
use crate::jurisdiction::Level;
use crate::pii::mask::Viewer;
use crate::tabular::Format;
use crate::web::error::AppError;
use crate::web::i18n::Lang;
use crate::web::layout::csrf;
use crate::web::middleware::{urlencode, RequestMeta};

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(residents::routes())
        .merge(resident_form::routes())
        .merge(addresses::routes())
        .merge(houses::routes())
        .merge(establishments::routes())
}

/// Only a caller who sees a record in full may correct it from a form: the form shows what the
/// record holds, and a masked value (张*, *单元***) saved back would replace the real one.
async fn may_correct(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    table: Table,
    id: i64,
    action: &str,
) -> Result<(), AppError> {
    caller.require(Permission::BaseDataWrite)?;
    let (_, level) = visible(state, meta, caller, table, id, action).await?;
    if level < Level::Full || caller.viewer() != Viewer::Police {
        return Err(AppError::Forbidden(
            "you see this record masked; an officer with full access to the grid can correct it".into(),
        ));
    }
    Ok(())
}

fn label<T: Copy>(l: Lang, v: T, zh: fn(T) -> &'static str, en: fn(T) -> &'static str) -> &'static str {
    if l == Lang::Zh {
        zh(v)
    } else {
        en(v)
    }
}

fn parse_opt<T>(s: &str, parse: fn(&str) -> Option<T>) -> Option<T> {
    if s.is_empty() {
        None
    } else {
        parse(s)
    }
}

/// A record number typed into a form: empty is none, anything else must be a positive number.
fn id_opt(s: &str, field: &str) -> Result<Option<i64>, AppError> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<i64>().ok().filter(|v| *v >= 1).map(Some).ok_or_else(|| AppError::invalid(field, "not a record number"))
}

fn format_of(s: &str) -> Format {
    if s == "xlsx" {
        Format::Xlsx
    } else {
        Format::Csv
    }
}

/// `?a=1&b=x`, leaving out empty values; starts with `?` even when empty so `&page=` can follow.
fn query_string(pairs: &[(&str, String)]) -> String {
    let kept: Vec<String> =
        pairs.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{k}={}", urlencode(v))).collect();
    format!("?{}", kept.join("&"))
}

fn hidden(fields: &[(&str, String)]) -> Markup {
    html! { @for (name, value) in fields { @if !value.is_empty() { input type="hidden" name=(name) value=(value); } } }
}

fn page_count(per_page: i64, total: i64) -> i64 {
    ((total + per_page - 1) / per_page).max(1)
}

/// Previous and next links of a list searched through its URL (places only).
fn get_pager(l: Lang, base: &str, page: i64, per_page: i64, total: i64) -> Markup {
    let sep = if base.ends_with('?') { "" } else { "&" };
    html! {
        div.pager {
            @if page > 1 { a rel="prev" href={ (base) (sep) "page=" (page - 1) } { (l.t("common.prev")) } }
            span.muted { (l.t("common.page")) " " (page) " / " (page_count(per_page, total)) }
            @if page * per_page < total { a rel="next" href={ (base) (sep) "page=" (page + 1) } { (l.t("common.next")) } }
        }
    }
}

/// Previous and next of a posted search: each re-posts the search, so its terms stay out of
/// the URL.
fn post_pager(
    l: Lang,
    caller: &Caller,
    action: &str,
    fields: &[(&str, String)],
    page: i64,
    per_page: i64,
    total: i64,
) -> Markup {
    let steps = [(page > 1, page - 1, "common.prev"), (page * per_page < total, page + 1, "common.next")];
    html! {
        div.pager {
            @for (i, (show, to, key)) in steps.iter().enumerate() {
                @if i == 1 { span.muted { (l.t("common.page")) " " (page) " / " (page_count(per_page, total)) } }
                @if *show {
                    form method="post" action=(action) {
                        (csrf(caller)) (hidden(fields))
                        input type="hidden" name="page" value=(to);
                        button.link type="submit" { (l.t(key)) }
                    }
                }
            }
        }
    }
}

/// The export of a list about people: a format and the reason the audit log keeps.
fn export_card(l: Lang, caller: &Caller, action: &str, fields: &[(&str, String)]) -> Markup {
    html! {
        details.card #export { summary { (l.t("exp.title")) }
            form.stack method="post" action=(action) {
                (csrf(caller)) (hidden(fields))
                label { (l.t("exp.format")) select name="format" { option value="xlsx" { "XLSX" } option value="csv" { "CSV" } } }
                label { (l.t("exp.reason")) input name="reason" required minlength="4" maxlength="200"; }
                p.muted { (l.t("exp.note")) }
                button type="submit" { (l.t("exp.submit")) }
            }
        }
    }
}

/// The export of a list of places and counts: no reason, only the watermark.
fn export_links(l: Lang, path: &str, query: &str) -> Markup {
    let sep = if query.ends_with('?') { "" } else { "&" };
    html! {
        p #export { (l.t("exp.counts_only")) " "
            a href={ (path) (query) (sep) "format=xlsx" } { (l.t("exp.xlsx")) } " · "
            a href={ (path) (query) (sep) "format=csv" } { (l.t("exp.csv")) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_leave_out_empty_values_and_encode_the_rest() {
        assert_eq!(
            query_string(&[("q", "人民路 8号".into()), ("grid_id", String::new())]),
            "?q=%E4%BA%BA%E6%B0%91%E8%B7%AF+8%E5%8F%B7"
        );
        assert_eq!(query_string(&[("q", String::new())]), "?");
    }

    #[test]
    fn a_list_has_at_least_one_page() {
        assert_eq!(page_count(50, 0), 1);
        assert_eq!(page_count(50, 50), 1);
        assert_eq!(page_count(50, 51), 2);
    }
}
