//! Issue 24: template databases do not pile up on a shared server. A template is leased by each
//! process that uses it, dropped when the last of them exits, and dropped by the next build when
//! the processes that used it were killed. Child processes are `src/bin/template_user.rs`.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use skelly_db::migrate::Migrator;
use skelly_db::testing::TestDb;
use skelly_db::Executor;

async fn databases(db: &TestDb, like: &str) -> Vec<String> {
    db.pool()
        .query(
            "SELECT datname::text FROM pg_database WHERE datname LIKE $1 ORDER BY oid",
            &[&like],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// A migration set of its own (its own fingerprint, so its own template), and that template's
/// name.
fn migration_set() -> (PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("skelly-tpl-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("1_t.sql"),
        format!(
            "-- +migrate Up\nCREATE TABLE t (n int);\nCOMMENT ON TABLE t IS '{}';\n-- +migrate Down\nDROP TABLE t;\n",
            dir.display()
        ),
    )
    .unwrap();
    let template = format!(
        "skelly_tpl_{}",
        &Migrator::from_dir(&dir).unwrap().fingerprint()[..24]
    );
    (dir, template)
}

/// Starts a process that builds a test database from `dir`'s migrations on `db`'s server, and
/// waits until it has.
fn child(db: &TestDb, dir: &std::path::Path, then: &str) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_template_user"))
        // This test's server and database (advisory locks are per database), also when it is
        // the throwaway server of this process (whose database for that is `postgres`).
        .env("DATABASE_URL", server_url(db))
        .arg(dir)
        .arg(then)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(line.starts_with("ready "), "the child said {line:?}");
    child
}

/// The `DATABASE_URL` this process's test databases come from.
fn server_url(db: &TestDb) -> String {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => {
            let url = db.url();
            format!("{}/postgres", &url[..url.rfind('/').unwrap()])
        }
    }
}

async fn exists(db: &TestDb, name: &str) -> bool {
    databases(db, name).await.iter().any(|n| n == name)
}

#[tokio::test]
async fn a_template_is_dropped_when_the_last_process_using_it_exits() {
    let scratch = common::empty_db().await;
    // Used by one process, which exits: its template goes with it.
    let (alone, alone_template) = migration_set();
    let mut c = child(&scratch, &alone, "exit");
    assert!(c.wait().unwrap().success());
    assert!(
        !exists(&scratch, &alone_template).await,
        "{alone_template} is left after the only process using it exited"
    );

    // Used by this process and by a child: the child's exit leaves it to this process.
    let (shared, shared_template) = migration_set();
    let db = TestDb::builder().migrations(&shared).build().await.unwrap();
    let mut c = child(&scratch, &shared, "exit");
    assert!(c.wait().unwrap().success());
    assert!(
        exists(&scratch, &shared_template).await,
        "{shared_template} was dropped while this process still uses it"
    );
    // And a new database is still cloned from it.
    let again = TestDb::builder().migrations(&shared).build().await.unwrap();
    again.pool().batch_execute("SELECT n FROM t").await.unwrap();
    drop((db, again));
    for dir in [alone, shared] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[tokio::test]
async fn templates_of_killed_processes_are_dropped_by_the_next_build() {
    let scratch = common::empty_db().await;
    // A process that uses a template and is killed: nothing of it runs at exit.
    let (killed, killed_template) = migration_set();
    let mut c = child(&scratch, &killed, "wait");
    assert!(exists(&scratch, &killed_template).await);
    c.kill().unwrap();
    c.wait().unwrap();
    // A template another live process holds (this test's own lease on a fake one), a
    // half-built one a crashed build left, and one nobody holds: made under the template lock,
    // as a build would, so that no other process's cleanup sees them before the lease.
    let (client, connection) =
        tokio_postgres::connect(&server_url(&scratch), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    client
        .execute("SELECT pg_advisory_lock(x'736b656c6c797470'::bigint)", &[])
        .await
        .unwrap();
    let held = "skelly_tpl_zzheld";
    for name in [held, "skelly_tpl_zzcrash_building", "skelly_tpl_zzorphan"] {
        for sql in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            client.batch_execute(&sql).await.unwrap();
        }
    }
    client
        .execute(
            "SELECT pg_advisory_lock_shared(x'736b7470'::int, oid::int4) FROM pg_database \
             WHERE datname = $1",
            &[&held],
        )
        .await
        .unwrap();
    client
        .execute(
            "SELECT pg_advisory_unlock(x'736b656c6c797470'::bigint)",
            &[],
        )
        .await
        .unwrap();

    // The next template build cleans up.
    let (next, _) = migration_set();
    let db = TestDb::builder().migrations(&next).build().await.unwrap();
    db.pool().batch_execute("SELECT n FROM t").await.unwrap();
    let left = databases(&scratch, "skelly\\_tpl\\_%").await;
    for gone in [
        killed_template.as_str(),
        "skelly_tpl_zzcrash_building",
        "skelly_tpl_zzorphan",
    ] {
        assert!(!left.iter().any(|n| n == gone), "{gone} is left: {left:?}");
    }
    assert!(
        left.iter().any(|n| n == held),
        "a template another process holds was dropped: {left:?}"
    );
    drop(client);
    scratch
        .pool()
        .batch_execute(&format!("DROP DATABASE IF EXISTS {held}"))
        .await
        .unwrap();
    for dir in [killed, next] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}
