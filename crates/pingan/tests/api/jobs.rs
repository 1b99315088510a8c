use crate::helpers::spawn_app;
use pingan::jobs;

async fn pending(app: &crate::helpers::TestApp, kind: &str) -> Vec<(i64, i64)> {
    sqlx::query_as("SELECT id, due_at FROM jobs WHERE kind = $1 AND done_at IS NULL")
        .bind(kind)
        .fetch_all(app.state.db.reader())
        .await
        .unwrap()
}

#[tokio::test]
async fn housekeeping_runs_once_a_night_across_servers_and_restarts() {
    let app = spawn_app().await;
    let other = app.second_server().await;
    // Both servers start: one pending chore, not two.
    jobs::start(app.state.clone()).await.unwrap().abort();
    jobs::start(other.state.clone()).await.unwrap().abort();
    let first = pending(&app, "housekeeping").await;
    assert_eq!(first.len(), 1);

    // Old failures and long-dead sessions exist.
    app.login_with("officer", "wrong-password-123", None).await;
    assert_eq!(jobs::run_due(&app.state).await.unwrap(), 0, "not due yet");

    app.clock.advance_ms(first[0].1 - app.clock.now_ms() + 2 * 86_400_000);
    // Both servers try; exactly one runs it.
    let (a, b) = tokio::join!(jobs::run_due(&app.state), jobs::run_due(&other.state));
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    let failures: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM auth_failures").fetch_one(app.state.db.reader()).await.unwrap();
    assert_eq!(failures, 0, "old sign-in failures purged");
    let next = pending(&app, "housekeeping").await;
    assert_eq!(next.len(), 1, "the next night's run is scheduled");
    assert!(next[0].1 > app.clock.now_ms());

    // A "restart": a new server on the same database finds the schedule as it was.
    let restarted = app.second_server().await;
    jobs::start(restarted.state.clone()).await.unwrap().abort();
    assert_eq!(pending(&app, "housekeeping").await, next);
}

#[tokio::test]
async fn a_job_whose_lease_expired_mid_run_is_not_completed_twice() {
    let app = spawn_app().await;
    let other = app.second_server().await;
    let now = app.clock.now_ms();
    jobs::ensure_singleton(&app.state, "housekeeping", now).await.unwrap();
    let claimed = jobs::claim_due(&app.state, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    // This server stalls past its lease; the other takes the job over and finishes it.
    app.clock.advance_ms(61_000);
    assert_eq!(jobs::run_due(&other.state).await.unwrap(), 1);
    // The stalled server's completion is refused, so its effect would roll back.
    let mut tx = app.state.db.begin().await.unwrap();
    assert!(!jobs::complete(&mut tx, &app.state, &claimed[0]).await.unwrap());
    tx.rollback().await.unwrap();
}
