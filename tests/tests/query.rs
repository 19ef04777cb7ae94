//! The query builder against real data: each operator, scopes, terminals, bulk writes.

mod common;

use common::models::{NewUser, Role, User, UserPatch};
use futures_util::TryStreamExt;
use skelly_db::Table;
use skelly_db::{Error, Executor, Pool};

/// Six users: a0..a5; roles cycle admin, member, read-only; odd ones have a bio; a5 deleted.
async fn seed(pool: &Pool) -> Vec<User> {
    let rows = (0..6)
        .map(|i| NewUser {
            email: format!("a{i}@example.com"),
            display_name: format!("User {i}"),
            role: [Role::Admin, Role::Member, Role::ReadOnly][i % 3],
            bio: (i % 2 == 1).then(|| format!("Bio of {i}")),
        })
        .collect();
    let users = User::insert_many(pool, rows).await.unwrap();
    User::delete(pool, users[5].id).await.unwrap();
    users
}

fn emails(users: &[User]) -> Vec<&str> {
    users.iter().map(|u| u.email.as_str()).collect()
}

#[tokio::test]
async fn each_operator_on_real_rows() {
    let db = common::reference_db().await;
    let pool = db.pool();
    let users = seed(pool).await;
    let by = |e| async move {
        let mut rows = User::query()
            .filter(e)
            .order_by(User::EMAIL.asc())
            .fetch_all(pool)
            .await
            .unwrap();
        rows.sort_by(|a, b| a.email.cmp(&b.email));
        rows
    };
    assert_eq!(
        emails(&by(User::EMAIL.eq("a1@example.com")).await),
        ["a1@example.com"]
    );
    assert_eq!(by(User::EMAIL.ne("a1@example.com")).await.len(), 4);
    assert_eq!(
        emails(&by(User::ROLE.eq(Role::ReadOnly)).await),
        ["a2@example.com"]
    );
    assert_eq!(by(User::CREATED_AT.le(users[0].created_at)).await.len(), 5);
    assert_eq!(by(User::CREATED_AT.lt(users[0].created_at)).await.len(), 0);
    assert_eq!(by(User::CREATED_AT.ge(users[0].created_at)).await.len(), 5);
    assert_eq!(by(User::CREATED_AT.gt(users[0].created_at)).await.len(), 0);
    assert_eq!(
        emails(&by(User::BIO.is_not_null()).await),
        ["a1@example.com", "a3@example.com"]
    );
    assert_eq!(by(User::BIO.is_null()).await.len(), 3);
    assert_eq!(
        emails(&by(User::ROLE.is_in([Role::Admin, Role::ReadOnly])).await),
        ["a0@example.com", "a2@example.com", "a3@example.com"]
    );
    assert!(by(User::ROLE.is_in(Vec::<Role>::new())).await.is_empty());
    assert_eq!(by(User::EMAIL.like("a_@example.com")).await.len(), 5);
    assert_eq!(by(User::EMAIL.like("A%")).await.len(), 0);
    assert_eq!(by(User::EMAIL.ilike("A%")).await.len(), 5);
    assert_eq!(
        emails(&by(User::BIO.ilike("%OF 3")).await),
        ["a3@example.com"]
    );
    assert_eq!(
        emails(&by(User::ROLE.eq(Role::Admin).and(User::BIO.is_not_null())).await),
        ["a3@example.com"]
    );
    assert_eq!(
        emails(
            &by(User::EMAIL
                .eq("a0@example.com")
                .or(User::EMAIL.eq("a4@example.com")))
            .await
        ),
        ["a0@example.com", "a4@example.com"]
    );
    assert_eq!(by(User::ROLE.eq(Role::Admin).not()).await.len(), 3);
    assert_eq!(by(User::BIO.eq(Some("Bio of 1"))).await.len(), 1);
    // Values travel as parameters: quotes and injection attempts are just text.
    assert!(by(User::EMAIL.eq("' OR 1=1 --")).await.is_empty());
}

