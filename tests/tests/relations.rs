//! Reads a web backend needs in one statement (issue 25), on a real server: filters along
//! relations (`EXISTS`, `NOT EXISTS`, a parent's condition, `IN (SELECT ...)`), with the
//! soft-delete scopes inside the subqueries.

mod common;

use common::models::User;
use skelly_db::query::{has_child, parent_matches};
use skelly_db::{Executor, Table};

/// An article; soft delete.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "blog", name = "articles")]
pub struct Article {
    pub id: uuid::Uuid,
    #[table(unique)]
    pub slug: String,
    #[table(references = "user.users")]
    pub author_id: uuid::Uuid,
    pub title: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A user's favorite article; soft delete (an unfavorite).
#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "blog", name = "favorites")]
pub struct Favorite {
    pub id: i64,
    #[table(references = "blog.articles", on_delete = "cascade")]
    pub article_id: uuid::Uuid,
    #[table(references = "user.users")]
    pub user_id: uuid::Uuid,
    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A tag.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "blog", name = "tags")]
#[table(check(name = "tags_name_short", expr = "length(name) <= 20"))]
pub struct Tag {
    pub id: i32,
    #[table(unique)]
    pub name: String,
}

/// An article's tag: a composite key of two foreign keys.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "blog", name = "article_tags")]
pub struct ArticleTag {
    #[table(primary_key, references = "blog.articles", on_delete = "cascade")]
    pub article_id: uuid::Uuid,
    #[table(primary_key, references = "blog.tags")]
    pub tag_id: i32,
}

/// A comment on an article, by a user; soft delete.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "blog", name = "comments")]
pub struct Comment {
    pub id: i64,
    #[table(references = "blog.articles", on_delete = "cascade")]
    pub article_id: uuid::Uuid,
    #[table(references = "user.users")]
    pub author_id: uuid::Uuid,
    pub body: String,
    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Who follows whom.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "blog", name = "follows")]
pub struct Follow {
    #[table(primary_key, references = "user.users")]
    pub follower_id: uuid::Uuid,
    #[table(primary_key, references = "user.users")]
    pub followee_id: uuid::Uuid,
}

struct Blog {
    db: skelly_db::testing::TestDb,
    ada: User,
    bob: User,
    cy: User,
    articles: Vec<Article>,
}

impl Blog {
    fn article(&self, slug: &str) -> &Article {
        self.articles.iter().find(|a| a.slug == slug).unwrap()
    }
}

fn slugs(articles: &[Article]) -> Vec<&str> {
    let mut out: Vec<&str> = articles.iter().map(|a| a.slug.as_str()).collect();
    out.sort();
    out
}

