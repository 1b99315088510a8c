//! Grouped writes (the SQLite group commit; on PostgreSQL a transaction each): concurrent small
//! writes all land, a failing one is rolled back alone, and each caller gets its own answer.

use pingan::web::error::AppError;

use crate::helpers::spawn_app;

#[tokio::test]
async fn concurrent_grouped_writes_land_and_a_failing_one_is_rolled_back_alone() {
    let app = spawn_app().await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let db = app.state.db.clone();
        tasks.push(tokio::spawn(async move {
            db.grouped(move |tx| {
                Box::pin(async move {
                    sqlx::query("INSERT INTO meta (key, value) VALUES ($1, 'x')")
                        .bind(format!("group-{i}"))
                        .execute(&mut **tx)
                        .await?;
                    if i % 10 == 3 {
                        // Written, then refused: the savepoint takes the row back.
                        return Err(AppError::invalid("i", format!("{i} is refused")));
                    }
                    Ok(i)
                })
            })
            .await
        }));
    }
    let mut ok = 0;
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Ok(v) => {
                assert_eq!(v, i, "each caller gets its own answer");
                ok += 1;
            }
            Err(AppError::Invalid { reason, .. }) => assert_eq!(reason, format!("{i} is refused")),
            Err(other) => panic!("{i}: {other}"),
        }
    }
    assert_eq!(ok, 180);
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM meta WHERE key LIKE 'group-%'")
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    assert_eq!(stored, 180, "the refused writes left nothing behind, the rest all landed");
    let refused: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM meta WHERE key = 'group-3'")
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    assert_eq!(refused, 0);
}
