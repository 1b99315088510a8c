use geo::InteriorPoint;
use serde_json::Value;

use crate::helpers::{assert_writer_back_after_load, spawn_app, TestApp};

fn id_number(seventeen: &str) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let sum: u32 = seventeen.bytes().zip(W).map(|(b, w)| (b - b'0') as u32 * w).sum();
    format!("{seventeen}{}", C[(sum % 11) as usize])
}

fn wrong_check(id: &str) -> String {
    let last = if id.ends_with('0') { "1" } else { "0" };
    format!("{}{last}", &id[..17])
}

async fn point_in(app: &TestApp, code: &str) -> (f64, f64) {
    let wkb: Vec<u8> = sqlx::query_scalar("SELECT shape FROM grid_shapes WHERE node_id = $1")
        .bind(app.node_id(code).await)
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    let p = pingan_geo::wkb::decode(&wkb).unwrap().interior_point().unwrap();
    (p.x(), p.y())
}

async fn upload(app: &TestApp, token: &str, query: &str, ctype: &str, body: Vec<u8>) -> (u16, Value) {
    app.post_bytes(&format!("/api/v1/residents/import{query}"), token, ctype, body).await
}

/// The resident search's answer to `query`.
async fn search(app: &TestApp, token: &str, query: Value) -> Value {
    app.post("/api/v1/residents/search", Some(token), query).await.1
}

/// The report's counts named by `fields`, in that order.
fn tally(report: &Value, fields: &[&str]) -> Vec<Option<u64>> {
    fields.iter().map(|f| report[*f].as_u64()).collect()
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(app.state.db.reader()).await.unwrap()
}

const HEADER: &str =
    "姓名,公民身份号码,性别,联系电话,人口类型,现住地址,经度,纬度,房屋（单元/室）,与房屋关系,关注标签,备注";

