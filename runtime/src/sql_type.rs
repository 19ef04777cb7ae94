//! [`SqlType`]: the SQL type of each supported Rust field type.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use tokio_postgres::types::{FromSql, ToSql, Type, WrongType};
use uuid::Uuid;

use crate::error::BoxError;

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
/// | `chrono::NaiveTime` | `time` |
/// | `std::net::IpAddr` | `inet` |
/// | `rust_decimal::Decimal` (feature `decimal`) | `numeric` |
/// | `Vec<u8>` | `bytea` |
/// | `serde_json::Value` (feature `json`) | `jsonb` |
/// | `Vec<T>` of the scalars above, or of a text enum | `T[]` |
/// | `Option<T>` | `T`, nullable |
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no SQL mapping",
    label = "no SQL type is known for this field type",
    note = "supported: Uuid, String, bool, i16, i32, i64, f32, f64, DateTime<Utc>, NaiveDateTime, NaiveDate, NaiveTime, IpAddr, Vec<u8>, Decimal (feature `decimal`), serde_json::Value (feature `json`), Vec<T> of these, Option<T>, and #[derive(TextEnum)] enums",
    note = "for another type that implements ToSql and FromSql, name its SQL type: #[table(sql_type = \"citext\")]"
)]
// `ToSql` as a supertrait: the derive binds a field through `SqlType` alone, so a type with no
// mapping is one error (this trait's), not one more per place the field is bound.
pub trait SqlType: ToSql + for<'a> FromSql<'a> {
    /// The SQL type, e.g. `text`.
    const SQL_TYPE: &'static str;
    /// Whether the column takes NULL.
    const NULLABLE: bool = false;
    /// The allowed values, for text enums.
    const CHECK: Option<&'static [&'static str]> = None;

    /// Decodes one value of a column of type `ty` (`None` for NULL), as `from_row` does.
    ///
    /// The default is the type's `FromSql` behind its `accepts` check, as `Row::try_get` does.
    /// `String`, `DateTime<Utc>` and `NaiveDateTime` decode the common column types directly
    /// (same results and errors), which makes reading rows cheaper than mapping them by hand.
    #[doc(hidden)]
    #[inline]
    fn decode(ty: &Type, raw: Option<&[u8]>) -> Result<Self, BoxError> {
        from_sql_checked(ty, raw)
    }

    /// Decodes column `index` of `row` through [`SqlType::decode`], naming the column on
    /// failure: what `from_row` calls for each field. A method of this trait (not a generic
    /// function bounded by it), so that a field type without a mapping is reported once.
    #[doc(hidden)]
    #[inline(always)]
    fn decode_column(
        row: &tokio_postgres::Row,
        index: usize,
        column: &str,
    ) -> crate::error::Result<Self>
    where
        Self: Sized,
    {
        crate::__private::decode::<Self>(row, index, column)
    }

    /// The field as a statement parameter: what the insert and patch structs bind. A method of
    /// this trait, as [`SqlType::decode_column`], so that a type without a mapping is one error.
    #[doc(hidden)]
    #[inline(always)]
    fn bind(&self) -> &(dyn ToSql + Sync)
    where
        Self: Sized + Sync,
    {
        self
    }
}

/// What `Row::try_get` does once it has the column: the type check, then `FromSql`.
#[inline]
fn from_sql_checked<T: for<'a> FromSql<'a>>(ty: &Type, raw: Option<&[u8]>) -> Result<T, BoxError> {
    if !T::accepts(ty) {
        return Err(Box::new(WrongType::new::<T>(ty.clone())));
    }
    T::from_sql_nullable(ty, raw)
}

/// `text` and its kin as `String`: tokio-postgres's `FromSql for &str` first compares the type's
/// name with `ltree`, `lquery` and `ltxtquery` on every value; for the plain text types the
/// value is just UTF-8.
#[inline]
fn decode_string(ty: &Type, raw: Option<&[u8]>) -> Result<String, BoxError> {
    match (ty, raw) {
        (&Type::TEXT | &Type::VARCHAR | &Type::BPCHAR | &Type::NAME, Some(raw)) => {
            Ok(utf8(raw)?.to_owned())
        }
        _ => from_sql_checked(ty, raw),
    }
}

/// `raw` as text: `std::str::from_utf8`, with a shortcut for ASCII (most stored text: emails,
/// names, enum values), which the standard check walks through a byte at a time when short.
/// Measured: about 75 instructions less per short string.
#[inline]
pub(crate) fn utf8(raw: &[u8]) -> Result<&str, std::str::Utf8Error> {
    if raw.is_ascii() {
        // SAFETY: ASCII is valid UTF-8.
        Ok(unsafe { std::str::from_utf8_unchecked(raw) })
    } else {
        std::str::from_utf8(raw)
    }
}

