//! A community officer's round on a phone: the map, a grid's card, a resident of the grid, the
//! ID number unmasked for a stated reason, and a household visit recorded.

use super::map::{tap_at, viewport_point, INTERIOR_POINTS};
use super::{assert_no_horizontal_scroll, open, screenshot_path, sign_in_as, PHONE};

/// The demo officer works at a post with three grids.
const OFFICER_GRIDS: i64 = 3;

#[tokio::test]
async fn phone_officer_goes_from_the_map_to_a_resident_unmasks_and_records_a_visit() {
    let harness = open(PHONE).await;
    let page = &harness.page;
    sign_in_as(page, "officer").await;

    page.goto("/map").await;
    let cond = format!("!!window.pinganMap && window.pinganMap.ready && window.pinganMap.statsReady && window.pinganMap.count === {OFFICER_GRIDS}");
    page.wait_until(&cond, "the map to load the post's grids and their figures").await;
    assert_no_horizontal_scroll(page, "the map").await;
    let grids = page.eval(INTERIOR_POINTS).await;
    let first = &grids[0];
    let (lon, lat) = (first["lon"].as_f64().unwrap(), first["lat"].as_f64().unwrap());
    tap_at(page, viewport_point(page, lon, lat).await).await;
    page.wait_until("!!document.querySelector('#card-residents')", "the grid card with its figures").await;
    let card = page.text("#grid-card").await;
    assert!(card.contains("走访覆盖率") && card.contains("人口"), "the card lacks the grid's figures: {card:?}");
    assert!(card.contains("网格员") && card.contains("义警"), "the card lacks the grid's team: {card:?}");
    page.screenshot(&screenshot_path("officer-map-card.png")).await;

    page.click("#card-residents").await;
    page.wait_until(
        "location.pathname === '/residents' && !!document.querySelector('#residents a')",
        "the grid's residents",
    )
    .await;
    assert_no_horizontal_scroll(page, "the resident list").await;
    let listed = page.text("#residents tbody tr").await;
    assert!(listed.contains("**********"), "ID numbers are not masked in the list: {listed:?}");
    page.click("#residents tbody a").await;
    page.wait_until(
        "/^\\/residents\\/\\d+$/.test(location.pathname) && !!document.querySelector('#unmask')",
        "a resident's record",
    )
    .await;
    let masked = page.text("#id-number").await;
    assert!(masked.contains('*'), "the record shows the ID number unmasked: {masked:?}");

    page.fill("#unmask input[name=reason]", "入户走访核对身份").await;
    page.click("#unmask button[type=submit]").await;
    page.wait_until(
        "/^\\d{17}[\\dX]$/.test(document.querySelector('#id-number').textContent.trim())",
        "the full ID number",
    )
    .await;
    assert_no_horizontal_scroll(page, "the resident's record").await;
    page.screenshot(&screenshot_path("officer-resident.png")).await;

    page.click("#record-visit").await;
    page.wait_until("location.pathname === '/visits/new' && !!document.querySelector('#save-visit')", "the visit form")
        .await;
    assert_no_horizontal_scroll(page, "the visit form").await;
    page.click("label.choice:nth-of-type(4) input").await;
    page.fill("#visit textarea[name=note]", "老人独居，联系社区帮扶").await;
    page.click("#save-visit").await;
    page.wait_until(
        "location.search.includes('visited=1') && !!document.querySelector('#visits li')",
        "the visit on the record",
    )
    .await;
    let visits = page.text("#visits").await;
    assert!(visits.contains("需要帮扶") && visits.contains("张宏伟"), "the visit is not listed: {visits:?}");
    page.screenshot(&screenshot_path("officer-visit.png")).await;
}

#[tokio::test]
async fn desktop_officer_imports_a_spreadsheet_and_watches_it_finish() {
    let harness = open(super::DESKTOP).await;
    let page = &harness.page;
    sign_in_as(page, "officer").await;
    page.goto("/residents/import").await;
    let address =
        page.eval("fetch('/api/v1/addresses?per_page=1').then((r) => r.json()).then((b) => b.items[0].text)").await;
    let address = address.as_str().expect("the officer sees a demo address").to_string();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("people.csv");
    let mut csv = String::from("\u{feff}姓名,人口类型,现住地址,联系电话\r\n");
    for i in 0..300 {
        csv.push_str(&format!("浏览器导入{i},流动人口,{address},1370000{i:04}\r\n"));
    }
    csv.push_str("坏行,外星人口,,\r\n");
    std::fs::write(&file, csv).unwrap();

    let doc = page.call("DOM.getDocument", serde_json::json!({})).await;
    let root = doc["root"]["nodeId"].as_i64().unwrap();
    let node = page
        .call("DOM.querySelector", serde_json::json!({"nodeId": root, "selector": "#import-form input[type=file]"}))
        .await;
    let files = serde_json::json!({"nodeId": node["nodeId"], "files": [file.to_str().unwrap()]});
    page.call("DOM.setFileInputFiles", files).await;
    page.click("#import-form button[type=submit]").await;
    page.wait_until(
        "document.querySelector('#import-status').textContent.includes('未导入')",
        "the report of a bad file",
    )
    .await;
    let errors = page.text("#import-result").await;
    assert!(errors.contains("#302") && errors.contains("residence"), "the bad row is not named: {errors:?}");

    page.click("#import-form input[name=skip_invalid]").await;
    page.click("#import-form button[type=submit]").await;
    page.wait_until("document.querySelector('#import-status').textContent.includes('已导入')", "the import to finish")
        .await;
    let status = page.text("#import-status").await;
    assert!(status.contains("新增 300 人") && status.contains("跳过 1 行"), "{status:?}");
    let bar = page.eval("document.querySelector('#import-progress').value").await;
    assert_eq!(bar.as_f64(), Some(100.0), "the progress bar did not reach the end");
    page.screenshot(&screenshot_path("officer-import.png")).await;
}
