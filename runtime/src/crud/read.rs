use crate::error::Result;
use crate::executor::Reach;
use crate::fetch::{decode_row, run, Want};
use crate::op::Op;
use crate::table::Table;

/// The live row with this primary key (soft-deleted rows are not found).
pub async fn find<T: Table>(db: &dyn Reach, key: T::Key<'_>) -> Result<Option<T>> {
    let statements = T::statements();
    let sql = &statements.key()?.find;
    let answer = run(
        db,
        &statements.table,
        Op::Find,
        sql,
        &T::key_params(&key),
        Want::Row,
    )
    .await;
    decode_row::<T>(answer, Op::Find)
}

/// The row with this primary key, soft-deleted or not.
pub async fn find_with_deleted<T: Table>(db: &dyn Reach, key: T::Key<'_>) -> Result<Option<T>> {
    let statements = T::statements();
    let sql = &statements.key()?.find_any;
    let answer = run(
        db,
        &statements.table,
        Op::Find,
        sql,
        &T::key_params(&key),
        Want::Row,
    )
    .await;
    decode_row::<T>(answer, Op::Find)
}

/// Like [`find`], but a missing row is [`crate::Error::NotFound`].
pub async fn get<T: Table>(db: &dyn Reach, key: T::Key<'_>) -> Result<T> {
    let statements = T::statements();
    let sql = &statements.key()?.find;
    let answer = run(
        db,
        &statements.table,
        Op::Find,
        sql,
        &T::key_params(&key),
        Want::Row,
    )
    .await;
    decode_row::<T>(answer, Op::Find)?.ok_or_else(|| statements.not_found())
}
