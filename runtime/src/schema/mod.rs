//! The schema check: does the database have the tables the structs describe?
//!
//! [`check`] compares each `#[derive(Table)]` struct with a live database's catalog: the table
//! exists; every column exists with the same type, nullability and default; a text enum's
//! CHECK allows exactly its variants; the primary key, unique constraints (partial on
//! soft-delete tables), indexes and foreign keys are there. Columns the struct does not map
//! are reported too: an error when they are NOT NULL without a default (inserts would fail),
//! else a warning. Each [`Finding`] names `schema.table.column`, what differs and the SQL that
//! would fix it.
//!
//! ```no_run
//! # use skelly_db::Table;
//! # #[derive(Table)] #[table(schema = "user")] struct User { id: uuid::Uuid, email: String }
//! # async fn run(pool: skelly_db::Pool) -> skelly_db::Result<()> {
//! use skelly_db::schema::{self, TableShape};
//!
//! // At start-up, or in a test against a database built from the migrations:
//! let report = schema::check(&pool, &[TableShape::of::<User>()]).await?;
//! if !report.is_ok() {
//!     eprintln!("{report}");
//!     std::process::exit(1);
//! }
//! # Ok(()) }
//! ```
//!
//! In tests, `skelly_db::assert_schema!(db, User, Post)` does the same and
//! panics with the report. Without compiling the crate, `skelly-db schema check --src src/`
//! reads the structs from the sources and checks them against the migrations.

mod compare;
mod diagram;
mod draft;
mod inspect;
mod normalize;
mod render;
mod shape;
#[cfg(feature = "source")]
mod source;

pub use compare::{compare, Finding, SchemaReport, Severity};
pub use diagram::{diagram, DiagramFormat};
pub use draft::{draft, Draft, DraftOptions, DraftQuestions};
pub use normalize::canonical_type;
pub use render::{render_structs, Rendered};
pub use shape::{
    CheckShape, ColumnShape, EnumShape, ForeignKeyShape, IndexShape, KeyShape, TableShape,
};
#[doc(hidden)]
pub use shape::{Column, Item};
#[cfg(feature = "source")]
pub use source::{from_dir, from_sources, SourceError, SourceTable};

use crate::error::Result;
use crate::executor::Executor;

/// Compares each declared table with the database `db` reaches; see the [module docs](self).
pub async fn check(db: &impl Executor, tables: &[TableShape]) -> Result<SchemaReport> {
    let mut report = SchemaReport::default();
    // A foreign key to a table's key without naming it: the key of the declared table, or of
    // the table in the database.
    let mut keys = shape::key_columns(tables);
    for key in tables.iter().flat_map(|t| &t.foreign_keys) {
        let target = (key.target_schema.clone(), key.target_table.clone());
        if key.target_columns.is_empty() && !keys.contains_key(&target) {
            if let Some(found) = inspect(db, &target.0, &target.1).await? {
                keys.extend(shape::key_columns([&found]));
            }
        }
    }
    let mut tables = tables.to_vec();
    shape::resolve_key_targets(&mut tables, &keys);
    for declared in &tables {
        let actual = inspect(db, &declared.schema, &declared.name).await?;
        report.findings.extend(compare(declared, actual.as_ref()));
        report
            .tables
            .push(format!("{}.{}", declared.schema, declared.name));
    }
    report.findings.sort_by_key(|f| f.severity);
    Ok(report)
}

/// The schemas the database has (without `pg_*` and `information_schema`): what
/// [`draft`] needs to know to create a schema or not.
pub async fn schemas(db: &impl Executor) -> Result<Vec<String>> {
    let rows = db
        .query(
            "SELECT nspname::text FROM pg_namespace \
             WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The shape of table `schema.name` as the database has it, or `None` when there is no such
/// table.
pub async fn inspect(db: &impl Executor, schema: &str, name: &str) -> Result<Option<TableShape>> {
    inspect::inspect(db, schema, name).await
}
