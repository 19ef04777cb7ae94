//! The [`Table`] trait, the column metadata `#[derive(Table)]` fills in, the statements built
//! once per table from it, and the DDL it implies.

mod ddl;
pub(crate) mod statements;

pub use ddl::ddl;
pub(crate) use statements::Statements;

use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::error::Result;
use crate::sql::qualified;

/// What the database knows about one column, as `#[derive(Table)]` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnDef {
    /// The column's SQL name (snake_case of the field, or `#[table(rename = "...")]`).
    pub name: &'static str,
    /// The SQL type, e.g. `text`, `uuid`, `timestamptz`, `integer[]`.
    pub sql_type: &'static str,
    /// Whether the column takes NULL (the field is an `Option`).
    pub nullable: bool,
    /// Whether the column is unique (among live rows on soft-delete tables).
    pub unique: bool,
    /// Whether the column has an index of its own.
    pub index: bool,
    /// The SQL default expression, if the database fills the column in.
    pub default: Option<&'static str>,
    /// For text enums: the allowed texts, enforced by a CHECK constraint.
    pub check: Option<&'static [&'static str]>,
    /// `schema.table` this column references (its primary key `id`), if it is a foreign key.
    pub references: Option<&'static str>,
    /// What the column does by convention.
    pub role: ColumnRole,
    /// Whether the insert struct carries this column: no database default and no convention
    /// fills it in. Decided by the derive; values are bound in column order.
    pub inserted: bool,
    /// Whether the patch struct carries this column.
    pub patched: bool,
}

/// The conventional meaning of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnRole {
    /// An ordinary column: inserted and patched.
    Plain,
    /// An ordinary column that is not in the patch struct (`#[table(skip_patch)]`).
    NoPatch,
    /// The primary key.
    PrimaryKey,
    /// Set to `now()` on insert.
    CreatedAt,
    /// Set to `now()` on insert and on every update.
    UpdatedAt,
    /// Soft delete: NULL while the row is live.
    DeletedAt,
    /// Optimistic locking (`#[table(version)]`): 1 for a new row, checked and incremented by
    /// every update by key, incremented by bulk updates.
    Version,
}

/// A table described by `#[derive(Table)]`. Implemented by the derive, which also generates
/// the typed functions (`User::insert`, `User::find`, ...) and `User::query()`.
pub trait Table: Sized + Send + Sync + 'static {
    /// The insert struct (`NewUser`).
    type New: Insert;
    /// The patch struct (`UserPatch`).
    type Patch: Patch;
    /// The schema, e.g. `user`.
    const SCHEMA: &'static str;
    /// The table name, e.g. `users`.
    const NAME: &'static str;
    /// Every column, in field order; rows are selected and decoded in this order.
    const COLUMNS: &'static [ColumnDef];

    /// Decodes a row selected with the columns in [`Table::COLUMNS`] order.
    fn from_row(row: &Row) -> Result<Self>;

    /// The statements of this table, built once from the metadata (the derive keeps them in a
    /// static). Not part of the public API.
    #[doc(hidden)]
    fn statements() -> &'static Statements;

    /// `"schema"."table"`.
    fn qualified_name() -> String {
        qualified(Self::SCHEMA, Self::NAME)
    }

    /// The primary key column.
    fn primary_key() -> Option<&'static ColumnDef> {
        Self::COLUMNS
            .iter()
            .find(|c| c.role == ColumnRole::PrimaryKey)
    }

    /// The soft-delete column, if the table has one.
    fn soft_delete_column() -> Option<&'static ColumnDef> {
        Self::COLUMNS
            .iter()
            .find(|c| c.role == ColumnRole::DeletedAt)
    }
}

/// The insert struct of a table (`NewUser`): the values of every inserted column, in order.
pub trait Insert: Send + Sync {
    /// Pushes one parameter per inserted column, in column order.
    fn bind<'a>(&'a self, out: &mut Vec<&'a (dyn ToSql + Sync)>);
    /// One array parameter per inserted column, for `insert_many` (one statement per batch).
    fn bind_columns<'a>(rows: &'a [Self], out: &mut Vec<Box<dyn ToSql + Sync + Send + 'a>>)
    where
        Self: Sized;
}

/// The patch struct of a table (`UserPatch`): the columns to change.
pub trait Patch: Send + Sync {
    /// Pushes `(column index, value)` for every field that is `Some`.
    fn bind<'a>(&'a self, out: &mut Vec<(usize, &'a (dyn ToSql + Sync))>);
}
