//! Base-data pages (一标三实) as a browser uses them: forms with their CSRF token, the masked
//! record, corrections, lists with their empty states and pages, and jurisdiction.

use geo::InteriorPoint;
use serde_json::json;

use crate::basedata::{address_in_grid, put, shape_of};
use crate::helpers::{csrf_of, spawn_app, TestApp, PASSWORD};

/// 17 digits and their GB 11643 check digit.
fn id_number(seventeen: &str) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let sum: u32 = seventeen.bytes().zip(W).map(|(b, w)| (b - b'0') as u32 * w).sum();
    format!("{seventeen}{}", C[(sum % 11) as usize])
}

/// A browser-like client signed in as `username`, and a CSRF token from one of its pages.
async fn browser(app: &TestApp, username: &str) -> (reqwest::Client, String) {
    app.exempt_all_roles_from_mfa().await;
    let (client, _) = app.web_login(username, PASSWORD).await;
    let (_, home, _) = app.page(&client, "/").await;
    (client, csrf_of(&home))
}

/// Posts a form; (status, body, Location).
async fn submit(app: &TestApp, client: &reqwest::Client, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    let resp = client.post(app.at(path)).form(form).send().await.unwrap();
    let status = resp.status().as_u16();
    let location = resp.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, resp.text().await.unwrap(), location)
}

#[tokio::test]
async fn an_officer_records_finds_and_unmasks_a_resident_through_the_pages() {
    let app = spawn_app().await;
    app.exempt_all_roles_from_mfa().await;
    let (client, _) = app.web_login("officer", PASSWORD).await;
    let (status, page, _) = app.page(&client, "/residents").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"residents\""), "the demo's residents are listed");
    let (_, form, _) = app.page(&client, "/residents/new").await;
    let id = id_number("41070219920815003");
    let fields = [
        ("csrf", csrf_of(&form)),
        ("name", "页面登记".into()),
        ("id_number", id.clone()),
        ("sex", String::new()),
        ("phones", "13600001111，0373-3334444".into()),
        ("residence", "floating".into()),
        ("address_id", String::new()),
        ("house_id", String::new()),
        ("house_relation", String::new()),
        ("tags", "elderly_alone".into()),
        ("tags", "disabled".into()),
    ];
    let resp = client.post(app.at("/residents/new")).form(&fields).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 303, "{}", resp.text().await.unwrap());
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    // A bad ID number comes back on the form, naming the field, and records nothing.
    let mut bad = fields.clone();
    bad[2].1 = "410702199208150030".into();
    let page = client.post(app.at("/residents/new")).form(&bad).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id_number") && page.contains("role=\"alert\""), "{page}");
    // Search by the exact number: posted, so it appears in no URL.
    let (_, list, _) = app.page(&client, "/residents").await;
    let search = [("csrf", csrf_of(&list)), ("id_number", id.clone())];
    let found = client.post(app.at("/residents")).form(&search).send().await.unwrap().text().await.unwrap();
    assert!(found.contains(&location), "{found}");
    assert!(found.contains(&format!("4107**********{}", &id[14..])));
    let (_, detail, _) = app.page(&client, &location).await;
    assert!(detail.contains("独居老人") && detail.contains("残疾人") && !detail.contains(&id));
    let unmask = [("csrf", csrf_of(&detail)), ("field", "id_number".into()), ("reason", "核实流动人口身份".into())];
    let shown =
        client.post(app.at(&format!("{location}/unmask"))).form(&unmask).send().await.unwrap().text().await.unwrap();
    assert!(shown.contains(&id), "the full number is shown once");
    let audit = app.audit_since(0).await;
    assert!(audit.iter().any(|(a, _, _, d)| a == "resident.unmask" && d.contains("核实流动人口身份")));
}

#[tokio::test]
async fn an_address_is_recorded_from_the_page_and_a_bad_point_is_explained() {
    let app = spawn_app().await;
    app.exempt_all_roles_from_mfa().await;
    let (client, _) = app.web_login("officer", PASSWORD).await;
    let (_, page, _) = app.page(&client, "/addresses").await;
    let p = shape_of(&app, "410702010101").await.interior_point().unwrap();
    let csrf = csrf_of(&page);
    let form = [
        ("csrf", csrf.clone()),
        ("text", "新乡市页面地址路7号".into()),
        ("lon", p.x().to_string()),
        ("lat", p.y().to_string()),
        ("datum", "wgs84".into()),
    ];
    let resp = client.post(app.at("/addresses")).form(&form).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    let bad = [
        ("csrf", csrf),
        ("text", "新乡市页面地址路8号".into()),
        ("lon", "116.4".into()),
        ("lat", "39.9".into()),
        ("datum", "wgs84".into()),
    ];
    let html = client.post(app.at("/addresses")).form(&bad).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("role=\"alert\"") && html.contains("lon"), "{html}");
}

