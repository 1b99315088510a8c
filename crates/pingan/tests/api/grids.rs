use crate::helpers::spawn_app;
use geo::{polygon, InteriorPoint};
use serde_json::json;

/// Gives the demo's grids under station 410702010000 synthetic shapes; returns (code, shape).
async fn shape_station_grids(app: &crate::helpers::TestApp) -> Vec<(String, geo::MultiPolygon<f64>)> {
    let codes: Vec<String> = sqlx::query_scalar(
        "SELECT n.code FROM org_nodes n JOIN org_closure c ON c.descendant = n.id \
         WHERE c.ancestor = (SELECT id FROM org_nodes WHERE code = '410702010000') AND n.kind = 'grid' ORDER BY n.code",
    )
    .fetch_all(app.state.db.reader())
    .await
    .unwrap();
    let shapes = pingan_geo::synthetic::city_grids(7, codes.len());
    let mut tx = app.state.db.begin().await.unwrap();
    let mut out = Vec::new();
    for (code, (_, shape)) in codes.iter().zip(shapes) {
        let id = app.node_id(code).await;
        pingan::grids::store::put_shape(&mut tx, id, &shape, "wgs84", None, app.clock.now_ms()).await.unwrap();
        out.push((code.clone(), shape));
    }
    tx.commit().await.unwrap();
    out
}

#[tokio::test]
async fn a_point_is_located_in_its_grid_in_either_datum() {
    let app = spawn_app().await;
    let head = app.login("station_head").await;
    let shapes = shape_station_grids(&app).await;
    for (code, shape) in shapes.iter().take(3) {
        let p = shape.interior_point().unwrap();
        let (status, body) = app.get(&format!("/api/v1/grids/locate?lon={}&lat={}", p.x(), p.y()), Some(&head)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["code"], code.as_str());
        // The same place as a Chinese web map gives it (GCJ-02) lands in the same grid.
        let g = pingan_geo::wgs84_to_gcj02(p);
        let (_, body) =
            app.get(&format!("/api/v1/grids/locate?lon={}&lat={}&datum=gcj02", g.x(), g.y()), Some(&head)).await;
        assert_eq!(body["code"], code.as_str());
    }
    let (status, _) = app.get("/api/v1/grids/locate?lon=0&lat=0", Some(&head)).await;
    assert_eq!(status, 404);
    let (status, body) = app.get("/api/v1/grids/locate?lon=200&lat=0", Some(&head)).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("lon")));
}

