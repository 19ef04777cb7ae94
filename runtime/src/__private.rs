//! Everything generated code touches, and nothing else. Not part of the public API.

use std::error::Error as StdError;

use tokio_postgres::types::{FromSql, IsNull, ToSql, Type};
use tokio_postgres::Row;

pub use crate::crud::{
    copy_in, delete, find_with_deleted, get, hard_delete, insert, insert_many, insert_many_count,
    insert_or_ignore, patch, patch_versioned, restore, update, update_versioned, upsert,
};
pub use crate::error::Result;
pub use crate::executor::{Executor, Param};
pub use crate::migrate::Migrator;
pub use crate::query::{Column, CompositeForeignKey, ForeignKey, Select, TableId};
pub use crate::row::{column_by_name, FromRow};
pub use crate::sql_type::{ArrayElement, SqlType};
pub use crate::table::statements::Statements;
pub use crate::table::{ddl, ColumnDef, ColumnRole, Insert, Patch, Table, TableConstraint};
pub use crate::text_enum::{TextEnum, UnknownVariant};
pub use bytes::BytesMut;
pub use std::sync::OnceLock;
pub use tokio_postgres::types::{to_sql_checked, FromSql as FromSqlTrait, ToSql as ToSqlTrait};

type BoxError = Box<dyn StdError + Sync + Send>;

/// Builds the migrator of `embed_migrations!`.
pub fn embedded_migrator(files: &[(&str, &str)]) -> Migrator {
    // embed_migrations! parsed and checked every file at compile time with the same code.
    Migrator::from_sources(files.iter().copied())
        .expect("embed_migrations! checked these files at compile time")
}

/// The typed column at `index` of `T::COLUMNS` (the derive's `User::EMAIL`); its value in a
/// row struct is read through `Table::column_value`.
pub const fn column_at<T, V>(index: usize) -> Column<T, V> {
    Column::new(index)
}

/// Decodes column `index` of `row`, naming the column on failure.
#[inline]
pub fn column<'a, T: FromSql<'a>>(row: &'a Row, index: usize, column: &str) -> Result<T> {
    row.try_get(index)
        .map_err(|e| crate::error::Error::decode(column, e))
}

/// Decodes column `index` of `row` through [`SqlType::decode`], naming the column on failure:
/// what `from_row` does for every field whose type has a [`SqlType`].
#[inline(always)]
pub fn decode<T: SqlType>(row: &Row, index: usize, column: &str) -> Result<T> {
    let RawValue(raw) = row
        .try_get(index)
        .map_err(|e| crate::error::Error::decode(column, e))?;
    // try_get checked the index.
    let ty = row.columns()[index].type_();
    T::decode(ty, raw).map_err(|e| crate::error::Error::decode_value(column, e))
}

/// A column's bytes as they came (`None` for NULL), whatever its type.
pub(crate) struct RawValue<'a>(pub(crate) Option<&'a [u8]>);

impl<'a> FromSql<'a> for RawValue<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> std::result::Result<Self, BoxError> {
        Ok(RawValue(Some(raw)))
    }

    fn from_sql_null(_: &Type) -> std::result::Result<Self, BoxError> {
        Ok(RawValue(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// `ToSql::to_sql` of a text enum.
#[inline]
pub fn text_enum_to_sql(
    text: &str,
    ty: &Type,
    out: &mut BytesMut,
) -> std::result::Result<IsNull, BoxError> {
    <&str as ToSql>::to_sql(&text, ty, out)
}

/// `accepts` of a text enum: the text types.
#[inline]
pub fn text_enum_accepts(ty: &Type) -> bool {
    <&str as ToSql>::accepts(ty)
}

/// `accepts` of a text enum stored as the PostgreSQL enum type `schema.name`: that type, and the
/// text types.
#[inline]
pub fn pg_enum_accepts(ty: &Type, schema: &str, name: &str) -> bool {
    matches!(ty.kind(), tokio_postgres::types::Kind::Enum(_))
        && ty.name() == name
        && ty.schema() == schema
        || text_enum_accepts(ty)
}

/// `FromSql::from_sql` of a text enum.
#[inline]
pub fn text_enum_from_sql<T: TextEnum>(ty: &Type, raw: &[u8]) -> std::result::Result<T, BoxError> {
    // The plain text types are just UTF-8 (`FromSql for &str` first compares the type's name
    // with three extension types on every value).
    let text = match *ty {
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => crate::sql_type::utf8(raw)?,
        _ => <&str as FromSql>::from_sql(ty, raw)?,
    };
    T::from_text(text).ok_or_else(|| Box::new(UnknownVariant::new::<T>(text)) as BoxError)
}

/// `FromStr::from_str` of a text enum.
#[inline]
pub fn text_enum_from_str<T: TextEnum>(text: &str) -> std::result::Result<T, UnknownVariant> {
    T::from_text(text).ok_or_else(|| UnknownVariant::new::<T>(text))
}

/// `deserialize_with` of a nullable column's field in a patch struct that derives
/// `serde::Deserialize`: a present `null` is `Some(None)` (write NULL), a present value
/// `Some(Some(v))`; an absent field stays `None` (leave the column) through `#[serde(default)]`.
pub fn deserialize_nullable<'de, D, T>(
    deserializer: D,
) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

/// The bound of the by-key functions of a table declared `#[table(no_primary_key)]`: no type
/// implements it, so a call does not compile, with this message.
#[diagnostic::on_unimplemented(
    message = "`{T}` has no primary key, so it has no function that finds, updates or deletes a row by key",
    label = "`{T}` is declared `#[table(no_primary_key)]`",
    note = "address its rows through the query builder, e.g. `{T}::query().filter(...).fetch_all(db)`, or give the table a key with `#[table(primary_key)]`"
)]
pub trait HasPrimaryKey<T> {}

/// What a by-key function of a table without a key returns, should it ever be called.
pub fn no_primary_key<T: Table, R>() -> Result<R> {
    Err(crate::error::Error::Config(format!(
        "{} has no primary key",
        T::qualified_name()
    )))
}
