use std::path::PathBuf;

/// Why a migration set could not be loaded or run. Reached as [`crate::Error::Migration`];
/// named `skelly_db::migrate::MigrationError`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrationError {
    /// The file does not follow the format.
    #[error("{}line {line}: {message}", file.as_deref().map(|f| format!("{f}: ")).unwrap_or_default())]
    Parse {
        /// The file name, when parsing a file of a set.
        file: Option<String>,
        /// The 1-based line of the problem.
        line: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The file has no `-- +migrate Down` marker, and empty Downs are not allowed.
    #[error("{file}: no Down section (`-- +migrate Down`, or `-- +goose Down` in a goose file); add one (an empty Down section marks the migration irreversible), or allow missing and empty Downs as sql-migrate does (they revert as a no-op) with --allow-empty-down, Migrator::allow_empty_down(true) or SKELLY_MIGRATE_ALLOW_EMPTY_DOWN=1")]
    MissingDown {
        /// The file name.
        file: String,
    },
    /// A pending migration's Up section has no statement (a file `migrate new` wrote and nobody
    /// filled in yet): applying it would record it as done having done nothing.
    #[error("{file}: the Up section has no statement; write the migration's SQL under `-- +migrate Up` (or delete the file)")]
    EmptyUp {
        /// The file name.
        file: String,
    },
    /// The directory or a file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// What could not be read.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not UTF-8.
    #[error("{file} is not valid UTF-8; migrations must be UTF-8 text")]
    NotUtf8 {
        /// The file name.
        file: String,
    },
    /// The directory holds goose files and sql-migrate files together.
    #[error("the migrations mix formats: {goose} is a goose file (-- +goose Up), {sql_migrate} a sql-migrate file (-- +migrate Up); keep one format per directory")]
    MixedFormats {
        /// A goose file.
        goose: String,
        /// A sql-migrate file.
        sql_migrate: String,
    },
    /// Two files have the same identity (file name).
    #[error("two migrations have the identity `{id}`; rename one")]
    Duplicate {
        /// The repeated identity.
        id: String,
    },
    /// Applied migrations whose file changed or disappeared; `up` refuses to run until resolved.
    #[error("the applied migrations differ from the files: {}; restore the files as they were applied, or, when a change was harmless (a comment, whitespace), record the files' checksums with `skelly-db migrate repair-checksums --yes` (`Migrator::repair_checksums`), or forget a migration whose file is gone with `skelly-db migrate unmark FILE`", problems.join("; "))]
    Diverged {
        /// One line per changed or missing migration.
        problems: Vec<String>,
    },
    /// `down` met a migration whose Down section is empty: it reverted the ones before it
    /// (`reverted`) and stopped.
    #[error("migration {id} is irreversible (its Down section is empty): down reverted {reverted} migration(s) before it and stopped; to revert empty Downs as a no-op, as sql-migrate does, use --allow-empty-down")]
    Irreversible {
        /// The migration's identity.
        id: String,
        /// How many migrations down reverted before stopping at it.
        reverted: usize,
    },
    /// `up` or `down` met a goose Go migration: it ran the migrations before it and stopped.
    #[error("{file} is a goose Go migration, and skelly-db runs SQL only: it was not run (up and down stop before it). Port it to SQL (`{}.sql` beside it, the .go file removed), or do its work by hand and record it with `skelly-db migrate mark-applied {file}`; on a database goose migrated, `skelly-db migrate adopt goose --go-applied` records it", file.trim_end_matches(".go"))]
    GoMigration {
        /// The `.go` file.
        file: String,
    },
    /// `down` would have to revert an applied migration whose file is gone.
    #[error("applied migration {id} has no file, so it cannot be reverted; restore the file")]
    MissingFile {
        /// The migration's identity.
        id: String,
    },
    /// A statement failed; the migration was rolled back (unless it runs without a transaction:
    /// then it is recorded as failed, to be resumed or forgotten).
    #[error("{file}:{line}: migration failed in `{}`: {source}{}", first_line(statement), if *rolled_back { String::new() } else { format!(" (notransaction: the statements before it stay applied; it is recorded as failed: put the database right, then `skelly-db migrate resume {file}` runs the rest, or `skelly-db migrate unmark {file}` forgets it)") })]
    Failed {
        /// The file name.
        file: String,
        /// The 1-based line in the file where the failing statement (or the error position in
        /// it) is.
        line: usize,
        /// The statement that failed.
        statement: String,
        /// Whether everything the migration did was rolled back.
        rolled_back: bool,
        /// The server's error.
        #[source]
        source: Box<crate::Error>,
    },
    /// The history table exists but does not have the columns skelly-db records (`id text`,
    /// `checksum text`, `applied_at timestamptz`, `execution_ms bigint`).
    #[error("history table {table} is not a skelly-db history table ({reason}); it needs the columns id text, checksum text, applied_at timestamptz, execution_ms bigint; name another with Migrator::history_table")]
    HistoryTable {
        /// The qualified table name.
        table: String,
        /// Which column is missing or of another type.
        reason: String,
    },
    /// Another tool's history could not be adopted; nothing was written.
    #[error("cannot adopt the history in {table}: {}; nothing was written", problems.join("; "))]
    Adopt {
        /// The other tool's table.
        table: String,
        /// Each reason: an applied id without a file, a checksum that disagrees.
        problems: Vec<String>,
    },
    /// A notransaction migration failed half way earlier; nothing runs until it is resumed
    /// or forgotten.
    #[error("{id} failed at statement {statement} of {of}: {error}; the statements before it stay applied. Put the database right, then `skelly-db migrate resume {id}` (Migrator::resume) runs statements {statement} to {of}, or `skelly-db migrate unmark {id}` forgets the migration")]
    FailedHalfWay {
        /// The migration's identity.
        id: String,
        /// The statement that failed, 1-based.
        statement: usize,
        /// How many statements its Up section has.
        of: usize,
        /// The error recorded.
        error: String,
    },
    /// An operator command could not do what was asked; nothing was written.
    #[error("{message}; nothing was written")]
    Operator {
        /// What is wrong.
        message: String,
    },
    /// `up_to` named a migration that is not in the set.
    #[error("no migration named `{target}` in the set")]
    UnknownTarget {
        /// The name asked for.
        target: String,
    },
    /// Migrations manage their own transactions; they cannot run inside the caller's.
    #[error("migrations cannot run inside a transaction; pass a pool or a connection")]
    InTransaction,
    /// Another runner held the migration lock for longer than the lock timeout.
    #[error("another migration runner held the lock for more than {waited:?}")]
    LockTimeout {
        /// How long this runner waited.
        waited: std::time::Duration,
    },
    /// A notransaction migration is marked as being applied (`execution_ms = -1` in the
    /// history) by another runner, for longer than the lock timeout. If no runner is at work
    /// (it crashed), check what the migration did and delete that history row.
    #[error("{id} has been marked as being applied by another runner for more than {waited:?}; if no runner is at work, check the migration's effects and delete its row (execution_ms = -1) from the history table")]
    InProgressElsewhere {
        /// The migration's identity.
        id: String,
        /// How long this runner waited.
        waited: std::time::Duration,
    },
}

/// A statement's first line, shortened, for an error message.
fn first_line(statement: &str) -> String {
    let line = statement
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut short: String = line.chars().take(80).collect();
    if short.len() < line.len() || statement.trim().lines().count() > 1 {
        short.push_str(" ...");
    }
    short
}
