//! `db::bulk::insert_rows`, the one path of every bulk write (imports, the history load, live
//! warnings, audit entries): what goes in comes back exactly, on both engines.

use pingan::db::bulk::Value;
use pingan::db::Backend;

use crate::helpers::spawn_app;

async fn probe_table(app: &crate::helpers::TestApp) {
    let ddl = match app.state.db.backend {
        Backend::Sqlite => {
            "CREATE TABLE bulk_kinds (id INTEGER PRIMARY KEY, n INTEGER, x REAL, t TEXT, b BLOB, \
                            must TEXT NOT NULL)"
        }
        Backend::Postgres => {
            "CREATE TABLE bulk_kinds (id BIGINT PRIMARY KEY, n BIGINT, x DOUBLE PRECISION, t TEXT, \
                              b BYTEA, must TEXT NOT NULL)"
        }
    };
    sqlx::query(ddl).execute(app.state.db.writer()).await.unwrap();
}

type Row = (i64, Option<i64>, Option<f64>, Option<String>, Option<Vec<u8>>, String);

fn row(r: &Row) -> Vec<Value> {
    vec![
        Value::from(r.0),
        Value::from(r.1),
        Value::from(r.2),
        Value::from(r.3.clone()),
        Value::from(r.4.clone()),
        Value::from(r.5.clone()),
    ]
}

async fn stored(app: &crate::helpers::TestApp) -> Vec<Row> {
    sqlx::query_as("SELECT id, n, x, t, b, must FROM bulk_kinds ORDER BY id")
        .fetch_all(app.state.db.reader())
        .await
        .unwrap()
}

const COLUMNS: [&str; 6] = ["id", "n", "x", "t", "b", "must"];

#[tokio::test]
async fn every_kind_of_value_comes_back_exactly_nulls_and_empties_included() {
    let app = spawn_app().await;
    probe_table(&app).await;
    let db = &app.state.db;
    let odd: Vec<Row> = vec![
        (
            1,
            Some(i64::MAX),
            Some(113.123_456_789_012_34),
            Some("王小明\n\"引号\" 'x' \\ %_".into()),
            Some(vec![0, 255, 0]),
            "a".into(),
        ),
        (2, None, None, None, None, String::new()),
        (3, Some(i64::MIN), Some(-0.5), Some(String::new()), Some(Vec::new()), "c".into()),
    ];
    // Many rows in one call as well, each different, to show none is dropped or repeated.
    let many: Vec<Row> = (10..20_010_i64)
        .map(|i| {
            (
                i,
                Some(i * 7),
                Some(i as f64 / 3.0),
                Some(format!("居民{i}")),
                Some(i.to_be_bytes().to_vec()),
                i.to_string(),
            )
        })
        .collect();
    let mut tx = db.begin().await.unwrap();
    db.insert_rows(&mut tx, "bulk_kinds", &COLUMNS, odd.iter().map(row).collect()).await.unwrap();
    db.insert_rows(&mut tx, "bulk_kinds", &COLUMNS, many.iter().map(row).collect()).await.unwrap();
    db.insert_rows(&mut tx, "bulk_kinds", &COLUMNS, Vec::new()).await.unwrap();
    tx.commit().await.unwrap();

    let back = stored(&app).await;
    assert_eq!(back.len(), 3 + 20_000);
    assert_eq!(&back[..3], &odd[..], "odd values, nulls and empties");
    assert_eq!(&back[3..], &many[..], "the large call, row for row");
    assert_eq!(back[2].3.as_deref(), Some(""), "an empty text is not a null");
    assert_eq!(back[2].4.as_deref(), Some(&[][..]), "an empty blob is not a null");
}

#[tokio::test]
async fn a_call_with_one_bad_row_writes_none_of_its_rows() {
    let app = spawn_app().await;
    probe_table(&app).await;
    let db = &app.state.db;
    let good = |i: i64| -> Vec<Value> { row(&(i, Some(i), None, None, None, format!("r{i}"))) };
    let mut rows: Vec<Vec<Value>> = (1..=500).map(good).collect();
    // Row 301 breaks NOT NULL.
    rows[300][5] = Value::Text(None);
    let mut tx = db.begin().await.unwrap();
    let failed = db.insert_rows(&mut tx, "bulk_kinds", &COLUMNS, rows).await;
    let message = failed.expect_err("a null in a NOT NULL column fails the call").to_string();
    assert!(message.to_lowercase().contains("null"), "the error says why: {message}");
    drop(tx);
    assert!(stored(&app).await.is_empty(), "no row of the failed call stays");

    // The same rows without the bad one then go in.
    let mut tx = db.begin().await.unwrap();
    db.insert_rows(&mut tx, "bulk_kinds", &COLUMNS, (1..=500).map(good).collect()).await.unwrap();
    tx.commit().await.unwrap();
    let back = stored(&app).await;
    assert_eq!(back.len(), 500);
    assert_eq!(back[300].5, "r301");
}
