//! The generic operations behind the derive's associated functions (`User::insert`,
//! `User::find`, ...). Not public: generated code reaches them through `__private`, where the
//! derive's typed signatures (the key's own type, the table's insert struct) stand in front.

mod arrays;
mod bulk;
mod copy;
mod read;
mod write;

pub use bulk::{BulkInsert, OnConflict};
pub use copy::copy_in;
pub use read::{find, find_with_deleted, get};
pub use write::{
    delete, hard_delete, insert, insert_many, insert_many_count, insert_or_ignore, patch,
    patch_versioned, restore, update, update_versioned, upsert,
};
