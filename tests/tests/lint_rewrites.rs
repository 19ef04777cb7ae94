//! Issue 24: `migrate lint`'s `column-type-rewrite` rule measured against what PostgreSQL does:
//! for each type change, the table's relfilenode before and after `ALTER COLUMN ... TYPE` says
//! whether it was rewritten, and the lint must say the same.

mod common;

use skelly_db::migrate::{lint, Migrator};
use skelly_db::Executor;

const CHANGES: &[(&str, &str)] = &[
    ("varchar(20)", "varchar(32)"),
    ("varchar(20)", "varchar"),
    ("varchar(20)", "text"),
    ("varchar", "text"),
    ("text", "varchar"),
    ("character varying(10)", "character varying(11)"),
    ("varchar(32)", "varchar(20)"),
    ("text", "varchar(20)"),
    ("numeric(10,2)", "numeric(12,2)"),
    ("numeric(10,2)", "numeric"),
    ("numeric(10,2)", "numeric(10,3)"),
    ("numeric(12,2)", "numeric(10,2)"),
    ("numeric", "numeric(10,2)"),
    ("integer", "bigint"),
    ("smallint", "integer"),
    ("bigint", "integer"),
    ("integer", "numeric"),
    ("real", "double precision"),
    ("timestamp(3)", "timestamp(6)"),
    ("timestamp(6)", "timestamp(3)"),
    ("timestamptz(3)", "timestamptz"),
    ("time(2)", "time(4)"),
    ("interval", "interval"),
    ("cidr", "inet"),
    ("inet", "cidr"),
    ("xml", "text"),
    ("varbit(8)", "varbit(16)"),
    ("varbit(16)", "varbit(8)"),
    ("char(10)", "char(20)"),
    ("char(10)", "varchar(10)"),
    ("varchar(10)", "char(10)"),
    ("uuid", "text"),
    ("boolean", "text"),
    ("date", "timestamp"),
    ("varchar(20)", "varchar(20)"),
    ("text", "text[]"),
];

#[tokio::test]
async fn the_rewrite_rule_agrees_with_the_server_on_every_type_change() {
    let db = common::empty_db().await;
    let mut disagreements = Vec::new();
    let (mut rewrites, mut in_place) = (0, 0);
    for (i, (old, new)) in CHANGES.iter().enumerate() {
        if *new == "text[]" {
            // Needs USING; the lint counts any USING as a rewrite (checked below).
            continue;
        }
        let table = format!("t{i}");
        db.batch_execute(&format!(
            "CREATE TABLE {table} (c {old}); INSERT INTO {table} VALUES (NULL)"
        ))
        .await
        .unwrap();
        let filenode = || async {
            db.query_one(
                &format!("SELECT pg_relation_filenode('{table}')::int8"),
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
        };
        let before = filenode().await;
        db.batch_execute(&format!("ALTER TABLE {table} ALTER COLUMN c TYPE {new}"))
            .await
            .unwrap_or_else(|e| panic!("{old} -> {new}: {e}"));
        let rewritten = filenode().await != before;
        if rewritten {
            rewrites += 1;
        } else {
            in_place += 1;
        }
        let migrator = Migrator::from_sources([
            (
                "1_create.sql",
                format!("-- +migrate Up\nCREATE TABLE {table} (c {old});\n-- +migrate Down\nDROP TABLE {table};\n").as_str(),
            ),
            (
                "2_alter.sql",
                format!("-- +migrate Up\nSET LOCAL lock_timeout = '5s';\nALTER TABLE {table} ALTER COLUMN c TYPE {new};\n-- +migrate Down\nSELECT 1;\n").as_str(),
            ),
        ])
        .unwrap();
        let flagged = lint::lint(migrator.migrations())
            .iter()
            .any(|f| f.rule == "column-type-rewrite");
        if flagged != rewritten {
            disagreements.push(format!(
                "{old} -> {new}: the server {} the table, the lint says it {}",
                if rewritten { "rewrote" } else { "kept" },
                if flagged { "rewrites" } else { "does not" }
            ));
        }
    }
    eprintln!(
        "{} type changes: {rewrites} rewrote the table, {in_place} did not",
        rewrites + in_place
    );
    assert!(rewrites + in_place >= 30);
    assert!(disagreements.is_empty(), "{disagreements:#?}");
    // A USING expression is always taken for a rewrite.
    let migrator = Migrator::from_sources([
        ("1_create.sql", "-- +migrate Up\nCREATE TABLE u (c varchar(20));\n-- +migrate Down\nDROP TABLE u;\n"),
        ("2_alter.sql", "-- +migrate Up\nSET LOCAL lock_timeout = '5s';\nALTER TABLE u ALTER COLUMN c TYPE text USING upper(c);\n-- +migrate Down\nSELECT 1;\n"),
    ])
    .unwrap();
    assert!(lint::lint(migrator.migrations())
        .iter()
        .any(|f| f.rule == "column-type-rewrite"));
    // ... but not the plain cast ALTER TYPE makes anyway (what `migrate generate` writes): the
    // server keeps the table, and so does the lint.
    db.batch_execute("CREATE TABLE v (c varchar(20)); INSERT INTO v VALUES ('x')")
        .await
        .unwrap();
    let node = "SELECT pg_relation_filenode('v')::int8";
    let before: i64 = db.query_one(node, &[]).await.unwrap().get(0);
    db.batch_execute(
        "ALTER TABLE \"v\" ALTER COLUMN \"c\" TYPE varchar(40) USING \"c\"::varchar(40)",
    )
    .await
    .unwrap();
    let after: i64 = db.query_one(node, &[]).await.unwrap().get(0);
    assert_eq!(before, after, "the server kept the table");
    let migrator = Migrator::from_sources([
        ("1_create.sql", "-- +migrate Up\nCREATE TABLE v (c varchar(20));\n-- +migrate Down\nDROP TABLE v;\n"),
        ("2_alter.sql", "-- +migrate Up\nSET LOCAL lock_timeout = '5s';\nALTER TABLE \"v\" ALTER COLUMN \"c\" TYPE varchar(40) USING \"c\"::varchar(40);\n-- +migrate Down\nSELECT 1;\n"),
    ])
    .unwrap();
    assert!(lint::lint(migrator.migrations()).is_empty());
}
