//! The generic operations behind the derive's associated functions (`User::insert`,
//! `User::find`, ...). Not public: generated code reaches them through `__private`, where the
//! derive's typed signatures (the key's own type, the table's insert struct) stand in front.

mod arrays;
mod bulk;
mod copy;
mod read;
mod write;

pub use bulk::{BulkInsert, OnConflict};

use tokio_postgres::types::ToSql;

use crate::executor::Param;

/// A primary key's value as statement parameters, owned by the operation's future: [`One`] for
/// a one-column key, a tuple in field order for a composite one. What the derive's by-key
/// functions pass.
pub trait KeyParams: Send + Sync {
    /// The key's columns' values, in key order.
    fn params(&self) -> Vec<Param<'_>>;
}

/// The value of a one-column primary key.
pub struct One<K>(pub K);

impl<K: ToSql + Sync + Send> KeyParams for One<K> {
    fn params(&self) -> Vec<Param<'_>> {
        vec![&self.0]
    }
}

macro_rules! tuple_keys {
    ($(($($t:ident $i:tt),+)),+) => {$(
        impl<$($t: ToSql + Sync + Send),+> KeyParams for ($($t,)+) {
            fn params(&self) -> Vec<Param<'_>> {
                vec![$(&self.$i),+]
            }
        }
    )+};
}

tuple_keys!(
    (A 0, B 1),
    (A 0, B 1, C 2),
    (A 0, B 1, C 2, D 3),
    (A 0, B 1, C 2, D 3, E 4),
    (A 0, B 1, C 2, D 3, E 4, F 5),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7)
);
pub use copy::copy_in;
pub use read::{find, find_with_deleted, get};
pub use write::{
    delete, hard_delete, insert, insert_many, insert_many_count, insert_or_ignore, patch,
    patch_versioned, restore, update, update_versioned, upsert,
};
