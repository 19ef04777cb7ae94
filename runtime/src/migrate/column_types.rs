//! What the lint knows of column types: the types `CREATE TABLE`, `ADD COLUMN` and earlier type
//! changes gave each column (read from the statements, pure), and which type changes PostgreSQL
//! makes without rewriting the table: the binary-coercible ones and the widenings its typmod
//! support functions recognise (varchar, numeric, varbit, timestamp, time, interval).

use std::collections::HashMap;

/// Column types by table (lowercased, unquoted, as the lint names tables) and column.
#[derive(Debug, Default)]
pub(crate) struct Columns(HashMap<String, HashMap<String, String>>);

impl Columns {
    /// Records the columns of a `CREATE TABLE` statement.
    pub(crate) fn create_table(&mut self, table: &str, statement: &str) {
        let Some(open) = statement.find('(') else {
            return;
        };
        let Some(body) = balanced(&statement[open..]) else {
            return;
        };
        let columns = self.0.entry(table.to_string()).or_default();
        for element in split_top_level(body) {
            let mut tokens = element.split_whitespace();
            let Some(name) = tokens.next() else {
                continue;
            };
            let keyword = name.to_ascii_uppercase();
            if matches!(
                keyword.as_str(),
                "CONSTRAINT" | "PRIMARY" | "UNIQUE" | "CHECK" | "FOREIGN" | "EXCLUDE" | "LIKE"
            ) {
                continue;
            }
            let rest: Vec<&str> = tokens.collect();
            if let Some(ty) = type_prefix(&rest) {
                columns.insert(ident(name), ty);
            }
        }
    }

    /// The type changes of an `ALTER TABLE` statement on `table`: each column changed, its type
    /// before (when known) and after. Columns it adds are recorded; the new types too.
    pub(crate) fn alter_table(
        &mut self,
        table: &str,
        statement: &str,
    ) -> Vec<(String, Option<String>, String)> {
        let Some(start) = statement.to_ascii_uppercase().find(" TABLE ") else {
            return Vec::new();
        };
        let columns = self.0.entry(table.to_string()).or_default();
        let mut changes = Vec::new();
        for action in split_top_level(&statement[start..]) {
            let tokens: Vec<&str> = action.split_whitespace().collect();
            let upper: Vec<String> = tokens.iter().map(|t| t.to_ascii_uppercase()).collect();
            let at = |word: &str| upper.iter().position(|u| u == word);
            if let Some(i) = at("ADD") {
                let mut j = i + 1;
                if upper.get(j).is_some_and(|u| u == "COLUMN") {
                    j += 1;
                }
                if upper.get(j).is_some_and(|u| u == "IF") {
                    j += 3;
                }
                let keyword = upper.get(j).map(String::as_str).unwrap_or("");
                if !matches!(
                    keyword,
                    "CONSTRAINT" | "PRIMARY" | "UNIQUE" | "CHECK" | "FOREIGN" | "EXCLUDE" | ""
                ) {
                    if let Some(ty) = type_prefix(&tokens[j + 1..]) {
                        columns.insert(ident(tokens[j]), ty);
                    }
                }
                continue;
            }
            // ALTER [COLUMN] c [SET DATA] TYPE t [USING ...]
            let (Some(alter), Some(ty)) = (at("ALTER"), at("TYPE")) else {
                continue;
            };
            let mut c = alter + 1;
            if upper.get(c).is_some_and(|u| u == "COLUMN") {
                c += 1;
            }
            let Some(column) = tokens.get(c).filter(|_| c < ty) else {
                continue;
            };
            let Some(new) = type_prefix(&tokens[ty + 1..]) else {
                continue;
            };
            // A USING expression computes every value again (a rewrite whatever the types),
            // unless it is the plain cast ALTER TYPE makes anyway (`USING "c"::t`).
            let plain_cast = |using: usize| {
                let expression: String = tokens[using + 1..].concat().replace('"', "");
                let expression = expression.trim_end_matches(';').to_ascii_lowercase();
                let cast = format!("{}::{}", ident(column), new.replace([' ', '"'], ""));
                expression == cast.to_ascii_lowercase()
            };
            let old = match at("USING") {
                Some(using) if !plain_cast(using) => None,
                _ => columns.get(&ident(column)).cloned(),
            };
            columns.insert(ident(column), new.clone());
            changes.push((ident(column), old, new));
        }
        changes
    }
}

/// Whether changing a column from `old` to `new` rewrites the table (and its indexes), as
/// PostgreSQL decides it; unknown pairs count as rewrites.
pub(crate) fn rewrites(old: &str, new: &str) -> bool {
    let (old, new) = (Type::parse(old), Type::parse(new));
    if old == new {
        return false;
    }
    if old.array != new.array {
        return true;
    }
    let widens = |a: &[u32], b: &[u32]| match (a, b) {
        (_, []) => true,
        ([], _) => false,
        _ => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| y >= x),
    };
    match (old.base.as_str(), new.base.as_str()) {
        // Binary coercible: the same bytes.
        ("varchar", "text") | ("text", "varchar") if new.params.is_empty() => false,
        ("cidr", "inet") | ("xml", "text") => false,
        // Widened by a typmod support function.
        ("varchar", "varchar") | ("varbit", "varbit") => !widens(&old.params, &new.params),
        ("numeric", "numeric") => match (&old.params[..], &new.params[..]) {
            (_, []) => false,
            ([p1, s1], [p2, s2]) => !(s1 == s2 && p2 >= p1),
            ([p1], [p2]) => p2 < p1,
            ([p1], [p2, 0]) => p2 < p1,
            _ => true,
        },
        ("timestamp", "timestamp")
        | ("timestamptz", "timestamptz")
        | ("time", "time")
        | ("interval", "interval") => !widens(&old.params, &new.params),
        _ => true,
    }
}

