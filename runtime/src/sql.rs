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

/// Appends the placeholder `$n` for a value of a column of `sql_type`, cast to that type when
/// the value cannot name it itself (see [`casts_param`]).
pub(crate) fn push_param(out: &mut String, n: usize, sql_type: &str) {
    push_placeholder(out, n);
    if casts_param(sql_type) {
        out.push_str("::");
        out.push_str(sql_type);
    }
}

/// Whether a value bound to a column of `sql_type` is written `$n::type`: for every type that
/// is not one of PostgreSQL's built-in scalar types (native enums, domains, extension types such
/// as `hstore` or `citext`, ranges, and arrays of them). Without a prepared statement (statement
/// cache size 0, behind a transaction-mode pooler) a value goes out as the built-in type its
/// Rust type accepts first (`text` for an enum), which the server does not convert to such a
/// column by itself; with one, the cast changes nothing. Built-in types are never cast: an
/// explicit cast to `varchar(n)` or `bit(n)` would truncate where an assignment fails.
pub(crate) fn casts_param(sql_type: &str) -> bool {
    let mut base = sql_type.trim();
    while let Some(rest) = base.strip_suffix("[]") {
        base = rest.trim_end();
    }
    if base.starts_with('"') {
        // A quoted name is a user's type, except the one-byte "char".
        return base != "\"char\"";
    }
    let mut plain = String::with_capacity(base.len());
    let mut depth = 0usize;
    for c in base.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => plain.extend(c.to_lowercase()),
            _ => {}
        }
    }
    let plain = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    !BUILT_IN_TYPES.contains(&plain.as_str())
}

/// Appends a column of a SELECT list or RETURNING, `alias`-qualified when given. A native enum
/// column (`check` set, and a type [`casts_param`] casts) is read as `text` under its own name:
/// its type is not built in, and tokio-postgres looks an unknown result type up with a named
/// statement of its own, which a transaction-mode pooler leaves on a server connection; text
/// enums decode from `text` all the same.
pub(crate) fn push_read_column(
    out: &mut String,
    alias: Option<&str>,
    name: &str,
    sql_type: &str,
    enum_like: bool,
) {
    if let Some(alias) = alias {
        push_ident(out, alias);
        out.push('.');
    }
    push_ident(out, name);
    if enum_like && casts_param(sql_type) {
        out.push_str(if sql_type.trim_end().ends_with("[]") {
            "::text[] AS "
        } else {
            "::text AS "
        });
        push_ident(out, name);
    }
}

/// The built-in scalar types, as they are spelt in `sql_type` (lower case, without a length,
/// precision or array brackets).
const BUILT_IN_TYPES: &[&str] = &[
    "text",
    "varchar",
    "character varying",
    "char",
    "character",
    "bpchar",
    "name",
    "integer",
    "int",
    "int4",
    "bigint",
    "int8",
    "smallint",
    "int2",
    "serial",
    "bigserial",
    "smallserial",
    "boolean",
    "bool",
    "uuid",
    "timestamptz",
    "timestamp with time zone",
    "timestamp",
    "timestamp without time zone",
    "date",
    "time",
    "time without time zone",
    "timetz",
    "time with time zone",
    "double precision",
    "float8",
    "real",
    "float4",
    "float",
    "numeric",
    "decimal",
    "bytea",
    "jsonb",
    "json",
    "inet",
    "cidr",
    "macaddr",
    "macaddr8",
    "oid",
    "interval",
    "bit",
    "bit varying",
    "varbit",
    "money",
    "xml",
];

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
    fn casts_only_types_a_value_cannot_name() {
        for ty in [
            "\"docs\".\"doc_state\"",
            "\"docs\".\"doc_state\"[]",
            "hstore",
            "citext",
            "int8range",
            "tsvector",
            "public.my_domain",
            "point",
        ] {
            assert!(casts_param(ty), "{ty}");
        }
        for ty in [
            "text",
            "varchar(20)",
            "varchar(20)[]",
            "character varying(3)",
            "numeric(10, 2)",
            "timestamp(3) with time zone",
            "TIMESTAMPTZ",
            "integer[]",
            "\"char\"",
            "bit(4)",
            "jsonb[]",
        ] {
            assert!(!casts_param(ty), "{ty}");
        }
        let mut out = String::new();
        push_param(&mut out, 3, "\"a\".\"e\"");
        push_param(&mut out, 12, "text");
        assert_eq!(out, "$3::\"a\".\"e\"$12");
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
