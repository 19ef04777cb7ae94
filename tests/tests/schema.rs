//! The schema check against a real server: the reference migrations match the `User` struct;
//! every struct's own `create_table_sql()` reads back as the same shape; deliberately drifted
//! tables give one finding per difference, and applying the suggested fixes makes the check
//! pass.

mod common;

use common::models::User;
use skelly_db::schema::{self, Finding, SchemaReport, Severity, TableShape};
use skelly_db::{Executor, Table, TextEnum};

#[derive(TextEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Draft,
    Published,
}

/// A child table: a foreign key (indexed), an indexed column, a text enum and an array of it,
/// a JSON column, an identity key, optimistic locking.
#[derive(Table, Debug, Clone)]
#[table(schema = "blog", name = "posts")]
pub struct Post {
    pub id: i64,
    #[table(references = "user.users")]
    pub author_id: uuid::Uuid,
    #[table(index)]
    pub slug: String,
    pub status: Status,
    pub history: Vec<Status>,
    pub tags: Vec<String>,
    pub body: Option<serde_json::Value>,
    pub score: f64,
    pub published_on: Option<chrono::NaiveDate>,
    #[table(version)]
    pub version: i32,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A natural key referenced by column, a unique column on a table without soft delete.
#[derive(Table, Debug, Clone)]
#[table(schema = "blog", name = "tags")]
pub struct Tag {
    #[table(primary_key)]
    pub code: String,
    #[table(unique)]
    pub label: String,
    #[table(references = "blog.posts(id)")]
    pub first_post: Option<i64>,
    #[table(default = "'plain'")]
    pub kind: String,
}

fn shapes() -> Vec<TableShape> {
    vec![
        TableShape::of::<User>(),
        TableShape::of::<Post>(),
        TableShape::of::<Tag>(),
    ]
}

async fn apply(db: &impl Executor, sql: &str) {
    // One statement at a time: CREATE INDEX CONCURRENTLY cannot share a batch.
    for statement in sql.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
        db.batch_execute(statement)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

fn find<'a>(report: &'a SchemaReport, location: &str, text: &str) -> &'a Finding {
    report
        .findings
        .iter()
        .find(|f| f.location == location && f.message.contains(text))
        .unwrap_or_else(|| panic!("no finding at {location} saying {text:?} in:\n{report}"))
}

#[tokio::test]
async fn the_reference_migrations_match_the_user_struct() {
    let db = common::reference_db().await;
    let report = schema::check(&db, &[TableShape::of::<User>()])
        .await
        .unwrap();
    assert!(report.findings.is_empty(), "{report}");
    assert_eq!(report.tables, ["user.users"]);
    skelly_db::assert_schema!(db, User);
}