#[tokio::test]
async fn houses_are_listed_by_address_and_use_within_the_jurisdiction_with_units_masked_for_civilians() {
    let app = spawn_app().await;
    let officer = app.login("officer").await;
    let address = address_in_grid(&app, &officer, "410702010101", "新乡市房屋路5号").await;
    let mut houses = Vec::new();
    for (unit, use_kind) in [("3单元502", "rented"), ("3单元602", "vacant")] {
        let (status, body) = app
            .post("/api/v1/houses", Some(&officer), json!({"address_id": address, "unit": unit, "use_kind": use_kind}))
            .await;
        assert_eq!(status, 201, "{body}");
        houses.push(body["id"].as_i64().unwrap());
    }
    let tenant = json!({"name": "租客乙", "residence": "floating", "house_id": houses[0], "house_relation": "tenant"});
    assert_eq!(app.post("/api/v1/residents", Some(&officer), tenant).await.0, 201);

    let (status, all) = app.get(&format!("/api/v1/houses?address_id={address}"), Some(&officer)).await;
    assert_eq!((status, all["total"].as_i64()), (200, Some(2)), "{all}");
    let (_, rented) = app.get(&format!("/api/v1/houses?address_id={address}&use_kind=rented"), Some(&officer)).await;
    assert_eq!(rented["total"], 1, "{rented}");
    let item = &rented["items"][0];
    assert_eq!((item["unit"].as_str(), item["tenants"].as_i64()), (Some("3单元502"), Some(1)), "{item}");
    assert_eq!(item["grid_id"].as_i64(), Some(app.node_id("410702010101").await));
    let (_, by_text) = app.get(&format!("/api/v1/houses?q={}", "房屋路5"), Some(&officer)).await;
    assert_eq!(by_text["total"], 2, "a part of the address finds its houses: {by_text}");

    for (query, field) in [("use_kind=mansion", "use_kind"), ("per_page=0", "per_page"), ("grid_id=-1", "grid_id")] {
        let (status, body) = app.get(&format!("/api/v1/houses?{query}"), Some(&officer)).await;
        assert_eq!((status, body["error"]["field"].as_str()), (422, Some(field)), "{query}: {body}");
    }
    // Another station sees none of them, and the record is 404.
    let other = app.login("other_station_head").await;
    let (_, theirs) = app.get(&format!("/api/v1/houses?address_id={address}"), Some(&other)).await;
    assert_eq!(theirs["total"], 0, "{theirs}");
    assert_eq!(app.get(&format!("/api/v1/houses/{}", houses[0]), Some(&other)).await.0, 404);
    // An auxiliary sees the address to building level only.
    let aux = app.login("auxiliary").await;
    let (_, masked) = app.get(&format!("/api/v1/houses?address_id={address}&use_kind=rented"), Some(&aux)).await;
    assert_eq!(masked["items"][0]["unit"], "*单元***", "{masked}");
    let (_, one) = app.get(&format!("/api/v1/houses/{}", houses[0]), Some(&aux)).await;
    assert_eq!(one["unit"], "*单元***", "{one}");
}