#[tokio::test]
async fn a_utf8_csv_with_bom_creates_people_addresses_and_houses_and_merges_duplicates() {
    let app = spawn_app().await;
    let officer = app.login("officer").await;
    let (lon, lat) = point_in(&app, "410702010101").await;
    let (a, b) = (id_number("41070219800101001"), id_number("41070219850202002"));
    let csv = format!(
        "\u{feff}{HEADER}\r\n\
         王导入,{a},,13811112222,户籍人口,新乡市导入路1号,{lon},{lat},1单元101,房主,独居老人,\r\n\
         李导入,{b},,13833334444,流动人口,新乡市 导入路１号,,,1单元101,租户,,\r\n\
         王导入,{a},,13855556666;13811112222,户籍人口,新乡市导入路1号,,,1单元101,房主,残疾人,重复一行\r\n"
    );
    let (people, addresses, houses) =
        (count(&app, "residents").await, count(&app, "addresses").await, count(&app, "houses").await);
    let (status, report) = upload(&app, &officer, "", "text/csv", csv.into_bytes()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(tally(&report, &["rows", "created", "merged"]), [Some(3), Some(2), Some(1)], "{report}");
    assert_eq!(tally(&report, &["addresses_created", "houses_created"]), [Some(1), Some(1)], "{report}");
    assert_eq!(count(&app, "residents").await, people + 2);
    assert_eq!(count(&app, "addresses").await, addresses + 1, "two spellings of one address are one address");
    assert_eq!(count(&app, "houses").await, houses + 1);
    // The duplicate row added its new phone and tag to the first.
    let found = search(&app, &officer, serde_json::json!({"id_number": a})).await;
    let item = &found["items"][0];
    assert_eq!(item["tags"], serde_json::json!(["disabled", "elderly_alone"]), "{found}");
    let id = item["id"].as_i64().unwrap();
    let (_, view) = app.get(&format!("/api/v1/residents/{id}"), Some(&officer)).await;
    assert_eq!(view["phones"], serde_json::json!(["138****2222", "138****6666"]));
    assert_eq!(view["grid_id"].as_i64(), Some(app.node_id("410702010101").await));
    // Importing again merges into the existing records: nothing doubles, phones are only added.
    let again = format!("{HEADER}\n王导入,{a},,13877778888,户籍人口,新乡市导入路1号,,,,,,\n");
    let (status, report) = upload(&app, &officer, "", "text/csv", again.into_bytes()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(tally(&report, &["created", "merged", "phones_added"]), [Some(0), Some(1), Some(1)], "{report}");
    let (_, view) = app.get(&format!("/api/v1/residents/{id}"), Some(&officer)).await;
    assert_eq!(view["phones"].as_array().unwrap().len(), 3);
    // A new person at the recorded address and unit joins the recorded house.
    let c = id_number("41070219900303003");
    let third = format!("{HEADER}\n张新,{c},,,流动人口,新乡市 导入路1号,,,1单元101,租户,,\n");
    let (status, report) = upload(&app, &officer, "", "text/csv", third.into_bytes()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        tally(&report, &["created", "addresses_created", "houses_created"]),
        [Some(1), Some(0), Some(0)],
        "{report}"
    );
    assert_eq!(count(&app, "houses").await, houses + 1, "the recorded house is not doubled");
    let audit = app.audit_since(0).await;
    assert!(
        audit.iter().any(|(a, _, r, _)| a == "resident.import" && r.contains(&format!("resident:{id}"))),
        "{audit:?}"
    );
}

#[tokio::test]
async fn a_gbk_file_with_a_bad_row_is_refused_whole_with_line_numbers_after_a_quoted_newline() {
    let app = spawn_app().await;
    let officer = app.login("officer").await;
    let (lon, lat) = point_in(&app, "410702010102").await;
    let text = format!(
        "{HEADER}\r\n\
         赵甲,{},,,户籍人口,新乡市编码路2号,{lon},{lat},,,,\"第一行\r\n第二行\"\r\n\
         钱乙,{},,,户籍人口,新乡市编码路2号,,,,,,\r\n\
         孙丙,,,12345,流动人口,新乡市编码路3号,,,,,未知标签,\r\n",
        id_number("41070219700303003"),
        wrong_check(&id_number("41070219800101001"))
    );
    let (gbk, _, bad) = encoding_rs::GBK.encode(&text);
    assert!(!bad);
    let before = count(&app, "residents").await;
    let (status, report) = upload(&app, &officer, "", "text/csv", gbk.to_vec()).await;
    assert_eq!(status, 422, "{report}");
    assert_eq!(report["written"], false);
    let errors: Vec<(u64, String)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["field"].as_str().unwrap().to_string()))
        .collect();
    // Line 2 holds a note over two lines, so the bad rows are lines 4 and 5.
    assert!(errors.contains(&(4, "id_number".into())), "{errors:?}");
    assert!(errors.contains(&(5, "phones[0]".into())), "{errors:?}");
    assert!(errors.contains(&(5, "tags".into())), "{errors:?}");
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_eq!(count(&app, "residents").await, before, "nothing was written");
    // With skip_invalid the good row goes in and the report still names the bad ones.
    let (status, report) = upload(&app, &officer, "?skip_invalid=true", "text/csv", gbk.to_vec()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(tally(&report, &["created", "skipped"]), [Some(1), Some(2)], "{report}");
    let note: String = sqlx::query_scalar("SELECT note FROM residents WHERE name = '赵甲'")
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    assert_eq!(note, "第一行\r\n第二行");
}

#[tokio::test]
async fn an_xlsx_upload_is_read_and_numbers_that_lost_digits_are_refused() {
    let app = spawn_app().await;
    let officer = app.login("officer").await;
    let (lon, lat) = point_in(&app, "410702010101").await;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (i, h) in
        ["Name", "ID number", "Phones", "Residence", "Current address", "Longitude", "Latitude"].iter().enumerate()
    {
        sheet.write_string(0, i as u16, *h).unwrap();
    }
    sheet.write_string(1, 0, "表格甲").unwrap();
    sheet.write_string(1, 1, id_number("41070219900505005")).unwrap();
    sheet.write_number(1, 2, 13912345678.0).unwrap(); // a phone typed as a number: whole, kept
    sheet.write_string(1, 3, "registered").unwrap();
    sheet.write_string(1, 4, "新乡市表格路5号").unwrap();
    sheet.write_number(1, 5, lon).unwrap();
    sheet.write_number(1, 6, lat).unwrap();
    sheet.write_string(2, 0, "表格乙").unwrap();
    sheet.write_number(2, 1, 410702199005050000.0).unwrap(); // an ID number Excel turned into a float
    sheet.write_string(2, 3, "floating").unwrap();
    sheet.write_string(2, 4, "新乡市表格路5号").unwrap();
    let bytes = book.save_to_buffer().unwrap();
    let xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    let (status, report) = upload(&app, &officer, "", xlsx, bytes.clone()).await;
    assert_eq!(status, 422, "{report}");
    assert_eq!(report["errors"][0]["line"], 3, "{report}");
    let (status, report) = upload(&app, &officer, "?skip_invalid=true", xlsx, bytes).await;
    assert_eq!((status, report["created"].as_u64()), (200, Some(1)), "{report}");
    let found = search(&app, &officer, serde_json::json!({"phone": "13912345678"})).await;
    assert_eq!(found["total"], 1, "{found}");
}

#[tokio::test]
async fn rows_outside_the_jurisdiction_are_refused_and_the_template_downloads() {
    let app = spawn_app().await;
    let officer = app.login("officer").await;
    let (lon, lat) = point_in(&app, "410703010101").await; // another station's grid
    let csv = format!("{HEADER}\n外辖区,,男,,户籍人口,新乡市外辖路1号,{lon},{lat},,,,\n");
    let (status, report) = upload(&app, &officer, "", "text/csv", csv.into_bytes()).await;
    assert_eq!(status, 422);
    assert_eq!(report["errors"][0]["field"], "lon", "{report}");
    let (status, report) = upload(&app, &officer, "", "text/csv", "名字,身份证\n张三,1\n".as_bytes().to_vec()).await;
    assert_eq!(status, 422);
    assert!(report["errors"].as_array().unwrap().len() >= 3, "unknown and missing columns all reported: {report}");
    let resp = app.client.get(app.at("/api/v1/import-templates/residents")).bearer_auth(&officer).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let bytes = resp.bytes().await.unwrap();
    assert!(bytes.starts_with("\u{feff}姓名,公民身份号码".as_bytes()), "{:?}", String::from_utf8_lossy(&bytes));
    let auxiliary = app.login("volunteer").await;
    assert_eq!(upload(&app, &auxiliary, "", "text/csv", b"x".to_vec()).await.0, 403);
}

#[tokio::test]
async fn the_import_page_takes_a_file_without_script_and_progress_tokens_are_checked() {
    let app = spawn_app().await;
    app.exempt_all_roles_from_mfa().await;
    let (client, _) = app.web_login("officer", crate::helpers::PASSWORD).await;
    let (status, page, _) = app.page(&client, "/residents/import").await;
    assert_eq!(status, 200, "{page}");
    let (lon, lat) = point_in(&app, "410702010103").await;
    let csv = format!("{HEADER}\n页面导入,,女,,流动人口,新乡市页面路9号,{lon},{lat},,,,\n");
    let form = reqwest::multipart::Form::new()
        .text("csrf", crate::helpers::csrf_of(&page))
        .part("file", reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("people.csv"));
    let resp = client.post(app.at("/residents/import")).multipart(form).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("已导入"), "{html}");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM residents WHERE name = '页面导入'")
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    assert_eq!(n, 1);
    // A forged form is refused.
    let form = reqwest::multipart::Form::new()
        .text("csrf", "forged")
        .part("file", reqwest::multipart::Part::bytes(b"x".to_vec()));
    assert_eq!(client.post(app.at("/residents/import")).multipart(form).send().await.unwrap().status().as_u16(), 403);
    let officer = app.login("officer").await;
    let (status, report) = upload(&app, &officer, "?progress=short", "text/csv", b"x".to_vec()).await;
    assert_eq!((status, report["errors"][0]["field"].as_str()), (422, Some("progress")));
    assert_eq!(app.get("/api/v1/import-progress/0123456789abcdef0123", Some(&officer)).await.0, 404);
}

