//! The base-data pages on a phone (390 × 844): lists, records and forms fit the screen's width.

use super::{assert_no_horizontal_scroll, open, screenshot_path, sign_in, PHONE};

#[tokio::test]
async fn phone_base_data_lists_records_and_forms_do_not_scroll_sideways() {
    let harness = open(PHONE).await;
    let page = &harness.page;
    sign_in(page).await;
    for (list, table) in [("/addresses", "#addresses"), ("/houses", "#houses"), ("/establishments", "#establishments")]
    {
        page.goto(list).await;
        let first = format!("{table} tbody a[href^='{list}/']");
        page.wait_until(
            &format!("!!document.querySelector(\"{first}\")"),
            &format!("{list} to list the demo's records"),
        )
        .await;
        assert_no_horizontal_scroll(page, list).await;
        // The first record of the list, and its edit form.
        page.click(&first).await;
        page.wait_until(&format!("location.pathname.startsWith('{list}/')"), "the record").await;
        assert_no_horizontal_scroll(page, &format!("a record of {list}")).await;
        let edit = page.eval("document.querySelector('a[href$=\"/edit\"]')?.getAttribute('href') ?? null").await;
        let edit = edit.as_str().unwrap_or_else(|| panic!("no edit link on a record of {list}")).to_string();
        page.goto(&edit).await;
        page.wait_until("!!document.querySelector('form.stack')", "the edit form").await;
        assert_no_horizontal_scroll(page, &edit).await;
    }
    page.screenshot(&screenshot_path("establishment-edit-phone.png")).await;
    for form in ["/residents/new", "/houses/new"] {
        page.goto(form).await;
        page.wait_until("!!document.querySelector('form.stack')", form).await;
        assert_no_horizontal_scroll(page, form).await;
    }
}
