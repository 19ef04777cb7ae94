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
