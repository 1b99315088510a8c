//! The map over an intranet tile server: a tiny tile server started here on an ephemeral port,
//! named to `pingan demo` through `PINGAN_MAP__TILE_URL`. The page must ask it for the Web-Mercator
//! tiles under the station's grids (which only the CSP's img-src lets through), show the
//! attribution, and still select the grid under a click.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use tokio::sync::Notify;

use super::map::{assert_selected, click_at, settle, viewport_point, INTERIOR_POINTS};
use super::{open_with_env, screenshot_path, sign_in, DESKTOP};

/// A 256 × 256 pale-blue PNG: every tile the server hands out.
const TILE_PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAQAAAAEACAIAAADTED8xAAACAUlEQVR42u3TQQ0AAAjEsPOvDBGIQAJvNNCkCpYs1QNvRQIMAAYAA4ABwABgADAAGAAMAAYAA4ABwABgADAAGAAMAAYAA4ABwABgADAAGAAMAAYAA4ABwABgADAAGAAMAAYAA4ABwABgADAAGAAMAAYAA4ABwABgADAAGAAMAAYAA2AAFTAAGAAMAAYAA4ABwABgADAAGAAMAAYAA4ABwABgADAAGAAMAAYAA4ABwABgADAAGAAMAAYAA4ABwABgADAAGAAMAAYAA4ABwABgADAAGAAMAAYAA4ABwABgADAAGAAMgAHAAGAAMAAYAAwABgADgAHAAGAAMAAYAAwABgADgAHAAGAAMAAYAAwABgADgAHAAGAAMAAYAAwABgADgAHAAGAAMAAYAAwABgADgAHAAGAAMAAYAAwABgADgAHAAGAADKACBgADgAHAAGAAMAAYAAwABgADgAHAAGAAMAAYAAwABgADgAHAAGAAMAAYAAwABgADgAHAAGAAMAAYAAwABgADgAHAAGAAMAAYAAwABgADgAHAAGAAMAAYAAwABgADgAEwABgADAAGAAOAAcAAYAAwABgADAAGAAOAAcAAYAAwABgADAAGAAOAAcAAYAAwABgADAAGAAOAAcAAYAAwABgADAAGAAOAAcAAYAAwABgADAAGAAOAAcAAYAC4Frw9Jq3DwfohAAAAAElFTkSuQmCC";

type Requests = Arc<(Mutex<Vec<(u32, u32, u32)>>, Notify)>;

struct TileServer {
    port: u16,
    requests: Requests,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl TileServer {
    async fn start() -> TileServer {
        let requests: Requests = Arc::default();
        let seen = requests.clone();
        let png = base64::engine::general_purpose::STANDARD.decode(TILE_PNG).expect("the tile is base64");
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
            let (seen, png) = (seen.clone(), png.clone());
            async move {
                // /{z}/{x}/{y}.png
                let parts: Vec<u32> =
                    uri.path().trim_end_matches(".png").split('/').filter_map(|p| p.parse().ok()).collect();
                if let [z, x, y] = parts[..] {
                    seen.0.lock().unwrap().push((z, x, y));
                    seen.1.notify_waiters();
                }
                ([(axum::http::header::CONTENT_TYPE, "image/png")], png)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the tile server");
        let port = listener.local_addr().unwrap().port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        TileServer { port, requests, _stop: stop }
    }

    /// Waits (bounded) until a request satisfies `pick`; panics with what was asked otherwise.
    async fn wait_for(&self, what: &str, pick: impl Fn(&(u32, u32, u32)) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let notified = self.requests.1.notified();
            if self.requests.0.lock().unwrap().iter().any(&pick) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("no tile request {what}; asked: {:?}", self.requests.0.lock().unwrap());
            }
        }
    }
}

/// The XYZ tile holding a WGS-84 point at zoom `z` (the slippy-map formula every tile server uses).
fn tile_of(lon: f64, lat: f64, z: u32) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let lat = lat.to_radians();
    let x = (lon + 180.0) / 360.0 * n;
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n;
    (x.floor() as u32, y.floor() as u32)
}

#[tokio::test]
async fn tiles_from_the_configured_server_lie_under_the_grids_and_a_click_still_selects_the_grid() {
    let tiles = TileServer::start().await;
    let template = format!("http://127.0.0.1:{}/{{z}}/{{x}}/{{y}}.png", tiles.port);
    let env = [("PINGAN_MAP__TILE_URL", template.as_str()), ("PINGAN_MAP__ATTRIBUTION", "底图 © 测试测绘院")];
    let harness = open_with_env(DESKTOP, &[], &env).await;
    let page = &harness.page;
    sign_in(page).await;
    page.goto("/map").await;
    page.wait_until("!!window.pinganMap && window.pinganMap.ready && window.pinganMap.count === 6", "the map").await;
    assert_eq!(page.text("#map-attribution").await, "底图 © 测试测绘院");

    let points = page.eval(INTERIOR_POINTS).await;
    let first = &points[0];
    let (lon, lat) = (first["lon"].as_f64().unwrap(), first["lat"].as_f64().unwrap());
    // The tile under the first grid, at whatever zoom the map chose: drawn in Web Mercator, the
    // grid and the tile the server calls (z, x, y) are the same place.
    tiles.wait_for("for the tile under the first grid", |&(z, x, y)| tile_of(lon, lat, z) == (x, y)).await;
    let asked = page.eval("window.pinganMap.tileRequests()").await.as_u64().unwrap_or(0);
    assert!(asked > 0, "the page counts its tile requests: {asked}");

    let grid = super::map::Grid {
        code: first["code"].as_str().unwrap().to_string(),
        name: first["name"].as_str().unwrap().to_string(),
        lon,
        lat,
    };
    click_at(page, viewport_point(page, lon, lat).await).await;
    assert_selected(page, &grid, "a click inside the grid, over the tiles").await;
    settle(page).await;
    page.screenshot(&screenshot_path("map-tiles.png")).await;
}
