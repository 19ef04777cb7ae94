//! Richer reads against a real server: hand-written SQL into table structs and
//! `#[derive(Row)]` structs by column name, and locking reads (a two-worker job queue with
//! SKIP LOCKED, NOWAIT).

mod common;

use std::collections::HashSet;

use common::models::{Role, User};
use skelly_db::{Error, Executor, Row, Table, TimeoutKind};

#[derive(Row, Debug, PartialEq)]
struct RoleCount {
    role: Role,
    #[row(rename = "count")]
    users: i64,
}

async fn three_users() -> skelly_db::testing::TestDb {
    let db = common::reference_db().await;
    for (email, role) in [
        ("a@example.com", Role::Admin),
        ("b@example.com", Role::Member),
        ("c@example.com", Role::Member),
    ] {
        let mut new = common::new_user(email);
        new.role = role;
        User::insert(&db, new).await.unwrap();
    }
    db
}

#[tokio::test]
async fn hand_written_sql_into_table_structs_by_column_name() {
    let db = three_users().await;
    // Columns in another order, an extra one, a bind parameter.
    let users: Vec<User> = skelly_db::query_as(
        &db,
        "SELECT deleted_at, updated_at, created_at, bio, role, display_name, email, id, \
                length(email) AS extra \
         FROM \"user\".users WHERE role = $1 ORDER BY email",
        &[&Role::Member],
    )
    .await
    .unwrap();
    let emails: Vec<&str> = users.iter().map(|u| u.email.as_str()).collect();
    assert_eq!(emails, ["b@example.com", "c@example.com"]);
    assert_eq!(users[0], User::get(&db, users[0].id).await.unwrap());

    // A column missing: an error naming it and what the result has.
    let err = skelly_db::query_as::<User>(&db, "SELECT id, email FROM \"user\".users", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Decode { column, .. } if column == "display_name"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("the result has no column `display_name` (it has id, email)"),
        "{err}"
    );
    // A column of the wrong type: an error naming it.
    let err = skelly_db::query_optional_as::<User>(
        &db,
        "SELECT id, email, 42 AS display_name, role, bio, created_at, updated_at, deleted_at \
         FROM \"user\".users LIMIT 1",
        &[],
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, Error::Decode { column, .. } if column == "display_name"),
        "{err}"
    );
}

#[tokio::test]
async fn derive_row_reads_reports_by_column_name() {
    let db = three_users().await;
    let counts: Vec<RoleCount> = skelly_db::query_as(
        &db,
        "SELECT role, count(*) FROM \"user\".users GROUP BY role ORDER BY role",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(
        counts,
        [
            RoleCount {
                role: Role::Admin,
                users: 1
            },
            RoleCount {
                role: Role::Member,
                users: 2
            },
        ]
    );
    let err = skelly_db::query_as::<RoleCount>(&db, "SELECT role FROM \"user\".users", &[])
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("the result has no column `count`"),
        "{err}"
    );
}

#[derive(Table, Debug, Clone)]
#[table(schema = "queue", name = "jobs")]
pub struct Job {
    pub id: i64,
    pub payload: String,
    pub taken_by: Option<String>,
}

