//! Importing grid boundaries from GeoJSON: datums, per-feature validation, overlaps with the
//! file's other grids and with stored ones, gaps, and what a redraw moves and audits.

use crate::helpers::spawn_app;
use geo::{polygon, InteriorPoint};
use serde_json::json;

fn feature(code: &str, station: &str, shape: &geo::MultiPolygon<f64>, to_gcj: bool) -> serde_json::Value {
    let coords: Vec<Vec<Vec<[f64; 2]>>> = shape
        .0
        .iter()
        .map(|p| {
            std::iter::once(p.exterior())
                .chain(p.interiors())
                .map(|r| {
                    r.0.iter()
                        .map(|c| {
                            let q = if to_gcj {
                                pingan_geo::wgs84_to_gcj02(geo::Point::from(*c))
                            } else {
                                geo::Point::from(*c)
                            };
                            [q.x(), q.y()]
                        })
                        .collect()
                })
                .collect()
        })
        .collect();
    json!({"type": "Feature", "properties": {"code": code, "name": format!("网格{code}"), "station": station},
           "geometry": {"type": "MultiPolygon", "coordinates": coords}})
}

async fn post_geojson(
    app: &crate::helpers::TestApp,
    token: &str,
    query: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let resp = app
        .client
        .post(app.at(&format!("/api/v1/grids/import{query}")))
        .bearer_auth(token)
        .header("content-type", "application/geo+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn grids_import_from_gcj02_geojson_and_are_stored_in_wgs84() {
    let app = spawn_app().await;
    let admin = app.login("sysadmin").await;
    let shapes = pingan_geo::synthetic::city_grids(11, 4);
    let features: Vec<_> = shapes
        .iter()
        .enumerate()
        .map(|(i, (_, s))| feature(&format!("4107020101{:02}", 50 + i), "410702010100", s, true))
        .collect();
    let (status, report) =
        post_geojson(&app, &admin, "?datum=gcj02", json!({"type": "FeatureCollection", "features": features})).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["created"], 4);
    let p = shapes[2].1.interior_point().unwrap();
    let (_, found) = app.get(&format!("/api/v1/grids/locate?lon={}&lat={}", p.x(), p.y()), Some(&admin)).await;
    assert_eq!(found["code"], "410702010152", "stored in WGS-84: the WGS-84 point finds it");
    // The same file again changes nothing.
    let features: Vec<_> = shapes
        .iter()
        .enumerate()
        .map(|(i, (_, s))| feature(&format!("4107020101{:02}", 50 + i), "410702010100", s, true))
        .collect();
    let (_, again) =
        post_geojson(&app, &admin, "", json!({"type": "FeatureCollection", "datum": "gcj02", "features": features}))
            .await;
    assert_eq!((again["created"].as_i64(), again["unchanged"].as_i64()), (Some(0), Some(4)), "{again}");
}

