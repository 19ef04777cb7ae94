//! Migration drafts against a real server, one struct edit at a time: the base structs are
//! created by a draft from an empty database; each edit's draft, applied by the migrator,
//! makes the schema check pass; its Down gives back the catalog as it was; up again works.
//! The drafts are also linted.

mod common;

use std::path::{Path, PathBuf};

use skelly_db::migrate::{lint, Migrator};
use skelly_db::schema::{self, DraftOptions, TableShape};
use skelly_db::testing::TestDb;
use skelly_db::Executor;

const BASE: &str = r#"
#[derive(TextEnum)]
pub enum Role { Admin, Member }

#[derive(Table)]
#[table(schema = "app")]
pub struct Account {
    pub id: uuid::Uuid,
    #[table(unique)]
    pub email: String,
    pub name: String,
    pub role: Role,
    pub age: i32,
    pub bio: Option<String>,
    #[table(default = "'en'")]
    pub locale: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Table)]
#[table(schema = "app")]
pub struct Note {
    pub id: i64,
    #[table(references = "app.accounts")]
    pub account_id: uuid::Uuid,
    pub body: String,
    #[table(index)]
    pub topic: String,
    pub pinned: bool,
    pub reviewer_id: Option<uuid::Uuid>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}
"#;

/// One struct edit: what to replace in BASE, and the flags generate needs.
struct Edit {
    name: &'static str,
    replace: &'static [(&'static str, &'static str)],
    options: fn() -> DraftOptions,
    /// Lint rules the draft may trigger (a type change rewrites the table).
    allowed_lints: &'static [&'static str],
}

fn none() -> DraftOptions {
    DraftOptions::default()
}

const NOTE: &str = "pub struct Note {";

