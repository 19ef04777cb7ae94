//! Identifier quoting and qualified names (pure, unit-tested).

/// Quotes an identifier for PostgreSQL: wrapped in `"`, inner `"` doubled.
///
/// ```
/// assert_eq!(skelly_db::sql::quote_ident("user"), "\"user\"");
/// assert_eq!(skelly_db::sql::quote_ident("a\"b"), "\"a\"\"b\"");
/// ```
pub fn quote_ident(ident: &str) -> String {
    let mut out = String::with_capacity(ident.len() + 2);
    push_ident(&mut out, ident);
    out
}

/// Appends `ident` quoted as [`quote_ident`] does, without a String of its own (queries are
/// rendered per call).
pub(crate) fn push_ident(out: &mut String, ident: &str) {
    out.push('"');
    if ident.contains('"') {
        out.push_str(&ident.replace('"', "\"\""));
    } else {
        out.push_str(ident);
    }
    out.push('"');
}

/// Appends the placeholder `$n`.
pub(crate) fn push_placeholder(out: &mut String, n: usize) {
    out.push('$');
    let mut digits = [0u8; 20];
    let mut len = 0;
    let mut rest = n;
    loop {
        digits[len] = b'0' + (rest % 10) as u8;
        len += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend(digits[..len].iter().rev().map(|&d| char::from(d)));
}

/// `"schema"."table"`, both parts quoted.
///
/// ```
/// assert_eq!(skelly_db::sql::qualified("user", "users"), "\"user\".\"users\"");
/// ```
pub fn qualified(schema: &str, table: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(table))
}

/// Quotes a string literal for PostgreSQL (for DDL, where parameters cannot be used).
///
/// ```
/// assert_eq!(skelly_db::sql::quote_literal("it's"), "'it''s'");
/// ```
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote_ident(""), "\"\"");
        assert_eq!(quote_ident("Mixed Case"), "\"Mixed Case\"");
        assert_eq!(qualified("a\"", "b"), "\"a\"\"\".\"b\"");
        assert_eq!(quote_literal("a'b'"), "'a''b'''");
        let mut out = String::from("x ");
        push_ident(&mut out, "a\"b\"");
        push_ident(&mut out, "é");
        assert_eq!(out, "x \"a\"\"b\"\"\"\"é\"");
    }

    #[test]
    fn placeholders() {
        for n in [0, 1, 9, 10, 99, 100, 65_535, usize::MAX] {
            let mut out = String::from("= ");
            push_placeholder(&mut out, n);
            assert_eq!(out, format!("= ${n}"));
        }
    }
}
