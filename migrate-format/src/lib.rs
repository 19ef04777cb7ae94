//! The migration file formats, shared by `skelly-db` (the runner) and `skelly-db-macros`
//! (`embed_migrations!`), so both accept exactly the same files: sql-migrate's
//! ([`parse_migration`]) and goose's ([`parse_goose`]); [`parse_any`] picks by the file's
//! annotations.
//!
//! Users reach this through `skelly_db::migrate`; depend on `skelly-db`, not on this crate.
//!
//! The rules are those of sql-migrate's `sqlparse` package, so existing sql-migrate projects
//! move over unchanged, with one stricter rule: a `-- +migrate` line that is not a known
//! command (`DOWN`, `Down;`, `Foo`, a misspelled option) is an error naming its line, where
//! sql-migrate silently ignores it.

use std::cmp::Ordering;
use std::fmt;

const COMMAND_PREFIX: &str = "-- +migrate ";
const NO_TRANSACTION: &str = "notransaction";

/// One direction (Up or Down) of a migration file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    /// One string per statement, exactly as it will be sent to the server.
    pub statements: Vec<String>,
    /// The 1-based line in the file where each statement starts (same length as `statements`).
    pub statement_lines: Vec<usize>,
    /// `-- +migrate Up notransaction`: the statements run one by one, outside a transaction.
    pub no_transaction: bool,
    /// Whether the file has this direction's marker at all.
    pub present: bool,
}

/// A migration file split into its Up and Down statements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedMigration {
    /// The `-- +migrate Up` section.
    pub up: Section,
    /// The `-- +migrate Down` section; no statements means the migration is irreversible.
    pub down: Section,
}

/// A file the parser rejects, with the 1-based line the problem is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The line the problem is on (the last line for problems found at the end of the file).
    pub line: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    None,
    Up,
    Down,
}

/// Splits a migration file into statements, following sql-migrate's rules:
///
/// - a command line starts at column 0 with `-- +migrate ` followed by `Up`, `Down`,
///   `StatementBegin` or `StatementEnd`; `Up` and `Down` may carry `notransaction`;
/// - a statement ends at a line whose last word before any `--` comment ends with `;`;
///   a `StatementBegin` ... `StatementEnd` block is one statement whatever it holds;
/// - lines starting with `-- ` are dropped, indented comments are kept, text before the
///   first Up/Down marker is ignored, CRLF line ends are read as LF.
///
/// ```
/// let parsed = skelly_db_migrate_format::parse_migration(
///     "-- +migrate Up\nCREATE TABLE t (id int);\n-- +migrate Down\nDROP TABLE t;\n",
/// ).unwrap();
/// assert_eq!(parsed.up.statements, ["CREATE TABLE t (id int);\n"]);
/// assert_eq!(parsed.down.statements, ["DROP TABLE t;\n"]);
/// ```
pub fn parse_migration(source: &str) -> Result<ParsedMigration, ParseError> {
    let mut parsed = ParsedMigration::default();
    let mut buf = String::new();
    let mut buf_line = 0usize;
    let mut statement_ended = false;
    let mut ignore_semicolons = false;
    let mut block_line = 0usize;
    let mut direction = Direction::None;
    let mut line_no = 0usize;

    for raw in source.split_inclusive('\n') {
        line_no += 1;
        let line = raw.strip_suffix('\n').unwrap_or(raw);
        let line = line.strip_suffix('\r').unwrap_or(line);

        // Plain `-- ` comments are dropped; `-- +...` lines are commands (or ignored markers).
        if line.starts_with("-- ") && !line.starts_with("-- +") {
            continue;
        }

        if line.starts_with("-- +migrate") {
            let command = parse_command(line, line_no)?;
            match command {
                Command::Up { no_transaction } | Command::Down { no_transaction } => {
                    if !buf.trim().is_empty() {
                        return Err(no_terminator(buf_line));
                    }
                    let section = if matches!(command, Command::Up { .. }) {
                        direction = Direction::Up;
                        &mut parsed.up
                    } else {
                        direction = Direction::Down;
                        &mut parsed.down
                    };
                    section.present = true;
                    section.no_transaction |= no_transaction;
                }
                Command::StatementBegin => {
                    if direction != Direction::None {
                        ignore_semicolons = true;
                        block_line = line_no;
                    }
                }
                Command::StatementEnd => {
                    if direction != Direction::None {
                        statement_ended = ignore_semicolons;
                        ignore_semicolons = false;
                    }
                }
            }
        }

        if direction == Direction::None {
            continue;
        }

        if !line.starts_with("-- +") {
            if buf.trim().is_empty() && !line.trim().is_empty() {
                buf_line = line_no;
            }
            buf.push_str(line);
            buf.push('\n');
        }

        if (!ignore_semicolons && ends_with_semicolon(line)) || statement_ended {
            statement_ended = false;
            let section = match direction {
                Direction::Up => &mut parsed.up,
                Direction::Down => &mut parsed.down,
                Direction::None => unreachable!("checked above"),
            };
            section.statements.push(std::mem::take(&mut buf));
            section
                .statement_lines
                .push(if buf_line == 0 { line_no } else { buf_line });
            buf_line = 0;
        }
    }

    if ignore_semicolons {
        return Err(ParseError {
            line: block_line,
            message: "`-- +migrate StatementBegin` has no matching `-- +migrate StatementEnd`; \
                      close the block"
                .into(),
        });
    }
    if direction == Direction::None {
        return Err(ParseError {
            line: line_no.max(1),
            message: "no `-- +migrate Up` or `-- +migrate Down` marker found; start the file \
                      with `-- +migrate Up`"
                .into(),
        });
    }
    if !buf.trim().is_empty() {
        return Err(no_terminator(buf_line));
    }
    Ok(parsed)
}

