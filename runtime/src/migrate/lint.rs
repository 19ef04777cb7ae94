//! Migration lints: statements that lock or rewrite a table that already holds data, found in
//! the Up sections of a migration set, each with its file, line and the safe way to write it.
//! Pure: reads the statements, never a database.
//!
//! A table counts as existing unless an earlier statement of the same file creates it (a
//! table created in an earlier file is in production with its rows by the time this one runs).
//! One finding is silenced by a comment on the lines right above the statement:
//! `-- lint: allow <rule> <reason>` (the reason is required).

use std::collections::HashSet;
use std::fmt;

use super::column_types::{self, Columns};
use super::source::Migration;

/// One lint finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file.
    pub file: String,
    /// The 1-based line where the statement starts.
    pub line: usize,
    /// The rule's name (what `-- lint: allow` takes).
    pub rule: &'static str,
    /// What is wrong.
    pub message: String,
    /// The safe way to write it.
    pub rewrite: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}\n  safer: {}",
            self.file, self.line, self.rule, self.message, self.rewrite
        )
    }
}

/// The rules, by name.
pub const RULES: &[&str] = &[
    "index-not-concurrently",
    "add-column-not-null",
    "constraint-not-valid",
    "column-type-rewrite",
    "no-lock-timeout",
];

/// Lints the Up section of every migration, in order.
pub fn lint(migrations: &[Migration]) -> Vec<Finding> {
    // The columns' types as the migrations before gave them, to tell a type change PostgreSQL
    // makes in place from one that rewrites the table.
    let mut columns = Columns::default();
    migrations
        .iter()
        .flat_map(|m| lint_one(m, &mut columns))
        .collect()
}

fn lint_one(m: &Migration, columns: &mut Columns) -> Vec<Finding> {
    let section = &m.parsed().up;
    let source_lines: Vec<&str> = m.source().lines().collect();
    let mut created: HashSet<String> = HashSet::new();
    let mut lock_timeout = false;
    let mut out = Vec::new();
    for (raw, &line) in section.statements.iter().zip(&section.statement_lines) {
        // Strings, dollar-quoted bodies (functions, DO blocks) and comments are not statements
        // of the migration: what they hold is not linted.
        let code = code_only(raw);
        let statement = code.as_str();
        let words = words(statement);
        let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
        let has = |w: &str| upper.iter().any(|u| u == w);
        let seq = |s: &[&str]| {
            upper
                .windows(s.len())
                .any(|w| w.iter().zip(s).all(|(a, b)| a == b))
        };
        if seq(&["SET", "LOCK_TIMEOUT"]) || seq(&["SET", "LOCAL", "LOCK_TIMEOUT"]) {
            lock_timeout = true;
        }
        // CREATE [UNLOGGED | TEMP | ...] TABLE: a table this migration makes.
        let creates_table = upper.first().is_some_and(|w| w == "CREATE")
            && upper
                .iter()
                .skip(1)
                .find(|w| {
                    !matches!(
                        w.as_str(),
                        "UNLOGGED" | "TEMP" | "TEMPORARY" | "GLOBAL" | "LOCAL"
                    )
                })
                .is_some_and(|w| w == "TABLE");
        if creates_table {
            if let Some(t) = after(&words, &upper, "TABLE", &["IF", "NOT", "EXISTS"]) {
                columns.create_table(&t, statement);
                created.insert(t);
            }
            continue;
        }
        let existing = |t: &Option<String>| t.as_ref().is_none_or(|t| !created.contains(t));
        let mut found = Vec::new();
        if upper.first().is_some_and(|w| w == "CREATE") && has("INDEX") && !has("CONCURRENTLY") {
            let table = after(&words, &upper, "ON", &["ONLY"]);
            if existing(&table) {
                found.push((
                    "index-not-concurrently",
                    format!(
                        "CREATE INDEX on {} locks out writes while it builds",
                        shown(&table)
                    ),
                    "CREATE INDEX CONCURRENTLY, in a migration of its own marked `-- +migrate Up \
                     notransaction`"
                        .to_string(),
                ));
            }
        }
        if seq(&["ALTER", "TABLE"]) {
            let table = after(&words, &upper, "TABLE", &["IF", "EXISTS", "ONLY"]);
            let changes = table
                .as_ref()
                .map(|t| columns.alter_table(t, statement))
                .unwrap_or_default();
            if existing(&table) {
                found.extend(alter_findings(&upper, &table, &changes));
                if !found.is_empty() && !lock_timeout {
                    found.push((
                        "no-lock-timeout",
                        format!(
                            "ALTER TABLE {} waits for its lock with no lock_timeout, and every \
                             query on the table queues behind it",
                            shown(&table)
                        ),
                        "SET LOCAL lock_timeout = '5s'; at the start of the Up section (or run \
                         with --lock-timeout), and retry when it times out"
                            .to_string(),
                    ));
                }
            }
        }
        for (rule, message, rewrite) in found {
            if !silenced(&source_lines, line, rule) {
                out.push(Finding {
                    file: m.id().to_string(),
                    line,
                    rule,
                    message,
                    rewrite,
                });
            }
        }
    }
    out
}

