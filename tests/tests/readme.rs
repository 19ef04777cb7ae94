//! Every Rust block of the README and the guide (docs/), compiled (tests/build.rs turns each into
//! a module here), and the blocks marked `run` run on a fresh database. A snippet that stops
//! compiling fails `cargo test` with an error in `readme.rs` under the build's `OUT_DIR`, whose
//! module names the file and line.

use skelly_db::testing::TestDb;
use skelly_db::{Executor, Table};

/// What the README's fragments assume is in scope: its tables and the names its snippets use.
pub mod shared {
    pub use skelly_db::query::Cursor;
    pub use skelly_db::{Error, Executor, Pool, PoolConfig, Row, Table, TextEnum};
    pub use skelly_db_tests::{NewUser, Role, User, UserPatch};
    pub use uuid::Uuid;

    use std::future::Future;
    use std::pin::Pin;

    /// What a README body returns: `?` works on every error the snippets meet.
    pub type BlockResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;
    /// A README body, started.
    pub type BlockFuture = Pin<Box<dyn Future<Output = BlockResult> + Send>>;
    /// A README body, to start on a pool.
    pub type Block = fn(Pool) -> BlockFuture;

    /// The README's posts: an author and an optional editor, both users.
    #[derive(Table, Debug, Clone, PartialEq)]
    pub struct Post {
        pub id: Uuid,
        #[table(references = "user.users")]
        pub author_id: Uuid,
        #[table(references = "user.users", on_delete = "set null")]
        pub editor_id: Option<Uuid>,
        pub title: String,
        pub created_at: chrono::DateTime<chrono::Utc>,
        pub updated_at: chrono::DateTime<chrono::Utc>,
    }

    /// The README's comments: on a post, by a user; soft delete.
    #[derive(Table, Debug, Clone, PartialEq)]
    pub struct Comment {
        pub id: i64,
        #[table(references = "public.posts", on_delete = "cascade")]
        pub post_id: Uuid,
        #[table(references = "user.users")]
        pub author_id: Uuid,
        pub body: String,
        pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
    }

    /// The README's job queue.
    #[derive(Table, Debug, Clone, PartialEq)]
    pub struct Job {
        pub id: i64,
        pub kind: String,
        pub taken_by: Option<String>,
    }

    /// A web handler's query parameters.
    pub struct Params {
        pub after: Option<String>,
    }

    /// The names README fragments use without defining them.
    pub struct Given {
        pub id: Uuid,
        pub x: &'static str,
        pub params: Params,
        pub new_user: NewUser,
        pub after: Option<Cursor>,
    }

    impl Given {
        pub async fn new(_pool: &Pool) -> Given {
            Given {
                id: Uuid::nil(),
                x: "ada@example.com",
                params: Params { after: None },
                new_user: NewUser {
                    email: "new@example.com".into(),
                    display_name: "New".into(),
                    role: Role::Member,
                    bio: None,
                },
                after: None,
            }
        }
    }
}

mod blocks {
    use super::shared::Block;
    include!(concat!(env!("OUT_DIR"), "/readme.rs"));
}

/// The tables the README's snippets read and write, on a fresh database: the reference schema's
/// users (from `migrations/`), posts, jobs and a counter.
async fn readme_database() -> skelly_db::Result<TestDb> {
    let db = TestDb::builder()
        .migrations(concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations"))
        .build()
        .await?;
    db.batch_execute(&shared::Post::create_table_sql()).await?;
    db.batch_execute(&shared::Job::create_table_sql()).await?;
    db.batch_execute(&shared::Comment::create_table_sql())
        .await?;
    db.batch_execute(
        "CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL);
         INSERT INTO counters VALUES (1, 0);
         INSERT INTO \"user\".users (email, display_name, role)
             VALUES ('ada@example.com', 'Ada', 'admin'), ('grace@example.com', 'Grace', 'member');
         INSERT INTO posts (author_id, title)
             SELECT id, 'rust for ' || display_name FROM \"user\".users;
         INSERT INTO jobs (kind) VALUES ('mail'), ('mail');
         INSERT INTO comments (post_id, author_id, body)
             SELECT p.id, u.id, 'nice' FROM posts p CROSS JOIN \"user\".users u;",
    )
    .await?;
    Ok(db)
}

#[tokio::test]
async fn readme_blocks_marked_run_succeed() -> skelly_db::Result<()> {
    assert!(
        blocks::RUN.len() >= 8,
        "the README's runnable blocks are marked `<!-- compiled: body, run -->`"
    );
    for (file, line, block) in blocks::RUN {
        let db = readme_database().await?;
        if let Err(err) = block(db.pool().clone()).await {
            panic!("{file} line {line}: the block failed: {err}");
        }
    }
    Ok(())
}
