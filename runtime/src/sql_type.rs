//! [`SqlType`]: the SQL type of each supported Rust field type.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use uuid::Uuid;

/// The SQL type a Rust type is stored as. `#[derive(Table)]` reads it for every field that
/// has no `#[table(sql_type = "...")]`; `#[derive(TextEnum)]` implements it (`text` plus the
/// allowed values, which become a CHECK constraint).
///
/// | Rust | SQL |
/// |---|---|
/// | `uuid::Uuid` | `uuid` |
/// | `String` | `text` |
/// | `bool` | `boolean` |
/// | `i16`, `i32`, `i64` | `smallint`, `integer`, `bigint` |
/// | `f32`, `f64` | `real`, `double precision` |
/// | `chrono::DateTime<Utc>` | `timestamptz` |
/// | `chrono::NaiveDateTime` | `timestamp` |
/// | `chrono::NaiveDate` | `date` |
/// | `Vec<u8>` | `bytea` |
/// | `serde_json::Value` (feature `json`) | `jsonb` |
/// | `Vec<T>` of the scalars above, or of a text enum | `T[]` |
/// | `Option<T>` | `T`, nullable |
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no SQL mapping",
    label = "no SQL type is known for this field type",
    note = "supported: Uuid, String, bool, i16, i32, i64, f32, f64, DateTime<Utc>, NaiveDateTime, NaiveDate, Vec<u8>, serde_json::Value (feature `json`), Vec<T> of these, Option<T>, and #[derive(TextEnum)] enums",
    note = "for another type that implements ToSql and FromSql, name its SQL type: #[table(sql_type = \"inet\")]"
)]
pub trait SqlType {
    /// The SQL type, e.g. `text`.
    const SQL_TYPE: &'static str;
    /// Whether the column takes NULL.
    const NULLABLE: bool = false;
    /// The allowed values, for text enums.
    const CHECK: Option<&'static [&'static str]> = None;
}

macro_rules! sql_types {
    ($($ty:ty => $sql:literal, $array:literal;)*) => {
        $(
            impl SqlType for $ty {
                const SQL_TYPE: &'static str = $sql;
            }
            impl SqlType for Vec<$ty> {
                const SQL_TYPE: &'static str = $array;
            }
        )*
    };
}

sql_types! {
    Uuid => "uuid", "uuid[]";
    String => "text", "text[]";
    bool => "boolean", "boolean[]";
    i16 => "smallint", "smallint[]";
    i32 => "integer", "integer[]";
    i64 => "bigint", "bigint[]";
    f32 => "real", "real[]";
    f64 => "double precision", "double precision[]";
    DateTime<Utc> => "timestamptz", "timestamptz[]";
    NaiveDateTime => "timestamp", "timestamp[]";
    NaiveDate => "date", "date[]";
}

impl SqlType for Vec<u8> {
    const SQL_TYPE: &'static str = "bytea";
}

#[cfg(feature = "json")]
impl SqlType for serde_json::Value {
    const SQL_TYPE: &'static str = "jsonb";
}

/// Arrays of text enums: `text[]`, each element checked against the variants.
impl<T: crate::text_enum::TextEnum> SqlType for Vec<T> {
    const SQL_TYPE: &'static str = "text[]";
    const CHECK: Option<&'static [&'static str]> = Some(T::VARIANTS);
}

impl<T: SqlType> SqlType for Option<T> {
    const SQL_TYPE: &'static str = T::SQL_TYPE;
    const NULLABLE: bool = true;
    const CHECK: Option<&'static [&'static str]> = T::CHECK;
}
