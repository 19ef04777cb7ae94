//! `#[derive(Table)]` on the reference schema: CRUD, soft delete, DDL, decoding errors.

mod common;

use common::models::{NewUser, Role, User, UserPatch};
use common::new_user;
use skelly_db::{ConstraintKind, Error, Executor, Table};

#[tokio::test]
async fn insert_fills_id_and_timestamps() {
    let db = common::reference_db().await;
    let pool = db.pool();
    let before = chrono::Utc::now();
    let user = User::insert(
        pool,
        NewUser {
            email: "ada@example.com".into(),
            display_name: "Ada".into(),
            role: Role::ReadOnly,
            bio: Some("mathematician".into()),
        },
    )
    .await
    .unwrap();
    assert!(!user.id.is_nil());
    assert_eq!(user.email, "ada@example.com");
    assert_eq!(user.role, Role::ReadOnly);
    assert_eq!(user.bio.as_deref(), Some("mathematician"));
    assert!(user.created_at >= before - chrono::Duration::seconds(5));
    assert_eq!(user.created_at, user.updated_at);
    assert_eq!(user.deleted_at, None);
    // Stored as the renamed text.
    let role: String = pool
        .query_one("SELECT role FROM \"user\".users WHERE id = $1", &[&user.id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(role, "read-only");
    assert_eq!(User::get(pool, user.id).await.unwrap(), user);
}

#[tokio::test]
async fn find_get_and_not_found() {
    let db = common::reference_db().await;
    let pool = db.pool();
    let missing = uuid::Uuid::new_v4();
    assert_eq!(User::find(pool, missing).await.unwrap(), None);
    let err = User::get(pool, missing).await.unwrap_err();
    assert!(
        matches!(err, Error::NotFound { ref table } if table == "\"user\".\"users\""),
        "{err:?}"
    );
    assert_eq!(err.status(), 404);
}

#[tokio::test]
async fn update_touches_only_patched_fields_and_advances_updated_at() {
    let db = common::reference_db().await;
    let pool = db.pool();
    let user = User::insert(pool, new_user("a@example.com")).await.unwrap();
    // now() is the transaction's start: the update's, a round trip later, is later still.
    let updated = User::update(
        pool,
        user.id,
        UserPatch {
            display_name: Some("Renamed".into()),
            bio: Some(Some("hello".into())),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(updated.display_name, "Renamed");
    assert_eq!(updated.bio.as_deref(), Some("hello"));
    assert_eq!(updated.email, user.email);
    assert_eq!(updated.role, user.role);
    assert_eq!(updated.created_at, user.created_at);
    assert!(updated.updated_at > user.updated_at);

    // Some(None) writes NULL; an empty patch still advances updated_at.
    let cleared = User::update(
        pool,
        user.id,
        UserPatch {
            bio: Some(None),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(cleared.bio, None);
    assert_eq!(cleared.display_name, "Renamed");
    let touched = User::update(pool, user.id, UserPatch::default())
        .await
        .unwrap();
    assert!(touched.updated_at >= cleared.updated_at);

    let err = User::update(pool, uuid::Uuid::new_v4(), UserPatch::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn soft_delete_restore_and_hard_delete() {
    let db = common::reference_db().await;
    let pool = db.pool();
    let user = User::insert(pool, new_user("s@example.com")).await.unwrap();
    assert!(User::delete(pool, user.id).await.unwrap());
    // Once: a second delete finds no live row.
    assert!(!User::delete(pool, user.id).await.unwrap());
    assert_eq!(User::find(pool, user.id).await.unwrap(), None);
    assert!(matches!(
        User::get(pool, user.id).await,
        Err(Error::NotFound { .. })
    ));
    let deleted = User::find_with_deleted(pool, user.id)
        .await
        .unwrap()
        .unwrap();
    let deleted_at = deleted.deleted_at.expect("deleted_at set");
    // The row is still there.
    let n: i64 = pool
        .query_one("SELECT count(*) FROM \"user\".users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    // Soft-deleted rows cannot be updated.
    assert!(User::update(pool, user.id, UserPatch::default())
        .await
        .is_err());
    // deleted_at was set once: a second delete did not move it.
    assert_eq!(
        User::find_with_deleted(pool, user.id)
            .await
            .unwrap()
            .unwrap()
            .deleted_at,
        Some(deleted_at)
    );

    assert!(User::restore(pool, user.id).await.unwrap());
    assert!(!User::restore(pool, user.id).await.unwrap());
    assert_eq!(User::get(pool, user.id).await.unwrap().deleted_at, None);

    assert!(User::hard_delete(pool, user.id).await.unwrap());
    assert!(User::find_with_deleted(pool, user.id)
        .await
        .unwrap()
        .is_none());
    assert!(!User::hard_delete(pool, user.id).await.unwrap());
}

#[tokio::test]
async fn email_is_reusable_after_soft_delete() {
    let db = common::reference_db().await;
    let pool = db.pool();
    let first = User::insert(pool, new_user("dup@example.com"))
        .await
        .unwrap();
    let err = User::insert(pool, new_user("dup@example.com"))
        .await
        .unwrap_err();
    let v = err.as_constraint().expect("a constraint violation");
    assert_eq!(v.kind, ConstraintKind::Unique);
    assert_eq!(v.constraint.as_deref(), Some("users_email_key"));
    User::delete(pool, first.id).await.unwrap();
    let second = User::insert(pool, new_user("dup@example.com"))
        .await
        .unwrap();
    assert_ne!(first.id, second.id);
    // Restoring the first would now clash with the live second.
    let err = User::restore(pool, first.id).await.unwrap_err();
    assert_eq!(err.code(), "unique_violation");
}

#[tokio::test]
async fn insert_many_ten_thousand_rows_in_one_statement() {
    let db = common::reference_db().await;
    let pool = db.pool();
    let rows: Vec<NewUser> = (0..10_000)
        .map(|i| NewUser {
            email: format!("u{i}@example.com"),
            display_name: format!("U{i}"),
            role: if i % 3 == 0 {
                Role::Admin
            } else {
                Role::Member
            },
            bio: (i % 2 == 0).then(|| format!("bio {i}")),
        })
        .collect();
    let conn = pool.get().await.unwrap();
    let inserted = User::insert_many(&conn, rows).await.unwrap();
    assert_eq!(inserted.len(), 10_000);
    assert_eq!(inserted[0].email, "u0@example.com");
    assert_eq!(inserted[9_999].bio.as_deref(), None);
    assert_eq!(inserted[9_998].bio.as_deref(), Some("bio 9998"));
    assert_eq!(inserted[3].role, Role::Admin);
    let n: i64 = pool
        .query_one("SELECT count(*) FROM \"user\".users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 10_000);
    // One statement for the whole batch: this connection prepared one INSERT (behind the
    // pooler nothing is prepared by name).
    let statements: i64 = conn
        .query_one(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'INSERT INTO%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(statements, i64::from(!common::through_pgbouncer()));
    // A batch with a bad row inserts nothing.
    let err = User::insert_many(
        pool,
        vec![new_user("new@example.com"), new_user("u1@example.com")],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "unique_violation");
    assert!(User::query()
        .filter(User::EMAIL.eq("new@example.com"))
        .fetch_optional(pool)
        .await
        .unwrap()
        .is_none());
    assert!(User::insert_many(pool, vec![]).await.unwrap().is_empty());
}

#[tokio::test]
async fn unknown_enum_text_and_check_violation_are_clear_errors() {
    let db = common::reference_db().await;
    let pool = db.pool();
    let user = User::insert(pool, new_user("e@example.com")).await.unwrap();
    // Raw SQL around the CHECK: the constraint names itself.
    let err = pool
        .execute(
            "UPDATE \"user\".users SET role = 'owner' WHERE id = $1",
            &[&user.id],
        )
        .await
        .unwrap_err();
    let v = err.as_constraint().unwrap();
    assert_eq!(v.kind, ConstraintKind::Check);
    assert_eq!(v.constraint.as_deref(), Some("users_role_check"));

    // A text the enum does not know (the CHECK dropped, as after a bad migration).
    pool.batch_execute("ALTER TABLE \"user\".users DROP CONSTRAINT users_role_check")
        .await
        .unwrap();
    pool.execute(
        "UPDATE \"user\".users SET role = 'owner' WHERE id = $1",
        &[&user.id],
    )
    .await
    .unwrap();
    let err = User::get(pool, user.id).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot decode column `role`: `owner` is not a valid Role; expected one of `admin`, `member`, `read-only`"
    );
    assert_eq!(err.code(), "decode");
}

/// Column facts from information_schema, for comparing two tables.
async fn columns(
    pool: &skelly_db::Pool,
    schema: &str,
    table: &str,
) -> Vec<(String, String, String, Option<String>)> {
    pool.query(
        "SELECT column_name::text, data_type::text, is_nullable::text, column_default::text \
         FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 \
         ORDER BY ordinal_position",
        &[&schema, &table],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect()
}

#[tokio::test]
async fn create_table_sql_creates_the_table_the_struct_reads() {
    let migrated = common::reference_db().await;
    let db = common::empty_db().await;
    let pool = db.pool();
    let ddl = User::create_table_sql();
    assert!(
        ddl.contains(
            "CONSTRAINT \"users_role_check\" CHECK (\"role\" IN ('admin', 'member', 'read-only'))"
        ),
        "{ddl}"
    );
    assert!(ddl.contains("CREATE UNIQUE INDEX IF NOT EXISTS \"users_email_key\" ON \"user\".\"users\" (\"email\") WHERE \"deleted_at\" IS NULL;"), "{ddl}");
    assert_eq!(ddl, skelly_db::ddl::<User>());
    assert!(
        ddl.contains("CREATE TABLE IF NOT EXISTS \"user\".\"users\" ("),
        "{ddl}"
    );
    pool.batch_execute(&ddl).await.unwrap();
    // Safe to run again: every statement says IF NOT EXISTS.
    pool.batch_execute(&ddl).await.unwrap();
    // Same columns, types, nullability and defaults as the hand-written reference migration.
    assert_eq!(
        columns(pool, "user", "users").await,
        columns(migrated.pool(), "user", "users").await
    );
    // And the struct reads and writes it.
    let user = User::insert(pool, new_user("ddl@example.com"))
        .await
        .unwrap();
    assert_eq!(User::get(pool, user.id).await.unwrap(), user);
    User::delete(pool, user.id).await.unwrap();
    User::insert(pool, new_user("ddl@example.com"))
        .await
        .unwrap();
    let err = pool
        .execute(
            "INSERT INTO \"user\".users (email, display_name, role) VALUES ('x@y', 'x', 'owner')",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.as_constraint().unwrap().constraint.as_deref(),
        Some("users_role_check")
    );
}

#[tokio::test]
async fn works_on_every_executor() {
    let db = common::reference_db().await;
    let pool = db.pool();
    let mut conn = pool.get().await.unwrap();
    let tx = conn.begin().await.unwrap();
    let user = User::insert(&tx, new_user("tx@example.com")).await.unwrap();
    assert!(User::find(&tx, user.id).await.unwrap().is_some());
    assert!(
        User::find(pool, user.id).await.unwrap().is_none(),
        "not committed yet"
    );
    tx.rollback().await.unwrap();
    assert!(User::find(&conn, user.id).await.unwrap().is_none());
}

#[test]
fn metadata_describes_the_table() {
    assert_eq!(User::SCHEMA, "user");
    assert_eq!(User::NAME, "users");
    let names: Vec<_> = User::COLUMNS.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "id",
            "email",
            "display_name",
            "role",
            "bio",
            "created_at",
            "updated_at",
            "deleted_at"
        ]
    );
    let id = &User::COLUMNS[0];
    assert_eq!(id.role, skelly_db::ColumnRole::PrimaryKey);
    assert_eq!(id.default, Some("gen_random_uuid()"));
    // The derive decides which columns the insert and patch structs carry.
    let inserted: Vec<&str> = User::COLUMNS
        .iter()
        .filter(|c| c.inserted)
        .map(|c| c.name)
        .collect();
    assert_eq!(inserted, ["email", "display_name", "role", "bio"]);
    let patched: Vec<&str> = User::COLUMNS
        .iter()
        .filter(|c| c.patched)
        .map(|c| c.name)
        .collect();
    assert_eq!(patched, inserted);
    assert_eq!(
        User::COLUMNS[3].check,
        Some(&["admin", "member", "read-only"][..])
    );
    assert!(User::COLUMNS[4].nullable && !User::COLUMNS[1].nullable);
    assert_eq!(User::COLUMNS[5].sql_type, "timestamptz");
    assert_eq!(User::EMAIL.name(), "email");
}

#[tokio::test]
async fn count_only_writes_insert_and_patch_without_sending_rows_back() {
    let db = common::reference_db().await;
    let pool = db.pool();
    let rows = (0..250)
        .map(|i| new_user(&format!("c{i}@example.com")))
        .collect();
    assert_eq!(User::insert_many_count(pool, rows).await.unwrap(), 250);
    assert_eq!(
        User::insert_many_count(pool, vec![new_user("one@example.com")])
            .await
            .unwrap(),
        1
    );
    assert_eq!(User::insert_many_count(pool, Vec::new()).await.unwrap(), 0);
    assert_eq!(User::query().count(pool).await.unwrap(), 251);
    // A duplicate in the batch fails the whole statement: nothing of it is left.
    let err = User::insert_many_count(
        pool,
        vec![new_user("dup@example.com"), new_user("dup@example.com")],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "unique_violation");
    assert_eq!(User::query().count(pool).await.unwrap(), 251);

    let user = User::query()
        .filter(User::EMAIL.eq("c7@example.com"))
        .fetch_one(pool)
        .await
        .unwrap();
    let patch = || UserPatch {
        bio: Some(Some("patched".into())),
        ..Default::default()
    };
    assert!(User::patch(pool, user.id, patch()).await.unwrap());
    let after = User::get(pool, user.id).await.unwrap();
    assert_eq!(after.bio.as_deref(), Some("patched"));
    assert!(after.updated_at > user.updated_at);
    assert!(!User::patch(pool, uuid::Uuid::new_v4(), patch())
        .await
        .unwrap());
    // A soft-deleted row is not patched.
    User::delete(pool, user.id).await.unwrap();
    assert!(!User::patch(pool, user.id, patch()).await.unwrap());
}

#[tokio::test]
async fn copy_in_writes_rows_with_defaults_and_fails_whole_with_a_typed_error() {
    let db = common::reference_db().await;
    let pool = db.pool();
    let rows: Vec<_> = (0..2_000)
        .map(|i| {
            let mut u = new_user(&format!("copy{i}@example.com"));
            u.bio = (i % 2 == 0).then(|| format!("bio {i}"));
            u
        })
        .collect();
    assert_eq!(User::copy_in(pool, rows).await.unwrap(), 2_000);
    let copied = User::query()
        .filter(User::EMAIL.eq("copy10@example.com"))
        .fetch_one(pool)
        .await
        .unwrap();
    // The database filled in what insert fills in.
    assert_eq!(copied.bio.as_deref(), Some("bio 10"));
    assert_eq!(copied.created_at, copied.updated_at);
    assert!(copied.deleted_at.is_none());
    assert_eq!(User::copy_in(pool, Vec::new()).await.unwrap(), 0);

    // A unique violation in the middle: the typed error, and none of the batch is left.
    let mut batch: Vec<_> = (0..100)
        .map(|i| new_user(&format!("batch{i}@example.com")))
        .collect();
    batch.push(new_user("copy5@example.com"));
    let err = User::copy_in(pool, batch).await.unwrap_err();
    let v = err.as_constraint().expect("a constraint violation");
    assert_eq!(
        (v.kind, v.constraint.as_deref()),
        (skelly_db::ConstraintKind::Unique, Some("users_email_key"))
    );
    assert_eq!(
        User::query()
            .filter(User::EMAIL.like("batch%"))
            .count(pool)
            .await
            .unwrap(),
        0
    );
    // Through a transaction too.
    let mut conn = pool.get().await.unwrap();
    let tx = conn.begin().await.unwrap();
    assert_eq!(
        User::copy_in(&tx, vec![new_user("in-tx@example.com")])
            .await
            .unwrap(),
        1
    );
    tx.rollback().await.unwrap();
    assert_eq!(User::query().count(pool).await.unwrap(), 2_000);
}
