//! How the catalog's spelling and the struct's are brought to one form before comparing (pure,
//! unit-tested): type aliases, default expressions, index predicates, check literals.

/// One spelling per SQL type: `timestamptz` and `timestamp with time zone` are both
/// `timestamp with time zone`, `int4` is `integer`, `varchar(255)` is
/// `character varying(255)`; arrays keep their `[]`.
///
/// ```
/// use skelly_db::schema::canonical_type;
/// assert_eq!(canonical_type("timestamptz"), canonical_type("timestamp with time zone"));
/// assert_eq!(canonical_type("VARCHAR(255)"), "character varying(255)");
/// assert_eq!(canonical_type("int4[]"), "integer[]");
/// ```
pub fn canonical_type(sql_type: &str) -> String {
    let lower = sql_type.trim().to_ascii_lowercase();
    // The one-byte internal type, not `char(1)`.
    if lower == "\"char\"" || lower == "pg_catalog.\"char\"" {
        return "\"char\"".to_string();
    }
    let mut words: String = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut dims = 0;
    while let Some(base) = words.strip_suffix("[]") {
        words = base.trim_end().to_string();
        dims += 1;
    }
    // `numeric(10, 2)` as the catalog prints it: `numeric(10,2)`.
    let words = words.replace(", ", ",").replace(" (", "(");
    // An enum type: `"app"."status"` as a struct writes it, `app.status` as the catalog prints
    // it, without `public.`, which is on the search path.
    let words = words.replace('"', "");
    let words = words.strip_prefix("pg_catalog.").unwrap_or(&words);
    let words = words.strip_prefix("public.").unwrap_or(words);
    // `timestamp(3) with time zone`: the modifier sits inside the name.
    let (base, modifier) = match words.split_once('(') {
        Some((before, rest)) => match rest.split_once(')') {
            Some((inside, after)) => (
                format!("{} {}", before.trim(), after.trim())
                    .trim()
                    .to_string(),
                format!("({inside})"),
            ),
            None => (before.to_string(), format!("({rest}")),
        },
        None => (words.to_string(), String::new()),
    };
    let base = base.as_str();
    let base = match base {
        "int" | "int4" | "integer" | "serial" | "serial4" => "integer",
        "int2" | "smallint" | "smallserial" | "serial2" => "smallint",
        "int8" | "bigint" | "bigserial" | "serial8" => "bigint",
        "bool" | "boolean" => "boolean",
        "float8" | "float" | "double precision" => "double precision",
        "float4" | "real" => "real",
        "timestamptz" | "timestamp with time zone" => "timestamp with time zone",
        "timestamp" | "timestamp without time zone" => "timestamp without time zone",
        "timetz" | "time with time zone" => "time with time zone",
        "time" | "time without time zone" => "time without time zone",
        "varchar" | "character varying" => "character varying",
        "char" | "character" | "bpchar" => "character",
        "decimal" | "numeric" => "numeric",
        other => other,
    };
    // `char` alone is `char(1)`.
    let modifier = if base == "character" && modifier.is_empty() {
        "(1)".to_string()
    } else {
        modifier
    };
    format!("{base}{modifier}{}", "[]".repeat(dims))
}

/// A default expression in one form: casts the catalog adds (`'x'::text`), outer parentheses
/// and case dropped; `now()`, `CURRENT_TIMESTAMP` and `transaction_timestamp()` are the same.
pub(crate) fn canonical_default(expression: &str) -> String {
    let mut out = strip_casts(expression.trim());
    while out.starts_with('(') && out.ends_with(')') && balanced(&out[1..out.len() - 1]) {
        out = out[1..out.len() - 1].trim().to_string();
    }
    let lower = out.to_ascii_lowercase();
    match lower.as_str() {
        "current_timestamp" | "transaction_timestamp()" | "now()" => "now()".to_string(),
        "uuid_generate_v4()" | "gen_random_uuid()" => lower,
        _ => {
            // Keep string literals as written, lowercase the rest.
            let mut result = String::new();
            let mut in_literal = false;
            for ch in out.chars() {
                if ch == '\'' {
                    in_literal = !in_literal;
                }
                if in_literal {
                    result.push(ch);
                } else {
                    result.extend(ch.to_lowercase());
                }
            }
            result
        }
    }
}

