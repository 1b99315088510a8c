//! The grid map (`/map`, drawn by `static/map.js` on a canvas): real clicks, taps and typing
//! against the demo's grids, checked through the page's `window.pinganMap` hook.

use serde_json::{json, Value};

use super::{assert_no_horizontal_scroll, open, screenshot_path, sign_in, DESKTOP, PHONE};
use crate::cdp::Page;

/// The demo station head's station has six grids.
const STATION_GRIDS: i64 = 6;

/// One grid of the GeoJSON with a point well inside it (not in a hole, away from every edge).
pub(super) struct Grid {
    pub(super) code: String,
    pub(super) name: String,
    pub(super) lon: f64,
    pub(super) lat: f64,
}

/// Fetches the GeoJSON in the page (the session cookie authenticates) and, for each grid by code,
/// picks the lattice point inside its first polygon's exterior and outside its holes that lies
/// farthest from any edge of any grid, so a click there cannot land on a boundary or a neighbour.
pub(super) const INTERIOR_POINTS: &str = r#"(async () => {
  const response = await fetch('/api/v1/grids/geojson');
  const features = (await response.json()).features;
  features.sort((a, b) => (a.properties.code < b.properties.code ? -1 : 1));
  const inRing = (ring, x, y) => {
    let inside = false;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [ax, ay] = ring[j], [bx, by] = ring[i];
      if ((ay > y) !== (by > y) && x < ax + ((y - ay) * (bx - ax)) / (by - ay)) inside = !inside;
    }
    return inside;
  };
  const k = Math.cos((35.35 * Math.PI) / 180); // lon degrees are shorter than lat degrees here
  const segDist = (x, y, [ax, ay], [bx, by]) => {
    const [dx, dy, px, py] = [(bx - ax) * k, by - ay, (x - ax) * k, y - ay];
    const t = Math.max(0, Math.min(1, (px * dx + py * dy) / (dx * dx + dy * dy || 1)));
    return Math.hypot(px - t * dx, py - t * dy);
  };
  const rings = features.flatMap((f) => f.geometry.coordinates.flat());
  const clearance = (x, y) => {
    let best = Infinity;
    for (const ring of rings) for (let i = 1; i < ring.length; i++) best = Math.min(best, segDist(x, y, ring[i - 1], ring[i]));
    return best;
  };
  return features.map((f) => {
    const [outer, ...holes] = f.geometry.coordinates[0];
    const xs = outer.map((c) => c[0]), ys = outer.map((c) => c[1]);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    let best = null;
    for (let i = 0; i < 30; i++) {
      for (let j = 0; j < 30; j++) {
        const x = x0 + ((i + 0.5) / 30) * (x1 - x0), y = y0 + ((j + 0.5) / 30) * (y1 - y0);
        if (!inRing(outer, x, y) || holes.some((h) => inRing(h, x, y))) continue;
        const d = clearance(x, y);
        if (!best || d > best.d) best = { x, y, d };
      }
    }
    return { code: f.properties.code, name: f.properties.name, lon: best.x, lat: best.y };
  });
})()"#;

async fn grids(page: &Page) -> Vec<Grid> {
    let v = page.eval(INTERIOR_POINTS).await;
    let list = v.as_array().unwrap_or_else(|| panic!("no GeoJSON grids: {v}"));
    let grids: Vec<Grid> = list
        .iter()
        .map(|g| Grid {
            code: g["code"].as_str().expect("code").to_string(),
            name: g["name"].as_str().expect("name").to_string(),
            lon: g["lon"].as_f64().expect("an interior point"),
            lat: g["lat"].as_f64().expect("an interior point"),
        })
        .collect();
    assert_eq!(grids.len() as i64, STATION_GRIDS, "the station head's GeoJSON has the wrong number of grids");
    grids
}

/// Opens `/map` and waits until the script has loaded and drawn the station's grids.
async fn open_map(page: &Page) {
    page.goto("/map").await;
    let cond = format!("!!window.pinganMap && window.pinganMap.ready && window.pinganMap.count === {STATION_GRIDS}");
    page.wait_until(&cond, "the map to load the station's 6 grids").await;
    let status = page.text("#map-status").await;
    assert_eq!(status, format!("{STATION_GRIDS} 个网格"), "the status line does not give the count");
}

/// Where `pinganMap` draws (lon, lat), in viewport CSS pixels, after bringing the canvas into view.
pub(super) async fn viewport_point(page: &Page, lon: f64, lat: f64) -> (f64, f64) {
    let expr = format!(
        "(() => {{ const c = document.querySelector('#grid-map'); c.scrollIntoView({{block: 'nearest'}});
           const r = c.getBoundingClientRect(), p = window.pinganMap.screenPointOf({lon}, {lat});
           return p && p[0] >= 0 && p[1] >= 0 && p[0] <= r.width && p[1] <= r.height ? [r.x + p[0], r.y + p[1]] : null; }})()"
    );
    let at = page.eval(&expr).await;
    match (at[0].as_f64(), at[1].as_f64()) {
        (Some(x), Some(y)) => (x, y),
        _ => panic!("({lon}, {lat}) is not drawn on the canvas\n{}", page.on_screen().await),
    }
}

