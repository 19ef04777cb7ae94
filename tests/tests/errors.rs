//! Every error kind, produced by a real server and mapped to its variant, code and status.

mod common;

use std::time::{Duration, Instant};

use skelly_db::{ConstraintKind, Error, Executor, PoolConfig, TimeoutKind};

async fn schema(db: &impl Executor) {
    db.batch_execute(
        "CREATE TABLE parents (id int PRIMARY KEY);
         CREATE TABLE children (
             id int PRIMARY KEY,
             parent_id int NOT NULL CONSTRAINT children_parent_fk REFERENCES parents (id),
             age int CONSTRAINT children_age_check CHECK (age >= 0),
             email text CONSTRAINT children_email_key UNIQUE
         );
         CREATE TABLE bookings (
             room int NOT NULL,
             during int4range NOT NULL,
             CONSTRAINT bookings_no_overlap EXCLUDE USING gist (during WITH &&)
         );
         INSERT INTO parents VALUES (1);
         INSERT INTO children (id, parent_id, email) VALUES (1, 1, 'a@example.com');",
    )
    .await
    .expect("schema");
}

fn violation(err: Error) -> skelly_db::ConstraintViolation {
    match err {
        Error::Constraint(v) => v,
        other => panic!("expected a constraint violation, got {other:?}"),
    }
}

#[tokio::test]
async fn constraint_violations_are_typed() {
    let db = common::empty_db().await;
    let pool = db.pool();
    schema(pool).await;

    let err = pool
        .execute(
            "INSERT INTO children (id, parent_id, email) VALUES (2, 1, 'a@example.com')",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.status()), ("unique_violation", 409));
    assert_eq!(err.sqlstate(), Some("23505"));
    let v = violation(err);
    assert_eq!(v.kind, ConstraintKind::Unique);
    assert_eq!(v.constraint.as_deref(), Some("children_email_key"));
    assert_eq!(v.schema.as_deref(), Some("public"));
    assert_eq!(v.table.as_deref(), Some("children"));
    assert_eq!(
        v.detail.as_deref(),
        Some("Key (email)=(a@example.com) already exists.")
    );
    assert!(v.to_string().contains("children_email_key"), "{v}");

    let err = pool
        .execute("INSERT INTO children (id, parent_id) VALUES (3, 99)", &[])
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.status()), ("foreign_key_violation", 409));
    let v = violation(err);
    assert_eq!(v.kind, ConstraintKind::ForeignKey);
    assert_eq!(v.constraint.as_deref(), Some("children_parent_fk"));
    assert_eq!(v.table.as_deref(), Some("children"));

    // Deleting a parent still names the child table and the constraint.
    let err = pool
        .execute("DELETE FROM parents WHERE id = 1", &[])
        .await
        .unwrap_err();
    let v = violation(err);
    assert_eq!(v.kind, ConstraintKind::ForeignKey);
    assert_eq!(v.table.as_deref(), Some("children"));
    assert_eq!(v.constraint.as_deref(), Some("children_parent_fk"));

    let err = pool
        .execute(
            "INSERT INTO children (id, parent_id, age) VALUES (4, 1, -1)",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.status()), ("check_violation", 400));
    let v = violation(err);
    assert_eq!(v.kind, ConstraintKind::Check);
    assert_eq!(v.constraint.as_deref(), Some("children_age_check"));

    let err = pool
        .execute("INSERT INTO children (id, parent_id) VALUES (5, NULL)", &[])
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.status()), ("not_null_violation", 400));
    let v = violation(err);
    assert_eq!(v.kind, ConstraintKind::NotNull);
    assert_eq!(v.column.as_deref(), Some("parent_id"));
    assert_eq!(v.constraint, None);
    assert_eq!(v.table.as_deref(), Some("children"));

    pool.execute("INSERT INTO bookings VALUES (1, '[1,5)')", &[])
        .await
        .unwrap();
    let err = pool
        .execute("INSERT INTO bookings VALUES (2, '[3,8)')", &[])
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.status()), ("exclusion_violation", 409));
    let v = violation(err);
    assert_eq!(v.kind, ConstraintKind::Exclusion);
    assert_eq!(v.constraint.as_deref(), Some("bookings_no_overlap"));
    // The source error is kept.
    assert!(v.source_error().and_then(|e| e.as_db_error()).is_some());
}

