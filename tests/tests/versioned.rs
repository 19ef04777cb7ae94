//! Optimistic locking: `#[table(version)]`.

mod common;

use skelly_db::{Error, Executor, Table};

#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "docs", name = "docs")]
pub struct Doc {
    pub id: uuid::Uuid,
    pub title: String,
    pub body: Option<String>,
    #[table(version)]
    pub version: i32,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

async fn docs_db() -> skelly_db::testing::TestDb {
    let db = common::empty_db().await;
    let ddl = Doc::create_table_sql();
    assert!(
        ddl.contains("\"version\" integer NOT NULL DEFAULT 1"),
        "{ddl}"
    );
    db.pool().batch_execute(&ddl).await.unwrap();
    db
}

fn retitle(title: &str) -> DocPatch {
    DocPatch {
        title: Some(title.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_update_checks_and_increments_the_version() {
    let db = docs_db().await;
    let pool = db.pool();
    let doc = Doc::insert(
        pool,
        NewDoc {
            title: "a".into(),
            body: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(doc.version, 1);
    let doc = Doc::update(pool, doc.id, 1, retitle("b")).await.unwrap();
    assert_eq!((doc.title.as_str(), doc.version), ("b", 2));

    // Whoever still holds version 1 is stale.
    let err = Doc::update(pool, doc.id, 1, retitle("c"))
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.status()), ("stale_version", 409));
    let text = err.to_string();
    assert!(text.contains("\"docs\".\"docs\""), "{text}");
    assert!(text.contains(&doc.id.to_string()), "{text}");
    assert!(text.contains("is at version 2, not 1"), "{text}");
    assert!(matches!(err, Error::StaleVersion { found: 2, .. }));
    assert_eq!(Doc::get(pool, doc.id).await.unwrap().title, "b");

    // The count-only form checks too.
    assert!(Doc::patch(pool, doc.id, 2, retitle("d")).await.unwrap());
    let err = Doc::patch(pool, doc.id, 2, retitle("e")).await.unwrap_err();
    assert_eq!(err.code(), "stale_version");
    // A missing row is not found, not stale.
    let err = Doc::update(pool, uuid::Uuid::new_v4(), 1, retitle("x"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_found");
    assert!(!Doc::patch(pool, uuid::Uuid::new_v4(), 1, retitle("x"))
        .await
        .unwrap());
    // Bulk updates move the version on as well, so holders of the old one are stale.
    Doc::query().update(pool, &retitle("bulk")).await.unwrap();
    assert_eq!(Doc::get(pool, doc.id).await.unwrap().version, 4);
}

#[tokio::test]
async fn of_two_concurrent_updates_that_read_the_same_version_exactly_one_wins() {
    let db = docs_db().await;
    let pool = db.pool();
    for round in 0..20 {
        let doc = Doc::insert(
            pool,
            NewDoc {
                title: format!("r{round}"),
                body: None,
            },
        )
        .await
        .unwrap();
        let read = Doc::get(pool, doc.id).await.unwrap();
        let (a, b) = tokio::join!(
            Doc::update(pool, read.id, read.version, retitle("from a")),
            Doc::update(pool, read.id, read.version, retitle("from b")),
        );
        let outcomes = [a.is_ok(), b.is_ok()];
        assert_eq!(
            outcomes.iter().filter(|ok| **ok).count(),
            1,
            "round {round}: {outcomes:?}"
        );
        let loser = if a.is_ok() { b } else { a };
        assert_eq!(loser.unwrap_err().code(), "stale_version");
        let now = Doc::get(pool, doc.id).await.unwrap();
        assert_eq!(now.version, read.version + 1);
    }
}
