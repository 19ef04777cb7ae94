use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use skelly_db_migrate_format::compare_ids;
use tokio_postgres::Client;

use super::source::{self, Migration};
use super::MigrationError;
use crate::error::{Error, Result};
use crate::executor::{Executor, Session};
use crate::sql::qualified;

/// Default schema of the history table.
pub const DEFAULT_HISTORY_SCHEMA: &str = "public";
/// Default name of the history table.
pub const DEFAULT_HISTORY_TABLE: &str = "skelly_migrations";

/// An ordered, checked set of migrations and the history table that records them.
///
/// Runners are safe to start concurrently: each takes a PostgreSQL advisory lock (derived from
/// the history table's name) by polling `pg_try_advisory_lock` on a connection of its own, so
/// every migration applies exactly once. The lock is released explicitly, and a connection
/// taken from a pool for it is closed afterwards rather than returned.
#[derive(Debug, Clone)]
pub struct Migrator {
    migrations: Vec<Migration>,
    schema: String,
    table: String,
    lock_timeout: Duration,
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

struct HistoryRow {
    checksum: String,
    applied_at: DateTime<Utc>,
    execution_ms: i64,
}

enum Plan<'a> {
    Up(Option<&'a str>),
    Down(usize),
    Redo,
}

impl Migrator {
    /// Loads every top-level `.sql` file of `dir`. A malformed file, a file without a Down
    /// marker, a non-UTF-8 file or two files with one identity is an error naming them.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Migrator> {
        Ok(Migrator::from_set(source::read_dir(dir.as_ref())?))
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
            schema: DEFAULT_HISTORY_SCHEMA.to_string(),
            table: DEFAULT_HISTORY_TABLE.to_string(),
            lock_timeout: Duration::from_secs(600),
        }
    }

    /// Records history in `schema.table` instead of `public.skelly_migrations`.
    pub fn history_table(mut self, schema: &str, table: &str) -> Migrator {
        self.schema = schema.to_string();
        self.table = table.to_string();
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
        self.run(db, Plan::Up(None)).await
    }

    /// Applies pending migrations up to and including `target` (a file name).
    pub async fn up_to(&self, db: &impl Executor, target: &str) -> Result<Vec<Applied>> {
        if !self.migrations.iter().any(|m| m.id() == target) {
            return Err(MigrationError::UnknownTarget {
                target: target.to_string(),
            }
            .into());
        }
        self.run(db, Plan::Up(Some(target))).await
    }

    /// Reverts the `steps` newest applied migrations, newest first. Refuses, before reverting
    /// anything, when one of them is irreversible or has no file.
    pub async fn down(&self, db: &impl Executor, steps: usize) -> Result<Vec<Applied>> {
        self.run(db, Plan::Down(steps)).await
    }

    /// Reverts the newest applied migration and applies it again.
    pub async fn redo(&self, db: &impl Executor) -> Result<Vec<Applied>> {
        self.run(db, Plan::Redo).await
    }

    /// Every migration with its state: applied (when, how long), pending (and whether out of
    /// order), changed, missing, irreversible. Reads only; takes no lock.
    pub async fn status(&self, db: &impl Executor) -> Result<Vec<MigrationStatus>> {
        let session = db.session().await?;
        let history = self.read_history(session.client(), false).await?;
        Ok(self.statuses(&history))
    }

    fn statuses(&self, history: &HashMap<String, HistoryRow>) -> Vec<MigrationStatus> {
        let newest_applied = history
            .keys()
            .max_by(|a, b| compare_ids(a, b))
            .map(String::as_str);
        let mut out: Vec<MigrationStatus> = self
            .migrations
            .iter()
            .map(|m| {
                let row = history.get(m.id());
                let state = match row {
                    None => MigrationState::Pending,
                    Some(r) if r.checksum != m.checksum() => MigrationState::Changed,
                    Some(_) => MigrationState::Applied,
                };
                MigrationStatus {
                    id: m.id().to_string(),
                    state,
                    applied_at: row.map(|r| r.applied_at),
                    execution_time: row.map(|r| ms(r.execution_ms)),
                    irreversible: m.is_irreversible(),
                    out_of_order: row.is_none()
                        && newest_applied
                            .is_some_and(|n| compare_ids(m.id(), n) == std::cmp::Ordering::Less),
                }
            })
            .collect();
        for (id, row) in history {
            if !self.migrations.iter().any(|m| m.id() == id) {
                out.push(MigrationStatus {
                    id: id.clone(),
                    state: MigrationState::Missing,
                    applied_at: Some(row.applied_at),
                    execution_time: Some(ms(row.execution_ms)),
                    irreversible: false,
                    out_of_order: false,
                });
            }
        }
        out.sort_by(|a, b| compare_ids(&a.id, &b.id));
        out
    }

    async fn run(&self, db: &impl Executor, plan: Plan<'_>) -> Result<Vec<Applied>> {
        let session = db.session().await?;
        if session.in_transaction() {
            return Err(MigrationError::InTransaction.into());
        }
        // A pooled connection is taken out of the pool for good: whatever happens (even a
        // cancelled future), it is closed instead of going back with the lock held.
        let owned;
        let client: &Client = match session {
            Session::Pooled(obj) => {
                owned = deadpool_postgres::Object::take(obj);
                &owned
            }
            Session::Borrowed { client, .. } => client,
        };
        let key = self.lock_key();
        self.lock(client, key).await?;
        let result = self.run_locked(client, plan).await;
        let unlocked = client
            .execute("SELECT pg_advisory_unlock($1)", &[&key])
            .await;
        let applied = result?;
        unlocked?;
        Ok(applied)
    }

    fn lock_key(&self) -> i64 {
        let digest = Sha256::digest(format!("skelly-db migrations {}", self.qualified()));
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        i64::from_be_bytes(bytes)
    }

    async fn lock(&self, client: &Client, key: i64) -> Result<()> {
        let start = Instant::now();
        if try_advisory_lock(client, key, self.lock_timeout).await? {
            Ok(())
        } else {
            Err(MigrationError::LockTimeout {
                waited: start.elapsed(),
            }
            .into())
        }
    }

    fn qualified(&self) -> String {
        qualified(&self.schema, &self.table)
    }

    async fn read_history(
        &self,
        client: &Client,
        create: bool,
    ) -> Result<HashMap<String, HistoryRow>> {
        let table = self.qualified();
        if create {
            client
                .batch_execute(&format!(
                    "CREATE SCHEMA IF NOT EXISTS {schema};
                     CREATE TABLE IF NOT EXISTS {table} (
                         id text PRIMARY KEY,
                         checksum text NOT NULL,
                         applied_at timestamptz NOT NULL DEFAULT now(),
                         execution_ms bigint NOT NULL
                     )",
                    schema = crate::sql::quote_ident(&self.schema)
                ))
                .await?;
        } else {
            let exists: bool = client
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
                .await?
                .get(0);
            if !exists {
                return Ok(HashMap::new());
            }
        }
        let rows = client
            .query(
                &format!("SELECT id, checksum, applied_at, execution_ms FROM {table}"),
                &[],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    r.get(0),
                    HistoryRow {
                        checksum: r.get(1),
                        applied_at: r.get(2),
                        execution_ms: r.get(3),
                    },
                )
            })
            .collect())
    }

    async fn run_locked(&self, client: &Client, plan: Plan<'_>) -> Result<Vec<Applied>> {
        let history = self.read_history(client, true).await?;
        let statuses = self.statuses(&history);
        let check_diverged = || -> Result<()> {
            let problems: Vec<String> = statuses
                .iter()
                .filter_map(|s| match s.state {
                    MigrationState::Changed => {
                        Some(format!("{} was changed after it was applied", s.id))
                    }
                    MigrationState::Missing => {
                        Some(format!("{} was applied but its file is missing", s.id))
                    }
                    _ => None,
                })
                .collect();
            if problems.is_empty() {
                Ok(())
            } else {
                Err(MigrationError::Diverged { problems }.into())
            }
        };
        let mut done = Vec::new();
        match plan {
            Plan::Up(target) => {
                check_diverged()?;
                for m in &self.migrations {
                    if target.is_some_and(|t| compare_ids(m.id(), t) == std::cmp::Ordering::Greater)
                    {
                        break;
                    }
                    if !history.contains_key(m.id()) {
                        done.push(self.apply(client, m, Direction::Up).await?);
                    }
                }
            }
            Plan::Down(steps) => {
                for m in self.down_targets(&history, steps)? {
                    done.push(self.apply(client, m, Direction::Down).await?);
                }
            }
            Plan::Redo => {
                check_diverged()?;
                if let Some(m) = self.down_targets(&history, 1)?.into_iter().next() {
                    done.push(self.apply(client, m, Direction::Down).await?);
                    done.push(self.apply(client, m, Direction::Up).await?);
                }
            }
        }
        Ok(done)
    }

    fn down_targets(
        &self,
        history: &HashMap<String, HistoryRow>,
        steps: usize,
    ) -> Result<Vec<&Migration>> {
        let mut applied: Vec<&String> = history.keys().collect();
        applied.sort_by(|a, b| compare_ids(b, a));
        applied
            .into_iter()
            .take(steps)
            .map(|id| {
                let m = self
                    .migrations
                    .iter()
                    .find(|m| m.id() == id)
                    .ok_or_else(|| MigrationError::MissingFile { id: id.clone() })?;
                if m.is_irreversible() {
                    return Err(MigrationError::Irreversible { id: id.clone() }.into());
                }
                Ok(m)
            })
            .collect()
    }

    async fn apply(&self, client: &Client, m: &Migration, direction: Direction) -> Result<Applied> {
        let section = match direction {
            Direction::Up => &m.parsed().up,
            Direction::Down => &m.parsed().down,
        };
        let in_tx = !section.no_transaction;
        let start = Instant::now();
        if in_tx {
            client.batch_execute("BEGIN").await?;
        }
        let outcome = async {
            for (statement, line) in section.statements.iter().zip(&section.statement_lines) {
                // Each statement on its own message: in a notransaction section, several in one
                // message would run as one implicit transaction.
                if let Err(e) = client.batch_execute(statement).await {
                    return Err(MigrationError::Failed {
                        file: m.id().to_string(),
                        line: *line,
                        statement: statement.trim().to_string(),
                        rolled_back: in_tx,
                        source: Box::new(Error::from(e)),
                    }
                    .into());
                }
            }
            let table = self.qualified();
            let elapsed = start.elapsed().as_millis() as i64;
            match direction {
                Direction::Up => client
                    .execute(
                        &format!(
                            "INSERT INTO {table} (id, checksum, execution_ms) VALUES ($1, $2, $3)"
                        ),
                        &[&m.id(), &m.checksum(), &elapsed],
                    )
                    .await
                    .map_err(Error::from),
                Direction::Down => client
                    .execute(&format!("DELETE FROM {table} WHERE id = $1"), &[&m.id()])
                    .await
                    .map_err(Error::from),
            }
        }
        .await;
        match outcome {
            Ok(_) if in_tx => client.batch_execute("COMMIT").await?,
            Ok(_) => {}
            Err(e) => {
                if in_tx {
                    // The statement's error is the one worth reporting; a failed rollback
                    // means the connection is gone, which rolls back too.
                    let _ = client.batch_execute("ROLLBACK").await;
                }
                return Err(e);
            }
        }
        Ok(Applied {
            id: m.id().to_string(),
            direction,
            duration: start.elapsed(),
        })
    }
}

/// Takes a session-level advisory lock, polling `pg_try_advisory_lock` until `timeout`; false
/// when it timed out. Polling, not a blocking wait: a waiting `pg_advisory_lock` is an open
/// transaction that a notransaction `CREATE INDEX CONCURRENTLY` in the lock holder would wait
/// for forever.
pub(crate) async fn try_advisory_lock(
    client: &Client,
    key: i64,
    timeout: Duration,
) -> Result<bool> {
    let start = Instant::now();
    loop {
        let row = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .await?;
        if row.get::<_, bool>(0) {
            return Ok(true);
        }
        if start.elapsed() >= timeout {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn ms(n: i64) -> Duration {
    Duration::from_millis(n.max(0) as u64)
}
