//! The derives in a crate that names the runtime `skelly_renamed`, compiled under the lints a
//! strict user turns on.
#![deny(
    warnings,
    unused_qualifications,
    unused_results,
    missing_debug_implementations
)]

use skelly_renamed::testing::TestDb;
use skelly_renamed::{Executor, Table, TextEnum};

#[derive(TextEnum, Debug, Clone, Copy, PartialEq, Eq)]
#[text_enum(crate = "skelly_renamed")]
pub enum Mood {
    Happy,
    Sad,
}

#[derive(Table, Debug, Clone, PartialEq)]
#[table(crate = "skelly_renamed", schema = "renamed")]
pub struct Note {
    pub id: uuid::Uuid,
    pub body: String,
    pub mood: Mood,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[tokio::test]
async fn derives_work_under_a_renamed_dependency() {
    let db = TestDb::new().await.unwrap();
    let pool = db.pool();
    pool.batch_execute(&Note::create_table_sql()).await.unwrap();
    let note = Note::insert(
        pool,
        NewNote {
            body: "hello".into(),
            mood: Mood::Happy,
        },
    )
    .await
    .unwrap();
    assert_eq!(Note::get(pool, note.id).await.unwrap(), note);
    let happy = Note::query()
        .filter(Note::MOOD.eq(Mood::Happy))
        .count(pool)
        .await
        .unwrap();
    assert_eq!(happy, 1);
    assert_eq!(Note::NAME, "notes");
}
