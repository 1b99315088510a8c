//! Anti-fraud in the browser: a warning an upstream system posts appears in the station head's
//! open queue without a reload; the station head calls, dissuades, closes, and the figures page
//! counts it.

use serde_json::{json, Value};

use super::procs::PASSWORD;
use super::{open, screenshot_path, sign_in_as, DESKTOP};

/// An ID number of region 410702, born 1931, with its GB 11643 check digit: nobody in the demo.
fn id_number() -> String {
    let seventeen = "41070219310101998";
    let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = seventeen.chars().zip(weights).map(|(c, w)| c.to_digit(10).unwrap() * w).sum();
    format!("{seventeen}{}", "10X98765432".as_bytes()[(sum % 11) as usize] as char)
}

async fn api_login(client: &reqwest::Client, base: &str, username: &str) -> String {
    let body = json!({"username": username, "password": PASSWORD, "totp": null});
    let resp = client.post(format!("{base}/api/v1/auth/login")).json(&body).send().await.unwrap();
    let v: Value = resp.json().await.unwrap();
    v["token"].as_str().unwrap_or_else(|| panic!("{username} cannot sign in: {v}")).to_string()
}

/// Upstream's side: a token, the region table sending 410702 to the demo station, one red
/// warning. Returns the case it opened.
async fn post_red_warning(base: &str) -> i64 {
    let client = reqwest::Client::new();
    let admin = api_login(&client, base, "sysadmin").await;
    let expires = pingan::clock::iso_beijing(pingan::clock::Clock::System.now_ms() + 86_400_000);
    let token: Value = client
        .post(format!("{base}/api/v1/tokens"))
        .bearer_auth(&admin)
        .json(&json!({"name": "fzzx", "permissions": ["warnings:write"], "expires_at": expires}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap().to_string();
    let commander = api_login(&client, base, "commander").await;
    let regions = json!({"regions": [{"region": "410702", "station_code": "410702010000"}]});
    let resp =
        client.put(format!("{base}/api/v1/antifraud/regions")).bearer_auth(&commander).json(&regions).send().await;
    assert_eq!(resp.unwrap().status().as_u16(), 200);
    let time = pingan::clock::iso_beijing(pingan::clock::Clock::System.now_ms() - 60_000);
    let warning = json!({
        "source": "fzzx", "upstream_id": "browser-1", "time": time, "name": "浏览器测试",
        "id_number": id_number(), "phone": null, "kind": "impersonation", "contacts_count": 1,
        "longest_call_s": 600, "app_installed": false, "app_name": null, "amount_yuan": "3000",
        "flagged_account": null
    });
    let resp = client.post(format!("{base}/api/v1/warnings")).bearer_auth(&token).json(&warning).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["grade"], "red", "{v}");
    v["case_id"].as_i64().unwrap()
}

#[tokio::test]
async fn a_warning_appears_in_the_queue_live_and_its_dissuasion_is_counted() {
    let harness = open(DESKTOP).await;
    let page = &harness.page;
    sign_in_as(page, "station_head").await;
    let dissuaded_before = "fetch('/api/v1/antifraud/figures').then((r) => r.json()).then((f) => f.dissuaded.value)";
    let before = page.eval(dissuaded_before).await.as_i64().expect("the figures API answers the station head");

    page.goto("/antifraud?view=all").await;
    page.wait_until("document.querySelector('#case-queue').dataset.liveOpen === '1'", "the queue to listen").await;
    // Survives only if the page is never reloaded.
    page.eval("window.stillTheSamePage = true").await;
    let case = post_red_warning(harness.base()).await;
    let arrived =
        format!("!!document.querySelector('#case-queue [data-case=\"{case}\"]') && window.stillTheSamePage === true");
    page.wait_until(&arrived, "the new red case in the queue, without a reload").await;
    let card = page.text(&format!("[data-case=\"{case}\"]")).await;
    assert!(card.contains("红色") && card.contains("冒充公检法"), "{card:?}");
    page.screenshot(&screenshot_path("antifraud-queue.png")).await;

    page.click(&format!("[data-case=\"{case}\"] a")).await;
    page.wait_until("!!document.querySelector('#contact-call-true')", "the case page with its quick actions").await;
    page.click("#contact-call-true").await;
    page.wait_until(
        "location.search.includes('saved=1') && !!document.querySelector('#close-case')",
        "the call recorded",
    )
    .await;
    page.click("#close-form input[value=dissuaded]").await;
    page.fill("#amount", "3000").await;
    page.click("#close-case").await;
    page.wait_until(
        "(document.querySelector('#case-state') || {}).textContent.includes('劝阻成功')",
        "the case closed",
    )
    .await;

    page.goto("/antifraud/figures").await;
    page.wait_until("!!document.querySelector('#fig-dissuaded .big')", "the figures page").await;
    let shown = page.text("#fig-dissuaded .big").await;
    assert_eq!(shown.trim(), (before + 1).to_string(), "the dissuaded case is counted on the figures page");
    page.screenshot(&screenshot_path("antifraud-figures.png")).await;
}