/// A real left click at viewport coordinates, as `Page::click` does for an element.
pub(super) async fn click_at(page: &Page, (x, y): (f64, f64)) {
    for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
        let p = json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1});
        page.call("Input.dispatchMouseEvent", p).await;
    }
}

/// A real finger tap at viewport coordinates.
pub(super) async fn tap_at(page: &Page, (x, y): (f64, f64)) {
    page.call("Input.dispatchTouchEvent", json!({"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})).await;
    page.call("Input.dispatchTouchEvent", json!({"type": "touchEnd", "touchPoints": []})).await;
}

pub(super) async fn press_enter(page: &Page) {
    let down = json!({"type": "keyDown", "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "text": "\r"});
    page.call("Input.dispatchKeyEvent", down).await;
    let up = json!({"type": "keyUp", "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13});
    page.call("Input.dispatchKeyEvent", up).await;
}

/// Waits until `grid` is selected and its card shows its name as the heading and its code.
pub(super) async fn assert_selected(page: &Page, grid: &Grid, how: &str) {
    let cond = format!(
        "window.pinganMap.selectedCode() === {code:?} && !document.querySelector('#grid-card').hidden",
        code = grid.code
    );
    page.wait_until(&cond, &format!("{how} to select grid {}", grid.code)).await;
    let heading = page.text("#grid-card h2").await;
    assert_eq!(heading, grid.name, "{how}: the card's heading is not the grid's name\n{}", page.on_screen().await);
    let card = page.text("#grid-card").await;
    assert!(card.contains(&grid.code), "{how}: the card does not show the code {}: {card:?}", grid.code);
    assert!(card.contains("责任民警"), "{how}: the card has no responsible officer line: {card:?}");
}

/// Lets two animation frames pass, so whatever the map redrew is on screen.
pub(super) async fn settle(page: &Page) {
    page.eval("new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))").await;
}

#[tokio::test]
async fn desktop_map_click_and_search_select_grids() {
    let harness = open(DESKTOP).await;
    let page = &harness.page;
    sign_in(page).await;
    open_map(page).await;
    let grids = grids(page).await;

    // A click inside a grid selects it and fills the card.
    let first = &grids[0];
    click_at(page, viewport_point(page, first.lon, first.lat).await).await;
    assert_selected(page, first, "a click inside the grid").await;
    settle(page).await;
    page.screenshot(&screenshot_path("map-desktop.png")).await;

    // A click beside the grids (up and left of their bounding box) selects nothing.
    let extent = page
        .eval(
            "fetch('/api/v1/grids/geojson').then((r) => r.json()).then((fc) => {
               const cs = fc.features.flatMap((f) => f.geometry.coordinates.flat(2));
               return [Math.min(...cs.map((c) => c[0])), Math.max(...cs.map((c) => c[1]))]; })",
        )
        .await;
    let (x, y) = viewport_point(page, extent[0].as_f64().unwrap(), extent[1].as_f64().unwrap()).await;
    click_at(page, (x - 8.0, y - 8.0)).await;
    let cond = "window.pinganMap.selectedCode() === null && document.querySelector('#grid-card').hidden";
    page.wait_until(cond, "a click outside every grid to hide the card").await;

    // Typing a code and Enter zooms to that grid and selects it.
    let last = &grids[grids.len() - 1];
    page.fill("#map-search", &last.code).await;
    press_enter(page).await;
    assert_selected(page, last, "searching its code").await;
    viewport_point(page, last.lon, last.lat).await; // panics unless the grid is on the canvas
    settle(page).await;
    page.screenshot(&screenshot_path("map-search.png")).await;

    // Colouring by measure changes the drawing at once, and choosing it again restores it.
    let shot = "document.querySelector('#grid-map').toDataURL()";
    let measure = |v: &str| {
        format!(
            "(() => {{ const s = document.querySelector('#map-measure'); s.value = '{v}';
                  s.dispatchEvent(new Event('change', {{bubbles: true}})); return true; }})()"
        )
    };
    let coloured = page.eval(shot).await;
    page.eval(&measure("none")).await;
    settle(page).await;
    assert_ne!(page.eval(shot).await, coloured, "choosing no colouring did not change the map");
    page.eval(&measure("responsible")).await;
    settle(page).await;
    assert_eq!(page.eval(shot).await, coloured, "colouring by officer again did not restore the map");

    // A search that matches nothing says so and keeps the selection.
    page.fill("#map-search", "没有这个网格").await;
    press_enter(page).await;
    let cond = format!("document.querySelector('#map-status').textContent.trim() !== '{STATION_GRIDS} 个网格'");
    page.wait_until(&cond, "the status line to say nothing matched").await;
    let selected = page.eval("window.pinganMap.selectedCode()").await;
    assert_eq!(selected, Value::String(last.code.clone()), "a failed search changed the selection");
}

#[tokio::test]
async fn phone_map_fits_and_a_tap_selects() {
    let harness = open(PHONE).await;
    let page = &harness.page;
    sign_in(page).await;
    open_map(page).await;
    assert_no_horizontal_scroll(page, "the map page").await;

    let expr = "(() => { const c = document.querySelector('#grid-map'), r = c.getBoundingClientRect();
        return [r.left, r.right, r.width, r.height, window.innerWidth, c.width, c.clientWidth]; })()";
    let v = page.eval(expr).await;
    let f = |i: usize| v[i].as_f64().unwrap();
    let (left, right, width, height, inner) = (f(0), f(1), f(2), f(3), f(4));
    assert!(
        left >= 0.0 && right <= inner && width > 300.0 && height >= 300.0,
        "the canvas does not fit the phone: {v}"
    );
    assert_eq!(f(5), (f(6) * 2.0).round(), "the canvas is not sized for a device pixel ratio of 2: {v}");

    let grids = grids(page).await;
    let grid = &grids[1];
    tap_at(page, viewport_point(page, grid.lon, grid.lat).await).await;
    assert_selected(page, grid, "a tap inside the grid").await;
    settle(page).await;
    page.screenshot(&screenshot_path("map-phone.png")).await;
}

