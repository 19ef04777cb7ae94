//! Migrations in the sql-migrate format: parse (pure), load (a directory or embedded files),
//! and run (history table, advisory lock, up / down / redo / status).
//!
//! ```no_run
//! # async fn run(pool: skelly_db::Pool) -> skelly_db::Result<()> {
//! use skelly_db::migrate::Migrator;
//!
//! let migrator = Migrator::from_dir("migrations")?;
//! for applied in migrator.up(&pool).await? {
//!     println!("applied {} in {:?}", applied.id, applied.duration);
//! }
//! # Ok(()) }
//! ```

mod adopt;
mod column_types;
mod execute;
mod history;
pub mod lint;
mod operator;
mod plan;
mod progress;
mod runner;
mod source;
mod verify;

pub use crate::error::MigrationError;
pub use adopt::{GOOSE_TABLE, SQL_MIGRATE_TABLE};
pub use operator::PlannedMigration;
pub use progress::Progress;
pub use runner::{Applied, Direction, Failure, MigrationState, MigrationStatus, Migrator};
pub use skelly_db_migrate_format::{compare_ids, ParsedMigration, Section};
pub use source::Migration;
pub use verify::{NotRestored, Verification};

/// Splits one migration file into its Up and Down statements, following sql-migrate's rules
/// exactly, except that an unknown or misspelled `-- +migrate` command is an error naming its
/// line. Pure: no file system, no database.
///
/// ```
/// use skelly_db::migrate::parse_migration;
///
/// let parsed = parse_migration("-- +migrate Up\nCREATE TABLE t (id int);\n-- +migrate Down\nDROP TABLE t;\n")?;
/// assert_eq!(parsed.up.statements, ["CREATE TABLE t (id int);\n"]);
///
/// let err = parse_migration("-- +migrate Up\nSELECT 1;\n-- +migrate DOWN\n").unwrap_err();
/// assert_eq!(err.to_string(), "line 3: unknown migrate command `DOWN`; did you mean `Down`?");
/// # Ok::<(), skelly_db::migrate::MigrationError>(())
/// ```
pub fn parse_migration(source: &str) -> Result<ParsedMigration, MigrationError> {
    skelly_db_migrate_format::parse_migration(source).map_err(|e| MigrationError::Parse {
        file: None,
        line: e.line,
        message: e.message,
    })
}