#[tokio::test]
async fn a_job_queue_with_skip_locked_gives_each_job_to_one_worker() {
    let db = common::empty_db().await;
    db.batch_execute(&Job::create_table_sql()).await.unwrap();
    let jobs: Vec<NewJob> = (0..60)
        .map(|i| NewJob {
            payload: format!("job {i}"),
            taken_by: None,
        })
        .collect();
    Job::insert_many(&db, jobs).await.unwrap();

    let worker = |name: &'static str| {
        let pool = db.pool().clone();
        async move {
            let mut taken = Vec::new();
            loop {
                let mut conn = pool.get().await.unwrap();
                let tx = conn.begin().await.unwrap();
                let next = Job::query()
                    .filter(Job::TAKEN_BY.is_null())
                    .order_by(Job::ID.asc())
                    .limit(1)
                    .for_update()
                    .skip_locked()
                    .fetch_optional(&tx)
                    .await
                    .unwrap();
                let Some(job) = next else { break };
                // Hold the lock a little, so that the other worker meets it.
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                Job::update(
                    &tx,
                    job.id,
                    JobPatch {
                        taken_by: Some(Some(name.to_string())),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
                tx.commit().await.unwrap();
                taken.push(job.id);
            }
            taken
        }
    };
    let (a, b) = tokio::join!(worker("a"), worker("b"));
    let all: HashSet<i64> = a.iter().chain(&b).copied().collect();
    assert_eq!(all.len(), 60, "every job taken");
    assert_eq!(a.len() + b.len(), 60, "no job taken twice");
    assert!(
        !a.is_empty() && !b.is_empty(),
        "both workers worked: {} / {}",
        a.len(),
        b.len()
    );
    let by_a = Job::query()
        .filter(Job::TAKEN_BY.eq("a".to_string()))
        .count(&db)
        .await
        .unwrap();
    assert_eq!(by_a as usize, a.len());
}

#[tokio::test]
async fn nowait_fails_at_once_on_a_locked_row() {
    let db = common::empty_db().await;
    db.batch_execute(&Job::create_table_sql()).await.unwrap();
    let job = Job::insert(
        &db,
        NewJob {
            payload: "x".into(),
            taken_by: None,
        },
    )
    .await
    .unwrap();
    let mut holder = db.pool().get().await.unwrap();
    let held = holder.begin().await.unwrap();
    Job::query()
        .filter(Job::ID.eq(job.id))
        .for_update()
        .fetch_one(&held)
        .await
        .unwrap();
    let mut other = db.pool().get().await.unwrap();
    let tx = other.begin().await.unwrap();
    let query = Job::query().filter(Job::ID.eq(job.id)).for_share().nowait();
    assert!(
        query.to_sql().ends_with(" FOR SHARE NOWAIT"),
        "{}",
        query.to_sql()
    );
    let err = query.fetch_one(&tx).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                kind: TimeoutKind::Lock,
                ..
            }
        ),
        "{err:?}"
    );
    drop(tx);
    held.rollback().await.unwrap();
}

#[derive(Table, Debug, Clone)]
#[table(schema = "feed", name = "items")]
pub struct Item {
    pub id: i64,
    pub rank: i32,
    pub title: String,
    pub note: Option<String>,
}

async fn items_db(n: i64) -> skelly_db::testing::TestDb {
    let db = common::empty_db().await;
    db.batch_execute(&Item::create_table_sql()).await.unwrap();
    db.batch_execute("CREATE INDEX items_rank_id ON feed.items (rank, id)")
        .await
        .unwrap();
    db.execute(
        "INSERT INTO feed.items (rank, title) \
         SELECT (i % 10)::int, 'item ' || i FROM generate_series(1, $1::bigint) i",
        &[&n],
    )
    .await
    .unwrap();
    db.batch_execute("ANALYZE feed.items").await.unwrap();
    db
}

#[tokio::test]
async fn keyset_pages_neither_repeat_nor_skip_while_rows_arrive() {
    use skelly_db::query::Cursor;

    let db = items_db(100).await;
    let query = Item::query().order_by(Item::RANK.desc());
    let mut seen: Vec<i64> = Vec::new();
    let mut after: Option<Cursor> = None;
    let mut pages = 0;
    loop {
        let page = query.page(&db, 7, after.as_ref()).await.unwrap();
        assert!(page.rows.len() <= 7);
        // In order: rank descending, ties by id descending.
        for pair in page.rows.windows(2) {
            assert!((pair[0].rank, pair[0].id) > (pair[1].rank, pair[1].id));
        }
        seen.extend(page.rows.iter().map(|r| r.id));
        pages += 1;
        // Rows arrive between pages, at every rank: before and after the cursor.
        db.execute(
            "INSERT INTO feed.items (rank, title) SELECT r, 'late' FROM unnest(ARRAY[0, 5, 9]) r",
            &[],
        )
        .await
        .unwrap();
        // The cursor goes out as text (an HTTP link) and comes back.
        match page.next {
            Some(next) => after = Some(next.to_string().parse().unwrap()),
            None => break,
        }
    }
    let unique: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no row twice");
    for id in 1..=100 {
        assert!(unique.contains(&id), "row {id} skipped");
    }
    assert!(pages >= 15, "{pages} pages");
}

