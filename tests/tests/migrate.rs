//! The migration runner against a real server.

mod common;

use std::path::{Path, PathBuf};

use skelly_db::migrate::{Direction, MigrationError, MigrationState, Migrator};
use skelly_db::{Error, Executor, Pool};

/// A temporary migrations directory, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(files: &[(&str, &str)]) -> Dir {
        let path = std::env::temp_dir().join(format!("skelly-migrations-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).unwrap();
        let dir = Dir(path);
        for (name, body) in files {
            dir.write(name, body);
        }
        dir
    }
    fn write(&self, name: &str, body: &str) {
        std::fs::write(self.0.join(name), body).unwrap();
    }
    fn remove(&self, name: &str) {
        std::fs::remove_file(self.0.join(name)).unwrap();
    }
    fn migrator(&self) -> Migrator {
        Migrator::from_dir(&self.0).unwrap()
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const A: &str = "-- +migrate Up\nCREATE TABLE a (n int);\n-- +migrate Down\nDROP TABLE a;\n";
const B: &str = "-- +migrate Up\nCREATE TABLE b (n int);\n-- +migrate Down\nDROP TABLE b;\n";
const C: &str = "-- +migrate Up\nCREATE TABLE c (n int);\n-- +migrate Down\nDROP TABLE c;\n";

async fn tables(pool: &Pool) -> Vec<String> {
    pool.query(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' \
         AND table_name <> 'skelly_migrations' ORDER BY 1",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

async fn history(pool: &Pool) -> Vec<String> {
    pool.query("SELECT id FROM skelly_migrations ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn advisory_locks(pool: &Pool) -> i64 {
    // Advisory locks are cluster-wide: count only this database's.
    pool.query_one(
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
         WHERE l.locktype = 'advisory' AND d.datname = current_database()",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

fn migration_error(err: Error) -> MigrationError {
    match err {
        Error::Migration(m) => m,
        other => panic!("expected a migration error, got {other:?}"),
    }
}

#[tokio::test]
async fn up_applies_in_order_and_is_idempotent() {
    let db = common::empty_db().await;
    let pool = db.pool();
    let dir = Dir::new(&[("10_c.sql", C), ("1_a.sql", A), ("2_b.sql", B)]);
    let m = dir.migrator();
    let applied = m.up(pool).await.unwrap();
    let ids: Vec<_> = applied.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["1_a.sql", "2_b.sql", "10_c.sql"]);
    assert!(applied.iter().all(|a| a.direction == Direction::Up));
    assert_eq!(tables(pool).await, ["a", "b", "c"]);
    assert!(m.up(pool).await.unwrap().is_empty());
    assert_eq!(history(pool).await, ["10_c.sql", "1_a.sql", "2_b.sql"]);
    let checksum: String = pool
        .query_one(
            "SELECT checksum FROM skelly_migrations WHERE id = '1_a.sql'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(checksum, m.migrations()[0].checksum());
    assert_eq!(advisory_locks(pool).await, 0);
}

#[tokio::test]
async fn down_redo_and_up_to() {
    let db = common::empty_db().await;
    let pool = db.pool();
    let dir = Dir::new(&[("1_a.sql", A), ("2_b.sql", B), ("3_c.sql", C)]);
    let m = dir.migrator();
    let applied = m.up_to(pool, "2_b.sql").await.unwrap();
    assert_eq!(applied.len(), 2);
    assert_eq!(tables(pool).await, ["a", "b"]);
    let err = migration_error(m.up_to(pool, "9_nope.sql").await.unwrap_err());
    assert!(matches!(err, MigrationError::UnknownTarget { .. }), "{err}");

    m.up(pool).await.unwrap();
    let reverted = m.down(pool, 2).await.unwrap();
    let ids: Vec<_> = reverted
        .iter()
        .map(|a| (a.id.as_str(), a.direction))
        .collect();
    assert_eq!(
        ids,
        [("3_c.sql", Direction::Down), ("2_b.sql", Direction::Down)]
    );
    assert_eq!(tables(pool).await, ["a"]);
    assert_eq!(history(pool).await, ["1_a.sql"]);

    pool.execute("INSERT INTO a VALUES (1)", &[]).await.unwrap();
    let redone = m.redo(pool).await.unwrap();
    let ids: Vec<_> = redone
        .iter()
        .map(|a| (a.id.as_str(), a.direction))
        .collect();
    assert_eq!(
        ids,
        [("1_a.sql", Direction::Down), ("1_a.sql", Direction::Up)]
    );
    let rows: i64 = pool
        .query_one("SELECT count(*) FROM a", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 0, "redo recreated the table");

    // More steps than applied: reverts what there is.
    assert_eq!(m.down(pool, 10).await.unwrap().len(), 1);
    assert!(tables(pool).await.is_empty());
    assert!(m.down(pool, 1).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_failing_statement_rolls_back_everything_and_names_file_and_line() {
    let db = common::empty_db().await;
    let pool = db.pool();
    let dir = Dir::new(&[
        ("1_a.sql", A),
        (
            "2_bad.sql",
            "-- +migrate Up\nCREATE TABLE b (n int);\nINSERT INTO b VALUES (1);\n\nINSERT INTO missing VALUES (1);\n-- +migrate Down\nDROP TABLE b;\n",
        ),
        ("3_c.sql", C),
    ]);
    let err = dir.migrator().up(pool).await.unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("2_bad.sql:5: migration failed"), "{text}");
    assert!(
        text.contains("relation \"missing\" does not exist"),
        "{text}"
    );
    match migration_error(err) {
        MigrationError::Failed {
            file,
            line,
            statement,
            rolled_back,
            source,
        } => {
            assert_eq!((file.as_str(), line), ("2_bad.sql", 5));
            assert_eq!(statement, "INSERT INTO missing VALUES (1);");
            assert!(rolled_back);
            assert_eq!(source.sqlstate(), Some("42P01"));
        }
        other => panic!("{other:?}"),
    }
    // 1 applied, 2 rolled back entirely (no table b, no history row), 3 never ran.
    assert_eq!(tables(pool).await, ["a"]);
    assert_eq!(history(pool).await, ["1_a.sql"]);
    assert_eq!(advisory_locks(pool).await, 0);

    // Fixed, a second runner proceeds.
    dir.write(
        "2_bad.sql",
        "-- +migrate Up\nCREATE TABLE b (n int);\n-- +migrate Down\nDROP TABLE b;\n",
    );
    assert_eq!(dir.migrator().up(pool).await.unwrap().len(), 2);
    assert_eq!(tables(pool).await, ["a", "b", "c"]);
}

#[tokio::test]
async fn notransaction_create_index_concurrently() {
    let db = common::empty_db().await;
    let pool = db.pool();
    let dir = Dir::new(&[
        ("1_a.sql", A),
        (
            "2_index.sql",
            "-- +migrate Up notransaction\nCREATE INDEX CONCURRENTLY a_n_idx ON a (n);\nCREATE INDEX CONCURRENTLY a_n2_idx ON a (n);\n-- +migrate Down notransaction\nDROP INDEX CONCURRENTLY a_n_idx;\nDROP INDEX CONCURRENTLY a_n2_idx;\n",
        ),
    ]);
    let m = dir.migrator();
    assert!(m.migrations()[1].parsed().up.no_transaction);
    m.up(pool).await.unwrap();
    let indexes: i64 = pool
        .query_one("SELECT count(*) FROM pg_indexes WHERE tablename = 'a'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(indexes, 2);
    m.down(pool, 1).await.unwrap();
    let indexes: i64 = pool
        .query_one("SELECT count(*) FROM pg_indexes WHERE tablename = 'a'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(indexes, 0);
}

#[tokio::test]
async fn concurrent_runners_apply_each_migration_once() {
    let db = common::empty_db().await;
    let pool = skelly_db::PoolConfig::from_pg_config(db.pg_config())
        .max_size(16)
        .build()
        .unwrap();
    pool.batch_execute("CREATE TABLE runs (id text)")
        .await
        .unwrap();
    let files: Vec<(String, String)> = (1..=5)
        .map(|i| {
            (
                format!("{i}_m.sql"),
                format!(
                    "-- +migrate Up\nINSERT INTO runs VALUES ('{i}');\nSELECT pg_sleep(0.02);\n-- +migrate Down\nDELETE FROM runs WHERE id = '{i}';\n"
                ),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let dir = Dir::new(&refs);
    let m = dir.migrator();
    let results = futures_util::future::join_all((0..8).map(|_| m.up(&pool))).await;
    let total: usize = results.into_iter().map(|r| r.unwrap().len()).sum();
    assert_eq!(total, 5, "each migration applied by exactly one runner");
    let runs: i64 = pool
        .query_one("SELECT count(*) FROM runs", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(runs, 5);
    assert_eq!(advisory_locks(&pool).await, 0);
    pool.close().await;
}

#[tokio::test]
async fn changed_and_missing_files_stop_up() {
    let db = common::empty_db().await;
    let pool = db.pool();
    let dir = Dir::new(&[("1_a.sql", A), ("2_b.sql", B)]);
    dir.migrator().up(pool).await.unwrap();

    dir.write("1_a.sql", &A.replace("n int", "n bigint"));
    dir.remove("2_b.sql");
    dir.write("3_c.sql", C);
    let m = dir.migrator();
    let status = m.status(pool).await.unwrap();
    let states: Vec<_> = status.iter().map(|s| (s.id.as_str(), s.state)).collect();
    assert_eq!(
        states,
        [
            ("1_a.sql", MigrationState::Changed),
            ("2_b.sql", MigrationState::Missing),
            ("3_c.sql", MigrationState::Pending),
        ]
    );
    let err = m.up(pool).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("1_a.sql was changed"), "{text}");
    assert!(
        text.contains("2_b.sql was applied but its file is missing"),
        "{text}"
    );
    assert!(
        !tables(pool).await.contains(&"c".to_string()),
        "nothing ran"
    );
    assert_eq!(advisory_locks(pool).await, 0);
}

#[tokio::test]
async fn out_of_order_files_are_applied_and_reported() {
    let db = common::empty_db().await;
    let pool = db.pool();
    let dir = Dir::new(&[("1_a.sql", A), ("3_c.sql", C)]);
    dir.migrator().up(pool).await.unwrap();
    dir.write("2_b.sql", B);
    let m = dir.migrator();
    let status = m.status(pool).await.unwrap();
    let b = status.iter().find(|s| s.id == "2_b.sql").unwrap();
    assert_eq!(b.state, MigrationState::Pending);
    assert!(b.out_of_order);
    let a = status.iter().find(|s| s.id == "1_a.sql").unwrap();
    assert_eq!(a.state, MigrationState::Applied);
    assert!(a.applied_at.is_some() && a.execution_time.is_some());
    let applied = m.up(pool).await.unwrap();
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].id, "2_b.sql");
}

#[tokio::test]
async fn irreversible_migrations_stop_down() {
    let db = common::empty_db().await;
    let pool = db.pool();
    let dir = Dir::new(&[
        ("1_a.sql", A),
        (
            "2_data.sql",
            "-- +migrate Up\nINSERT INTO a VALUES (1);\n-- +migrate Down\n",
        ),
        ("3_c.sql", C),
    ]);
    let m = dir.migrator();
    m.up(pool).await.unwrap();
    let status = m.status(pool).await.unwrap();
    assert!(status[1].irreversible && !status[0].irreversible);
    let err = migration_error(m.down(pool, 3).await.unwrap_err());
    assert!(
        matches!(err, MigrationError::Irreversible { ref id, reverted: 1 } if id == "2_data.sql"),
        "{err}"
    );
    assert!(err.to_string().contains("--allow-empty-down"), "{err}");
    // The one before it (3_c) was reverted, then down stopped at 2_data.
    assert_eq!(tables(pool).await, ["a"]);
    assert_eq!(history(pool).await, ["1_a.sql", "2_data.sql"]);
    let err = migration_error(m.down(pool, 1).await.unwrap_err());
    assert!(
        matches!(err, MigrationError::Irreversible { reverted: 0, .. }),
        "{err}"
    );
}

/// sql-migrate's sets: empty and missing Downs. Strict by default (refused, naming the
/// switch); with `allow_empty_down` they revert as a no-op, and the set goes up, all the way
/// down and up again.
#[tokio::test]
async fn empty_and_missing_downs_round_trip_when_allowed() {
    let db = common::empty_db().await;
    let pool = db.pool();
    let dir = Dir::new(&[
        ("1_a.sql", A),
        (
            "2_seed.sql",
            "-- +migrate Up\nINSERT INTO a VALUES (1);\n-- +migrate Down\n",
        ),
        (
            "3_nodown.sql",
            "-- +migrate Up\nINSERT INTO a VALUES (2);\n",
        ),
        ("4_c.sql", C),
    ]);
    let strict = dir.migrator().allow_empty_down(false);
    let err = migration_error(strict.up(pool).await.unwrap_err());
    assert!(matches!(err, MigrationError::MissingDown { ref file } if file == "3_nodown.sql"));
    let text = err.to_string();
    assert!(
        text.contains("--allow-empty-down") && text.contains("SKELLY_MIGRATE_ALLOW_EMPTY_DOWN=1"),
        "{text}"
    );
    assert!(tables(pool).await.is_empty(), "nothing ran");

    let m = dir.migrator().allow_empty_down(true);
    assert_eq!(m.up(pool).await.unwrap().len(), 4);
    assert!(m
        .status(pool)
        .await
        .unwrap()
        .iter()
        .all(|s| !s.irreversible));
    let reverted = m.down(pool, 10).await.unwrap();
    assert_eq!(reverted.len(), 4);
    assert!(tables(pool).await.is_empty());
    assert!(history(pool).await.is_empty());
    assert_eq!(m.up(pool).await.unwrap().len(), 4);
    let rows: i64 = pool
        .query_one("SELECT count(*) FROM a", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 2);
}

/// `down` reverts in the order the migrations were applied: an out-of-order migration applied
/// last is reverted first.
#[tokio::test]
async fn down_reverts_the_last_applied_first() {
    let db = common::empty_db().await;
    let pool = db.pool();
    let dir = Dir::new(&[("1_a.sql", A), ("3_c.sql", C)]);
    dir.migrator().up(pool).await.unwrap();
    dir.write("2_b.sql", B);
    let applied = dir.migrator().up(pool).await.unwrap();
    assert_eq!(applied[0].id, "2_b.sql");
    let reverted = dir.migrator().down(pool, 1).await.unwrap();
    assert_eq!(reverted[0].id, "2_b.sql");
    assert_eq!(tables(pool).await, ["a", "c"]);
}

/// Each migration's start and end are reported as they happen: when the third fails, the
/// first two have been reported finished (and are committed).
#[tokio::test]
async fn progress_is_reported_as_migrations_run() {
    use skelly_db::migrate::Progress;
    use std::sync::{Arc, Mutex};

    let db = common::empty_db().await;
    let pool = db.pool();
    let dir = Dir::new(&[
        ("1_a.sql", A),
        ("2_b.sql", B),
        (
            "3_bad.sql",
            "-- +migrate Up\nSELECT * FROM nowhere;\n-- +migrate Down\n",
        ),
    ]);
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let m = dir
        .migrator()
        .on_progress(move |p| seen.lock().unwrap().push(p.clone()));
    m.up(pool).await.unwrap_err();
    let events = events.lock().unwrap().clone();
    let lines: Vec<String> = events
        .iter()
        .map(|e| match e {
            Progress::Started { id, .. } => format!("start {id}"),
            Progress::Finished(a) => format!("done {}", a.id),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        lines,
        [
            "start 1_a.sql",
            "done 1_a.sql",
            "start 2_b.sql",
            "done 2_b.sql",
            "start 3_bad.sql"
        ]
    );
    assert_eq!(tables(pool).await, ["a", "b"]);
}

/// A runner that finds the lock taken says so, and who holds it.
#[tokio::test]
async fn a_waiting_runner_says_who_holds_the_lock() {
    use skelly_db::migrate::Progress;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    let db = common::empty_db().await;
    let pool = db.pool();
    let dir = Dir::new(&[
        ("1_a.sql", A),
        (
            "2_slow.sql",
            "-- +migrate Up\nSELECT pg_sleep(3);\n-- +migrate Down\n",
        ),
    ]);
    dir.migrator().up_to(pool, "1_a.sql").await.unwrap();
    let first_runner = dir.migrator();
    let first = first_runner.up(pool);
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let second = async {
        // Starts once the first runner is inside 2_slow (polled: on a loaded machine the
        // first runner may take a while to get there).
        for _ in 0..200 {
            let running: i64 = pool
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity \
                     WHERE query LIKE 'SELECT pg_sleep(3)%' AND pid <> pg_backend_pid()",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            if running > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        dir.migrator()
            .on_progress(move |p| seen.lock().unwrap().push(p.clone()))
            .up(pool)
            .await
    };
    let (a, b) = tokio::join!(first, second);
    assert_eq!(a.unwrap().len(), 1);
    assert!(b.unwrap().is_empty(), "the second runner found it applied");
    let events = events.lock().unwrap().clone();
    let holder = events.iter().find_map(|e| match e {
        Progress::WaitingForLock { holder } => Some(holder.clone()),
        _ => None,
    });
    let holder = holder
        .expect("a waiting event")
        .expect("the holder is visible");
    assert!(holder.starts_with("pid "), "{holder}");
}

/// Migrations run without the pool's statement_timeout (a long CREATE INDEX is not killed by
/// the application's timeout), and a migration blocked on a lock past its lock timeout fails,
/// naming its file, and rolls back.
#[tokio::test]
async fn migrations_own_their_statement_and_lock_timeouts() {
    use std::time::Duration;

    let db = common::empty_db().await;
    let pool = db
        .pool_config()
        .statement_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let dir = Dir::new(&[
        ("1_a.sql", A),
        (
            "2_slow.sql",
            "-- +migrate Up\nSELECT pg_sleep(0.5);\n-- +migrate Down\nSELECT 1;\n",
        ),
        ("3_alter.sql", "-- +migrate Up\nALTER TABLE a ADD COLUMN m int;\n-- +migrate Down\nALTER TABLE a DROP COLUMN m;\n"),
    ]);
    // The pool's 200 ms timeout would kill 2_slow; the migration's own (none) does not.
    dir.migrator().up_to(&pool, "2_slow.sql").await.unwrap();
    let err = pool.execute("SELECT pg_sleep(0.5)", &[]).await.unwrap_err();
    assert_eq!(
        err.code(),
        "statement_timeout",
        "the pool keeps its own: {err}"
    );
    // Given one, it applies.
    let m = dir
        .migrator()
        .statement_timeout(Some(Duration::from_millis(100)));
    m.down(&pool, 1).await.unwrap();
    let err = migration_error(m.up_to(&pool, "2_slow.sql").await.unwrap_err());
    assert!(err.to_string().starts_with("2_slow.sql:2:"), "{err}");
    dir.migrator().up_to(&pool, "2_slow.sql").await.unwrap();

    // Another session holds a lock on `a`: 3_alter waits at most its lock timeout.
    let holder = db.pool().get().await.unwrap();
    holder
        .batch_execute("BEGIN; LOCK TABLE a IN ACCESS SHARE MODE")
        .await
        .unwrap();
    let m = dir
        .migrator()
        .ddl_lock_timeout(Some(Duration::from_millis(300)));
    let start = std::time::Instant::now();
    let err = migration_error(m.up(&pool).await.unwrap_err());
    let waited = start.elapsed();
    match &err {
        MigrationError::Failed {
            file,
            source,
            rolled_back,
            ..
        } => {
            assert_eq!(file, "3_alter.sql");
            assert_eq!(source.code(), "lock_timeout", "{source}");
            assert!(rolled_back);
        }
        other => panic!("{other:?}"),
    }
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    holder.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(history(db.pool()).await, ["1_a.sql", "2_slow.sql"]);
    dir.migrator().up(&pool).await.unwrap();
    pool.close().await;
}

#[tokio::test]
async fn migrations_refuse_to_run_inside_a_transaction() {
    let db = common::empty_db().await;
    let dir = Dir::new(&[("1_a.sql", A)]);
    let mut conn = db.pool().get().await.unwrap();
    let tx = conn.begin().await.unwrap();
    let err = migration_error(dir.migrator().up(&tx).await.unwrap_err());
    assert!(matches!(err, MigrationError::InTransaction), "{err}");
    drop(tx);
    // A plain connection works, and keeps no lock afterwards.
    dir.migrator().up(&conn).await.unwrap();
    assert_eq!(advisory_locks(db.pool()).await, 0);
}

#[tokio::test]
async fn custom_history_table() {
    let db = common::empty_db().await;
    let pool = db.pool();
    let dir = Dir::new(&[("1_a.sql", A)]);
    let m = dir.migrator().history_table("meta", "applied");
    m.up(pool).await.unwrap();
    let n: i64 = pool
        .query_one("SELECT count(*) FROM meta.applied", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    // The default table knows nothing of it.
    assert!(dir.migrator().status(pool).await.unwrap()[0].state == MigrationState::Pending);
}

#[tokio::test]
async fn a_history_table_of_another_shape_is_an_error_naming_it() {
    let db = common::empty_db().await;
    let pool = db.pool();
    // Another tool's table under the chosen name: id is an integer here.
    pool.batch_execute(
        "CREATE TABLE public.other_history (id int, checksum text, applied_at timestamptz, \
         execution_ms bigint); INSERT INTO public.other_history VALUES (1, 'x', now(), 3)",
    )
    .await
    .unwrap();
    let dir = Dir::new(&[("1_a.sql", A)]);
    let m = dir.migrator().history_table("public", "other_history");
    for err in [
        m.status(pool).await.unwrap_err(),
        m.up(pool).await.unwrap_err(),
    ] {
        let text = err.to_string();
        let err = migration_error(err);
        assert!(
            matches!(err, MigrationError::HistoryTable { .. }),
            "{err:?}"
        );
        assert!(
            text.starts_with("history table \"public\".\"other_history\" is not a skelly-db history table (column `id`:"),
            "{text}"
        );
    }
    // Nothing was applied, and no lock is left behind.
    assert!(pool
        .query_opt("SELECT 1 FROM pg_tables WHERE tablename = 'a'", &[])
        .await
        .unwrap()
        .is_none());
    assert_eq!(advisory_locks(pool).await, 0);
    // A table missing a column says so too.
    pool.batch_execute("CREATE TABLE public.thin_history (id text)")
        .await
        .unwrap();
    let err = dir
        .migrator()
        .history_table("public", "thin_history")
        .status(pool)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("column \"checksum\" does not exist"),
        "{err}"
    );
}

#[tokio::test]
async fn a_notransaction_migration_claimed_by_a_crashed_runner_is_reported_not_rerun() {
    let db = common::empty_db().await;
    let pool = db.pool();
    let dir = Dir::new(&[
        ("1_a.sql", A),
        (
            "2_idx.sql",
            "-- +migrate Up notransaction\nCREATE INDEX CONCURRENTLY a_n ON a (n);\n-- +migrate Down notransaction\nDROP INDEX CONCURRENTLY a_n;\n",
        ),
    ]);
    dir.migrator().up_to(pool, "1_a.sql").await.unwrap();
    // What a runner that died while building the index leaves: the claim.
    let checksum = dir.migrator().migrations()[1].checksum().to_string();
    pool.execute(
        "INSERT INTO public.skelly_migrations (id, checksum, execution_ms) VALUES ('2_idx.sql', $1, -1)",
        &[&checksum],
    )
    .await
    .unwrap();
    let start = std::time::Instant::now();
    let err = dir
        .migrator()
        .lock_timeout(std::time::Duration::from_millis(300))
        .up(pool)
        .await
        .unwrap_err();
    assert!(start.elapsed() >= std::time::Duration::from_millis(300));
    let text = err.to_string();
    let err = migration_error(err);
    assert!(
        matches!(err, MigrationError::InProgressElsewhere { ref id, .. } if id == "2_idx.sql"),
        "{err:?}"
    );
    assert!(
        text.contains("delete its row (execution_ms = -1)"),
        "{text}"
    );
    // Once the operator removes the claim, the next run applies it.
    pool.execute(
        "DELETE FROM public.skelly_migrations WHERE id = '2_idx.sql'",
        &[],
    )
    .await
    .unwrap();
    let applied = dir.migrator().up(pool).await.unwrap();
    assert_eq!(applied.len(), 1);
    assert_eq!(advisory_locks(pool).await, 0);
}

#[tokio::test]
async fn loading_errors_name_the_file() {
    let dir = Dir::new(&[
        ("1_a.sql", A),
        ("2_nodown.sql", "-- +migrate Up\nSELECT 1;\n"),
    ]);
    // It loads; running is refused, naming the file and the switch.
    let db = common::empty_db().await;
    let err = Migrator::from_dir(dir.path())
        .unwrap()
        .allow_empty_down(false)
        .up(db.pool())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("2_nodown.sql: no Down section"), "{err}");

    let dir = Dir::new(&[("1_a.sql", "-- +migrate Up\nSELECT 1;\n-- +migrate Donw\n")]);
    let err = Migrator::from_dir(dir.path()).unwrap_err().to_string();
    assert_eq!(
        err,
        "1_a.sql: line 3: unknown migrate command `Donw`; expected one of `Up`, `Down`, `StatementBegin`, `StatementEnd`"
    );

    let dir = Dir::new(&[("1_a.sql", A)]);
    std::fs::write(
        dir.path().join("2_latin1.sql"),
        b"-- +migrate Up\nSELECT '\xe9';\n",
    )
    .unwrap();
    let err = Migrator::from_dir(dir.path()).unwrap_err().to_string();
    assert!(err.contains("2_latin1.sql is not valid UTF-8"), "{err}");

    let err = Migrator::from_dir("/nonexistent/migrations")
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/migrations"), "{err}");

    // Only top-level .sql files count.
    let dir = Dir::new(&[("1_a.sql", A), ("README.md", "not a migration")]);
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/2_b.sql"), B).unwrap();
    assert_eq!(
        Migrator::from_dir(dir.path()).unwrap().migrations().len(),
        1
    );
}

/// Everything the catalog says about the user schema, as comparable text.
async fn catalog(pool: &Pool) -> Vec<String> {
    let mut out = Vec::new();
    for sql in [
        "SELECT concat_ws(' ', table_name, column_name, data_type, is_nullable, column_default) FROM information_schema.columns WHERE table_schema = 'user' ORDER BY 1",
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'user' ORDER BY 1",
        "SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'user'::regnamespace ORDER BY 1",
        "SELECT tgname || ' ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1",
        "SELECT proname FROM pg_proc WHERE pronamespace = 'user'::regnamespace ORDER BY 1",
    ] {
        for row in pool.query(sql, &[]).await.unwrap() {
            out.push(row.get::<_, String>(0));
        }
    }
    out
}

#[tokio::test]
async fn reference_schema_up_down_up_leaves_the_same_catalog() {
    let db = common::empty_db().await;
    let pool = db.pool();
    let m = Migrator::from_dir(common::reference_migrations()).unwrap();
    m.up(pool).await.unwrap();
    let first = catalog(pool).await;
    assert!(
        first
            .iter()
            .any(|l| l.contains("users_email_key") && l.contains("WHERE (deleted_at IS NULL)")),
        "{first:#?}"
    );
    assert!(
        first.iter().any(|l| l.starts_with("users_role_check")),
        "{first:#?}"
    );
    assert!(
        first
            .iter()
            .any(|l| l.starts_with("users_touch_updated_at")),
        "{first:#?}"
    );

    m.down(pool, m.migrations().len()).await.unwrap();
    let schema: Option<String> = pool
        .query_one(
            "SELECT nspname::text FROM pg_namespace WHERE nspname = 'user'",
            &[],
        )
        .await
        .map(|r| r.get(0))
        .ok();
    assert_eq!(schema, None, "down removed the schema");

    m.up(pool).await.unwrap();
    assert_eq!(catalog(pool).await, first);

    // The trigger keeps updated_at current; the partial unique index lets a soft-deleted
    // email be reused.
    pool.batch_execute(
        "INSERT INTO \"user\".users (email, display_name, role) VALUES ('a@x', 'A', 'admin');
         UPDATE \"user\".users SET deleted_at = now() WHERE email = 'a@x';
         INSERT INTO \"user\".users (email, display_name, role) VALUES ('a@x', 'A2', 'member');",
    )
    .await
    .unwrap();
    let err = pool
        .execute(
            "INSERT INTO \"user\".users (email, display_name, role) VALUES ('b@x', 'B', 'owner')",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.as_constraint().and_then(|v| v.constraint.as_deref()),
        Some("users_role_check")
    );
}

#[tokio::test]
async fn embedded_migrations_match_the_directory() {
    let embedded = skelly_db::embed_migrations!("../migrations");
    let from_dir = Migrator::from_dir(common::reference_migrations()).unwrap();
    assert_eq!(embedded.fingerprint(), from_dir.fingerprint());
    let db = common::empty_db().await;
    assert_eq!(
        embedded.up(db.pool()).await.unwrap().len(),
        from_dir.migrations().len()
    );
    assert!(from_dir.up(db.pool()).await.unwrap().is_empty());
}

/// A project moving from sql-migrate keeps its history: the rows of `gorp_migrations` (made
/// as sql-migrate makes it) become skelly-db's, with their times, and `up` runs only the rest.
/// An applied id without a file, or a row that disagrees, writes nothing.
#[tokio::test]
async fn adopts_sql_migrate_history() {
    let db = common::empty_db().await;
    let pool = db.pool();
    // sql-migrate (gorp's PostgreSQL dialect) creates its table like this.
    pool.batch_execute(
        r#"create table if not exists "gorp_migrations" ("id" text not null primary key, "applied_at" timestamp with time zone);
           CREATE TABLE a (n int); CREATE TABLE b (n int);
           INSERT INTO gorp_migrations VALUES ('1_a.sql', '2024-01-02 03:04:05+00'), ('2_b.sql', '2024-02-03 04:05:06+00');"#,
    )
    .await
    .unwrap();
    let dir = Dir::new(&[("1_a.sql", A), ("2_b.sql", B), ("3_c.sql", C)]);

    // An applied migration without its file: refused, nothing written.
    pool.execute(
        "INSERT INTO gorp_migrations VALUES ('0_gone.sql', now())",
        &[],
    )
    .await
    .unwrap();
    let err = migration_error(
        dir.migrator()
            .adopt_sql_migrate(pool, "public", "gorp_migrations")
            .await
            .unwrap_err(),
    );
    assert_eq!(
        err.to_string(),
        "cannot adopt the history in public.gorp_migrations: 0_gone.sql is applied in \
         public.gorp_migrations but has no file; nothing was written"
    );
    let created: bool = pool
        .query_one("SELECT to_regclass('skelly_migrations') IS NOT NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!created, "nothing was written, not even the history table");
    pool.execute("DELETE FROM gorp_migrations WHERE id = '0_gone.sql'", &[])
        .await
        .unwrap();

    let adopted = dir
        .migrator()
        .adopt_sql_migrate(pool, "public", skelly_db::migrate::SQL_MIGRATE_TABLE)
        .await
        .unwrap();
    assert_eq!(adopted, ["1_a.sql", "2_b.sql"]);
    let status = dir.migrator().status(pool).await.unwrap();
    let states: Vec<_> = status.iter().map(|s| s.state).collect();
    assert_eq!(
        states,
        [
            MigrationState::Applied,
            MigrationState::Applied,
            MigrationState::Pending
        ]
    );
    assert_eq!(
        status[0].applied_at.unwrap().to_rfc3339(),
        "2024-01-02T03:04:05+00:00"
    );
    // Adopting again changes nothing; up runs only 3_c.
    assert!(dir
        .migrator()
        .adopt_sql_migrate(pool, "public", "gorp_migrations")
        .await
        .unwrap()
        .is_empty());
    let applied = dir.migrator().up(pool).await.unwrap();
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].id, "3_c.sql");

    // skelly-db's history disagreeing with a file (changed since): refused.
    pool.execute(
        "UPDATE skelly_migrations SET checksum = 'x' WHERE id = '2_b.sql'",
        &[],
    )
    .await
    .unwrap();
    let err = migration_error(
        dir.migrator()
            .adopt_sql_migrate(pool, "public", "gorp_migrations")
            .await
            .unwrap_err(),
    );
    assert!(
        err.to_string()
            .contains("2_b.sql is already in skelly-db's history with another checksum"),
        "{err}"
    );

    let err = migration_error(
        dir.migrator()
            .adopt_sql_migrate(pool, "public", "nope")
            .await
            .unwrap_err(),
    );
    assert!(err.to_string().contains("no such table"), "{err}");
}

/// baseline, mark-applied, unmark, repair-checksums and the dry runs, on a real history.
#[tokio::test]
async fn operator_commands_record_forget_repair_and_plan() {
    let db = common::empty_db().await;
    let pool = db.pool();
    let dir = Dir::new(&[("1_a.sql", A), ("2_b.sql", B), ("3_c.sql", C)]);
    let m = dir.migrator();

    // Dry runs write nothing, and list the statements in order.
    let plan = m.plan_up(pool).await.unwrap();
    let ids: Vec<_> = plan.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["1_a.sql", "2_b.sql", "3_c.sql"]);
    assert_eq!(plan[0].statements, ["CREATE TABLE a (n int);\n"]);
    assert!(tables(pool).await.is_empty());

    // The schema exists already (a restored dump): baseline records up to 2 without running.
    pool.batch_execute("CREATE TABLE a (n int); CREATE TABLE b (n int)")
        .await
        .unwrap();
    assert_eq!(m.baseline(pool, "2").await.unwrap(), ["1_a.sql", "2_b.sql"]);
    assert!(m.baseline(pool, "2_b.sql").await.unwrap().is_empty());
    assert_eq!(history(pool).await, ["1_a.sql", "2_b.sql"]);
    let err = migration_error(m.baseline(pool, "7").await.unwrap_err());
    assert!(matches!(err, MigrationError::UnknownTarget { .. }), "{err}");
    assert_eq!(m.up(pool).await.unwrap().len(), 1);

    let down = m.plan_down(pool, 2).await.unwrap();
    assert_eq!(down[0].id, "3_c.sql");
    assert_eq!(down[0].statements, ["DROP TABLE c;\n"]);
    assert_eq!(down[0].direction, Direction::Down);

    // unmark forgets; mark-applied records; doing either twice is an error writing nothing.
    m.unmark(pool, "3_c.sql").await.unwrap();
    assert_eq!(history(pool).await, ["1_a.sql", "2_b.sql"]);
    let err = migration_error(m.unmark(pool, "3_c.sql").await.unwrap_err());
    assert_eq!(
        err.to_string(),
        "3_c.sql is not in the history; nothing was written"
    );
    m.mark_applied(pool, "3_c.sql").await.unwrap();
    let err = migration_error(m.mark_applied(pool, "3_c.sql").await.unwrap_err());
    assert!(err.to_string().contains("recorded already"), "{err}");

    // A comment added to an applied file: up stops; repair lists it, then records it.
    dir.write("2_b.sql", &format!("-- reviewed\n{B}"));
    let m = dir.migrator();
    assert!(m.up(pool).await.is_err());
    let listed = m.repair_checksums(pool, false).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, "2_b.sql");
    assert!(m.up(pool).await.is_err(), "listing wrote nothing");
    assert_eq!(m.repair_checksums(pool, true).await.unwrap().len(), 1);
    assert!(m.up(pool).await.unwrap().is_empty());
    assert!(m.repair_checksums(pool, false).await.unwrap().is_empty());
}

/// A notransaction migration that fails half way is recorded as failed (which statement, of
/// how many, why); status shows it, up refuses saying what to do; after the database is put
/// right, resume runs the rest. A runner that died leaves a claim that resumes the same way.
#[tokio::test]
async fn a_failed_notransaction_migration_is_recorded_and_resumed() {
    use skelly_db::migrate::Failure;

    let db = common::empty_db().await;
    let pool = db.pool();
    let idx = "-- +migrate Up notransaction\nCREATE INDEX CONCURRENTLY a_n ON a (n);\n\
               CREATE INDEX CONCURRENTLY b_n ON b (n);\nCREATE INDEX CONCURRENTLY a_n2 ON a (n);\n\
               -- +migrate Down notransaction\nDROP INDEX CONCURRENTLY a_n2;\nDROP INDEX CONCURRENTLY b_n;\n\
               DROP INDEX CONCURRENTLY a_n;\n";
    let dir = Dir::new(&[("1_a.sql", A), ("2_idx.sql", idx), ("3_c.sql", C)]);
    let m = dir.migrator();
    let err = migration_error(m.up(pool).await.unwrap_err());
    let text = err.to_string();
    assert!(text.starts_with("2_idx.sql:3: migration failed"), "{text}");
    assert!(text.contains("migrate resume 2_idx.sql"), "{text}");

    let status = m.status(pool).await.unwrap();
    assert_eq!(status[1].state, MigrationState::Failed);
    let failure = status[1].failure.clone().unwrap();
    assert_eq!((failure.statement, failure.of), (2, 3));
    assert!(
        failure.error.contains("relation \"b\" does not exist"),
        "{failure:?}"
    );
    let Failure { .. } = failure;
    assert_eq!(status[2].state, MigrationState::Pending);

    // Nothing runs past it until it is resumed or forgotten.
    let err = migration_error(m.up(pool).await.unwrap_err());
    assert!(
        matches!(err, MigrationError::FailedHalfWay { ref id, statement: 2, of: 3, .. } if id == "2_idx.sql"),
        "{err}"
    );
    assert!(
        err.to_string().contains("migrate resume 2_idx.sql"),
        "{err}"
    );

    // The operator creates `b`; resume runs statements 2 and 3 (1 already ran).
    pool.batch_execute("CREATE TABLE b (n int)").await.unwrap();
    let resumed = m.resume(pool, "2_idx.sql").await.unwrap();
    assert_eq!(resumed.id, "2_idx.sql");
    let indexes: i64 = pool
        .query_one(
            "SELECT count(*) FROM pg_indexes WHERE indexname IN ('a_n', 'b_n', 'a_n2')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(indexes, 3);
    assert_eq!(
        m.status(pool).await.unwrap()[1].state,
        MigrationState::Applied
    );
    assert_eq!(m.up(pool).await.unwrap().len(), 1, "3_c runs now");
    let err = migration_error(m.resume(pool, "2_idx.sql").await.unwrap_err());
    assert!(err.to_string().contains("not recorded as failed"), "{err}");

    // A runner killed after the first statement leaves its claim and count: resume goes on
    // from the second.
    m.down(pool, 2).await.unwrap();
    pool.batch_execute("CREATE INDEX CONCURRENTLY a_n ON a (n)")
        .await
        .unwrap();
    let checksum = m.migrations()[1].checksum().to_string();
    // Its claim names a session that no longer exists: it shows as failed at once (no lock
    // timeout to wait out), and up refuses saying what to do.
    pool.execute(
        "INSERT INTO skelly_migrations (id, checksum, execution_ms, statements_done, runner_pid) \
         VALUES ('2_idx.sql', $1, -1, 1, 2147483647)",
        &[&checksum],
    )
    .await
    .unwrap();
    let status = m.status(pool).await.unwrap();
    assert_eq!(status[1].state, MigrationState::Failed);
    let failure = status[1].failure.clone().unwrap();
    assert_eq!((failure.statement, failure.of), (2, 3));
    assert!(
        failure.error.contains("runner's session ended"),
        "{failure:?}"
    );
    let err = migration_error(m.up(pool).await.unwrap_err());
    assert!(
        matches!(err, MigrationError::FailedHalfWay { statement: 2, .. }),
        "{err}"
    );
    m.resume(pool, "2_idx.sql").await.unwrap();
    assert_eq!(
        m.status(pool).await.unwrap()[1].state,
        MigrationState::Applied
    );
}

const GOOSE_1: &str = "-- +goose Up\nCREATE TABLE a (n int);\n\n-- +goose Down\nDROP TABLE a;\n";
const GOOSE_2: &str = "-- +goose Up\n-- +goose StatementBegin\n\
    CREATE FUNCTION one() RETURNS int AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$ LANGUAGE plpgsql;\n\
    -- +goose StatementEnd\n\n-- +goose Down\nDROP FUNCTION one();\n";
const GOOSE_3: &str = "-- +goose NO TRANSACTION\n-- +goose Up\n\
    CREATE INDEX CONCURRENTLY a_n ON a (n); -- built without a transaction\n\n\
    -- +goose Down\nDROP INDEX CONCURRENTLY a_n;\n";

/// A goose project: its files run with goose's rules (a function in a StatementBegin block,
/// NO TRANSACTION for CREATE INDEX CONCURRENTLY), and its history (`goose_db_version`, made as
/// goose's PostgreSQL dialect makes it) is adopted by goose's rule: a version's newest row
/// decides.
#[tokio::test]
async fn goose_files_run_and_goose_history_is_adopted() {
    let db = common::empty_db().await;
    let pool = db.pool();
    pool.batch_execute(
        "CREATE TABLE goose_db_version (\
           id integer PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY, \
           version_id bigint NOT NULL, is_applied boolean NOT NULL, \
           tstamp timestamp NOT NULL DEFAULT now());
         INSERT INTO goose_db_version (version_id, is_applied, tstamp) VALUES \
           (0, true, '2024-01-01 00:00:00'), (1, true, '2024-01-02 00:00:00'), \
           (2, true, '2024-01-03 00:00:00'), (2, false, '2024-01-04 00:00:00');
         CREATE TABLE a (n int);",
    )
    .await
    .unwrap();
    let dir = Dir::new(&[
        ("00001_create_a.sql", GOOSE_1),
        ("00002_function.sql", GOOSE_2),
        ("00003_index.sql", GOOSE_3),
    ]);
    let m = dir.migrator();
    assert!(m.migrations().iter().all(|m| m.is_goose()));
    assert!(m.migrations()[2].parsed().up.no_transaction);

    // Version 2 was applied, then rolled back: only version 1 counts.
    let adopted = m
        .adopt_goose(pool, "public", skelly_db::migrate::GOOSE_TABLE)
        .await
        .unwrap();
    assert_eq!(adopted, ["00001_create_a.sql"]);
    let status = m.status(pool).await.unwrap();
    assert_eq!(
        status[0].applied_at.unwrap().to_rfc3339(),
        "2024-01-02T00:00:00+00:00"
    );
    let applied = m.up(pool).await.unwrap();
    let ids: Vec<_> = applied.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["00002_function.sql", "00003_index.sql"]);
    let one: i32 = pool.query_one("SELECT one()", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
    // Round trip: all the way down and up again.
    assert_eq!(m.down(pool, 3).await.unwrap().len(), 3);
    assert!(tables(pool).await.iter().all(|t| t == "goose_db_version"));
    assert_eq!(m.up(pool).await.unwrap().len(), 3);

    // An applied version without its file: refused, nothing written.
    pool.execute(
        "INSERT INTO goose_db_version (version_id, is_applied) VALUES (7, true)",
        &[],
    )
    .await
    .unwrap();
    let err = migration_error(
        m.adopt_goose(pool, "public", "goose_db_version")
            .await
            .unwrap_err(),
    );
    assert!(
        err.to_string()
            .contains("version 7 is applied in public.goose_db_version but has no file"),
        "{err}"
    );

    // goose and sql-migrate files together are refused.
    dir.write("00004_b.sql", B);
    let err = Migrator::from_dir(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("mix formats") && err.contains("00004_b.sql"),
        "{err}"
    );
}

/// A procedure or DO block that commits inside (batched backfills) runs in a notransaction
/// migration: it is run by itself, not in the per-statement transaction the runner otherwise
/// uses (fresh-eyes review of issue 22's runner).
#[tokio::test]
async fn a_do_block_that_commits_runs_in_a_notransaction_migration() {
    let db = common::empty_db().await;
    let pool = db.pool();
    let dir = Dir::new(&[(
        "1_batches.sql",
        "-- +migrate Up notransaction\nCREATE TABLE b (n int);\n-- +migrate StatementBegin\nDO $$\nBEGIN\n  FOR i IN 1..3 LOOP\n    INSERT INTO b VALUES (i);\n    COMMIT;\n  END LOOP;\nEND\n$$;\n-- +migrate StatementEnd\nINSERT INTO b VALUES (4);\n-- +migrate Down notransaction\nDELETE FROM b WHERE n = 4;\nDROP TABLE b;\n",
    )]);
    dir.migrator().up(pool).await.unwrap();
    let n: i64 = pool
        .query_one("SELECT count(*) FROM b", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 4);
    dir.migrator().down(pool, 1).await.unwrap();
    assert!(pool.query("SELECT 1 FROM b", &[]).await.is_err());
}
