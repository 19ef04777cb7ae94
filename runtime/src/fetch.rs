//! Typed execution: runs a statement of table `T` and decodes its rows with `T::from_row`, or,
//! on a scripted executor (`MockDb`), takes the scripted answer instead. Shared by the typed
//! operations and the query builder.

use crate::error::Result;
use crate::executor::{with_session, Executor, Param};
use crate::op::Op;
use crate::table::{annotate, Table};

/// Runs a row-returning statement of table `T` and decodes every row.
pub(crate) async fn rows<T: Table>(
    db: &impl Executor,
    op: Op,
    sql: &str,
    params: &[Param<'_>],
) -> Result<Vec<T>> {
    let rows = with_session!(db, |session| {
        if let Some(mock) = session.as_mock() {
            return scripted_rows::<T>(mock, op, sql, params);
        }
        session.query(sql, params).await
    })
    .map_err(annotate::<T>)?;
    let _ = op;
    rows.iter().map(T::from_row).collect()
}

/// Runs a statement of table `T` that returns at most one row.
pub(crate) async fn row<T: Table>(
    db: &impl Executor,
    op: Op,
    sql: &str,
    params: &[Param<'_>],
) -> Result<Option<T>> {
    let row = with_session!(db, |session| {
        if let Some(mock) = session.as_mock() {
            return Ok(scripted_rows::<T>(mock, op, sql, params)?
                .into_iter()
                .next());
        }
        session.query_opt(sql, params).await
    })
    .map_err(annotate::<T>)?;
    let _ = op;
    match row {
        Some(row) => T::from_row(&row).map(Some),
        None => Ok(None),
    }
}

/// Runs a statement of table `T` and returns the number of rows it affected.
pub(crate) async fn affected<T: Table>(
    db: &impl Executor,
    op: Op,
    sql: &str,
    params: &[Param<'_>],
) -> Result<u64> {
    let _ = op;
    with_session!(db, |session| {
        if let Some(mock) = session.as_mock() {
            return mock.answer_count(&T::statements().table, op, sql, params);
        }
        session.execute(sql, params).await
    })
    .map_err(annotate::<T>)
}

/// Runs `SELECT count(*)` (op `Count`) or `SELECT EXISTS` (op `Exists`) on table `T`.
pub(crate) async fn scalar<T: Table, V>(
    db: &impl Executor,
    op: Op,
    sql: &str,
    params: &[Param<'_>],
) -> Result<V>
where
    V: for<'r> tokio_postgres::types::FromSql<'r> + FromCount,
{
    let row = with_session!(db, |session| {
        if let Some(mock) = session.as_mock() {
            return mock
                .answer_count(&T::statements().table, op, sql, params)
                .map(V::from_count);
        }
        session.query_opt(sql, params).await
    })?;
    let _ = op;
    match row {
        Some(row) => row
            .try_get(0)
            .map_err(|e| crate::error::Error::decode("?column?", e)),
        None => Err(T::statements().not_found()),
    }
}

/// Runs a statement on table `table` whose rows are not the table's own (joins, chosen columns,
/// grouped counts) and decodes each with `decode`; on a `MockDb`, takes the `Vec<R>` scripted
/// for `op` on that table.
pub(crate) async fn typed_rows<R: Send + 'static>(
    db: &impl Executor,
    table: &str,
    op: Op,
    sql: &str,
    params: &[Param<'_>],
    decode: impl Fn(&tokio_postgres::Row) -> Result<R>,
) -> Result<Vec<R>> {
    let rows = with_session!(db, |session| {
        if let Some(mock) = session.as_mock() {
            return scripted_values::<R>(mock, table, op, sql, params);
        }
        session.query(sql, params).await
    })?;
    rows.iter().map(decode).collect()
}

/// The rows of type `R` a mock's script gives for `op` on `table`.
pub(crate) fn scripted_values<R: 'static>(
    mock: &dyn crate::op::Scripted,
    table: &str,
    op: Op,
    sql: &str,
    params: &[Param<'_>],
) -> Result<Vec<R>> {
    mock.answer_rows(table, op, sql, params)?
        .downcast::<Vec<R>>()
        .map(|rows| *rows)
        .map_err(|_| {
            crate::error::Error::Mock(format!(
                "the rows scripted for {op:?} on {table} are of another type than {}; script \
                 them with mock.expect::<T>(Op::{op:?}).returns_rows(rows)",
                std::any::type_name::<R>()
            ))
        })
}

/// The rows a mock's script gives for `op` on `T`.
pub(crate) fn scripted_rows<T: Table>(
    mock: &dyn crate::op::Scripted,
    op: Op,
    sql: &str,
    params: &[Param<'_>],
) -> Result<Vec<T>> {
    let table = &T::statements().table;
    mock.answer_rows(table, op, sql, params)?
        .downcast::<Vec<T>>()
        .map(|rows| *rows)
        .map_err(|_| {
            crate::error::Error::Mock(format!(
                "the rows scripted for {op:?} on {table} are of another type than {}",
                std::any::type_name::<T>()
            ))
        })
}

/// A scalar a mock's scripted count stands for: the count itself, or whether it is non-zero.
pub(crate) trait FromCount {
    fn from_count(n: u64) -> Self;
}

impl FromCount for i64 {
    fn from_count(n: u64) -> i64 {
        i64::try_from(n).unwrap_or(i64::MAX)
    }
}

impl FromCount for bool {
    fn from_count(n: u64) -> bool {
        n > 0
    }
}