/// ada wrote a1, a2 and a3 (deleted); bob wrote b1; cy wrote nothing and is deleted later.
/// ada favorites b1, bob favorites a1 and a3 (deleted article) and unfavorited a2; cy
/// favorites a2. Tags: rust on a1 and b1, sql on a2. ada follows bob; bob follows ada and cy.
async fn blog() -> Blog {
    let db = common::reference_db().await;
    for sql in [
        Article::create_table_sql(),
        Favorite::create_table_sql(),
        Tag::create_table_sql(),
        ArticleTag::create_table_sql(),
        Follow::create_table_sql(),
        Comment::create_table_sql(),
    ] {
        db.batch_execute(&sql).await.unwrap();
    }
    let user = |email: &str| User::insert(&db, common::new_user(email));
    let (ada, bob, cy) = (
        user("ada@example.com").await.unwrap(),
        user("bob@example.com").await.unwrap(),
        user("cy@example.com").await.unwrap(),
    );
    let mut articles = Vec::new();
    for (slug, author) in [("a1", &ada), ("a2", &ada), ("a3", &ada), ("b1", &bob)] {
        let article = Article::insert(
            &db,
            NewArticle {
                slug: slug.into(),
                author_id: author.id,
                title: format!("Title {slug}"),
            },
        )
        .await
        .unwrap();
        articles.push(article);
    }
    let blog = Blog {
        db,
        ada,
        bob,
        cy,
        articles,
    };
    let db = &blog.db;
    for (user, slug) in [
        (&blog.ada, "b1"),
        (&blog.bob, "a1"),
        (&blog.bob, "a2"),
        (&blog.bob, "a3"),
        (&blog.cy, "a2"),
    ] {
        Favorite::insert(
            db,
            NewFavorite {
                article_id: blog.article(slug).id,
                user_id: user.id,
            },
        )
        .await
        .unwrap();
    }
    Favorite::query()
        .filter(Favorite::USER_ID.eq(blog.bob.id))
        .filter(Favorite::ARTICLE_ID.eq(blog.article("a2").id))
        .delete(db)
        .await
        .unwrap();
    Article::delete(db, blog.article("a3").id).await.unwrap();
    for name in ["rust", "sql"] {
        Tag::insert(db, NewTag { name: name.into() }).await.unwrap();
    }
    let tag = |name: &str| {
        let name = name.to_string();
        async move {
            Tag::query()
                .filter(Tag::NAME.eq(name))
                .fetch_one(db)
                .await
                .unwrap()
                .id
        }
    };
    for (slug, name) in [("a1", "rust"), ("b1", "rust"), ("a2", "sql")] {
        ArticleTag::insert(
            db,
            NewArticleTag {
                article_id: blog.article(slug).id,
                tag_id: tag(name).await,
            },
        )
        .await
        .unwrap();
    }
    for (from, to) in [
        (&blog.ada, &blog.bob),
        (&blog.bob, &blog.ada),
        (&blog.bob, &blog.cy),
    ] {
        Follow::insert(
            db,
            NewFollow {
                follower_id: from.id,
                followee_id: to.id,
            },
        )
        .await
        .unwrap();
    }
    blog
}

