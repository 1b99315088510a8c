//! The map at city scale: all 4,507 grids of the Xinxiang-sized demo, drawn for the city
//! commander, and clicks that select the grid under the pointer, including a grid lying in
//! another's hole. `--grids-only` builds the organisation and shapes without the 1.3 million
//! people, so the server is up in seconds.

use super::map::{assert_selected, click_at, press_enter, settle, viewport_point, Grid};
use super::{open_with, screenshot_path, sign_in_as, DESKTOP};

const CITY_GRIDS: i64 = 4507;

/// The demo grid worker's grid, which every scale has.
const DEMO_GRID: &str = "410702010101";

/// `[demo grid, first grid with a hole, the grid in that hole]`, each with a point well inside it:
/// the lattice point farthest from the grid's own rings, as map.rs's `INTERIOR_POINTS` picks but
/// without measuring against every other grid (in a tiling, the nearest edge to a point inside
/// a grid is one of its own; against all 4,507 grids the search would take minutes).
const THREE_GRIDS: &str = r#"(async () => {
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
  const k = Math.cos((35.35 * Math.PI) / 180);
  const segDist = (x, y, [ax, ay], [bx, by]) => {
    const [dx, dy, px, py] = [(bx - ax) * k, by - ay, (x - ax) * k, y - ay];
    const t = Math.max(0, Math.min(1, (px * dx + py * dy) / (dx * dx + dy * dy || 1)));
    return Math.hypot(px - t * dx, py - t * dy);
  };
  const inside = (f) => {
    const rings = f.geometry.coordinates.flat();
    const [outer, ...holes] = f.geometry.coordinates[0];
    const xs = outer.map((c) => c[0]), ys = outer.map((c) => c[1]);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    let best = null;
    for (let i = 0; i < 30; i++) {
      for (let j = 0; j < 30; j++) {
        const x = x0 + ((i + 0.5) / 30) * (x1 - x0), y = y0 + ((j + 0.5) / 30) * (y1 - y0);
        if (!inRing(outer, x, y) || holes.some((h) => inRing(h, x, y))) continue;
        let d = Infinity;
        for (const ring of rings) for (let n = 1; n < ring.length; n++) d = Math.min(d, segDist(x, y, ring[n - 1], ring[n]));
        if (!best || d > best.d) best = { x, y, d };
      }
    }
    return { code: f.properties.code, name: f.properties.name, lon: best.x, lat: best.y };
  };
  const demo = features.find((f) => f.properties.code === '410702010101');
  const host = features.find((f) => f.geometry.coordinates[0].length > 1);
  const [hx, hy] = host.geometry.coordinates[0][1][0];
  const enclave = features.find((f) => f !== host && f.geometry.coordinates[0][0].some(([x, y]) => x === hx && y === hy));
  return [features.length, ...[demo, host, enclave].map(inside)];
})()"#;

fn grid(v: &serde_json::Value) -> Grid {
    Grid {
        code: v["code"].as_str().expect("code").to_string(),
        name: v["name"].as_str().expect("name").to_string(),
        lon: v["lon"].as_f64().expect("an interior point"),
        lat: v["lat"].as_f64().expect("an interior point"),
    }
}

#[tokio::test]
async fn city_commander_sees_all_4507_grids_and_a_click_selects_the_one_under_it() {
    let harness = open_with(DESKTOP, &["--scale", "city", "--grids-only"]).await;
    let page = &harness.page;
    sign_in_as(page, "commander").await;
    page.goto("/map").await;
    let cond = format!("!!window.pinganMap && window.pinganMap.ready && window.pinganMap.count === {CITY_GRIDS}");
    page.wait_until(&cond, "the map to load the city's 4,507 grids").await;
    assert_eq!(page.text("#map-status").await, format!("{CITY_GRIDS} 个网格"));

    let found = page.eval(THREE_GRIDS).await;
    assert_eq!(found[0].as_i64(), Some(CITY_GRIDS), "the GeoJSON does not hold every grid");
    let (demo, host, enclave) = (grid(&found[1]), grid(&found[2]), grid(&found[3]));
    assert_eq!(demo.code, DEMO_GRID);

    // Seen whole, a grid is some ten pixels across: the click lands inside it all the same.
    click_at(page, viewport_point(page, demo.lon, demo.lat).await).await;
    assert_selected(page, &demo, "a click inside the demo grid, the whole city in view").await;
    settle(page).await;
    page.screenshot(&screenshot_path("map-city.png")).await;

    // Zoomed to a grid with a hole, a click in the hole selects the grid that fills it.
    page.fill("#map-search", &host.code).await;
    press_enter(page).await;
    assert_selected(page, &host, "searching the code of a grid with a hole").await;
    click_at(page, viewport_point(page, enclave.lon, enclave.lat).await).await;
    assert_selected(page, &enclave, "a click inside the grid in the hole").await;
    click_at(page, viewport_point(page, host.lon, host.lat).await).await;
    assert_selected(page, &host, "a click back in the grid around it").await;
}
