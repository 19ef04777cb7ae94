//! Running a plan: each migration under the transaction-level advisory lock, in its own
//! transaction (or claimed, then statement by statement, for notransaction ones), with the
//! migrations' own timeouts; and resuming a notransaction migration that failed half way.

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use super::history::History;
use super::plan::{self, Request, Step};
use super::progress::{self, Progress};
use super::runner::{Applied, Direction, Migrator};
use super::source::Migration;
use super::MigrationError;
use crate::error::Result;
use crate::executor::{Dedicated, Executor};
use crate::trace::Rows;

impl Migrator {
    pub(super) async fn run(
        &self,
        db: &impl Executor,
        request: Request<'_>,
    ) -> Result<Vec<Applied>> {
        let client = dedicated(db, "migrations").await?;
        let key = self.lock_key();
        let start = Instant::now();
        // The history table, created under the lock so that concurrent runners do not race.
        self.begin_locked(&client, key, start).await?;
        let created = self.history.create(&client).await;
        self.end(&client, created).await?;
        let history = self.history.read(&client).await?;
        let planned = plan::plan(&self.migrations, &history, request, self.allow_empty_down)?;
        // No session setting is made for the run: each transaction sets its timeouts LOCAL,
        // and statements outside one set and reset theirs (see `run_outside`), so nothing stays
        // on a connection a pooler hands to others.
        self.run_steps(db, &client, key, planned).await
    }