#[tokio::test]
async fn favorited_by_in_one_statement_with_soft_deletes_inside() {
    let b = blog().await;
    let db = &b.db;
    // bob's live favorites of live articles: a1 (a2 unfavorited, a3 deleted).
    let favorited = Article::query()
        .having_child(Favorite::ARTICLE_ID_FK, Favorite::USER_ID.eq(b.bob.id))
        .fetch_all(db)
        .await
        .unwrap();
    assert_eq!(slugs(&favorited), ["a1"]);
    // The unfavorite counts when the child query asks for deleted rows too.
    let ever = Article::query()
        .having_child(
            Favorite::ARTICLE_ID_FK,
            Favorite::query()
                .with_deleted()
                .filter(Favorite::USER_ID.eq(b.bob.id)),
        )
        .fetch_all(db)
        .await
        .unwrap();
    assert_eq!(slugs(&ever), ["a1", "a2"]);
    // And the deleted article when the outer query asks.
    let all = Article::query()
        .with_deleted()
        .having_child(Favorite::ARTICLE_ID_FK, Favorite::USER_ID.eq(b.bob.id))
        .count(db)
        .await
        .unwrap();
    assert_eq!(all, 2);
    // NOT EXISTS: live articles nobody (live) favorites.
    let unloved = Article::query()
        .having_no_child(Favorite::ARTICLE_ID_FK, Favorite::query())
        .fetch_all(db)
        .await
        .unwrap();
    assert_eq!(slugs(&unloved), Vec::<&str>::new());
    let unloved_by_cy = Article::query()
        .having_no_child(Favorite::ARTICLE_ID_FK, Favorite::USER_ID.eq(b.cy.id))
        .fetch_all(db)
        .await
        .unwrap();
    assert_eq!(slugs(&unloved_by_cy), ["a1", "b1"]);
    // One statement, every value bound.
    let sql = Article::query()
        .having_child(Favorite::ARTICLE_ID_FK, Favorite::USER_ID.eq(b.bob.id))
        .to_sql();
    assert!(
        sql.contains(r#"WHERE EXISTS (SELECT 1 FROM "blog"."favorites" AS "s1" WHERE "s1"."article_id" = "blog"."articles"."id" AND "s1"."deleted_at" IS NULL AND "s1"."user_id" = $1)"#),
        "{sql}"
    );
}

#[tokio::test]
async fn list_by_tag_feed_and_parent_conditions() {
    let b = blog().await;
    let db = &b.db;
    // By tag, through the join table: EXISTS of a tag link whose tag is named rust.
    let rust = Article::query()
        .having_child(
            ArticleTag::ARTICLE_ID_FK,
            parent_matches(ArticleTag::TAG_ID_FK, Tag::NAME.eq("rust")),
        )
        .fetch_all(db)
        .await
        .unwrap();
    assert_eq!(slugs(&rust), ["a1", "b1"]);
    // The feed: articles whose author ada follows.
    let feed = Article::query()
        .where_parent(
            Article::AUTHOR_ID_FK,
            has_child(Follow::FOLLOWEE_ID_FK, Follow::FOLLOWER_ID.eq(b.ada.id)),
        )
        .fetch_all(db)
        .await
        .unwrap();
    assert_eq!(slugs(&feed), ["b1"]);
    // A parent's condition: articles by an author whose email starts with a.
    let by_a = Article::query()
        .where_parent(Article::AUTHOR_ID_FK, User::EMAIL.like("a%"))
        .fetch_all(db)
        .await
        .unwrap();
    assert_eq!(slugs(&by_a), ["a1", "a2"]);
    // A soft-deleted parent does not match unless the parent query asks: cy is deleted, and
    // bob's followees (ada, cy) are then ada alone.
    User::delete(db, b.cy.id).await.unwrap();
    let followed_by_bob = User::query()
        .having_child(Follow::FOLLOWEE_ID_FK, Follow::FOLLOWER_ID.eq(b.bob.id))
        .fetch_all(db)
        .await
        .unwrap();
    assert_eq!(followed_by_bob, std::slice::from_ref(&b.ada));
    let follows_of_live_users = Follow::query()
        .where_parent(Follow::FOLLOWEE_ID_FK, User::query())
        .count(db)
        .await
        .unwrap();
    assert_eq!(follows_of_live_users, 2);
    let follows_of_any = Follow::query()
        .where_parent(Follow::FOLLOWEE_ID_FK, User::query().with_deleted())
        .count(db)
        .await
        .unwrap();
    assert_eq!(follows_of_any, 3);
    // Combined with or / not as any expression.
    let either = Article::query()
        .filter(
            has_child(Favorite::ARTICLE_ID_FK, Favorite::USER_ID.eq(b.ada.id))
                .or(Article::SLUG.eq("a2")),
        )
        .fetch_all(db)
        .await
        .unwrap();
    assert_eq!(slugs(&either), ["a2", "b1"]);
}

#[tokio::test]
async fn in_a_typed_subquery() {
    let b = blog().await;
    let db = &b.db;
    let favorited_by_cy = Article::query()
        .filter(
            Article::ID.in_subquery(
                Favorite::query()
                    .filter(Favorite::USER_ID.eq(b.cy.id))
                    .subquery(Favorite::ARTICLE_ID),
            ),
        )
        .fetch_all(db)
        .await
        .unwrap();
    assert_eq!(slugs(&favorited_by_cy), ["a2"]);
    // Soft deletes apply inside: bob's unfavorite of a2 is not there.
    let bobs = Favorite::query()
        .filter(Favorite::USER_ID.eq(b.bob.id))
        .subquery(Favorite::ARTICLE_ID);
    let found = Article::query()
        .with_deleted()
        .filter(Article::ID.in_subquery(bobs.clone()))
        .fetch_all(db)
        .await
        .unwrap();
    assert_eq!(slugs(&found), ["a1", "a3"]);
    // Empty: nobody's favorites.
    let none = Article::query()
        .filter(
            Article::ID.in_subquery(
                Favorite::query()
                    .filter(Favorite::USER_ID.eq(uuid::Uuid::nil()))
                    .subquery(Favorite::ARTICLE_ID),
            ),
        )
        .count(db)
        .await
        .unwrap();
    assert_eq!(none, 0);
    // Users with an article tagged sql, two levels of subquery, parameters in order.
    let writers = User::query()
        .filter(User::EMAIL.like("%@example.com"))
        .filter(
            User::ID.in_subquery(
                Article::query()
                    .having_child(
                        ArticleTag::ARTICLE_ID_FK,
                        parent_matches(ArticleTag::TAG_ID_FK, Tag::NAME.eq("sql")),
                    )
                    .subquery(Article::AUTHOR_ID),
            ),
        )
        .fetch_all(db)
        .await
        .unwrap();
    assert_eq!(writers, std::slice::from_ref(&b.ada));
}

#[tokio::test]
async fn violations_match_the_structs_constraint_constants_and_name_their_columns() {
    let b = blog().await;
    let db = &b.db;
    // A unique: the server names no column; the struct does.
    let err = Article::insert(
        db,
        NewArticle {
            slug: "a1".into(),
            author_id: b.ada.id,
            title: "again".into(),
        },
    )
    .await
    .unwrap_err();
    assert!(err.violates(Article::SLUG_KEY), "{err}");
    assert!(!err.violates(Article::PKEY));
    assert!(!err.violates(Tag::NAME_KEY), "another table's constraint");
    let v = err.as_constraint().unwrap();
    assert_eq!(v.columns, ["slug"]);
    assert_eq!(Article::SLUG_KEY.columns(), ["slug"]);
    // A foreign key, matched by its join constant.
    let err = Favorite::insert(
        db,
        NewFavorite {
            article_id: uuid::Uuid::nil(),
            user_id: b.ada.id,
        },
    )
    .await
    .unwrap_err();
    assert!(err.violates(Favorite::ARTICLE_ID_FK), "{err}");
    assert!(!err.violates(Favorite::USER_ID_FK));
    assert_eq!(err.as_constraint().unwrap().columns, ["article_id"]);
    // A composite primary key.
    let err = Follow::insert(
        db,
        NewFollow {
            follower_id: b.ada.id,
            followee_id: b.bob.id,
        },
    )
    .await
    .unwrap_err();
    assert!(err.violates(Follow::PKEY), "{err}");
    assert_eq!(
        err.as_constraint().unwrap().columns,
        ["follower_id", "followee_id"]
    );
    // A table-level check: its columns are the ones its condition names.
    let err = Tag::insert(
        db,
        NewTag {
            name: "x".repeat(30),
        },
    )
    .await
    .unwrap_err();
    assert!(err.violates(Tag::NAME_SHORT), "{err}");
    assert_eq!(err.as_constraint().unwrap().columns, ["name"]);
    // Hand-written SQL: the columns come from the server's detail.
    let err = db
        .execute("INSERT INTO blog.tags (name) VALUES ('rust')", &[])
        .await
        .unwrap_err();
    assert!(err.violates(Tag::NAME_KEY), "{err}");
    assert_eq!(err.as_constraint().unwrap().columns, ["name"]);
}

/// A label: unique name among live labels (a partial unique: soft delete).
#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "blog", name = "labels")]
pub struct Label {
    pub id: i64,
    #[table(unique)]
    pub name: String,
    pub color: String,
    pub hits: i32,
    pub aliases: Option<Vec<String>>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The same table without the array column: its bulk writes go as one UNNEST statement.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "blog", name = "labels")]
