//! Typed execution: runs a statement of table `T` and decodes its rows with `T::from_row`, or,
//! on a scripted executor (`MockDb`), takes the scripted answer instead. Shared by the typed
//! operations and the query builder.
//!
//! Each operation is a non-generic core that reaches the session (through [`Reach`], one copy
//! for every executor), runs the statement and hands back the rows, and a thin typed shim that
//! decodes them: a table pays for its decoding, not for another copy of the run.

use std::any::Any;

use tokio_postgres::Row;

use crate::error::{Error, Result};
use crate::executor::{with_session, Param, Reach};
use crate::op::Op;
use crate::table::{annotate, annotate_with, Table};

/// What a statement's run gave: the rows (or row, or count) from the server, or a `MockDb`'s
/// scripted answer for the caller to take as its own type.
pub(crate) enum Answer {
    Rows(Vec<Row>),
    Row(Option<Row>),
    Count(u64),
    Scripted(Box<dyn Any + Send>),
}

/// What the caller wants back from [`run`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    Rows,
    Row,
    Count,
    /// One row from the server; a count from a mock.
    Scalar,
}

/// Runs `sql` on a session of `db` (again on a fresh one where the executor allows it and the
/// connection was lost), or asks the mock for its answer for `op` on `table`. One copy serves
/// every table and executor.
pub(crate) async fn run(
    db: &dyn Reach,
    table: &str,
    op: Op,
    sql: &str,
    params: &[Param<'_>],
    want: Want,
) -> Result<Answer> {
    with_session!(db, |session| {
        if let Some(mock) = session.as_mock() {
            return match want {
                Want::Count | Want::Scalar => {
                    mock.answer_count(table, op, sql, params).map(Answer::Count)
                }
                _ => mock
                    .answer_rows(table, op, sql, params)
                    .map(Answer::Scripted),
            };
        }
        match want {
            Want::Rows => session.query(sql, params).await.map(Answer::Rows),
            Want::Row | Want::Scalar => session.query_opt(sql, params).await.map(Answer::Row),
            Want::Count => session.execute(sql, params).await.map(Answer::Count),
        }
    })
}

/// Runs a row-returning statement and gives each row to `on_row` as it arrives (no `Vec` of
/// rows in between), `None` first on every attempt (a lost connection on a replica runs it
/// again: the caller starts over); on a `MockDb`, the scripted answer instead
/// ([`Answer::Scripted`]). One copy serves every table and executor.
pub(crate) async fn each(
    db: &dyn Reach,
    table: &str,
    op: Op,
    sql: &str,
    params: &[Param<'_>],
    on_row: &mut (dyn FnMut(Option<&Row>) -> Result<()> + Send),
) -> Result<Answer> {
    with_session!(db, |session| {
        if let Some(mock) = session.as_mock() {
            return mock
                .answer_rows(table, op, sql, params)
                .map(Answer::Scripted);
        }
        on_row(None)?;
        session
            .query_each(sql, params, |row| on_row(Some(&row)))
            .await
            .map(|n| Answer::Count(n as u64))
    })
}

/// Decodes every row of `rows` with `decode`, without an iterator chain per row type.
pub(crate) fn decode_all<R>(rows: &[Row], decode: impl Fn(&Row) -> Result<R>) -> Result<Vec<R>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(decode(row)?);
    }
    Ok(out)
}

