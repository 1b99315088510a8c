//! A history file takes the bulk path; warnings sent one at a time take intake's. The same
//! warnings must end up the same either way: matched, routed, graded, merged and deduplicated
//! alike, down to every stored column that is not an id.

use serde_json::{json, Value};

use crate::antifraud::{app_at_ten, resident_in, upstream, warning};
use crate::helpers::{assert_writer_back_after_load, id_number, TestApp};

const COLUMNS: [&str; 13] = [
    "source",
    "upstream_id",
    "time",
    "name",
    "id_number",
    "phone",
    "kind",
    "contacts_count",
    "longest_call_s",
    "app_installed",
    "app_name",
    "amount_yuan",
    "flagged_account",
];

/// The same base data in each app: residents created in the same order get the same ids.
pub async fn people(app: &TestApp) -> Vec<String> {
    let commander = app.login("commander").await;
    let body = json!({"regions": [{"region": "410781", "station_code": "410703010000"}]});
    let response = app.client.put(app.at("/api/v1/antifraud/regions")).bearer_auth(&commander).json(&body);
    assert_eq!(response.send().await.unwrap().status().as_u16(), 200);
    let mut ids = Vec::new();
    for (grid, seventeen, phone, extra) in [
        ("410702010101", "41070219800202031", "13900000001", json!({})),
        ("410702010101", "41070219500303007", "13900000002", json!({"tags": ["elderly_alone"]})),
        // Two people of one station share a phone: a warning with only that phone waits for a person.
        ("410702010101", "41070219900404004", "13900000003", json!({})),
        ("410702010102", "41070219910505005", "13900000003", json!({})),
        ("410702010101", "41070219920606006", "13900000004", json!({})),
    ] {
        ids.push(resident_in(app, grid, seventeen, phone, extra).await.1);
    }
    ids
}

/// Warnings over three days around 2026-11-28, some out of order, touching every rule.
pub fn warnings(ids: &[String]) -> Vec<Value> {
    let at = |day: u32, hour: u32| format!("2026-11-{day:02}T{hour:02}:15:00+08:00");
    let outsider = id_number("44030519850707007");
    let unmapped_local = id_number("41078119860808008");
    let mut out = vec![
        warning("B-01", json!({"time": at(26, 9), "id_number": ids[0]})),
        // Joins B-01's case and raises it: money moving.
        warning("B-02", json!({"time": at(27, 8), "id_number": ids[0], "amount_yuan": "60000"})),
        // Four days after B-01: a new case.
        warning("B-03", json!({"time": at(30, 10), "id_number": ids[0], "kind": "loan"})),
        // The elderly person living alone: raised two grades.
        warning("B-04", json!({"time": at(26, 11), "id_number": ids[1], "contacts_count": 1})),
        // By phone alone, held by one resident.
        warning("B-05", json!({"time": at(27, 12), "phone": "13900000004"})),
        // By a phone two residents hold: pending, with both as candidates.
        warning("B-06", json!({"time": at(27, 13), "phone": "13900000003", "app_installed": true})),
        warning("B-07", json!({"time": at(27, 14), "phone": "13900000003", "contacts_count": 4})),
        // A phone the ID number contradicts: the holder is someone else.
        warning("B-08", json!({"time": at(27, 15), "phone": "13900000004", "id_number": outsider})),
        warning("B-09", json!({"time": at(28, 9), "id_number": outsider, "longest_call_s": 900})),
        // Unmatched, region mapped to a station.
        warning("B-10", json!({"time": at(28, 10), "id_number": unmapped_local})),
        warning("B-11", json!({"time": at(28, 11), "phone": "13711112222"})),
        // Out of order: earlier than B-02 but after B-01.
        warning("B-12", json!({"time": at(26, 20), "id_number": ids[0], "app_installed": true})),
    ];
    // Sent again: the same content is a duplicate; other content a conflict.
    out.push(out[0].clone());
    let mut changed = out[4].clone();
    changed["kind"] = json!("romance");
    out.push(changed);
    out
}

