use geo::InteriorPoint;
use serde_json::{json, Value};

use crate::helpers::{id_number, spawn_app, TestApp};

pub(crate) async fn shape_of(app: &TestApp, code: &str) -> geo::MultiPolygon<f64> {
    let wkb: Vec<u8> = sqlx::query_scalar("SELECT shape FROM grid_shapes WHERE node_id = $1")
        .bind(app.node_id(code).await)
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    pingan_geo::wkb::decode(&wkb).unwrap()
}

pub(crate) async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    let resp = app.client.put(app.at(path)).bearer_auth(token).json(&body).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// An address in the officer's grid 410702010101, returning its id.
pub(crate) async fn address_in_grid(app: &TestApp, token: &str, code: &str, text: &str) -> i64 {
    let p = shape_of(app, code).await.interior_point().unwrap();
    let (status, body) =
        app.post("/api/v1/addresses", Some(token), json!({"text": text, "lon": p.x(), "lat": p.y()})).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().unwrap()
}

async fn resident(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    app.post("/api/v1/residents", Some(token), body).await
}

#[tokio::test]
async fn an_address_lands_in_the_grid_that_covers_it_in_either_datum() {
    let app = spawn_app().await;
    let officer = app.login("officer").await;
    let id = address_in_grid(&app, &officer, "410702010101", "新乡市测试路1号").await;
    let (_, body) = app.get(&format!("/api/v1/addresses/{id}"), Some(&officer)).await;
    assert_eq!(body["grid_code"], "410702010101");
    // The same place as a Chinese web map reports it.
    let p = shape_of(&app, "410702010102").await.interior_point().unwrap();
    let g = pingan_geo::wgs84_to_gcj02(p);
    let (status, body) = app
        .post(
            "/api/v1/addresses",
            Some(&officer),
            json!({"text": "新乡市测试路2号", "lon": g.x(), "lat": g.y(), "datum": "gcj02"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, body) = app.get(&format!("/api/v1/addresses/{}", body["id"]), Some(&officer)).await;
    assert_eq!(body["grid_code"], "410702010102");
    assert!((body["lon"].as_f64().unwrap() - p.x()).abs() < 1e-6, "stored in WGS-84: {body}");
    // The same text again, spelled with full-width digits and spaces, is the same address.
    let (status, body) = app
        .post("/api/v1/addresses", Some(&officer), json!({"text": "新乡市 测试路１号", "lon": p.x(), "lat": p.y()}))
        .await;
    assert_eq!((status, body["error"]["field"].as_str()), (409, Some("text")), "{body}");
}

#[tokio::test]
async fn coordinates_outside_the_bureau_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let officer = app.login("officer").await;
    let before: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM addresses").fetch_one(app.state.db.reader()).await.unwrap();
    for (lon, lat) in [(116.40, 39.90), (35.3, 113.9), (0.0, 0.0)] {
        let (status, body) = app
            .post("/api/v1/addresses", Some(&officer), json!({"text": "北京市东城区1号", "lon": lon, "lat": lat}))
            .await;
        assert_eq!((status, body["error"]["field"].as_str()), (422, Some("lon")), "{lon},{lat}: {body}");
    }
    let after: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM addresses").fetch_one(app.state.db.reader()).await.unwrap();
    assert_eq!(before, after);
}

#[tokio::test]
async fn residents_are_found_by_name_part_id_tail_exact_id_and_phone_and_shown_masked() {
    let app = spawn_app().await;
    let officer = app.login("officer").await;
    let address = address_in_grid(&app, &officer, "410702010101", "新乡市寻人路8号").await;
    let id = id_number("41072819850612123");
    let (status, body) = resident(
        &app,
        &officer,
        json!({"name": "欧阳测试", "id_number": id, "phones": ["138 1234 5678", "0373-2345678"],
               "residence": "registered", "address_id": address, "tags": ["elderly_alone"]}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let rid = body["id"].as_i64().unwrap();
    let (_, view) = app.get(&format!("/api/v1/residents/{rid}"), Some(&officer)).await;
    assert_eq!(view["id_number"], format!("4107**********{}", &id[14..]));
    assert_eq!(view["sex"], "male", "taken from the ID number");
    assert_eq!(view["phones"], json!(["138****5678", "0373-***5678"]));
    assert_eq!(view["grid_id"].as_i64(), Some(app.node_id("410702010101").await));
    let text = view.to_string();
    assert!(!text.contains(&id) && !text.contains("13812345678"), "{text}");
    let search = |q: Value| {
        let app = &app;
        let officer = officer.clone();
        async move {
            let (status, body) = app.post("/api/v1/residents/search", Some(&officer), q).await;
            assert_eq!(status, 200, "{body}");
            body["items"].as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()).collect::<Vec<_>>()
        }
    };
    assert_eq!(search(json!({"name": "阳测"})).await, vec![rid]);
    assert_eq!(search(json!({"id_number": &id[14..]})).await, vec![rid]);
    assert_eq!(search(json!({"id_number": &id[10..]})).await, vec![rid], "a longer tail narrows after decryption");
    assert_eq!(search(json!({"id_number": id.to_lowercase()})).await, vec![rid]);
    assert_eq!(search(json!({"phone": "+86 13812345678"})).await, vec![rid]);
    assert_eq!(search(json!({"phone": "13812345679"})).await, Vec::<i64>::new());
    assert!(search(json!({"tag": "elderly_alone", "address_id": address})).await.contains(&rid));
    // A name search is literal: % matches nothing rather than everyone.
    assert_eq!(search(json!({"name": "%"})).await, Vec::<i64>::new());
    // The search and the view are in the audit log, by record id, without the identifiers.
    let audit = app.audit_since(0).await;
    assert!(audit
        .iter()
        .any(|(action, _, records, _)| action == "resident.view" && records.contains(&format!("resident:{rid}"))));
    assert!(audit.iter().all(|(_, _, records, detail)| !records.contains(&id) && !detail.contains(&id)));
}

#[tokio::test]
async fn id_numbers_and_phones_are_checked_and_a_second_record_is_refused() {
    let app = spawn_app().await;
    let officer = app.login("officer").await;
    let before: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM residents").fetch_one(app.state.db.reader()).await.unwrap();
    let good = id_number("41070219900307001");
    let mut wrong_check = good.clone();
    wrong_check.replace_range(17.., if good.ends_with('0') { "1" } else { "0" });
    let cases = [
        (json!({"name": "甲", "id_number": wrong_check, "residence": "registered"}), "id_number"),
        (json!({"name": "甲", "id_number": id_number("41070219900230002"), "residence": "registered"}), "id_number"),
        (json!({"name": "甲", "id_number": id_number("99070219900101002"), "residence": "registered"}), "id_number"),
        (json!({"name": "甲", "phones": ["12345"], "residence": "registered"}), "phones[0]"),
        (json!({"name": "甲", "id_number": good, "sex": "female", "residence": "registered"}), "sex"),
        (json!({"name": "", "residence": "registered"}), "name"),
        (json!({"name": "甲", "residence": "registered", "house_relation": "tenant"}), "house_relation"),
        (json!({"name": "甲", "residence": "registered", "address_id": 999999}), "address_id"),
    ];
    for (body, field) in cases {
        let (status, answer) = resident(&app, &officer, body.clone()).await;
        assert_eq!((status, answer["error"]["field"].as_str()), (422, Some(field)), "{body}: {answer}");
    }
    let after: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM residents").fetch_one(app.state.db.reader()).await.unwrap();
    assert_eq!(before, after, "nothing was written");
    // Accepted: a legacy 15-digit number (upgraded), a residence permit, a person with no number.
    let (status, body) =
        resident(&app, &officer, json!({"name": "老号码", "id_number": "410702850612123", "residence": "registered"}))
            .await;
    assert_eq!(status, 201, "{body}");
    let permit = id_number("81000019900101123");
    assert_eq!(
        resident(&app, &officer, json!({"name": "陈港生", "id_number": permit, "residence": "floating"})).await.0,
        201
    );
    assert_eq!(resident(&app, &officer, json!({"name": "无证人员", "residence": "floating"})).await.0, 201);
    // The upgraded number is the same person as its 18-digit form.
    let (status, body) = resident(
        &app,
        &officer,
        json!({"name": "老号码", "id_number": id_number("41070219850612123"), "residence": "registered"}),
    )
    .await;
    assert_eq!((status, body["error"]["field"].as_str()), (409, Some("id_number")), "{body}");
}

#[tokio::test]
async fn another_station_cannot_find_or_open_these_residents() {
    let app = spawn_app().await;
    let officer = app.login("officer").await;
    let address = address_in_grid(&app, &officer, "410702010101", "新乡市辖区路1号").await;
    let id = id_number("41070219700101001");
    let (_, body) = resident(
        &app,
        &officer,
        json!({"name": "辖区居民", "id_number": id, "residence": "registered", "address_id": address}),
    )
    .await;
    let rid = body["id"].as_i64().unwrap();
    let other = app.login("other_station_head").await;
    let (status, body) = app.post("/api/v1/residents/search", Some(&other), json!({"id_number": id})).await;
    assert_eq!((status, body["total"].as_i64()), (200, Some(0)), "{body}");
    let (status, _) = app.post("/api/v1/residents/search", Some(&other), json!({"name": "辖区居民"})).await;
    assert_eq!(status, 200);
    assert_eq!(app.get(&format!("/api/v1/residents/{rid}"), Some(&other)).await.0, 404);
    assert_eq!(app.get(&format!("/api/v1/addresses/{address}"), Some(&other)).await.0, 404);
    let (status, _) = app
        .post(
            &format!("/api/v1/residents/{rid}/unmask"),
            Some(&other),
            json!({"field": "id_number", "reason": "核查身份信息"}),
        )
        .await;
    assert_eq!(status, 404);
    let denied = app
        .audit_since(0)
        .await
        .into_iter()
        .filter(|(a, o, r, _)| a == "resident.view" && r.contains(&format!("resident:{rid}")) && o == "denied")
        .count();
    assert_eq!(denied, 1, "the refused look is audited");
    // The station's own head finds them.
    let head = app.login("station_head").await;
    let (_, body) = app.post("/api/v1/residents/search", Some(&head), json!({"id_number": id})).await;
    assert_eq!(body["total"], 1);
}

#[tokio::test]
async fn unmasking_needs_a_reason_a_full_view_and_is_audited_with_the_reason() {
    let app = spawn_app().await;
    let officer = app.login("officer").await;
    let address = address_in_grid(&app, &officer, "410702010101", "新乡市核查路1号").await;
    let id = id_number("41070219800202002");
    let (_, body) = resident(&app, &officer, json!({"name": "待核查", "id_number": id, "phones": ["13900001111"], "residence": "registered", "address_id": address})).await;
    let rid = body["id"].as_i64().unwrap();
    let url = format!("/api/v1/residents/{rid}/unmask");
    let (status, body) = app.post(&url, Some(&officer), json!({"field": "id_number", "reason": "  "})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("reason")));
    let (status, body) =
        app.post(&url, Some(&officer), json!({"field": "id_number", "reason": "入户走访核对身份"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id_number"], id.as_str());
    let (_, body) = app.post(&url, Some(&officer), json!({"field": "phones", "reason": "联系本人核实情况"})).await;
    assert_eq!(body["phones"], json!(["13900001111"]));
    let audit = app.audit_since(0).await;
    let unmasks: Vec<_> =
        audit.iter().filter(|(a, _, r, _)| a == "resident.unmask" && r.contains(&format!("resident:{rid}"))).collect();
    assert_eq!(unmasks.len(), 2);
    assert!(unmasks[0].3.contains("入户走访核对身份"), "{:?}", unmasks[0]);
    // An auxiliary sees this grid masked: name masked, ID 3 + 4, and no unmasking.
    let aux = app.login("auxiliary").await;
    let (status, view) = app.get(&format!("/api/v1/residents/{rid}"), Some(&aux)).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["name"], "待*");
    assert_eq!(view["id_number"], format!("410***********{}", &id[14..]));
    assert_eq!(view["can_unmask"], false);
    assert_eq!(app.post(&url, Some(&aux), json!({"field": "id_number", "reason": "核对身份"})).await.0, 403);
}

#[tokio::test]
async fn moving_an_address_or_redrawing_grids_takes_its_residents_along_and_is_audited() {
    let app = spawn_app().await;
    let officer = app.login("officer").await;
    let address = address_in_grid(&app, &officer, "410702010101", "新乡市搬迁路1号").await;
    let (_, body) =
        resident(&app, &officer, json!({"name": "随迁", "residence": "registered", "address_id": address})).await;
    let rid = body["id"].as_i64().unwrap();
    let grid_of = |app: &TestApp| {
        let db = app.state.db.clone();
        async move {
            sqlx::query_scalar::<_, Option<i64>>("SELECT grid_id FROM residents WHERE id = $1")
                .bind(rid)
                .fetch_one(db.reader())
                .await
                .unwrap()
        }
    };
    assert_eq!(grid_of(&app).await, Some(app.node_id("410702010101").await));
    // Corrected point: now in the neighbouring grid.
    let p = shape_of(&app, "410702010102").await.interior_point().unwrap();
    let (status, body) = put(
        &app,
        &format!("/api/v1/addresses/{address}"),
        &officer,
        json!({"text": "新乡市搬迁路1号", "lon": p.x(), "lat": p.y()}),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(grid_of(&app).await, Some(app.node_id("410702010102").await));
    // Redraw: grids 01 and 02 swap shapes through the grid import.
    let (s1, s2) = (shape_of(&app, "410702010101").await, shape_of(&app, "410702010102").await);
    let feature = |code: &str, shape: &geo::MultiPolygon<f64>| {
        let coords: Vec<Vec<Vec<[f64; 2]>>> = shape
            .0
            .iter()
            .map(|p| {
                std::iter::once(p.exterior())
                    .chain(p.interiors())
                    .map(|r| r.coords().map(|c| [c.x, c.y]).collect())
                    .collect()
            })
            .collect();
        json!({"type": "Feature", "properties": {"code": code, "name": format!("网格{code}"), "station": "410702010100"},
               "geometry": {"type": "MultiPolygon", "coordinates": coords}})
    };
    let doc =
        json!({"type": "FeatureCollection", "features": [feature("410702010101", &s2), feature("410702010102", &s1)]});
    let admin = app.login("sysadmin").await;
    let seq = app.audit_head().await;
    let resp = app
        .client
        .post(app.at("/api/v1/grids/import?datum=wgs84"))
        .bearer_auth(&admin)
        .header("content-type", "application/geo+json")
        .body(doc.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let report: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{report}");
    assert!(report["addresses_moved"].as_u64().unwrap() >= 1, "{report}");
    assert_eq!(grid_of(&app).await, Some(app.node_id("410702010101").await), "the resident followed the redraw");
    let entries = app.audit_since(seq).await;
    assert!(
        entries.iter().any(|(a, _, r, _)| a == "grid.import" && r.contains(&format!("address:{address}"))),
        "{entries:?}"
    );
}

#[tokio::test]
async fn houses_and_establishments_are_recorded_at_addresses_with_checked_codes() {
    let app = spawn_app().await;
    let officer = app.login("officer").await;
    let address = address_in_grid(&app, &officer, "410702010101", "新乡市商户路3号").await;
    let (status, body) = app
        .post(
            "/api/v1/houses",
            Some(&officer),
            json!({"address_id": address, "unit": "1单元101", "use_kind": "rented"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let house = body["id"].as_i64().unwrap();
    assert_eq!(
        app.post(
            "/api/v1/houses",
            Some(&officer),
            json!({"address_id": address, "unit": "1单元101", "use_kind": "vacant"})
        )
        .await
        .0,
        409
    );
    let (status, _) = resident(
        &app,
        &officer,
        json!({"name": "租客甲", "residence": "floating", "house_id": house, "house_relation": "tenant"}),
    )
    .await;
    assert_eq!(status, 201);
    let (_, body) = app.get(&format!("/api/v1/houses/{house}"), Some(&officer)).await;
    assert_eq!((body["tenants"].as_i64(), body["address_id"].as_i64()), (Some(1), Some(address)), "{body}");
    let shop = json!({"name": "平安便利店", "kind": "shop", "credit_code": "91440300708461136T", "legal_rep": "王店主",
                      "phone": "13700001234", "address_id": address});
    let (status, body) = app.post("/api/v1/establishments", Some(&officer), shop.clone()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(app.post("/api/v1/establishments", Some(&officer), shop.clone()).await.0, 409);
    let mut bad = shop.clone();
    bad["credit_code"] = json!("91440300708461136A");
    let (status, body) = app.post("/api/v1/establishments", Some(&officer), bad).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("credit_code")));
    let (_, found) = app.post("/api/v1/establishments/search", Some(&officer), json!({"name": "平安便利"})).await;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["items"][0]["phone"], "137****1234");
}

#[tokio::test]
async fn the_demo_city_has_residents_in_every_grid_and_a_bureau_area() {
    let app = spawn_app().await;
    let empty: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM grid_shapes g WHERE NOT EXISTS (SELECT 1 FROM residents r WHERE r.grid_id = g.node_id)",
    )
    .fetch_one(app.state.db.reader())
    .await
    .unwrap();
    assert_eq!(empty, 0);
    let admin = app.login("sysadmin").await;
    let (status, body) = app.get("/api/v1/settings/bureau-area", Some(&admin)).await;
    assert_eq!(status, 200);
    assert_eq!(body["ring"].as_array().map(Vec::len), Some(4), "{body}");
}
