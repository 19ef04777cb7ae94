//! Seeds: run in order in one transaction, idempotent, errors name the seed.

mod common;

use common::models::{DevSeed, NewUser, Role, User, DEV_USERS};
use skelly_db::seed::{Seed, SeedFuture, SeedTx, Seeder};
use skelly_db::Table;
use skelly_db::{Error, Executor, Pool};

async fn snapshot(pool: &Pool) -> Vec<String> {
    pool.query(
        "SELECT concat_ws('|', id, email, display_name, role, bio, created_at, updated_at, deleted_at) \
         FROM \"user\".users ORDER BY email",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[tokio::test]
async fn the_development_seed_twice_changes_nothing() {
    let db = common::reference_db().await;
    let pool = db.pool();
    let seeder = Seeder::new().seed(DevSeed);
    assert_eq!(seeder.run(pool).await.unwrap(), ["dev users"]);
    let first = snapshot(pool).await;
    assert_eq!(first.len(), DEV_USERS.len());
    assert_eq!(seeder.run(pool).await.unwrap(), ["dev users"]);
    assert_eq!(snapshot(pool).await, first);
}

struct Upserts;

impl Seed for Upserts {
    fn name(&self) -> &str {
        "upserts"
    }

    fn run<'a>(&'a self, tx: &'a SeedTx<'_>) -> SeedFuture<'a> {
        Box::pin(async move {
            User::upsert(
                tx,
                NewUser {
                    email: "ada@example.com".into(),
                    display_name: "Countess Lovelace".into(),
                    role: Role::Admin,
                    bio: Some("analytical engine".into()),
                },
                User::EMAIL,
            )
            .await?;
            Ok(())
        })
    }
}

struct Fails;

impl Seed for Fails {
    fn name(&self) -> &str {
        "broken"
    }

    fn run<'a>(&'a self, tx: &'a SeedTx<'_>) -> SeedFuture<'a> {
        Box::pin(async move {
            tx.execute("INSERT INTO \"user\".users (email, display_name, role) VALUES ('x@y', 'X', 'owner')", &[])
                .await?;
            Ok(())
        })
    }
}

#[tokio::test]
async fn upsert_updates_the_live_row_with_the_same_key() {
    let db = common::reference_db().await;
    let pool = db.pool();
    Seeder::new().seed(DevSeed).run(pool).await.unwrap();
    let before = User::query()
        .filter(User::EMAIL.eq("ada@example.com"))
        .fetch_one(pool)
        .await
        .unwrap();
    Seeder::new().seed(Upserts).run(pool).await.unwrap();
    let after = User::query()
        .filter(User::EMAIL.eq("ada@example.com"))
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(after.id, before.id);
    assert_eq!(after.display_name, "Countess Lovelace");
    assert_eq!(after.bio.as_deref(), Some("analytical engine"));
    assert!(after.updated_at > before.updated_at);
    assert_eq!(after.created_at, before.created_at);

    // A soft-deleted row does not count: the upsert inserts a new live one.
    User::delete(pool, after.id).await.unwrap();
    Seeder::new().seed(Upserts).run(pool).await.unwrap();
    let live = User::query()
        .filter(User::EMAIL.eq("ada@example.com"))
        .fetch_one(pool)
        .await
        .unwrap();
    assert_ne!(live.id, after.id);
}

#[tokio::test]
async fn a_failing_seed_rolls_back_all_and_is_named() {
    let db = common::reference_db().await;
    let pool = db.pool();
    let err = Seeder::new()
        .seed(DevSeed)
        .seed(Fails)
        .run(pool)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Seed { ref seed, .. } if seed == "broken"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("seed `broken` failed: check violation"),
        "{err}"
    );
    assert_eq!((err.code(), err.status()), ("check_violation", 400));
    assert!(
        snapshot(pool).await.is_empty(),
        "the dev users were rolled back too"
    );
}

#[tokio::test]
async fn insert_or_ignore_reports_what_it_did() {
    let db = common::reference_db().await;
    let pool = db.pool();
    let new = || NewUser {
        email: "once@example.com".into(),
        display_name: "Once".into(),
        role: Role::Member,
        bio: None,
    };
    let first = User::insert_or_ignore(pool, new()).await.unwrap();
    assert!(first.is_some());
    assert!(User::insert_or_ignore(pool, new()).await.unwrap().is_none());
    assert_eq!(User::query().count(pool).await.unwrap(), 1);
}