#[tokio::test]
async fn create_table_sql_reads_back_as_the_same_shape() {
    let db = common::empty_db().await;
    for shape in shapes() {
        apply(&db, &shape.create_sql()).await;
    }
    let report = schema::check(&db, &shapes()).await.unwrap();
    assert!(report.findings.is_empty(), "{report}");
    // The catalog's shape is the declared one, up to spelling.
    let read = schema::inspect(&db, "blog", "tags").await.unwrap().unwrap();
    assert_eq!(read.primary_key, TableShape::of::<Tag>().primary_key);
    assert_eq!(read.uniques[0].columns, ["label"]);
    assert_eq!(read.foreign_keys[0].target_table, "posts");
    assert!(schema::inspect(&db, "blog", "nope")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
#[should_panic(expected = "blog.posts: the table does not exist")]
async fn assert_schema_panics_with_the_report() {
    let db = common::reference_db().await;
    skelly_db::assert_schema!(db, User, Post);
}

#[tokio::test]
async fn drift_is_reported_with_a_fix_that_works() {
    let db = common::empty_db().await;
    // The users table as an older migration left it.
    apply(
        &db,
        r#"
        CREATE SCHEMA "user";
        CREATE TABLE "user".users (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            email text,
            display_name varchar(40) NOT NULL,
            role text NOT NULL CONSTRAINT users_role_check CHECK (role IN ('admin', 'member', 'owner')),
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            deleted_at timestamptz,
            legacy_code text NOT NULL,
            note text
        );
        CREATE UNIQUE INDEX users_email_key ON "user".users (email);
        CREATE SCHEMA blog;
        CREATE TABLE blog.posts (id bigint PRIMARY KEY);
        "#,
    )
    .await;
    let report = schema::check(&db, &shapes()).await.unwrap();
    assert!(!report.is_ok());

    let f = find(&report, "user.users.email", "allows NULL");
    assert_eq!(f.severity, Severity::Error);
    let f = find(
        &report,
        "user.users.display_name",
        "type is `character varying(40)` in the database, `text` in the struct",
    );
    assert_eq!(
        f.fix.as_deref(),
        Some("ALTER TABLE \"user\".\"users\" ALTER COLUMN \"display_name\" TYPE text USING \"display_name\"::text;")
    );
    find(&report, "user.users.bio", "the column does not exist");
    find(
        &report,
        "user.users.created_at",
        "no default in the database, the struct expects `now()`",
    );
    let f = find(
        &report,
        "user.users.role",
        "CHECK `users_role_check` allows no 'read-only' but 'owner', which the enum does not have",
    );
    assert!(f.fix.as_deref().unwrap().contains("NOT VALID"), "{f}");
    find(
        &report,
        "user.users.email",
        "a unique index on (email) WHERE \"deleted_at\" IS NULL does not exist",
    );
    let f = find(
        &report,
        "user.users",
        "unique index `users_email_key` on (email) is not declared",
    );
    assert_eq!(f.severity, Severity::Warning);
    let f = find(
        &report,
        "user.users.legacy_code",
        "NOT NULL column without a default",
    );
    assert_eq!(f.severity, Severity::Error);
    let f = find(&report, "user.users.note", "no field for this column");
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.message.contains("primary key")),
        "{report}"
    );
    find(&report, "blog.posts.author_id", "the column does not exist");
    find(
        &report,
        "blog.posts.author_id",
        "no foreign key to user.users(id)",
    );
    find(
        &report,
        "blog.posts.slug",
        "index `posts_slug_idx` on (slug) does not exist",
    );
    find(
        &report,
        "blog.posts.status",
        "CHECK `posts_status_check` does not exist",
    );
    find(&report, "blog.tags", "the table does not exist");
    let rendered = report.to_string();
    assert!(
        rendered.contains("error: user.users.email: the database allows NULL"),
        "{rendered}"
    );
    assert!(rendered.contains("    fix: ALTER TABLE"), "{rendered}");

    // The old unique index holds the new one's name: the fix drops it first (issue 23: it
    // used to make the new one under the taken name). Every fix applied as given.
    let f = find(
        &report,
        "user.users.email",
        "a unique index on (email) WHERE \"deleted_at\" IS NULL does not exist",
    );
    assert!(
        f.fix
            .as_deref()
            .unwrap()
            .starts_with("DROP INDEX CONCURRENTLY \"user\".\"users_email_key\";\n"),
        "{f}"
    );
    for finding in report.errors() {
        if let Some(fix) = &finding.fix {
            apply(&db, fix).await;
        }
    }
    let after = schema::check(&db, &shapes()).await.unwrap();
    assert!(after.is_ok(), "{after}");
    // What is left is the unmapped nullable columns: legacy_code's fix made it nullable.
    let left: Vec<&str> = after.findings.iter().map(|f| f.location.as_str()).collect();
    assert_eq!(
        left,
        ["user.users.legacy_code", "user.users.note"],
        "{after}"
    );
}

