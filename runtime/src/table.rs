//! The [`Table`] trait and the column metadata `#[derive(Table)]` fills in, and the DDL the
//! metadata implies.

use std::fmt::Write as _;

use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::error::Result;
use crate::sql::{qualified, quote_ident, quote_literal};

/// What the database knows about one column, as `#[derive(Table)]` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnDef {
    /// The column's SQL name (snake_case of the field, or `#[table(rename = "...")]`).
    pub name: &'static str,
    /// The Rust field name.
    pub field: &'static str,
    /// The SQL type, e.g. `text`, `uuid`, `timestamptz`, `integer[]`.
    pub sql_type: &'static str,
    /// Whether the column takes NULL (the field is an `Option`).
    pub nullable: bool,
    /// Whether the column is the primary key.
    pub primary_key: bool,
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
}

impl ColumnDef {
    /// Whether the insert struct carries this column (no database default, no convention).
    pub const fn inserted(&self) -> bool {
        self.default.is_none() && matches!(self.role, ColumnRole::Plain | ColumnRole::NoPatch)
    }
}

/// A table described by `#[derive(Table)]`. Implemented by the derive; the generic functions
/// in [`crate::query`] build every statement from it.
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

    /// The fixed statements of this table, built once.
    #[doc(hidden)]
    fn statements() -> &'static crate::query::Statements;

    /// `"schema"."table"`.
    fn qualified_name() -> String {
        qualified(Self::SCHEMA, Self::NAME)
    }

    /// The index of the primary key in [`Table::COLUMNS`].
    fn primary_key() -> &'static ColumnDef {
        Self::COLUMNS
            .iter()
            .find(|c| c.role == ColumnRole::PrimaryKey)
            .unwrap_or(&Self::COLUMNS[0])
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

/// The DDL `T`'s description implies: schema, table with types, NOT NULL, defaults, primary
/// key, named CHECK constraints for text enums, foreign keys, unique constraints (partial
/// unique indexes `WHERE deleted_at IS NULL` on soft-delete tables) and indexes (every foreign
/// key gets one).
pub fn ddl<T: Table>() -> String {
    let table = T::qualified_name();
    let soft = T::soft_delete_column();
    let mut lines = Vec::new();
    let mut after = Vec::new();
    for c in T::COLUMNS {
        let mut line = format!("    {} {}", quote_ident(c.name), c.sql_type);
        if !c.nullable {
            line.push_str(" NOT NULL");
        }
        if let Some(default) = c.default {
            let _ = write!(line, " DEFAULT {default}");
        }
        lines.push(line);
    }
    let pk = T::primary_key();
    lines.push(format!(
        "    CONSTRAINT {} PRIMARY KEY ({})",
        quote_ident(&format!("{}_pkey", T::NAME)),
        quote_ident(pk.name)
    ));
    for c in T::COLUMNS {
        let column = quote_ident(c.name);
        if let Some(values) = c.check {
            let list: Vec<String> = values.iter().map(|v| quote_literal(v)).collect();
            let list = list.join(", ");
            let condition = if c.sql_type.ends_with("[]") {
                // An array of text enums: every element is one of the variants.
                format!("{column} <@ ARRAY[{list}]::text[]")
            } else {
                format!("{column} IN ({list})")
            };
            lines.push(format!(
                "    CONSTRAINT {} CHECK ({condition})",
                quote_ident(&format!("{}_{}_check", T::NAME, c.name)),
            ));
        }
        if let Some(target) = c.references {
            let (schema, name) = target.split_once('.').unwrap_or(("public", target));
            lines.push(format!(
                "    CONSTRAINT {} FOREIGN KEY ({column}) REFERENCES {} (\"id\")",
                quote_ident(&format!("{}_{}_fkey", T::NAME, c.name)),
                qualified(schema, name)
            ));
        }
        if c.unique {
            let name = quote_ident(&format!("{}_{}_key", T::NAME, c.name));
            match soft {
                // A soft-deleted row must not block re-creating it.
                Some(deleted) => after.push(format!(
                    "CREATE UNIQUE INDEX {name} ON {table} ({column}) WHERE {} IS NULL;",
                    quote_ident(deleted.name)
                )),
                None => lines.push(format!("    CONSTRAINT {name} UNIQUE ({column})")),
            }
        }
        if (c.index || c.references.is_some()) && !c.unique && !c.primary_key {
            after.push(format!(
                "CREATE INDEX {} ON {table} ({column});",
                quote_ident(&format!("{}_{}_idx", T::NAME, c.name))
            ));
        }
    }
    let mut out = format!(
        "CREATE SCHEMA IF NOT EXISTS {};\nCREATE TABLE {table} (\n{}\n);\n",
        quote_ident(T::SCHEMA),
        lines.join(",\n")
    );
    for statement in after {
        out.push_str(&statement);
        out.push('\n');
    }
    out
}