/// An index predicate or a check condition in one form for comparing: identifiers unquoted,
/// casts and parentheses and spaces dropped, lowercased outside literals.
pub(crate) fn canonical_condition(condition: &str) -> String {
    let out = canonical_keeping_quotes(condition);
    // A number the server quoted to cast it (`'-1'::integer`).
    unquote_numbers(&out)
}

/// [`canonical_condition`] with every literal still quoted: what tells a text enum's check
/// (`rolein'a','b'`) from others, whatever its values look like.
pub(crate) fn canonical_keeping_quotes(condition: &str) -> String {
    let stripped = strip_casts(condition);
    let mut out = String::new();
    let mut in_literal = false;
    for ch in stripped.chars() {
        if ch == '\'' {
            in_literal = !in_literal;
        }
        if in_literal || ch == '\'' {
            out.push(ch);
        } else if !matches!(ch, '"' | '(' | ')') && !ch.is_whitespace() {
            out.extend(ch.to_lowercase());
        }
    }
    // The operators as PostgreSQL prints them back: `LIKE` is `~~`, `!=` is `<>`.
    for (stored, written) in [
        ("!~~*", "notilike"),
        ("~~*", "ilike"),
        ("!~~", "notlike"),
        ("~~", "like"),
        ("!=", "<>"),
    ] {
        out = replace_outside_literals(&out, stored, written);
    }
    // PostgreSQL stores `x IN ('a', 'b')` as `x = ANY (ARRAY['a', 'b'])`.
    while let Some(at) = out.find("=anyarray[") {
        let rest = &out[at + "=anyarray[".len()..];
        let mut end = None;
        let mut quoted = false;
        for (i, ch) in rest.char_indices() {
            match ch {
                '\'' => quoted = !quoted,
                ']' if !quoted => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let Some(end) = end else { break };
        out = format!("{}in{}{}", &out[..at], &rest[..end], &rest[end + 1..]);
    }
    out
}

fn replace_outside_literals(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_literal = false;
    let mut rest = text;
    while let Some(ch) = rest.chars().next() {
        if ch == '\'' {
            in_literal = !in_literal;
        }
        if !in_literal && rest.starts_with(from) {
            out.push_str(to);
            rest = &rest[from.len()..];
            continue;
        }
        out.push(ch);
        rest = &rest[ch.len_utf8()..];
    }
    out
}

// `'-1'` → `-1`, `'2.5'` → `2.5`; other literals stay.
fn unquote_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('\'') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after.find('\'').map(|e| e + 1);
        match end {
            Some(end) => {
                let inner = &after[..end - 1];
                let numeric = !inner.is_empty()
                    && inner.parse::<f64>().is_ok()
                    && !after[end..].starts_with('\'');
                if numeric {
                    out.push_str(inner);
                } else {
                    out.push('\'');
                    out.push_str(&after[..end]);
                }
                rest = &after[end..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The string literals of a condition, e.g. a text enum's CHECK as the catalog prints it:
/// `(role = ANY (ARRAY['admin'::text, 'member'::text]))` gives `admin`, `member`.
pub(crate) fn literals(condition: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = condition.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch != '\'' {
            continue;
        }
        let mut value = String::new();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    value.push('\'');
                } else {
                    break;
                }
            } else {
                value.push(c);
            }
        }
        out.push(value);
    }
    out
}

/// `"order"` → `order`: a column name as `pg_get_indexdef` prints it, unquoted.
pub(crate) fn unquote_ident(ident: &str) -> String {
    match ident.strip_prefix('"').and_then(|i| i.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => ident.to_string(),
    }
}

// `x::text`, `'a'::character varying`, `ARRAY[...]::text[]`: the casts dropped, outside literals.
fn strip_casts(expression: &str) -> String {
    let mut out = String::new();
    let mut in_literal = false;
    let mut rest = expression;
    while let Some(ch) = rest.chars().next() {
        if ch == '\'' {
            in_literal = !in_literal;
        }
        if !in_literal && rest.starts_with("::") {
            rest = skip_type(&rest[2..]);
            continue;
        }
        out.push(ch);
        rest = &rest[ch.len_utf8()..];
    }
    out
}

// Past a type name: words (`character varying`, `timestamp with time zone`), a modifier in
// parentheses, array brackets.
fn skip_type(mut rest: &str) -> &str {
    let word = |s: &str| {
        s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '"'))
            .unwrap_or(s.len())
    };
    rest = &rest[word(rest)..];
    loop {
        let after_space = rest.trim_start_matches(' ');
        let next = &after_space[..word(after_space)];
        if after_space.len() < rest.len()
            && matches!(
                next,
                "varying" | "precision" | "with" | "without" | "time" | "zone"
            )
        {
            rest = &after_space[next.len()..];
        } else {
            break;
        }
    }
    if rest.starts_with('(') {
        if let Some(end) = rest.find(')') {
            rest = &rest[end + 1..];
        }
    }
    while let Some(after) = rest.strip_prefix("[]") {
        rest = after;
    }
    rest
}

