//! Anti-fraud warnings from CSV and XLSX files: the same intake as JSON, row by row.

use serde_json::{json, Value};

use crate::antifraud::{app_at_ten, resident_in, upstream, warning};
use crate::helpers::{id_number, TestApp};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const HEADER: &str = "来源,上游编号,预警时间,姓名,身份证号,手机号,诈骗类型,接触次数,最长通话秒数,是否安装涉诈App,App名称,涉案金额（元）,涉诈账户";

async fn upload(app: &TestApp, token: &str, query: &str, ctype: &str, body: Vec<u8>) -> (u16, Value) {
    app.post_bytes(&format!("/api/v1/warnings/import{query}"), token, ctype, body).await
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(app.state.db.reader()).await.unwrap()
}

fn counts(report: &Value) -> [Option<u64>; 5] {
    ["received", "created", "duplicates", "conflicts", "refused"].map(|k| report[k].as_u64())
}

fn wrong_check(id: &str) -> String {
    let last = if id.ends_with('0') { "1" } else { "0" };
    format!("{}{last}", &id[..17])
}

/// The resident the warning names, and the case's time as stored.
async fn case_of(app: &TestApp, upstream_id: &str) -> (Option<i64>, String, i64) {
    sqlx::query_as(
        "SELECT c.resident_id, w.match_kind, w.event_at FROM fraud_warnings w JOIN fraud_cases c ON c.id = w.case_id \
         WHERE w.upstream_id = $1",
    )
    .bind(upstream_id)
    .fetch_one(app.state.db.reader())
    .await
    .unwrap()
}

#[tokio::test]
async fn a_utf8_csv_with_chinese_headers_creates_cases_and_loading_it_again_stores_nothing_new() {
    let app = app_at_ten().await;
    let token = upstream(&app).await;
    let (resident, id) = resident_in(&app, "410702010101", "41070219800202031", "13966667777", json!({})).await;
    let csv = format!(
        "\u{feff}{HEADER}\n\
         fzzx,F-1,2026-12-01 09:30:00,王秀英,{id},,投资理财,3,120,是,某理财,1200.5,6222000011112222\n\
         fzzx,F-2,2026-12-01T09:40:00+08:00,,,13800001111,brushing,,,否,,,\n"
    );
    let (status, report) = upload(&app, &token, "", "text/csv", csv.clone().into_bytes()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(counts(&report), [Some(2), Some(2), Some(0), Some(0), Some(0)], "{report}");
    let (matched, kind, at) = case_of(&app, "F-1").await;
    assert_eq!((matched, kind.as_str()), (Some(resident), "id_number"));
    assert_eq!(at, pingan::clock::parse_beijing("2026-12-01T09:30").unwrap(), "a time without offset is Beijing time");
    // The row took the JSON path: the same warning sent as JSON is a duplicate of it.
    let json_twin = warning(
        "F-1",
        json!({"time": "2026-12-01T09:30:00+08:00", "id_number": id, "contacts_count": 3, "longest_call_s": 120,
               "app_installed": true, "app_name": "某理财", "amount_yuan": 1200.50, "flagged_account": "6222000011112222"}),
    );
    let (status, body) = app.post("/api/v1/warnings", Some(&token), json_twin).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("duplicate")), "{body}");
    let audit = app.audit_since(0).await;
    assert!(
        audit.iter().any(|(a, _, r, _)| a == "antifraud.warnings.import" && r.contains("fraud_warning:")),
        "{audit:?}"
    );
    let (status, again) = upload(&app, &token, "", "text/csv", csv.into_bytes()).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(counts(&again), [Some(2), Some(0), Some(2), Some(0), Some(0)], "{again}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM fraud_warnings").await, 2);
    // The same key with other content: a conflict on its line, the first one stands.
    let changed =
        "来源,上游编号,预警时间,手机号,诈骗类型,是否安装涉诈App\nfzzx,F-2,2026-12-01 09:40,13800001111,投资理财,否\n";
    let (status, report) = upload(&app, &token, "", "text/csv", changed.as_bytes().to_vec()).await;
    assert_eq!((status, report["conflicts"].as_u64()), (200, Some(1)), "{report}");
    assert_eq!((report["errors"][0]["line"].as_u64(), report["errors"][0]["field"].as_str()), (Some(2), Some("kind")));
}

