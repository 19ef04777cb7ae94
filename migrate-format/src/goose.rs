//! goose's SQL migration format: `-- +goose Up`, `-- +goose Down`, `-- +goose StatementBegin`
//! / `StatementEnd` and `-- +goose NO TRANSACTION`, split with goose's rules so that a goose
//! project's files run as goose runs them.

use super::{ends_with_semicolon, ParseError, ParsedMigration, Section};

/// Whether a file is in goose's format: it has a `-- +goose` annotation.
pub fn is_goose(source: &str) -> bool {
    source.lines().any(|line| annotation(line).is_some())
}

// `-- +goose X` at column 0 (any spacing after `--`): `Some("X")`.
fn annotation(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("--")?.trim();
    let rest = rest.strip_prefix("+goose")?;
    (rest.is_empty() || rest.starts_with(char::is_whitespace)).then(|| rest.trim())
}

/// goose orders migrations by the version number their names start with: a goose file named
/// otherwise is an error (at line 1).
pub fn check_goose_name(name: &str) -> Result<(), ParseError> {
    if crate::leading_number(name).is_some() {
        return Ok(());
    }
    Err(ParseError {
        line: 1,
        message: "a goose migration's name starts with its version number, e.g. \
                  00002_add_users.sql or 20240101120000_add_users.sql"
            .into(),
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Up,
    UpBlock,
    Down,
    DownBlock,
}

/// Splits a goose migration into its Up and Down statements, following goose's rules:
///
/// - annotations are lines starting with `--` whose rest is `+goose Up`, `+goose Down`,
///   `+goose StatementBegin`, `+goose StatementEnd` or `+goose NO TRANSACTION`; the file must
///   start (blank lines and comments aside) with `-- +goose Up`, and `Down` comes after it;
/// - a statement ends at a line whose last word before any `--` comment ends with `;`, and
///   is cut after its last `;`; a `StatementBegin` ... `StatementEnd` block is one statement;
/// - comments and blank lines before a statement are dropped; once a statement has begun,
///   every line up to its end is kept;
/// - `NO TRANSACTION` anywhere runs both directions statement by statement, outside a
///   transaction.
///
/// Stricter than goose in one place, as for sql-migrate files: an unknown `-- +goose`
/// annotation (`-- +goose DOWN`, `-- +goose ENVSUB ON`) is an error naming its line, where goose
/// would take it for a comment.
///
/// ```
/// let parsed = skelly_db_migrate_format::parse_goose(
///     "-- +goose Up\nCREATE TABLE t (id int);\n\n-- +goose Down\nDROP TABLE t;\n",
/// ).unwrap();
/// assert_eq!(parsed.up.statements, ["CREATE TABLE t (id int);"]);
/// assert_eq!(parsed.down.statements, ["DROP TABLE t;"]);
/// ```
pub fn parse_goose(source: &str) -> Result<ParsedMigration, ParseError> {
    let mut parsed = ParsedMigration::default();
    let mut state = State::Start;
    let mut buf = String::new();
    let mut buf_line = 0;
    let mut block_line = 0;
    let mut no_transaction = false;
    let mut line_no = 0;
    let err = |line: usize, message: &str| ParseError {
        line,
        message: message.to_string(),
    };

    for raw in source.split_inclusive('\n') {
        line_no += 1;
        let line = raw.strip_suffix('\n').unwrap_or(raw);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if state == State::Start && line.trim().is_empty() {
            continue;
        }
        let mut block_ended = false;
        if let Some(name) = annotation(line) {
            match (name, state) {
                ("Up", State::Start) => {
                    state = State::Up;
                    parsed.up.present = true;
                    continue;
                }
                ("Up", _) => return Err(err(line_no, "a second `-- +goose Up` annotation")),
                ("Down", State::Up) => {
                    if !buf.trim().is_empty() {
                        return Err(unfinished(buf_line));
                    }
                    buf.clear();
                    state = State::Down;
                    parsed.down.present = true;
                    continue;
                }
                ("Down", State::Start) => {
                    return Err(err(line_no, "`-- +goose Down` before `-- +goose Up`; the file starts with `-- +goose Up`"))
                }
                ("Down", _) => {
                    return Err(err(line_no, "`-- +goose Down` inside a StatementBegin block or after another Down"))
                }
                ("StatementBegin", State::Up | State::Down) => {
                    state = if state == State::Up {
                        State::UpBlock
                    } else {
                        State::DownBlock
                    };
                    block_line = line_no;
                    continue;
                }
                ("StatementBegin", _) => {
                    return Err(err(line_no, "`-- +goose StatementBegin` must follow `-- +goose Up` or `-- +goose Down`, outside another block"))
                }
                ("StatementEnd", State::UpBlock | State::DownBlock) => block_ended = true,
                ("StatementEnd", _) => {
                    return Err(err(line_no, "`-- +goose StatementEnd` without a `-- +goose StatementBegin`"))
                }
                ("NO TRANSACTION", _) => {
                    no_transaction = true;
                    continue;
                }
                (other, _) => {
                    return Err(err(
                        line_no,
                        &format!(
                            "unknown goose annotation `+goose {other}`; expected `Up`, `Down`, \
                             `StatementBegin`, `StatementEnd` or `NO TRANSACTION`"
                        ),
                    ))
                }
            }
        }
        if state == State::Start {
            if line.trim_start().starts_with("--") {
                continue;
            }
            return Err(err(
                line_no,
                "SQL before `-- +goose Up`; the file starts with `-- +goose Up`",
            ));
        }
        // Comments and blank lines before a statement are not part of it.
        if !block_ended
            && buf.is_empty()
            && (line.trim_start().starts_with("--") || line.is_empty())
        {
            continue;
        }
        if !block_ended {
            if buf.is_empty() {
                buf_line = line_no;
            }
            buf.push_str(line);
            buf.push('\n');
        }
        let in_block = matches!(state, State::UpBlock | State::DownBlock);
        if block_ended || (!in_block && ends_with_semicolon(line)) {
            let section = match state {
                State::Up | State::UpBlock => &mut parsed.up,
                _ => &mut parsed.down,
            };
            push(
                section,
                &buf,
                if buf_line == 0 { line_no } else { buf_line },
            );
            buf.clear();
            buf_line = 0;
            state = match state {
                State::UpBlock => State::Up,
                State::DownBlock => State::Down,
                other => other,
            };
        }
    }
    match state {
        State::Start => {
            return Err(err(
                line_no.max(1),
                "no `-- +goose Up` annotation; a goose migration starts with it",
            ))
        }
        State::UpBlock | State::DownBlock => {
            return Err(err(
                block_line,
                "`-- +goose StatementBegin` has no matching `-- +goose StatementEnd`",
            ))
        }
        _ => {}
    }
    if !buf.trim().is_empty() {
        return Err(unfinished(buf_line));
    }
    parsed.up.no_transaction = no_transaction;
    parsed.down.no_transaction = no_transaction;
    Ok(parsed)
}

// goose cuts a statement after its last `;`, dropping a trailing comment or blank lines.
fn push(section: &mut Section, buf: &str, line: usize) {
    let statement = match buf.rfind(';') {
        Some(n) if n > 0 => &buf[..=n],
        _ => buf,
    };
    section.statements.push(statement.to_string());
    section.statement_lines.push(line);
}

fn unfinished(line: usize) -> ParseError {
    crate::unterminated(line, "-- +goose StatementEnd")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(source: &str) -> Vec<String> {
        parse_goose(source).unwrap().up.statements
    }

    #[test]
    fn simple_statements_split_on_semicolons_at_line_end() {
        let parsed = parse_goose(
            "-- +goose Up\n-- a comment\nCREATE TABLE a (\n  n int -- inline\n);\n\
             INSERT INTO a VALUES (1); -- trailing\n\n-- +goose Down\nDROP TABLE a;\n",
        )
        .unwrap();
        assert_eq!(
            parsed.up.statements,
            [
                "CREATE TABLE a (\n  n int -- inline\n);",
                "INSERT INTO a VALUES (1);"
            ]
        );
        assert_eq!(parsed.up.statement_lines, [3, 6]);
        assert_eq!(parsed.down.statements, ["DROP TABLE a;"]);
        assert!(parsed.down.present && !parsed.up.no_transaction);
    }

    #[test]
    fn blocks_keep_semicolons_and_comments_inside() {
        let stmts = up(
            "-- +goose Up\n-- +goose StatementBegin\nCREATE FUNCTION f() RETURNS int AS $$\n\
             BEGIN\n  -- inside\n  RETURN 1;\nEND;\n$$ LANGUAGE plpgsql;\n-- +goose StatementEnd\n\
             SELECT 1;\n",
        );
        assert_eq!(
            stmts,
            [
                "CREATE FUNCTION f() RETURNS int AS $$\nBEGIN\n  -- inside\n  RETURN 1;\nEND;\n$$ LANGUAGE plpgsql;",
                "SELECT 1;"
            ]
        );
    }

    #[test]
    fn no_transaction_applies_to_both_directions_wherever_it_is() {
        let parsed = parse_goose(
            "-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY i ON a (n);\n\
             -- +goose Down\nDROP INDEX CONCURRENTLY i;\n",
        )
        .unwrap();
        assert!(parsed.up.no_transaction && parsed.down.no_transaction);
    }

    #[test]
    fn a_missing_down_is_allowed_and_known() {
        let parsed = parse_goose("-- +goose Up\nSELECT 1;\n").unwrap();
        assert!(!parsed.down.present && parsed.down.statements.is_empty());
    }

    #[test]
    fn comments_in_a_statement_are_kept_and_a_leading_comment_is_dropped() {
        let stmts = up("-- +goose Up\n  -- indented leading comment\nSELECT\n-- middle\n1;\n");
        assert_eq!(stmts, ["SELECT\n-- middle\n1;"]);
    }

    #[test]
    fn mistakes_are_errors_naming_the_line() {
        let cases = [
            ("SELECT 1;\n-- +goose Up\n", 1, "SQL before"),
            ("-- +goose Down\nSELECT 1;\n", 1, "before `-- +goose Up`"),
            ("-- +goose Up\n-- +goose Up\n", 2, "second"),
            ("-- +goose Up\nSELECT 1\n", 2, "not ended"),
            (
                "-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n",
                2,
                "no matching",
            ),
            ("-- +goose Up\n-- +goose StatementEnd\n", 2, "without"),
            (
                "-- +goose Up\n-- +goose DOWN\n",
                2,
                "unknown goose annotation `+goose DOWN`",
            ),
            (
                "-- +goose Up\n-- +goose ENVSUB ON\n",
                2,
                "unknown goose annotation",
            ),
            ("-- just a comment\n", 1, "no `-- +goose Up`"),
        ];
        for (source, line, text) in cases {
            let e = parse_goose(source).unwrap_err();
            assert_eq!(e.line, line, "{source:?}: {e}");
            assert!(e.message.contains(text), "{source:?}: {e}");
        }
    }

    #[test]
    fn detects_goose_files() {
        assert!(is_goose("-- +goose Up\nSELECT 1;\n"));
        assert!(is_goose("--+goose Up\n"));
        assert!(!is_goose("-- +migrate Up\nSELECT 1;\n"));
        assert!(!is_goose("-- +gooseberry\n"));
    }
}