fn edits() -> Vec<Edit> {
    vec![
        Edit {
            name: "new table",
            replace: &[(
                NOTE,
                "pub struct Tag { #[table(primary_key)] pub code: String, pub label: Option<String> }\n\
                 #[derive(Table)]\n#[table(schema = \"app\")]\npub struct Note {",
            )],
            options: none,
            allowed_lints: &[],
        },
        Edit {
            name: "new table in a new schema referencing an old one",
            replace: &[(
                "#[derive(TextEnum)]",
                "#[derive(Table)]\n#[table(schema = \"audit\")]\npub struct Event { pub id: i64, #[table(references = \"app.accounts\")] pub account_id: uuid::Uuid }\n#[derive(TextEnum)]",
            )],
            options: none,
            allowed_lints: &[],
        },
        Edit {
            name: "nullable column added",
            replace: &[("pub bio: Option<String>,", "pub bio: Option<String>,\n    pub website: Option<String>,")],
            options: none,
            allowed_lints: &[],
        },
        Edit {
            name: "NOT NULL column with a default added",
            replace: &[("pub bio: Option<String>,", "pub bio: Option<String>,\n    #[table(default = \"0\")]\n    pub karma: i64,")],
            options: none,
            allowed_lints: &[],
        },
        Edit {
            name: "NOT NULL column without a default added",
            replace: &[("pub pinned: bool,", "pub pinned: bool,\n    pub title: String,")],
            options: none,
            allowed_lints: &[],
        },
        Edit {
            name: "column dropped",
            replace: &[("    pub age: i32,\n", "")],
            options: || DraftOptions {
                not_renamed: vec![("accounts".into(), "age".into())],
                allow_drop: true,
                ..DraftOptions::default()
            },
            allowed_lints: &[],
        },
        Edit {
            name: "column renamed",
            replace: &[("pub name: String,", "pub display_name: String,")],
            options: || DraftOptions {
                renames: vec![("app.accounts".into(), "name".into(), "display_name".into())],
                ..DraftOptions::default()
            },
            allowed_lints: &[],
        },
        Edit {
            name: "column type changed",
            replace: &[("pub age: i32,", "pub age: i64,")],
            options: none,
            allowed_lints: &["column-type-rewrite"],
        },
        Edit {
            name: "column made NOT NULL",
            replace: &[("pub bio: Option<String>,", "pub bio: String,")],
            options: none,
            allowed_lints: &[],
        },
        Edit {
            name: "column made nullable",
            replace: &[("pub body: String,", "pub body: Option<String>,")],
            options: none,
            allowed_lints: &[],
        },
        Edit {
            name: "default changed",
            replace: &[("default = \"'en'\"", "default = \"'de'\"")],
            options: none,
            allowed_lints: &[],
        },
        Edit {
            name: "default removed",
            replace: &[("    #[table(default = \"'en'\")]\n", "")],
            options: none,
            allowed_lints: &[],
        },
        Edit {
            name: "text enum variant added",
            replace: &[("Admin, Member }", "Admin, Member, Guest }")],
            options: none,
            allowed_lints: &[],
        },
        Edit {
            name: "text enum variant removed",
            replace: &[("Admin, Member }", "Admin }")],
            options: none,
            allowed_lints: &[],
        },
        Edit {
            name: "unique added",
            replace: &[("    pub name: String,", "    #[table(unique)]\n    pub name: String,")],
            options: none,
            allowed_lints: &[],
        },
        Edit {
            name: "unique removed",
            replace: &[("    #[table(unique)]\n    pub email", "    pub email")],
            options: none,
            allowed_lints: &[],
        },
        Edit {
            name: "index added",
            replace: &[("    pub pinned: bool,", "    #[table(index)]\n    pub pinned: bool,")],
            options: none,
            allowed_lints: &[],
        },
        Edit {
            name: "index removed",
            replace: &[("    #[table(index)]\n    pub topic", "    pub topic")],
            options: none,
            allowed_lints: &[],
        },
        Edit {
            name: "foreign key added",
            replace: &[(
                "    pub reviewer_id",
                "    #[table(references = \"app.accounts\")]\n    pub reviewer_id",
            )],
            options: none,
            allowed_lints: &[],
        },
        Edit {
            name: "foreign key removed",
            replace: &[("    #[table(references = \"app.accounts\")]\n    pub account_id", "    pub account_id")],
            options: none,
            allowed_lints: &[],
        },
        Edit {
            name: "soft delete added (the unique becomes partial)",
            replace: &[(
                "pub updated_at: chrono::DateTime<chrono::Utc>,",
                "pub updated_at: chrono::DateTime<chrono::Utc>,\n    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,",
            )],
            options: none,
            allowed_lints: &[],
        },
        Edit {
            name: "composite unique added",
            replace: &[(NOTE, "#[table(unique(account_id, topic))]\npub struct Note {")],
            options: none,
            allowed_lints: &[],
        },
        Edit {
            name: "table CHECK added",
            replace: &[(NOTE, "#[table(check(expr = \"body <> ''\"))]\npub struct Note {")],
            options: none,
            allowed_lints: &[],
        },
        Edit {
            name: "expression index added",
            replace: &[(
                NOTE,
                "#[table(index(using = \"gin\", expr = \"to_tsvector('simple', body)\"))]\npub struct Note {",
            )],
            options: none,
            allowed_lints: &[],
        },
        Edit {
            name: "foreign key action changed",
            replace: &[(
                "#[table(references = \"app.accounts\")]\n    pub account_id",
                "#[table(references = \"app.accounts\", on_delete = \"cascade\")]\n    pub account_id",
            )],
            options: none,
            allowed_lints: &[],
        },
        Edit {
            name: "varchar length changed",
            replace: &[("pub name: String,", "#[table(varchar = 80)]\n    pub name: String,")],
            options: none,
            allowed_lints: &["column-type-rewrite"],
        },
        Edit {
            // text to unbounded varchar is binary coercible: the draft passes the lint.
            name: "text made varchar",
            replace: &[(
                "pub name: String,",
                "#[table(sql_type = \"varchar\")]\n    pub name: String,",
            )],
            options: none,
            allowed_lints: &[],
        },
        Edit {
            name: "unique replaced by an index",
            replace: &[("    #[table(unique)]\n    pub email", "    #[table(index)]\n    pub email")],
            options: none,
            allowed_lints: &[],
        },
        Edit {
            name: "column with a default retyped",
            replace: &[(
                "    #[table(default = \"'en'\")]\n    pub locale: String,",
                "    #[table(default = \"0\")]\n    pub locale: i32,",
            )],
            options: none,
            allowed_lints: &["column-type-rewrite"],
        },
        Edit {
            name: "text enum column renamed and given a variant",
            replace: &[
                ("pub role: Role,", "pub kind: Role,"),
                ("Admin, Member }", "Admin, Member, Guest }"),
            ],
            options: || DraftOptions {
                renames: vec![("accounts".into(), "role".into(), "kind".into())],
                ..DraftOptions::default()
            },
            allowed_lints: &[],
        },
        Edit {
            name: "foreign key to a column made unique in the same edit",
            replace: &[
                ("    pub name: String,", "    #[table(unique)]\n    pub name: String,"),
                (
                    "    pub reviewer_id",
                    "    #[table(references = \"app.accounts(name)\")]\n    pub author_name: Option<String>,\n    pub reviewer_id",
                ),
            ],
            options: none,
            allowed_lints: &[],
        },
        Edit {
            name: "new table referencing a column made unique in the same edit",
            replace: &[
                ("    pub name: String,", "    #[table(unique)]\n    pub name: String,"),
                (
                    "#[derive(TextEnum)]",
                    "#[derive(Table)]\n#[table(schema = \"app\")]\npub struct Badge { pub id: i64, #[table(references = \"app.accounts(name)\")] pub holder: String }\n#[derive(TextEnum)]",
                ),
            ],
            options: none,
            allowed_lints: &[],
        },
        Edit {
            name: "text enum column added",
            replace: &[("pub pinned: bool,", "pub pinned: bool,\n    pub level: Option<Role>,")],
            options: none,
            allowed_lints: &[],
        },
    ]
}