enum Command {
    Up { no_transaction: bool },
    Down { no_transaction: bool },
    StatementBegin,
    StatementEnd,
}

fn parse_command(line: &str, line_no: usize) -> Result<Command, ParseError> {
    let err = |message: String| ParseError {
        line: line_no,
        message,
    };
    let Some(rest) = line.strip_prefix(COMMAND_PREFIX) else {
        return Err(err(format!(
            "`{line}` is not a migrate command; write `-- +migrate Up`, `-- +migrate Down`, \
             `-- +migrate StatementBegin` or `-- +migrate StatementEnd`"
        )));
    };
    let mut fields = rest.split_whitespace();
    let Some(name) = fields.next() else {
        return Err(err(
            "incomplete migrate command: `-- +migrate` needs `Up`, `Down`, `StatementBegin` \
             or `StatementEnd`"
                .into(),
        ));
    };
    let options: Vec<&str> = fields.collect();
    let takes_options = matches!(name, "Up" | "Down");
    for option in &options {
        if !takes_options || *option != NO_TRANSACTION {
            let allowed = if takes_options {
                "the only option is `notransaction`"
            } else {
                "it takes no options"
            };
            return Err(err(format!(
                "unknown option `{option}` on `-- +migrate {name}`; {allowed}"
            )));
        }
    }
    let no_transaction = !options.is_empty();
    match name {
        "Up" => Ok(Command::Up { no_transaction }),
        "Down" => Ok(Command::Down { no_transaction }),
        "StatementBegin" => Ok(Command::StatementBegin),
        "StatementEnd" => Ok(Command::StatementEnd),
        other => {
            let hint = ["Up", "Down", "StatementBegin", "StatementEnd"]
                .into_iter()
                .find(|known| {
                    known.eq_ignore_ascii_case(other.trim_matches(|c: char| !c.is_alphanumeric()))
                })
                .map(|known| format!("; did you mean `{known}`?"))
                .unwrap_or_else(|| {
                    "; expected one of `Up`, `Down`, `StatementBegin`, `StatementEnd`".into()
                });
            Err(err(format!("unknown migrate command `{other}`{hint}")))
        }
    }
}