/// Microseconds from 1970-01-01 (Unix) to 2000-01-01 (PostgreSQL's epoch).
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// A binary `timestamp`/`timestamptz` value: microseconds since 2000-01-01 00:00 UTC, as one
/// conversion from the Unix epoch instead of chrono date arithmetic (what postgres-types does).
/// Values chrono cannot hold, including `infinity`, are the same error as postgres-types'.
#[inline]
fn timestamp_from_sql(raw: &[u8]) -> Result<NaiveDateTime, BoxError> {
    let bytes: [u8; 8] = raw
        .try_into()
        .map_err(|_| format!("invalid timestamp: {} bytes, expected 8", raw.len()))?;
    i64::from_be_bytes(bytes)
        .checked_add(POSTGRES_EPOCH_MICROS)
        .and_then(DateTime::from_timestamp_micros)
        .map(|t| t.naive_utc())
        .ok_or_else(|| "value too large to decode".into())
}

#[inline]
fn decode_timestamptz(ty: &Type, raw: Option<&[u8]>) -> Result<DateTime<Utc>, BoxError> {
    match (ty, raw) {
        (&Type::TIMESTAMPTZ, Some(raw)) => timestamp_from_sql(raw).map(|t| t.and_utc()),
        _ => from_sql_checked(ty, raw),
    }
}

#[inline]
fn decode_timestamp(ty: &Type, raw: Option<&[u8]>) -> Result<NaiveDateTime, BoxError> {
    match (ty, raw) {
        (&Type::TIMESTAMP, Some(raw)) => timestamp_from_sql(raw),
        _ => from_sql_checked(ty, raw),
    }
}

macro_rules! sql_types {
    ($($ty:ty => $sql:literal, $array:literal $(, $decode:ident)?;)*) => {
        $(
            impl SqlType for $ty {
                const SQL_TYPE: &'static str = $sql;
                $(
                    #[inline]
                    fn decode(ty: &Type, raw: Option<&[u8]>) -> Result<Self, BoxError> {
                        $decode(ty, raw)
                    }
                )?
            }
            impl SqlType for Vec<$ty> {
                const SQL_TYPE: &'static str = $array;
            }
        )*
    };
}

sql_types! {
    Uuid => "uuid", "uuid[]";
    String => "text", "text[]", decode_string;
    bool => "boolean", "boolean[]";
    i16 => "smallint", "smallint[]";
    i32 => "integer", "integer[]";
    i64 => "bigint", "bigint[]";
    f32 => "real", "real[]";
    f64 => "double precision", "double precision[]";
    DateTime<Utc> => "timestamptz", "timestamptz[]", decode_timestamptz;
    NaiveDateTime => "timestamp", "timestamp[]", decode_timestamp;
    NaiveDate => "date", "date[]";
    NaiveTime => "time", "time[]";
    std::net::IpAddr => "inet", "inet[]";
}

impl SqlType for Vec<u8> {
    const SQL_TYPE: &'static str = "bytea";
}

/// `numeric`; name the precision with `#[table(sql_type = "numeric(12, 2)")]`. Values round-trip
/// exactly (up to rust_decimal's 28 significant digits).
#[cfg(feature = "decimal")]
impl SqlType for rust_decimal::Decimal {
    const SQL_TYPE: &'static str = "numeric";
}

#[cfg(feature = "decimal")]
impl SqlType for Vec<rust_decimal::Decimal> {
    const SQL_TYPE: &'static str = "numeric[]";
}

#[cfg(feature = "json")]
impl SqlType for serde_json::Value {
    const SQL_TYPE: &'static str = "jsonb";
}

/// `jsonb[]`, as existing schemas have it.
#[cfg(feature = "json")]
impl SqlType for Vec<serde_json::Value> {
    const SQL_TYPE: &'static str = "jsonb[]";
}

/// A text enum as the element of an array column (`Vec<Role>`): implemented by
/// `#[derive(TextEnum)]`. One trait (not `TextEnum + SqlType`), so that a `Vec` of a type with
/// no mapping is one error.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`Vec<{Self}>` has no SQL mapping",
    label = "no SQL array type is known for this field type",
    note = "arrays map Vec<T> of Uuid, String, bool, i16, i32, i64, f32, f64, DateTime<Utc>, NaiveDateTime, NaiveDate, NaiveTime, IpAddr, Decimal (feature `decimal`), and of #[derive(TextEnum)] enums",
    note = "for another type that implements ToSql and FromSql, name its SQL type: #[table(sql_type = \"citext[]\")]"
)]
pub trait ArrayElement: SqlType + crate::text_enum::TextEnum {}

/// Arrays of text enums: `text[]`, each element checked against the variants (or the enum
/// type's array).
impl<T: ArrayElement> SqlType for Vec<T> {
    const SQL_TYPE: &'static str = T::ARRAY_SQL_TYPE;
    const CHECK: Option<&'static [&'static str]> = Some(T::VARIANTS);
}

