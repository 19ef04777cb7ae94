//! The `testing` feature: per-test databases, templates, keep, rollback transactions.

mod common;

use skelly_db::testing::{RollbackTransaction, TestDb};
use skelly_db::Executor;

async fn database_exists(name: &str) -> bool {
    let admin = common::empty_db().await;
    admin
        .pool()
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn each_test_database_is_new_and_dropped_afterwards() {
    let a = common::empty_db().await;
    let b = common::empty_db().await;
    assert_ne!(a.name(), b.name());
    a.pool()
        .batch_execute("CREATE TABLE only_in_a (n int)")
        .await
        .unwrap();
    let in_b = b
        .pool()
        .query_opt("SELECT to_regclass('only_in_a')::text", &[])
        .await
        .unwrap()
        .unwrap()
        .get::<_, Option<String>>(0);
    assert_eq!(in_b, None);
    let name = a.name().to_string();
    assert!(database_exists(&name).await);
    drop(a);
    assert!(!database_exists(&name).await);
}

#[tokio::test]
async fn the_database_is_dropped_when_the_test_panics() {
    // Run a "test" that panics while holding its TestDb, on a runtime of its own.
    let name = std::thread::spawn(|| {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // The sender moves into the "test": however it ends, it is dropped with it, so the
        // receiver below never waits for a name that will not come.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            runtime.block_on(async move {
                let db = TestDb::new().await.expect("create a test database");
                tx.send(db.name().to_string()).unwrap();
                panic!("the test failed");
            })
        }));
        assert!(outcome.is_err());
        rx.recv()
            .expect("the panicking test never created its database (see the panic above)")
    })
    .join()
    .unwrap();
    assert!(!database_exists(&name).await, "{name} was left behind");
}

#[tokio::test]
async fn keep_leaves_the_database_for_debugging() {
    let db = TestDb::builder().keep(true).build().await.unwrap();
    let name = db.name().to_string();
    drop(db);
    assert!(database_exists(&name).await);
    let admin = common::empty_db().await;
    admin
        .pool()
        .batch_execute(&format!("DROP DATABASE \"{name}\""))
        .await
        .unwrap();
}

#[tokio::test]
async fn migrations_are_applied_from_a_template() {
    let dbs = futures_util::future::join_all((0..4).map(|_| common::reference_db())).await;
    for db in &dbs {
        let n: i64 = db
            .pool()
            .query_one("SELECT count(*) FROM \"user\".users", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 0);
        let applied: i64 = db
            .pool()
            .query_one("SELECT count(*) FROM public.skelly_migrations", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(applied, 1);
    }
    // Writes in one do not show in another.
    dbs[0]
        .pool()
        .execute(
            "INSERT INTO \"user\".users (email, display_name, role) VALUES ('a@x', 'A', 'admin')",
            &[],
        )
        .await
        .unwrap();
    let n: i64 = dbs[1]
        .pool()
        .query_one("SELECT count(*) FROM \"user\".users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    // The template exists, named after the migrations' fingerprint.
    let fingerprint = skelly_db::migrate::Migrator::from_dir(common::reference_migrations())
        .unwrap()
        .fingerprint();
    assert!(database_exists(&format!("skelly_tpl_{}", &fingerprint[..24])).await);
}

#[tokio::test]
async fn rollback_transaction_undoes_everything() {
    let db = common::empty_db().await;
    let pool = db.pool();
    pool.batch_execute("CREATE TABLE t (n int)").await.unwrap();
    {
        let tx = RollbackTransaction::begin(pool).await.unwrap();
        tx.execute("INSERT INTO t VALUES (1)", &[]).await.unwrap();
        let inside: i64 = tx
            .query_one("SELECT count(*) FROM t", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(inside, 1);
    }
    let tx = RollbackTransaction::begin(pool).await.unwrap();
    tx.execute("INSERT INTO t VALUES (2)", &[]).await.unwrap();
    tx.rollback().await.unwrap();
    // Neither insert was committed, so no other session ever sees it.
    let after: i64 = pool
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(after, 0);
}

#[tokio::test]
async fn the_url_points_at_the_test_database() {
    let db = common::empty_db().await;
    let pool = skelly_db::Pool::connect(&db.url()).unwrap();
    let name: String = pool
        .query_one("SELECT current_database()::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(name, db.name());
    pool.close().await;
}

#[tokio::test]
async fn a_failing_migration_is_an_error_for_every_waiting_test() {
    let dir = std::env::temp_dir().join(format!("skelly-failing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("1_fails.sql"),
        "-- +migrate Up\nCREATE TABLE a (n int);\nSELECT 1/0;\n-- +migrate Down\nDROP TABLE a;\n",
    )
    .unwrap();
    let results =
        futures_util::future::join_all((0..3).map(|_| TestDb::builder().migrations(&dir).build()))
            .await;
    for r in results {
        let err = r.expect_err("the migration fails");
        assert!(err.to_string().contains("1_fails.sql:3"), "{err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 24: a test database from the application's embedded migrations, the same set it runs
/// at start-up, not only from a directory.
#[tokio::test]
async fn a_test_database_from_an_embedded_migrator() {
    let migrator = skelly_db::embed_migrations!("../migrations");
    let count = migrator.migrations().len();
    let db = skelly_db::testing::TestDb::builder()
        .migrator(migrator)
        .build()
        .await
        .unwrap();
    let statuses = skelly_db::embed_migrations!("../migrations")
        .status(db.pool())
        .await
        .unwrap();
    assert_eq!(statuses.len(), count);
    assert!(statuses
        .iter()
        .all(|s| s.state == skelly_db::migrate::MigrationState::Applied));
    skelly_db::Executor::batch_execute(db.pool(), "SELECT email FROM \"user\".users")
        .await
        .unwrap();
}
