//! The Executor on every kind of connection, the statement cache, streaming, transactions,
//! health and close.

mod common;

use std::time::Duration;

use futures_util::TryStreamExt;
use skelly_db::{DetachedConnection, Error, Executor, PoolConfig};

async fn count(db: &impl Executor, table: &str) -> i64 {
    db.query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

// Generic code over the trait: the way every runtime function is written.
async fn insert_and_count(db: &impl Executor, n: i32) -> i64 {
    db.execute("INSERT INTO t (n) VALUES ($1)", &[&n])
        .await
        .unwrap();
    count(db, "t").await
}

#[tokio::test]
async fn every_executor_kind_runs_statements() {
    let db = common::empty_db().await;
    let pool = db.pool();
    pool.batch_execute("CREATE TABLE t (n int)").await.unwrap();

    assert_eq!(insert_and_count(pool, 1).await, 1);
    let mut conn = pool.get().await.unwrap();
    assert_eq!(insert_and_count(&conn, 2).await, 2);
    {
        let tx = conn.begin().await.unwrap();
        assert_eq!(insert_and_count(&tx, 3).await, 3);
        tx.commit().await.unwrap();
    }
    let detached = DetachedConnection::connect(&db.pg_config()).await.unwrap();
    assert_eq!(insert_and_count(&detached, 4).await, 4);

    let (client, connection) = db.pg_config().connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    assert_eq!(insert_and_count(&client, 5).await, 5);
    // A reference to an executor is an executor too.
    assert_eq!(insert_and_count(&&client, 6).await, 6);

    let row = pool
        .query_opt("SELECT n FROM t WHERE n = $1", &[&42i32])
        .await
        .unwrap();
    assert!(row.is_none());
    let err = pool
        .query_one("SELECT n FROM t WHERE n = $1", &[&42i32])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let rows = pool.query("SELECT n FROM t ORDER BY n", &[]).await.unwrap();
    let ns: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(ns, [1, 2, 3, 4, 5, 6]);
}

#[tokio::test]
async fn repeated_statements_are_prepared_once_per_connection() {
    let db = common::empty_db().await;
    let pool = PoolConfig::from_pg_config(db.pg_config())
        .max_size(1)
        .build()
        .unwrap();
    let sql = "SELECT $1::int + 1";
    for i in 0..20i32 {
        let row = pool.query_one(sql, &[&i]).await.unwrap();
        assert_eq!(row.get::<_, i32>(0), i + 1);
    }
    let conn = pool.get().await.unwrap();
    assert_eq!(conn.cached_statements(), 1);
    // The server agrees: one prepared statement for that text on this connection.
    let prepared: i64 = conn
        .client()
        .query_one(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1",
            &[&sql],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(prepared, 1);
    // A different statement adds one entry; repeating it adds none.
    conn.query("SELECT 2", &[]).await.unwrap();
    conn.query("SELECT 2", &[]).await.unwrap();
    assert_eq!(conn.cached_statements(), 2);
    drop(conn);
    pool.close().await;
}

#[tokio::test]
async fn transaction_statements_share_the_connection_cache() {
    let db = common::empty_db().await;
    let pool = db.pool();
    let mut conn = pool.get().await.unwrap();
    conn.query("SELECT 1", &[]).await.unwrap();
    let tx = conn.begin().await.unwrap();
    tx.query("SELECT 1", &[]).await.unwrap();
    tx.rollback().await.unwrap();
    // Behind the pooler (statement cache 0) nothing is named.
    let expected = usize::from(!common::through_pgbouncer());
    assert_eq!(conn.cached_statements(), expected);
}

#[tokio::test]
async fn streams_large_results_row_by_row() {
    let db = common::empty_db().await;
    let pool = db.pool();
    let n = 50_000i32;
    let params: [skelly_db::Param<'_>; 1] = [&n];
    let mut stream = pool
        .query_stream("SELECT g FROM generate_series(1, $1) g", &params)
        .await
        .unwrap();
    // While the stream is open it holds its pooled connection.
    assert_eq!(pool.status().available, pool.status().size - 1);
    let mut sum = 0i64;
    let mut seen = 0;
    while let Some(row) = stream.try_next().await.unwrap() {
        sum += i64::from(row.get::<_, i32>(0));
        seen += 1;
    }
    assert_eq!(seen, n);
    assert_eq!(sum, i64::from(n) * i64::from(n + 1) / 2);
    assert_eq!(stream.rows_affected(), Some(n as u64));
    drop(stream);
    assert_eq!(pool.status().available, pool.status().size);

    // Errors surface as stream items or at the start, as the typed error.
    let err = pool.query_stream("SELECT 1/0", &[]).await.map(|_| ()).err();
    let err = match err {
        Some(e) => e,
        None => {
            let s = pool.query_stream("SELECT 1/0", &[]).await.unwrap();
            s.try_collect::<Vec<_>>().await.unwrap_err()
        }
    };
    assert_eq!(err.sqlstate(), Some("22012"));
}

#[tokio::test]
async fn transactions_commit_roll_back_and_roll_back_on_drop() {
    let db = common::empty_db().await;
    let pool = db.pool();
    pool.batch_execute("CREATE TABLE t (n int)").await.unwrap();
    let mut conn = pool.get().await.unwrap();

    let tx = conn.begin().await.unwrap();
    tx.execute("INSERT INTO t VALUES (1)", &[]).await.unwrap();
    tx.commit().await.unwrap();

    let tx = conn.begin().await.unwrap();
    tx.execute("INSERT INTO t VALUES (2)", &[]).await.unwrap();
    tx.rollback().await.unwrap();

    {
        let tx = conn.begin().await.unwrap();
        tx.execute("INSERT INTO t VALUES (3)", &[]).await.unwrap();
        // Inside, the row is visible; outside, not yet.
        assert_eq!(count(&tx, "t").await, 2);
        assert_eq!(count(pool, "t").await, 1);
        // dropped without commit
    }
    assert_eq!(count(&conn, "t").await, 1);

    let mut tx = conn.begin().await.unwrap();
    tx.execute("INSERT INTO t VALUES (4)", &[]).await.unwrap();
    {
        let sp = tx.savepoint().await.unwrap();
        sp.execute("INSERT INTO t VALUES (5)", &[]).await.unwrap();
        // dropped: back to the savepoint
    }
    tx.commit().await.unwrap();
    let rows = pool.query("SELECT n FROM t ORDER BY n", &[]).await.unwrap();
    let ns: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(ns, [1, 4]);
}

#[tokio::test]
async fn health_reports_latency_and_counts() {
    let db = common::empty_db().await;
    let health = db.pool().health().await.unwrap();
    assert!(health.latency > Duration::ZERO);
    assert!(health.latency < Duration::from_secs(5));
    assert_eq!(health.status.size, 1);
    assert_eq!(health.status.available, 1);
    assert_eq!(health.status.waiting, 0);
    assert_eq!(health.status.max_size, 4);
}

#[tokio::test]
async fn close_stops_checkouts_and_waits_for_in_flight_work() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let db = common::empty_db().await;
    let pool = PoolConfig::from_pg_config(db.pg_config()).build().unwrap();
    let (checked_out, is_checked_out) = tokio::sync::oneshot::channel();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let busy = pool.clone();
    let in_flight = tokio::spawn(async move {
        let conn = busy.get().await.unwrap();
        checked_out.send(()).unwrap();
        released.await.unwrap();
        conn.query_one("SELECT 1", &[])
            .await
            .map(|r| r.get::<_, i32>(0))
    });
    is_checked_out.await.unwrap();
    assert_eq!(pool.status().size, 1);

    let came_back = Arc::new(AtomicBool::new(false));
    let closing = tokio::spawn({
        let pool = pool.clone();
        let came_back = came_back.clone();
        async move {
            pool.close().await;
            // close returned only after the in-flight checkout came back.
            assert!(came_back.load(Ordering::SeqCst), "close returned early");
        }
    });
    common::eventually("the pool is closed", || async { pool.is_closed() }).await;
    let err = pool.get().await.unwrap_err();
    assert!(matches!(err, Error::Connection { .. }), "{err:?}");
    assert!(err.to_string().contains("closed"), "{err}");

    came_back.store(true, Ordering::SeqCst);
    release.send(()).unwrap();
    assert_eq!(in_flight.await.unwrap().unwrap(), 1);
    closing.await.unwrap();
    assert_eq!(pool.status().size, 0);
}

#[tokio::test]
async fn connections_survive_being_detached() {
    let db = common::empty_db().await;
    let pool = db.pool();
    let conn = pool.get().await.unwrap().detach();
    assert_eq!(pool.status().size, 0);
    let row = conn.query_one("SELECT 7", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 7);
}

#[tokio::test]
async fn cached_statements_survive_a_column_type_change() {
    let db = common::empty_db().await;
    let pool = PoolConfig::from_pg_config(db.pg_config())
        .max_size(1)
        .build()
        .unwrap();
    pool.batch_execute("CREATE TABLE t (n int); INSERT INTO t VALUES (1)")
        .await
        .unwrap();
    let sql = "SELECT n FROM t";
    let row = pool.query_one(sql, &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 1);
    // A migration changes the column's type under the cached statement.
    pool.batch_execute("ALTER TABLE t ALTER COLUMN n TYPE bigint")
        .await
        .unwrap();
    let row = pool.query_one(sql, &[]).await.expect("re-prepared");
    assert_eq!(row.get::<_, i64>(0), 1);

    // Inside a transaction the error stands (the transaction is aborted), but the cache
    // forgets the statement, so the next attempt works.
    pool.batch_execute("ALTER TABLE t ALTER COLUMN n TYPE int")
        .await
        .unwrap();
    let mut conn = pool.get().await.unwrap();
    {
        conn.query_one(sql, &[]).await.unwrap();
        conn.batch_execute("ALTER TABLE t ALTER COLUMN n TYPE bigint")
            .await
            .unwrap();
        let tx = conn.begin().await.unwrap();
        let err = tx.query_one(sql, &[]).await.unwrap_err();
        assert_eq!(err.sqlstate(), Some("0A000"), "{err:?}");
    }
    let row = conn.query_one(sql, &[]).await.unwrap();
    assert_eq!(row.get::<_, i64>(0), 1);
}

#[tokio::test]
async fn close_returns_by_its_deadline_and_ends_stragglers() {
    let db = common::empty_db().await;
    let pool = db
        .pool_config()
        .close_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let held = pool.get().await.unwrap();
    let start = std::time::Instant::now();
    pool.close().await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // The straggler's connection was ended under it.
    common::eventually("the held connection is closed", || async {
        held.client().is_closed()
    })
    .await;
    let err = held.query_one("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(err.status(), 503, "{err}");
}

/// Issue 22, N6: with replicas, close() refuses checkouts at once on the primary and every
/// replica, and ends stragglers on all of them within one close_timeout (it took one per pool,
/// one after the other, and kept handing out primary connections meanwhile).
#[tokio::test]
async fn close_with_replicas_takes_one_close_timeout_and_refuses_at_once() {
    let db = common::empty_db().await;
    let pool = db
        .pool_config()
        // Two "replicas" on the same server: close() does not care what they replicate.
        .replica(&db.url())
        .replica(&db.url())
        .close_timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    let held = [
        pool.get().await.unwrap(),
        pool.replicas()[0].get().await.unwrap(),
        pool.replicas()[1].get().await.unwrap(),
    ];
    let start = std::time::Instant::now();
    let closing = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.close().await })
    };
    common::eventually("close() has begun", || async { pool.is_closed() }).await;
    for p in std::iter::once(&pool).chain(pool.replicas()) {
        assert!(p.is_closed());
        let err = p.get().await.unwrap_err();
        assert!(err.to_string().contains("closed"), "{err}");
    }
    closing.await.unwrap();
    let took = start.elapsed();
    eprintln!("close() with two replicas and three stragglers took {took:?}");
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_millis(1_200),
        "three pools closed one after the other would take 1.2 s: {took:?}"
    );
    for conn in &held {
        common::eventually("the held connection is closed", || async {
            conn.client().is_closed()
        })
        .await;
    }
}