#[tokio::test]
async fn other_server_errors_keep_sqlstate_and_message() {
    let db = common::empty_db().await;
    let err = db
        .pool()
        .query("SELECT * FROM no_such_table", &[])
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.status()), ("query", 500));
    assert_eq!(err.sqlstate(), Some("42P01"));
    match &err {
        Error::Query(e) => {
            assert_eq!(&*e.sqlstate, "42P01");
            assert!(e.message.contains("no_such_table"), "{}", e.message);
        }
        other => panic!("expected Query, got {other:?}"),
    }
    assert!(!err.is_retryable());
    assert!(std::error::Error::source(&err).is_some());
}

#[tokio::test]
async fn statement_timeout_is_a_timeout() {
    let db = common::empty_db().await;
    let pool = PoolConfig::from_pg_config(db.pg_config())
        .statement_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let err = pool.query("SELECT pg_sleep(5)", &[]).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                kind: TimeoutKind::Statement,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!((err.code(), err.status()), ("statement_timeout", 504));
    assert_eq!(err.sqlstate(), Some("57014"));
    pool.close().await;
}

#[tokio::test]
async fn lock_timeout_is_a_timeout() {
    let db = common::empty_db().await;
    let pool = db.pool();
    pool.batch_execute("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)")
        .await
        .unwrap();
    let mut holder = pool.get().await.unwrap();
    let tx = holder.begin().await.unwrap();
    tx.execute("UPDATE t SET id = 1 WHERE id = 1", &[])
        .await
        .unwrap();

    let mut waiter = pool.get().await.unwrap();
    let tx2 = waiter.begin().await.unwrap();
    tx2.batch_execute("SET LOCAL lock_timeout = '100ms'")
        .await
        .unwrap();
    let err = tx2
        .execute("UPDATE t SET id = 1 WHERE id = 1", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                kind: TimeoutKind::Lock,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!((err.code(), err.status()), ("lock_timeout", 504));
    assert_eq!(err.sqlstate(), Some("55P03"));
}

#[tokio::test]
async fn deadlock_is_retryable() {
    let db = common::empty_db().await;
    let pool = db.pool().clone();
    pool.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, n int); INSERT INTO t VALUES (1, 0), (2, 0)",
    )
    .await
    .unwrap();
    let mut c1 = pool.get().await.unwrap();
    let mut c2 = pool.get().await.unwrap();
    let t1 = c1.begin().await.unwrap();
    let t2 = c2.begin().await.unwrap();
    t1.execute("UPDATE t SET n = 1 WHERE id = 1", &[])
        .await
        .unwrap();
    t2.execute("UPDATE t SET n = 1 WHERE id = 2", &[])
        .await
        .unwrap();
    // Each now waits for the other; the server's deadlock detector cancels one of them.
    let (a, b) = tokio::join!(
        t1.execute("UPDATE t SET n = 2 WHERE id = 2", &[]),
        t2.execute("UPDATE t SET n = 2 WHERE id = 1", &[]),
    );
    let err = match (a, b) {
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => e,
        other => panic!("expected exactly one deadlock victim, got {other:?}"),
    };
    assert!(err.is_retryable(), "{err:?}");
    assert_eq!(err.sqlstate(), Some("40P01"));
    assert_eq!(err.code(), "deadlock_detected");
}

