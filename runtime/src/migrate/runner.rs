use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::history::History;
use super::plan::{self, Request};
use super::progress::{Progress, ProgressFn};
use super::source::{self, Migration};
use super::MigrationError;
use crate::error::Result;
use crate::executor::Executor;

/// Default schema of the history table.
pub const DEFAULT_HISTORY_SCHEMA: &str = "public";
/// Default name of the history table.
pub const DEFAULT_HISTORY_TABLE: &str = "skelly_migrations";

/// An ordered, checked set of migrations and the history table that records them.
///
/// Runners are safe to start concurrently, also behind transaction-mode poolers (PgBouncer,
/// Supavisor, RDS Proxy): each migration runs in a transaction that first takes a
/// transaction-level advisory lock (derived from the history table's name) and re-reads the
/// history, so every migration applies exactly once. A notransaction migration is claimed in
/// the history (`execution_ms = -1`) under that lock before its statements run, and other
/// runners wait for it. A connection taken from a pool for a run is closed afterwards rather
/// than returned.
#[derive(Debug, Clone)]
pub struct Migrator {
    pub(super) migrations: Vec<Migration>,
    pub(super) history: History,
    pub(super) lock_timeout: Duration,
    pub(super) allow_empty_down: bool,
    pub(super) statement_timeout: Option<Duration>,
    pub(super) ddl_lock_timeout: Option<Duration>,
    pub(super) progress: Option<ProgressFn>,
}

/// Which way a migration ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Applied.
    Up,
    /// Reverted.
    Down,
}

/// One migration that ran, with how long it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The migration's identity.
    pub id: String,
    /// Up or down.
    pub direction: Direction,
    /// Wall time of its statements and history row.
    pub duration: Duration,
}

/// Where a migration stands, as [`Migrator::status`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationState {
    /// Recorded in the history table with the file's checksum.
    Applied,
    /// Not applied yet.
    Pending,
    /// Applied, but the file has changed since (checksum differs); `up` stops on it.
    Changed,
    /// Applied, but no file has its name any more; `up` stops on it.
    Missing,
    /// A notransaction migration another runner claimed and has not finished (or died while
    /// running: then `up` reports it after the lock timeout; `resume` or `unmark` it).
    InProgress,
    /// A notransaction migration that failed half way: the statements before the failing one
    /// stay applied. [`MigrationStatus::failure`] says where; `up` refuses until it is resumed
    /// ([`Migrator::resume`]) or forgotten ([`Migrator::unmark`]).
    Failed,
}

/// Where a failed notransaction migration stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The statement that failed, 1-based.
    pub statement: usize,
    /// How many statements its Up section has.
    pub of: usize,
    /// The error.
    pub error: String,
}

/// One line of [`Migrator::status`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// The migration's identity (file name).
    pub id: String,
    /// Applied, pending, changed or missing.
    pub state: MigrationState,
    /// When it was applied.
    pub applied_at: Option<DateTime<Utc>>,
    /// How long applying it took.
    pub execution_time: Option<Duration>,
    /// Its Down section is empty (or missing), so `down` will not pass it.
    pub irreversible: bool,
    /// The file has no Down marker at all (`up` refuses it unless empty Downs are allowed);
    /// tells a forgotten Down from a deliberately empty one.
    pub no_down: bool,
    /// Pending, but sorts before the newest applied migration; `up` applies it anyway.
    pub out_of_order: bool,
    /// For [`MigrationState::Failed`]: where it stopped and why.
    pub failure: Option<Failure>,
}

impl Migrator {
    /// Loads every top-level `.sql` file of `dir`. A malformed file, a non-UTF-8 file or two
    /// files with one identity is an error naming them. A file without a Down marker loads,
    /// but `up`, `down` and `redo` refuse to run while there is one, unless
    /// [`Migrator::allow_empty_down`].
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Migrator> {
        Ok(Migrator::from_set(source::read_dir(dir.as_ref())?))
    }

    /// Like [`Migrator::from_dir`], but a file that does not parse is left out and its error
    /// returned beside the migrator, for a status that shows every file (the CLI's `status`
    /// lists such a file as invalid and the rest as usual). Not for running: the left-out file
    /// would look unapplied.
    pub fn from_dir_lenient(dir: impl AsRef<Path>) -> Result<(Migrator, Vec<MigrationError>)> {
        let (valid, invalid) = source::read_dir_lenient(dir.as_ref())?;
        Ok((Migrator::from_set(valid), invalid))
    }