fn csv(warnings: &[Value]) -> String {
    let mut out = COLUMNS.join(",") + "\n";
    for w in warnings {
        let cells: Vec<String> = COLUMNS
            .iter()
            .map(|c| match &w[*c] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                other => other.to_string(),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// Everything stored about the warnings, ids replaced by what they point to.
pub async fn stored(app: &TestApp) -> Vec<Vec<String>> {
    type Row = (String, String, String, String, String, String, String, String);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT w.upstream_id, \
         CONCAT_WS('|', w.event_at, w.received_at, w.grade, w.reasons, w.match_kind, w.history, w.id_head, w.id_tail, w.phone_masked), \
         CONCAT_WS('|', c.resident_id, c.opened_at, c.last_warning_at, c.warnings, c.grade, c.grade_rank, c.reasons, c.kind), \
         CONCAT_WS('|', c.state, c.match_state, c.grid_id, c.post_id, c.station_id, c.node_id, c.officer_id, c.history), \
         CONCAT_WS('|', c.contact_due_at, c.visit_due_at, c.closed_at, 'x'), \
         COALESCE((SELECT MIN(o.upstream_id) FROM fraud_warnings o WHERE o.case_id = w.case_id), ''), \
         COALESCE((SELECT STRING_AGG(CAST(f.resident_id AS TEXT), ',' ORDER BY f.resident_id) FROM fraud_candidates f \
                   WHERE f.case_id = w.case_id), ''), \
         CASE WHEN c.subject_hash IS NULL THEN 'no subject' ELSE 'subject' END \
         FROM fraud_warnings w JOIN fraud_cases c ON c.id = w.case_id ORDER BY w.upstream_id",
    )
    .fetch_all(app.state.db.reader())
    .await
    .unwrap();
    rows.into_iter().map(|r| vec![r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7]).collect()
}

/// Two apps at the same clock with the same base data, for the same warnings sent two ways; the
/// residents' ID numbers.
pub async fn twin_apps() -> (TestApp, TestApp, Vec<String>) {
    let (a, b) = (app_at_ten().await, app_at_ten().await);
    let ids = people(&a).await;
    assert_eq!(people(&b).await, ids);
    (a, b, ids)
}

/// `warnings` imported into `app` as a history file: the report.
async fn import_history(app: &TestApp, token: &str, warnings: &[Value]) -> Value {
    let body = csv(warnings).into_bytes();
    let (status, report) = app.post_bytes("/api/v1/warnings/import?history=true", token, "text/csv", body).await;
    assert_eq!(status, 200, "{report}");
    report
}

/// A report's (created, duplicates, conflicts).
fn counts(report: &Value) -> [Option<u64>; 3] {
    ["created", "duplicates", "conflicts"].map(|k| report[k].as_u64())
}

/// What the two apps stored, which must agree row by row (`how` names the two ways); the rows.
async fn same_stored(left: &TestApp, right: &TestApp, how: &str) -> Vec<Vec<String>> {
    let (a, b) = (stored(left).await, stored(right).await);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "warning {} differs: {how}", x[0]);
    }
    assert_eq!(a, b);
    a
}

/// The names of the antifraud tables' indexes (SQLite).
async fn fraud_indexes(app: &TestApp) -> Vec<String> {
    let sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name LIKE 'fraud%' ORDER BY name";
    sqlx::query_scalar(sql).fetch_all(app.state.db.reader()).await.unwrap()
}