impl<T: SqlType> SqlType for Option<T> {
    const SQL_TYPE: &'static str = T::SQL_TYPE;
    const NULLABLE: bool = true;
    const CHECK: Option<&'static [&'static str]> = T::CHECK;

    #[inline]
    fn decode(ty: &Type, raw: Option<&[u8]>) -> Result<Self, BoxError> {
        match raw {
            Some(_) => T::decode(ty, raw).map(Some).map_err(|e| {
                // Name the Option, as Row::try_get does.
                if <T as FromSql>::accepts(ty) {
                    e
                } else {
                    Box::new(WrongType::new::<Self>(ty.clone())) as BoxError
                }
            }),
            // A NULL still has to come from a column of the right type.
            None if <T as FromSql>::accepts(ty) => Ok(None),
            None => Err(Box::new(WrongType::new::<Self>(ty.clone()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `Row::try_get` would have returned: postgres-types' own decoding.
    fn stock<T: for<'a> FromSql<'a>>(ty: &Type, raw: Option<&[u8]>) -> Result<T, String> {
        from_sql_checked(ty, raw).map_err(|e| e.to_string())
    }

    fn ours<T: SqlType>(ty: &Type, raw: Option<&[u8]>) -> Result<T, String> {
        T::decode(ty, raw).map_err(|e| e.to_string())
    }

    #[test]
    fn timestamps_decode_as_postgres_types_does() {
        let day = 86_400_000_000i64;
        let mut values = vec![
            0,
            1,
            -1,
            999_999,
            -999_999,
            1_000_000,
            day - 1,
            -day,
            -day - 1,
            // 1970-01-01, 1900-01-01, 0001-01-01 and Julian day 0 (4713 BC, PostgreSQL's lowest).
            -POSTGRES_EPOCH_MICROS,
            -3_155_673_600_000_000,
            -63_082_281_600_000_000,
            -211_813_488_000_000_000,
            // 294276-12-31 (PostgreSQL's highest, past chrono's), infinity, -infinity.
            9_223_371_331_199_999_999,
            i64::MAX,
            i64::MIN,
            i64::MAX - POSTGRES_EPOCH_MICROS,
            i64::MAX - POSTGRES_EPOCH_MICROS + 1,
        ];
        // Chrono's limits, from both sides.
        for limit in [NaiveDateTime::MIN, NaiveDateTime::MAX] {
            let micros = limit.and_utc().timestamp_micros() - POSTGRES_EPOCH_MICROS;
            values.extend([micros - 1, micros, micros + 1]);
        }
        // A spread of ordinary instants, leap days and negative years included.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push((x as i64) % (400 * 366 * day * 20));
        }
        for t in values {
            let raw = t.to_be_bytes();
            assert_eq!(
                ours::<DateTime<Utc>>(&Type::TIMESTAMPTZ, Some(&raw)),
                stock::<DateTime<Utc>>(&Type::TIMESTAMPTZ, Some(&raw)),
                "timestamptz {t}"
            );
            assert_eq!(
                ours::<NaiveDateTime>(&Type::TIMESTAMP, Some(&raw)),
                stock::<NaiveDateTime>(&Type::TIMESTAMP, Some(&raw)),
                "timestamp {t}"
            );
        }
    }

    #[test]
    fn wrong_types_and_nulls_are_the_errors_postgres_types_gives() {
        let raw = 0i64.to_be_bytes();
        for (ty, raw) in [
            (Type::TIMESTAMP, Some(&raw[..])),
            (Type::DATE, Some(&raw[..4])),
            (Type::TIMESTAMPTZ, None),
            (Type::INT8, Some(&raw[..])),
        ] {
            assert_eq!(
                ours::<DateTime<Utc>>(&ty, raw),
                stock::<DateTime<Utc>>(&ty, raw),
                "{ty}"
            );
            assert_eq!(
                ours::<NaiveDateTime>(&ty, raw),
                stock::<NaiveDateTime>(&ty, raw),
                "{ty}"
            );
            assert_eq!(
                ours::<Option<DateTime<Utc>>>(&ty, raw),
                stock::<Option<DateTime<Utc>>>(&ty, raw),
                "{ty}"
            );
        }
        assert!(ours::<DateTime<Utc>>(&Type::TIMESTAMPTZ, Some(&raw[..7])).is_err());
        assert_eq!(
            ours::<Option<String>>(&Type::INT4, None),
            stock::<Option<String>>(&Type::INT4, None)
        );
        assert!(ours::<Option<String>>(&Type::INT4, None).is_err());
    }

    #[test]
    fn text_decodes_as_postgres_types_does() {
        let cases: [(Type, Option<&[u8]>); 8] = [
            (Type::TEXT, Some(b"plain")),
            (Type::VARCHAR, Some("é ü 日本".as_bytes())),
            (Type::BPCHAR, Some(b"padded  ")),
            (Type::NAME, Some(b"")),
            (Type::TEXT, Some(b"\xff\xfe")),
            (Type::TEXT, None),
            (Type::INT4, Some(&[0, 0, 0, 1])),
            (Type::UNKNOWN, Some(b"unknown")),
        ];
        for (ty, raw) in cases {
            assert_eq!(ours::<String>(&ty, raw), stock::<String>(&ty, raw), "{ty}");
            assert_eq!(
                ours::<Option<String>>(&ty, raw),
                stock::<Option<String>>(&ty, raw),
                "{ty}"
            );
        }
    }
}