#[tokio::test]
async fn a_redrawn_grid_is_found_by_every_server_and_keeps_its_history() {
    let app = spawn_app().await;
    let other = app.second_server().await;
    let head = app.login("station_head").await;
    let shapes = shape_station_grids(&app).await;
    let (first_code, first_shape) = &shapes[0];
    let p = first_shape.interior_point().unwrap();
    let url = format!("/api/v1/grids/locate?lon={}&lat={}", p.x(), p.y());
    assert_eq!(other.get(&url, Some(&head)).await.1["code"], first_code.as_str());
    // Redraw: the second grid takes over the first one's shape.
    let (second_code, _) = &shapes[1];
    let mut tx = app.state.db.begin().await.unwrap();
    let empty_elsewhere =
        geo::MultiPolygon(vec![polygon![(x: 0.0, y: 0.0), (x: 0.001, y: 0.0), (x: 0.0, y: 0.001), (x: 0.0, y: 0.0)]]);
    pingan::grids::store::put_shape(
        &mut tx,
        app.node_id(first_code).await,
        &empty_elsewhere,
        "wgs84",
        None,
        app.clock.now_ms(),
    )
    .await
    .unwrap();
    pingan::grids::store::put_shape(
        &mut tx,
        app.node_id(second_code).await,
        first_shape,
        "wgs84",
        None,
        app.clock.now_ms(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        other.get(&url, Some(&head)).await.1["code"],
        second_code.as_str(),
        "the other server rebuilt its index"
    );
    let versions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM grid_shape_history WHERE node_id = $1")
        .bind(app.node_id(first_code).await)
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    assert_eq!(versions, 3, "the demo's shape, this test's, and the redraw all stay in history");
}

#[tokio::test]
async fn grids_without_a_responsible_officer_are_listed_and_can_be_given_one() {
    let app = spawn_app().await;
    shape_station_grids(&app).await;
    let admin = app.login("sysadmin").await;
    let (_, all) = app.get("/api/v1/grids?unassigned=true", Some(&admin)).await;
    let before = all.as_array().unwrap().len();
    assert!(before > 0, "the demo leaves some grids without one");
    let first_unassigned = all[0]["code"].as_str().unwrap().to_string();
    let grid = app.node_id(&first_unassigned).await;
    let officer = app.account_id("officer").await;
    let (status, _) =
        app.post(&format!("/api/v1/grids/{grid}/responsible"), Some(&admin), json!({"account_id": officer})).await;
    assert_eq!(status, 204);
    let (_, after) = app.get("/api/v1/grids?unassigned=true", Some(&admin)).await;
    assert_eq!(after.as_array().unwrap().len(), before - 1);
    let resp = app.client.get(app.at("/api/v1/grids/geojson")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "application/geo+json");
    let fc: serde_json::Value = resp.json().await.unwrap();
    let feature = fc["features"].as_array().unwrap().iter().find(|f| f["id"] == grid).unwrap();
    assert_eq!(feature["properties"]["responsible"], "张宏伟");
    assert_eq!(feature["geometry"]["type"], "MultiPolygon");
}

#[tokio::test]
async fn another_stations_head_does_not_see_these_grids() {
    let app = spawn_app().await;
    let ours = shape_station_grids(&app).await;
    let other = app.login("other_station_head").await;
    let (_, list) = app.get("/api/v1/grids", Some(&other)).await;
    let codes: Vec<&str> = list.as_array().unwrap().iter().map(|g| g["code"].as_str().unwrap()).collect();
    assert_eq!(codes.len(), 6, "its own station's grids");
    assert!(codes.iter().all(|c| c.starts_with("41070301")));
    assert!(ours.iter().all(|(c, _)| !codes.contains(&c.as_str())));
}

#[tokio::test]
async fn a_grant_adds_another_station_s_grids_to_the_list_until_revoked() {
    let app = spawn_app().await;
    let other = app.login("other_station_head").await;
    let sec = app.login("secadmin").await;
    let codes = |list: &serde_json::Value| -> Vec<String> {
        list.as_array().unwrap().iter().map(|g| g["code"].as_str().unwrap().to_string()).collect()
    };
    let (_, before) = app.get("/api/v1/grids", Some(&other)).await;
    assert!(codes(&before).iter().all(|c| c.starts_with("41070301")), "{before}");
    let grant = json!({"account_id": app.account_id("other_station_head").await,
        "node_id": app.node_id("410702010000").await, "level": "counts_only", "reason": "联合巡防共享网格"});
    let (status, body) = app.post("/api/v1/grants", Some(&sec), grant).await;
    assert_eq!(status, 201, "{body}");
    let (_, with_grant) = app.get("/api/v1/grids", Some(&other)).await;
    let listed = codes(&with_grant);
    assert_eq!(listed.len(), 12, "its own six grids and the granted station's six: {listed:?}");
    assert!(listed.iter().any(|c| c.starts_with("41070201")));
    let (_, fc) = app.get("/api/v1/grids/geojson", Some(&other)).await;
    assert_eq!(fc["features"].as_array().unwrap().len(), 12, "the map draws the same grids");
    // Seeing a grid is not managing it: the grant gives no say over its officer.
    let grid = app.node_id("410702010101").await;
    let officer = app.account_id("officer").await;
    let (status, _) =
        app.post(&format!("/api/v1/grids/{grid}/responsible"), Some(&other), json!({"account_id": officer})).await;
    assert_eq!(status, 404, "a station head manages its own station's grids only");
    let revoke = format!("/api/v1/grants/{}/revoke", body["id"]);
    assert_eq!(app.post(&revoke, Some(&sec), json!({})).await.0, 204);
    let (_, after) = app.get("/api/v1/grids", Some(&other)).await;
    assert_eq!(codes(&after), codes(&before));
}

#[tokio::test]
async fn the_demo_city_s_grids_tile_its_stations() {
    let app = spawn_app().await;
    let head = app.login("station_head").await;
    let (_, list) = app.get("/api/v1/grids", Some(&head)).await;
    assert_eq!(list.as_array().unwrap().len(), 6, "two posts of three grids");
    // A point in the middle of one of the station's grids is located there.
    let (_, fc) = app.get("/api/v1/grids/geojson", Some(&head)).await;
    let first = &fc["features"][0];
    let ring = first["geometry"]["coordinates"][0][0].as_array().unwrap();
    let poly = geo::Polygon::new(
        ring.iter().map(|c| (c[0].as_f64().unwrap(), c[1].as_f64().unwrap())).collect::<Vec<_>>().into(),
        vec![],
    );
    let p = poly.interior_point().unwrap();
    let (_, found) = app.get(&format!("/api/v1/grids/locate?lon={}&lat={}", p.x(), p.y()), Some(&head)).await;
    assert_eq!(found["code"], first["properties"]["code"]);
}

#[tokio::test]
async fn the_map_geojson_is_simplified_by_zoom_and_compressed_on_request() {
    let app = spawn_app().await;
    let head = app.login("station_head").await;
    let points = |fc: &serde_json::Value| -> usize {
        fc["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["geometry"]["coordinates"][0][0].as_array().unwrap().len())
            .sum()
    };
    let (_, full) = app.get("/api/v1/grids/geojson", Some(&head)).await;
    let (_, far) = app.get("/api/v1/grids/geojson?zoom=6", Some(&head)).await;
    let (_, far_again) = app.get("/api/v1/grids/geojson?zoom=6", Some(&head)).await;
    assert_eq!(far, far_again, "the cached answer is the computed one");
    assert_eq!(far["features"].as_array().unwrap().len(), 6, "no grid vanishes when simplified");
    assert!(points(&far) < points(&full), "{} vs {}", points(&far), points(&full));
    let resp = app
        .client
        .get(app.at("/api/v1/grids/geojson"))
        .bearer_auth(&head)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let (status, body) = app.get("/api/v1/grids/geojson?zoom=99", Some(&head)).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("zoom")));
}

