//! goose's SQL migration format: `-- +goose Up`, `-- +goose Down`, `-- +goose StatementBegin`
//! / `StatementEnd` and `-- +goose NO TRANSACTION`, split with goose's rules so that a goose
//! project's files run as goose runs them.

use super::{ends_with_semicolon, ParseError, ParsedMigration, Section};

/// Whether a file is in goose's format: it has a `-- +goose` annotation.
pub fn is_goose(source: &str) -> bool {
    source
        .lines()
        .any(|line| matches!(annotation(line), Ok(Some(_))))
}

/// An annotation goose knows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Annotation {
    Up,
    Down,
    StatementBegin,
    StatementEnd,
    NoTransaction,
    EnvsubOn,
    EnvsubOff,
}

const ANNOTATIONS: [(&str, Annotation); 7] = [
    ("Up", Annotation::Up),
    ("Down", Annotation::Down),
    ("StatementBegin", Annotation::StatementBegin),
    ("StatementEnd", Annotation::StatementEnd),
    ("NO TRANSACTION", Annotation::NoTransaction),
    ("ENVSUB ON", Annotation::EnvsubOn),
    ("ENVSUB OFF", Annotation::EnvsubOff),
];

// goose's rule (v3.19.1 on): a line starting with `--` that holds `+goose` is an annotation;
// every `--` and the `+goose` are removed and the rest, trimmed, is matched in any case. An
// annotation after leading whitespace, an empty one, an unknown one and text after it are
// errors, as in goose.
fn annotation(line: &str) -> Result<Option<Annotation>, String> {
    if !(line.trim_start().starts_with("--") && line.contains("+goose")) {
        return Ok(None);
    }
    if line.starts_with(char::is_whitespace) {
        return Err(
            "a goose annotation starts at the beginning of its line; remove the whitespace before `--`"
                .into(),
        );
    }
    let command = line.replace("--", "").replacen("+goose", "", 1);
    if command.contains("+goose") {
        return Err("more than one `+goose` on one line".into());
    }
    let command = command.trim();
    let expected = "expected `Up`, `Down`, `StatementBegin`, `StatementEnd`, `NO TRANSACTION`, \
                    `ENVSUB ON` or `ENVSUB OFF` (in any case), alone on the line";
    if command.is_empty() {
        return Err(format!("an empty goose annotation; {expected}"));
    }
    ANNOTATIONS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(command))
        .map(|(_, a)| Some(*a))
        .ok_or_else(|| format!("unknown goose annotation `{command}`; {expected}"))
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

/// Splits a goose migration into its Up and Down statements, following goose's rules (as of
/// v3.19.1):
///
/// - an annotation is a line starting with `--` that holds `+goose`: `Up`, `Down`,
///   `StatementBegin`, `StatementEnd`, `NO TRANSACTION`, `ENVSUB ON`, `ENVSUB OFF`, in any case
///   and with any spacing (`--+goose up`); an unknown or empty one, one after leading
///   whitespace, or text after it is an error naming its line, as in goose. The file starts
///   (blank lines and comments aside) with `Up`, and `Down` comes after it;
/// - a statement ends at a line whose last word before any `--` comment ends with `;`, and
///   is cut after its last `;`; a `StatementBegin` ... `StatementEnd` block is one statement;
/// - comments and blank lines before a statement are dropped; once a statement has begun,
///   every line up to its end is kept;
/// - `NO TRANSACTION` anywhere runs both directions statement by statement, outside a
///   transaction;
/// - from `ENVSUB ON` to `ENVSUB OFF` (or the end of the file, across Up and Down) every line
///   of a statement has its `${VAR}` expansions replaced from the process environment, with
///   goose's rules (see [`parse_goose_with_env`]).
///
/// ```
/// let parsed = skelly_db_migrate_format::parse_goose(
///     "-- +goose Up\nCREATE TABLE t (id int);\n\n-- +goose down\nDROP TABLE t;\n",
/// ).unwrap();
/// assert_eq!(parsed.up.statements, ["CREATE TABLE t (id int);"]);
/// assert_eq!(parsed.down.statements, ["DROP TABLE t;"]);
/// ```
pub fn parse_goose(source: &str) -> Result<ParsedMigration, ParseError> {
    parse_goose_with_env(source, &|name| std::env::var(name).ok())
}