fn shapes(source: &str) -> Vec<TableShape> {
    schema::from_sources(&[("models.rs".into(), source.into())])
        .unwrap_or_else(|e| panic!("{e:?}"))
        .into_iter()
        .map(|t| t.shape)
        .collect()
}

/// Writes the draft that brings `db` to `declared` as migration files numbered from `n`;
/// returns how many files.
async fn generate(
    db: &TestDb,
    declared: &[TableShape],
    options: &DraftOptions,
    dir: &Path,
    n: usize,
) -> (usize, Vec<String>) {
    let mut actual = Vec::new();
    for t in declared {
        actual.push(schema::inspect(db, &t.schema, &t.name).await.unwrap());
    }
    let schemas = schema::schemas(db).await.unwrap();
    let draft = schema::draft(declared, &actual, &schemas, options).unwrap();
    let mut files = Vec::new();
    for text in [&draft.main, &draft.concurrent].into_iter().flatten() {
        let name = format!("{:03}_draft.sql", n + files.len());
        std::fs::write(dir.join(&name), text).unwrap();
        files.push(text.clone());
    }
    (files.len(), files)
}

/// Every table of the user's schemas as the catalog has it, columns by name (a column added
/// back by a Down goes to the end of the table).
async fn catalog(db: &TestDb) -> (Vec<String>, Vec<TableShape>) {
    let rows = db
        .query(
            "SELECT schemaname::text, tablename::text FROM pg_tables \
             WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'public') ORDER BY 1, 2",
            &[],
        )
        .await
        .unwrap();
    let mut tables = Vec::new();
    for row in rows {
        let (s, t): (String, String) = (row.get(0), row.get(1));
        let mut shape = schema::inspect(db, &s, &t).await.unwrap().unwrap();
        shape.columns.sort_by(|a, b| a.name.cmp(&b.name));
        tables.push(shape);
    }
    let schemas = schema::schemas(db).await.unwrap();
    (schemas, tables)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "skelly-generate-{}-{}",
        std::process::id(),
        name.replace(' ', "-")
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn run_edit(edit: &Edit) {
    let db = common::empty_db().await;
    let dir = temp_dir(edit.name);
    let base = shapes(BASE);
    let (n_base, _) = generate(&db, &base, &none(), &dir, 1).await;
    Migrator::from_dir(&dir).unwrap().up(&db).await.unwrap();
    assert!(schema::check(&db, &base).await.unwrap().findings.is_empty());
    let before = catalog(&db).await;

    let mut source = BASE.to_string();
    for (from, to) in edit.replace {
        assert!(source.contains(from), "{}: {from:?} not in BASE", edit.name);
        source = source.replacen(from, to, 1);
    }
    let edited = shapes(&source);
    let (n_edit, files) = generate(&db, &edited, &(edit.options)(), &dir, 1 + n_base).await;
    assert!(n_edit > 0, "{}: empty draft", edit.name);
    let migrator = Migrator::from_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", edit.name, files.join("\n")));
    // The whole set is linted, as `migrate lint` does (the earlier files give the columns'
    // types); the drafts' findings are the ones that count.
    let drafts: Vec<&str> = migrator.migrations()[n_base..]
        .iter()
        .map(|m| m.id())
        .collect();
    let lints: Vec<_> = lint::lint(migrator.migrations())
        .into_iter()
        .filter(|f| drafts.contains(&f.file.as_str()))
        .collect();
    for finding in &lints {
        assert!(
            edit.allowed_lints.contains(&finding.rule),
            "{}: {finding}\n{}",
            edit.name,
            files.join("\n")
        );
    }

    migrator
        .up(&db)
        .await
        .unwrap_or_else(|e| panic!("{}: up: {e}\n{}", edit.name, files.join("\n")));
    let report = schema::check(&db, &edited).await.unwrap();
    assert!(
        report.is_ok(),
        "{}: {report}\n{}",
        edit.name,
        files.join("\n")
    );
    assert!(
        report.findings.is_empty(),
        "{}: {report}\n{}",
        edit.name,
        files.join("\n")
    );
    // Nothing left to do.
    let (again, _) = generate(&db, &edited, &(edit.options)(), &temp_dir("x"), 1).await;
    assert_eq!(again, 0, "{}: a second draft is not empty", edit.name);

    migrator
        .down(&db, n_edit)
        .await
        .unwrap_or_else(|e| panic!("{}: down: {e}\n{}", edit.name, files.join("\n")));
    assert_eq!(
        catalog(&db).await,
        before,
        "{}: Down did not restore the catalog\n{}",
        edit.name,
        files.join("\n")
    );
    migrator
        .up(&db)
        .await
        .unwrap_or_else(|e| panic!("{}: up again: {e}", edit.name));
    assert!(schema::check(&db, &edited).await.unwrap().is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn every_kind_of_struct_edit() {
    let edits = edits();
    assert!(edits.len() >= 15);
    for edit in &edits {
        run_edit(edit).await;
    }
}

#[tokio::test]
async fn a_removed_variant_still_in_use_stops_the_migration_with_the_count() {
    let db = common::empty_db().await;
    let dir = temp_dir("removed-variant-in-use");
    let base = shapes(BASE);
    let (n_base, _) = generate(&db, &base, &none(), &dir, 1).await;
    Migrator::from_dir(&dir).unwrap().up(&db).await.unwrap();
    db.batch_execute(
        "INSERT INTO app.accounts (email, name, role, age) VALUES \
         ('a@example.com', 'A', 'member', 1), ('b@example.com', 'B', 'member', 2), \
         ('c@example.com', 'C', 'admin', 3)",
    )
    .await
    .unwrap();
    let edited = shapes(&BASE.replacen("Admin, Member }", "Admin }", 1));
    generate(&db, &edited, &none(), &dir, 1 + n_base).await;
    let err = Migrator::from_dir(&dir)
        .unwrap()
        .up(&db)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "2 row(s) of app.accounts hold values of role the enum no longer has (member): update them first"
        ),
        "{err}"
    );
    // Nothing half-applied: the old check is still there and still allows 'member'.
    let report = schema::check(&db, &base).await.unwrap();
    assert!(report.findings.is_empty(), "{report}");
    // Once the rows are updated, the same file runs.
    db.batch_execute("UPDATE app.accounts SET role = 'admin'")
        .await
        .unwrap();
    Migrator::from_dir(&dir).unwrap().up(&db).await.unwrap();
    assert!(schema::check(&db, &edited).await.unwrap().is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}
