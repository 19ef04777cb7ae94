//! Operator commands: record migrations as applied without running them (`baseline`,
//! `mark_applied`), forget one (`unmark`), accept edited files (`repair_checksums`), and show
//! what `up` or `down` would run without running it (`plan_up`, `plan_down`). Each write runs
//! in one transaction under the migration lock.

use skelly_db_migrate_format::{compare_ids, leading_number};
use tokio_postgres::types::Type;

use super::execute::dedicated;
use super::plan::{self, Request};
use super::runner::Migrator;
use super::source::Migration;
use super::{Direction, MigrationError};
use crate::error::Result;
use crate::executor::Executor;

/// A migration `up` or `down` would run, with its statements in order (from
/// [`Migrator::plan_up`] and [`Migrator::plan_down`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedMigration {
    /// The migration's identity.
    pub id: String,
    /// Up or down.
    pub direction: Direction,
    /// Its statements, as they would be sent.
    pub statements: Vec<String>,
    /// Whether they would run outside a transaction.
    pub no_transaction: bool,
}

impl Migrator {
    /// What [`Migrator::up`] would run now, in order, with each migration's statements;
    /// writes nothing (CLI `up --dry-run`).
    pub async fn plan_up(&self, db: &impl Executor) -> Result<Vec<PlannedMigration>> {
        self.dry_run(db, Request::Up(None)).await
    }

    /// What [`Migrator::down`] would revert now; writes nothing (CLI `down N --dry-run`).
    /// Where `down` would stop at an irreversible migration, the plan ends before it.
    pub async fn plan_down(
        &self,
        db: &impl Executor,
        steps: usize,
    ) -> Result<Vec<PlannedMigration>> {
        self.dry_run(db, Request::Down(steps)).await
    }

    async fn dry_run(
        &self,
        db: &impl Executor,
        request: Request<'_>,
    ) -> Result<Vec<PlannedMigration>> {
        let session = db.session().await?;
        let history = self
            .history()
            .read(session.real_client("a dry run")?)
            .await?;
        let planned = plan::plan(
            self.migrations(),
            &history,
            request,
            self.allows_empty_down(),
        )?;
        Ok(planned
            .steps
            .iter()
            .map(|step| {
                let section = match step.direction {
                    Direction::Up => &step.migration.parsed().up,
                    Direction::Down => &step.migration.parsed().down,
                };
                PlannedMigration {
                    id: step.migration.id().to_string(),
                    direction: step.direction,
                    statements: section.statements.clone(),
                    no_transaction: section.no_transaction,
                }
            })
            .collect())
    }

    /// Records every migration up to and including `version` (a file name, or the number it
    /// starts with) as applied without running it: for a database whose schema was made
    /// before skelly-db (a restored dump, another tool). Already applied ones are skipped.
    /// Returns the ids recorded.
    pub async fn baseline(&self, db: &impl Executor, version: &str) -> Result<Vec<String>> {
        let target = self.find(version)?;
        let upto: Vec<&Migration> = self
            .migrations()
            .iter()
            .filter(|m| compare_ids(m.id(), target.id()).is_le())
            .collect();
        let client = dedicated(db, "baseline").await?;
        self.locked(&client, |client| async move {
            let applied = self.history().read(client).await?;
            let mut recorded = Vec::new();
            for m in upto {
                if !applied.iter().any(|r| r.id == m.id()) {
                    self.history().insert(client, m, 0).await?;
                    recorded.push(m.id().to_string());
                }
            }
            Ok(recorded)
        })
        .await
    }

    /// Records one migration as applied without running it (after applying it by hand).
    pub async fn mark_applied(&self, db: &impl Executor, file: &str) -> Result<()> {
        let m = self.find(file)?;
        let client = dedicated(db, "mark-applied").await?;
        self.locked(&client, |client| async move {
            if self.history().state(client, m.id()).await?.is_some() {
                return Err(MigrationError::Operator {
                    message: format!("{} is recorded already", m.id()),
                }
                .into());
            }
            self.history().insert(client, m, 0).await
        })
        .await
    }

    /// Forgets one migration's history row (e.g. a notransaction migration that died half
    /// way, after the database was put right by hand), so that `up` runs it again. The id
    /// need not have a file.
    pub async fn unmark(&self, db: &impl Executor, id: &str) -> Result<()> {
        let client = dedicated(db, "unmark").await?;
        self.locked(&client, |client| async move {
            let n = client
                .execute_typed(
                    &format!("DELETE FROM {} WHERE id = $1", self.history().qualified()),
                    &[(&id, Type::TEXT)],
                )
                .await?;
            if n == 0 {
                return Err(MigrationError::Operator {
                    message: format!("{id} is not in the history"),
                }
                .into());
            }
            Ok(())
        })
        .await
    }

    /// The applied migrations whose file changed since (checksum differs), as `(id, recorded
    /// checksum, file checksum)`; with `write`, records the files' checksums, so that `up` no
    /// longer stops on them (for edits that do not change what the migration did: comments,
    /// formatting).
    pub async fn repair_checksums(
        &self,
        db: &impl Executor,
        write: bool,
    ) -> Result<Vec<(String, String, String)>> {
        let client = dedicated(db, "repair-checksums").await?;
        self.locked(&client, |client| async move {
            let applied = self.history().read(client).await?;
            let mut changed = Vec::new();
            for row in applied {
                let Some(m) = self.migrations().iter().find(|m| m.id() == row.id) else {
                    continue;
                };
                if row.checksum != m.checksum() {
                    if write {
                        client
                            .execute_typed(
                                &format!(
                                    "UPDATE {} SET checksum = $2 WHERE id = $1",
                                    self.history().qualified()
                                ),
                                &[(&m.id(), Type::TEXT), (&m.checksum(), Type::TEXT)],
                            )
                            .await?;
                    }
                    changed.push((row.id, row.checksum, m.checksum().to_string()));
                }
            }
            Ok(changed)
        })
        .await
    }

    // The migration named by a file name or by the number it starts with.
    pub(super) fn find(&self, name: &str) -> Result<&Migration> {
        let number = name.parse::<u128>().ok();
        self.migrations()
            .iter()
            .find(|m| m.id() == name || (number.is_some() && leading_number(m.id()) == number))
            .ok_or_else(|| {
                MigrationError::UnknownTarget {
                    target: name.to_string(),
                }
                .into()
            })
    }
}
