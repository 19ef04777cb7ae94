//! Identifier quoting and qualified names (pure, unit-tested).

/// Quotes an identifier for PostgreSQL: wrapped in `"`, inner `"` doubled.
///
/// ```
/// assert_eq!(skelly_db::sql::quote_ident("user"), "\"user\"");
/// assert_eq!(skelly_db::sql::quote_ident("a\"b"), "\"a\"\"b\"");
/// ```
pub fn quote_ident(ident: &str) -> String {
    let mut out = String::with_capacity(ident.len() + 2);
    out.push('"');
    for c in ident.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
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
    }
}