#[tokio::test]
async fn ordering_paging_and_terminals() {
    let db = common::reference_db().await;
    let pool = db.pool();
    seed(pool).await;
    let page = |offset| {
        User::query()
            .order_by(User::ROLE.asc())
            .order_by(User::EMAIL.desc())
            .limit(2)
            .offset(offset)
    };
    assert_eq!(
        emails(&page(0).fetch_all(pool).await.unwrap()),
        ["a3@example.com", "a0@example.com"]
    );
    assert_eq!(
        emails(&page(2).fetch_all(pool).await.unwrap()),
        ["a4@example.com", "a1@example.com"]
    );
    assert_eq!(
        emails(&page(4).fetch_all(pool).await.unwrap()),
        ["a2@example.com"]
    );
    assert_eq!(page(4).count(pool).await.unwrap(), 1);

    let q = User::query().filter(User::ROLE.eq(Role::Member));
    assert_eq!(q.count(pool).await.unwrap(), 2);
    assert!(q.exists(pool).await.unwrap());
    assert_eq!(
        q.clone()
            .order_by(User::EMAIL.asc())
            .fetch_one(pool)
            .await
            .unwrap()
            .email,
        "a1@example.com"
    );
    let none = User::query().filter(User::EMAIL.eq("nobody"));
    assert!(!none.exists(pool).await.unwrap());
    assert!(none.fetch_optional(pool).await.unwrap().is_none());
    let err = none.fetch_one(pool).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");

    let streamed: Vec<User> = User::query()
        .order_by(User::EMAIL.asc())
        .stream(pool)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed.len(), 5);
    assert_eq!(streamed[0].email, "a0@example.com");
}

#[tokio::test]
async fn soft_deleted_rows_are_out_of_every_terminal_unless_asked_for() {
    let db = common::reference_db().await;
    let pool = db.pool();
    seed(pool).await;
    let deleted = User::EMAIL.eq("a5@example.com");
    assert_eq!(User::query().count(pool).await.unwrap(), 5);
    assert!(!User::query()
        .filter(deleted.clone())
        .exists(pool)
        .await
        .unwrap());
    assert!(User::query()
        .filter(deleted.clone())
        .fetch_optional(pool)
        .await
        .unwrap()
        .is_none());
    let streamed: Vec<User> = User::query()
        .filter(deleted.clone())
        .stream(pool)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(streamed.is_empty());

    assert_eq!(User::query().with_deleted().count(pool).await.unwrap(), 6);
    let only = User::query().only_deleted().fetch_all(pool).await.unwrap();
    assert_eq!(emails(&only), ["a5@example.com"]);
    assert!(only[0].deleted_at.is_some());
    assert!(User::query()
        .filter(deleted)
        .with_deleted()
        .exists(pool)
        .await
        .unwrap());
}

