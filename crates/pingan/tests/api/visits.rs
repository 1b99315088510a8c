use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

/// A demo resident of grid 410702010101 with a house: (resident id, house id, grid id).
async fn demo_household(app: &TestApp) -> (i64, i64, i64) {
    let grid = app.node_id("410702010101").await;
    let (r, h): (i64, i64) = sqlx::query_as(
        "SELECT id, house_id FROM residents WHERE grid_id = $1 AND house_id IS NOT NULL ORDER BY id LIMIT 1",
    )
    .bind(grid)
    .fetch_one(app.state.db.reader())
    .await
    .unwrap();
    (r, h, grid)
}

async fn stats_of(app: &TestApp, token: &str, grid: i64) -> Value {
    let (status, body) = app.get("/api/v1/grids/stats", Some(token)).await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().iter().find(|g| g["grid_id"] == grid).cloned().unwrap()
}

#[tokio::test]
async fn a_household_visit_raises_the_grid_s_coverage_and_stays_where_it_happened() {
    let app = spawn_app().await;
    let officer = app.login("officer").await;
    let (resident, house, grid) = demo_household(&app).await;
    let before = stats_of(&app, &officer, grid).await;
    assert!(before["households"].as_i64().unwrap() > 0, "{before}");
    let (status, body) = app
        .post(
            "/api/v1/visits",
            Some(&officer),
            json!({"kind": "household", "resident_id": resident, "finding": "needs_help", "note": "独居，需要帮扶"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let after = stats_of(&app, &officer, grid).await;
    assert_eq!(after["visited"].as_i64().unwrap(), before["visited"].as_i64().unwrap() + 1);
    assert!(after["coverage"].as_f64().unwrap() > before["coverage"].as_f64().unwrap_or(0.0));
    assert!(after["last_visit"].as_i64().is_some());
    let (status, card) = app.get(&format!("/api/v1/grids/{grid}/card"), Some(&officer)).await;
    assert_eq!(status, 200, "{card}");
    assert_eq!(card["stats"]["visited"], after["visited"]);
    assert!(card["phone"].as_str().is_none_or(|p| p.contains('*')), "{card}");
    let other = app.login("other_station_head").await;
    assert_eq!(app.get(&format!("/api/v1/grids/{grid}/card"), Some(&other)).await.0, 404);
    let (_, visits) = app.get(&format!("/api/v1/visits?house_id={house}"), Some(&officer)).await;
    assert_eq!(visits[0]["finding"], "needs_help");
    assert_eq!(visits[0]["officer"], "张宏伟");
    // The address moves to another grid: the visit stays in the grid it happened in.
    let address: i64 = sqlx::query_scalar("SELECT address_id FROM houses WHERE id = $1")
        .bind(house)
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    let shape: Vec<u8> = sqlx::query_scalar("SELECT shape FROM grid_shapes WHERE node_id = $1")
        .bind(app.node_id("410702010102").await)
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    let p = geo::InteriorPoint::interior_point(&pingan_geo::wkb::decode(&shape).unwrap()).unwrap();
    let text: String = sqlx::query_scalar("SELECT text FROM addresses WHERE id = $1")
        .bind(address)
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    let resp = app
        .client
        .put(app.at(&format!("/api/v1/addresses/{address}")))
        .bearer_auth(&officer)
        .json(&json!({"text": text, "lon": p.x(), "lat": p.y()}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let kept: Option<i64> = sqlx::query_scalar("SELECT grid_id FROM visits WHERE house_id = $1")
        .bind(house)
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    assert_eq!(kept, Some(grid));
}

#[tokio::test]
async fn visits_are_refused_without_a_place_or_outside_the_jurisdiction() {
    let app = spawn_app().await;
    let officer = app.login("officer").await;
    let (status, body) =
        app.post("/api/v1/visits", Some(&officer), json!({"kind": "household", "finding": "nothing"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("house_id")));
    let (status, body) =
        app.post("/api/v1/visits", Some(&officer), json!({"kind": "inspection", "finding": "nothing"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("establishment_id")));
    // A house of another station.
    let far: i64 = sqlx::query_scalar(
        "SELECT h.id FROM houses h JOIN org_nodes n ON n.id = h.node_id WHERE n.code LIKE '410703%' ORDER BY h.id LIMIT 1",
    )
    .fetch_one(app.state.db.reader())
    .await
    .unwrap();
    let (status, body) = app
        .post("/api/v1/visits", Some(&officer), json!({"kind": "household", "house_id": far, "finding": "nothing"}))
        .await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("house_id")), "{body}");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM visits").fetch_one(app.state.db.reader()).await.unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn village_duties_follow_the_weekly_monthly_and_quarterly_cadence() {
    let app = spawn_app().await;
    let head = app.login("station_head").await;
    let officer = app.login("officer").await;
    let officer_id = app.account_id("officer").await;
    let grid = app.node_id("410702010101").await;
    let (status, body) =
        app.post("/api/v1/duty-links", Some(&head), json!({"account_id": officer_id, "node_id": grid})).await;
    assert_eq!(status, 201, "{body}");
    let link = body["id"].as_i64().unwrap();
    assert_eq!(
        app.post("/api/v1/duty-links", Some(&head), json!({"account_id": officer_id, "node_id": grid})).await.0,
        409
    );
    // An officer cannot link people, and cannot record on someone else's link.
    assert_eq!(
        app.post("/api/v1/duty-links", Some(&officer), json!({"account_id": officer_id, "node_id": grid})).await.0,
        403
    );
    assert_eq!(
        app.post(&format!("/api/v1/duty-links/{link}/duties"), Some(&head), json!({"kind": "contact"})).await.0,
        404
    );
    for kind in ["contact", "on_site", "deed"] {
        let (status, body) = app
            .post(
                &format!("/api/v1/duty-links/{link}/duties"),
                Some(&officer),
                json!({"kind": kind, "note": "走访村委"}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (_, mine) = app.get("/api/v1/duty-links?mine=true", Some(&officer)).await;
    assert_eq!((mine[0]["contact"].as_str(), mine[0]["deed"].as_str()), (Some("done"), Some("done")), "{mine}");
    // Sixteen days on, a whole week went by without contact: overdue, on the station's list and the map.
    app.clock.advance_ms(16 * 86_400_000);
    let head = app.login("station_head").await; // the old session timed out meanwhile
    let (_, all) = app.get("/api/v1/duty-links", Some(&head)).await;
    let row = all.as_array().unwrap().iter().find(|l| l["id"] == link).unwrap();
    assert_eq!(row["contact"], "overdue", "{row}");
    assert_ne!(row["deed"], "overdue", "a deed a quarter: still fine");
    assert_eq!(stats_of(&app, &head, grid).await["overdue"], 1);
    let (client, _) = app.web_login("station_head", crate::helpers::PASSWORD).await;
    let (status, page, _) = app.page(&client, "/coverage").await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"overdue\"") && page.contains("张宏伟"), "{page}");
}

#[tokio::test]
async fn ending_a_link_keeps_its_duties_and_only_the_village_s_heads_may_end_it() {
    let app = spawn_app().await;
    let head = app.login("station_head").await;
    let officer = app.login("officer").await;
    let grid = app.node_id("410702010101").await;
    let link = json!({"account_id": app.account_id("officer").await, "node_id": grid});
    let (_, body) = app.post("/api/v1/duty-links", Some(&head), link.clone()).await;
    let id = body["id"].as_i64().unwrap();
    let duty = format!("/api/v1/duty-links/{id}/duties");
    assert_eq!(app.post(&duty, Some(&officer), json!({"kind": "contact"})).await.0, 201);
    let end = format!("/api/v1/duty-links/{id}/end");
    assert_eq!(app.post(&end, Some(&officer), json!({})).await.0, 403, "an officer ends no links");
    let other = app.login("other_station_head").await;
    assert_eq!(app.post(&end, Some(&other), json!({})).await.0, 404, "another station's link is not theirs");
    let seq = app.audit_head().await;
    assert_eq!(app.post(&end, Some(&head), json!({})).await.0, 204);
    assert_eq!(app.post(&end, Some(&head), json!({})).await.0, 404, "ended already");
    assert!(app
        .audit_since(seq)
        .await
        .iter()
        .any(|e| e.0 == "duty.unlink" && e.2.contains(&format!(",duty_link:{id},"))));
    let (_, mine) = app.get("/api/v1/duty-links?mine=true", Some(&officer)).await;
    assert_eq!(mine.as_array().unwrap().len(), 0, "{mine}");
    assert_eq!(app.post(&duty, Some(&officer), json!({"kind": "deed"})).await.0, 404, "no duties on an ended link");
    let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM duties WHERE link_id = $1")
        .bind(id)
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    assert_eq!(kept, 1, "the duty done stays on record");
    // The officer may be linked to the village again.
    assert_eq!(app.post("/api/v1/duty-links", Some(&head), link).await.0, 201);
}

#[tokio::test]
async fn a_station_head_links_and_unlinks_officers_on_the_links_page() {
    let app = spawn_app().await;
    app.exempt_all_roles_from_mfa().await;
    let (client, _) = app.web_login("station_head", crate::helpers::PASSWORD).await;
    let (status, page, _) = app.page(&client, "/duty-links").await;
    assert_eq!(status, 200, "{page}");
    let officer = app.account_id("officer").await.to_string();
    let grid = app.node_id("410702010101").await.to_string();
    let select = |name: &str| -> String {
        page.split(&format!("name=\"{name}\""))
            .nth(1)
            .and_then(|t| t.split("</select>").next())
            .unwrap_or("")
            .to_string()
    };
    let has = |options: &str, id: &str| options.contains(&format!("<option value=\"{id}\">"));
    assert!(has(&select("account_id"), &officer) && has(&select("node_id"), &grid), "{page}");
    let worker = app.account_id("gridworker").await.to_string();
    assert!(!has(&select("account_id"), &worker), "grid workers are not sworn officers");
    let form = [("csrf", crate::helpers::csrf_of(&page)), ("account_id", officer.clone()), ("node_id", grid.clone())];
    let resp = client.post(app.at("/duty-links")).form(&form).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    let (_, page, _) = app.page(&client, "/duty-links?saved=1").await;
    let table = page.split("id=\"links\"").nth(1).expect("the list of links");
    assert!(table.contains("张宏伟") && table.contains("向阳1-1网格"), "{page}");
    // The same link again is refused on the page.
    let resp = client.post(app.at("/duty-links")).form(&form).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.text().await.unwrap().contains("role=\"alert\""));
    let id: i64 = sqlx::query_scalar("SELECT id FROM duty_links WHERE until IS NULL")
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    let resp = client
        .post(app.at(&format!("/duty-links/{id}/end")))
        .form(&[("csrf", crate::helpers::csrf_of(&page))])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    let (_, page, _) = app.page(&client, "/duty-links").await;
    assert!(!page.contains("id=\"links\""), "no live links left: {page}");
    let (officer_client, _) = app.web_login("officer", crate::helpers::PASSWORD).await;
    assert_eq!(app.page(&officer_client, "/duty-links").await.0, 403);
}
