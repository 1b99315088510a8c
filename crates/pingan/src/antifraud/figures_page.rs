//! 预警数据 (`/antifraud/figures`): the figures of `figures.rs` as leaders read them — headline
//! numbers with 同比 and 环比, charts (server-side SVG), the table by station — and the same as
//! an XLSX or CSV file.

use axum::extract::State;
use axum::response::{Html, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;

use super::figures::{self, change_phrase, Compared, Figures, FiguresQuery};
use super::model::format_yuan;
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::Caller;
use crate::basedata::export::{download, watermark};
use crate::tabular::{csv_bytes, xlsx_bytes, ExportTable, Format};
use crate::web::chart::{self, Bar};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::ApiQuery;
use crate::web::i18n::Lang;
use crate::web::layout::{render, Page};
use crate::web::middleware::RequestMeta;

pub fn routes() -> Router<AppState> {
    Router::new().route("/antifraud/figures", get(figures_page)).route("/antifraud/figures/export", get(export_page))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub format: Format,
}

fn rate(r: Option<f64>) -> String {
    r.map(|r| format!("{:.1}%", r * 100.0)).unwrap_or_else(|| "—".into())
}

fn headline(l: Lang, id: &str, label: &str, value: String, c: Option<&Compared>) -> Markup {
    html! {
        div.figure id=(id) {
            div.muted { (label) }
            div.big { (value) }
            @if let Some(c) = c {
                div.change { (change_phrase(l, l.t("fig.yoy"), c.yoy)) " · " (change_phrase(l, l.t("fig.mom"), c.mom)) }
            }
        }
    }
}

fn station_label(l: Lang, s: &figures::StationFigures) -> String {
    s.name.clone().unwrap_or_else(|| l.t("af.city_queue").to_string())
}

async fn figures_page(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiQuery(q): ApiQuery<FiguresQuery>,
) -> AppResult<Html<String>> {
    let l = meta.lang;
    let f = figures::figures(&state, &caller, &q).await?;
    let grades: Vec<Bar> =
        f.by_grade.iter().map(|g| Bar { label: g.grade.label(l), value: g.warnings, class: g.grade.code() }).collect();
    let kinds: Vec<Bar> =
        f.by_kind.iter().map(|k| Bar { label: k.kind.label(l), value: k.warnings, class: "kind" }).collect();
    let days: Vec<(&str, i64)> = f.by_day.iter().map(|d| (d.date.as_str(), d.warnings)).collect();
    let query = format!("from={}&to={}", f.from, f.to);
    let body = html! {
        h1 { (l.t("fig.title")) }
        form.filters method="get" action="/antifraud/figures" {
            label { (l.t("fig.from")) " " input type="date" name="from" value=(f.from) required; }
            label { (l.t("fig.to")) " " input type="date" name="to" value=(f.to) required; }
            button type="submit" { (l.t("fig.show")) }
        }
        div.figures #headline {
            (headline(l, "fig-warnings", l.t("fig.warnings"), f.warnings.value.to_string(), Some(&f.warnings)))
            (headline(l, "fig-dissuaded", l.t("fig.dissuaded"), f.dissuaded.value.to_string(), Some(&f.dissuaded)))
            (headline(l, "fig-dissuasion-rate", l.t("fig.dissuasion_rate"), rate(f.dissuasion_rate), None))
            (headline(l, "fig-on-time", l.t("fig.on_time"), format!("{} ({}/{})", rate(f.on_time_rate), f.on_time, f.due), None))
            (headline(l, "fig-protected", l.t("fig.protected"), format!("¥{}", format_yuan(f.protected_fen.value)), Some(&f.protected_fen)))
        }
        @if f.warnings.value == 0 && f.outcomes.iter().all(|o| o.cases == 0) {
            p #no-figures { (l.t("fig.empty")) }
        }
        h2 { (l.t("fig.by_day")) }
        (chart::columns(l.t("fig.by_day"), &days))
        div.charts {
            section { h2 { (l.t("fig.by_grade")) } (chart::bars(l.t("fig.by_grade"), &grades)) }
            section { h2 { (l.t("fig.by_kind")) } (chart::bars(l.t("fig.by_kind"), &kinds)) }
        }
        h2 { (l.t("fig.rising")) }
        @let rising: Vec<_> = f.by_kind.iter().filter(|k| k.warnings > k.period_before).collect();
        @if rising.is_empty() { p.muted #rising { (l.t("fig.none_rising")) } } @else {
            ul #rising { @for k in rising {
                li { (k.kind.label(l)) " " (k.warnings) " · " (change_phrase(l, l.t("fig.mom"), k.mom)) }
            } }
        }
        h2 { (l.t("fig.by_station")) }
        div.table-wrap { table.responsive #by-station {
            thead { tr { @for h in station_headers(l) { th { (h) } } } }
            tbody { @for s in &f.by_station { tr {
                @for (h, v) in station_headers(l).iter().zip(station_row(l, s)) { td data-label=(h) { (v) } }
            } } }
        } }
        p {
            a href={ "/antifraud/figures/export?" (query) "&format=xlsx" } { (l.t("exp.xlsx")) } " · "
            a href={ "/antifraud/figures/export?" (query) "&format=csv" } { (l.t("exp.csv")) }
        }
        p.muted { (l.t("fig.definitions")) }
    };
    Ok(Html(
        render(&state, &meta, Some(&caller), Page { title: l.t("fig.title"), active: "/antifraud/figures", body })
            .into_string(),
    ))
}