#[tokio::test]
async fn a_history_file_stores_exactly_what_the_same_warnings_sent_one_by_one_store() {
    let (one_by_one, from_file, ids) = twin_apps().await;
    let all = warnings(&ids);

    let token_a = upstream(&one_by_one).await;
    let mut statuses = Vec::new();
    for w in &all {
        let (status, body) = one_by_one.post("/api/v1/warnings?history=true", Some(&token_a), w.clone()).await;
        statuses.push((status, body["status"].as_str().map(str::to_string)));
    }
    let created = statuses.iter().filter(|s| s.0 == 201).count() as u64;
    assert_eq!(created, all.len() as u64 - 2, "{statuses:?}");
    assert_eq!(statuses[statuses.len() - 2].0, 200, "the resend is a duplicate");
    assert_eq!(statuses[statuses.len() - 1].0, 409, "the changed resend is a conflict");

    let token = upstream(&from_file).await;
    let report = import_history(&from_file, &token, &all).await;
    assert_eq!(counts(&report), [Some(created), Some(1), Some(1)], "{report}");
    assert_eq!(report["errors"][0]["line"].as_u64(), Some(all.len() as u64 + 1), "{report}");
    assert_eq!(report["errors"][0]["field"].as_str(), Some("kind"), "{report}");

    let a = same_stored(&one_by_one, &from_file, "one by one (left), from the file (right)").await;
    assert_eq!(a.len(), created as usize);
    // The rules did apply: the pending case lists both holders, and B-02 raised B-01's case.
    let row = |id: &str| a.iter().find(|r| r[0] == id).cloned().unwrap();
    assert!(row("B-06")[6].contains(','), "{:?}", row("B-06"));
    assert_eq!(row("B-07")[5], "B-06", "the second warning about the shared phone joins the pending case");
    assert!(row("B-01")[2].contains("|red|"), "{:?}", row("B-01"));
    assert_eq!(row("B-03")[5], "B-03", "four days later is a new case");

    // A second file meets what the first stored: its rows again are duplicates, and new warnings
    // join the cases stored before (by resident, by phone and, for the unmatched, by subject).
    // Both files are small against the test city's register, so residents are looked up by key;
    // the large file of the next test reads them all.
    let outsider = id_number("44030519850707007");
    let more = vec![
        all[0].clone(),
        warning("B-13", json!({"time": "2026-11-29T09:00:00+08:00", "id_number": outsider, "amount_yuan": "90000"})),
        warning("B-14", json!({"time": "2026-12-01T08:00:00+08:00", "id_number": ids[0]})),
        warning("B-15", json!({"time": "2026-11-30T20:00:00+08:00", "phone": "13900000004"})),
        warning("B-16", json!({"time": "2026-11-28T16:00:00+08:00", "phone": "13900000003"})),
    ];
    for w in &more {
        let (status, body) = one_by_one.post("/api/v1/warnings?history=true", Some(&token_a), w.clone()).await;
        assert!(status == 200 || status == 201, "{body}");
    }
    let report = import_history(&from_file, &token, &more).await;
    assert_eq!(counts(&report), [Some(4), Some(1), Some(0)], "{report}");
    let a = same_stored(&one_by_one, &from_file, "one by one (left), from the file (right)").await;
    let row = |id: &str| a.iter().find(|r| r[0] == id).cloned().unwrap();
    assert_eq!(row("B-13")[5], "B-08", "the unmatched person's case from the first file");
    assert_eq!(row("B-14")[5], "B-03");
    assert_eq!(row("B-15")[5], "B-15", "by the phone one resident holds: that resident's new case");
    assert_eq!(row("B-16")[5], "B-06", "by the shared phone: the pending case");
}

/// A large first load: [`warnings`], then outsiders each warned about twice, 1,300 rows apart,
/// then warnings about the first resident that join a case the first rows opened. Enough rows
/// that a history file of them is one transaction matched and written in several chunks.
fn many(ids: &[String]) -> Vec<Value> {
    let mut out = warnings(ids);
    let outsider = |k: usize| id_number(&format!("4403051985{:02}{:02}{:03}", 1 + k / 28 % 12, 1 + k % 28, k / 336));
    let at = |k: usize| format!("2026-11-27T{:02}:{:02}:00+08:00", k / 60 % 24, k % 60);
    for round in 0..2 {
        for k in 0..1_300 {
            let extra = json!({"time": at(k + round * 30), "id_number": outsider(k), "contacts_count": 1 + round * 3});
            out.push(warning(&format!("M-{round}-{k:04}"), extra));
        }
    }
    out.push(warning(
        "M-late-1",
        json!({"time": "2026-11-29T08:00:00+08:00", "id_number": ids[0], "amount_yuan": "1"}),
    ));
    out.push(warning("M-late-2", json!({"time": "2026-11-26T23:00:00+08:00", "phone": "13900000003"})));
    out
}

#[tokio::test]
async fn a_large_first_history_file_stores_exactly_what_the_same_warnings_sent_in_batches_store() {
    let (in_batches, from_file, ids) = twin_apps().await;
    let all = many(&ids);
    assert!(all.len() > pingan::antifraud::bulk_whole::WHOLE_FROM);

    let token_a = upstream(&in_batches).await;
    let mut created = 0;
    for part in all.chunks(1_000) {
        let (status, report) = in_batches.post("/api/v1/warnings?history=true", Some(&token_a), json!(part)).await;
        assert_eq!(status, 200, "{report}");
        created += report["created"].as_u64().unwrap();
    }
    let sqlite = from_file.state.db.backend == pingan::db::Backend::Sqlite;
    let before = if sqlite { fraud_indexes(&from_file).await } else { vec![] };

    let token = upstream(&from_file).await;
    let report = import_history(&from_file, &token, &all).await;
    assert_eq!(counts(&report), [Some(created), Some(1), Some(1)], "{report}");
    // Repeats are answered once every row is written: still by their own line.
    assert_eq!(report["errors"][0]["line"].as_u64(), Some(warnings(&ids).len() as u64 + 1), "{report}");
    assert_eq!(report["errors"][0]["field"].as_str(), Some("kind"), "{report}");

    let a = same_stored(&in_batches, &from_file, "in batches (left), from the file (right)").await;
    assert_eq!(a.len(), created as usize);
    let row = |id: &str| a.iter().find(|r| r[0] == id).cloned().unwrap();
    assert_eq!(row("M-1-0007")[5], "M-0-0007", "the second warning about an outsider joins the first one's case");
    assert_eq!(row("M-late-1")[5], "B-03", "a late row joins the case the first rows opened");
    assert_eq!(row("M-late-2")[5], "B-06", "a late row joins the pending case by phone");
    if sqlite {
        assert_eq!(fraud_indexes(&from_file).await, before, "the indexes set aside for the load are back");
    }
}

