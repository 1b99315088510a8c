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

#[tokio::test]
async fn a_groups_audit_entries_land_in_order_with_their_work_and_the_chain_holds() {
    let app = spawn_app().await;
    let head = app.audit_head().await;
    let mut tasks = Vec::new();
    for i in 0..120 {
        let state = app.state.clone();
        tasks.push(tokio::spawn(async move {
            let db = state.db.clone();
            db.grouped_audited(move |tx| {
                Box::pin(async move {
                    sqlx::query("INSERT INTO meta (key, value) VALUES ($1, 'x')")
                        .bind(format!("audited-{i}"))
                        .execute(&mut **tx)
                        .await?;
                    if i % 7 == 2 {
                        return Err(AppError::invalid("i", format!("{i} is refused")));
                    }
                    let entry = pingan::audit::Entry::cli("test.grouped").record(format!("meta:audited-{i}"));
                    Ok((i, vec![pingan::audit::Pending { state, at: i, entry }]))
                })
            })
            .await
        }));
    }
    let mut landed = Vec::new();
    for t in tasks {
        if let Ok(i) = t.await.unwrap() {
            landed.push(i);
        }
    }
    assert_eq!(landed.len(), (0..120).filter(|i| i % 7 != 2).count(), "every seventh (from 2) is refused");
    let entries = app.audit_since(head).await;
    let mut audited: Vec<i64> =
        entries.iter().map(|e| e.2.trim_matches(',').trim_start_matches("meta:audited-").parse().unwrap()).collect();
    assert_eq!(audited.len(), landed.len(), "one entry per piece that committed, none for the refused");
    audited.sort_unstable();
    let mut expected = landed.clone();
    expected.sort_unstable();
    assert_eq!(audited, expected);
    let verified = pingan::audit::verify(&app.state.db, &app.state.key).await.unwrap();
    assert!(verified.is_ok(), "the chain holds: {verified:?}");
}

#[tokio::test]
async fn a_failing_write_alone_in_its_group_leaves_nothing_behind() {
    let app = spawn_app().await;
    // One after another, so each is alone in its group (which runs without a savepoint).
    for i in 0..3 {
        let refused = app
            .state
            .db
            .grouped(move |tx| {
                Box::pin(async move {
                    sqlx::query("INSERT INTO meta (key, value) VALUES ($1, 'x')")
                        .bind(format!("alone-{i}"))
                        .execute(&mut **tx)
                        .await?;
                    Err::<(), _>(AppError::invalid("i", "refused"))
                })
            })
            .await;
        assert!(matches!(refused, Err(AppError::Invalid { .. })), "{refused:?}");
        let landed = app.state.db.grouped(move |_| Box::pin(async move { Ok(i) })).await.unwrap();
        assert_eq!(landed, i, "the writer goes on after a refusal");
    }
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM meta WHERE key LIKE 'alone-%'")
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    assert_eq!(stored, 0);
}
