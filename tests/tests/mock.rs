//! `skelly_db::testing::MockDb`: a product feature for users' own service tests. Its own tests
//! run without a database; the last ones run one service function against MockDb and against
//! the real server and compare.

mod common;

use chrono::Utc;
use futures_util::TryStreamExt;
use skelly_db::seed::Seeder;
use skelly_db::testing::{MockDb, Op};
use skelly_db::Table;
use skelly_db::{ConstraintKind, Error, Executor};

use common::models::{DevSeed, NewUser, Role, User, UserPatch};

fn user(email: &str) -> User {
    let now = Utc::now();
    User {
        id: uuid::Uuid::new_v4(),
        email: email.to_string(),
        display_name: format!("User {email}"),
        role: Role::Member,
        bio: None,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    }
}

// A service as users write them: takes `&impl Executor`, maps errors to its own outcomes.
#[derive(Debug, PartialEq)]
enum SignUp {
    Created(String),
    Taken,
}

async fn sign_up(db: &impl Executor, email: &str) -> Result<SignUp, Error> {
    match User::insert(db, common::new_user(email)).await {
        Ok(u) => Ok(SignUp::Created(u.email)),
        Err(Error::Constraint(v)) if v.kind == ConstraintKind::Unique => Ok(SignUp::Taken),
        Err(e) => Err(e),
    }
}

async fn rename(db: &impl Executor, id: uuid::Uuid, name: &str) -> Result<Option<String>, Error> {
    let patch = UserPatch {
        display_name: Some(name.to_string()),
        ..Default::default()
    };
    match User::update(db, id, patch).await {
        Ok(u) => Ok(Some(u.display_name)),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

#[tokio::test]
async fn scripted_rows_come_back_typed_and_every_statement_is_recorded() {
    let db = MockDb::new();
    let ada = user("ada@example.com");
    db.expect::<User>(Op::Insert).returns([ada.clone()]);
    db.expect::<User>(Op::Find).returns([ada.clone()]);
    db.expect::<User>(Op::Find).returns([]);

    let inserted = User::insert(&db, common::new_user("ada@example.com"))
        .await
        .unwrap();
    assert_eq!(inserted, ada);
    assert_eq!(User::find(&db, ada.id).await.unwrap(), Some(ada.clone()));
    let missing = User::get(&db, uuid::Uuid::nil()).await.unwrap_err();
    assert_eq!(missing.code(), "not_found");
    assert_eq!(missing.to_string(), "no row found in \"user\".\"users\"");

    let calls = db.calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0].op, Op::Insert);
    assert_eq!(calls[0].table, "\"user\".\"users\"");
    assert!(
        calls[0].sql.starts_with(
            "INSERT INTO \"user\".\"users\" (\"email\", \"display_name\", \"role\", \"bio\", \
             \"created_at\", \"updated_at\") VALUES ($1, $2, $3, $4, now(), now())"
        ),
        "{}",
        calls[0].sql
    );
    assert_eq!(
        calls[0].params,
        [
            "\"ada@example.com\"",
            "\"User ada@example.com\"",
            "Member",
            "None"
        ]
    );
    assert_eq!(calls[1].params, [format!("{:?}", ada.id)]);
    assert!(calls[2].sql.ends_with("AND \"deleted_at\" IS NULL"));
    db.assert_all_used();
}

#[tokio::test]
async fn error_paths_are_scriptable_with_typed_errors() {
    let db = MockDb::new();
    db.expect::<User>(Op::Insert)
        .returns([user("a@example.com")]);
    db.expect::<User>(Op::Insert)
        .fails(MockDb::violation::<User>(
            ConstraintKind::Unique,
            "users_email_key",
        ));
    assert_eq!(
        sign_up(&db, "a@example.com").await.unwrap(),
        SignUp::Created("a@example.com".into())
    );
    assert_eq!(sign_up(&db, "a@example.com").await.unwrap(), SignUp::Taken);

    // The made-up violation looks like the server's to code that maps errors.
    let err = MockDb::violation::<User>(ConstraintKind::Unique, "users_email_key");
    assert_eq!((err.code(), err.status()), ("unique_violation", 409));
    assert_eq!(err.sqlstate(), Some("23505"));
    assert_eq!(
        err.to_string(),
        "unique violation of `users_email_key` on user.users"
    );
}