/// Runs a row-returning statement of table `T` and decodes every row.
pub(crate) async fn rows<T: Table>(
    db: &dyn Reach,
    op: Op,
    sql: &str,
    params: &[Param<'_>],
) -> Result<Vec<T>> {
    let table = &T::statements().table;
    match run(db, table, op, sql, params, Want::Rows).await {
        Ok(Answer::Rows(rows)) => decode_all(&rows, T::from_row),
        Ok(answer) => scripted::<T>(answer, table, op),
        Err(e) => Err(annotate::<T>(e)),
    }
}

/// Runs a statement of table `T` that returns at most one row.
pub(crate) async fn row<T: Table>(
    db: &dyn Reach,
    op: Op,
    sql: &str,
    params: &[Param<'_>],
) -> Result<Option<T>> {
    let table = &T::statements().table;
    decode_row::<T>(run(db, table, op, sql, params, Want::Row).await, op)
}

/// The row of a [`Want::Row`] run as a `T` (or a mock's first scripted row); an error from
/// the run with `T`'s constraint columns. The typed operations' one generic step after `run`.
pub(crate) fn decode_row<T: Table>(answer: Result<Answer>, op: Op) -> Result<Option<T>> {
    match answer {
        Ok(Answer::Row(Some(row))) => match T::from_row(&row) {
            Ok(row) => Ok(Some(row)),
            Err(e) => Err(e),
        },
        Ok(Answer::Row(None)) => Ok(None),
        Ok(answer) => {
            let mut rows = scripted::<T>(answer, &T::statements().table, op)?;
            rows.truncate(1);
            Ok(rows.pop())
        }
        Err(e) => Err(annotate::<T>(e)),
    }
}

/// The count of a [`Want::Count`] run; an error from the run with `T`'s constraint columns.
pub(crate) fn decode_count(
    answer: Result<Answer>,
    table: &str,
    columns: &'static [crate::table::ColumnDef],
    constraints: &'static [crate::table::TableConstraint],
) -> Result<u64> {
    match answer {
        Ok(answer) => Ok(count(answer)),
        Err(e) => Err(annotate_with(e, table, columns, constraints)),
    }
}

/// Runs a statement of table `T` and returns the number of rows it affected.
pub(crate) async fn affected<T: Table>(
    db: &dyn Reach,
    op: Op,
    sql: &str,
    params: &[Param<'_>],
) -> Result<u64> {
    match run(db, &T::statements().table, op, sql, params, Want::Count).await {
        Ok(answer) => Ok(count(answer)),
        Err(e) => Err(annotate::<T>(e)),
    }
}

/// The count of a [`Want::Count`] run.
pub(crate) fn count(answer: Answer) -> u64 {
    match answer {
        Answer::Count(n) => n,
        _ => 0,
    }
}

/// A mock's scripted answer as rows of the caller's type `R`; an error naming both types when
/// the script gave another.
pub(crate) fn scripted<R: 'static>(answer: Answer, table: &str, op: Op) -> Result<Vec<R>> {
    let any = match answer {
        Answer::Scripted(any) => any,
        // The server's answers are taken before this is called.
        _ => {
            return Err(Error::Mock(format!(
                "no scripted rows for {op:?} on {table}"
            )))
        }
    };
    // Taken out of the box rather than unboxed: one generic step per row type, not three.
    let mut any = any;
    match any.downcast_mut::<Vec<R>>() {
        Some(rows) => Ok(std::mem::take(rows)),
        None => Err(other_type(table, op, std::any::type_name::<R>())),
    }
}

fn other_type(table: &str, op: Op, ty: &str) -> Error {
    Error::Mock(format!(
        "the rows scripted for {op:?} on {table} are of another type than {ty}; script them \
         with mock.expect::<T>(Op::{op:?}).returns_rows(rows)"
    ))
}

/// Runs `SELECT count(*)` (op `Count`) or `SELECT EXISTS` (op `Exists`) on the table of
/// `statements`.
pub(crate) async fn scalar<V>(
    db: &dyn Reach,
    statements: &crate::table::Statements,
    op: Op,
    sql: &str,
    params: &[Param<'_>],
) -> Result<V>
where
    V: for<'r> tokio_postgres::types::FromSql<'r> + FromCount,
{
    match run(db, &statements.table, op, sql, params, Want::Scalar).await? {
        Answer::Row(Some(row)) => row.try_get(0).map_err(|e| Error::decode("?column?", e)),
        Answer::Count(n) => Ok(V::from_count(n)),
        _ => Err(statements.not_found()),
    }
}

/// Runs a statement on table `table` whose rows are not the table's own (joins, chosen columns,
/// grouped counts) and decodes each with `decode`; on a `MockDb`, takes the `Vec<R>` scripted
/// for `op` on that table.
pub(crate) async fn typed_rows<R: Send + 'static>(
    db: &dyn Reach,
    table: &str,
    op: Op,
    sql: &str,
    params: &[Param<'_>],
    decode: impl Fn(&Row) -> Result<R>,
) -> Result<Vec<R>> {
    match run(db, table, op, sql, params, Want::Rows).await? {
        Answer::Rows(rows) => decode_all(&rows, decode),
        answer => scripted::<R>(answer, table, op),
    }
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
