use super::Table;
use crate::schema::TableShape;

/// The DDL `T`'s description implies: schema, table with types, NOT NULL, defaults, primary
/// key, named CHECK constraints for text enums, foreign keys, unique constraints (partial
/// unique indexes `WHERE deleted_at IS NULL` on soft-delete tables) and indexes (every foreign
/// key gets one). Every statement says `IF NOT EXISTS`, so running it again changes nothing.
/// The same as [`TableShape::create_sql`] of [`TableShape::of`].
pub fn ddl<T: Table>() -> String {
    TableShape::of::<T>().create_sql()
}