#[tokio::test]
async fn a_bad_grid_file_is_reported_feature_by_feature_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.login("sysadmin").await;
    let shapes = pingan_geo::synthetic::city_grids(11, 3);
    let open_ring = json!({"type": "Feature", "properties": {"code": "X1", "name": "开口", "station": "410702010100"},
        "geometry": {"type": "Polygon", "coordinates": [[[113.9, 35.3], [113.91, 35.3], [113.91, 35.31], [113.9, 35.31]]]}});
    let features = vec![
        feature("410702010160", "410702010100", &shapes[0].1, false),
        feature("410702010161", "410702010100", &shapes[0].1, false), // the same ground again: overlaps
        feature("410702010162", "999", &shapes[1].1, false),
        open_ring,
    ];
    let (status, report) =
        post_geojson(&app, &admin, "?datum=wgs84", json!({"type": "FeatureCollection", "features": features})).await;
    assert_eq!(status, 422);
    let errors = report["errors"].as_array().unwrap();
    let by_feature = |i: usize| {
        errors
            .iter()
            .filter(|e| e["feature"] == i)
            .map(|e| e["field"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(by_feature(1), ["geometry"], "{report}");
    assert_eq!(by_feature(2), ["station"]);
    assert_eq!(by_feature(3), ["geometry"]);
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM org_nodes WHERE code LIKE '4107020101_%' AND code >= '410702010160'")
            .fetch_one(app.state.db.reader())
            .await
            .unwrap();
    assert_eq!(n, 0, "nothing written");
    let (status, report) = post_geojson(&app, &admin, "", json!({"type": "FeatureCollection", "features": []})).await;
    assert_eq!((status, report["errors"][0]["field"].as_str()), (422, Some("file")), "the datum must be stated");
    let (status, report) =
        post_geojson(&app, &admin, "?datum=", json!({"type": "FeatureCollection", "features": []})).await;
    assert_eq!((status, report["errors"][0]["field"].as_str()), (422, Some("datum")), "a 422 is always the report");
    let station = feature("410702010000", "410702010100", &shapes[2].1, false);
    let (status, report) =
        post_geojson(&app, &admin, "?datum=wgs84", json!({"type": "FeatureCollection", "features": [station]})).await;
    assert_eq!(
        (status, report["errors"][0]["field"].as_str()),
        (422, Some("code")),
        "a station's code is not a grid's: {report}"
    );
}

async fn stored_shape(app: &crate::helpers::TestApp, code: &str) -> geo::MultiPolygon<f64> {
    let wkb: Vec<u8> = sqlx::query_scalar("SELECT shape FROM grid_shapes WHERE node_id = $1")
        .bind(app.node_id(code).await)
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    pingan_geo::wkb::decode(&wkb).unwrap()
}

/// A `w` × `h` rectangle, in thousandths of a degree, its south-west corner `x`, `y` thousandths
/// of a degree from (118.70°E, 32.00°N): in the synthetic city, far from the demo's grids.
fn square(x: f64, y: f64, w: f64, h: f64) -> geo::MultiPolygon<f64> {
    let (x0, y0) = (118.70 + x / 1000.0, 32.00 + y / 1000.0);
    let (x1, y1) = (x0 + w / 1000.0, y0 + h / 1000.0);
    geo::MultiPolygon(vec![polygon![(x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1), (x: x0, y: y0)]])
}

#[tokio::test]
async fn a_new_grid_over_a_stored_one_is_refused_unless_the_file_redraws_that_one_too() {
    let app = spawn_app().await;
    let admin = app.login("sysadmin").await;
    let taken = stored_shape(&app, "410702010102").await;
    let fc =
        |features: Vec<serde_json::Value>| json!({"type": "FeatureCollection", "datum": "wgs84", "features": features});
    let newcomer = feature("410702010190", "410702010100", &taken, false);
    let (status, report) = post_geojson(&app, &admin, "", fc(vec![newcomer.clone()])).await;
    assert_eq!(status, 422, "{report}");
    let e = &report["errors"][0];
    assert_eq!(
        (e["feature"].as_i64(), e["code"].as_str(), e["field"].as_str()),
        (Some(0), Some("410702010190"), Some("geometry"))
    );
    assert!(e["reason"].as_str().unwrap().contains("410702010102"), "names the stored grid: {report}");
    assert_eq!(report["errors"].as_array().unwrap().len(), 1, "its neighbours only touch it: {report}");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM org_nodes WHERE code = '410702010190'")
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    assert_eq!(n, 0, "nothing written");
    // Redrawing the stored grid elsewhere in the same file frees its ground.
    let moved = feature("410702010102", "410702010100", &square(0.0, 0.0, 1.0, 1.0), false);
    let (status, report) = post_geojson(&app, &admin, "", fc(vec![newcomer, moved])).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!((report["created"].as_i64(), report["reshaped"].as_i64()), (Some(1), Some(1)));
}

#[tokio::test]
async fn a_redraw_names_every_address_house_resident_and_establishment_it_moved() {
    let app = spawn_app().await;
    let admin = app.login("sysadmin").await;
    let grid = app.node_id("410702010102").await;
    let ids = |sql: &'static str| {
        let app = &app;
        async move {
            let v: Vec<i64> = sqlx::query_scalar(sql).bind(grid).fetch_all(app.state.db.reader()).await.unwrap();
            v
        }
    };
    let addresses = ids("SELECT id FROM addresses WHERE grid_id = $1").await;
    let houses = ids("SELECT h.id FROM houses h JOIN addresses a ON a.id = h.address_id WHERE a.grid_id = $1").await;
    let residents = ids("SELECT id FROM residents WHERE grid_id = $1").await;
    let establishments = ids("SELECT id FROM establishments WHERE grid_id = $1").await;
    assert!(!houses.is_empty() && !residents.is_empty() && !establishments.is_empty(), "the demo fills the grid");
    // A new grid takes over the ground of 410702010102, which moves away.
    let taken = stored_shape(&app, "410702010102").await;
    let features = vec![
        feature("410702010190", "410702010100", &taken, false),
        feature("410702010102", "410702010100", &square(0.0, 0.0, 1.0, 1.0), false),
    ];
    let seq = app.audit_head().await;
    let (status, report) =
        post_geojson(&app, &admin, "?datum=wgs84", json!({"type": "FeatureCollection", "features": features})).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["addresses_moved"].as_u64(), Some(addresses.len() as u64));
    let entries = app.audit_since(seq).await;
    let (_, _, records, detail) = entries.iter().find(|e| e.0 == "grid.import").expect("the import is audited");
    for (kind, list) in
        [("address", &addresses), ("house", &houses), ("resident", &residents), ("establishment", &establishments)]
    {
        for id in list {
            assert!(records.contains(&format!(",{kind}:{id},")), "{kind}:{id} is not named in {records}");
        }
    }
    let detail: serde_json::Value = serde_json::from_str(detail).unwrap();
    assert_eq!(detail["residents_moved"].as_u64(), Some(residents.len() as u64), "{detail}");
    let new_grid = app.node_id("410702010190").await;
    let now_in: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM residents WHERE grid_id = $1")
        .bind(new_grid)
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    assert_eq!(now_in, residents.len() as i64, "the residents went with their addresses");
}

#[tokio::test]
async fn the_import_reports_gaps_inside_a_station_s_area() {
    let app = spawn_app().await;
    let admin = app.login("sysadmin").await;
    // Four grids framing an empty square: the post's ground has a hole nobody answers for.
    let frame = [
        square(0.0, 0.0, 3.0, 1.0),
        square(0.0, 2.0, 3.0, 1.0),
        square(0.0, 1.0, 1.0, 1.0),
        square(2.0, 1.0, 1.0, 1.0),
    ];
    let features: Vec<_> = frame
        .iter()
        .enumerate()
        .map(|(i, s)| feature(&format!("4107020101{}", 70 + i), "410702010100", s, false))
        .collect();
    let (status, report) =
        post_geojson(&app, &admin, "?datum=wgs84", json!({"type": "FeatureCollection", "features": features})).await;
    assert_eq!(status, 200, "gaps are reported, not refused: {report}");
    let gaps = report["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "{report}");
    assert_eq!(gaps[0]["station"], "410702010100");
    // 0.001° of longitude at 32° N is about 94 m, of latitude about 111 m.
    let area = gaps[0]["area_m2"].as_f64().unwrap();
    assert!((9_500.0..11_500.0).contains(&area), "{area} m²");
}
