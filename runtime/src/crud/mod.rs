//! The generic operations behind the typed functions (`User::insert`, `User::find`, ...: the
//! [`Table`](crate::Table) trait's, and the derive's own for soft-delete and versioned tables).
//! Each takes the executor erased (`&dyn Reach`) and the key, rows and patches by value, so
//! that the future it returns is the caller's without an `async` wrapper per table.

mod arrays;
mod bulk;
mod copy;
mod read;
mod write;

pub use bulk::{BulkInsert, OnConflict};
pub use copy::copy_in;
pub(crate) use read::by_key;
pub use read::{find_with_deleted, get};
pub use write::{
    delete, hard_delete, insert, insert_many, insert_many_count, insert_or_ignore, patch,
    patch_versioned, restore, update, update_versioned, upsert,
};