/// Two weeks of outsiders, each warned about twice an hour apart, in time order; then a warning
/// that joins a case [`warnings`] stored (by resident) and one that joins its pending case (by
/// the shared phone). Loaded after [`warnings`]: a large load that grows cases stored before it,
/// and writes the cases it opens as the rows move past their window, while holding the others.
fn fortnight(ids: &[String]) -> Vec<Value> {
    let outsider = |k: usize| id_number(&format!("4403051986{:02}{:02}{:03}", 1 + k / 28 % 12, 1 + k % 28, k / 336));
    let start = pingan::clock::parse_beijing("2026-11-10T00:00").unwrap();
    let at = |minutes: usize| pingan::clock::iso_beijing(start + minutes as i64 * 60_000);
    let mut timed: Vec<(usize, Value)> = Vec::new();
    for k in 0..1_300 {
        for (round, later) in [(0, 0), (1, 60)] {
            let minutes = k * 15 + later;
            let extra = json!({"time": at(minutes), "id_number": outsider(k), "longest_call_s": 60 + round * 600});
            timed.push((minutes, warning(&format!("F-{round}-{k:04}"), extra)));
        }
    }
    timed.sort_by_key(|(minutes, _)| *minutes);
    let mut out: Vec<Value> = timed.into_iter().map(|(_, w)| w).collect();
    out.push(warning("F-grow", json!({"time": "2026-11-30T18:00:00+08:00", "id_number": ids[0]})));
    out.push(warning("F-pending", json!({"time": "2026-11-29T10:00:00+08:00", "phone": "13900000003"})));
    out
}

#[tokio::test]
async fn a_large_history_file_after_a_small_one_grows_its_cases_and_writes_its_own_as_their_window_passes() {
    let (in_batches, from_file, ids) = twin_apps().await;
    let (first, second) = (warnings(&ids), fortnight(&ids));
    assert!(second.len() > pingan::antifraud::bulk_whole::WHOLE_FROM);

    let token_a = upstream(&in_batches).await;
    let token = upstream(&from_file).await;
    let (status, report) = in_batches.post("/api/v1/warnings?history=true", Some(&token_a), json!(first)).await;
    assert_eq!(status, 200, "{report}");
    import_history(&from_file, &token, &first).await;
    let mut created = 0;
    for part in second.chunks(1_000) {
        let (status, report) = in_batches.post("/api/v1/warnings?history=true", Some(&token_a), json!(part)).await;
        assert_eq!(status, 200, "{report}");
        created += report["created"].as_u64().unwrap();
    }
    assert_eq!(created, second.len() as u64);
    let report = import_history(&from_file, &token, &second).await;
    assert_eq!(counts(&report), [Some(created), Some(0), Some(0)], "{report}");

    let a = same_stored(&in_batches, &from_file, "in batches (left), from the file (right)").await;
    let row = |id: &str| a.iter().find(|r| r[0] == id).cloned().unwrap();
    assert_eq!(row("F-1-0000")[5], "F-0-0000", "the first pair, written once the rows moved past it");
    assert_eq!(row("F-1-1299")[5], "F-0-1299", "the last pair, held to the end");
    // The case columns: (resident,) opened, last warning, warnings, grade, …
    let case = |id: &str| row(id)[2].split('|').map(str::to_string).collect::<Vec<_>>();
    assert_eq!(case("F-1-0700")[2..4], ["2", "red"], "two warnings, raised by the long call");
    assert_eq!(row("F-grow")[5], "B-03", "a case the first file stored grows");
    let f_grow_at = row("F-grow")[1].split('|').next().unwrap().to_string();
    assert_eq!(case("F-grow")[2..4], [f_grow_at, "3".into()], "B-03, B-12 (earlier, the file's last) and F-grow");
    assert_eq!(row("F-pending")[5], "B-06", "the pending case by the shared phone grows");
    assert_writer_back_after_load(&from_file.state.db, "the load").await;
}