/// [`parse_goose`] with the variables of `ENVSUB ON` sections looked up in `env` (`None`:
/// unset). The expansions are goose's (its interpolation library's): `$VAR` and `${VAR}` (empty
/// when unset), `${VAR:-word}` (when unset or empty), `${VAR-word}` (when unset),
/// `${VAR?message}` (an error naming the line when unset), `${VAR:offset[:length]}`, `$$` and
/// `\$` for a `$`. A name starts with a letter, so `$1` in an `ENVSUB ON` section is an error,
/// as in goose.
///
/// ```
/// let source = "-- +goose Up\n-- +goose ENVSUB ON\nCREATE ROLE ${ROLE:-app};\n-- +goose Down\nDROP ROLE ${ROLE:-app};\n";
/// let parsed = skelly_db_migrate_format::parse_goose_with_env(source, &|name| {
///     (name == "ROLE").then(|| "reporting".to_string())
/// })
/// .unwrap();
/// assert_eq!(parsed.up.statements, ["CREATE ROLE reporting;"]);
/// assert_eq!(parsed.down.statements, ["DROP ROLE reporting;"]);
/// ```
pub fn parse_goose_with_env(
    source: &str,
    env: crate::envsub::Lookup<'_>,
) -> Result<ParsedMigration, ParseError> {
    let mut parsed = ParsedMigration::default();
    let mut state = State::Start;
    let mut buf = String::new();
    let mut buf_line = 0;
    let mut block_line = 0;
    let mut no_transaction = false;
    let mut envsub = false;
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
        if let Some(found) = annotation(line).map_err(|m| err(line_no, &m))? {
            match (found, state) {
                (Annotation::Up, State::Start) => {
                    state = State::Up;
                    parsed.up.present = true;
                    continue;
                }
                (Annotation::Up, _) => {
                    return Err(err(line_no, "a second `-- +goose Up` annotation"))
                }
                (Annotation::Down, State::Up) => {
                    if !buf.trim().is_empty() {
                        return Err(unfinished(buf_line));
                    }
                    buf.clear();
                    state = State::Down;
                    parsed.down.present = true;
                    continue;
                }
                (Annotation::Down, State::Start) => {
                    return Err(err(line_no, "`-- +goose Down` before `-- +goose Up`; the file starts with `-- +goose Up`"))
                }
                (Annotation::Down, _) => {
                    return Err(err(line_no, "`-- +goose Down` inside a StatementBegin block or after another Down"))
                }
                (Annotation::StatementBegin, State::Up | State::Down) => {
                    state = if state == State::Up {
                        State::UpBlock
                    } else {
                        State::DownBlock
                    };
                    block_line = line_no;
                    continue;
                }
                (Annotation::StatementBegin, _) => {
                    return Err(err(line_no, "`-- +goose StatementBegin` must follow `-- +goose Up` or `-- +goose Down`, outside another block"))
                }
                (Annotation::StatementEnd, State::UpBlock | State::DownBlock) => {
                    block_ended = true
                }
                (Annotation::StatementEnd, _) => {
                    return Err(err(line_no, "`-- +goose StatementEnd` without a `-- +goose StatementBegin`"))
                }
                (Annotation::NoTransaction, _) => {
                    no_transaction = true;
                    continue;
                }
                (Annotation::EnvsubOn, _) => {
                    envsub = true;
                    continue;
                }
                (Annotation::EnvsubOff, _) => {
                    envsub = false;
                    continue;
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
            if envsub {
                let expanded = crate::envsub::interpolate(line, env)
                    .map_err(|e| err(line_no, &format!("variable substitution failed: {e}")))?;
                buf.push_str(&expanded);
            } else {
                buf.push_str(line);
            }
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
                "-- +goose Up\n-- +goose Down -- the revert\n",
                2,
                "unknown goose annotation `Down  the revert`",
            ),
            ("-- +goose Up\n  -- +goose Down\n", 2, "beginning of its line"),
            ("-- +goose Up\n-- +goose\n", 2, "an empty goose annotation"),
            ("-- +goose Up\n-- +goose +goose Down\n", 2, "more than one"),
            (
                "-- +goose Up\n-- +goose ENVSUB ON\nSELECT\n  $1;\n",
                4,
                "variable substitution failed: Expected identifier to start with a letter, got 1",
            ),
            (
                "-- +goose Up\n-- +goose envsub on\nSELECT 1;\n-- +goose Down\nSELECT '${SKELLY_SURELY_UNSET?set it}';\n",
                5,
                "variable substitution failed: $SKELLY_SURELY_UNSET: set it",
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
    fn annotations_in_any_case_and_spacing() {
        let parsed = parse_goose(
            "--+goose up\n-- +goose no transaction\nSELECT 1;\n-- +goose statementbegin\nSELECT 2;\n-- +GOOSE StatementEnd\nSELECT 3;\n--   +goose   STATEMENTEND  \n-- +goose DOWN\nSELECT 4;\n",
        );
        // `+GOOSE` is not an annotation (goose matches `+goose` as written): a comment in the
        // block, kept.
        let parsed = parsed.unwrap();
        assert_eq!(
            parsed.up.statements,
            ["SELECT 1;", "SELECT 2;\n-- +GOOSE StatementEnd\nSELECT 3;"]
        );
        assert!(parsed.up.no_transaction && parsed.down.no_transaction);
        assert_eq!(parsed.down.statements, ["SELECT 4;"]);
    }

    #[test]
    fn envsub_on_to_off_across_up_and_down() {
        let env = |name: &str| match name {
            "SCHEMA" => Some("tenant_a".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        let source = "-- +goose Up\nCREATE TABLE ${SCHEMA}.t (n int DEFAULT ${N:-3});\n-- +goose ENVSUB ON\n-- a leading ${comment} is dropped, not expanded: $1\nCREATE TABLE ${SCHEMA}.u (s text DEFAULT '${EMPTY-x}' -- ${SCHEMA}\n);\n-- +goose StatementBegin\nSELECT '$SCHEMA', $$ ;\n-- +goose StatementEnd\n-- +goose Down\nDROP TABLE ${SCHEMA}.u;\n-- +goose ENVSUB OFF\nDROP TABLE ${SCHEMA}.t;\n";
        let parsed = parse_goose_with_env(source, &env).unwrap();
        assert_eq!(
            parsed.up.statements,
            [
                "CREATE TABLE ${SCHEMA}.t (n int DEFAULT ${N:-3});",
                "CREATE TABLE tenant_a.u (s text DEFAULT '' -- tenant_a\n);",
                "SELECT 'tenant_a', $ ;",
            ]
        );
        assert_eq!(
            parsed.down.statements,
            ["DROP TABLE tenant_a.u;", "DROP TABLE ${SCHEMA}.t;"]
        );
    }

    #[test]
    fn detects_goose_files() {
        assert!(is_goose("-- +goose Up\nSELECT 1;\n"));
        assert!(is_goose("--+goose Up\n"));
        assert!(!is_goose("-- +migrate Up\nSELECT 1;\n"));
        assert!(!is_goose("-- +gooseberry\n"));
    }
}