    async fn run_steps(
        &self,
        db: &impl Executor,
        client: &Dedicated<'_>,
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
            let applied = self.apply(db, client, key, step);
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
    /// server's unless given): `LOCAL` in each transaction (`scope` "LOCAL"), which holds also
    /// behind a transaction-mode pooler, or for the session around a statement PostgreSQL
    /// refuses to run in a transaction (`scope` "", reset right after it).
    async fn set_timeouts(&self, client: &Client, scope: &str) -> Result<()> {
        client.batch_execute(&self.timeouts_sql(scope)).await?;
        Ok(())
    }

    fn timeouts_sql(&self, scope: &str) -> String {
        let ms = |d: Duration| d.as_millis().min(i32::MAX as u128);
        let mut sql = format!(
            "SET {scope} statement_timeout = {}",
            self.statement_timeout.map_or(0, ms)
        );
        if let Some(lock) = self.ddl_lock_timeout {
            sql.push_str(&format!("; SET {scope} lock_timeout = {}", ms(lock)));
        }
        sql
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
    async fn apply(
        &self,
        db: &impl Executor,
        client: &Dedicated<'_>,
        key: i64,
        step: Step<'_>,
    ) -> Result<Option<Applied>> {
        let Step {
            migration: m,
            direction,
        } = step;
        let section = match direction {
            Direction::Up => &m.parsed().up,
            Direction::Down => &m.parsed().down,
        };
        let waiting_since = Instant::now();
        let mut said = false;
        loop {
            self.begin_locked(client, key, waiting_since).await?;
            let state = match self.history.state(client, m.id()).await {
                Ok(state) => state,
                Err(e) => return self.end(client, Err(e)).await,
            };
            match (direction, state) {
                // It failed half way (another runner, meanwhile): plan refuses that.
                (_, Some(plan::FAILED)) => {
                    self.end(client, Ok(())).await?;
                    let history = self.history.read(client).await?;
                    plan::check_failed(&self.migrations, &history)?;
                    return Ok(None);
                }
                // Another runner applied or reverted it meanwhile.
                (Direction::Up, Some(ms)) if ms >= 0 => return self.end(client, Ok(None)).await,
                (Direction::Down, None) => return self.end(client, Ok(None)).await,
                // Another runner is applying it outside a transaction: wait for it, unless it
                // died (the staleness rule), which is the failed migration's error.
                (_, Some(ms)) if ms < 0 => {
                    let row = match self.history.read(client).await {
                        Ok(rows) => rows.into_iter().find(|r| r.id == m.id()),
                        Err(e) => return self.end(client, Err(e)).await,
                    };
                    self.end(client, Ok(())).await?;
                    if let Some(row) = row {
                        if row.is_failed() {
                            plan::check_failed(&self.migrations, std::slice::from_ref(&row))?;
                        }
                        if !said && self.progress.is_some() {
                            said = true;
                            self.report(Progress::WaitingForRunner {
                                id: m.id().to_string(),
                                runner: row.runner,
                            });
                        }
                    }
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
                self.run_statements(None::<&Client>, client, m, section, None)
                    .await?;
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
            match direction {
                Direction::Up => self.run_claimed(db, client, m, 0, start).await?,
                Direction::Down => {
                    if let Err(e) = self
                        .run_statements(None::<&Client>, client, m, section, Some(0))
                        .await
                    {
                        // Reverting failed: it is still applied (the error is the one to report).
                        let _ = self.history.insert(client, m, 0).await;
                        return Err(e);
                    }
                }
            }
        }
        Ok(Some(Applied {
            id: m.id().to_string(),
            direction,
            duration: start.elapsed(),
        }))
    }

    /// Runs a claimed notransaction Up from statement `from` (0-based), counting each one
    /// done in the history; a failure is recorded (`FAILED`, the count, the error) for
    /// `status`, `resume` and `unmark`, and the claim is finished on success.
    async fn run_claimed(
        &self,
        db: &impl Executor,
        client: &Dedicated<'_>,
        m: &Migration,
        from: usize,
        start: Instant,
    ) -> Result<()> {
        match self
            .run_statements(Some(db), client, m, &m.parsed().up, Some(from))
            .await
        {
            Ok(()) => {
                let elapsed = start.elapsed().as_millis() as i64;
                self.history.finish(client, m, elapsed).await
            }
            Err(e) => {
                let (done, message) = match &e {
                    crate::Error::Migration(MigrationError::Failed { source, line, .. }) => {
                        let done = m
                            .parsed()
                            .up
                            .statement_lines
                            .iter()
                            .take_while(|l| *l < line)
                            .count();
                        (done as i32, source.to_string())
                    }
                    other => (from as i32, other.to_string()),
                };
                // The statement's error is the one to report, whatever recording it does.
                let _ = self.history.fail(client, m.id(), done, &message).await;
                Err(e)
            }
        }
    }

    /// Runs the statements of `section`; `progress: Some(from)` for a notransaction section:
    /// from that statement on, each counted in the history as it is done, while `beat` (the
    /// executor the run came from) keeps the claim's heartbeat fresh on a connection of its
    /// own.
    async fn run_statements(
        &self,
        beat: Option<&impl Executor>,
        client: &Dedicated<'_>,
        m: &Migration,
        section: &skelly_db_migrate_format::Section,
        progress: Option<usize>,
    ) -> Result<()> {
        let statements = section.statements.iter().zip(&section.statement_lines);
        for (i, (statement, line)) in statements.enumerate().skip(progress.unwrap_or(0)) {
            let done = match progress {
                // Each statement on its own message: in a transaction's section they share
                // the transaction.
                None => {
                    let run = async { Ok(client.batch_execute(statement).await?) };
                    crate::trace::statement(None, statement, run, |_| Rows::Unknown).await
                }
                Some(_) => {
                    // A Down has no claim (its row went first): nothing to count or beat.
                    let counted = beat.is_some().then_some(i as i32 + 1);
                    let run = self.run_outside(client, m.id(), statement, counted);
                    let run = crate::trace::statement(None, statement, run, |_| Rows::Unknown);
                    match beat {
                        Some(db) => {
                            tokio::select! {
                                done = run => done,
                                never = self.beat(db, m.id()) => match never {},
                            }
                        }
                        None => run.await,
                    }
                }
            };
            if let Err(e) = done {
                return Err(MigrationError::Failed {
                    file: m.id().to_string(),
                    line: *line,
                    statement: statement.trim().to_string(),
                    rolled_back: progress.is_none(),
                    source: Box::new(e),
                }
                .into());
            }
        }
        Ok(())
    }

    /// One statement of a notransaction section, with the migrations' timeouts and leaving no
    /// setting behind, tagged with this runner's id (see `History::read`). A statement that
    /// can run in a transaction runs in one of its own, with `SET LOCAL` timeouts and the count
    /// of statements done (`done`), so both commit together; one PostgreSQL refuses there
    /// (`CREATE INDEX CONCURRENTLY`, `VACUUM`, ...) runs by itself, its timeouts set for the
    /// session and reset right after when the connection keeps session settings (behind a
    /// transaction-mode pooler it runs with the role's and database's own), then counted.
    async fn run_outside(
        &self,
        client: &Dedicated<'_>,
        id: &str,
        statement: &str,
        done: Option<i32>,
    ) -> Result<()> {
        // The tag first: pg_stat_activity keeps only the start of a long statement's text.
        let tagged = format!("{}\n{statement}\n", self.history.runner().tag());
        if !refuses_transaction(statement) {
            let count = done
                .map(|done| format!("{};", self.history.progress_sql(id, done)))
                .unwrap_or_default();
            let batch = format!(
                "BEGIN; {}; {tagged};\n{count} COMMIT",
                self.timeouts_sql("LOCAL")
            );
            match client.batch_execute(&batch).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    let _ = client.batch_execute("ROLLBACK").await;
                    // Refused inside a transaction block, or a procedure or DO block that ends
                    // transactions itself (COMMIT inside): nothing of it was kept; run it alone.
                    let in_block = e.as_db_error().is_some_and(|d| {
                        *d.code() == SqlState::ACTIVE_SQL_TRANSACTION
                            || *d.code() == SqlState::INVALID_TRANSACTION_TERMINATION
                    });
                    if !in_block {
                        return Err(e.into());
                    }
                }
            }
        }
        let session = client.keeps_session_settings();
        if session {
            self.set_timeouts(client, "").await?;
        }
        let ran = client.batch_execute(&tagged).await;
        if session {
            let reset = client
                .batch_execute("RESET statement_timeout; RESET lock_timeout")
                .await;
            // The statement's error is the one to report.
            ran?;
            reset?;
        } else {
            ran?;
        }
        match done {
            Some(done) => self.history.progress(client, id, done).await,
            None => Ok(()),
        }
    }

    /// Refreshes this runner's claim on `id` every third of the staleness window, on a
    /// connection of `db`'s own, until dropped. Failures are left to the next beat.
    async fn beat(&self, db: &impl Executor, id: &str) -> std::convert::Infallible {
        let every = (self.history.stale_after / 3).max(Duration::from_millis(50));
        loop {
            tokio::time::sleep(every).await;
            if let Ok(session) = db.session().await {
                if let Ok(client) = session.real_client("heartbeat") {
                    let _ = self.history.heartbeat(client, id).await;
                }
            }
        }
    }

    /// Runs the rest of a notransaction migration that failed half way (or whose runner
    /// died), from the statement that failed, after the database was put right by hand; it is
    /// then applied. CLI: `skelly-db migrate resume FILE`. Only for a migration recorded as
    /// failed or in progress; for one in progress, make sure no runner is at work on it.
    pub async fn resume(&self, db: &impl Executor, id: &str) -> Result<Applied> {
        let client = dedicated(db, "resume").await?;
        let m = self
            .migrations
            .iter()
            .find(|m| m.id() == id)
            .ok_or_else(|| MigrationError::UnknownTarget {
                target: id.to_string(),
            })?;
        let from = self
            .locked(&client, |client| async move {
                let row = self
                    .history
                    .read(client)
                    .await?
                    .into_iter()
                    .find(|r| r.id == id);
                match row {
                    // Its file changed since it was claimed: statement numbers would point
                    // into another text.
                    Some(r) if r.execution_ms < 0 && r.checksum != m.checksum() => {
                        Err(MigrationError::Operator {
                            message: format!(
                                "{id} was changed after its run started (checksum {} then, {} \
                                 now); restore the file as it was run, then resume",
                                short(&r.checksum),
                                short(m.checksum())
                            ),
                        }
                        .into())
                    }
                    Some(r) if r.execution_ms < 0 && !r.is_failed() => {
                        Err(MigrationError::Operator {
                            message: format!(
                                "{id} is being applied by a live runner ({}); resume only a \
                                 migration whose run failed or whose runner died (no heartbeat \
                                 for {:?})",
                                r.runner.as_deref().unwrap_or("unknown"),
                                self.history.stale_after
                            ),
                        }
                        .into())
                    }
                    Some(r) if r.execution_ms < 0 => {
                        self.history.reclaim(client, id).await?;
                        Ok(r.statements_done.unwrap_or(0).max(0) as usize)
                    }
                    _ => Err(MigrationError::Operator {
                        message: format!("{id} is not recorded as failed or in progress"),
                    }
                    .into()),
                }
            })
            .await?;
        self.report(Progress::Started {
            id: id.to_string(),
            direction: Direction::Up,
        });
        let start = Instant::now();
        self.run_claimed(db, &client, m, from, start).await?;
        let applied = Applied {
            id: id.to_string(),
            direction: Direction::Up,
            duration: start.elapsed(),
        };
        self.report(Progress::Finished(applied.clone()));
        Ok(applied)
    }
}

/// A connection of its own for a run or an operator command: migrations manage their own
/// transactions, so not inside the caller's.
pub(super) async fn dedicated<'e>(db: &'e impl Executor, what: &str) -> Result<Dedicated<'e>> {
    let session = db.session().await?;
    if session.in_transaction() {
        return Err(MigrationError::InTransaction.into());
    }
    session.dedicated(what)
}

/// Whether PostgreSQL refuses `statement` inside a transaction block, or it controls
/// transactions itself: such a statement runs by itself (others are tried in a transaction,
/// and run by themselves when the server refuses that).
fn refuses_transaction(statement: &str) -> bool {
    let words: Vec<String> = statement
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .take(4)
        .map(|w| w.trim_end_matches(';').to_ascii_uppercase())
        .collect();
    let first = words.first().map(String::as_str).unwrap_or("");
    matches!(
        first,
        "BEGIN"
            | "START"
            | "COMMIT"
            | "END"
            | "ROLLBACK"
            | "ABORT"
            | "SAVEPOINT"
            | "RELEASE"
            | "PREPARE"
            | "VACUUM"
            | "CHECKPOINT"
            | "CALL"
            | "DO"
    ) || words
        .iter()
        .any(|w| w == "CONCURRENTLY" || w == "DATABASE" || w == "SYSTEM" || w == "TABLESPACE")
}

fn short(checksum: &str) -> &str {
    &checksum[..checksum.len().min(12)]
}

/// How often a waiting runner asks again.
const LOCK_POLL: Duration = Duration::from_millis(50);
