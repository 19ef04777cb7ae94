//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use skelly_db::testing::TestDb;

/// Whether this run goes through PgBouncer at statement cache size 0 (`SKELLY_TEST_PGBOUNCER=1`,
/// the suite's pooler run in `.ci/run`): no statement is prepared by name then.
pub fn through_pgbouncer() -> bool {
    std::env::var_os("SKELLY_TEST_PGBOUNCER").is_some_and(|v| v != "0" && !v.is_empty())
}

/// A fresh, empty database for one test.
pub async fn empty_db() -> TestDb {
    TestDb::new().await.expect("create a test database")
}

/// The reference migrations directory.
pub fn reference_migrations() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../migrations")
}

/// A fresh database with the reference schema applied.
pub async fn reference_db() -> TestDb {
    TestDb::builder()
        .migrations(reference_migrations())
        .build()
        .await
        .expect("create a test database with the reference schema")
}

pub use skelly_db_tests as models;

/// A new user with the given email.
pub fn new_user(email: &str) -> models::NewUser {
    models::NewUser {
        email: email.to_string(),
        display_name: format!("User {email}"),
        role: models::Role::Member,
        bio: None,
    }
}

/// Polls `check` until it holds, instead of sleeping for a guessed time; panics naming `what`
/// after 10 s.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The path of an example of this crate: cargo test builds the examples next to the test
/// binaries (target/<profile>/examples).
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} was not built; run cargo test --workspace",
        path.display()
    );
    path
}