// What an ALTER TABLE on a table with rows does that it should not.
fn alter_findings(
    upper: &[String],
    table: &Option<String>,
    changes: &[(String, Option<String>, String)],
) -> Vec<(&'static str, String, String)> {
    let has = |w: &str| upper.iter().any(|u| u == w);
    let seq = |s: &[&str]| {
        upper
            .windows(s.len())
            .any(|w| w.iter().zip(s).all(|(a, b)| a == b))
    };
    let t = shown(table);
    let mut found = Vec::new();
    if seq(&["ADD"]) && seq(&["NOT", "NULL"]) && !has("DEFAULT") && !has("CONSTRAINT") {
        found.push((
            "add-column-not-null",
            format!("adding a NOT NULL column without a default to {t} fails on its rows"),
            "add the column with a DEFAULT, or nullable, backfill it, then ALTER COLUMN ... SET \
             NOT NULL"
                .to_string(),
        ));
    }
    let adds_constraint = seq(&["ADD", "CONSTRAINT"])
        || seq(&["ADD", "FOREIGN"])
        || seq(&["ADD", "CHECK"])
        || (seq(&["ADD"]) && has("REFERENCES"));
    if adds_constraint
        && (has("FOREIGN") || has("CHECK") || has("REFERENCES"))
        && !seq(&["NOT", "VALID"])
    {
        found.push((
            "constraint-not-valid",
            format!("adding a foreign key or CHECK to {t} scans every row under a lock"),
            "ADD CONSTRAINT ... NOT VALID; then, in a later statement, ALTER TABLE ... VALIDATE \
             CONSTRAINT ...; (validation does not block writes)"
                .to_string(),
        ));
    }
    // A type change the migrations before let us judge (varchar widening, numeric precision
    // growth, cidr to inet, ...) happens in place; an unknown one counts as a rewrite.
    let rewritten: Vec<String> = changes
        .iter()
        .filter(|(_, old, new)| {
            old.as_ref()
                .is_none_or(|old| column_types::rewrites(old, new))
        })
        .map(|(column, old, new)| match old {
            Some(old) => format!("{column} ({old} to {new})"),
            None => format!("{column} (to {new})"),
        })
        .collect();
    let type_change = seq(&["ALTER"])
        && (seq(&["SET", "DATA", "TYPE"]) || (seq(&["TYPE"]) && !seq(&["CREATE", "TYPE"])))
        && upper.iter().filter(|u| *u == "ALTER").count() >= 2;
    if type_change && (changes.is_empty() || !rewritten.is_empty()) {
        found.push((
            "column-type-rewrite",
            format!(
                "changing the type of {} rewrites {t} under an exclusive lock",
                if rewritten.is_empty() {
                    "a column".to_string()
                } else {
                    rewritten.join(", ")
                }
            ),
            "add a column of the new type, backfill it in batches, switch the application, drop \
             the old one (widening varchar(n) or dropping its limit is safe)"
                .to_string(),
        ));
    }
    found
}