/// Every index of the base-data tables, as (name, definition), whichever the engine.
async fn indexes(app: &TestApp) -> Vec<(String, String)> {
    let sql = match app.state.db.backend {
        pingan::db::Backend::Sqlite => {
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
             AND tbl_name IN ('addresses', 'houses', 'residents', 'resident_phones', 'resident_tags') ORDER BY name"
        }
        pingan::db::Backend::Postgres => {
            "SELECT indexname::text, indexdef FROM pg_indexes WHERE schemaname = current_schema() \
             AND tablename IN ('addresses', 'houses', 'residents', 'resident_phones', 'resident_tags') ORDER BY indexname"
        }
    };
    sqlx::query_as(sql).fetch_all(app.state.db.reader()).await.unwrap()
}

#[tokio::test]
async fn a_first_import_larger_than_the_register_ends_with_every_index_and_merges_as_a_small_one() {
    let app = spawn_app().await;
    let officer = app.login("officer").await;
    let (lon, lat) = point_in(&app, "410702010101").await;
    let before = indexes(&app).await;
    assert!(before.iter().any(|(n, _)| n == "residents_id_hash"), "{before:?}");
    // More new people than the register holds: on SQLite the indexes are built after the rows.
    let rows = 1_500.max(count(&app, "residents").await as usize + 1);
    let mut csv = format!("{HEADER}\n");
    for i in 0..rows {
        let id = id_number(&format!("410702{}{:02}{:02}{:03}", 1950 + i / 1000, 1 + i % 12, 1 + i % 28, i % 1000));
        let phone = 13_700_000_000u64 + i as u64;
        csv.push_str(&format!("批量{i},{id},,{phone},户籍人口,新乡市批量路{}号,{lon},{lat},1单元{i},房主,,\n", i % 40));
    }
    let first = id_number("41070219500101000");
    csv.push_str(&format!("批量0,{first},,13600000000,户籍人口,新乡市批量路0号,,,1单元0,房主,独居老人,\n"));
    let (status, report) = upload(&app, &officer, "", "text/csv", csv.into_bytes()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        tally(&report, &["created", "merged", "addresses_created"]),
        [Some(rows as u64), Some(1), Some(40)],
        "{report}"
    );
    assert_eq!(indexes(&app).await, before, "every index is back, defined as before");
    // The indexes answer: by ID number (the unique keyed hash), by phone, by tail digits.
    let found = search(&app, &officer, serde_json::json!({"id_number": first})).await;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["items"][0]["tags"], serde_json::json!(["elderly_alone"]), "{found}");
    let found = search(&app, &officer, serde_json::json!({"phone": "13600000000"})).await;
    assert_eq!(found["total"], 1, "the merged row's phone was added: {found}");
    let found = search(&app, &officer, serde_json::json!({"phone": "13700001499"})).await;
    assert_eq!(found["total"], 1, "{found}");
    assert_writer_back_after_load(&app.state.db, "the import").await;
}

