//! A small bookmarks service on skelly-db, used from the outside the way an application uses
//! the library: tables with several key kinds (a uuid key, an identity key, a natural text key,
//! composite keys of foreign keys), relations, pages by cursor, soft delete, a transaction with
//! retry and a domain error, embedded migrations and the schema check at start-up, axum
//! handlers, and `MockDb` unit tests of its services.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use skelly_db::pool::TxOptions;
use skelly_db::query::{count, has_child, Cursor, Page};
use skelly_db::schema::TableShape;
use skelly_db::{Executor, Pool, Table};
use uuid::Uuid;

/// A user; soft-deleted users keep their bookmarks out of every list.
#[derive(Table, Debug, Clone, PartialEq, Serialize)]
#[table(schema = "app", name = "users")]
pub struct User {
    pub id: Uuid,
    #[table(unique)]
    pub handle: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Who follows whom: a composite key of two foreign keys to users.
#[derive(Table, Debug, Clone, PartialEq, Serialize)]
#[table(schema = "app", name = "follows")]
pub struct Follow {
    #[table(primary_key, references = "app.users")]
    pub follower_id: Uuid,
    #[table(primary_key, references = "app.users")]
    pub followee_id: Uuid,
}

/// A bookmark: an identity key; soft delete.
#[derive(Table, Debug, Clone, PartialEq, Serialize)]
#[table(schema = "app", name = "bookmarks")]
pub struct Bookmark {
    pub id: i64,
    #[table(references = "app.users")]
    pub owner_id: Uuid,
    pub url: String,
    pub title: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A tag: a natural key, its name.
#[derive(Table, Debug, Clone, PartialEq, Serialize)]
#[table(schema = "app", name = "tags")]
pub struct Tag {
    #[table(primary_key)]
    pub name: String,
}

/// A bookmark's tag: a composite key of a bigint and a text foreign key.
#[derive(Table, Debug, Clone, PartialEq, Serialize)]
#[table(schema = "app", name = "bookmark_tags")]
pub struct BookmarkTag {
    #[table(primary_key, references = "app.bookmarks", on_delete = "cascade")]
    pub bookmark_id: i64,
    #[table(primary_key, references = "app.tags")]
    pub tag_name: String,
}

/// Every table of the service, as the schema check compares them.
pub fn tables() -> Vec<TableShape> {
    vec![
        TableShape::of::<User>(),
        TableShape::of::<Follow>(),
        TableShape::of::<Bookmark>(),
        TableShape::of::<Tag>(),
        TableShape::of::<BookmarkTag>(),
    ]
}

/// The migrations, in the binary.
pub fn migrator() -> skelly_db::migrate::Migrator {
    skelly_db::embed_migrations!("migrations")
}

/// Start-up: apply the migrations, then refuse to serve when the structs and the database
/// disagree.
pub async fn prepare(pool: &Pool) -> Result<(), String> {
    migrator().up(pool).await.map_err(|e| e.to_string())?;
    let report = skelly_db::schema::check(pool, &tables())
        .await
        .map_err(|e| e.to_string())?;
    if !report.is_ok() {
        return Err(format!("the schema differs from the structs:\n{report}"));
    }
    Ok(())
}

/// What the services answer besides the database's own errors.
#[derive(Debug)]
pub enum AppError {
    /// A handle taken by a live user.
    Taken,
    /// Bad input, with what was wrong.
    Invalid(String),
    /// No such thing (of this user).
    NotFound,
    /// The database.
    Db(skelly_db::Error),
}

impl From<skelly_db::Error> for AppError {
    fn from(e: skelly_db::Error) -> Self {
        if e.violates(User::HANDLE_KEY) {
            return AppError::Taken;
        }
        match e {
            skelly_db::Error::NotFound { .. } => AppError::NotFound,
            other => AppError::Db(other),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            AppError::Taken => (StatusCode::CONFLICT, "this handle is taken".to_string()),
            AppError::Invalid(what) => (StatusCode::UNPROCESSABLE_ENTITY, what),
            AppError::NotFound => (StatusCode::NOT_FOUND, "not found".to_string()),
            // The library's own problem document: no SQL or values.
            AppError::Db(e) => return e.into_response(),
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

// ---------------------------------------------------------------------------------------------
// The services: plain functions on `&impl Executor` (or the pool, for a transaction), which the
// handlers call and the unit tests call on a MockDb.

/// Signs a user up.
pub async fn create_user(db: &impl Executor, handle: &str) -> Result<User, AppError> {
    let handle = handle.trim();
    if handle.is_empty() || handle.len() > 30 {
        return Err(AppError::Invalid("a handle has 1 to 30 characters".into()));
    }
    Ok(User::insert(
        db,
        NewUser {
            handle: handle.to_string(),
        },
    )
    .await?)
}

/// `follower` follows `followee` (again: nothing changes).
pub async fn follow(db: &impl Executor, follower: Uuid, followee: Uuid) -> Result<(), AppError> {
    if follower == followee {
        return Err(AppError::Invalid("one does not follow oneself".into()));
    }
    Follow::insert_or_ignore(
        db,
        NewFollow {
            follower_id: follower,
            followee_id: followee,
        },
    )
    .await?;
    Ok(())
}

/// A new bookmark with its tags, in one transaction (retried on serialization failures): the
/// tags are created when new, the links written in one statement; a bookmark with more than
/// five tags is refused and nothing is written.
pub async fn add_bookmark(
    pool: &Pool,
    owner: Uuid,
    url: String,
    title: String,
    tags: Vec<String>,
) -> Result<Bookmark, AppError> {
    pool.transaction(TxOptions::serializable(), |tx| {
        let (url, title, tags) = (url.clone(), title.clone(), tags.clone());
        Box::pin(async move {
            let bookmark = Bookmark::insert(
                tx,
                NewBookmark {
                    owner_id: owner,
                    url,
                    title,
                },
            )
            .await?;
            if tags.len() > 5 {
                // Rolls back the insert above.
                return Err(AppError::Invalid("at most five tags".into()));
            }
            if !tags.is_empty() {
                Tag::bulk_insert(tags.iter().map(|t| NewTag { name: t.clone() }).collect())
                    .on_conflict_do_nothing()
                    .execute(tx)
                    .await?;
                BookmarkTag::bulk_insert(
                    tags.iter()
                        .map(|t| NewBookmarkTag {
                            bookmark_id: bookmark.id,
                            tag_name: t.clone(),
                        })
                        .collect(),
                )
                .on_conflict_do_nothing()
                .execute(tx)
                .await?;
            }
            Ok(bookmark)
        })
    })
    .await
}

/// The bookmarks with a tag, newest first, a page at a time.
pub async fn by_tag(
    db: &impl Executor,
    tag: &str,
    after: Option<&Cursor>,
) -> Result<Page<Bookmark>, AppError> {
    Ok(Bookmark::query()
        .having_child(BookmarkTag::BOOKMARK_ID_FK, BookmarkTag::TAG_NAME.eq(tag))
        .order_by(Bookmark::CREATED_AT.desc())
        .page(db, 20, after)
        .await?)
}

/// The feed: bookmarks of the users `me` follows, with their owner, newest first.
pub async fn feed(
    db: &impl Executor,
    me: Uuid,
    after: Option<&Cursor>,
) -> Result<Page<(Bookmark, User)>, AppError> {
    Ok(Bookmark::query()
        .join(Bookmark::OWNER_ID_FK)
        .filter_parent(has_child(
            Follow::FOLLOWEE_ID_FK,
            Follow::FOLLOWER_ID.eq(me),
        ))
        .order_by(Bookmark::CREATED_AT.desc())
        .page(db, 20, after)
        .await?)
}

/// Deletes (softly) one of `owner`'s bookmarks.
pub async fn remove_bookmark(db: &impl Executor, owner: Uuid, id: i64) -> Result<(), AppError> {
    let n = Bookmark::query()
        .filter(Bookmark::ID.eq(id).and(Bookmark::OWNER_ID.eq(owner)))
        .delete(db)
        .await?;
    match n {
        0 => Err(AppError::NotFound),
        _ => Ok(()),
    }
}

/// The most used tags among live bookmarks.
pub async fn popular_tags(db: &impl Executor) -> Result<Vec<(String, i64)>, AppError> {
    Ok(Tag::query()
        .join_children(BookmarkTag::TAG_NAME_FK)
        .then_join(BookmarkTag::BOOKMARK_ID_FK)
        .group_by(Tag::NAME)
        .aggregate(count())
        .order_by(count().desc())
        .order_by(Tag::NAME.asc())
        .limit(10)
        .fetch_all(db)
        .await?)
}

// ---------------------------------------------------------------------------------------------
// HTTP.

#[derive(Deserialize)]
struct NewUserBody {
    handle: String,
}

#[derive(Deserialize)]
struct NewBookmarkBody {
    url: String,
    title: String,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize)]
struct PageParams {
    after: Option<Cursor>,
}

fn id(text: &str) -> Result<Uuid, AppError> {
    text.parse().map_err(|_| AppError::NotFound)
}

async fn http_create_user(
    State(pool): State<Pool>,
    Json(body): Json<NewUserBody>,
) -> Result<(StatusCode, Json<User>), AppError> {
    Ok((
        StatusCode::CREATED,
        Json(create_user(&pool, &body.handle).await?),
    ))
}

async fn http_follow(
    State(pool): State<Pool>,
    Path((me, other)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    follow(&pool, id(&me)?, id(&other)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn http_add_bookmark(
    State(pool): State<Pool>,
    Path(me): Path<String>,
    Json(body): Json<NewBookmarkBody>,
) -> Result<(StatusCode, Json<Bookmark>), AppError> {
    let bookmark = add_bookmark(&pool, id(&me)?, body.url, body.title, body.tags).await?;
    Ok((StatusCode::CREATED, Json(bookmark)))
}

async fn http_by_tag(
    State(pool): State<Pool>,
    Path(tag): Path<String>,
    Query(params): Query<PageParams>,
) -> Result<Json<serde_json::Value>, AppError> {
    let page = by_tag(&pool, &tag, params.after.as_ref()).await?;
    Ok(Json(
        serde_json::json!({ "bookmarks": page.rows, "next": page.next }),
    ))
}

async fn http_feed(
    State(pool): State<Pool>,
    Path(me): Path<String>,
    Query(params): Query<PageParams>,
) -> Result<Json<serde_json::Value>, AppError> {
    let page = feed(&pool, id(&me)?, params.after.as_ref()).await?;
    let items: Vec<serde_json::Value> = page
        .rows
        .into_iter()
        .map(|(b, owner)| serde_json::json!({ "bookmark": b, "owner": owner.handle }))
        .collect();
    Ok(Json(
        serde_json::json!({ "items": items, "next": page.next }),
    ))
}

async fn http_remove(
    State(pool): State<Pool>,
    Path((me, bookmark)): Path<(String, i64)>,
) -> Result<StatusCode, AppError> {
    remove_bookmark(&pool, id(&me)?, bookmark).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn http_popular(State(pool): State<Pool>) -> Result<Json<Vec<(String, i64)>>, AppError> {
    Ok(Json(popular_tags(&pool).await?))
}

/// The service's routes, with the pool as their state.
pub fn app(pool: Pool) -> Router {
    Router::new()
        .route("/users", post(http_create_user))
        .route("/users/{me}/follows/{other}", post(http_follow))
        .route("/users/{me}/bookmarks", post(http_add_bookmark))
        .route("/users/{me}/bookmarks/{id}", delete(http_remove))
        .route("/users/{me}/feed", get(http_feed))
        .route("/tags/popular", get(http_popular))
        .route("/tags/{tag}/bookmarks", get(http_by_tag))
        .with_state(pool)
}

#[cfg(test)]
mod tests {
    //! The services on a `MockDb`: no database, the statements they send asserted.

    use skelly_db::testing::{MockDb, Op};

    use super::*;

    fn user(handle: &str) -> User {
        User {
            id: Uuid::new_v4(),
            handle: handle.into(),
            created_at: chrono::Utc::now(),
            deleted_at: None,
        }
    }

    #[tokio::test]
    async fn a_taken_handle_is_a_conflict_and_a_bad_one_never_reaches_the_database() {
        let db = MockDb::new();
        db.expect::<User>(Op::Insert).returns([user("ada")]);
        db.expect::<User>(Op::Insert)
            .fails(MockDb::violation::<User>(
                skelly_db::ConstraintKind::Unique,
                "users_handle_key",
            ));
        assert_eq!(create_user(&db, " ada ").await.unwrap().handle, "ada");
        assert!(matches!(
            create_user(&db, "ada").await,
            Err(AppError::Taken)
        ));
        assert!(matches!(
            create_user(&db, "  ").await,
            Err(AppError::Invalid(_))
        ));
        assert_eq!(db.calls().len(), 2);
        assert_eq!(db.calls()[0].params, ["\"ada\""]);
        db.assert_all_used();
    }

    #[tokio::test]
    async fn the_feed_and_the_tag_list_are_one_statement_each() {
        let db = MockDb::new();
        let ada = user("ada");
        let bookmark = Bookmark {
            id: 1,
            owner_id: ada.id,
            url: "https://example.com".into(),
            title: "Example".into(),
            created_at: chrono::Utc::now(),
            deleted_at: None,
        };
        db.expect::<Bookmark>(Op::Join)
            .returns_rows([(bookmark.clone(), ada.clone())]);
        let page = feed(&db, Uuid::nil(), None).await.unwrap();
        assert_eq!(page.rows, [(bookmark.clone(), ada.clone())]);
        let sql = &db.calls()[0].sql;
        assert!(
            sql.contains("EXISTS (SELECT 1 FROM \"app\".\"follows\""),
            "{sql}"
        );

        db.expect::<Bookmark>(Op::Select)
            .returns([bookmark.clone()]);
        let page = by_tag(&db, "rust", None).await.unwrap();
        assert_eq!(page.rows, [bookmark]);
        assert_eq!(db.calls()[1].params[0], "\"rust\"");

        db.expect::<Tag>(Op::Aggregate)
            .returns_rows([("rust".to_string(), 3_i64)]);
        assert_eq!(popular_tags(&db).await.unwrap(), [("rust".to_string(), 3)]);
        db.assert_all_used();
    }

    #[tokio::test]
    async fn removing_someone_elses_bookmark_is_not_found() {
        let db = MockDb::new();
        db.expect::<Bookmark>(Op::DeleteWhere).count(0);
        assert!(matches!(
            remove_bookmark(&db, Uuid::nil(), 7).await,
            Err(AppError::NotFound)
        ));
        assert!(
            db.calls()[0].sql.contains("\"owner_id\" = $"),
            "{}",
            db.calls()[0].sql
        );
    }
}
