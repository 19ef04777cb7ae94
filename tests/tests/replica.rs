//! Read replicas on a real streaming replica: `pg_basebackup -R` of the test server, started
//! by the test on a free port as the `postgres` OS user.

mod common;

use skelly_db::Table;
use std::time::{Duration, Instant};

use skelly_db::testing::{TempServer, TestDb};
use skelly_db::{Executor, Pool, PoolConfig};

use common::models::User;

/// A test database with the reference schema, its streaming replica, and a pool on both.
async fn primary_and_replica() -> (TestDb, TempServer, Pool) {
    let db = common::reference_db().await;
    let url = db.url();
    let replica =
        tokio::task::spawn_blocking(move || TempServer::builder().replica_of(&url).start())
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("the replica must start: {e}"));
    let pool = db
        .pool_config()
        .replica(&replica.url(db.name()))
        .connect_timeout(Duration::from_secs(2))
        .max_size(4)
        .build()
        .unwrap();
    (db, replica, pool)
}

async fn in_recovery(db: &impl Executor) -> bool {
    db.query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn reads_go_to_the_replica_writes_to_the_primary_and_reads_fall_back_while_it_is_down() {
    let (_db, replica, pool) = primary_and_replica().await;
    let reads = pool.replica();

    // Reads run on a standby; the pool itself, its transactions and writes on the primary.
    assert!(in_recovery(&reads).await);
    assert!(!in_recovery(&pool).await);
    let in_tx = pool
        .transaction(Default::default(), |tx| {
            Box::pin(async move { Ok::<_, skelly_db::Error>(in_recovery(tx).await) })
        })
        .await
        .unwrap();
    assert!(!in_tx);

    // A write on the primary streams to the replica, where typed reads find it.
    let ada = User::insert(&pool, common::new_user("ada@example.com"))
        .await
        .unwrap();
    common::eventually("the insert has reached the replica", || async {
        User::find(&reads, ada.id).await.unwrap().is_some()
    })
    .await;
    let err = User::insert(&reads, common::new_user("nope@example.com"))
        .await
        .unwrap_err();
    assert_eq!(
        err.sqlstate(),
        Some("25006"),
        "a replica is read-only: {err}"
    );

    let health = pool.health().await.unwrap();
    let r = &health.replicas[0];
    assert_eq!(health.replicas.len(), 1);
    assert_eq!(r.target, format!("127.0.0.1:{}", replica.port()));
    assert_eq!((r.in_recovery, r.error.as_deref()), (Some(true), None));
    assert!(r.latency.is_some());
    assert!(r.replay_lag.is_some(), "it has replayed the insert: {r:?}");

    // The replica stops: reads move to the primary within the connect timeout.
    replica.pause().unwrap();
    let start = Instant::now();
    assert!(!in_recovery(&reads).await, "read from the primary");
    let took = start.elapsed();
    eprintln!("first read after the replica stopped took {took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(User::find(&reads, ada.id).await.unwrap().is_some());
    let health = pool.health().await.unwrap();
    assert!(
        health.replicas[0].error.is_some(),
        "{:?}",
        health.replicas[0]
    );
    assert_eq!(health.replicas[0].in_recovery, None);

    // It comes back: reads return to it by themselves.
    replica.resume().unwrap();
    common::eventually("reads are back on the replica", || async {
        in_recovery(&reads).await
    })
    .await;

    let metrics = pool.metrics();
    let replica_status = metrics.replicas[0].status;
    assert!(replica_status.checkouts >= 3, "{replica_status:?}");
    assert!(replica_status.connect_failures >= 1, "{replica_status:?}");
    assert!(replica_status.connections_closed >= 1, "{replica_status:?}");
    assert!(metrics.primary.checkouts >= 3, "{:?}", metrics.primary);
    let text = metrics.to_prometheus();
    assert!(
        text.contains(&format!(
            "skelly_db_pool_connect_failures_total{{role=\"replica\",server=\"127.0.0.1:{}\"}} {}",
            replica.port(),
            replica_status.connect_failures
        )),
        "{text}"
    );
    pool.close().await;
}

#[tokio::test]
async fn without_replicas_reads_run_on_the_primary_and_health_lists_none() {
    let db = common::empty_db().await;
    assert!(db.pool().replicas().is_empty());
    assert!(!in_recovery(&db.pool().replica()).await);
    assert!(db.pool().health().await.unwrap().replicas.is_empty());
}

#[tokio::test]
async fn an_unreachable_replica_is_skipped_and_reported() {
    let db = common::empty_db().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pool = PoolConfig::new(&db.url())
        .unwrap()
        .replica(&format!("postgres://postgres@127.0.0.1:{port}/x"))
        .build()
        .unwrap();
    assert!(!in_recovery(&pool.replica()).await);
    let health = pool.health().await.unwrap();
    let error = health.replicas[0].error.as_deref().unwrap();
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    assert!(error.contains("refused"), "{error}");
    assert_eq!(pool.metrics().replicas[0].status.checkouts, 0);
}

/// The metrics example, pointed at the test database and its replica, serves both pools'
/// series on /metrics.
#[tokio::test]
async fn the_metrics_example_serves_primary_and_replica_series() {
    use std::io::{Read as _, Write as _};

    let (db, replica, pool) = primary_and_replica().await;
    pool.close().await;
    let exe = std::env::current_exe().unwrap();
    let example = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/metrics");
    assert!(example.exists(), "{} was not built", example.display());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(example)
        .args(["--serve", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", db.url())
        .env("DATABASE_REPLICA_URLS", replica.url(db.name()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Polled until the example listens (it connects and runs its queries first).
    let start = Instant::now();
    let response = loop {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            stream
                .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            break response;
        }
        if start.elapsed() > Duration::from_secs(30) || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the example did not serve: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    let replica_series = format!(
        "skelly_db_pool_checkouts_total{{role=\"replica\",server=\"127.0.0.1:{}\"}} 10",
        replica.port()
    );
    assert!(response.contains(&replica_series), "{response}");
    assert!(
        response.contains("skelly_db_pool_checkouts_total{role=\"primary\",server=\"127.0.0.1:"),
        "{response}"
    );
}