fn balanced(s: &str) -> bool {
    let mut depth = 0i32;
    for ch in s.chars() {
        match ch {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types() {
        for (a, b) in [
            ("timestamptz", "timestamp with time zone"),
            ("timestamp", "timestamp without time zone"),
            ("int", "integer"),
            ("int8", "bigint"),
            ("bool", "boolean"),
            ("float8", "double precision"),
            ("varchar(255)", "character varying(255)"),
            ("char(2)", "character(2)"),
            ("char", "character(1)"),
            ("numeric(10, 2)", "numeric(10,2)"),
            ("decimal(10,2)", "numeric(10,2)"),
            ("text []", "text[]"),
            ("timestamptz[]", "timestamp with time zone[]"),
            ("pg_catalog.int4", "integer"),
            ("\"app\".\"order_status\"", "app.order_status"),
            ("timestamptz(3)", "timestamp(3) with time zone"),
            ("timestamp(6)", "timestamp(6) without time zone"),
            ("time(0)", "time(0) without time zone"),
            ("float", "double precision"),
            ("\"public\".\"mood\"[]", "mood[]"),
        ] {
            assert_eq!(canonical_type(a), canonical_type(b), "{a} vs {b}");
        }
        assert_ne!(canonical_type("timestamptz"), canonical_type("timestamp"));
        assert_ne!(canonical_type("text"), canonical_type("text[]"));
        assert_ne!(canonical_type("varchar(10)"), canonical_type("varchar(20)"));
        assert_ne!(
            canonical_type("timestamptz(3)"),
            canonical_type("timestamptz")
        );
        assert_ne!(canonical_type("\"char\""), canonical_type("char"));
    }

    #[test]
    fn defaults() {
        assert_eq!(
            canonical_default("now()"),
            canonical_default("CURRENT_TIMESTAMP")
        );
        assert_eq!(canonical_default("'active'::text"), "'active'");
        assert_eq!(
            canonical_default("'a b'::character varying"),
            canonical_default("'a b'")
        );
        assert_eq!(canonical_default("(1)"), "1");
        assert_eq!(canonical_default("'Mixed'"), "'Mixed'");
        assert_eq!(
            canonical_default("'{}'::text[]"),
            canonical_default("'{}'::text[]")
        );
        assert_ne!(canonical_default("1"), canonical_default("2"));
    }

    #[test]
    fn conditions() {
        assert_eq!(
            canonical_condition("(deleted_at IS NULL)"),
            canonical_condition("\"deleted_at\" IS NULL")
        );
        assert_eq!(
            literals("(role = ANY (ARRAY['admin'::text, 'it''s'::text]))"),
            ["admin", "it's"]
        );
        assert_eq!(
            literals("\"role\" IN ('admin', 'read-only')"),
            ["admin", "read-only"]
        );
        assert_eq!(
            canonical_condition("status IN ('a', 'b') AND n >= 0"),
            canonical_condition("((status = ANY (ARRAY['a'::text, 'b'::text])) AND (n >= 0))")
        );
        assert_eq!(
            canonical_condition("amount >= 0"),
            canonical_condition("(amount >= (0)::numeric)")
        );
        assert_ne!(
            canonical_condition("amount >= 0"),
            canonical_condition("amount >= 1")
        );
        assert_eq!(
            canonical_condition("email LIKE '%@%' AND n != 1"),
            canonical_condition("((email ~~ '%@%'::text) AND (n <> 1))")
        );
        assert_eq!(
            canonical_condition("x >= -1"),
            canonical_condition("(x >= '-1'::integer)")
        );
        assert_ne!(
            canonical_condition("name = '1'"),
            canonical_condition("name = 'one'")
        );
        assert_eq!(unquote_ident("\"order\""), "order");
        assert_eq!(unquote_ident("email"), "email");
    }
}