#[tokio::test]
async fn a_load_whose_rows_break_a_unique_index_fails_whole_and_leaves_the_index() {
    use pingan::db::bulk::Value;
    let app = spawn_app().await;
    let db = &app.state.db;
    sqlx::query("CREATE TABLE bulk_probe (id INTEGER PRIMARY KEY, k TEXT NOT NULL)")
        .execute(db.writer())
        .await
        .unwrap();
    sqlx::query("CREATE UNIQUE INDEX bulk_probe_k ON bulk_probe(k)").execute(db.writer()).await.unwrap();
    let rows = |from: i64, n: i64| -> Vec<Vec<Value>> {
        (from..from + n).map(|i| vec![Value::from(i), Value::from(format!("k{}", i % 1_500))]).collect()
    };
    // 2,000 rows into an empty table: the index is set aside on SQLite, and the rebuild finds
    // the 500 repeated keys; PostgreSQL refuses them as they go in.
    let mut tx = db.begin().await.unwrap();
    let failed = async {
        let deferred = db.defer_indexes(&mut tx, &[("bulk_probe", 2_000)], &[]).await?;
        db.insert_rows(&mut tx, "bulk_probe", &["id", "k"], rows(1, 2_000)).await?;
        db.rebuild_indexes(&mut tx, deferred).await
    }
    .await;
    assert!(failed.as_ref().is_err_and(pingan::db::is_unique_violation), "{failed:?}");
    drop(tx);
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bulk_probe").fetch_one(db.reader()).await.unwrap();
    assert_eq!(held, 0, "nothing of the failed load stays");
    // The index is there and still refuses duplicates; a clean load goes through.
    let mut tx = db.begin().await.unwrap();
    let deferred = db.defer_indexes(&mut tx, &[("bulk_probe", 1_500)], &[]).await.unwrap();
    db.insert_rows(&mut tx, "bulk_probe", &["id", "k"], rows(1, 1_500)).await.unwrap();
    db.rebuild_indexes(&mut tx, deferred).await.unwrap();
    tx.commit().await.unwrap();
    let again = sqlx::query("INSERT INTO bulk_probe (id, k) VALUES (5000, 'k7')").execute(db.writer()).await;
    assert!(again.as_ref().is_err_and(pingan::db::is_unique_violation), "{again:?}");
}

