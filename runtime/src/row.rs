//! Rows decoded by column name: hand-written SQL into table structs and into plain row
//! structs (`#[derive(Row)]`), for reports, aggregates and anything the query builder does
//! not say.

use tokio_postgres::types::FromSql;
use tokio_postgres::Row;

use crate::error::{Error, Result};
use crate::executor::{Executor, Param};
use crate::table::Table;

/// A type built from one result row by column name. `#[derive(Row)]` implements it for a
/// plain struct; every `#[derive(Table)]` struct has it too. Columns the type does not name
/// are ignored; a missing or mistyped one is [`Error::Decode`] naming it.
///
/// ```no_run
/// # async fn run(pool: skelly_db::Pool) -> skelly_db::Result<()> {
/// #[derive(skelly_db::Row, Debug)]
/// struct RoleCount {
///     role: String,
///     #[row(rename = "count")]
///     users: i64,
/// }
///
/// let counts: Vec<RoleCount> = skelly_db::query_as(
///     &pool,
///     "SELECT role, count(*) FROM \"user\".users WHERE deleted_at IS NULL GROUP BY role",
///     &[],
/// )
/// .await?;
/// # Ok(()) }
/// ```
pub trait FromRow: Sized {
    /// Decodes one row.
    fn from_row(row: &Row) -> Result<Self>;
}

impl<T: Table> FromRow for T {
    fn from_row(row: &Row) -> Result<Self> {
        let map = column_map::<T>(row)?;
        T::from_row_mapped(row, &map)
    }
}

/// Runs hand-written SQL with bind parameters and decodes every row by column name, into a
/// table struct or a `#[derive(Row)]` struct.
///
/// ```no_run
/// # use skelly_db::Table;
/// # #[derive(Table)] #[table(schema = "user")] struct User { id: uuid::Uuid, email: String }
/// # async fn run(pool: skelly_db::Pool) -> skelly_db::Result<()> {
/// let users: Vec<User> = skelly_db::query_as(
///     &pool,
///     "SELECT u.* FROM \"user\".users u WHERE u.email LIKE $1 ORDER BY u.email",
///     &[&"%@example.com"],
/// )
/// .await?;
/// # Ok(()) }
/// ```
pub async fn query_as<T: FromRow>(
    db: &impl Executor,
    sql: &str,
    params: &[Param<'_>],
) -> Result<Vec<T>> {
    db.query(sql, params)
        .await?
        .iter()
        .map(T::from_row)
        .collect()
}

/// As [`query_as`], for a statement that returns at most one row.
pub async fn query_optional_as<T: FromRow>(
    db: &impl Executor,
    sql: &str,
    params: &[Param<'_>],
) -> Result<Option<T>> {
    db.query_opt(sql, params)
        .await?
        .as_ref()
        .map(T::from_row)
        .transpose()
}

// Where each of T's columns is in this row.
fn column_map<T: Table>(row: &Row) -> Result<Vec<usize>> {
    T::COLUMNS.iter().map(|c| position(row, c.name)).collect()
}

fn position(row: &Row, name: &str) -> Result<usize> {
    row.columns()
        .iter()
        .position(|c| c.name() == name)
        .ok_or_else(|| {
            let have: Vec<&str> = row.columns().iter().map(|c| c.name()).collect();
            Error::Decode {
                column: name.to_string(),
                message: format!(
                    "the result has no column `{name}` (it has {})",
                    if have.is_empty() {
                        "none".to_string()
                    } else {
                        have.join(", ")
                    }
                ),
                source: None,
            }
        })
}

/// Column `name` of `row`, for `#[derive(Row)]`.
#[doc(hidden)]
pub fn column_by_name<'a, T: FromSql<'a>>(row: &'a Row, name: &str) -> Result<T> {
    let index = position(row, name)?;
    row.try_get(index).map_err(|e| Error::decode(name, e))
}
