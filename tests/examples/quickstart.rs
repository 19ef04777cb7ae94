//! The README's quickstart: `cargo run --example quickstart`.
//!
//! Connects to `DATABASE_URL` (or starts a throwaway local server when it is unset), creates a
//! fresh database, applies the reference migrations, and shows the main features.

use skelly_db::migrate::Migrator;
use skelly_db::testing::TestDb;
use skelly_db::{ConstraintKind, Error, Executor};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // A database of its own, dropped at the end, so the example can run again and again.
    let db = TestDb::new().await?;
    let pool = db.pool();
    println!("database: {}", db.name());

    let health = pool.health().await?;
    println!(
        "health: round trip {:?}, pool {:?}",
        health.latency, health.status
    );

    let migrations = Migrator::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations"))?;
    for applied in migrations.up(pool).await? {
        println!(
            "migrated: {} ({} ms)",
            applied.id,
            applied.duration.as_millis()
        );
    }

    let insert = "INSERT INTO \"user\".users (email, display_name, role) VALUES ($1, $2, $3) \
                  RETURNING id";
    let row = pool
        .query_one(insert, &[&"ada@example.com", &"Ada", &"admin"])
        .await?;
    let id: uuid::Uuid = row.get(0);
    println!("inserted: {id}");

    // A unique violation arrives as a typed error, with the constraint's name.
    let err = pool
        .query_one(insert, &[&"ada@example.com", &"Ada again", &"member"])
        .await
        .expect_err("the email is taken");
    if let Error::Constraint(v) = &err {
        assert_eq!(v.kind, ConstraintKind::Unique);
        println!(
            "caught: unique violation of {} -> HTTP {}",
            v.constraint.as_deref().unwrap_or("?"),
            err.status()
        );
    }

    // A CHECK constraint guards the text enum column.
    let err = pool
        .query_one(insert, &[&"bob@example.com", &"Bob", &"owner"])
        .await
        .unwrap_err();
    println!("caught: {} ({}, HTTP {})", err, err.code(), err.status());

    // Soft delete frees the email for a new account.
    pool.execute(
        "UPDATE \"user\".users SET deleted_at = now() WHERE id = $1",
        &[&id],
    )
    .await?;
    pool.query_one(insert, &[&"ada@example.com", &"Ada (new)", &"member"])
        .await?;
    let live: i64 = pool
        .query_one(
            "SELECT count(*) FROM \"user\".users WHERE deleted_at IS NULL",
            &[],
        )
        .await?
        .get(0);
    println!("live users: {live}");

    for status in migrations.status(pool).await? {
        println!("status: {} {:?}", status.id, status.state);
    }
    Ok(())
}