#[tokio::test]
async fn pool_exhaustion_times_out_instead_of_hanging() {
    let db = common::empty_db().await;
    let pool = PoolConfig::from_pg_config(db.pg_config())
        .max_size(1)
        .wait_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let held = pool.get().await.unwrap();
    let start = Instant::now();
    let err = pool.get().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                kind: TimeoutKind::PoolWait,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!((err.code(), err.status()), ("pool_timeout", 504));
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert_eq!(pool.status().size, 1);
    drop(held);
    pool.get().await.expect("free again once returned");
    pool.close().await;
}

#[tokio::test]
async fn unreachable_server_is_a_connection_error() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let pool = PoolConfig::new("postgres://postgres@127.0.0.1:1/test")
        .unwrap()
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = pool.get().await.unwrap_err();
    assert!(matches!(err, Error::Connection { .. }), "{err:?}");
    assert_eq!((err.code(), err.status()), ("connection_refused", 503));
    assert!(start.elapsed() < Duration::from_secs(3));

    let err = pool.health().await.unwrap_err();
    assert_eq!(err.status(), 503, "{err:?}");
}

#[tokio::test]
async fn unanswered_connect_times_out_within_the_connect_timeout() {
    // A listener that accepts but never speaks: the startup handshake hangs.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accept = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let pool = PoolConfig::new(&format!("postgres://postgres@127.0.0.1:{port}/test"))
        .unwrap()
        .connect_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = pool.health().await.unwrap_err();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(
        matches!(
            err,
            Error::Timeout {
                kind: TimeoutKind::Connect,
                ..
            } | Error::Connection { .. }
        ),
        "{err:?}"
    );
    // Issue 24: the error names the host, and the pool backs off as for a refused connection:
    // the next checkouts fail at once instead of each waiting the whole connect timeout.
    let text = err.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(
        text.contains("no answer within the connect timeout"),
        "{text}"
    );
    // Ten checkouts at once: at most one of them probes the host again (and waits for it).
    let checkouts = (0..10).map(|_| {
        let pool = pool.clone();
        tokio::spawn(async move {
            let start = Instant::now();
            let err = pool.get().await.unwrap_err();
            (start.elapsed(), err)
        })
    });
    let mut slow = 0;
    for checkout in futures_util::future::join_all(checkouts).await {
        let (took, err) = checkout.unwrap();
        assert_eq!(err.code(), "connect_timeout", "{err}");
        assert!(
            err.to_string().contains(&format!("127.0.0.1:{port}")),
            "{err}"
        );
        if took >= Duration::from_millis(250) {
            slow += 1;
        }
    }
    assert!(
        slow <= 1,
        "{slow} of 10 checkouts waited on a host known to be silent"
    );
    accept.abort();
}