/// Every GeoJSON request the page has made, as `zoom=` values (`null` for full detail).
const GEOJSON_ZOOMS: &str = "performance.getEntriesByType('resource').map((e) => new URL(e.name))
    .filter((u) => u.pathname === '/api/v1/grids/geojson').map((u) => u.searchParams.get('zoom'))";

#[tokio::test]
async fn the_map_fetches_the_detail_of_the_zoom_it_shows_and_refetches_when_zoomed_in() {
    let harness = open(DESKTOP).await;
    let page = &harness.page;
    sign_in(page).await;
    open_map(page).await;
    // The first request guesses a city-wide zoom; fitted to the station, the map holds the detail
    // of the zoom it shows (asking again if the guess was off).
    let fitted = "window.pinganMap.zoom === Math.round(window.pinganMap.viewZoom())";
    page.wait_until(fitted, "the map to hold the detail of the zoom it shows").await;
    let zoom = page.eval("window.pinganMap.zoom").await.as_i64().expect("a zoom");
    let asked = page.eval(GEOJSON_ZOOMS).await;
    let mut expected = vec!["11".to_string()];
    if zoom != 11 {
        expected.push(zoom.to_string());
    }
    assert_eq!(asked, json!(expected), "every request names its zoom: {asked}");

    // Three steps in (×1.6 each) are two zoom levels (2.03): finer geometry is fetched once zooming
    // stops, and the grids are drawn all the while.
    for _ in 0..3 {
        page.click("#map-zoom-in").await;
    }
    let cond = format!("window.pinganMap.zoom >= {} && window.pinganMap.count === {STATION_GRIDS}", zoom + 2);
    page.wait_until(&cond, "finer geometry after zooming in").await;
    // Each request waits for 400 ms without zooming; on a loaded machine the clicks may be slower
    // than that, so a request may come between them, but only ever for finer detail.
    let asked: Vec<String> = serde_json::from_value(page.eval(GEOJSON_ZOOMS).await).expect("zooms, all named");
    let finer = page.eval("String(window.pinganMap.zoom)").await;
    let (before, after) = asked.split_at(expected.len().min(asked.len()));
    assert_eq!(before, &expected[..], "{asked:?}");
    let levels: Vec<i64> = after.iter().map(|z| z.parse().expect("a zoom level")).collect();
    assert!(
        !levels.is_empty()
            && levels.windows(2).all(|w| w[0] < w[1])
            && after.last() == finer.as_str().map(String::from).as_ref(),
        "finer geometry after zooming stopped, each request finer than the last: {asked:?}"
    );
    expected.extend(after.iter().cloned());

    // Back to the whole station: what it holds is fine enough, so nothing more is fetched, and a
    // click still lands on the grid under it.
    page.click("#map-reset").await;
    let grids = grids(page).await;
    click_at(page, viewport_point(page, grids[2].lon, grids[2].lat).await).await;
    assert_selected(page, &grids[2], "a click after zooming in and back").await;
    let asked = page.eval(GEOJSON_ZOOMS).await;
    let from_the_map = asked.as_array().unwrap().iter().filter(|z| !z.is_null()).count();
    assert_eq!(from_the_map, expected.len(), "zooming out within two levels fetches nothing: {asked}");
}
