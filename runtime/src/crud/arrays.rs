//! One array parameter per inserted column for the UNNEST statements of `insert_many` and
//! `bulk_insert`, built from each row's [`Insert::bind`]: one copy of this code serves every
//! table, where a typed `Vec<&V>` per column cost every table an iterator chain per column.

use std::error::Error as StdError;

use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{IsNull, Kind, ToSql, Type};

use crate::executor::Param;
use crate::table::Insert;

/// The values of one column across a batch of rows, sent as a one-dimensional PostgreSQL
/// array of the element type the statement casts it to (`$1::integer[]`). Each element goes
/// out through its own `ToSql`, which checks that it takes that type: a value of another type
/// is the same `WrongType` error a typed `Vec<V>` gives (and lets the unnamed-statement path
/// find the array's type by trying the built-in ones).
#[derive(Debug)]
pub(crate) struct ColumnArray<'a> {
    values: Vec<Param<'a>>,
}

/// The column arrays of `rows`, one per inserted column, in column order.
pub(crate) fn column_arrays<'a, N: Insert>(rows: &'a [N], columns: usize) -> Vec<ColumnArray<'a>> {
    let mut flat: Vec<Param<'a>> = Vec::with_capacity(rows.len() * columns);
    for row in rows {
        row.bind(&mut flat);
    }
    transpose(flat, columns)
}

/// The arrays as a statement's parameters.
pub(crate) fn array_params<'p>(arrays: &'p [ColumnArray<'_>]) -> Vec<Param<'p>> {
    arrays.iter().map(|a| a as Param<'p>).collect()
}

// Row-major values (each row's columns in turn) to one array per column.
fn transpose(flat: Vec<Param<'_>>, columns: usize) -> Vec<ColumnArray<'_>> {
    let rows = flat.len().checked_div(columns).unwrap_or(0);
    let mut arrays: Vec<ColumnArray<'_>> = (0..columns)
        .map(|_| ColumnArray {
            values: Vec::with_capacity(rows),
        })
        .collect();
    for (i, value) in flat.into_iter().enumerate() {
        arrays[i % columns].values.push(value);
    }
    arrays
}

impl ToSql for ColumnArray<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        let Kind::Array(member) = ty.kind() else {
            return Err(format!("a column of values goes out as an array, not as {ty}").into());
        };
        // The binary array format: dimensions, a has-nulls flag, the element type, then per
        // dimension its length and lower bound; then each element, its length first.
        let start = out.len();
        out.put_i32(1);
        out.put_i32(0);
        out.put_u32(member.oid());
        out.put_i32(i32::try_from(self.values.len())?);
        out.put_i32(1);
        let mut has_nulls = false;
        for value in &self.values {
            let at = out.len();
            out.put_i32(0);
            match value.to_sql_checked(member, out)? {
                IsNull::Yes => {
                    has_nulls = true;
                    out[at..at + 4].copy_from_slice(&(-1i32).to_be_bytes());
                }
                IsNull::No => {
                    let len = i32::try_from(out.len() - at - 4)?;
                    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
                }
            }
        }
        out[start + 4..start + 8].copy_from_slice(&i32::from(has_nulls).to_be_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(ty.kind(), Kind::Array(_))
    }

    tokio_postgres::types::to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_transposed_from_rows() {
        let (a, b, c, d, e, f) = (1i32, "x", 2i32, "y", 3i32, "z");
        let flat: Vec<Param<'_>> = vec![&a, &b, &c, &d, &e, &f];
        let arrays = transpose(flat, 2);
        assert_eq!(arrays.len(), 2);
        assert_eq!(format!("{:?}", arrays[0].values), "[1, 2, 3]");
        assert_eq!(format!("{:?}", arrays[1].values), "[\"x\", \"y\", \"z\"]");
    }

    #[test]
    fn encodes_as_the_typed_vec_does() {
        let (a, b) = (Some(7i64), None::<i64>);
        let array = ColumnArray {
            values: vec![&a, &b],
        };
        let mut ours = BytesMut::new();
        array.to_sql_checked(&Type::INT8_ARRAY, &mut ours).unwrap();
        let mut theirs = BytesMut::new();
        vec![a, b]
            .to_sql_checked(&Type::INT8_ARRAY, &mut theirs)
            .unwrap();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn an_element_of_another_type_is_the_wrong_type() {
        let (a, b) = (1i32, 2i32);
        let array = ColumnArray {
            values: vec![&a, &b],
        };
        let Err(err) = array.to_sql_checked(&Type::TEXT_ARRAY, &mut BytesMut::new()) else {
            panic!("integers went out as text");
        };
        assert!(err.is::<tokio_postgres::types::WrongType>(), "{err}");
        assert!(array
            .to_sql_checked(&Type::INT4, &mut BytesMut::new())
            .is_err());
    }
}
