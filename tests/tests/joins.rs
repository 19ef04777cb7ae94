//! Typed joins along declared foreign keys, against a real server: inner and left joins,
//! filters and ordering on either table, soft-deleted rows of either table left out.

mod common;

use common::models::{NewUser, Role, User};
use skelly_db::{Executor, Table};

/// A post of a user; soft delete.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "blog", name = "posts")]
pub struct Post {
    pub id: i64,
    #[table(references = "user.users")]
    pub author_id: uuid::Uuid,
    #[table(references = "user.users")]
    pub editor_id: Option<uuid::Uuid>,
    pub title: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

async fn blog() -> (skelly_db::testing::TestDb, User, User) {
    let db = common::reference_db().await;
    db.batch_execute(&Post::create_table_sql()).await.unwrap();
    let ada = User::insert(&db, common::new_user("ada@example.com"))
        .await
        .unwrap();
    let bob = User::insert(
        &db,
        NewUser {
            role: Role::Admin,
            ..common::new_user("bob@example.com")
        },
    )
    .await
    .unwrap();
    for (author, editor, title) in [
        (&ada, Some(&bob), "a1"),
        (&ada, None, "a2"),
        (&bob, Some(&ada), "b1"),
    ] {
        Post::insert(
            &db,
            NewPost {
                author_id: author.id,
                editor_id: editor.map(|e| e.id),
                title: title.into(),
            },
        )
        .await
        .unwrap();
    }
    (db, ada, bob)
}

#[tokio::test]
async fn inner_join_with_filters_and_order_on_both_tables() {
    let (db, ada, bob) = blog().await;
    let rows = Post::query()
        .join::<User>(Post::AUTHOR_ID_FK)
        .order_by(Post::TITLE.asc())
        .fetch_all(&db)
        .await
        .unwrap();
    let pairs: Vec<(&str, &str)> = rows
        .iter()
        .map(|(p, u)| (p.title.as_str(), u.email.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("a1", "ada@example.com"),
            ("a2", "ada@example.com"),
            ("b1", "bob@example.com")
        ]
    );
    assert_eq!(rows[0].1, ada);

    // A filter on each table, ordered by a parent column then a child one.
    let query = Post::query()
        .filter(Post::TITLE.like("%1"))
        .join::<User>(Post::AUTHOR_ID_FK)
        .filter_parent(User::ROLE.eq(Role::Admin))
        .order_by_parent(User::EMAIL.desc());
    let sql = query.to_sql();
    assert!(
        sql.contains("JOIN \"user\".\"users\" AS \"p\" ON \"p\".\"id\" = \"c\".\"author_id\""),
        "{sql}"
    );
    let rows = query.fetch_all(&db).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].0.title.as_str(), &rows[0].1), ("b1", &bob));
}

#[tokio::test]
async fn left_join_keeps_children_without_a_live_parent() {
    let (db, _ada, bob) = blog().await;
    let rows = Post::query()
        .order_by(Post::TITLE.asc())
        .left_join::<User>(Post::EDITOR_ID_FK)
        .fetch_all(&db)
        .await
        .unwrap();
    let editors: Vec<Option<&str>> = rows
        .iter()
        .map(|(_, e)| e.as_ref().map(|u| u.email.as_str()))
        .collect();
    assert_eq!(
        editors,
        [Some("bob@example.com"), None, Some("ada@example.com")]
    );

    // A soft-deleted parent: gone from the inner join, None in the left join.
    User::delete(&db, bob.id).await.unwrap();
    let inner = Post::query()
        .join::<User>(Post::EDITOR_ID_FK)
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(inner.len(), 1);
    let left = Post::query()
        .order_by(Post::TITLE.asc())
        .left_join::<User>(Post::EDITOR_ID_FK)
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(left.len(), 3);
    assert!(left[0].1.is_none(), "a1's editor bob is soft-deleted");
    let with_deleted = Post::query()
        .order_by(Post::TITLE.asc())
        .left_join::<User>(Post::EDITOR_ID_FK)
        .with_deleted_parents()
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(with_deleted[0].1.as_ref().map(|u| u.id), Some(bob.id));

    // A soft-deleted child is left out as everywhere.
    let a2 = Post::query()
        .filter(Post::TITLE.eq("a2"))
        .fetch_one(&db)
        .await
        .unwrap();
    Post::delete(&db, a2.id).await.unwrap();
    let rows = Post::query()
        .left_join::<User>(Post::AUTHOR_ID_FK)
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
}