#[tokio::test]
async fn terminated_connections_are_replaced() {
    let db = common::empty_db().await;
    let pool = db.pool();
    // Warm up two connections.
    let (a, b) = (pool.get().await.unwrap(), pool.get().await.unwrap());
    drop((a, b));
    assert_eq!(pool.status().size, 2);

    // Kill every backend of this database, as a server restart would.
    let admin = common::empty_db().await;
    let killed: i64 = admin
        .pool()
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1",
            &[&db.name()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(killed, 2);
    // The pool recovers by itself: once it serves a query, it keeps serving.
    common::eventually("the pool serves again", || async {
        pool.query_one("SELECT 1", &[]).await.is_ok()
    })
    .await;
    for _ in 0..5 {
        let row = pool
            .query_one("SELECT 1", &[])
            .await
            .expect("pool serves again");
        assert_eq!(row.get::<_, i32>(0), 1);
    }
    let health = pool.health().await.unwrap();
    assert!(health.status.size >= 1);
}

#[tokio::test]
async fn a_broken_connection_in_use_reports_connection_error() {
    let db = common::empty_db().await;
    let pool = db.pool();
    let conn = pool.get().await.unwrap();
    let pid: i32 = conn
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let admin = common::empty_db().await;
    admin
        .pool()
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();
    common::eventually("the client sees its connection closed", || async {
        conn.client().is_closed()
    })
    .await;
    let err = conn.query("SELECT 1", &[]).await.unwrap_err();
    assert!(matches!(err, Error::Connection { .. }), "{err:?}");
    assert_eq!(err.status(), 503);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn connect_error(url: &str) -> Error {
    let pool = PoolConfig::new(url)
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    pool.query_one("SELECT 1", &[]).await.unwrap_err()
}

#[tokio::test]
async fn connect_errors_say_why_and_where() {
    // Nothing listens: refused, naming host:port and the OS's words, never the password.
    let port = free_port();
    let err = connect_error(&format!("postgres://app:s3cret@127.0.0.1:{port}/db")).await;
    assert_eq!(
        (err.code(), err.status()),
        ("connection_refused", 503),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(text.to_lowercase().contains("refused"), "{text}");
    assert!(!text.contains("s3cret") && !format!("{err:?}").contains("s3cret"));
    assert!(matches!(
        err,
        Error::Connection {
            kind: skelly_db::ConnectionKind::Refused,
            ..
        }
    ));

    let err = connect_error("postgres://app@no-such-host.invalid:5432/db").await;
    assert_eq!(err.code(), "host_not_found", "{err}");
    assert!(
        err.to_string().contains("no-such-host.invalid:5432"),
        "{err}"
    );

    // The login is refused: on the real server, by role and by database.
    let db = common::empty_db().await;
    let url = db.url();
    let base = url.rsplit_once('/').unwrap().0;
    let err = connect_error(&format!("{}/no_such_database_here", base)).await;
    assert_eq!(err.code(), "database_not_found", "{err}");
    assert!(err.to_string().contains("no_such_database_here"), "{err}");

    let (scheme, rest) = url.split_once("://").unwrap();
    let host_and_db = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let err = connect_error(&format!("{scheme}://no_such_role@{host_and_db}")).await;
    assert_eq!(err.code(), "auth_failed", "{err}");

    // A role allowed one connection: the second is too many.
    let admin = db.pool();
    let role = format!("skelly_limited_{}", std::process::id());
    admin
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN CONNECTION LIMIT 1"
        ))
        .await
        .unwrap();
    let limited = format!("{scheme}://{role}@{host_and_db}");
    let first = PoolConfig::new(&limited).unwrap().build().unwrap();
    let held = first.get().await.unwrap();
    let err = connect_error(&limited).await;
    assert_eq!(err.code(), "too_many_connections", "{err}");
    drop(held);
    first.close().await;
    admin
        .batch_execute(&format!("DROP ROLE {role}"))
        .await
        .unwrap();

    // A client-side failure has no SQLSTATE.
    let err = admin.query("SELECT $1::int", &[]).await.unwrap_err();
    assert_eq!(err.sqlstate(), None, "{err:?}");
}

/// Issue 22, N11 and D8: a NUL byte in the SQL text is a `query` error that names it (it was a
/// connection error, 503), the connection stays usable, and no client-side error prints an
/// empty "(SQLSTATE )".
#[tokio::test]
async fn a_nul_byte_in_sql_is_a_query_error_naming_it() {
    let db = common::empty_db().await;
    let pool = db.pool();
    for err in [
        pool.execute("SELECT 1\0", &[]).await.unwrap_err(),
        pool.batch_execute("SELECT 1;\0").await.unwrap_err(),
    ] {
        let text = err.to_string();
        assert_eq!(err.code(), "query", "{text}");
        assert!(text.contains("NUL byte"), "{text}");
        assert!(!text.contains("(SQLSTATE )"), "{text}");
        assert_eq!(err.sqlstate(), None);
    }
    // A wrong parameter count is client-side too.
    let err = pool.execute("SELECT $1::int4", &[]).await.unwrap_err();
    assert!(!err.to_string().contains("(SQLSTATE )"), "{err}");
    pool.execute("SELECT 1", &[]).await.unwrap();
}
