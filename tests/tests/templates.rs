//! Issue 24: template databases do not pile up on a shared server. One test in its own binary:
//! the cleanup needs no other test process about to clone a template.

mod common;

use skelly_db::testing::TestDb;
use skelly_db::Executor;

async fn databases(db: &TestDb, like: &str) -> Vec<String> {
    db.pool()
        .query(
            "SELECT datname::text FROM pg_database WHERE datname LIKE $1 ORDER BY oid",
            &[&like],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn building_a_new_template_drops_old_ones_and_half_built_ones() {
    let scratch = common::empty_db().await;
    // Five templates of other migration sets, oldest first, and one a crashed build left.
    let fakes: Vec<String> = (0..5).map(|i| format!("skelly_tpl_zzold{i}")).collect();
    for name in fakes
        .iter()
        .chain(["skelly_tpl_zzcrash_building".to_string()].iter())
    {
        scratch
            .pool()
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .await
            .unwrap();
        scratch
            .pool()
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
    }
    // A migration set of its own: a new template is built for it.
    let dir = std::env::temp_dir().join(format!("skelly-tpl-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("1_t.sql"),
        format!(
            "-- +migrate Up\nCREATE TABLE t (n int);\nCOMMENT ON TABLE t IS '{}';\n-- +migrate Down\nDROP TABLE t;\n",
            dir.display()
        ),
    )
    .unwrap();
    let db = TestDb::builder().migrations(&dir).build().await.unwrap();
    db.pool().batch_execute("SELECT n FROM t").await.unwrap();

    let left = databases(&scratch, "skelly\\_tpl\\_zz%").await;
    assert!(
        !left.iter().any(|n| n.ends_with("_building")),
        "a half-built template is left: {left:?}"
    );
    // At most three templates of other sets are kept, the newest; the oldest fakes are gone.
    let all_templates = databases(&scratch, "skelly\\_tpl\\_%").await;
    assert!(all_templates.len() <= 4, "{all_templates:?}");
    assert!(
        !left.contains(&fakes[0]) && !left.contains(&fakes[1]),
        "{left:?}"
    );
    for name in left {
        scratch
            .pool()
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .await
            .unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