#[tokio::test]
async fn a_house_is_recorded_viewed_with_its_tenants_and_corrected_from_the_pages() {
    let app = spawn_app().await;
    let officer = app.login("officer").await;
    let address = address_in_grid(&app, &officer, "410702010101", "新乡市出租屋路2号").await;
    let (client, csrf) = browser(&app, "officer").await;
    let (_, page, _) = app.page(&client, &format!("/addresses/{address}")).await;
    assert!(page.contains(&format!("/houses/new?address_id={address}")), "the address offers to record a house");

    let a = address.to_string();
    let bad =
        [("csrf", csrf.as_str()), ("address_id", &a), ("unit", "2单元301"), ("use_kind", "rented"), ("area_m2", "大")];
    let (status, html, _) = submit(&app, &client, "/houses/new", &bad).await;
    assert!(status == 200 && html.contains("role=\"alert\"") && html.contains("area_m2"), "{status} {html}");
    let good = [
        ("csrf", csrf.as_str()),
        ("address_id", &a),
        ("unit", "2单元301"),
        ("use_kind", "rented"),
        ("area_m2", "86.5"),
    ];
    let (status, _, location) = submit(&app, &client, "/houses/new", &good).await;
    assert_eq!(status, 303);
    let house: i64 = location.trim_start_matches("/houses/").parse().unwrap();
    let (_, list) = app.get(&format!("/api/v1/houses?address_id={address}"), Some(&officer)).await;
    assert_eq!(list["total"], 1, "the refused form wrote nothing: {list}");

    let tenant = json!({"name": "页面租客", "residence": "floating", "house_id": house, "house_relation": "tenant"});
    let (_, body) = app.post("/api/v1/residents", Some(&officer), tenant).await;
    let tenant_id = body["id"].as_i64().unwrap();
    let seq = app.audit_head().await;
    let (status, detail, _) = app.page(&client, &location).await;
    assert_eq!(status, 200);
    assert!(detail.contains("class=\"tenant\"") && detail.contains("页面租客"), "{detail}");
    assert!(detail.contains(&format!("/visits/new?house_id={house}")), "a visit can be recorded here");
    let audited = app.audit_since(seq).await;
    assert!(
        audited.iter().any(|(a, _, r, _)| a == "house.view" && r.contains(&format!("resident:{tenant_id}"))),
        "viewing the house names the people shown: {audited:?}"
    );

    let (_, form, _) = app.page(&client, &format!("{location}/edit")).await;
    assert!(form.contains("value=\"2单元301\""), "the form holds the recorded unit");
    let fix =
        [("csrf", csrf.as_str()), ("address_id", &a), ("unit", "2单元301"), ("use_kind", "vacant"), ("area_m2", "")];
    assert_eq!(submit(&app, &client, &format!("{location}/edit"), &fix).await.0, 303);
    let (_, body) = app.get(&format!("/api/v1/houses/{house}"), Some(&officer)).await;
    assert_eq!((body["use_kind"].as_str(), body["area_m2"].as_f64()), (Some("vacant"), None), "{body}");
    // An auxiliary sees units starred, so may not save one back over the real unit.
    let (aux, _) = browser(&app, "auxiliary").await;
    assert_eq!(app.page(&aux, &format!("{location}/edit")).await.0, 403);
    let (_, shown, _) = app.page(&aux, &location).await;
    assert!(shown.contains("*单元***") && !shown.contains("2单元301") && shown.contains("页*"), "{shown}");
}