#[tokio::test]
async fn an_unexpected_statement_fails_naming_it() {
    let db = MockDb::new();
    let err = User::find(&db, uuid::Uuid::nil()).await.unwrap_err();
    assert_eq!(err.code(), "mock");
    let text = err.to_string();
    assert!(
        text.starts_with("mock: unexpected Find on \"user\".\"users\": SELECT "),
        "{text}"
    );
    assert!(
        text.contains("00000000-0000-0000-0000-000000000000"),
        "{text}"
    );
    assert!(text.contains("mock.expect::<T>(Op::Find)"), "{text}");
    // Recorded all the same.
    assert_eq!(db.calls().len(), 1);

    // An answer for another operation or table is not taken.
    db.expect::<User>(Op::Update)
        .returns([user("x@example.com")]);
    let err = User::delete(&db, uuid::Uuid::nil()).await.unwrap_err();
    assert!(err.to_string().contains("unexpected Delete"), "{err}");
}

#[tokio::test]
async fn answers_are_used_once_in_order_and_unused_ones_are_reported() {
    let db = MockDb::new();
    db.expect::<User>(Op::Delete).count(1);
    db.expect::<User>(Op::Delete).count(0);
    db.expect::<User>(Op::Restore).count(1);
    assert!(User::delete(&db, uuid::Uuid::nil()).await.unwrap());
    assert!(!User::delete(&db, uuid::Uuid::nil()).await.unwrap());
    assert!(User::delete(&db, uuid::Uuid::nil()).await.is_err());
    let unused = std::panic::catch_unwind(|| db.assert_all_used()).unwrap_err();
    let text = unused.downcast_ref::<String>().unwrap();
    assert_eq!(
        text,
        "MockDb: scripted answers never used: Restore on \"user\".\"users\""
    );
}

#[tokio::test]
async fn the_query_builder_runs_against_the_mock() {
    let db = MockDb::new();
    let rows = [user("a@example.com"), user("b@example.com")];
    db.expect::<User>(Op::Select).returns(rows.clone());
    db.expect::<User>(Op::Select).returns(rows.clone());
    db.expect::<User>(Op::Select).returns([]);
    db.expect::<User>(Op::Count).count(2);
    db.expect::<User>(Op::Exists).count(0);
    db.expect::<User>(Op::UpdateWhere).count(2);
    db.expect::<User>(Op::DeleteWhere).count(1);

    let query = User::query()
        .filter(User::ROLE.eq(Role::Member))
        .order_by(User::EMAIL.asc())
        .limit(10);
    assert_eq!(query.fetch_all(&db).await.unwrap(), rows);
    let streamed: Vec<User> = query
        .stream(&db)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed, rows);
    assert_eq!(query.fetch_optional(&db).await.unwrap(), None);
    assert_eq!(User::query().count(&db).await.unwrap(), 2);
    assert!(!User::query().exists(&db).await.unwrap());
    let patch = UserPatch {
        bio: Some(None),
        ..Default::default()
    };
    assert_eq!(User::query().update(&db, &patch).await.unwrap(), 2);
    assert_eq!(
        User::query()
            .filter(User::EMAIL.eq("a@example.com"))
            .delete(&db)
            .await
            .unwrap(),
        1
    );
    let calls = db.calls();
    assert_eq!(calls[0].sql, query.to_sql());
    assert_eq!(calls[0].params, ["Member", "10"]);
    assert_eq!(calls[6].params, ["\"a@example.com\""]);
    db.assert_all_used();
}