// The statement's words (of `code_only` text), punctuation split off identifiers.
fn words(statement: &str) -> Vec<String> {
    statement
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',' || c == ';')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The statement as PostgreSQL's lexer sees its code: comments (`--`, nested `/* */`) removed,
/// string literals (`'...'` with `''`, `E'...'` with backslash escapes) left as `''`,
/// dollar-quoted strings (`$$...$$`, `$body$...$body$`: function bodies, DO blocks) left as
/// `$$`; double-quoted identifiers kept whole.
pub(crate) fn code_only(sql: &str) -> String {
    let chars: Vec<char> = sql.chars().collect();
    let ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let prev = (i > 0).then(|| chars[i - 1]);
        match c {
            '-' if next == Some('-') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '/' if next == Some('*') => {
                let mut depth = 0;
                while i < chars.len() {
                    if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                out.push(' ');
                continue;
            }
            '\'' => {
                // E'...': backslash escapes; the E is the whole word before the quote.
                let escapes = matches!(prev, Some('E' | 'e')) && (i < 2 || !ident(chars[i - 2]));
                i += 1;
                while i < chars.len() {
                    match chars[i] {
                        '\\' if escapes => i += 2,
                        '\'' if chars.get(i + 1) == Some(&'\'') => i += 2,
                        '\'' => break,
                        _ => i += 1,
                    }
                }
                out.push_str("''");
                i += 1;
                continue;
            }
            '"' => {
                out.push('"');
                i += 1;
                while i < chars.len() {
                    out.push(chars[i]);
                    if chars[i] == '"' {
                        if chars.get(i + 1) == Some(&'"') {
                            out.push('"');
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
                continue;
            }
            // `$tag$` opens a dollar-quoted string unless it is part of an identifier
            // (`a$b`) or a parameter (`$1`).
            '$' if prev.is_none_or(|p| !ident(p)) => {
                let mut j = i + 1;
                while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                let tag_ok = chars.get(j) == Some(&'$')
                    && chars.get(i + 1).is_none_or(|c| !c.is_ascii_digit());
                if tag_ok {
                    let tag: String = chars[i..=j].iter().collect();
                    let tag: Vec<char> = tag.chars().collect();
                    let mut k = j + 1;
                    while k < chars.len() && chars[k..].iter().take(tag.len()).ne(tag.iter()) {
                        k += 1;
                    }
                    out.push_str("$$");
                    i = (k + tag.len()).min(chars.len());
                    continue;
                }
            }
            _ => {}
        }
        out.push(c);
        i += 1;
    }
    out
}

// The word after `key` (skipping `skip` words), unquoted and lowercased: a table name.
fn after(words: &[String], upper: &[String], key: &str, skip: &[&str]) -> Option<String> {
    let i = upper.iter().position(|u| u == key)?;
    words[i + 1..]
        .iter()
        .zip(&upper[i + 1..])
        .find(|(_, u)| !skip.contains(&u.as_str()))
        .map(|(w, _)| {
            w.split('.')
                .map(|p| {
                    if p.starts_with('"') {
                        p.trim_matches('"').to_string()
                    } else {
                        p.to_ascii_lowercase()
                    }
                })
                .collect::<Vec<_>>()
                .join(".")
        })
}

fn shown(table: &Option<String>) -> String {
    table.clone().unwrap_or_else(|| "the table".into())
}

// A `-- lint: allow RULE reason` comment on the lines right above the statement.
fn silenced(lines: &[&str], line: usize, rule: &str) -> bool {
    lines[..line.saturating_sub(1).min(lines.len())]
        .iter()
        .rev()
        .take_while(|l| l.trim_start().starts_with("--"))
        .any(|l| {
            let text = l.trim_start().trim_start_matches('-').trim();
            let Some(rest) = text.strip_prefix("lint: allow") else {
                return false;
            };
            let mut parts = rest.split_whitespace();
            parts.next() == Some(rule) && parts.next().is_some()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(files: &[(&str, &str)]) -> Vec<(String, usize, &'static str)> {
        let set: Vec<Migration> = files
            .iter()
            .map(|(id, body)| Migration::new(id, body).unwrap())
            .collect();
        lint(&set)
            .into_iter()
            .map(|f| (f.file, f.line, f.rule))
            .collect()
    }

    fn up(sql: &str) -> String {
        format!("-- +migrate Up\n{sql}\n-- +migrate Down\n")
    }

    #[test]
    fn index_without_concurrently_on_an_existing_table() {
        let f = findings(&[(
            "2_i.sql",
            &up("CREATE INDEX users_email ON \"user\".users (email);"),
        )]);
        assert_eq!(f, [("2_i.sql".to_string(), 2, "index-not-concurrently")]);
        // Concurrently, or on a table the same file creates: fine.
        assert!(findings(&[("2_i.sql", &up("CREATE INDEX CONCURRENTLY i ON t (n);"))]).is_empty());
        assert!(findings(&[(
            "1_t.sql",
            &up("CREATE TABLE t (n int);\nCREATE UNIQUE INDEX t_n ON t (n);")
        )])
        .is_empty());
        // Also an unlogged or temporary one (found by the generated-tables test).
        for create in [
            "CREATE UNLOGGED TABLE",
            "CREATE TEMP TABLE",
            "CREATE GLOBAL TEMPORARY TABLE",
        ] {
            let sql = format!("{create} s.t (n int);\nCREATE INDEX t_n ON s.t (n);");
            assert!(findings(&[("1_t.sql", &up(&sql))]).is_empty(), "{create}");
        }
    }

    #[test]
    fn not_null_column_without_default() {
        let f = findings(&[(
            "2_c.sql",
            &up("SET LOCAL lock_timeout = '5s';\nALTER TABLE t ADD COLUMN c int NOT NULL;"),
        )]);
        assert_eq!(f, [("2_c.sql".to_string(), 3, "add-column-not-null")]);
        assert!(findings(&[(
            "2_c.sql",
            &up("SET LOCAL lock_timeout = '5s';\nALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT 0;")
        )])
        .is_empty());
    }

    #[test]
    fn constraints_without_not_valid() {
        let bad = "SET lock_timeout = '5s';\nALTER TABLE posts ADD CONSTRAINT posts_author_fk FOREIGN KEY (author_id) REFERENCES users (id);";
        assert_eq!(
            findings(&[("3_fk.sql", &up(bad))]),
            [("3_fk.sql".to_string(), 3, "constraint-not-valid")]
        );
        let check = "SET lock_timeout = '5s';\nALTER TABLE t ADD CHECK (n >= 0);";
        assert_eq!(findings(&[("3_ck.sql", &up(check))]).len(), 1);
        let good = "SET lock_timeout = '5s';\nALTER TABLE posts ADD CONSTRAINT posts_author_fk FOREIGN KEY (author_id) REFERENCES users (id) NOT VALID;\nALTER TABLE posts VALIDATE CONSTRAINT posts_author_fk;";
        assert!(findings(&[("3_fk.sql", &up(good))]).is_empty());
    }

    #[test]
    fn column_type_changes() {
        let bad = "SET lock_timeout = '5s';\nALTER TABLE t ALTER COLUMN n TYPE bigint;";
        assert_eq!(
            findings(&[("4_t.sql", &up(bad))]),
            [("4_t.sql".to_string(), 3, "column-type-rewrite")]
        );
        let good = "SET lock_timeout = '5s';\nALTER TABLE t ALTER COLUMN n SET DEFAULT 0;";
        assert!(findings(&[("4_t.sql", &up(good))]).is_empty());
    }

    #[test]
    fn risky_alters_without_a_lock_timeout() {
        let f = findings(&[("5_a.sql", &up("ALTER TABLE t ALTER COLUMN n TYPE bigint;"))]);
        let rules: Vec<_> = f.iter().map(|f| f.2).collect();
        assert_eq!(rules, ["column-type-rewrite", "no-lock-timeout"]);
        // A harmless ALTER needs none.
        assert!(findings(&[("5_a.sql", &up("ALTER TABLE t ADD COLUMN c text;"))]).is_empty());
    }

    #[test]
    fn a_finding_is_silenced_with_a_reason_only() {
        let allowed =
            "-- lint: allow index-not-concurrently the table has 40 rows\nCREATE INDEX i ON t (n);";
        assert!(findings(&[("6_i.sql", &up(allowed))]).is_empty());
        let no_reason = "-- lint: allow index-not-concurrently\nCREATE INDEX i ON t (n);";
        assert_eq!(findings(&[("6_i.sql", &up(no_reason))]).len(), 1);
        let other_rule = "-- lint: allow add-column-not-null because\nCREATE INDEX i ON t (n);";
        assert_eq!(findings(&[("6_i.sql", &up(other_rule))]).len(), 1);
    }

    #[test]
    fn strings_function_bodies_and_do_blocks_are_not_statements() {
        let function = r#"-- +migrate StatementBegin
CREATE FUNCTION add_index(t text) RETURNS void LANGUAGE plpgsql AS $body$
BEGIN
    EXECUTE format('CREATE INDEX %I ON %I (n)', t || '_n', t);
    EXECUTE 'ALTER TABLE ' || t || ' ALTER COLUMN n TYPE bigint';
END
$body$;
-- +migrate StatementEnd"#;
        let do_block = "-- +migrate StatementBegin\nDO $$\nBEGIN\n  ALTER TABLE t ADD COLUMN m int NOT NULL;\n  CREATE INDEX t_m ON t (m);\nEND\n$$;\n-- +migrate StatementEnd";
        let literal = "INSERT INTO notes (body) VALUES ('CREATE INDEX x ON t (n); ALTER TABLE t ALTER n TYPE text'), (E'it\\'s ALTER TABLE t ADD CHECK (n > 0)');";
        let commented = "/* CREATE INDEX t_n ON t (n); /* nested */ ALTER TABLE t ADD CHECK (n > 0) */ SELECT 1;";
        for sql in [function, do_block, literal, commented] {
            let f = findings(&[
                (
                    "1_t.sql",
                    "-- +migrate Up\nCREATE TABLE t (n int);\n-- +migrate Down\nDROP TABLE t;\n",
                ),
                ("2_f.sql", &up(sql)),
            ]);
            assert!(f.is_empty(), "{sql}: {f:?}");
        }
        // The statements around them are still read.
        let f = findings(&[(
            "2_f.sql",
            &up(&format!("{function}\nCREATE INDEX t_n ON t (n);")),
        )]);
        assert_eq!(f, [("2_f.sql".to_string(), 10, "index-not-concurrently")]);
        // A quoted identifier that holds a keyword is one word.
        assert_eq!(
            code_only(r#"CREATE INDEX "my -- index" ON t ($1, a$b, 'x''y', $q$ $ $q$)"#),
            r#"CREATE INDEX "my -- index" ON t ($1, a$b, '', $$)"#
        );
    }

    #[test]
    fn findings_read_well() {
        let set = vec![Migration::new("7_i.sql", &up("CREATE INDEX i ON t (n);")).unwrap()];
        let text = lint(&set)[0].to_string();
        assert!(
            text.starts_with("7_i.sql:2: index-not-concurrently: CREATE INDEX on t"),
            "{text}"
        );
        assert!(text.contains("safer: CREATE INDEX CONCURRENTLY"), "{text}");
        assert_eq!(RULES.len(), 5);
    }
}