#[tokio::test]
async fn a_gbk_csv_with_crlf_and_a_quoted_newline_loads() {
    let app = app_at_ten().await;
    let token = upstream(&app).await;
    let (resident, id) = resident_in(&app, "410702010102", "41070219700303032", "13977778888", json!({})).await;
    // A cell ended with Alt+Enter in Excel: quoted, with a line break that trimming removes.
    let text = format!(
        "{HEADER}\r\n\
         反诈中心,G-1,2026/12/1 9:00,\"王秀英\r\n\",{id},,冒充客服,,,,,,\r\n\
         反诈中心,G-2,2026-12-01 09:05,,,13977778888,网络贷款,,,,,88,\r\n"
    );
    let (gbk, _, lossy) = encoding_rs::GBK.encode(&text);
    assert!(!lossy);
    let (status, report) = upload(&app, &token, "", "text/csv", gbk.to_vec()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(counts(&report), [Some(2), Some(2), Some(0), Some(0), Some(0)], "{report}");
    assert_eq!(case_of(&app, "G-1").await.0, Some(resident));
    let (matched, kind, _) = case_of(&app, "G-2").await;
    assert_eq!((matched, kind.as_str()), (Some(resident), "phone"));
    let name: String = sqlx::query_scalar("SELECT name FROM fraud_warnings WHERE upstream_id = 'G-1'")
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    assert_eq!(name, "王秀英");
}

#[tokio::test]
async fn an_xlsx_with_english_headers_and_date_cells_loads() {
    let app = app_at_ten().await;
    let token = upstream(&app).await;
    let (resident, id) = resident_in(&app, "410702010101", "41070219900404033", "13988889999", json!({})).await;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let headers = ["Source", "Upstream ID", "Time", "ID number", "Kind", "Contacts", "App installed", "Amount (yuan)"];
    for (i, h) in headers.iter().enumerate() {
        sheet.write_string(0, i as u16, *h).unwrap();
    }
    let when = rust_xlsxwriter::ExcelDateTime::from_ymd(2026, 12, 1).unwrap().and_hms(9, 15, 0).unwrap();
    let date_format = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    sheet.write_string(1, 0, "bank01").unwrap();
    sheet.write_number(1, 1, 20261201.0).unwrap(); // an upstream id typed as a number
    sheet.write_datetime_with_format(1, 2, &when, &date_format).unwrap();
    sheet.write_string(1, 3, &id).unwrap();
    sheet.write_string(1, 4, "romance").unwrap();
    sheet.write_number(1, 5, 4.0).unwrap();
    sheet.write_boolean(1, 6, true).unwrap();
    sheet.write_number(1, 7, 5000.25).unwrap();
    let bytes = book.save_to_buffer().unwrap();
    let (status, report) = upload(&app, &token, "?history=false", XLSX, bytes).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["created"].as_u64(), Some(1), "{report}");
    let (matched, _, at) = case_of(&app, "20261201").await;
    assert_eq!(matched, Some(resident));
    assert_eq!(at, pingan::clock::parse_beijing("2026-12-01T09:15").unwrap(), "an Excel date cell is Beijing time");
    let (amount, grade): (i64, String) =
        sqlx::query_as("SELECT amount_fen, grade FROM fraud_warnings WHERE upstream_id = '20261201'")
            .fetch_one(app.state.db.reader())
            .await
            .unwrap();
    assert_eq!((amount, grade.as_str()), (500_025, "red"), "graded as JSON would be");
}

#[tokio::test]
async fn one_bad_row_stores_nothing_unless_skip_invalid_which_stores_the_rest() {
    let app = app_at_ten().await;
    let token = upstream(&app).await;
    let bad = wrong_check(&id_number("41070219500101034"));
    // The quoted newline in line 3 makes the bad row line 5, not 4.
    let csv = format!(
        "{HEADER}\r\n\
         fzzx,H-1,2026-12-01 09:00,,,,投资理财,,,,,,\r\n\
         fzzx,H-2,2026-12-01 09:01,,,,投资理财,,,,\"某\r\n应用\",,\r\n\
         fzzx,H-3,2026-12-01 09:02,,{bad},,投资理财,,,,,,\r\n\
         fzzx,H-4,2026-12-01 09:03,,,,投资理财,,,,,,\r\n"
    );
    let (status, report) = upload(&app, &token, "", "text/csv", csv.clone().into_bytes()).await;
    assert_eq!(status, 422, "{report}");
    let errors: Vec<(u64, &str)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e.get("line").and_then(Value::as_u64).unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(errors, [(3, "app_name"), (5, "id_number")], "{report}");
    assert_eq!((report["written"].as_bool(), report["refused"].as_u64()), (Some(false), Some(2)));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM fraud_warnings").await, 0, "nothing stored");
    let (status, report) = upload(&app, &token, "?skip_invalid=true&history=true", "text/csv", csv.into_bytes()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(counts(&report), [Some(4), Some(2), Some(0), Some(0), Some(2)], "{report}");
    assert_eq!(report["errors"].as_array().unwrap().len(), 2);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM fraud_warnings WHERE history = 1").await, 2);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM jobs WHERE kind = 'antifraud.deadline'").await,
        0,
        "history schedules no deadline"
    );
}

