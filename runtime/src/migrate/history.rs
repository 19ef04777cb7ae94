//! The history table: which migrations are applied, with their checksums and timings.

use std::time::Duration;

use tokio_postgres::types::Type;
use tokio_postgres::{Client, Row};

use super::plan::HistoryRow;
use super::source::Migration;
use super::MigrationError;
use crate::error::Result;
use crate::sql::{qualified, quote_ident};

/// The history table `schema.table`, and who this runner is when it claims a notransaction
/// migration.
#[derive(Debug, Clone)]
pub(crate) struct History {
    schema: String,
    table: String,
    runner: Runner,
    /// How old a claim's heartbeat may be while its runner is alive (the staleness rule).
    pub(crate) stale_after: Duration,
}

/// A runner's identity in a claim: random per [`Migrator`](super::Migrator), so that it
/// survives poolers (a backend pid is only the server connection the claim happened to use),
/// and a description for operators.
#[derive(Debug, Clone)]
pub(crate) struct Runner {
    pub(crate) id: String,
    pub(crate) describe: String,
}

impl Runner {
    fn new() -> Runner {
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.trim().is_empty())
            .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|| "an unknown host".to_string());
        let id = uuid::Uuid::new_v4().simple().to_string();
        Runner {
            describe: format!("{host} pid {} (runner {})", std::process::id(), &id[..8]),
            id,
        }
    }

    /// The comment appended to each statement a claimed migration runs: the server shows it in
    /// `pg_stat_activity.query` while the statement runs, on whichever connection a pooler
    /// picked.
    pub(crate) fn tag(&self) -> String {
        format!("/* skelly-db runner {} */", self.id)
    }
}

/// Default of [`History::stale_after`]: a claim whose heartbeat is older, with no statement of
/// its runner running, belongs to a dead runner.
pub(crate) const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(30);

impl History {
    pub(crate) fn new(schema: &str, table: &str) -> History {
        History {
            schema: schema.to_string(),
            table: table.to_string(),
            runner: Runner::new(),
            stale_after: DEFAULT_STALE_AFTER,
        }
    }

    /// The same runner and staleness rule, on another table.
    pub(crate) fn with_table(&self, schema: &str, table: &str) -> History {
        History {
            schema: schema.to_string(),
            table: table.to_string(),
            ..self.clone()
        }
    }

    pub(crate) fn runner(&self) -> &Runner {
        &self.runner
    }

    pub(crate) fn qualified(&self) -> String {
        qualified(&self.schema, &self.table)
    }

