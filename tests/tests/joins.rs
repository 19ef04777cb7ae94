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

    // Ordering terms in call order, parent first here.
    let rows = Post::query()
        .join::<User>(Post::AUTHOR_ID_FK)
        .order_by_parent(User::EMAIL.desc())
        .order_by(Post::TITLE.asc())
        .fetch_all(&db)
        .await
        .unwrap();
    let titles: Vec<&str> = rows.iter().map(|(p, _)| p.title.as_str()).collect();
    assert_eq!(titles, ["b1", "a1", "a2"]);

    // A lock on the child's query locks the child rows.
    let mut conn = db.pool().get().await.unwrap();
    let tx = conn.begin().await.unwrap();
    let locked = Post::query()
        .limit(1)
        .for_update()
        .skip_locked()
        .left_join::<User>(Post::EDITOR_ID_FK);
    assert!(
        locked
            .to_sql()
            .ends_with(" FOR UPDATE OF \"c\" SKIP LOCKED"),
        "{}",
        locked.to_sql()
    );
    assert_eq!(locked.fetch_all(&tx).await.unwrap().len(), 1);
    tx.rollback().await.unwrap();
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

/// A comment on a post; soft delete.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "blog", name = "comments")]
pub struct Comment {
    pub id: i64,
    #[table(references = "blog.posts")]
    pub post_id: i64,
    pub body: String,
    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Counts the statements skelly-db runs (its `db.statement` spans) on this thread while the
/// guard lives.
///
/// Through one global subscriber that counts into the running test's counter, not a
/// thread-local subscriber: while a lone thread-local subscriber is the only dispatcher,
/// tracing-core computes a new callsite's interest from the calling thread's default, so a
/// statement callsite first reached by another test's thread was cached as "never" and this
/// count read 0 (seen in CI; the same cause as `tests/tracing.rs`'s old flake).
#[cfg(feature = "tracing")]
mod counting {
    use std::cell::RefCell;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use tracing::span::{Attributes, Id};
    use tracing::Subscriber;
    use tracing_subscriber::layer::{Context, SubscriberExt as _};
    use tracing_subscriber::Layer;

    thread_local! {
        static COUNTER: RefCell<Option<Arc<AtomicUsize>>> = const { RefCell::new(None) };
    }

    struct Count;

