//! The one map (一图展示): every grid of the caller's jurisdiction drawn from its polygon by our
//! own canvas script (`/static/map.js`) over `/api/v1/grids/geojson`, at the detail of the zoom
//! it shows. Under the grids, tiles from the intranet tile server of `[map]` when one is
//! configured (`/static/map-tiles.js`); by default none, and nothing is fetched from outside.

use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use maud::html;

use crate::app::AppState;
use crate::auth::{Caller, Permission};
use crate::web::error::AppResult;
use crate::web::layout::{render, Page};
use crate::web::middleware::RequestMeta;

pub fn routes() -> Router<AppState> {
    Router::new().route("/map", get(map_page)).merge(super::grid_page::routes()).merge(super::list_page::routes())
}

async fn map_page(State(state): State<AppState>, meta: RequestMeta, caller: Caller) -> AppResult<Html<String>> {
    caller.require(Permission::OrgRead)?;
    let l = meta.lang;
    let map = &state.config.map;
    let tiles = (!map.tile_url.is_empty()).then_some(map.tile_url.as_str());
    let body = html! {
        h1 { (l.t("map.title")) }
        div.map-tools {
            label { (l.t("map.measure")) " "
                select id="map-measure" {
                    option value="responsible" { (l.t("map.measure.responsible")) }
                    option value="population" { (l.t("map.measure.population")) }
                    option value="coverage" { (l.t("map.measure.coverage")) }
                    option value="overdue" { (l.t("map.measure.overdue")) }
                    option value="none" { (l.t("map.measure.none")) }
                }
            }
            label { (l.t("common.search")) " " input id="map-search" type="search" placeholder=(l.t("map.search_hint")); }
            span.map-zoom {
                button type="button" id="map-zoom-in" aria-label=(l.t("map.zoom_in")) { "+" }
                button type="button" id="map-zoom-out" aria-label=(l.t("map.zoom_out")) { "−" }
                button type="button" id="map-reset" { (l.t("map.reset")) }
            }
        }
        div.map-wrap {
            canvas id="grid-map" data-geojson="/api/v1/grids/geojson" data-lang=(l.code())
                data-stats="/api/v1/grids/stats" data-card="/api/v1/grids/" data-addresses="/api/v1/addresses"
                data-residents=[(caller.has(Permission::PeopleRead) || caller.has(Permission::PeopleReadMasked)).then_some("/residents")]
                data-tiles=[tiles] data-tiles-max-zoom=[tiles.map(|_| map.max_zoom)]
                data-label-responsible=(l.t("map.responsible")) data-label-none=(l.t("common.none"))
                data-label-code=(l.t("org.code")) data-label-loading=(l.t("map.loading")) data-label-empty=(l.t("map.empty"))
                data-label-not-found=(l.t("map.not_found")) data-label-error=(l.t("map.load_failed"))
                data-label-signed-out=(l.t("map.signed_out")) data-label-team=(l.t("team.card"))
                data-grid-page="/grids/" data-label-grid-page=(l.t("grids.page"))
                data-duty-community-officer=(l.t("team.duty.community_officer")) data-duty-auxiliary=(l.t("team.duty.auxiliary"))
                data-duty-grid-worker=(l.t("team.duty.grid_worker")) data-duty-volunteer=(l.t("team.duty.volunteer")) {}
            aside id="grid-card" hidden {}
            @if tiles.is_some() && !map.attribution.is_empty() { small #map-attribution { (map.attribution) } }
        }
        p.legend id="map-legend" {}
        p.muted id="map-status" { (l.t("map.loading")) }
        @if tiles.is_some() { script src="/static/map-tiles.js" defer {} }
        script src="/static/map.js" defer {}
    };
    Ok(Html(render(&state, &meta, Some(&caller), Page { title: l.t("map.title"), active: "/map", body }).into_string()))
}