fn station_headers(l: Lang) -> Vec<&'static str> {
    ["fig.station", "fig.warnings", "fig.due", "fig.on_time", "fig.closed", "fig.dissuaded", "fig.protected"]
        .iter()
        .map(|k| l.t(k))
        .collect()
}

fn station_row(l: Lang, s: &figures::StationFigures) -> Vec<String> {
    vec![
        station_label(l, s),
        s.warnings.to_string(),
        s.due.to_string(),
        rate((s.due > 0).then(|| s.on_time as f64 / s.due as f64)),
        s.closed.to_string(),
        s.dissuaded.to_string(),
        format_yuan(s.protected_fen),
    ]
}

async fn export_page(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> AppResult<Response> {
    export(&state, &meta, &caller, &q).await
}

/// The figures as a file: the headline with its comparisons, then one row per station. Counts
/// only, so no reason is asked; the file carries the viewer's watermark and the export is audited.
pub async fn export(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    q: &ExportQuery,
) -> Result<Response, AppError> {
    let l = meta.lang;
    let f: Figures = figures::figures(state, caller, &FiguresQuery { from: q.from.clone(), to: q.to.clone() }).await?;
    let at = state.clock.now_ms();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut line = |label: &str, value: String, c: Option<&Compared>| {
        let (yoy, mom) = c
            .map(|c| (change_phrase(l, l.t("fig.yoy"), c.yoy), change_phrase(l, l.t("fig.mom"), c.mom)))
            .unwrap_or_default();
        rows.push(vec![label.to_string(), value, yoy, mom, String::new(), String::new(), String::new()]);
    };
    line(l.t("fig.period"), format!("{} – {}", f.from, f.to), None);
    line(l.t("fig.warnings"), f.warnings.value.to_string(), Some(&f.warnings));
    for g in &f.by_grade {
        line(g.grade.label(l), g.warnings.to_string(), None);
    }
    for k in &f.by_kind {
        line(k.kind.label(l), k.warnings.to_string(), None);
    }
    line(l.t("fig.dissuaded"), f.dissuaded.value.to_string(), Some(&f.dissuaded));
    line(l.t("fig.dissuasion_rate"), rate(f.dissuasion_rate), None);
    line(l.t("fig.on_time"), rate(f.on_time_rate), None);
    line(l.t("fig.protected"), format_yuan(f.protected_fen.value), Some(&f.protected_fen));
    line(l.t("fig.lost"), format_yuan(f.lost_fen), None);
    rows.push(vec![String::new(); 7]);
    rows.push(station_headers(l).into_iter().map(String::from).collect());
    rows.extend(f.by_station.iter().map(|s| station_row(l, s)));
    let table = ExportTable {
        title: l.t("fig.title").to_string(),
        watermark: watermark(caller, at, None, l),
        headers: ["fig.item", "fig.value", "fig.yoy", "fig.mom", "", "", ""]
            .iter()
            .map(|k| if k.is_empty() { String::new() } else { l.t(k).to_string() })
            .collect(),
        rows,
    };
    let entry = Entry::new(meta, Some(caller), "antifraud.figures.export")
        .detail(serde_json::json!({"from": f.from, "to": f.to, "format": q.format.extension()}));
    let mut tx = state.db.begin().await?;
    audit::append(&mut tx, &state.db, &state.key, at, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    let bytes = match q.format {
        Format::Csv => csv_bytes(&table),
        Format::Xlsx => xlsx_bytes(&table),
    };
    Ok(download(bytes, q.format, "antifraud-figures", at))
}