/// A type as the lint compares it: one name per type, its typmod numbers, array or not.
#[derive(Debug, PartialEq, Eq)]
struct Type {
    base: String,
    params: Vec<u32>,
    array: bool,
}

impl Type {
    fn parse(text: &str) -> Type {
        let lower = text.trim().to_ascii_lowercase().replace('"', "");
        let array = lower.ends_with("[]") || lower.contains(" array");
        let lower = lower.trim_end_matches("[]").replace(" array", "");
        let (mut base, params) = match lower.split_once('(') {
            Some((base, rest)) => {
                let (inside, after) = rest.split_once(')').unwrap_or((rest, ""));
                let params = inside
                    .split(',')
                    .filter_map(|p| p.trim().parse::<u32>().ok())
                    .collect();
                (format!("{}{}", base.trim(), after), params)
            }
            None => (lower.clone(), Vec::new()),
        };
        base = base.split_whitespace().collect::<Vec<_>>().join(" ");
        let base = match base.as_str() {
            "character varying" => "varchar",
            "int" | "int4" => "integer",
            "int8" => "bigint",
            "int2" => "smallint",
            "bool" => "boolean",
            "float8" => "double precision",
            "float4" => "real",
            "decimal" => "numeric",
            "char" | "character" => "bpchar",
            "bit varying" => "varbit",
            "timestamp without time zone" => "timestamp",
            "timestamp with time zone" => "timestamptz",
            "time without time zone" => "time",
            "time with time zone" => "timetz",
            other => other,
        }
        .to_string();
        // char without a length is char(1).
        let params = if base == "bpchar" && params.is_empty() {
            vec![1]
        } else {
            params
        };
        Type {
            base,
            params,
            array,
        }
    }
}

/// The type at the start of a column definition's tokens (after its name): up to the first
/// constraint keyword.
fn type_prefix(tokens: &[&str]) -> Option<String> {
    const STOP: &[&str] = &[
        "NOT",
        "NULL",
        "DEFAULT",
        "PRIMARY",
        "REFERENCES",
        "UNIQUE",
        "CHECK",
        "CONSTRAINT",
        "GENERATED",
        "COLLATE",
        "USING",
    ];
    let taken: Vec<&str> = tokens
        .iter()
        .take_while(|t| !STOP.contains(&t.to_ascii_uppercase().trim_end_matches(';')))
        .copied()
        .collect();
    let ty = taken.join(" ");
    let ty = ty.trim().trim_end_matches(';').trim();
    (!ty.is_empty()).then(|| ty.to_string())
}

fn ident(name: &str) -> String {
    if name.starts_with('"') {
        name.trim_matches('"').to_string()
    } else {
        name.to_ascii_lowercase()
    }
}

/// The text inside the parentheses that open `text`.
fn balanced(text: &str) -> Option<&str> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(&text[1..i]);
                }
            }
            _ => {}
        }
    }
    None
}

/// `text` split at commas outside parentheses and quotes.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start, mut quote) = (0usize, 0, None::<char>);
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => depth = depth.saturating_sub(1),
            (None, ',') if depth == 0 => {
                out.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(text[start..].trim());
    out.retain(|s| !s.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widenings_and_binary_coercions_do_not_rewrite() {
        for (old, new) in [
            ("varchar(20)", "varchar(32)"),
            ("character varying(20)", "varchar"),
            ("varchar(20)", "text"),
            ("text", "varchar"),
            ("numeric(10, 2)", "numeric(12,2)"),
            ("numeric(10,2)", "numeric"),
            ("timestamp(3)", "timestamp(6)"),
            ("timestamp(3) with time zone", "timestamptz"),
            ("cidr", "inet"),
            ("int4", "integer"),
        ] {
            assert!(!rewrites(old, new), "{old} -> {new}");
        }
        for (old, new) in [
            ("varchar(32)", "varchar(20)"),
            ("text", "varchar(20)"),
            ("integer", "bigint"),
            ("numeric(10,2)", "numeric(10,3)"),
            ("numeric", "numeric(10,2)"),
            ("char(10)", "varchar(10)"),
            ("timestamp", "timestamptz"),
            ("text", "text[]"),
        ] {
            assert!(rewrites(old, new), "{old} -> {new}");
        }
    }

    #[test]
    fn types_are_read_from_create_and_alter() {
        let mut columns = Columns::default();
        columns.create_table(
            "t",
            "CREATE TABLE t (id bigint PRIMARY KEY, name varchar(20) NOT NULL, \
             price numeric(10, 2) DEFAULT 0, CONSTRAINT c CHECK (price > 0))",
        );
        let changes = columns.alter_table(
            "t",
            "ALTER TABLE t ALTER COLUMN name TYPE varchar(32), ALTER price SET DATA TYPE numeric(12,2), ADD COLUMN note text",
        );
        assert_eq!(
            changes,
            [
                (
                    "name".into(),
                    Some("varchar(20)".into()),
                    "varchar(32)".into()
                ),
                (
                    "price".into(),
                    Some("numeric(10, 2)".into()),
                    "numeric(12,2)".into()
                ),
            ]
        );
        let changes = columns.alter_table(
            "t",
            "ALTER TABLE t ALTER note TYPE varchar(5) USING left(note, 5)",
        );
        assert_eq!(changes, [("note".into(), None, "varchar(5)".into())]);
    }
}