#[tokio::test]
async fn an_array_check_a_missing_primary_key_and_a_wrong_reference() {
    let db = common::empty_db().await;
    apply(&db, &TableShape::of::<User>().create_sql()).await;
    apply(&db, &TableShape::of::<Post>().create_sql()).await;
    apply(
        &db,
        r#"
        ALTER TABLE blog.posts DROP CONSTRAINT posts_history_check;
        ALTER TABLE blog.posts ADD CONSTRAINT posts_history_check CHECK (history <@ ARRAY['draft']::text[]);
        CREATE TABLE blog.old_posts (id bigint PRIMARY KEY);
        CREATE TABLE blog.tags (
            code text NOT NULL, label text NOT NULL UNIQUE,
            first_post bigint REFERENCES blog.old_posts (id), kind text NOT NULL DEFAULT 'fancy');
        "#,
    )
    .await;
    let report = schema::check(&db, &shapes()).await.unwrap();
    find(&report, "blog.posts.history", "allows no 'published'");
    find(
        &report,
        "blog.tags",
        "no primary key in the database, the struct's is (code)",
    );
    find(
        &report,
        "blog.tags.first_post",
        "foreign key references blog.old_posts(id) in the database, blog.posts(id) in the struct",
    );
    let f = find(
        &report,
        "blog.tags.kind",
        "default is `'fancy'::text` in the database, `'plain'` in the struct",
    );
    assert_eq!(f.severity, Severity::Warning);
    // The users and posts tables were made from the structs: nothing to say about them but
    // the altered check.
    let elsewhere: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| !f.location.starts_with("blog.tags"))
        .collect();
    assert_eq!(elsewhere.len(), 1, "{report}");
}

#[test]
fn reading_the_sources_gives_the_shapes_the_derive_gives() {
    // This file's own structs, and the reference crate's.
    let this =
        schema::from_sources(&[("schema.rs".into(), include_str!("schema.rs").into())]).unwrap();
    let shapes: Vec<&TableShape> = this.iter().map(|t| &t.shape).collect();
    assert_eq!(
        shapes,
        [
            &TableShape::of::<Post>(),
            &TableShape::of::<Tag>(),
            &TableShape::of::<Entry>(),
            &TableShape::of::<Author>()
        ]
    );
    assert_eq!(this[0].rust_name, "Post");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let reference = schema::from_dir(&dir).unwrap();
    assert_eq!(reference.len(), 1);
    assert_eq!(reference[0].shape, TableShape::of::<User>());
    assert_eq!(reference[0].file, dir.join("lib.rs"));
}

/// Issue 23: a foreign key's own index next to a table-level index leading with the same column,
/// and two indexes on the same column declared by name. The check matched each declared index
/// to the first one that could serve it, so one real index was left over ("`..._author_id_idx`
/// on (author_id) is not declared by the struct"), in every `assert_schema!` of a new user's
/// crate. Each declared index now finds its own: by name, then by shape, then any that serves.
// Two indexes on the same column are the point; clippy takes them for a repeated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(Table, Debug, Clone)]
#[table(schema = "feed", name = "entries")]
#[table(index(author_id, expr = "created_at DESC", name = "entries_author_recent"))]
#[table(index(parent_id, name = "entries_parent_a"))]
#[table(index(parent_id, name = "entries_parent_b"))]
pub struct Entry {
    pub id: uuid::Uuid,
    #[table(references = "feed.authors")]
    pub author_id: uuid::Uuid,
    pub parent_id: Option<uuid::Uuid>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Table, Debug, Clone)]
#[table(schema = "feed", name = "authors")]
pub struct Author {
    pub id: uuid::Uuid,
    pub name: String,
}

#[tokio::test]
async fn each_declared_index_is_matched_to_its_own() {
    let db = common::empty_db().await;
    let shapes = [TableShape::of::<Author>(), TableShape::of::<Entry>()];
    for shape in &shapes {
        apply(&db, &shape.create_sql()).await;
    }
    let report = schema::check(&db, &shapes).await.unwrap();
    assert!(report.findings.is_empty(), "{report}");
    skelly_db::assert_schema!(db, Author, Entry);
    // With one of the twins gone, the other serves both declarations (as the key or any index
    // leading with the columns serves a plain one): no finding, and none left over.
    db.batch_execute("DROP INDEX feed.entries_parent_b")
        .await
        .unwrap();
    let report = schema::check(&db, &shapes).await.unwrap();
    assert_eq!(report.findings.len(), 0, "{report}");
    // The same for the foreign key's own index, served by (author_id, created_at DESC).
    db.batch_execute("DROP INDEX feed.entries_author_id_idx")
        .await
        .unwrap();
    let report = schema::check(&db, &shapes).await.unwrap();
    assert!(report.findings.is_empty(), "{report}");
}