#[tokio::test]
async fn writes_of_every_kind_run_against_the_mock() {
    let db = MockDb::new();
    let a = user("a@example.com");
    db.expect::<User>(Op::InsertMany)
        .returns([a.clone(), user("b@example.com")]);
    db.expect::<User>(Op::InsertOrIgnore).returns([]);
    db.expect::<User>(Op::Upsert).returns([a.clone()]);
    db.expect::<User>(Op::HardDelete).count(1);
    db.expect::<User>(Op::CopyIn).count(2);
    let many = User::insert_many(
        &db,
        vec![
            common::new_user("a@example.com"),
            common::new_user("b@example.com"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(many.len(), 2);
    assert_eq!(
        User::insert_or_ignore(&db, common::new_user("a@example.com"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        User::upsert(&db, common::new_user("a@example.com"), User::EMAIL)
            .await
            .unwrap(),
        a
    );
    assert!(User::hard_delete(&db, a.id).await.unwrap());
    let copied = User::copy_in(
        &db,
        vec![
            common::new_user("c1@example.com"),
            common::new_user("c2@example.com"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(copied, 2);
    let calls = db.calls();
    assert!(
        calls[4]
            .sql
            .starts_with("COPY \"user\".\"users\" (\"email\""),
        "{}",
        calls[4].sql
    );
    assert!(calls[0].sql.contains("FROM UNNEST("), "{}", calls[0].sql);
    assert!(calls[1].sql.contains("ON CONFLICT DO NOTHING"));
    assert!(calls[2]
        .sql
        .contains("ON CONFLICT (\"email\") WHERE \"deleted_at\" IS NULL"));
    db.assert_all_used();
}

#[tokio::test]
async fn a_mismatched_answer_or_a_raw_row_query_is_an_error_not_a_guess() {
    let db = MockDb::new();
    db.expect::<User>(Op::Find).count(1);
    let err = User::find(&db, uuid::Uuid::nil()).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("Find on \"user\".\"users\" returns rows, but a count (1) was scripted"),
        "{err}"
    );
    let err = db.query("SELECT 1", &[]).await.unwrap_err();
    assert!(
        err.to_string().contains("not raw row queries: SELECT 1"),
        "{err}"
    );
    db.expect_execute().count(3);
    assert_eq!(db.execute("UPDATE t SET x = 1", &[]).await.unwrap(), 3);
    assert!(db.execute("UPDATE t SET x = 2", &[]).await.is_err());
}

#[tokio::test]
async fn seeds_run_on_the_mock_and_migrations_say_they_need_a_database() {
    let db = MockDb::new();
    for (email, _, _) in common::models::DEV_USERS {
        db.expect::<User>(Op::InsertOrIgnore).returns([user(email)]);
    }
    let ran = Seeder::new().seed(DevSeed).run(&db).await.unwrap();
    assert_eq!(ran, ["dev users"]);
    db.assert_all_used();

    let migrator = skelly_db::migrate::Migrator::from_dir(common::reference_migrations()).unwrap();
    let err = migrator.up(&db).await.unwrap_err();
    assert_eq!(err.code(), "mock");
    assert!(
        err.to_string().contains("migrations needs a real database"),
        "{err}"
    );
}

// The same service calls against MockDb and against PostgreSQL give the same results.
#[tokio::test]
async fn a_service_behaves_the_same_on_the_mock_and_on_the_database() {
    let real = common::reference_db().await;
    let pool = real.pool();
    let mock = MockDb::new();
    mock.expect::<User>(Op::Insert)
        .returns([user("same@example.com")]);
    mock.expect::<User>(Op::Insert)
        .fails(MockDb::violation::<User>(
            ConstraintKind::Unique,
            "users_email_key",
        ));
    mock.expect::<User>(Op::Update).returns([]);

    let on_mock = (
        sign_up(&mock, "same@example.com").await.unwrap(),
        sign_up(&mock, "same@example.com").await.unwrap(),
        rename(&mock, uuid::Uuid::nil(), "x").await.unwrap(),
    );
    let on_db = (
        sign_up(pool, "same@example.com").await.unwrap(),
        sign_up(pool, "same@example.com").await.unwrap(),
        rename(pool, uuid::Uuid::nil(), "x").await.unwrap(),
    );
    assert_eq!(on_mock, on_db);
    assert_eq!(
        on_db,
        (
            SignUp::Created("same@example.com".into()),
            SignUp::Taken,
            None
        )
    );

    // The violation the mock made up and the server's agree on what code reads.
    let real_err = User::insert(pool, common::new_user("same@example.com"))
        .await
        .unwrap_err();
    let mock_err = MockDb::violation::<User>(ConstraintKind::Unique, "users_email_key");
    let facts = |e: &Error| {
        let v = e.as_constraint().unwrap();
        (
            e.code(),
            e.status(),
            e.sqlstate().map(str::to_string),
            v.kind,
            v.constraint.clone(),
            v.schema.clone(),
            v.table.clone(),
        )
    };
    assert_eq!(facts(&real_err), facts(&mock_err));

    // And the mock recorded the very statements the database ran.
    let new = NewUser {
        email: "sql@example.com".into(),
        display_name: "S".into(),
        role: Role::Admin,
        bio: None,
    };
    let query = User::query().filter(User::EMAIL.eq(&new.email));
    mock.expect::<User>(Op::Select).returns([]);
    query.fetch_all(&mock).await.unwrap();
    assert_eq!(mock.calls().last().unwrap().sql, query.to_sql());
    assert!(query.fetch_all(pool).await.unwrap().is_empty());
}

/// A post of a user, for the reads across tables.
#[derive(skelly_db::Table, Debug, Clone, PartialEq)]
#[table(schema = "blog", name = "posts")]
pub struct Post {
    pub id: i64,
    #[table(references = "user.users")]
    pub author_id: uuid::Uuid,
    pub title: String,
}

/// A comment on a post.
#[derive(skelly_db::Table, Debug, Clone, PartialEq)]
#[table(schema = "blog", name = "comments")]
pub struct Comment {
    pub id: i64,
    #[table(references = "blog.posts")]
    pub post_id: i64,
    pub body: String,
}

// A list service as users write them: a page of posts with their authors.
async fn feed(db: &impl Executor) -> Result<Vec<(String, String)>, Error> {
    let rows = Post::query()
        .join(Post::AUTHOR_ID_FK)
        .order_by(Post::ID.desc())
        .page(db, 20, None)
        .await?;
    Ok(rows
        .rows
        .into_iter()
        .map(|(p, u)| (p.title, u.email))
        .collect())
}

#[tokio::test]
async fn every_read_is_answered_from_the_script() {
    let db = MockDb::new();
    let ada = user("ada@example.com");
    let post = Post {
        id: 1,
        author_id: ada.id,
        title: "Hello".into(),
    };
    let comment = Comment {
        id: 7,
        post_id: 1,
        body: "hi".into(),
    };

    // Chosen columns and count_by: typed values.
    db.expect::<User>(Op::Columns)
        .returns_rows([("ada@example.com".to_string(), Role::Member)]);
    let pairs = User::query()
        .columns((User::EMAIL, User::ROLE))
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(pairs, [("ada@example.com".to_string(), Role::Member)]);
    db.expect::<User>(Op::CountBy)
        .returns_rows([(Role::Member, 3_i64)]);
    assert_eq!(
        User::query().count_by(&db, User::ROLE).await.unwrap(),
        [(Role::Member, 3)]
    );

    // Joins both ways and three deep, with their terminals.
    db.expect::<Post>(Op::Join)
        .returns_rows([(post.clone(), ada.clone())]);
    assert_eq!(
        feed(&db).await.unwrap(),
        [("Hello".to_string(), "ada@example.com".to_string())]
    );
    db.expect::<User>(Op::Join)
        .returns_rows([(ada.clone(), Some(post.clone()))]);
    let with_posts = User::query()
        .left_join_children(Post::AUTHOR_ID_FK)
        .fetch_optional(&db)
        .await
        .unwrap();
    assert_eq!(with_posts, Some((ada.clone(), Some(post.clone()))));
    db.expect::<Comment>(Op::Join)
        .returns_rows([(comment.clone(), post.clone(), ada.clone())]);
    let deep: Vec<(Comment, Post, User)> = Comment::query()
        .join(Comment::POST_ID_FK)
        .then_join(Post::AUTHOR_ID_FK)
        .stream(&db)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(deep, [(comment.clone(), post.clone(), ada.clone())]);
    db.expect::<Post>(Op::Count).count(2);
    assert_eq!(
        Post::query()
            .join(Post::AUTHOR_ID_FK)
            .count(&db)
            .await
            .unwrap(),
        2
    );
    db.expect::<Post>(Op::Exists).count(0);
    assert!(!Post::query()
        .join(Post::AUTHOR_ID_FK)
        .exists(&db)
        .await
        .unwrap());

    // Eager loading: the parents (or children) are the rows scripted for Select on them.
    db.expect::<User>(Op::Select).returns([ada.clone()]);
    let loaded = skelly_db::query::load_parents(&db, vec![post.clone()], Post::AUTHOR_ID_FK)
        .await
        .unwrap();
    assert_eq!(loaded, [(post.clone(), ada.clone())]);
    db.expect::<Post>(Op::Select).returns([post.clone()]);
    let children = skelly_db::query::load_children(&db, vec![ada.clone()], Post::AUTHOR_ID_FK)
        .await
        .unwrap();
    assert_eq!(children, [(ada.clone(), vec![post.clone()])]);

    // Pages and relation filters are Select reads.
    db.expect::<User>(Op::Select).returns([ada.clone()]);
    let page = User::query()
        .having_child(Post::AUTHOR_ID_FK, Post::TITLE.eq("Hello"))
        .order_by(User::EMAIL.asc())
        .page(&db, 10, None)
        .await
        .unwrap();
    assert_eq!(page.rows, std::slice::from_ref(&ada));
    assert!(page.next.is_none());
    let calls = db.calls();
    let last = calls.last().unwrap();
    assert!(
        last.sql
            .contains("EXISTS (SELECT 1 FROM \"blog\".\"posts\""),
        "{}",
        last.sql
    );
    assert_eq!(last.params[0], "\"Hello\"");
    db.assert_all_used();

    // Unscripted: the error names the call that would script it.
    let err = Post::query()
        .join(Post::AUTHOR_ID_FK)
        .fetch_all(&db)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("unexpected Join on \"blog\".\"posts\"")
            && err.to_string().contains("mock.expect::<T>(Op::Join)"),
        "{err}"
    );
    // Rows of another type than the call's: named.
    db.expect::<User>(Op::Columns).returns_rows([1_i32]);
    let err = User::query()
        .columns(User::EMAIL)
        .fetch_all(&db)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("another type than alloc::string::String"),
        "{err}"
    );
}