#[tokio::test]
async fn the_template_written_by_the_command_line_is_accepted_and_permissions_are_checked() {
    let app = app_at_ten().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("warnings.csv");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_pingan"))
        .args(["import", "--template", "warnings", "--out", out.to_str().unwrap()])
        .env_remove("PINGAN_CONFIG")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut file = std::fs::read(&out).unwrap();
    assert!(file.starts_with("\u{feff}来源,上游编号,预警时间".as_bytes()));
    file.extend_from_slice("fzzx,T-1,2026-12-01 09:00,,,,其他,,,,,,\r\n".as_bytes());
    let token = upstream(&app).await;
    let (status, report) = upload(&app, &token, "", "text/csv", file.clone()).await;
    assert_eq!((status, report["created"].as_u64()), (200, Some(1)), "{report}");
    let officer = app.login("officer").await;
    assert_eq!(upload(&app, &officer, "", "text/csv", file.clone()).await.0, 403);
    assert_eq!(upload(&app, &token, "", "application/json", file.clone()).await.0, 415);
    let (status, report) = upload(&app, &token, "?skip=1", "text/csv", file).await;
    assert_eq!((status, report["errors"][0]["field"].as_str()), (422, Some("query")));
}

#[tokio::test]
async fn a_file_over_a_thousand_rows_is_stored_in_chunks_each_audited() {
    let app = app_at_ten().await;
    let token = upstream(&app).await;
    let mut csv = String::from("来源,上游编号,预警时间,诈骗类型\n");
    for i in 0..1001 {
        csv.push_str(&format!("fzzx,K-{i},2026-11-30 08:00,刷单返利\n"));
    }
    let head = app.audit_head().await;
    let (status, report) = upload(&app, &token, "?history=true", "text/csv", csv.into_bytes()).await;
    assert_eq!((status, report["created"].as_u64()), (200, Some(1001)), "{report}");
    let chunks: Vec<_> =
        app.audit_since(head).await.into_iter().filter(|e| e.0 == "antifraud.warnings.import").collect();
    assert_eq!(chunks.len(), 2, "1,000 rows and then 1");
}

#[tokio::test]
async fn the_import_page_loads_a_file_as_history_and_is_only_for_those_who_may_send_warnings() {
    let app = app_at_ten().await;
    app.exempt_all_roles_from_mfa().await;
    let (client, _) = app.web_login("commander", crate::helpers::PASSWORD).await;
    let (status, page, _) = app.page(&client, "/antifraud/import").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("/api/v1/import-templates/warnings?format=xlsx"), "{page}");
    let template = client.get(app.at("/api/v1/import-templates/warnings")).send().await.unwrap();
    assert_eq!(template.status().as_u16(), 200);
    assert!(template.text().await.unwrap().contains("上游编号"));
    let csv = format!("{HEADER}\nfzzx,P-1,2026-11-20 09:30:00,,,13800001111,刷单返利,,,否,,,\n");
    let form = reqwest::multipart::Form::new()
        .text("csrf", crate::helpers::csrf_of(&page))
        .text("history", "true")
        .part("file", reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("warnings.csv"));
    let resp = client.post(app.at("/antifraud/import")).multipart(form).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("已导入") && html.contains("新增预警"), "{html}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM fraud_warnings WHERE upstream_id = 'P-1' AND history = 1").await, 1);
    // A bad row is reported by line on the page, and nothing is stored.
    let (_, page, _) = app.page(&client, "/antifraud/import").await;
    let csv = format!("{HEADER}\nfzzx,P-2,2026-11-20 09:30:00,,,,诈骗,,,否,,,\n");
    let form = reqwest::multipart::Form::new()
        .text("csrf", crate::helpers::csrf_of(&page))
        .part("file", reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("warnings.csv"));
    let html = client.post(app.at("/antifraud/import")).multipart(form).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("未导入") && html.contains("kind"), "{html}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM fraud_warnings WHERE upstream_id = 'P-2'").await, 0);
    let (officer, _) = app.web_login("officer", crate::helpers::PASSWORD).await;
    assert_eq!(app.page(&officer, "/antifraud/import").await.0, 403);
}
