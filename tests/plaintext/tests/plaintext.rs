//! The pool, CRUD and the query builder work without skelly-db's default features (no TLS, no
//! tracing): the connection is plaintext.

use skelly_db::testing::TestDb;
use skelly_db::Executor;
use skelly_db::Table;
use skelly_db_plaintext_test::{NewNote, Note};

#[tokio::test]
async fn a_plaintext_pool_reads_and_writes() {
    let db = TestDb::new().await.unwrap();
    db.batch_execute(&Note::create_table_sql()).await.unwrap();
    let note = Note::insert(
        &db,
        NewNote {
            body: "hello".into(),
        },
    )
    .await
    .unwrap();
    let found = Note::query()
        .filter(Note::BODY.eq("hello"))
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(found, note);
    let ssl: bool = db
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    // Built alone (as `.ci/run` does, which sets this), skelly-db has no TLS: the connection is
    // plaintext even where the server offers TLS. In the workspace build the others turn TLS on.
    if std::env::var_os("SKELLY_EXPECT_PLAINTEXT").is_some() {
        assert!(!ssl, "a plaintext connection");
    }
}
