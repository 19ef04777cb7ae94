//! A table of an application built with `skelly-db = { default-features = false }`.

use skelly_db::Table;

/// A note.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(schema = "public", name = "notes")]
pub struct Note {
    pub id: i64,
    pub body: String,
}
