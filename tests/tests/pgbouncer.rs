//! Through a real PgBouncer in transaction mode (two server connections), started by the test:
//! with statement cache size 0 the CRUD, query-builder, seed and migration paths work from many
//! concurrent tasks without a single prepared-statement error.

mod common;

use skelly_db::Table;
use std::sync::Arc;

use common::models::{DevSeed, Role, User, UserPatch};
use skelly_db::seed::Seeder;
use skelly_db::testing::{TempPgBouncer, TestDb};
use skelly_db::{Executor, Pool, PoolConfig};

fn bouncer_for(db: &TestDb) -> TempPgBouncer {
    bouncer_with(db, 2)
}

/// PgBouncer in transaction mode in front of the test server, `size` server connections.
fn bouncer_with(db: &TestDb, size: u32) -> TempPgBouncer {
    TempPgBouncer::in_front_of(&db.pg_config())
        .and_then(|b| b.pool_mode("transaction").default_pool_size(size).start())
        .unwrap_or_else(|e| panic!("PgBouncer must start for this test (.ci/run installs it): {e}"))
}

fn pool_through(bouncer: &TempPgBouncer, db: &TestDb, size: usize) -> Pool {
    PoolConfig::new(&bouncer.url(db.name()))
        .unwrap()
        .statement_cache_size(0)
        .max_size(size)
        .build()
        .unwrap()
}

#[tokio::test]
async fn crud_queries_and_seeds_from_20_tasks_without_prepared_statement_errors() {
    let db = common::reference_db().await;
    let bouncer = bouncer_for(&db);
    let pool = pool_through(&bouncer, &db, 20);
    Seeder::new().seed(DevSeed).run(&pool).await.unwrap();

    let tasks = (0..20).map(|t| {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut done = 0u32;
            for i in 0..15 {
                let email = format!("t{t}-{i}@example.com");
                let user = User::insert(&pool, common::new_user(&email)).await?;
                let found = User::get(&pool, user.id).await?;
                assert_eq!(found.email, email);
                User::update(
                    &pool,
                    user.id,
                    UserPatch {
                        role: Some(Role::Admin),
                        ..Default::default()
                    },
                )
                .await?;
                let admins = User::query()
                    .filter(
                        User::ROLE
                            .eq(Role::Admin)
                            .and(User::EMAIL.like(format!("t{t}-%"))),
                    )
                    .count(&pool)
                    .await?;
                assert_eq!(admins, i + 1);
                let mut conn = pool.get().await?;
                let tx = conn.begin().await?;
                User::delete(&tx, user.id).await?;
                User::restore(&tx, user.id).await?;
                tx.commit().await?;
                drop(conn);
                Seeder::new().seed(DevSeed).run(&pool).await?;
                done += 1;
            }
            Ok::<u32, skelly_db::Error>(done)
        })
    });
    let mut errors = Vec::new();
    let mut done = 0;
    for task in futures_util::future::join_all(tasks).await {
        match task.unwrap() {
            Ok(n) => done += n,
            Err(e) => errors.push(e.to_string()),
        }
    }
    assert!(errors.is_empty(), "errors through PgBouncer: {errors:?}");
    assert_eq!(done, 300);
    let users = User::query().count(&pool).await.unwrap();
    assert_eq!(users, 303);
    let log = bouncer.log();
    assert!(!log.contains("prepared statement"), "{log}");
}

#[tokio::test]
async fn migrations_run_once_from_8_concurrent_runners_behind_pgbouncer() {
    let db = common::empty_db().await;
    let bouncer = bouncer_for(&db);
    let dir = tempdir("bouncer-migrations");
    let files = [
        ("1_runs.sql", "-- +migrate Up\nCREATE TABLE runs (id text);\nINSERT INTO runs VALUES ('1');\n-- +migrate Down\nDROP TABLE runs;\n"),
        ("2_items.sql", "-- +migrate Up\nCREATE TABLE items (n int);\nINSERT INTO runs VALUES ('2');\nSELECT pg_sleep(0.05);\n-- +migrate Down\nDROP TABLE items;\n"),
        ("3_index.sql", "-- +migrate Up notransaction\nCREATE INDEX CONCURRENTLY items_n ON items (n);\nINSERT INTO runs VALUES ('3');\n-- +migrate Down notransaction\nDROP INDEX CONCURRENTLY items_n;\n"),
        ("4_more.sql", "-- +migrate Up\nINSERT INTO runs VALUES ('4');\n-- +migrate Down\nDELETE FROM runs WHERE id = '4';\n"),
    ];
    for (name, body) in files {
        std::fs::write(dir.join(name), body).unwrap();
    }
    let migrator = Arc::new(skelly_db::migrate::Migrator::from_dir(&dir).unwrap());
    let runners = (0..8).map(|_| {
        let pool = pool_through(&bouncer, &db, 2);
        let migrator = migrator.clone();
        tokio::spawn(async move { migrator.up(&pool).await.map(|applied| applied.len()) })
    });
    let mut applied = 0;
    for runner in futures_util::future::join_all(runners).await {
        applied += runner.unwrap().unwrap();
    }
    assert_eq!(applied, 4, "each migration applied by exactly one runner");
    let direct = db.pool();
    let runs: Vec<String> = direct
        .query("SELECT id FROM runs ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(runs, ["1", "2", "3", "4"]);
    let statuses = migrator.status(direct).await.unwrap();
    assert!(statuses
        .iter()
        .all(|s| s.state == skelly_db::migrate::MigrationState::Applied));
    // Down and up again through the pooler.
    let pool = pool_through(&bouncer, &db, 2);
    assert_eq!(migrator.down(&pool, 2).await.unwrap().len(), 2);
    assert_eq!(migrator.up(&pool).await.unwrap().len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "skelly-{name}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Issue 24: behind a transaction-mode pooler with the default statement cache, the driver's
/// named statements meet other server connections' ("prepared statement \"s1\" already exists",
/// 42P05). The error now says what happened and names DATABASE_STATEMENT_CACHE_SIZE=0; with the
/// cache at 0 the same call works. Reproduced deterministically: one server connection that
/// already holds statements named as the driver names its own.
#[tokio::test]
async fn named_statements_behind_the_pooler_fail_with_the_fix_in_the_error() {
    let db = common::empty_db().await;
    let bouncer = bouncer_with(&db, 1);
    // What other clients' named statements leave on the one server connection.
    let squatter = pool_through(&bouncer, &db, 1);
    let names: String = (0..5_000)
        .map(|i| format!("PREPARE s{i} AS SELECT {i};"))
        .collect();
    squatter.batch_execute(&names).await.unwrap();
    let named = PoolConfig::new(&bouncer.url(db.name()))
        .unwrap()
        .max_size(1)
        .build()
        .unwrap();
    let err = named.query("SELECT 1", &[]).await.unwrap_err();
    let text = err.to_string();
    assert_eq!(err.code(), "query", "{text}");
    assert_eq!(err.sqlstate(), Some("42P05"), "{text}");
    assert!(
        text.contains("already exists")
            && text.contains("transaction-mode pooler")
            && text.contains("DATABASE_STATEMENT_CACHE_SIZE=0"),
        "{text}"
    );
    let unnamed = pool_through(&bouncer, &db, 1);
    let row = unnamed.query_one("SELECT 1", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 1);
}
