//! The bounded per-connection statement cache, and the unnamed-statement mode (size 0) for
//! transaction-mode poolers, on a real server.

mod common;

use common::models::{Role, User, UserPatch};
use futures_util::TryStreamExt;
use skelly_db::Table;
use skelly_db::{Executor, Pool, PoolConfig};

async fn prepared_on_server(db: &impl Executor) -> i64 {
    db.query_one("SELECT count(*) FROM pg_prepared_statements", &[])
        .await
        .unwrap()
        .get(0)
}

async fn backend_memory(db: &impl Executor) -> i64 {
    db.query_one(
        "SELECT sum(total_bytes)::int8 FROM pg_backend_memory_contexts",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

fn pool(db: &skelly_db::testing::TestDb, cache: usize) -> Pool {
    db.pool_config()
        .statement_cache_size(cache)
        .max_size(1)
        .build()
        .unwrap()
}

#[tokio::test]
async fn five_thousand_distinct_statements_leave_at_most_the_cache_size_prepared() {
    let db = common::empty_db().await;
    for size in [100, 7] {
        let pool = pool(&db, size);
        let conn = pool.get().await.unwrap();
        for i in 0..5_000 {
            let row = conn
                .query_one(&format!("SELECT {i}::int4 + $1"), &[&1i32])
                .await
                .unwrap();
            assert_eq!(row.get::<_, i32>(0), i + 1);
        }
        assert_eq!(conn.cached_statements(), size);
        // The count runs through the cache too, so it is one of them.
        let on_server = prepared_on_server(&conn).await;
        assert!(
            on_server <= size as i64,
            "{on_server} prepared, cache {size}"
        );
        assert!(
            on_server >= size as i64 - 1,
            "{on_server} prepared, cache {size}"
        );
        // Recently used statements are still there: a hit prepares nothing new.
        conn.query_one("SELECT 4999::int4 + $1", &[&1i32])
            .await
            .unwrap();
        assert_eq!(prepared_on_server(&conn).await, on_server);
    }
}

#[tokio::test]
async fn server_memory_per_connection_stays_flat_with_the_bounded_cache() {
    let db = common::empty_db().await;
    let pool = pool(&db, 100);
    let conn = pool.get().await.unwrap();
    let before = backend_memory(&conn).await;
    for i in 0..20_000 {
        conn.query_one(&format!("SELECT {i}::int8 + $1"), &[&1i64])
            .await
            .unwrap();
    }
    let after = backend_memory(&conn).await;
    eprintln!(
        "server backend memory: {:.1} MB before, {:.1} MB after 20,000 distinct statements",
        before as f64 / 1e6,
        after as f64 / 1e6
    );
    // Unbounded, this grew by hundreds of MB; bounded it holds 100 plans.
    assert!(after < before + 50_000_000, "{before} -> {after}");
}

#[tokio::test]
async fn cache_size_zero_names_no_statement_and_everything_still_works() {
    let db = common::reference_db().await;
    let pool = pool(&db, 0);
    let ada = User::insert(&pool, common::new_user("ada@example.com"))
        .await
        .unwrap();
    let many = User::insert_many(
        &pool,
        (0..50)
            .map(|i| common::new_user(&format!("u{i}@example.com")))
            .collect(),
    )
    .await
    .unwrap();
    assert_eq!(User::get(&pool, ada.id).await.unwrap().email, ada.email);
    let updated = User::update(
        &pool,
        ada.id,
        UserPatch {
            bio: Some(Some("hi".into())),
            role: Some(Role::Admin),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(updated.bio.as_deref(), Some("hi"));
    let ids: Vec<uuid::Uuid> = many.iter().map(|u| u.id).collect();
    let query = User::query()
        .filter(User::ID.is_in(ids).and(User::EMAIL.like("u%")))
        .order_by(User::EMAIL.asc())
        .limit(10);
    assert_eq!(query.fetch_all(&pool).await.unwrap().len(), 10);
    let streamed: Vec<User> = query
        .stream(&pool)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed.len(), 10);
    assert_eq!(User::query().count(&pool).await.unwrap(), 51);
    assert!(User::delete(&pool, ada.id).await.unwrap());
    let mut conn = pool.get().await.unwrap();
    let tx = conn.begin().await.unwrap();
    User::insert(&tx, common::new_user("tx@example.com"))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    // The same SQL text with values of another type still goes out right.
    let a: i64 = conn
        .query_one("SELECT $1::int8", &[&7i64])
        .await
        .unwrap()
        .get(0);
    let b: i64 = conn
        .query_one("SELECT $1::int8", &[&7i32])
        .await
        .unwrap()
        .get(0);
    assert_eq!((a, b), (7, 7));
    assert_eq!(conn.cached_statements(), 0);
    assert_eq!(prepared_on_server(&conn).await, 0);
}

#[tokio::test]
async fn a_malformed_cache_size_is_a_config_error_naming_it() {
    // Through the builder nothing can be malformed; the environment is covered in env_config.
    let config = PoolConfig::new("postgres://u@h/db")
        .unwrap()
        .statement_cache_size(0);
    assert!(format!("{config:?}").contains("statement_cache_size: 0"));
}
