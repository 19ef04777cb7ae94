//! The array parameter of `is_in`.

use super::expr::Value;

/// Values of one column as a single PostgreSQL array parameter (binary format), for
/// `column = ANY($n)`: the server infers the array type from the column, and each element is
/// checked against its element type as it is written.
#[derive(Debug)]
pub(crate) struct ValueArray(pub(crate) Vec<Value>);

impl tokio_postgres::types::ToSql for ValueArray {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use bytes::BufMut;
        let tokio_postgres::types::Kind::Array(member) = ty.kind() else {
            return Err(format!("is_in values bound to a non-array type {ty}").into());
        };
        let count = i32::try_from(self.0.len()).map_err(|_| "too many values for one array")?;
        out.put_i32(1); // dimensions
        let has_null_at = out.len();
        out.put_i32(0); // has nulls: filled in below
        out.put_u32(member.oid());
        out.put_i32(count);
        out.put_i32(1); // lower bound
        let mut has_null = false;
        for value in &self.0 {
            let len_at = out.len();
            out.put_i32(0);
            let start = out.len();
            match value.to_sql_checked(member, out)? {
                tokio_postgres::types::IsNull::Yes => {
                    has_null = true;
                    out[len_at..start].copy_from_slice(&(-1i32).to_be_bytes());
                }
                tokio_postgres::types::IsNull::No => {
                    let len = i32::try_from(out.len() - start)
                        .map_err(|_| "an is_in value over 2 GiB")?;
                    out[len_at..start].copy_from_slice(&len.to_be_bytes());
                }
            }
        }
        if has_null {
            out[has_null_at..has_null_at + 4].copy_from_slice(&1i32.to_be_bytes());
        }
        Ok(tokio_postgres::types::IsNull::No)
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        matches!(ty.kind(), tokio_postgres::types::Kind::Array(_))
    }

    tokio_postgres::types::to_sql_checked!();
}