#[tokio::test]
async fn bulk_update_and_delete() {
    let db = common::reference_db().await;
    let pool = db.pool();
    let users = seed(pool).await;
    let changed = User::query()
        .filter(User::ROLE.eq(Role::Admin))
        .update(
            pool,
            &UserPatch {
                bio: Some(Some("admin".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(changed, 2, "a0 and a3; a5 is deleted");
    let admins = User::query()
        .filter(User::BIO.eq("admin"))
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(admins.len(), 2);
    assert!(admins.iter().all(|u| u.updated_at > u.created_at));
    // The deleted admin was not touched.
    let a5 = User::find_with_deleted(pool, users[5].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a5.bio.as_deref(), Some("Bio of 5"));

    let deleted = User::query()
        .filter(User::ROLE.eq(Role::Member))
        .delete(pool)
        .await
        .unwrap();
    assert_eq!(deleted, 2);
    assert_eq!(User::query().count(pool).await.unwrap(), 3);
    assert_eq!(User::query().only_deleted().count(pool).await.unwrap(), 3);
    // Deleting among the deleted changes nothing (and touches no live row).
    assert_eq!(User::query().only_deleted().delete(pool).await.unwrap(), 0);
    assert_eq!(User::query().count(pool).await.unwrap(), 3);
    // Soft: the rows are still there, and deleting again changes nothing.
    assert_eq!(
        User::query()
            .filter(User::ROLE.eq(Role::Member))
            .delete(pool)
            .await
            .unwrap(),
        0
    );
    assert_eq!(User::query().with_deleted().count(pool).await.unwrap(), 6);
}

#[tokio::test]
async fn repeated_query_shapes_hit_the_statement_cache() {
    let db = common::reference_db().await;
    let pool = db.pool();
    seed(pool).await;
    let conn = pool.get().await.unwrap();
    let before = conn.cached_statements();
    for i in 0..10 {
        User::query()
            .filter(User::EMAIL.eq(format!("a{i}@example.com")))
            .limit(i)
            .fetch_all(&conn)
            .await
            .unwrap();
    }
    // Behind the pooler nothing is named: the texts' parameter types are all it keeps.
    let expected = if common::through_pgbouncer() {
        0
    } else {
        before + 1
    };
    assert_eq!(conn.cached_statements(), expected);
}

#[derive(skelly_db::Table, Debug, Clone, PartialEq)]
#[table(name = "counters")]
pub struct Counter {
    pub id: uuid::Uuid,
    pub n: i32,
    pub big: i64,
}

#[tokio::test]
async fn is_in_binds_one_array_for_any_length() {
    let db = common::reference_db().await;
    let pool = db.pool();
    let users = seed(pool).await;

    // 100,000 values: uuid, text, text enum, a nullable column; far past the 65,535 parameters
    // one statement may have.
    let mut ids: Vec<uuid::Uuid> = (0..100_000).map(|_| uuid::Uuid::new_v4()).collect();
    ids.extend([users[0].id, users[2].id]);
    let found = User::query()
        .filter(User::ID.is_in(ids.clone()))
        .order_by(User::EMAIL.asc())
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(emails(&found), ["a0@example.com", "a2@example.com"]);
    let mut many: Vec<String> = (0..100_000).map(|i| format!("x{i}@example.com")).collect();
    many.push("a1@example.com".into());
    let n = User::query()
        .filter(User::EMAIL.is_in(many.iter().map(String::as_str)))
        .count(pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
    let n = User::query()
        .filter(User::ROLE.is_in([Role::Member]))
        .count(pool)
        .await
        .unwrap();
    assert_eq!(n, 2);
    let n = User::query()
        .filter(User::BIO.is_in(["Bio of 1", "Bio of 3"]))
        .count(pool)
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        User::query()
            .filter(User::EMAIL.is_in(Vec::<String>::new()))
            .count(pool)
            .await
            .unwrap(),
        0
    );

    // Integers of both widths.
    pool.batch_execute(&Counter::create_table_sql())
        .await
        .unwrap();
    Counter::insert_many(
        pool,
        (1..=10)
            .map(|n| NewCounter {
                n,
                big: i64::from(n) * 10_000_000_000,
            })
            .collect(),
    )
    .await
    .unwrap();
    let odd = Counter::query()
        .filter(Counter::N.is_in([1, 3, 5, 99]))
        .count(pool)
        .await
        .unwrap();
    assert_eq!(odd, 3);
    let big = Counter::query()
        .filter(Counter::BIG.is_in([20_000_000_000i64, 7]))
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(big.iter().map(|c| c.n).collect::<Vec<_>>(), [2]);

    // One statement text, so one cached statement, for every list length.
    let sql = |n: usize| {
        User::query()
            .filter(User::ID.is_in(ids[..n].to_vec()))
            .to_sql()
    };
    assert_eq!(sql(1), sql(50_000));
    let conn = pool.get().await.unwrap();
    let by_ids = |n: usize| User::query().filter(User::ID.is_in(ids[..n].to_vec()));
    by_ids(1).fetch_all(&conn).await.unwrap();
    let cached = conn.cached_statements();
    for n in 2..=40 {
        by_ids(n).fetch_all(&conn).await.unwrap();
    }
    assert_eq!(conn.cached_statements(), cached);
}
