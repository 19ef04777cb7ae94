use std::future::Future;

use crate::error::Result;
use crate::executor::Reach;
use crate::fetch::{decode_row, run, Want};
use crate::op::Op;
use crate::table::Table;

/// The row with this primary key, soft-deleted or not.
pub fn find_with_deleted<'a, 'k: 'a, T: Table>(
    db: &'a dyn Reach,
    key: T::Key<'k>,
) -> impl Future<Output = Result<Option<T>>> + Send + use<'a, 'k, T> {
    by_key::<T>(db, key, true)
}

/// The live row with this primary key, or [`crate::Error::NotFound`].
pub async fn get<T: Table>(db: &dyn Reach, key: T::Key<'_>) -> Result<T> {
    match by_key::<T>(db, key, false).await? {
        Some(row) => Ok(row),
        None => Err(T::statements().not_found()),
    }
}

/// The row with this primary key: live rows only (`find`), or soft-deleted ones too. One future
/// per table for every read by key.
pub(crate) async fn by_key<T: Table>(
    db: &dyn Reach,
    key: T::Key<'_>,
    deleted_too: bool,
) -> Result<Option<T>> {
    let statements = T::statements();
    let by_key = statements.key()?;
    let sql = if deleted_too {
        &by_key.find_any
    } else {
        &by_key.find
    };
    let params = T::key_params(&key);
    let answer = run(db, &statements.table, Op::Find, sql, &params, Want::Row).await;
    decode_row::<T>(answer, Op::Find)
}
