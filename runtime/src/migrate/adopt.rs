//! Adopting another tool's history: a project that moves from sql-migrate keeps its applied
//! migrations applied. The other tool's table is read, every applied id must have its file,
//! and the rows are written into skelly-db's history (current checksums, original times) in
//! one transaction, or not at all.

use chrono::{DateTime, Utc};
use tokio_postgres::types::Type;
use tokio_postgres::Client;

use super::plan::HistoryRow;
use super::runner::Migrator;
use super::MigrationError;
use crate::error::Result;
use crate::executor::Executor;
use crate::sql::qualified;

/// sql-migrate's default history table (its `gorp_migrations`, in `public`).
pub const SQL_MIGRATE_TABLE: &str = "gorp_migrations";

impl Migrator {
    /// Imports sql-migrate's history from `schema.table` (by default `public.gorp_migrations`:
    /// `id text PRIMARY KEY, applied_at timestamptz`), so that `status` shows those
    /// migrations applied and `up` runs only the rest. Every applied id must be a file of this
    /// set (sql-migrate's ids are file names); a row already in skelly-db's history must have
    /// the file's checksum. Otherwise nothing is written and the error lists each problem.
    /// Returns the ids adopted (those already recorded are skipped). CLI: `skelly-db migrate
    /// adopt sql-migrate [--schema public] [--table gorp_migrations]`.
    ///
    /// ```no_run
    /// # async fn run(pool: skelly_db::Pool) -> skelly_db::Result<()> {
    /// use skelly_db::migrate::Migrator;
    ///
    /// let migrator = Migrator::from_dir("migrations")?.allow_empty_down(true);
    /// let adopted = migrator.adopt_sql_migrate(&pool, "public", "gorp_migrations").await?;
    /// println!("adopted {} migrations", adopted.len());
    /// migrator.up(&pool).await?; // only what sql-migrate had not applied
    /// # Ok(()) }
    /// ```
    pub async fn adopt_sql_migrate(
        &self,
        db: &impl Executor,
        schema: &str,
        table: &str,
    ) -> Result<Vec<String>> {
        let session = db.session().await?;
        if session.in_transaction() {
            return Err(MigrationError::InTransaction.into());
        }
        let client = session.dedicated("adopting a history")?;
        self.locked(&client, |client| async move {
            let theirs = read_sql_migrate(client, schema, table).await?;
            let ours = self.history().read(client).await?;
            let adopt = self.to_adopt(&format!("{schema}.{table}"), &theirs, &ours)?;
            for (id, applied_at) in &adopt {
                let m = self.migrations().iter().find(|m| m.id() == id);
                let checksum = m.map(|m| m.checksum()).unwrap_or_default();
                self.history()
                    .insert_adopted(client, id, checksum, *applied_at)
                    .await?;
            }
            Ok(adopt.into_iter().map(|(id, _)| id).collect())
        })
        .await
    }

    // The rows to write, or every reason not to.
    fn to_adopt(
        &self,
        table: &str,
        theirs: &[(String, DateTime<Utc>)],
        ours: &[HistoryRow],
    ) -> Result<Vec<(String, DateTime<Utc>)>> {
        let mut problems = Vec::new();
        let mut adopt = Vec::new();
        for (id, applied_at) in theirs {
            let Some(m) = self.migrations().iter().find(|m| m.id() == id) else {
                problems.push(format!("{id} is applied in {table} but has no file"));
                continue;
            };
            match ours.iter().find(|r| &r.id == id) {
                Some(row) if row.checksum != m.checksum() => problems.push(format!(
                    "{id} is already in skelly-db's history with another checksum"
                )),
                Some(_) => {}
                None => adopt.push((id.clone(), *applied_at)),
            }
        }
        if problems.is_empty() {
            Ok(adopt)
        } else {
            Err(MigrationError::Adopt {
                table: table.to_string(),
                problems,
            }
            .into())
        }
    }
}

// sql-migrate's rows: every id with when it was applied (a missing time reads as now).
async fn read_sql_migrate(
    client: &Client,
    schema: &str,
    table: &str,
) -> Result<Vec<(String, DateTime<Utc>)>> {
    let name = qualified(schema, table);
    let exists: bool = client
        .query_typed_one("SELECT to_regclass($1) IS NOT NULL", &[(&name, Type::TEXT)])
        .await?
        .try_get(0)?;
    if !exists {
        return Err(MigrationError::Adopt {
            table: format!("{schema}.{table}"),
            problems: vec![
                "no such table; name sql-migrate's table with --schema and --table".to_string(),
            ],
        }
        .into());
    }
    let rows = client
        .query_typed(
            &format!("SELECT id::text, coalesce(applied_at, now()) FROM {name} ORDER BY id"),
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}
