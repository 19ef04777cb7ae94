//! The generic operations behind the derive's associated functions (`User::insert`,
//! `User::find`, ...). Not public: generated code reaches them through `__private`, where the
//! derive's typed signatures (the key's own type, the table's insert struct) stand in front.

mod read;
mod write;

pub use read::{find, find_with_deleted, get};
pub use write::{
    delete, hard_delete, insert, insert_many, insert_or_ignore, restore, update, upsert,
};

use crate::error::Result;
use crate::executor::{Executor, Param};
use crate::table::Table;

/// What a typed call does: the unit `MockDb` scripts and records (`skelly_db::testing::Op`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// `T::insert`.
    Insert,
    /// `T::insert_many`.
    InsertMany,
    /// `T::insert_or_ignore`.
    InsertOrIgnore,
    /// `T::upsert`.
    Upsert,
    /// `T::find`, `T::get`, `T::find_with_deleted`.
    Find,
    /// `T::update` (by key).
    Update,
    /// `T::delete` (by key).
    Delete,
    /// `T::restore` (by key).
    Restore,
    /// `T::hard_delete` (by key).
    HardDelete,
    /// `T::query()` ... `.fetch_all`, `.fetch_one`, `.fetch_optional`, `.stream`.
    Select,
    /// `T::query()` ... `.count`.
    Count,
    /// `T::query()` ... `.exists`.
    Exists,
    /// `T::query()` ... `.update(patch)`.
    UpdateWhere,
    /// `T::query()` ... `.delete()`.
    DeleteWhere,
    /// A raw `Executor::execute` or `batch_execute`.
    Execute,
    /// A raw `Executor::query*` (a mock cannot build driver rows; use typed calls).
    Query,
}

impl Op {
    /// Whether the operation answers with rows (else with a count).
    pub fn returns_rows(self) -> bool {
        matches!(
            self,
            Op::Insert
                | Op::InsertMany
                | Op::InsertOrIgnore
                | Op::Upsert
                | Op::Find
                | Op::Update
                | Op::Select
                | Op::Query
        )
    }
}

/// Runs a row-returning statement of table `T` and decodes every row.
pub(crate) async fn rows<T: Table>(
    db: &impl Executor,
    op: Op,
    sql: &str,
    params: &[Param<'_>],
) -> Result<Vec<T>> {
    let session = db.session().await?;
    #[cfg(feature = "testing")]
    if let Some(mock) = session.as_mock() {
        return mock.rows::<T>(op, sql, params);
    }
    let _ = op;
    session
        .query(sql, params)
        .await?
        .iter()
        .map(T::from_row)
        .collect()
}

/// Runs a statement of table `T` that returns at most one row.
pub(crate) async fn row<T: Table>(
    db: &impl Executor,
    op: Op,
    sql: &str,
    params: &[Param<'_>],
) -> Result<Option<T>> {
    let session = db.session().await?;
    #[cfg(feature = "testing")]
    if let Some(mock) = session.as_mock() {
        return Ok(mock.rows::<T>(op, sql, params)?.into_iter().next());
    }
    let _ = op;
    match session.query_opt(sql, params).await? {
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
    let session = db.session().await?;
    #[cfg(feature = "testing")]
    if let Some(mock) = session.as_mock() {
        return mock.count::<T>(op, sql, params);
    }
    let _ = op;
    session.execute(sql, params).await
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
    let session = db.session().await?;
    #[cfg(feature = "testing")]
    if let Some(mock) = session.as_mock() {
        return mock.count::<T>(op, sql, params).map(V::from_count);
    }
    let _ = op;
    match session.query_opt(sql, params).await? {
        Some(row) => row
            .try_get(0)
            .map_err(|e| crate::error::Error::decode("?column?", e)),
        None => Err(T::statements().not_found()),
    }
}

/// A scalar a mock's scripted count stands for: the count itself, or whether it is non-zero.
#[cfg_attr(not(feature = "testing"), allow(dead_code))]
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