pub struct LabelRow {
    pub id: i64,
    #[table(unique)]
    pub name: String,
    pub color: String,
    pub hits: i32,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn label_rows(range: std::ops::Range<usize>, color: &str) -> Vec<NewLabelRow> {
    range
        .map(|i| NewLabelRow {
            name: format!("label-{i}"),
            color: color.into(),
            hits: i as i32,
        })
        .collect()
}

#[tokio::test]
async fn bulk_insert_or_ignore_and_bulk_upsert_in_one_statement() {
    let db = common::empty_db().await;
    db.batch_execute("CREATE SCHEMA blog").await.unwrap();
    db.batch_execute(&Label::create_table_sql()).await.unwrap();
    // Empty input: nothing sent.
    assert_eq!(
        LabelRow::bulk_insert(vec![])
            .on_conflict_do_nothing()
            .execute(&db)
            .await
            .unwrap(),
        0
    );
    LabelRow::insert_many(&db, label_rows(0..500, "red"))
        .await
        .unwrap();
    // 1,000 rows, half of them conflicting: 500 written, counted.
    let added = LabelRow::bulk_insert(label_rows(250..1250, "blue"))
        .on_conflict_do_nothing()
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(added, 750, "250..500 conflict, 500..1250 are new");
    assert_eq!(LabelRow::query().count(&db).await.unwrap(), 1250);
    // The returning form gives only the new rows; the existing keep their color.
    let new = LabelRow::bulk_insert(label_rows(1200..1300, "green"))
        .on_conflict(LabelRow::NAME_KEY)
        .do_nothing()
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(new.len(), 50);
    assert!(new.iter().all(|l| l.color == "green" && l.hits >= 1250));
    // Bulk upsert of the chosen column: every row back, colors changed, hits kept.
    let before = LabelRow::query()
        .filter(LabelRow::NAME.eq("label-10"))
        .fetch_one(&db)
        .await
        .unwrap();
    let rows = || {
        let mut rows = label_rows(0..20, "black");
        for r in &mut rows {
            r.hits = -1;
        }
        rows
    };
    let sql = LabelRow::bulk_insert(rows())
        .on_conflict(LabelRow::NAME_KEY)
        .do_update(LabelRow::COLOR)
        .to_sql()
        .unwrap();
    assert!(
        sql.contains(r#"FROM UNNEST("#)
            && sql.contains(r#"ON CONFLICT ("name") WHERE "deleted_at" IS NULL DO UPDATE SET "color" = EXCLUDED."color", "updated_at" = now() RETURNING"#),
        "{sql}"
    );
    let upserted = LabelRow::bulk_insert(rows())
        .on_conflict(LabelRow::NAME_KEY)
        .do_update(LabelRow::COLOR)
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(upserted.len(), 20);
    let after = upserted.iter().find(|l| l.name == "label-10").unwrap();
    assert_eq!(
        (after.id, after.color.as_str(), after.hits),
        (before.id, "black", 10)
    );
    assert!(after.updated_at > before.updated_at);
    // Every inserted column but the key.
    let all = LabelRow::bulk_insert(label_rows(0..3, "white"))
        .on_conflict(LabelRow::NAME_KEY)
        .do_update_all()
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(all, 3);
    // A soft-deleted row's name is free again: the unique is over live rows.
    LabelRow::delete(&db, before.id).await.unwrap();
    let again = LabelRow::bulk_insert(label_rows(10..11, "pink"))
        .on_conflict(LabelRow::NAME_KEY)
        .do_update(LabelRow::COLOR)
        .fetch_all(&db)
        .await
        .unwrap();
    assert_ne!(again[0].id, before.id);
    // Two rows of one batch with one key: the server's error, nothing written.
    let err = LabelRow::bulk_insert(
        label_rows(5..6, "a")
            .into_iter()
            .chain(label_rows(5..6, "b"))
            .collect(),
    )
    .on_conflict(LabelRow::NAME_KEY)
    .do_update(LabelRow::COLOR)
    .execute(&db)
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("cannot affect row a second time"),
        "{err}"
    );
    // By the primary key.
    let by_key = LabelRow::bulk_insert(label_rows(2000..2001, "x"))
        .on_conflict(LabelRow::PKEY)
        .do_nothing()
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(by_key, 1);
    // A table with an array column goes by multi-row VALUES; same outcome.
    let with_arrays: Vec<NewLabel> = (0..3)
        .map(|i| NewLabel {
            name: format!("label-{i}"),
            color: "teal".into(),
            hits: 0,
            aliases: Some(vec![format!("l{i}")]),
        })
        .collect();
    let written = Label::bulk_insert(with_arrays)
        .on_conflict(Label::NAME_KEY)
        .do_update((Label::COLOR, Label::ALIASES))
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(written.len(), 3);
    assert!(written
        .iter()
        .all(|l| l.color == "teal" && l.aliases.as_ref().is_some_and(|a| a.len() == 1)));
}

async fn with_comments(b: &Blog) {
    // bob on a1 twice, cy on a1, ada on b1, bob on a2 (then deleted).
    for (who, slug, body) in [
        (&b.bob, "a1", "first"),
        (&b.bob, "a1", "second"),
        (&b.cy, "a1", "third"),
        (&b.ada, "b1", "fourth"),
        (&b.bob, "a2", "gone"),
    ] {
        Comment::insert(
            &b.db,
            NewComment {
                article_id: b.article(slug).id,
                author_id: who.id,
                body: body.into(),
            },
        )
        .await
        .unwrap();
    }
    Comment::query()
        .filter(Comment::BODY.eq("gone"))
        .delete(&b.db)
        .await
        .unwrap();
}

#[tokio::test]
async fn joins_both_ways_and_three_deep_with_every_terminal() {
    let b = blog().await;
    with_comments(&b).await;
    let db = &b.db;
    // Parent to children: each live article of each user; users without one are left out.
    let rows = User::query()
        .join_children(Article::AUTHOR_ID_FK)
        .order_by(User::EMAIL.asc())
        .order_by_joined(Article::SLUG.asc())
        .fetch_all(db)
        .await
        .unwrap();
    let pairs: Vec<(&str, &str)> = rows
        .iter()
        .map(|(u, a)| (u.email.as_str(), a.slug.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("ada@example.com", "a1"),
            ("ada@example.com", "a2"),
            ("bob@example.com", "b1")
        ]
    );
    // Left: cy has none (None); the deleted a3 shows only when asked.
    let rows = User::query()
        .left_join_children(Article::AUTHOR_ID_FK)
        .order_by(User::EMAIL.asc())
        .fetch_all(db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().any(|(u, a)| u.id == b.cy.id && a.is_none()));
    let with_deleted = User::query()
        .left_join_children(Article::AUTHOR_ID_FK)
        .with_deleted_joined()
        .filter_joined(Article::SLUG.eq("a3"))
        .fetch_all(db)
        .await
        .unwrap();
    assert_eq!(with_deleted.len(), 1);
    assert_eq!(with_deleted[0].1.as_ref().unwrap().slug, "a3");

    // Three deep: a comment, its article and the article's author; filters and order on each.
    let rows: Vec<(Comment, Article, User)> = Comment::query()
        .join(Comment::ARTICLE_ID_FK)
        .then_join(Article::AUTHOR_ID_FK)
        .filter(Comment::AUTHOR_ID.eq(b.bob.id))
        .filter_parent(Article::SLUG.like("a%"))
        .filter_third(User::EMAIL.eq("ada@example.com"))
        .order_by_third(User::EMAIL.asc())
        .order_by_joined(Article::SLUG.asc())
        .order_by(Comment::ID.desc())
        .fetch_all(db)
        .await
        .unwrap();
    let got: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|(c, a, u)| (c.body.as_str(), a.slug.as_str(), u.email.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("second", "a1", "ada@example.com"),
            ("first", "a1", "ada@example.com")
        ]
    );
    // Users with their articles and each article's comments (children of children).
    let tree: Vec<(User, Article, Option<Comment>)> = User::query()
        .join_children(Article::AUTHOR_ID_FK)
        .then_left_join_children(Comment::ARTICLE_ID_FK)
        .filter(User::ID.eq(b.ada.id))
        .fetch_all(db)
        .await
        .unwrap();
    // a1 has three comments, a2 none live.
    assert_eq!(tree.len(), 4);
    assert_eq!(
        tree.iter()
            .filter(|(_, a, c)| a.slug == "a2" && c.is_none())
            .count(),
        1
    );

    // Every terminal of a single-table query, on joins.
    let one = Article::query()
        .filter(Article::SLUG.eq("a1"))
        .join(Article::AUTHOR_ID_FK)
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!((one.0.slug.as_str(), one.1.id), ("a1", b.ada.id));
    let none = Article::query()
        .filter(Article::SLUG.eq("nope"))
        .join(Article::AUTHOR_ID_FK)
        .fetch_optional(db)
        .await
        .unwrap();
    assert!(none.is_none());
    let missing = Article::query()
        .filter(Article::SLUG.eq("nope"))
        .join(Article::AUTHOR_ID_FK)
        .fetch_one(db)
        .await
        .unwrap_err();
    assert_eq!(missing.code(), "not_found");
    let join = Comment::query()
        .join(Comment::ARTICLE_ID_FK)
        .then_join(Article::AUTHOR_ID_FK);
    assert_eq!(join.count(db).await.unwrap(), 4);
    assert!(join.exists(db).await.unwrap());
    assert!(!join
        .clone()
        .filter_third(User::EMAIL.eq("nobody"))
        .exists(db)
        .await
        .unwrap());
    assert_eq!(join.clone().limit(2).count(db).await.unwrap(), 2);
    use futures_util::TryStreamExt;
    let streamed: Vec<(Comment, Article, User)> =
        join.stream(db).await.unwrap().try_collect().await.unwrap();
    assert_eq!(streamed.len(), 4);

    // Pages by keyset over the joined ordering: (article slug, comment id).
    let paged = Comment::query()
        .join(Comment::ARTICLE_ID_FK)
        .order_by_parent(Article::SLUG.asc());
    let first = paged.page(db, 3, None).await.unwrap();
    assert_eq!(first.rows.len(), 3);
    let cursor: skelly_db::query::Cursor = first.next.clone().unwrap().to_string().parse().unwrap();
    // A comment added on a1 before the next page neither repeats nor shifts it.
    Comment::insert(
        db,
        NewComment {
            article_id: b.article("a1").id,
            author_id: b.cy.id,
            body: "late".into(),
        },
    )
    .await
    .unwrap();
    let second = paged.page(db, 3, Some(&cursor)).await.unwrap();
    let bodies: Vec<&str> = first
        .rows
        .iter()
        .chain(&second.rows)
        .map(|(c, _)| c.body.as_str())
        .collect();
    assert_eq!(bodies, ["first", "second", "third", "late", "fourth"]);
    assert!(second.next.is_none());
    // A cursor of another query is refused.
    let err = User::query()
        .join_children(Article::AUTHOR_ID_FK)
        .page(db, 3, Some(&cursor))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_cursor");
    // Pages of a join to children break ties by both keys.
    let users_articles = User::query().join_children(Article::AUTHOR_ID_FK);
    let p1 = users_articles.page(db, 2, None).await.unwrap();
    let p2 = users_articles.page(db, 2, p1.next.as_ref()).await.unwrap();
    let mut slugs: Vec<&str> = p1
        .rows
        .iter()
        .chain(&p2.rows)
        .map(|(_, a)| a.slug.as_str())
        .collect();
    slugs.sort();
    assert_eq!(slugs, ["a1", "a2", "b1"]);

    // A soft-deleted parent in a left join is None; in an inner join the child is left out.
    User::delete(db, b.cy.id).await.unwrap();
    let by_author: Vec<(Comment, Option<User>)> = Comment::query()
        .left_join(Comment::AUTHOR_ID_FK)
        .order_by(Comment::ID.asc())
        .fetch_all(db)
        .await
        .unwrap();
    let third = by_author.iter().find(|(c, _)| c.body == "third").unwrap();
    assert!(third.1.is_none());
    let inner = Comment::query()
        .join(Comment::AUTHOR_ID_FK)
        .count(db)
        .await
        .unwrap();
    assert_eq!(inner, 3);
}

#[tokio::test]
async fn grouped_aggregates_on_a_table_and_over_a_join() {
    use skelly_db::query::{avg, count, count_distinct, max, min, sum};
    let b = blog().await;
    let db = &b.db;
    // Live articles per author, most first; the deleted a3 does not count.
    let per_author = Article::query()
        .group_by(Article::AUTHOR_ID)
        .aggregate((count(), min(Article::SLUG)))
        .order_by(count().desc())
        .fetch_all(db)
        .await
        .unwrap();
    assert_eq!(
        per_author,
        [
            (b.ada.id, (2, Some("a1".to_string()))),
            (b.bob.id, (1, Some("b1".to_string())))
        ]
    );
    let prolific = Article::query()
        .group_by(Article::AUTHOR_ID)
        .aggregate(count())
        .having(count().gt(1))
        .fetch_all(db)
        .await
        .unwrap();
    assert_eq!(prolific, [(b.ada.id, 2)]);
    // Tags by the number of live articles, most used first, top 20: over a join.
    let popular = || {
        Tag::query()
            .join_children(ArticleTag::TAG_ID_FK)
            .then_join(ArticleTag::ARTICLE_ID_FK)
            .group_by(Tag::NAME)
            .aggregate(count())
            .order_by(count().desc())
            .order_by(Tag::NAME.asc())
            .limit(20)
    };
    let sql = popular().to_sql();
    assert!(
        sql.contains(r#"GROUP BY "c"."name" ORDER BY count(*) DESC, "c"."name" ASC LIMIT $1"#),
        "{sql}"
    );
    assert_eq!(
        popular().fetch_all(db).await.unwrap(),
        [("rust".to_string(), 2), ("sql".to_string(), 1)]
    );
    Article::delete(db, b.article("a1").id).await.unwrap();
    assert_eq!(
        popular().fetch_all(db).await.unwrap(),
        [("rust".to_string(), 1), ("sql".to_string(), 1)]
    );
    // One row over everything; empty groups.
    let (n, newest) = Article::query()
        .aggregate_one(db, (count(), max(Article::CREATED_AT)))
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert!(newest.is_some());
    let none = Article::query()
        .filter(Article::SLUG.eq("nope"))
        .group_by(Article::AUTHOR_ID)
        .aggregate(count())
        .fetch_all(db)
        .await
        .unwrap();
    assert!(none.is_empty());

    // Types as PostgreSQL returns them: sum(integer) is bigint, avg(integer) numeric.
    db.batch_execute(&Label::create_table_sql()).await.unwrap();
    LabelRow::insert_many(db, label_rows(0..4, "red"))
        .await
        .unwrap();
    LabelRow::insert_many(db, label_rows(4..6, "blue"))
        .await
        .unwrap();
    type PerColor = (
        String,
        (Option<i64>, Option<rust_decimal::Decimal>, i64, Option<i32>),
    );
    let per_color: Vec<PerColor> = LabelRow::query()
        .group_by(LabelRow::COLOR)
        .aggregate((
            sum(LabelRow::HITS),
            avg(LabelRow::HITS),
            count_distinct(LabelRow::NAME),
            max(LabelRow::HITS),
        ))
        .having(sum(LabelRow::HITS).ge(6_i64))
        .order_by(LabelRow::COLOR.asc())
        .fetch_all(db)
        .await
        .unwrap();
    assert_eq!(
        per_color,
        [
            (
                "blue".to_string(),
                (Some(9), Some(rust_decimal::Decimal::new(45, 1)), 2, Some(5))
            ),
            (
                "red".to_string(),
                (Some(6), Some(rust_decimal::Decimal::new(15, 1)), 4, Some(3))
            ),
        ]
    );
}