#[tokio::test]
async fn a_load_keeps_the_indexes_it_names_and_builds_the_others_again() {
    use pingan::db::bulk::Value;
    let app = spawn_app().await;
    let db = &app.state.db;
    for sql in [
        "CREATE TABLE bulk_probe (id INTEGER PRIMARY KEY, k TEXT NOT NULL, done INTEGER)",
        "CREATE INDEX bulk_probe_k ON bulk_probe(k)",
        "CREATE INDEX bulk_probe_done ON bulk_probe(done) WHERE done IS NOT NULL",
    ] {
        sqlx::query(sql).execute(db.writer()).await.unwrap();
    }
    let sql = match db.backend {
            pingan::db::Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'bulk_probe' AND sql IS NOT NULL ORDER BY name",
            pingan::db::Backend::Postgres => "SELECT indexname::text FROM pg_indexes WHERE tablename = 'bulk_probe' AND indexname <> 'bulk_probe_pkey' ORDER BY indexname",
    };
    let rows: Vec<Vec<Value>> =
        (1..=2_000).map(|i| vec![Value::from(i), Value::from(format!("k{i}")), Value::Int(None)]).collect();
    let mut tx = db.begin().await.unwrap();
    let deferred = db.defer_indexes(&mut tx, &[("bulk_probe", 2_000)], &["bulk_probe_done"]).await.unwrap();
    let during: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut *tx).await.unwrap();
    db.insert_rows(&mut tx, "bulk_probe", &["id", "k", "done"], rows).await.unwrap();
    db.rebuild_indexes(&mut tx, deferred).await.unwrap();
    let after: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    match db.backend {
        // Only the one not named is set aside on SQLite.
        pingan::db::Backend::Sqlite => assert_eq!(during, ["bulk_probe_done"]),
        // PostgreSQL sets nothing aside: readers would wait on the DDL.
        pingan::db::Backend::Postgres => assert_eq!(during, ["bulk_probe_done", "bulk_probe_k"]),
    }
    assert_eq!(after, ["bulk_probe_done", "bulk_probe_k"]);
    let by_k: i64 =
        sqlx::query_scalar("SELECT id FROM bulk_probe WHERE k = 'k1234'").fetch_one(db.reader()).await.unwrap();
    assert_eq!(by_k, 1234);
}