    /// A migrator over `(file name, contents)` pairs, checked like [`Migrator::from_dir`].
    pub fn from_sources<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Migrator> {
        let set = files
            .into_iter()
            .map(|(id, src)| Migration::new(id, src))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Migrator::from_set(source::into_ordered(set)?))
    }

    fn from_set(migrations: Vec<Migration>) -> Migrator {
        Migrator {
            migrations,
            history: History::new(DEFAULT_HISTORY_SCHEMA, DEFAULT_HISTORY_TABLE),
            lock_timeout: Duration::from_secs(600),
            allow_empty_down: std::env::var("SKELLY_MIGRATE_ALLOW_EMPTY_DOWN")
                .is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes")),
            statement_timeout: None,
            ddl_lock_timeout: None,
            progress: None,
        }
    }

    /// sql-migrate's behaviour: a missing or empty Down section reverts as a no-op (the
    /// history row is removed, nothing else runs). The default is strict: a file without a
    /// Down marker is refused and an empty Down is irreversible. `SKELLY_MIGRATE_ALLOW_EMPTY_DOWN=1`
    /// in the environment turns it on too (CLI: `--allow-empty-down`).
    pub fn allow_empty_down(mut self, allow: bool) -> Migrator {
        self.allow_empty_down = allow;
        self
    }

    /// The `statement_timeout` of the migrations' statements (CLI `--statement-timeout`).
    /// Default: none, whatever the pool's connections have (`DATABASE_STATEMENT_TIMEOUT_MS` is
    /// for the application's queries, not for a long `CREATE INDEX`).
    pub fn statement_timeout(mut self, timeout: Option<Duration>) -> Migrator {
        self.statement_timeout = timeout;
        self
    }

    /// PostgreSQL's `lock_timeout` for the migrations' statements (CLI `--lock-timeout`): a
    /// migration whose `ALTER TABLE` waits longer than this for a table lock fails with
    /// `lock_timeout`, names its file and rolls back, instead of queueing every query behind it.
    /// Default: the server's (usually none). Not to be confused with [`Migrator::lock_timeout`],
    /// the wait for another runner.
    pub fn ddl_lock_timeout(mut self, timeout: Option<Duration>) -> Migrator {
        self.ddl_lock_timeout = timeout;
        self
    }

    /// Calls `f` as the run goes: each migration's start and end, and waiting for another
    /// runner's lock. The CLI prints these lines.
    ///
    /// ```no_run
    /// # async fn run(pool: skelly_db::Pool) -> skelly_db::Result<()> {
    /// use skelly_db::migrate::{Migrator, Progress};
    ///
    /// Migrator::from_dir("migrations")?
    ///     .on_progress(|p| match p {
    ///         Progress::Started { id, .. } => eprintln!("applying {id}"),
    ///         Progress::Finished(done) => eprintln!("done {} in {:?}", done.id, done.duration),
    ///         _ => {}
    ///     })
    ///     .up(&pool)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn on_progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Migrator {
        self.progress = Some(ProgressFn(std::sync::Arc::new(f)));
        self
    }

    pub(super) fn report(&self, event: Progress) {
        if let Some(f) = &self.progress {
            (f.0)(&event);
        }
    }

    /// Records history in `schema.table` instead of `public.skelly_migrations`.
    pub fn history_table(mut self, schema: &str, table: &str) -> Migrator {
        self.history = self.history.with_table(schema, table);
        self
    }

    /// The staleness rule of notransaction claims (default 30 s): a runner applying a
    /// notransaction migration records its id and refreshes a heartbeat in the history every
    /// third of this (between statements, and from a second connection while a statement
    /// runs), and tags each statement with its id. A claim whose heartbeat is older than this,
    /// while no server session runs a statement with its tag, belongs to a dead runner:
    /// [`Migrator::status`] reports it failed, [`Migrator::resume`] takes it over and waiting
    /// runners stop with the failed migration's error. Until then it is in progress, also
    /// behind a transaction-mode pooler that closes the connection the claim was made on, and
    /// `resume` refuses it. CLI: `--claim-stale-after`.
    pub fn claim_stale_after(mut self, stale: Duration) -> Migrator {
        self.history.stale_after = stale;
        self
    }

    /// How long to wait for another runner's lock (default 10 minutes).
    pub fn lock_timeout(mut self, timeout: Duration) -> Migrator {
        self.lock_timeout = timeout;
        self
    }

    /// The migrations, in the order they apply.
    pub fn migrations(&self) -> &[Migration] {
        &self.migrations
    }

    /// A fingerprint of the whole set (names and checksums), e.g. to name a template database.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        for m in &self.migrations {
            hasher.update(m.id().as_bytes());
            hasher.update([0]);
            hasher.update(m.checksum().as_bytes());
        }
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Applies every pending migration, each in its own transaction, in order. Stops before
    /// running anything if an applied migration's file changed or disappeared.
    pub async fn up(&self, db: &impl Executor) -> Result<Vec<Applied>> {
        self.run(db, Request::Up(None)).await
    }

    /// Applies pending migrations up to and including `target` (a file name).
    pub async fn up_to(&self, db: &impl Executor, target: &str) -> Result<Vec<Applied>> {
        self.run(db, Request::Up(Some(target))).await
    }

    /// Reverts the `steps` most recently applied migrations, in the reverse order of their
    /// application. Meeting an irreversible migration (or one without a file), it reverts the
    /// ones before it, then stops with [`MigrationError::Irreversible`] (or `MissingFile`).
    pub async fn down(&self, db: &impl Executor, steps: usize) -> Result<Vec<Applied>> {
        self.run(db, Request::Down(steps)).await
    }

    /// Reverts the newest applied migration and applies it again.
    pub async fn redo(&self, db: &impl Executor) -> Result<Vec<Applied>> {
        self.run(db, Request::Redo).await
    }

    /// Every migration with its state: applied (when, how long), pending (and whether out of
    /// order), changed, missing, irreversible. Reads only; takes no lock.
    pub async fn status(&self, db: &impl Executor) -> Result<Vec<MigrationStatus>> {
        let session = db.session().await?;
        let history = self.history.read(session.real_client("status")?).await?;
        Ok(plan::statuses(
            &self.migrations,
            &history,
            self.allow_empty_down,
        ))
    }
}
