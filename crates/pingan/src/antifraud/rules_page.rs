//! The anti-fraud manager's page: the grading rules and deadlines in force (each change a new,
//! audited version) and the table routing unmatched warnings by region code.

use axum::extract::State;
use axum::response::Html;
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};

use super::rules::{Deadlines, GradingRules};
use super::settings_api::{self, RegionStation, Rules};
use crate::app::AppState;
use crate::auth::{Caller, Permission};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::CsrfFields;
use crate::web::layout::{csrf, notice_for, render, Page};
use crate::web::middleware::RequestMeta;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/antifraud/rules", get(page))
        .route("/antifraud/rules/save", post(save_rules))
        .route("/antifraud/rules/regions", post(save_regions))
}

async fn page(State(state): State<AppState>, meta: RequestMeta, caller: Caller) -> AppResult<Html<String>> {
    Ok(Html(markup(&state, &meta, &caller, html! {}).await?.into_string()))
}

fn number(label: &str, name: &str, value: i64, min: i64, max: i64) -> Markup {
    html! {
        label for=(name) { (label) }
        input id=(name) type="number" name=(name) value=(value) min=(min) max=(max) required;
    }
}

fn check(label: &str, name: &str, on: bool) -> Markup {
    html! { label.check { input type="checkbox" name=(name) value="1" checked[on]; " " (label) } }
}

async fn markup(state: &AppState, meta: &RequestMeta, caller: &Caller, notice: Markup) -> AppResult<Markup> {
    caller.require(Permission::AntifraudManage)?;
    let l = meta.lang;
    let r = settings_api::load(state).await?;
    let regions = settings_api::regions(state).await?;
    let (g, d) = (&r.grading, &r.deadlines);
    let region_text: String = regions.iter().map(|x| format!("{},{}\n", x.region, x.station_code)).collect();
    let body = html! {
        p { a href="/antifraud" { "← " (l.t("af.title")) } }
        h1 { (l.t("af.rules")) }
        (notice)
        p.muted { (l.t("af.rules_version")) " " (r.version) }
        form.stack.card method="post" action="/antifraud/rules/save" #rules-form {
            (csrf(caller))
            h2 { (l.t("af.grading")) }
            (number(l.t("af.r_red_amount"), "red_amount_fen", g.red_amount_fen, 1, 100_000_000))
            (number(l.t("af.r_red_call"), "red_call_seconds", g.red_call_seconds, 10, 86_400))
            (check(l.t("af.r_yellow_app"), "yellow_app_installed", g.yellow_app_installed))
            (number(l.t("af.r_yellow_contacts"), "yellow_contacts", g.yellow_contacts, 2, 1000))
            (number(l.t("af.r_raise_age"), "raise_age_over", g.raise_age_over, 40, 100))
            (check(l.t("af.r_raise_alone"), "raise_living_alone", g.raise_living_alone))
            (number(l.t("af.r_merge"), "merge_window_hours", g.merge_window_hours, 1, 720))
            h2 { (l.t("af.deadlines")) }
            (number(l.t("af.d_red_contact"), "red_contact_minutes", d.red_contact_minutes, 1, 10_080))
            (number(l.t("af.d_red_visit"), "red_visit_minutes", d.red_visit_minutes, 1, 10_080))
            (number(l.t("af.d_yellow"), "yellow_contact_minutes", d.yellow_contact_minutes, 1, 10_080))
            (number(l.t("af.d_blue"), "blue_contact_minutes", d.blue_contact_minutes, 1, 10_080))
            (number(l.t("af.d_branch"), "branch_after_minutes", d.branch_after_minutes, 1, 10_080))
            button type="submit" #save-rules { (l.t("common.save")) }
        }
        form.stack.card method="post" action="/antifraud/rules/regions" {
            (csrf(caller))
            h2 { (l.t("af.regions")) }
            p.muted { (l.t("af.regions_hint")) }
            textarea name="regions" #regions { (region_text) }
            button type="submit" { (l.t("common.save")) }
        }
    };
    Ok(render(state, meta, Some(caller), Page { title: l.t("af.rules"), active: "/antifraud", body }))
}

fn int(f: &CsrfFields, name: &str) -> Result<i64, AppError> {
    f.get(name).parse().map_err(|_| AppError::invalid(name, "a whole number"))
}

async fn save_rules(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    f: CsrfFields,
) -> AppResult<Html<String>> {
    let parsed = (|| -> Result<Rules, AppError> {
        Ok(Rules {
            grading: GradingRules {
                red_amount_fen: int(&f, "red_amount_fen")?,
                red_call_seconds: int(&f, "red_call_seconds")?,
                yellow_app_installed: f.get("yellow_app_installed") == "1",
                yellow_contacts: int(&f, "yellow_contacts")?,
                raise_age_over: int(&f, "raise_age_over")?,
                raise_living_alone: f.get("raise_living_alone") == "1",
                merge_window_hours: int(&f, "merge_window_hours")?,
            },
            deadlines: Deadlines {
                red_contact_minutes: int(&f, "red_contact_minutes")?,
                red_visit_minutes: int(&f, "red_visit_minutes")?,
                yellow_contact_minutes: int(&f, "yellow_contact_minutes")?,
                blue_contact_minutes: int(&f, "blue_contact_minutes")?,
                branch_after_minutes: int(&f, "branch_after_minutes")?,
            },
        })
    })();
    let result = match parsed {
        Ok(rules) => settings_api::save(&state, &meta, &caller, &rules).await,
        Err(e) => Err(e),
    };
    let notice = match result {
        Ok(()) => html! { p.notice role="status" { (meta.lang.t("common.saved")) } },
        Err(e) => notice_for(e)?,
    };
    Ok(Html(markup(&state, &meta, &caller, notice).await?.into_string()))
}

async fn save_regions(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    f: CsrfFields,
) -> AppResult<Html<String>> {
    let rows: Vec<RegionStation> = f
        .get("regions")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (region, station) = line.split_once([',', '，', ' ', '\t']).unwrap_or((line, ""));
            RegionStation { region: region.trim().to_string(), station_code: station.trim().to_string() }
        })
        .collect();
    let notice = match settings_api::save_regions(&state, &meta, &caller, &rows).await {
        Ok(()) => html! { p.notice role="status" { (meta.lang.t("common.saved")) } },
        Err(e) => notice_for(e)?,
    };
    Ok(Html(markup(&state, &meta, &caller, notice).await?.into_string()))
}