// The last whitespace-separated word before any word starting with `--` ends with `;`.
pub(crate) fn ends_with_semicolon(line: &str) -> bool {
    let mut prev = "";
    for word in line.split_whitespace() {
        if word.starts_with("--") {
            break;
        }
        prev = word;
    }
    prev.ends_with(';')
}

fn no_terminator(line: usize) -> ParseError {
    unterminated(line, "-- +migrate StatementEnd")
}

/// A statement that ends neither at a `;` nor at the format's block end (`end_marker`).
pub(crate) fn unterminated(line: usize, end_marker: &str) -> ParseError {
    ParseError {
        line,
        message: format!(
            "the statement starting here is not ended by a `;` at the end of a line or a \
             `{end_marker}` marker"
        ),
    }
}

/// Orders migration identities (file names) the way sql-migrate does: by the leading number
/// when both names have one (numerically), numbered before unnumbered, then by name.
///
/// ```
/// use std::cmp::Ordering;
/// use skelly_db_migrate_format::compare_ids;
/// assert_eq!(compare_ids("1_a.sql", "10_b.sql"), Ordering::Less);
/// assert_eq!(compare_ids("2_x.sql", "unnumbered.sql"), Ordering::Less);
/// ```
pub fn compare_ids(a: &str, b: &str) -> Ordering {
    match (leading_number(a), leading_number(b)) {
        (Some(x), Some(y)) if x != y => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        _ => a.cmp(b),
    }
}

/// The number a migration name starts with: its leading digits, as sql-migrate reads them
/// (`20240101120000` of `20240101120000_init.sql`, `2023` of `2023-01-20.0-initial.sql`).
pub fn leading_number(id: &str) -> Option<u128> {
    let digits = id.len() - id.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    // More digits than a u128 holds: compare such names by name.
    id[..digits].parse().ok()
}

mod dir;
mod envsub;
mod goose;

pub use dir::{check_file, read_dir, LoadError, MigrationFile};
pub use envsub::Lookup;
pub use goose::{check_goose_name, is_goose, parse_goose, parse_goose_with_env};

/// Parses a file in whichever format it is written: goose's when it has a `-- +goose`
/// annotation, sql-migrate's otherwise.
pub fn parse_any(source: &str) -> Result<ParsedMigration, ParseError> {
    if is_goose(source) {
        parse_goose(source)
    } else {
        parse_migration(source)
    }
}

/// Whether a file name is a goose Go migration: `<version>_<name>.go` (not a `_test.go`), as
/// goose collects them. skelly-db runs SQL only: such a file is a migration it knows about and
/// refuses to run (it can be recorded as applied).
///
/// ```
/// use skelly_db_migrate_format::is_go_migration;
///
/// assert!(is_go_migration("00003_backfill_slugs.go"));
/// assert!(!is_go_migration("00003_backfill_slugs_test.go"));
/// assert!(!is_go_migration("main.go"));
/// ```
pub fn is_go_migration(name: &str) -> bool {
    name.ends_with(".go")
        && !name.ends_with("_test.go")
        && leading_number(name).is_some_and(|n| n > 0)
}

/// What a Go migration parses to: both sections present, no statements.
pub fn go_migration() -> ParsedMigration {
    let mut parsed = ParsedMigration::default();
    parsed.up.present = true;
    parsed.down.present = true;
    parsed
}

/// [`parse_any`] with goose's `ENVSUB ON` variables looked up in `env`.
pub fn parse_any_with_env(source: &str, env: Lookup<'_>) -> Result<ParsedMigration, ParseError> {
    if is_goose(source) {
        parse_goose_with_env(source, env)
    } else {
        parse_migration(source)
    }
}

#[cfg(test)]
mod tests;
