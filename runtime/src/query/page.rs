//! Keyset pagination: pages through a query by its `order_by` columns (ties broken by the
//! primary key) with an opaque cursor, so that inserts between pages neither repeat nor skip
//! rows and a deep page costs what the first one does.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// One page of rows and the cursor of the next, if there are more.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The rows, in the query's order.
    pub rows: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
}

/// Where a page ends: the ordering values of its last row. Opaque; it round-trips through a
/// string (URL-safe) for HTTP APIs. A cursor that was edited, cut or made by another query is
/// [`Error::InvalidCursor`]; its values are only ever bound as parameters.
///
/// ```
/// # fn f(cursor: skelly_db::query::Cursor) -> skelly_db::Result<()> {
/// let text = cursor.to_string(); // e.g. a `next` link
/// let again: skelly_db::query::Cursor = text.parse()?;
/// assert_eq!(again, cursor);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Which query (table, ordering) made it.
    pub(crate) shape: [u8; 8],
    /// The last row's ordering values, as text.
    pub(crate) values: Vec<String>,
}

/// Cuts a page's rows (fetched with one row more than `size`) to `size`, and reads the next
/// page's cursor values from the last row kept: the ordering columns, selected as text after
/// the `width` columns of the rows' tables, named by `names` for a decoding error. `None` on the
/// last page. One piece for a table's pages and a join's.
pub(crate) fn cut_page(
    rows: &mut Vec<tokio_postgres::Row>,
    size: i64,
    width: usize,
    names: &mut dyn Iterator<Item = &str>,
) -> crate::Result<Option<Vec<String>>> {
    if rows.len() as i64 <= size {
        return Ok(None);
    }
    rows.truncate(size as usize);
    let Some(row) = rows.last() else {
        return Ok(None);
    };
    names
        .enumerate()
        .map(|(k, name)| {
            row.try_get::<_, String>(width + k)
                .map_err(|e| crate::Error::decode(name, e))
        })
        .collect::<crate::Result<Vec<_>>>()
        .map(Some)
}

impl Cursor {
    pub(crate) fn new(shape: [u8; 8], values: Vec<String>) -> Cursor {
        Cursor { shape, values }
    }

    fn payload(&self) -> Vec<u8> {
        let mut out = self.shape.to_vec();
        for v in &self.values {
            out.extend_from_slice(&(v.len() as u32).to_be_bytes());
            out.extend_from_slice(v.as_bytes());
        }
        out
    }
}

/// The first 8 bytes of SHA-256 of `parts`, each length-prefixed.
pub(crate) fn digest8<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> [u8; 8] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u32).to_be_bytes());
        hasher.update(part);
    }
    let full = hasher.finalize();
    let mut out = [0; 8];
    out.copy_from_slice(&full[..8]);
    out
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A checksum over the payload catches an edited or cut cursor.
        let payload = self.payload();
        let mut bytes = digest8([payload.as_slice()]).to_vec();
        bytes.extend_from_slice(&payload);
        f.write_str(&base64url(&bytes))
    }
}

/// A cursor is its string: `?after=...` in a query string deserializes into `Option<Cursor>`
/// (axum's `Query`, serde_urlencoded), and it serializes back to the same string.
///
/// ```
/// # fn f(cursor: skelly_db::query::Cursor) {
/// use serde::de::value::{Error, StrDeserializer};
/// use serde::Deserialize;
///
/// let text = cursor.to_string();
/// let again = skelly_db::query::Cursor::deserialize(StrDeserializer::<Error>::new(&text)).unwrap();
/// assert_eq!(again, cursor);
/// # }
/// ```
impl<'de> serde::Deserialize<'de> for Cursor {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Cursor;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a page cursor (the `next` of a page, as a string)")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> std::result::Result<Cursor, E> {
                text.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

impl serde::Serialize for Cursor {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl FromStr for Cursor {
    type Err = Error;

    fn from_str(text: &str) -> Result<Cursor> {
        let invalid = |why: &str| Error::InvalidCursor(why.to_string());
        let bytes =
            from_base64url(text).ok_or_else(|| invalid("not a cursor this API gave out"))?;
        if bytes.len() < 16 {
            return Err(invalid("too short: it was cut"));
        }
        let (sum, payload) = bytes.split_at(8);
        if sum != digest8([payload]) {
            return Err(invalid("its checksum does not match: it was edited or cut"));
        }
        let mut shape = [0; 8];
        shape.copy_from_slice(&payload[..8]);
        let mut rest = &payload[8..];
        let mut values = Vec::new();
        while !rest.is_empty() {
            let (len, tail) = rest
                .split_at_checked(4)
                .ok_or_else(|| invalid("malformed"))?;
            let len = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
            let (value, tail) = tail
                .split_at_checked(len)
                .ok_or_else(|| invalid("malformed"))?;
            values.push(String::from_utf8(value.to_vec()).map_err(|_| invalid("malformed"))?);
            rest = tail;
        }
        Ok(Cursor { shape, values })
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Base64 with the URL-safe alphabet and no padding (RFC 4648 §5).
fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
        }
    }
    out
}

fn from_base64url(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let digits: Option<Vec<u32>> = text
        .bytes()
        .map(|c| ALPHABET.iter().position(|&a| a == c).map(|p| p as u32))
        .collect();
    let digits = digits?;
    for chunk in digits.chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, d)| n | (d << (18 - 6 * i)));
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips() {
        for bytes in [
            &b""[..],
            b"f",
            b"fo",
            b"foo",
            b"foob",
            b"fooba",
            b"foobar",
            &[255, 0, 254],
        ] {
            let text = base64url(bytes);
            assert!(text.bytes().all(|c| ALPHABET.contains(&c)));
            assert_eq!(from_base64url(&text).unwrap(), bytes);
        }
        assert_eq!(base64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        assert!(from_base64url("a").is_none());
        assert!(from_base64url("ab+c").is_none());
    }

    #[test]
    fn cursors_round_trip_and_refuse_edits() {
        let c = Cursor::new(
            [1; 8],
            vec![
                "2024-01-01 00:00:00+00".into(),
                "it's".into(),
                String::new(),
            ],
        );
        let text = c.to_string();
        assert_eq!(text.parse::<Cursor>().unwrap(), c);
        // Any one character changed, or the text cut: refused, never decoded into values.
        for i in 0..text.len() {
            let mut edited: Vec<u8> = text.bytes().collect();
            edited[i] = if edited[i] == b'A' { b'B' } else { b'A' };
            let edited = String::from_utf8(edited).unwrap();
            if edited != text {
                assert!(
                    matches!(edited.parse::<Cursor>(), Err(Error::InvalidCursor(_))),
                    "{edited}"
                );
            }
        }
        assert!(matches!(
            text[..text.len() - 3].parse::<Cursor>(),
            Err(Error::InvalidCursor(_))
        ));
        assert!(matches!(
            "x'); DROP TABLE users; --".parse::<Cursor>(),
            Err(Error::InvalidCursor(_))
        ));
    }
}