#[tokio::test]
async fn the_grids_page_shows_the_gaps_and_pages_through_a_long_list() {
    let app = spawn_app().await;
    let (client, _) = {
        app.exempt_all_roles_from_mfa().await;
        app.web_login("station_head", crate::helpers::PASSWORD).await
    };
    let head = app.login("station_head").await;
    let (_, gaps) = app.get("/api/v1/grids?unassigned=true", Some(&head)).await;
    let gaps: Vec<String> = gaps.as_array().unwrap().iter().map(|g| g["code"].as_str().unwrap().to_string()).collect();
    assert!(!gaps.is_empty(), "the demo leaves a gap in this station");
    let (status, page, _) = app.page(&client, "/grids").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page.matches("<tr>").count(), 1 + 6, "a header and the station's six grids: {page}");
    let shown =
        page.split("id=\"gap-count\"").nth(1).and_then(|t| t.split('>').nth(1)).and_then(|t| t.split('<').next());
    assert_eq!(shown, Some(gaps.len().to_string().as_str()), "the count of 一格一警 gaps: {page}");
    let (_, only, _) = app.page(&client, "/grids?unassigned=1").await;
    assert_eq!(only.matches("<tr>").count(), 1 + gaps.len(), "{only}");
    assert!(gaps.iter().all(|c| only.contains(c.as_str())));
    // The API gives the same list with each team's size.
    let (_, all) = app.get("/api/v1/grids", Some(&head)).await;
    assert!(all.as_array().unwrap().iter().all(|g| g["team_size"].as_i64().unwrap() >= 4), "{all}");

    // Sixty more grids for the post: the list runs to two pages.
    let admin = app.login("sysadmin").await;
    let features: Vec<_> = (0..60)
        .map(|i| {
            let (x, y) = (118.70 + (i % 10) as f64 * 0.001, 32.00 + (i / 10) as f64 * 0.001);
            json!({"type": "Feature", "properties": {"code": format!("41070201{:04}", 1000 + i), "name": format!("新网格{i}"), "station": "410702010100"},
                   "geometry": {"type": "Polygon", "coordinates": [[[x, y], [x + 0.001, y], [x + 0.001, y + 0.001], [x, y + 0.001], [x, y]]]}})
        })
        .collect();
    let resp = app
        .client
        .post(app.at("/api/v1/grids/import?datum=wgs84"))
        .bearer_auth(&admin)
        .header("content-type", "application/geo+json")
        .body(json!({"type": "FeatureCollection", "features": features}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{}", resp.text().await.unwrap());
    let (_, first, _) = app.page(&client, "/grids").await;
    assert_eq!(first.matches("<tr>").count(), 1 + 50);
    assert!(first.contains("rel=\"next\"") && !first.contains("rel=\"prev\""));
    let (_, second, _) = app.page(&client, "/grids?page=2").await;
    assert_eq!(second.matches("<tr>").count(), 1 + 16, "66 grids in all");
    assert!(second.contains("rel=\"prev\"") && !second.contains("rel=\"next\""));
}

#[tokio::test]
async fn the_grid_list_exports_as_a_watermarked_file() {
    let app = spawn_app().await;
    let head = app.login("station_head").await;
    let get = |path: &'static str| {
        let app = &app;
        let head = head.clone();
        async move {
            let resp = app.client.get(app.at(path)).bearer_auth(head).send().await.unwrap();
            (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
        }
    };
    let seq = app.audit_head().await;
    let (status, csv) = get("/api/v1/grids/export?format=csv&unassigned=true").await;
    assert_eq!(status, 200);
    let text = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains("李卫东"), "the viewer's watermark: {text}");
    assert!(lines.iter().any(|l| l.contains("未落实责任民警")), "{text}");
    let (_, gaps) = app.get("/api/v1/grids?unassigned=true", Some(&head)).await;
    for g in gaps.as_array().unwrap() {
        assert!(text.contains(g["code"].as_str().unwrap()), "{text}");
    }
    assert!(!text.contains("张宏伟"), "only the gaps: assigned grids stay out: {text}");
    assert!(app.audit_since(seq).await.iter().any(|e| e.0 == "grid.export"));
    let (status, xlsx) = get("/api/v1/grids/export?format=xlsx").await;
    assert_eq!(status, 200);
    assert!(xlsx.starts_with(b"PK\x03\x04"));
    let (status, body) = app.get("/api/v1/grids/export?format=pdf", Some(&head)).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("format")), "{body}");
}
