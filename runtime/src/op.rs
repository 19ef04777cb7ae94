//! [`Op`]: what a typed call does, and the hook through which a scripted executor (`MockDb`) answers typed calls. A leaf module: the executor, the typed
//! operations and the mock all depend on it, and it on nothing of theirs.

use crate::error::{Error, Result};

/// A statement parameter (the executor's `Param`, spelled out: this module imports nothing of
/// the executor's).
type Param<'a> = &'a (dyn tokio_postgres::types::ToSql + Sync);

/// What a typed call does: the unit `MockDb` scripts and records (`skelly_db::testing::Op`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// `T::insert`.
    Insert,
    /// `T::insert_many` (rows) and `T::insert_many_count` (a count).
    InsertMany,
    /// `T::copy_in` (a count).
    CopyIn,
    /// `T::insert_or_ignore`.
    InsertOrIgnore,
    /// `T::upsert`.
    Upsert,
    /// `T::find`, `T::get`, `T::find_with_deleted`.
    Find,
    /// `T::update` (by key; rows) and `T::patch` (a count).
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
    /// `T::query()` ... `.join(..)` (and the other joins) ... `.fetch_*`, `.stream`: rows of
    /// the join's tuple, scripted on its first table with `returns_joined`; `count` and
    /// `exists` of a join answer as `Count` and `Exists`.
    Join,
    /// `T::query()` ... `.columns(..)` ... `.fetch_*`: the chosen columns' values, scripted with
    /// `returns_rows`.
    Columns,
    /// `T::query()` ... `.count_by(..)`: `(value, count)` pairs, scripted with `returns_rows`.
    CountBy,
    /// `T::query()` ... `.group_by(..)` ... `.fetch_all`: the grouped rows, scripted with
    /// `returns_rows`.
    Aggregate,
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
                | Op::Join
                | Op::Columns
                | Op::CountBy
                | Op::Aggregate
                | Op::Query
        )
    }
}

/// An executor that answers typed calls from a script instead of a database.
pub(crate) trait Scripted: Sync {
    /// The rows for `op` on `table`, as a boxed `Vec<T>` of the table's type.
    fn answer_rows(
        &self,
        table: &str,
        op: Op,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Box<dyn std::any::Any + Send>>;

    /// The count for `op` on `table` (`""` for a raw `execute`).
    fn answer_count(&self, table: &str, op: Op, sql: &str, params: &[Param<'_>]) -> Result<u64>;

    /// A raw row-returning statement: recorded, and refused.
    fn raw_statement(&self, sql: &str, params: &[Param<'_>]) -> Error;
}
