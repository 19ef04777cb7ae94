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
    for (statement, &line) in section.statements.iter().zip(&section.statement_lines) {
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

// The statement's words, comments (`-- ...`) removed, punctuation split off identifiers.
fn words(statement: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in statement.lines() {
        let code = line.split("--").next().unwrap_or("");
        for raw in
            code.split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',' || c == ';')
        {
            if !raw.is_empty() {
                out.push(raw.to_string());
            }
        }
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
