use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn an_export_needs_the_permission_and_a_reason_is_masked_watermarked_and_audited() {
    let app = spawn_app().await;
    let officer = app.login("officer").await;
    let grid = app.node_id("410702010101").await;
    let (status, body) = app
        .post("/api/v1/residents", Some(&officer), json!({"name": "=HYPERLINK(\"http://x\")", "residence": "floating"}))
        .await;
    assert_eq!(status, 201, "{body}");
    let export = |body: serde_json::Value, token: String| {
        let app = &app;
        async move {
            let resp = app
                .client
                .post(app.at("/api/v1/residents/export"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            (status, resp.bytes().await.unwrap().to_vec())
        }
    };
    let (status, _) = export(json!({"format": "csv", "reason": "", "query": {"grid_id": grid}}), officer.clone()).await;
    assert_eq!(status, 422);
    let auxiliary = app.login("auxiliary").await;
    assert_eq!(export(json!({"format": "csv", "reason": "核对台账", "query": {}}), auxiliary).await.0, 403);

    let seq = app.audit_head().await;
    let (status, bytes) =
        export(json!({"format": "csv", "reason": "社区走访台账核对", "query": {"grid_id": grid}}), officer.clone())
            .await;
    assert_eq!(status, 200);
    let text = String::from_utf8(bytes).unwrap();
    let first = text.lines().next().unwrap();
    assert!(first.starts_with('\u{feff}') && first.contains("张宏伟") && first.contains("社区走访台账核对"), "{first}");
    assert!(text.contains("4107**********"), "ID numbers masked as on screen");
    let full_ids: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM residents WHERE grid_id = $1 AND id_enc IS NOT NULL")
        .bind(grid)
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    assert!(full_ids > 0);
    assert!(!text.contains("41070219"), "no full ID number leaks into the file");
    let entries = app.audit_since(seq).await;
    let (_, _, records, detail) =
        entries.iter().find(|(a, _, _, _)| a == "resident.export").expect("the export is audited");
    assert!(records.contains("resident:") && detail.contains("社区走访台账核对"), "{records} {detail}");

    // Formula injection is neutralised; XLSX is a real workbook.
    let (_, bytes) =
        export(json!({"format": "csv", "reason": "核对登记信息", "query": {"name": "HYPERLINK"}}), officer.clone())
            .await;
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains("'=HYPERLINK"), "{text}");
    let (status, bytes) =
        export(json!({"format": "xlsx", "reason": "核对登记信息", "query": {"grid_id": grid}}), officer.clone()).await;
    assert_eq!(status, 200);
    assert!(bytes.starts_with(b"PK\x03\x04"));

    let resp = app.client.get(app.at("/api/v1/coverage/export?format=csv")).bearer_auth(&officer).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.unwrap();
    assert!(text.contains("410702010101"), "{text}");
}

/// Posts an export body (or, with `None`, GETs `path`) and returns (status, content type, text).
async fn fetch(
    app: &crate::helpers::TestApp,
    path: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> (u16, String, Vec<u8>) {
    let req = match body {
        Some(b) => app.client.post(app.at(path)).json(&b),
        None => app.client.get(app.at(path)),
    };
    let resp = req.bearer_auth(token).send().await.unwrap();
    let status = resp.status().as_u16();
    let ctype = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, ctype, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn address_lists_export_as_counts_without_a_reason_and_with_formulas_neutralised() {
    let app = spawn_app().await;
    let officer = app.login("officer").await;
    crate::basedata::address_in_grid(&app, &officer, "410702010101", "=HYPERLINK(\"x\")路1号").await;
    let grid = app.node_id("410702010101").await;
    let seq = app.audit_head().await;
    // A volunteer sees counts only and may take the address list away: it names no one.
    let volunteer = app.login("volunteer").await;
    let (status, ctype, bytes) =
        fetch(&app, &format!("/api/v1/addresses/export?format=csv&grid_id={grid}"), &volunteer, None).await;
    assert_eq!((status, ctype.as_str()), (200, "text/csv; charset=utf-8"));
    let text = String::from_utf8(bytes).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().contains("赵大勇"), "the watermark names the viewer: {text}");
    assert_eq!(lines.next().unwrap(), "地址,代码,网格,房屋,人员,单位");
    assert!(text.contains("\"'=HYPERLINK(\"\"x\"\")路1号\",410702010101"), "{text}");
    let entries = app.audit_since(seq).await;
    assert!(entries.iter().any(|(a, _, _, d)| a == "address.export" && d.contains("\"rows\"")), "{entries:?}");
    let (status, _, bytes) = fetch(&app, "/api/v1/addresses/export?format=xlsx&q=HYPERLINK", &officer, None).await;
    assert!(status == 200 && bytes.starts_with(b"PK\x03\x04"));
    let (status, _, _) = fetch(&app, "/api/v1/addresses/export?format=pdf", &officer, None).await;
    assert_eq!(status, 422);
    // Another station's export holds none of this grid's addresses.
    let other = app.login("other_station_head").await;
    let (_, _, bytes) = fetch(&app, &format!("/api/v1/addresses/export?format=csv&grid_id={grid}"), &other, None).await;
    assert_eq!(String::from_utf8(bytes).unwrap().lines().count(), 2, "watermark and headers only");
}

#[tokio::test]
async fn house_and_establishment_exports_need_a_reason_name_their_subjects_and_mask_as_the_screen() {
    let app = spawn_app().await;
    let officer = app.login("officer").await;
    let address = crate::basedata::address_in_grid(&app, &officer, "410702010101", "新乡市导出路3号").await;
    let (_, house) = app
        .post(
            "/api/v1/houses",
            Some(&officer),
            json!({"address_id": address, "unit": "1单元201", "use_kind": "rented"}),
        )
        .await;
    let house = house["id"].as_i64().unwrap();
    let tenant = json!({"name": "导出租客", "residence": "floating", "house_id": house, "house_relation": "tenant"});
    let (_, tenant) = app.post("/api/v1/residents", Some(&officer), tenant).await;
    let tenant = tenant["id"].as_i64().unwrap();
    let shop = json!({"name": "@导出商店", "kind": "shop", "legal_rep": "钱老板", "phone": "13600007777", "address_id": address});
    let (_, shop) = app.post("/api/v1/establishments", Some(&officer), shop).await;
    let shop = shop["id"].as_i64().unwrap();
    let query = json!({"address_id": address});

    for path in ["/api/v1/houses/export", "/api/v1/establishments/export"] {
        let (status, _, body) =
            fetch(&app, path, &officer, Some(json!({"format": "csv", "reason": "x", "query": query}))).await;
        assert_eq!(status, 422, "{path}: a reason is required: {}", String::from_utf8_lossy(&body));
        let auxiliary = app.login("auxiliary").await;
        let (status, _, _) =
            fetch(&app, path, &auxiliary, Some(json!({"format": "csv", "reason": "核对台账", "query": query}))).await;
        assert_eq!(status, 403, "{path}: people:export is required");
    }
    let seq = app.audit_head().await;
    let (status, _, bytes) = fetch(
        &app,
        "/api/v1/houses/export",
        &officer,
        Some(json!({"format": "csv", "reason": "出租屋专项检查", "query": query})),
    )
    .await;
    assert_eq!(status, 200);
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.lines().next().unwrap().contains("出租屋专项检查"), "the watermark carries the reason");
    assert!(text.contains("新乡市导出路3号,1单元201,出租,,") && text.contains("导出租客"), "{text}");
    let (status, _, bytes) = fetch(
        &app,
        "/api/v1/establishments/export",
        &officer,
        Some(json!({"format": "csv", "reason": "单位信息核对", "query": query})),
    )
    .await;
    assert_eq!(status, 200);
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains("'@导出商店,商店,,钱老板,136****7777"), "{text}");
    assert!(!text.contains("13600007777"), "no full phone leaves");
    let entries = app.audit_since(seq).await;
    let find = |action: &str| entries.iter().find(|(a, _, _, _)| a == action).cloned().expect(action);
    let (_, _, records, detail) = find("house.export");
    assert!(
        records.contains(&format!(",house:{house},")) && records.contains(&format!(",resident:{tenant},")),
        "{records}"
    );
    assert!(detail.contains("出租屋专项检查"), "{detail}");
    let (_, _, records, detail) = find("establishment.export");
    assert!(
        records.contains(&format!(",establishment:{shop},")) && detail.contains("单位信息核对"),
        "{records} {detail}"
    );

    // The list page's form posts the same export and gets the file as a download.
    app.exempt_all_roles_from_mfa().await;
    let (client, _) = app.web_login("officer", crate::helpers::PASSWORD).await;
    let (_, page, _) = app.page(&client, &format!("/houses?address_id={address}")).await;
    let form = [
        ("csrf", crate::helpers::csrf_of(&page)),
        ("address_id", address.to_string()),
        ("format", "xlsx".into()),
        ("reason", "出租屋专项检查".into()),
    ];
    let resp = client.post(app.at("/houses/export")).form(&form).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.headers()["content-disposition"].to_str().unwrap().contains("houses-"));
    assert!(resp.bytes().await.unwrap().starts_with(b"PK\x03\x04"));
}
