use crate::error::Result;
use crate::executor::{Param, Reach};
use crate::fetch::row;
use crate::op::Op;
use crate::table::Table;

/// The live row with this primary key (soft-deleted rows are not found).
pub async fn find<T: Table>(db: &dyn Reach, key: &[Param<'_>]) -> Result<Option<T>> {
    let sql = &T::statements().key()?.find;
    row::<T>(db, Op::Find, sql, key).await
}

/// The row with this primary key, soft-deleted or not.
pub async fn find_with_deleted<T: Table>(db: &dyn Reach, key: &[Param<'_>]) -> Result<Option<T>> {
    let sql = &T::statements().key()?.find_any;
    row::<T>(db, Op::Find, sql, key).await
}

/// Like [`find`], but a missing row is [`crate::Error::NotFound`].
pub async fn get<T: Table>(db: &dyn Reach, key: &[Param<'_>]) -> Result<T> {
    find::<T>(db, key)
        .await?
        .ok_or_else(|| T::statements().not_found())
}
