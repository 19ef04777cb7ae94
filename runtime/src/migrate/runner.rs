use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio_postgres::Client;

use super::history::History;
use super::plan::{self, Request, Step};
use super::progress::{self, Progress, ProgressFn};
use super::source::{self, Migration};
use super::MigrationError;
use crate::error::Result;
use crate::executor::Executor;
use crate::trace::Rows;

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
    migrations: Vec<Migration>,
    history: History,
    lock_timeout: Duration,
    allow_empty_down: bool,
    statement_timeout: Option<Duration>,
    ddl_lock_timeout: Option<Duration>,
    progress: Option<ProgressFn>,
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
    /// running: then `up` reports it after the lock timeout).
    InProgress,
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
    /// Its Down section is empty, so `down` will not pass it.
    pub irreversible: bool,
    /// Pending, but sorts before the newest applied migration; `up` applies it anyway.
    pub out_of_order: bool,
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

    fn report(&self, event: Progress) {
        if let Some(f) = &self.progress {
            (f.0)(&event);
        }
    }

    /// Records history in `schema.table` instead of `public.skelly_migrations`.
    pub fn history_table(mut self, schema: &str, table: &str) -> Migrator {
        self.history = History::new(schema, table);
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

    async fn run(&self, db: &impl Executor, request: Request<'_>) -> Result<Vec<Applied>> {
        let session = db.session().await?;
        if session.in_transaction() {
            return Err(MigrationError::InTransaction.into());
        }
        let client = session.dedicated("migrations")?;
        let key = self.lock_key();
        let start = Instant::now();
        // The history table, created under the lock so that concurrent runners do not race.
        self.begin_locked(&client, key, start).await?;
        let created = self.history.create(&client).await;
        self.end(&client, created).await?;
        let history = self.history.read(&client).await?;
        let planned = plan::plan(&self.migrations, &history, request, self.allow_empty_down)?;
        let session_settings = client.keeps_session_settings();
        if session_settings {
            self.set_timeouts(&client, "").await?;
        }
        let outcome = self.run_steps(&client, key, planned).await;
        if session_settings && client.is_borrowed() {
            // The caller's connection gets its own settings back.
            let _ = client
                .batch_execute("RESET statement_timeout; RESET lock_timeout")
                .await;
        }
        outcome
    }

    async fn run_steps(
        &self,
        client: &Client,
        key: i64,
        planned: plan::Plan<'_>,
    ) -> Result<Vec<Applied>> {
        let mut done = Vec::with_capacity(planned.steps.len());
        for step in planned.steps {
            let direction = match step.direction {
                Direction::Up => "up",
                Direction::Down => "down",
            };
            let id = step.migration.id();
            let applied = self.apply(client, key, step);
            if let Some(applied) = crate::trace::migration(id, direction, applied).await? {
                self.report(Progress::Finished(applied.clone()));
                done.push(applied);
            }
        }
        match planned.stop {
            Some(stop) => Err(stop.into()),
            None => Ok(done),
        }
    }

    /// The migrations' own `statement_timeout` (none unless given) and `lock_timeout` (the
    /// server's unless given): for the session (`scope` ""), which notransaction statements
    /// run in, and again `LOCAL` in each migration's transaction, which holds also behind a
    /// transaction-mode pooler.
    async fn set_timeouts(&self, client: &Client, scope: &str) -> Result<()> {
        let ms = |d: Duration| d.as_millis().min(i32::MAX as u128);
        let mut sql = format!(
            "SET {scope} statement_timeout = {}",
            self.statement_timeout.map_or(0, ms)
        );
        if let Some(lock) = self.ddl_lock_timeout {
            sql.push_str(&format!("; SET {scope} lock_timeout = {}", ms(lock)));
        }
        client.batch_execute(&sql).await?;
        Ok(())
    }

    pub(crate) fn allows_empty_down(&self) -> bool {
        self.allow_empty_down
    }

    pub(crate) fn history(&self) -> &History {
        &self.history
    }

    /// Runs `work` in one transaction under the migration lock, with the history table
    /// created: committed when it succeeds, rolled back when it fails.
    pub(crate) async fn locked<'c, T, F, Fut>(&self, client: &'c Client, work: F) -> Result<T>
    where
        F: FnOnce(&'c Client) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        self.begin_locked(client, self.lock_key(), Instant::now())
            .await?;
        let outcome = async {
            self.history.create(client).await?;
            work(client).await
        }
        .await;
        self.end(client, outcome).await
    }

    fn lock_key(&self) -> i64 {
        let digest = Sha256::digest(format!("skelly-db migrations {}", self.history.qualified()));
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        i64::from_be_bytes(bytes)
    }

    /// `BEGIN` and the transaction-level lock, polled until the lock timeout (counted from
    /// `since`). Between attempts no transaction stays open.
    async fn begin_locked(&self, client: &Client, key: i64, since: Instant) -> Result<()> {
        let mut said = false;
        loop {
            client.batch_execute("BEGIN").await?;
            match crate::advisory_lock::try_xact(client, key).await {
                Ok(true) => {
                    return match self.set_timeouts(client, "LOCAL").await {
                        Ok(()) => Ok(()),
                        Err(e) => self.end(client, Err(e)).await,
                    };
                }
                Ok(false) if !said && self.progress.is_some() => {
                    said = true;
                    let holder = progress::lock_holder(client, key).await;
                    self.report(Progress::WaitingForLock { holder });
                }
                Ok(false) => {}
                Err(e) => {
                    let _ = client.batch_execute("ROLLBACK").await;
                    return Err(e);
                }
            }
            client.batch_execute("ROLLBACK").await?;
            if since.elapsed() >= self.lock_timeout {
                return Err(MigrationError::LockTimeout {
                    waited: since.elapsed(),
                }
                .into());
            }
            tokio::time::sleep(LOCK_POLL).await;
        }
    }

    /// `COMMIT` after `outcome` succeeded, else `ROLLBACK` and the outcome's error.
    async fn end<T>(&self, client: &Client, outcome: Result<T>) -> Result<T> {
        match outcome {
            Ok(value) => {
                client.batch_execute("COMMIT").await?;
                Ok(value)
            }
            Err(e) => {
                // The statement's error is the one worth reporting; a failed rollback means
                // the connection is gone, which rolls back too.
                let _ = client.batch_execute("ROLLBACK").await;
                Err(e)
            }
        }
    }

    /// Runs one step under the lock; `None` when another runner did it meanwhile.
    async fn apply(&self, client: &Client, key: i64, step: Step<'_>) -> Result<Option<Applied>> {
        let Step {
            migration: m,
            direction,
        } = step;
        let section = match direction {
            Direction::Up => &m.parsed().up,
            Direction::Down => &m.parsed().down,
        };
        let waiting_since = Instant::now();
        loop {
            self.begin_locked(client, key, waiting_since).await?;
            let state = match self.history.state(client, m.id()).await {
                Ok(state) => state,
                Err(e) => return self.end(client, Err(e)).await,
            };
            match (direction, state) {
                // Another runner applied or reverted it meanwhile.
                (Direction::Up, Some(ms)) if ms >= 0 => return self.end(client, Ok(None)).await,
                (Direction::Down, None) => return self.end(client, Ok(None)).await,
                // Another runner is applying it outside a transaction: wait for it.
                (_, Some(ms)) if ms < 0 => {
                    self.end(client, Ok(())).await?;
                    if waiting_since.elapsed() >= self.lock_timeout {
                        return Err(MigrationError::InProgressElsewhere {
                            id: m.id().to_string(),
                            waited: waiting_since.elapsed(),
                        }
                        .into());
                    }
                    tokio::time::sleep(LOCK_POLL).await;
                    continue;
                }
                _ => break,
            }
        }
        self.report(Progress::Started {
            id: m.id().to_string(),
            direction,
        });
        let start = Instant::now();
        if !section.no_transaction {
            let outcome = async {
                self.run_statements(client, m, section, true).await?;
                let elapsed = start.elapsed().as_millis() as i64;
                match direction {
                    Direction::Up => self.history.insert(client, m, elapsed).await,
                    Direction::Down => self.history.remove(client, m).await,
                }
            }
            .await;
            self.end(client, outcome).await?;
        } else {
            // Claimed under the lock, then run outside any transaction: other runners see the
            // claim and wait (up) or skip (down).
            let claim = match direction {
                Direction::Up => self.history.insert(client, m, -1).await,
                Direction::Down => self.history.remove(client, m).await,
            };
            self.end(client, claim).await?;
            if let Err(e) = self.run_statements(client, m, section, false).await {
                let undo = match direction {
                    Direction::Up => self.history.remove(client, m).await,
                    Direction::Down => self.history.insert(client, m, 0).await,
                };
                // The statement's error is the one worth reporting.
                let _ = undo;
                return Err(e);
            }
            if direction == Direction::Up {
                let elapsed = start.elapsed().as_millis() as i64;
                self.history.finish(client, m, elapsed).await?;
            }
        }
        Ok(Some(Applied {
            id: m.id().to_string(),
            direction,
            duration: start.elapsed(),
        }))
    }

    async fn run_statements(
        &self,
        client: &Client,
        m: &Migration,
        section: &skelly_db_migrate_format::Section,
        in_tx: bool,
    ) -> Result<()> {
        for (statement, line) in section.statements.iter().zip(&section.statement_lines) {
            // Each statement on its own message: in a notransaction section, several in one
            // message would run as one implicit transaction.
            let run = async { Ok(client.batch_execute(statement).await?) };
            let done = crate::trace::statement(None, statement, run, |_| Rows::Unknown).await;
            if let Err(e) = done {
                return Err(MigrationError::Failed {
                    file: m.id().to_string(),
                    line: *line,
                    statement: statement.trim().to_string(),
                    rolled_back: in_tx,
                    source: Box::new(e),
                }
                .into());
            }
        }
        Ok(())
    }
}

/// How often a waiting runner asks again.
const LOCK_POLL: Duration = Duration::from_millis(50);
