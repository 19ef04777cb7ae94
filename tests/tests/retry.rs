//! `Pool::transaction`: commit, roll back, and retry on serialization failures.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use skelly_db::pool::{Isolation, TxOptions};
use skelly_db::{Error, Executor};

#[tokio::test]
async fn twenty_concurrent_serializable_increments_all_commit() {
    let db = common::empty_db().await;
    let pool = db.pool_config().max_size(10).build().unwrap();
    pool.batch_execute("CREATE TABLE counter (n int8 NOT NULL); INSERT INTO counter VALUES (0)")
        .await
        .unwrap();
    let runs = Arc::new(AtomicU32::new(0));
    let tasks = (0..20).map(|_| {
        let (pool, runs) = (pool.clone(), runs.clone());
        tokio::spawn(async move {
            pool.transaction(TxOptions::serializable().max_attempts(100), |tx| {
                let runs = runs.clone();
                Box::pin(async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    let n: i64 = tx.query_one("SELECT n FROM counter", &[]).await?.get(0);
                    // Widen the window in which the transactions overlap.
                    tx.batch_execute("SELECT pg_sleep(0.002)").await?;
                    tx.execute("UPDATE counter SET n = $1", &[&(n + 1)]).await?;
                    Ok::<_, Error>(n + 1)
                })
            })
            .await
        })
    });
    for task in futures_util::future::join_all(tasks).await {
        task.unwrap().unwrap();
    }
    let n: i64 = pool
        .query_one("SELECT n FROM counter", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 20);
    // Usually some ran more than once (how many depends on timing; the retry itself is shown
    // deterministically below).
    let runs = runs.load(Ordering::SeqCst);
    assert!(runs >= 20, "{runs} runs for 20 increments");
    eprintln!("20 serializable increments took {runs} runs of the closure");
}

#[tokio::test]
async fn other_errors_are_not_retried_and_roll_back() {
    let db = common::empty_db().await;
    let pool = db.pool();
    pool.batch_execute("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)")
        .await
        .unwrap();
    let runs = AtomicU32::new(0);
    let err = pool
        .transaction(TxOptions::new(), |tx| {
            runs.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                tx.execute("INSERT INTO t VALUES (2)", &[]).await?;
                tx.execute("INSERT INTO t VALUES (1)", &[]).await?;
                Ok::<_, Error>(())
            })
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "unique_violation");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let n: i64 = pool
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "the first insert was rolled back");

    // Read-only transactions refuse writes.
    let err = pool
        .transaction(
            TxOptions::new()
                .isolation(Isolation::RepeatableRead)
                .read_only(true),
            |tx| Box::pin(async move { tx.execute("INSERT INTO t VALUES (3)", &[]).await }),
        )
        .await
        .unwrap_err();
    assert_eq!(err.sqlstate(), Some("25006"), "{err}");
}

#[tokio::test]
async fn running_out_of_attempts_says_how_many() {
    let db = common::empty_db().await;
    let pool = db.pool();
    let err = pool
        .transaction(TxOptions::new().max_attempts(3), |tx| {
            Box::pin(async move {
                // A serialization failure on demand.
                tx.batch_execute(
                    "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$",
                )
                .await?;
                Ok::<_, Error>(())
            })
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Retried { attempts: 3, .. }), "{err:?}");
    assert_eq!(err.code(), "serialization_failure");
    assert!(
        err.to_string()
            .starts_with("transaction failed after 3 attempts"),
        "{err}"
    );
}

/// The application's own error type (issue 25).
#[derive(Debug)]
enum AppError {
    Overdrawn(i64),
    Db(Error),
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError::Db(e)
    }
}

#[tokio::test]
async fn the_closure_may_return_the_applications_error() {
    let db = common::empty_db().await;
    let pool = db.pool();
    pool.batch_execute("CREATE TABLE accounts (id int PRIMARY KEY, balance int8 NOT NULL); INSERT INTO accounts VALUES (1, 5)")
        .await
        .unwrap();
    let withdraw = |amount: i64| {
        let runs = Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        let pool = pool.clone();
        async move {
            let result = pool
                .transaction(TxOptions::serializable(), |tx| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    Box::pin(async move {
                        let balance: i64 = tx
                            .query_one(
                                "UPDATE accounts SET balance = balance - $1 WHERE id = 1 RETURNING balance",
                                &[&amount],
                            )
                            .await?
                            .get(0);
                        if balance < 0 {
                            return Err(AppError::Overdrawn(balance));
                        }
                        Ok(balance)
                    })
                })
                .await;
            (result, runs.load(Ordering::SeqCst))
        }
    };
    // A domain error rolls back, comes back as itself, and is not retried.
    let (result, runs) = withdraw(7).await;
    assert!(matches!(result, Err(AppError::Overdrawn(-2))), "{result:?}");
    assert_eq!(runs, 1);
    let balance: i64 = pool
        .query_one("SELECT balance FROM accounts", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(balance, 5, "rolled back");
    let (result, _) = withdraw(3).await;
    assert!(matches!(result, Ok(2)), "{result:?}");

    // A database error inside keeps its kind through the conversion, and is not retried.
    let runs = AtomicU32::new(0);
    let result: Result<(), AppError> = pool
        .transaction(TxOptions::new(), |tx| {
            runs.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                tx.execute("INSERT INTO accounts VALUES (1, 0)", &[])
                    .await?;
                Ok(())
            })
        })
        .await;
    assert!(
        matches!(&result, Err(AppError::Db(e)) if e.code() == "unique_violation"),
        "{result:?}"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    // A serialization failure passed on as the application's error is retried, and the last
    // one comes back when the attempts run out.
    let runs = AtomicU32::new(0);
    let result: Result<(), AppError> = pool
        .transaction(TxOptions::new().max_attempts(3), |tx| {
            runs.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                tx.batch_execute(
                    "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$",
                )
                .await?;
                Ok(())
            })
        })
        .await;
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert!(
        matches!(&result, Err(AppError::Db(e)) if e.code() == "serialization_failure"),
        "{result:?}"
    );
    // Retried until it succeeds: the second attempt commits.
    let runs = AtomicU32::new(0);
    let result: Result<u32, AppError> = pool
        .transaction(TxOptions::new(), |tx| {
            let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
            Box::pin(async move {
                if run == 1 {
                    tx.batch_execute(
                        "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40P01'; END $$",
                    )
                    .await?;
                }
                tx.execute("UPDATE accounts SET balance = 100", &[]).await?;
                Ok(run)
            })
        })
        .await;
    assert!(matches!(result, Ok(2)), "{result:?}");
}