    /// Creates the table (and its schema) if missing.
    pub(crate) async fn create(&self, client: &Client) -> Result<()> {
        client
            .batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {schema};
                 CREATE TABLE IF NOT EXISTS {table} (
                     id text PRIMARY KEY,
                     checksum text NOT NULL,
                     applied_at timestamptz NOT NULL DEFAULT now(),
                     execution_ms bigint NOT NULL
                 );
                 -- A notransaction migration's progress and failure (added to older tables).
                 ALTER TABLE {table} ADD COLUMN IF NOT EXISTS statements_done integer,
                     ADD COLUMN IF NOT EXISTS error text,
                     ADD COLUMN IF NOT EXISTS runner_pid integer,
                     -- A claim's runner, as poolers do not change it, and its heartbeat.
                     ADD COLUMN IF NOT EXISTS runner_id text,
                     ADD COLUMN IF NOT EXISTS runner text,
                     ADD COLUMN IF NOT EXISTS heartbeat_at timestamptz",
                schema = quote_ident(&self.schema),
                table = self.qualified()
            ))
            .await?;
        Ok(())
    }

    /// Every row; none when the table does not exist. A table of this name with other
    /// columns or column types is an error naming the table and the column.
    pub(crate) async fn read(&self, client: &Client) -> Result<Vec<HistoryRow>> {
        let table = self.qualified();
        // Unnamed statements throughout: the history works behind transaction-mode poolers.
        let exists: bool = client
            .query_typed_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[(&table, Type::TEXT)],
            )
            .await?
            .try_get(0)?;
        if !exists {
            return Ok(Vec::new());
        }
        // A table from before the progress columns reads too (status takes no lock and
        // writes nothing, so it does not add them): they are read when they are there.
        let present: Vec<String> = client
            .query_typed(
                "SELECT attname::text FROM pg_attribute WHERE attrelid = $1::regclass \
                 AND attname IN ('statements_done', 'error', 'runner_pid', 'runner_id', \
                 'runner', 'heartbeat_at') AND NOT attisdropped",
                &[(&table, Type::TEXT)],
            )
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let has = |c: &str| present.iter().any(|p| p == c);
        let stale = self.stale_after.as_secs_f64();
        let extra = if has("runner_id") && has("runner") && has("heartbeat_at") {
            // The staleness rule: a claim is its dead runner's when its heartbeat is older than
            // `stale_after` and no server session runs a statement tagged with its runner id
            // (a long statement beats for itself); claims from before runner ids, when the
            // session that made them has ended.
            ", statements_done, error, runner, \
             (execution_ms = -1 AND CASE \
                WHEN runner_id IS NOT NULL THEN \
                  heartbeat_at < now() - make_interval(secs => $1) \
                  AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.state = 'active' \
                                  AND strpos(a.query, 'skelly-db runner ' || runner_id) > 0) \
                WHEN runner_pid IS NOT NULL THEN \
                  NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = runner_pid) \
                ELSE false END) AS runner_gone"
        } else if has("statements_done") && has("error") && has("runner_pid") {
            ", statements_done, error, (runner_pid IS NOT NULL AND NOT EXISTS \
             (SELECT 1 FROM pg_stat_activity a WHERE a.pid = runner_pid)) AS runner_gone"
        } else {
            ""
        };
        let uses_stale = extra.contains("$1");
        let sql = format!("SELECT id, checksum, applied_at, execution_ms{extra} FROM {table}");
        let stale_param: [(&(dyn tokio_postgres::types::ToSql + Sync), Type); 1] =
            [(&stale, Type::FLOAT8)];
        let rows = client
            .query_typed(&sql, if uses_stale { &stale_param } else { &[] })
            .await
            .map_err(|e| match e.as_db_error() {
                // A column of ours is missing: the table is someone else's.
                Some(db) if *db.code() == tokio_postgres::error::SqlState::UNDEFINED_COLUMN => {
                    self.wrong_table(db.message())
                }
                _ => crate::Error::from(e),
            })?;
        rows.iter().map(|row| self.decode(row)).collect()
    }

    fn decode(&self, row: &Row) -> Result<HistoryRow> {
        let column = |name: &str, e: tokio_postgres::Error| {
            self.wrong_table(&format!(
                "column `{name}`: {}",
                std::error::Error::source(&e).map_or(e.to_string(), |s| s.to_string())
            ))
        };
        let has = |name: &str| row.columns().iter().any(|c| c.name() == name);
        Ok(HistoryRow {
            id: row.try_get("id").map_err(|e| column("id", e))?,
            checksum: row.try_get("checksum").map_err(|e| column("checksum", e))?,
            applied_at: row
                .try_get("applied_at")
                .map_err(|e| column("applied_at", e))?,
            execution_ms: row
                .try_get("execution_ms")
                .map_err(|e| column("execution_ms", e))?,
            statements_done: if has("statements_done") {
                row.try_get("statements_done")
                    .map_err(|e| column("statements_done", e))?
            } else {
                None
            },
            error: if has("error") {
                row.try_get("error").map_err(|e| column("error", e))?
            } else {
                None
            },
            runner: if has("runner") {
                row.try_get("runner").map_err(|e| column("runner", e))?
            } else {
                None
            },
            runner_gone: has("runner_gone")
                && row
                    .try_get::<_, bool>("runner_gone")
                    .map_err(|e| column("runner_pid", e))?,
        })
    }

    fn wrong_table(&self, reason: &str) -> crate::Error {
        MigrationError::HistoryTable {
            table: self.qualified(),
            reason: reason.to_string(),
        }
        .into()
    }

    /// The recorded `execution_ms` of migration `id` (`-1` while a notransaction migration
    /// runs), or `None` when it is not applied.
    pub(crate) async fn state(&self, client: &Client, id: &str) -> Result<Option<i64>> {
        let row = client
            .query_typed_opt(
                &format!(
                    "SELECT execution_ms FROM {} WHERE id = $1",
                    self.qualified()
                ),
                &[(&id, Type::TEXT)],
            )
            .await?;
        Ok(match row {
            Some(row) => Some(row.try_get(0)?),
            None => None,
        })
    }

    /// Records `m` as applied (`elapsed_ms` -1: being applied, outside a transaction).
    pub(crate) async fn insert(
        &self,
        client: &Client,
        m: &Migration,
        elapsed_ms: i64,
    ) -> Result<()> {
        client
            .execute_typed(
                &format!(
                    // A claim (-1) names its runner and starts its heartbeat, so that a dead
                    // runner shows (see `read`).
                    "INSERT INTO {} (id, checksum, execution_ms, runner_id, runner, heartbeat_at) \
                     VALUES ($1, $2, $3, CASE WHEN $3 < 0 THEN $4 END, \
                             CASE WHEN $3 < 0 THEN $5 END, CASE WHEN $3 < 0 THEN now() END)",
                    self.qualified()
                ),
                &[
                    (&m.id(), Type::TEXT),
                    (&m.checksum(), Type::TEXT),
                    (&elapsed_ms, Type::INT8),
                    (&self.runner.id, Type::TEXT),
                    (&self.runner.describe, Type::TEXT),
                ],
            )
            .await?;
        Ok(())
    }

    /// Records a migration another tool applied at `applied_at` (execution time unknown: 0).
    pub(crate) async fn insert_adopted(
        &self,
        client: &Client,
        id: &str,
        checksum: &str,
        applied_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        client
            .execute_typed(
                &format!(
                    "INSERT INTO {} (id, checksum, applied_at, execution_ms) VALUES ($1, $2, $3, 0)",
                    self.qualified()
                ),
                &[
                    (&id, Type::TEXT),
                    (&checksum, Type::TEXT),
                    (&applied_at, Type::TIMESTAMPTZ),
                ],
            )
            .await?;
        Ok(())
    }

    /// Marks the notransaction migration `m`, claimed with -1, as done.
    pub(crate) async fn finish(
        &self,
        client: &Client,
        m: &Migration,
        elapsed_ms: i64,
    ) -> Result<()> {
        client
            .execute_typed(
                &format!(
                    "UPDATE {} SET execution_ms = $2, applied_at = now() WHERE id = $1",
                    self.qualified()
                ),
                &[(&m.id(), Type::TEXT), (&elapsed_ms, Type::INT8)],
            )
            .await?;
        Ok(())
    }

    /// Counts a notransaction migration's statements done (each is committed by itself).
    pub(crate) async fn progress(&self, client: &Client, id: &str, done: i32) -> Result<()> {
        let counted = client
            .execute_typed(
                &format!(
                    "UPDATE {} SET statements_done = $2, heartbeat_at = now() WHERE id = $1 \
                     AND (runner_id IS NULL OR runner_id = $3)",
                    self.qualified()
                ),
                &[
                    (&id, Type::TEXT),
                    (&done, Type::INT4),
                    (&self.runner.id, Type::TEXT),
                ],
            )
            .await?;
        if counted == 0 {
            return Err(MigrationError::Operator {
                message: format!(
                    "{id}: this runner's claim was taken over by another (it was taken for dead \
                     after {:?} without a heartbeat); stopping",
                    self.stale_after
                ),
            }
            .into());
        }
        Ok(())
    }

    /// Refreshes the heartbeat of this runner's claim on `id` (see `read`).
    pub(crate) async fn heartbeat(&self, client: &Client, id: &str) -> Result<()> {
        client
            .execute_typed(
                &format!(
                    "UPDATE {} SET heartbeat_at = now() WHERE id = $1 AND runner_id = $2 \
                     AND execution_ms = -1",
                    self.qualified()
                ),
                &[(&id, Type::TEXT), (&self.runner.id, Type::TEXT)],
            )
            .await?;
        Ok(())
    }

    /// The SQL that counts `done` statements of the claimed `id` and beats, as literals: sent
    /// in the same transaction as the statement, so the count is never behind or ahead.
    pub(crate) fn progress_sql(&self, id: &str, done: i32) -> String {
        // Fenced: when the claim is no longer this runner's (another took it over after this
        // one was taken for dead), the division fails and the statement is rolled back with it.
        format!(
            "WITH counted AS (UPDATE {} SET statements_done = {done}, heartbeat_at = now() \
             WHERE id = {} AND runner_id = {} RETURNING 1) \
             SELECT 1 / (SELECT count(*)::int FROM counted)",
            self.qualified(),
            crate::sql::quote_literal(id),
            crate::sql::quote_literal(&self.runner.id)
        )
    }

    /// Records a notransaction migration as failed (`execution_ms` -2) after `done`
    /// statements, with the error.
    pub(crate) async fn fail(
        &self,
        client: &Client,
        id: &str,
        done: i32,
        error: &str,
    ) -> Result<()> {
        client
            .execute_typed(
                &format!(
                    "UPDATE {} SET execution_ms = -2, statements_done = $2, error = $3 WHERE id = $1",
                    self.qualified()
                ),
                &[(&id, Type::TEXT), (&done, Type::INT4), (&error, Type::TEXT)],
            )
            .await?;
        Ok(())
    }

    /// Claims a failed (or abandoned) notransaction migration again, for `resume`.
    pub(crate) async fn reclaim(&self, client: &Client, id: &str) -> Result<()> {
        client
            .execute_typed(
                &format!(
                    "UPDATE {} SET execution_ms = -1, error = NULL, runner_pid = NULL, \
                     runner_id = $2, runner = $3, heartbeat_at = now() WHERE id = $1",
                    self.qualified()
                ),
                &[
                    (&id, Type::TEXT),
                    (&self.runner.id, Type::TEXT),
                    (&self.runner.describe, Type::TEXT),
                ],
            )
            .await?;
        Ok(())
    }

    /// Records `m` as reverted.
    pub(crate) async fn remove(&self, client: &Client, m: &Migration) -> Result<()> {
        client
            .execute_typed(
                &format!("DELETE FROM {} WHERE id = $1", self.qualified()),
                &[(&m.id(), Type::TEXT)],
            )
            .await?;
        Ok(())
    }
}