#[tokio::test]
async fn connects_back_off_during_an_outage_and_the_pool_recovers_by_itself() {
    use skelly_db::testing::TempServer;
    // The server's port, with nothing listening yet: an outage.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pool = PoolConfig::new(&format!("postgres://postgres@127.0.0.1:{port}/postgres"))
        .unwrap()
        .max_size(10)
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let outage = Duration::from_secs(10);
    let start = std::time::Instant::now();
    let tasks = (0..50).map(|_| {
        let pool = pool.clone();
        tokio::spawn(async move {
            let (mut checkouts, mut slowest) = (0u32, Duration::ZERO);
            while start.elapsed() < outage {
                let t = std::time::Instant::now();
                let err = pool.get().await.unwrap_err();
                assert!(matches!(err, Error::Connection { .. }), "{err:?}");
                slowest = slowest.max(t.elapsed());
                checkouts += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (checkouts, slowest)
        })
    });
    let results = futures_util::future::join_all(tasks).await;
    let checkouts: u32 = results.iter().map(|r| r.as_ref().unwrap().0).sum();
    let slowest = results.iter().map(|r| r.as_ref().unwrap().1).max().unwrap();
    let attempts = pool.status().connect_attempts;
    let per_second = attempts as f64 / outage.as_secs_f64();
    eprintln!(
        "outage of {outage:?}, 50 tasks: {checkouts} failed checkouts (slowest {slowest:?}), \
         {attempts} connect attempts = {per_second:.1}/s"
    );
    // Fail fast, and back off: a few attempts a second, not one per checkout.
    assert!(slowest < Duration::from_secs(1), "{slowest:?}");
    assert!(checkouts > 10_000, "{checkouts}");
    assert!(
        per_second < 10.0,
        "{per_second} connect attempts per second"
    );

    // The server comes back where the pool expects it; the pool recovers by itself.
    let _server = TempServer::builder()
        .port(port)
        .start()
        .unwrap_or_else(|e| panic!("the test server must start: {e}"));
    let back = std::time::Instant::now();
    common::eventually("the pool serves again", || async {
        pool.query_one("SELECT 1", &[]).await.is_ok()
    })
    .await;
    eprintln!("recovered {:?} after the server returned", back.elapsed());
    assert!(back.elapsed() < Duration::from_secs(5));
}