    impl<S: Subscriber> Layer<S> for Count {
        fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
            if attrs.metadata().name() == "db.statement" {
                COUNTER.with(|c| {
                    if let Some(n) = c.borrow().as_ref() {
                        n.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        }
    }

    /// Stops counting when dropped.
    pub struct Guard;

    impl Drop for Guard {
        fn drop(&mut self) {
            COUNTER.with(|c| *c.borrow_mut() = None);
        }
    }

    pub fn start() -> (Arc<AtomicUsize>, Guard) {
        static GLOBAL: std::sync::Once = std::sync::Once::new();
        GLOBAL.call_once(|| {
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Count))
                .expect("no other global subscriber in this test binary");
        });
        let n = Arc::new(AtomicUsize::new(0));
        COUNTER.with(|c| *c.borrow_mut() = Some(n.clone()));
        (n, Guard)
    }
}

#[cfg(feature = "tracing")]
#[tokio::test]
async fn eager_loading_is_one_statement_per_relation() {
    use skelly_db::query::{load_children, load_parents};
    use std::sync::atomic::Ordering;

    let db = common::reference_db().await;
    db.batch_execute(&Post::create_table_sql()).await.unwrap();
    db.batch_execute(&Comment::create_table_sql())
        .await
        .unwrap();
    let users = User::insert_many(
        &db,
        (0..20)
            .map(|i| common::new_user(&format!("u{i}@example.com")))
            .collect(),
    )
    .await
    .unwrap();
    let posts = Post::insert_many(
        &db,
        (0..500)
            .map(|i| NewPost {
                author_id: users[i % 20].id,
                editor_id: None,
                title: format!("post {i}"),
            })
            .collect(),
    )
    .await
    .unwrap();
    Comment::insert_many(
        &db,
        posts
            .iter()
            .flat_map(|p| {
                (0..(p.id % 4)).map(move |j| NewComment {
                    post_id: p.id,
                    body: format!("c{j}"),
                })
            })
            .collect(),
    )
    .await
    .unwrap();
    // A soft-deleted comment is left out.
    let hidden = Comment::query().limit(1).fetch_one(&db).await.unwrap();
    Comment::delete(&db, hidden.id).await.unwrap();

    let (count, guard) = counting::start();
    let posts = Post::query()
        .order_by(Post::ID.asc())
        .fetch_all(&db)
        .await
        .unwrap();
    // The parent type is inferred from the key; a NOT NULL key gives the parent itself.
    let with_authors: Vec<(Post, User)> =
        load_parents(&db, posts, Post::AUTHOR_ID_FK).await.unwrap();
    let posts: Vec<Post> = with_authors.iter().map(|(p, _)| p.clone()).collect();
    let with_comments = load_children(&db, posts, Comment::POST_ID_FK)
        .await
        .unwrap();
    drop(guard);
    assert_eq!(
        count.load(Ordering::Relaxed),
        3,
        "posts, their authors, their comments"
    );

    assert_eq!(with_authors.len(), 500);
    for (post, author) in &with_authors {
        assert_eq!(author.id, post.author_id);
    }
    let total: usize = with_comments.iter().map(|(_, c)| c.len()).sum();
    let expected = Comment::query().count(&db).await.unwrap();
    assert_eq!(total as i64, expected);
    for (post, comments) in &with_comments {
        assert!(comments
            .iter()
            .all(|c| c.post_id == post.id && c.id != hidden.id));
        let want = (post.id % 4) as usize - usize::from(post.id == hidden.post_id);
        assert_eq!(comments.len(), want, "post {}", post.id);
    }
    // A parent listed twice gets its children twice.
    let first = with_comments
        .iter()
        .find(|(_, c)| !c.is_empty())
        .map(|(p, c)| (p.clone(), c.len()))
        .unwrap();
    let twice = load_children(&db, vec![first.0.clone(), first.0], Comment::POST_ID_FK)
        .await
        .unwrap();
    assert_eq!((twice[0].1.len(), twice[1].1.len()), (first.1, first.1));
    // No keys: no statement, nothing loaded.
    let none = load_children(&db, Vec::<Post>::new(), Comment::POST_ID_FK)
        .await
        .unwrap();
    assert!(none.is_empty());

    // Two relations of one list, composed: one statement each, looked up while iterating.
    let posts = Post::query()
        .order_by(Post::ID.asc())
        .fetch_all(&db)
        .await
        .unwrap();
    let (count, guard) = counting::start();
    let authors = skelly_db::query::parents_of(&db, &posts, Post::AUTHOR_ID_FK)
        .await
        .unwrap();
    let editors = skelly_db::query::parents_of(&db, &posts, Post::EDITOR_ID_FK)
        .await
        .unwrap();
    let comments = skelly_db::query::children_of(&db, &posts, Comment::POST_ID_FK)
        .await
        .unwrap();
    drop(guard);
    // No post here has an editor: that relation sends no statement.
    assert_eq!(count.load(Ordering::Relaxed), 2);
    assert!(posts.iter().all(|p| p.editor_id.is_none()));
    let mut total = 0;
    for post in &posts {
        let author: &User = authors.of(post);
        assert_eq!(author.id, post.author_id);
        let editor: Option<&User> = editors.of(post);
        assert_eq!(editor.map(|e| e.id), post.editor_id);
        let mine: &[Comment] = comments.of(post);
        assert!(mine.iter().all(|c| c.post_id == post.id));
        total += mine.len();
    }
    assert_eq!(total as i64, expected);
}