#[tokio::test]
async fn an_establishment_is_recorded_inspected_and_corrected_keeping_the_phone_it_never_shows() {
    let app = spawn_app().await;
    let officer = app.login("officer").await;
    let address = address_in_grid(&app, &officer, "410702010101", "新乡市商铺街9号").await;
    let (client, csrf) = browser(&app, "officer").await;
    let a = address.to_string();
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("name", "平安超市"),
        ("kind", "shop"),
        ("credit_code", "91440300708461136T"),
        ("legal_rep", "赵经理"),
        ("phone", "13700005678"),
        ("address_id", &a),
    ];
    let (status, _, location) = submit(&app, &client, "/establishments/new", &form).await;
    assert_eq!(status, 303);
    let id: i64 = location.trim_start_matches("/establishments/").parse().unwrap();
    let (_, detail, _) = app.page(&client, &location).await;
    assert!(detail.contains(&format!("/visits/new?establishment_id={id}")), "the inspection button: {detail}");
    assert!(detail.contains("137****5678") && !detail.contains("13700005678"), "the phone is masked");

    let (_, edit, _) = app.page(&client, &format!("{location}/edit")).await;
    assert!(edit.contains("137****5678") && !edit.contains("13700005678"), "the edit form never holds the phone");
    form[1] = ("name", "平安便民超市");
    form[5] = ("phone", "");
    assert_eq!(submit(&app, &client, &format!("{location}/edit"), &form).await.0, 303);
    let (_, body) = app.get(&format!("/api/v1/establishments/{id}"), Some(&officer)).await;
    assert_eq!((body["name"].as_str(), body["phone"].as_str()), (Some("平安便民超市"), Some("137****5678")), "{body}");
    let mut remove = form.clone();
    remove.push(("remove_phone", "1"));
    assert_eq!(submit(&app, &client, &format!("{location}/edit"), &remove).await.0, 303);
    let (_, body) = app.get(&format!("/api/v1/establishments/{id}"), Some(&officer)).await;
    assert!(body["phone"].is_null(), "{body}");

    // Found by its credit code (posted) and listed by name; a search for nothing says so.
    let by_code = [("csrf", csrf.as_str()), ("credit_code", "91440300708461136t")];
    let (_, found, _) = submit(&app, &client, "/establishments", &by_code).await;
    assert!(found.contains(&location) && found.contains("平安便民超市"), "{found}");
    let (_, none, _) =
        submit(&app, &client, "/establishments", &[("csrf", csrf.as_str()), ("name", "没有这家店")]).await;
    assert!(none.contains("id=\"establishments-empty\""), "{none}");
    let (_, bad, _) =
        submit(&app, &client, "/establishments", &[("csrf", csrf.as_str()), ("credit_code", "123")]).await;
    assert!(bad.contains("role=\"alert\"") && bad.contains("credit_code"), "{bad}");
    // Another station gets 404, audited.
    let (other, _) = browser(&app, "other_station_head").await;
    assert_eq!(app.page(&other, &location).await.0, 404);
    let denied = app.audit_since(0).await.into_iter().filter(|(a, o, r, _)| {
        a == "establishment.view" && o == "denied" && r.contains(&format!(",establishment:{id},"))
    });
    assert_eq!(denied.count(), 1);
}

#[tokio::test]
async fn a_resident_is_corrected_from_the_edit_page_keeping_identifiers_the_page_never_holds() {
    let app = spawn_app().await;
    let officer = app.login("officer").await;
    let id = id_number("41070219750505005");
    let body =
        json!({"name": "待更正", "id_number": id, "phones": ["13911112222", "13933334444"], "residence": "registered"});
    let (_, created) = app.post("/api/v1/residents", Some(&officer), body).await;
    let rid = created["id"].as_i64().unwrap();
    let (client, csrf) = browser(&app, "officer").await;
    let path = format!("/residents/{rid}/edit");
    let (status, form, _) = app.page(&client, &path).await;
    assert_eq!(status, 200, "{form}");
    assert!(form.contains(&format!("4107**********{}", &id[14..])) && form.contains("139****4444"), "{form}");
    assert!(!form.contains(&id) && !form.contains("13911112222"), "no full identifier in the form");

    // Rename, drop the second phone, add a third; the ID number is kept as recorded.
    let fields = [
        ("csrf", csrf.as_str()),
        ("name", "已更正"),
        ("id_number", ""),
        ("sex", ""),
        ("keep_phone", "0"),
        ("phones", "13955556666"),
        ("residence", "registered"),
        ("registered_address", ""),
        ("address_id", ""),
        ("house_id", ""),
        ("house_relation", ""),
    ];
    let (status, _, location) = submit(&app, &client, &path, &fields).await;
    assert_eq!((status, location.as_str()), (303, format!("/residents/{rid}?saved=1").as_str()));
    let (_, view) = app.get(&format!("/api/v1/residents/{rid}"), Some(&officer)).await;
    assert_eq!(view["name"], "已更正");
    assert_eq!(view["phones"], json!(["139****2222", "139****6666"]));
    let (_, found) = app.post("/api/v1/residents/search", Some(&officer), json!({"id_number": id})).await;
    assert_eq!(found["total"], 1, "the kept ID number still finds them: {found}");
    let (_, found) = app.post("/api/v1/residents/search", Some(&officer), json!({"phone": "13933334444"})).await;
    assert_eq!(found["total"], 0, "the dropped phone is gone: {found}");
    // A bad new ID number is explained on the form and changes nothing.
    let mut bad = fields;
    bad[2] = ("id_number", "410702197505050050");
    let (status, html, _) = submit(&app, &client, &path, &bad).await;
    assert!(status == 200 && html.contains("role=\"alert\"") && html.contains("id_number"), "{html}");
    let (_, again) = app.get(&format!("/api/v1/residents/{rid}"), Some(&officer)).await;
    assert_eq!(again["id_number"], view["id_number"]);
    // Masked viewers may not correct (a starred name would be saved back); other stations get 404.
    let (aux, _) = browser(&app, "auxiliary").await;
    assert_eq!(app.page(&aux, &path).await.0, 403);
    let (other, other_csrf) = browser(&app, "other_station_head").await;
    assert_eq!(app.page(&other, &path).await.0, 404);
    let mut theirs = fields;
    theirs[0] = ("csrf", other_csrf.as_str());
    assert_eq!(submit(&app, &other, &path, &theirs).await.0, 404);
}

