//! The page frame every HTML page shares: navigation by permission, language switch, demo
//! banner, and a watermark naming the viewer and the time.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::error::{AppError, ErrorInfo, RowError};
use super::i18n::Lang;
use super::middleware::RequestMeta;
use crate::app::AppState;
use crate::auth::{Caller, Permission};
use crate::clock::format_beijing;

pub struct Page<'a> {
    pub title: &'a str,
    pub active: &'a str,
    pub body: Markup,
}

const NAV: &[(&str, &str, &[Permission])] = &[
    ("/", "nav.home", &[]),
    ("/antifraud", "nav.antifraud", &[Permission::WarningsWork]),
    (
        "/antifraud/figures",
        "nav.af_figures",
        &[Permission::PeopleRead, Permission::PeopleReadMasked, Permission::PeopleCounts],
    ),
    ("/push", "nav.push", &[Permission::PushSend, Permission::PushManage]),
    ("/map", "nav.map", &[Permission::OrgRead]),
    ("/grids", "nav.grids", &[Permission::OrgRead]),
    ("/residents", "nav.residents", &[Permission::PeopleRead, Permission::PeopleReadMasked]),
    ("/addresses", "nav.addresses", &[Permission::PeopleRead, Permission::PeopleReadMasked, Permission::PeopleCounts]),
    ("/houses", "nav.houses", &[Permission::PeopleRead, Permission::PeopleReadMasked, Permission::PeopleCounts]),
    ("/establishments", "nav.establishments", &[Permission::PeopleRead, Permission::PeopleReadMasked]),
    ("/duties", "nav.duties", &[Permission::BaseDataWrite]),
    ("/duty-links", "nav.duty_links", &[Permission::DutiesAssign]),
    ("/coverage", "nav.coverage", &[Permission::PeopleRead, Permission::PeopleReadMasked, Permission::PeopleCounts]),
    ("/org", "nav.org", &[Permission::OrgRead]),
    ("/accounts", "nav.accounts", &[Permission::AccountsRead]),
    ("/grants", "nav.grants", &[Permission::GrantsWrite]),
    ("/security", "nav.security", &[Permission::SecurityPolicy]),
    ("/tokens", "nav.tokens", &[Permission::TokensManage]),
    ("/audit", "nav.audit", &[Permission::AuditRead]),
    ("/notifications", "nav.notifications", &[]),
    ("/me", "nav.me", &[]),
];

pub fn render(state: &AppState, meta: &RequestMeta, caller: Option<&Caller>, page: Page) -> Markup {
    let lang = meta.lang;
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (page.title) " · " (lang.t("app.name")) }
                link rel="stylesheet" href="/static/app.css";
                script src="/static/app.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/" { (lang.t("app.name")) }
                    @if let Some(c) = caller {
                        nav {
                            @for (href, key, perm) in NAV {
                                @if perm.is_empty() || perm.iter().any(|p| c.has(*p)) {
                                    a href=(href) class=@if page.active == *href { "on" } { (lang.t(key)) }
                                }
                            }
                        }
                    } @else {
                        nav {}
                    }
                    div.who {
                        @if let Some(c) = caller {
                            span { (c.name) }
                            form method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(c.csrf.clone().unwrap_or_default());
                                button type="submit" id="sign-out" { (lang.t("nav.signout")) }
                            }
                        }
                        a href=(lang_switch_href(lang, &meta.path)) id="lang-switch" { (lang.t("nav.lang")) }
                    }
                }
                @if state.demo {
                    div.demo role="note" { (lang.t("demo.banner")) }
                }
                main { (page.body) }
                @if let Some(c) = caller {
                    div.watermark aria-hidden="true" {
                        @for _ in 0..12 {
                            span { (c.label) " " (format_beijing(state.clock.now_ms())) }
                        }
                    }
                }
            }
        }
    }
}

fn lang_switch_href(lang: Lang, path: &str) -> String {
    let to = if lang == Lang::Zh { "en" } else { "zh" };
    format!("/lang?to={to}&back={}", super::middleware::urlencode(path))
}

pub fn error_page(state: &AppState, meta: &RequestMeta, info: &ErrorInfo) -> Markup {
    let lang = meta.lang;
    let body = html! {
        h1 { (lang.t("error.title")) " (" (info.status.as_u16()) ")" }
        div.error {
            p { (info.reason) }
            @if let Some(f) = &info.field { p { (lang.t("error.field")) ": " code { (f) } } }
            p.muted { (lang.t("error.request_id")) ": " code { (meta.request_id) } }
        }
        p { a href="/" { (lang.t("nav.home")) } }
    };
    render(state, meta, None, Page { title: lang.t("error.title"), active: "", body })
}

pub fn csrf(caller: &Caller) -> Markup {
    html! { input type="hidden" name="csrf" value=(caller.csrf.clone().unwrap_or_default()); }
}

/// Inline SVG we generated ourselves (QR codes), never user input.
pub fn trusted_svg(svg: &str) -> Markup {
    PreEscaped(svg.to_string())
}

/// A refusal the user can act on (bad field, conflict, not allowed) shown on the page they were
/// on; anything else stays an error page.
pub fn notice_for(e: AppError) -> Result<Markup, AppError> {
    match e {
        AppError::Invalid { field, reason } => Ok(html! { div.error role="alert" { code { (field) } ": " (reason) } }),
        AppError::Conflict { reason, .. } | AppError::Forbidden(reason) => {
            Ok(html! { div.error role="alert" { (reason) } })
        }
        other => Err(other),
    }
}

/// An import page's help: the blank template's links and what each column holds.
pub fn template_help(l: Lang, t: &crate::tabular::Template) -> Markup {
    let zh = l == Lang::Zh;
    html! {
        p { a href={ "/api/v1/import-templates/" (t.name) "?format=xlsx" } { (l.t("imp.template_xlsx")) } " · "
            a href={ "/api/v1/import-templates/" (t.name) } { (l.t("imp.template_csv")) } }
        details { summary { (l.t("imp.columns")) }
            ul { @for c in t.columns { li { strong { (if zh { c.zh } else { c.en }) } @if c.required { " *" } " — " (if zh { c.note_zh } else { c.note_en }) } } }
        }
    }
}

/// An import's rejected rows, line by line.
pub fn row_errors(errors: &[RowError]) -> Markup {
    html! { div.error role="alert" { ul { @for e in errors { li { "#" (e.line) " " code { (e.field) } ": " (e.reason) } } } } }
}

/// The card every CSV import page shows: the columns, a file chooser our script reads into the
/// text area, and the submit button. `id` names the text area, `action` the route.
pub fn csv_import_card(caller: &Caller, title: &str, columns: &str, action: &str, id: &str) -> Markup {
    html! {
        div.card {
            h2 { (title) }
            p.muted { (columns) }
            form.stack method="post" action=(action) {
                (csrf(caller))
                input type="file" accept=".csv,text/csv" data-fill=(id);
                textarea id=(id) name="csv" required {}
                button type="submit" { (title) }
            }
        }
    }
}

/// The body of a CSV import form.
#[derive(serde::Deserialize)]
pub struct CsvForm {
    pub csv: String,
}