#[tokio::test]
async fn a_keyset_page_deep_in_the_table_needs_no_sort() {
    let db = items_db(20_000).await;
    let query = Item::query().order_by(Item::RANK.asc());
    let mut page = query.page(&db, 50, None).await.unwrap();
    for _ in 0..20 {
        page = query.page(&db, 50, page.next.as_ref()).await.unwrap();
    }
    let plan = query
        .explain_page(&db, 50, page.next.as_ref())
        .await
        .unwrap();
    assert!(plan.contains("Index Scan using items_rank_id"), "{plan}");
    assert!(!plan.contains("Sort"), "{plan}");
}

#[tokio::test]
async fn cursors_that_do_not_belong_are_errors() {
    use skelly_db::query::Cursor;

    let db = items_db(30).await;
    let by_rank = Item::query().order_by(Item::RANK.desc());
    let next = by_rank.page(&db, 5, None).await.unwrap().next.unwrap();
    // Another ordering, another table: refused before any SQL runs.
    let by_title = Item::query().order_by(Item::TITLE.asc());
    let err = by_title.page(&db, 5, Some(&next)).await.unwrap_err();
    assert!(matches!(err, Error::InvalidCursor(_)), "{err}");
    assert_eq!((err.code(), err.status()), ("invalid_cursor", 400));
    let users = User::query().page(&db, 5, Some(&next)).await.unwrap_err();
    assert!(matches!(users, Error::InvalidCursor(_)), "{users}");
    // Edited: refused when parsed.
    let mut text = next.to_string();
    text.insert(3, 'x');
    assert!(matches!(
        text.parse::<Cursor>(),
        Err(Error::InvalidCursor(_))
    ));
    // Nullable ordering and a keyless table are said up front.
    let err = Item::query()
        .order_by(Item::NOTE.asc())
        .page(&db, 5, None)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("`note`, which can be NULL"),
        "{err}"
    );
}

#[tokio::test]
async fn chosen_columns_distinct_and_grouped_counts() {
    let db = three_users().await;
    let pairs: Vec<(String, Role)> = User::query()
        .order_by(User::EMAIL.asc())
        .columns((User::EMAIL, User::ROLE))
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(
        pairs,
        [
            ("a@example.com".to_string(), Role::Admin),
            ("b@example.com".to_string(), Role::Member),
            ("c@example.com".to_string(), Role::Member),
        ]
    );
    let roles = User::query()
        .order_by(User::ROLE.asc())
        .columns(User::ROLE)
        .distinct();
    assert!(
        roles.to_sql().starts_with("SELECT DISTINCT \"role\" FROM"),
        "{}",
        roles.to_sql()
    );
    assert_eq!(
        roles.fetch_all(&db).await.unwrap(),
        [Role::Admin, Role::Member]
    );
    let one: (uuid::Uuid, Option<String>) = User::query()
        .filter(User::EMAIL.eq("b@example.com"))
        .columns((User::ID, User::BIO))
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(one.1, None);

    let per_role = User::query().count_by(&db, User::ROLE).await.unwrap();
    assert_eq!(per_role, [(Role::Admin, 1), (Role::Member, 2)]);
    // Filters apply, and soft-deleted rows are left out as everywhere.
    let b = User::query()
        .filter(User::EMAIL.eq("b@example.com"))
        .fetch_one(&db)
        .await
        .unwrap();
    User::delete(&db, b.id).await.unwrap();
    let per_role = User::query()
        .filter(User::EMAIL.like("%@example.com"))
        .count_by(&db, User::ROLE)
        .await
        .unwrap();
    assert_eq!(per_role, [(Role::Admin, 1), (Role::Member, 1)]);
}