#[tokio::test]
async fn an_address_is_corrected_from_its_page_and_takes_what_stands_there_along() {
    let app = spawn_app().await;
    let officer = app.login("officer").await;
    let address = address_in_grid(&app, &officer, "410702010101", "新乡市更正路1号").await;
    let (client, csrf) = browser(&app, "officer").await;
    let path = format!("/addresses/{address}/edit");
    let (_, form, _) = app.page(&client, &path).await;
    assert!(form.contains("value=\"新乡市更正路1号\""), "{form}");
    let p = shape_of(&app, "410702010102").await.interior_point().unwrap();
    let (lon, lat) = (p.x().to_string(), p.y().to_string());
    let move_to =
        [("csrf", csrf.as_str()), ("text", "新乡市更正路1号"), ("lon", &lon), ("lat", &lat), ("datum", "wgs84")];
    assert_eq!(submit(&app, &client, &path, &move_to).await.0, 303);
    let (_, body) = app.get(&format!("/api/v1/addresses/{address}"), Some(&officer)).await;
    assert_eq!(body["grid_code"], "410702010102", "{body}");
    let bad =
        [("csrf", csrf.as_str()), ("text", "新乡市更正路1号"), ("lon", "东经"), ("lat", &lat), ("datum", "wgs84")];
    let (_, html, _) = submit(&app, &client, &path, &bad).await;
    assert!(html.contains("role=\"alert\"") && html.contains("lon"), "{html}");
    let (status, _) = put(
        &app,
        &format!("/api/v1/addresses/{address}"),
        &app.login("other_station_head").await,
        json!({"text": "x路1号", "lon": p.x(), "lat": p.y()}),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn lists_page_through_the_demo_say_when_nothing_matches_and_the_navigation_links_them() {
    let app = spawn_app().await;
    let (client, _) = browser(&app, "station_head").await;
    let (_, home, _) = app.page(&client, "/").await;
    for href in ["/residents", "/addresses", "/houses", "/establishments"] {
        assert!(home.contains(&format!("href=\"{href}\"")), "the navigation links {href}");
    }
    let (status, houses, _) = app.page(&client, "/houses").await;
    assert_eq!(status, 200);
    assert!(houses.contains("id=\"houses\"") && houses.contains("rel=\"next\""), "the demo's houses fill pages");
    let (_, second, _) = app.page(&client, "/houses?page=2").await;
    assert!(second.contains("rel=\"prev\"") && second.contains("id=\"houses\""));
    let (_, none, _) = app.page(&client, "/houses?q=%E6%B2%A1%E6%9C%89%E8%BF%99%E6%9D%A1%E8%B7%AF").await;
    assert!(none.contains("id=\"houses-empty\""), "{none}");
    let (status, body, _) = app.page(&client, "/houses?use_kind=castle").await;
    assert_eq!(status, 422, "{body}");
    let resp = client.get(app.at("/addresses/export?format=csv")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200, "the address list's export link");
    assert!(resp.text().await.unwrap().contains("李卫东"), "the file carries the viewer's watermark");
    let (_, shops, _) = app.page(&client, "/establishments").await;
    assert!(shops.contains("id=\"establishments\""), "the demo's establishments are listed");
    // A volunteer (counts only) may list houses and addresses, but establishments name people.
    let (volunteer, _) = browser(&app, "volunteer").await;
    let (_, home, _) = app.page(&volunteer, "/").await;
    assert!(home.contains("href=\"/houses\"") && !home.contains("href=\"/establishments\""));
    assert_eq!(app.page(&volunteer, "/establishments").await.0, 403);
    let (status, theirs, _) = app.page(&volunteer, "/houses").await;
    assert!(status == 200 && theirs.contains("id=\"houses\""), "{theirs}");
}
