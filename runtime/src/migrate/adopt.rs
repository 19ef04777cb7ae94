//! Adopting another tool's history: a project that moves from sql-migrate or goose keeps its applied
//! migrations applied. The other tool's table is read, every applied id must have its file,
//! and the rows are written into skelly-db's history (current checksums, original times) in
//! one transaction, or not at all.

use chrono::{DateTime, Utc};
use tokio_postgres::types::Type;
use tokio_postgres::Client;

use skelly_db_migrate_format::leading_number;

use super::execute::dedicated;
use super::plan::HistoryRow;
use super::runner::Migrator;
use super::MigrationError;
use crate::error::Result;
use crate::executor::Executor;
use crate::sql::qualified;

/// sql-migrate's default history table (its `gorp_migrations`, in `public`).
pub const SQL_MIGRATE_TABLE: &str = "gorp_migrations";
/// goose's default history table (in `public`).
pub const GOOSE_TABLE: &str = "goose_db_version";

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
        self.adopt(db, schema, table, Tool::SqlMigrate).await
    }

    /// Imports goose's history from `schema.table` (by default `public.goose_db_version`), as
    /// [`Migrator::adopt_sql_migrate`] does sql-migrate's: a version counts as applied when its
    /// newest row says `is_applied` (goose's own rule), and maps to the file whose name starts
    /// with that number. CLI: `skelly-db migrate adopt goose [--schema public] [--table
    /// goose_db_version]`.
    ///
    /// A version applied by goose whose file is a Go migration (`00003_backfill.go`) is a
    /// problem listed with the others: skelly-db cannot run Go, so recording it is asked for
    /// explicitly with [`Migrator::adopt_goose_with_go`].
    pub async fn adopt_goose(
        &self,
        db: &impl Executor,
        schema: &str,
        table: &str,
    ) -> Result<Vec<String>> {
        self.adopt(db, schema, table, Tool::Goose { go: false })
            .await
    }

    /// As [`Migrator::adopt_goose`], also recording the Go migrations goose applied (their work
    /// is done in this database) as applied, with their `.go` file's checksum. They stay
    /// migrations skelly-db cannot run: on a new database `up` stops before the first one and
    /// says how to go on (port it to SQL, or record it by hand). CLI: `skelly-db migrate adopt
    /// goose --go-applied`.
    ///
    /// ```no_run
    /// # async fn run(pool: skelly_db::Pool) -> skelly_db::Result<()> {
    /// use skelly_db::migrate::Migrator;
    ///
    /// let migrator = Migrator::from_dir("db/migrations")?;
    /// let adopted = migrator.adopt_goose_with_go(&pool, "public", "goose_db_version").await?;
    /// migrator.up(&pool).await?;
    /// # let _ = adopted; Ok(()) }
    /// ```
    pub async fn adopt_goose_with_go(
        &self,
        db: &impl Executor,
        schema: &str,
        table: &str,
    ) -> Result<Vec<String>> {
        self.adopt(db, schema, table, Tool::Goose { go: true })
            .await
    }

    async fn adopt(
        &self,
        db: &impl Executor,
        schema: &str,
        table: &str,
        tool: Tool,
    ) -> Result<Vec<String>> {
        let client = dedicated(db, "adopting a history").await?;
        let shown = format!("{schema}.{table}");
        self.locked(&client, |client| async move {
            let theirs = read_theirs(client, schema, table, tool).await?;
            let ours = self.history().read(client).await?;
            let adopt = self.to_adopt(tool, &shown, &theirs, &ours)?;
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
        tool: Tool,
        table: &str,
        theirs: &[(Applied, DateTime<Utc>)],
        ours: &[HistoryRow],
    ) -> Result<Vec<(String, DateTime<Utc>)>> {
        let mut problems = Vec::new();
        let mut adopt = Vec::new();
        for (applied, applied_at) in theirs {
            let found = self.migrations().iter().find(|m| match applied {
                Applied::Id(id) => m.id() == id,
                Applied::Version(v) => leading_number(m.id()) == Some(*v as u128),
            });
            let Some(m) = found else {
                let hint = match applied {
                    Applied::Version(_) => {
                        " (a Go migration registered in code? copy its .go file into the \
                         directory: it is then recorded with --go-applied)"
                    }
                    Applied::Id(_) => "",
                };
                problems.push(format!(
                    "{applied} is applied in {table} but has no file{hint}"
                ));
                continue;
            };
            if m.is_go() && !matches!(tool, Tool::Goose { go: true }) {
                problems.push(format!(
                    "{applied} is a Go migration ({}), which skelly-db cannot run; goose \
                     applied it here, so record it as applied with --go-applied \
                     (Migrator::adopt_goose_with_go)",
                    m.id()
                ));
                continue;
            }
            let id = m.id();
            match ours.iter().find(|r| r.id == id) {
                Some(row) if row.checksum != m.checksum() => problems.push(format!(
                    "{id} is already in skelly-db's history with another checksum"
                )),
                Some(_) => {}
                None => adopt.push((id.to_string(), *applied_at)),
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

/// Whose history is adopted.
#[derive(Debug, Clone, Copy)]
enum Tool {
    SqlMigrate,
    /// `go`: record goose's Go migrations as applied.
    Goose {
        go: bool,
    },
}

/// An applied migration as the other tool records it: sql-migrate by file name, goose by
/// version number.
enum Applied {
    Id(String),
    Version(i64),
}

impl std::fmt::Display for Applied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Applied::Id(id) => f.write_str(id),
            Applied::Version(v) => write!(f, "version {v}"),
        }
    }
}

// The other tool's applied migrations, with when they were applied (a missing time reads as
// now). goose: a version's newest row decides (`is_applied`), and version 0 is goose's own
// first row.
async fn read_theirs(
    client: &Client,
    schema: &str,
    table: &str,
    tool: Tool,
) -> Result<Vec<(Applied, DateTime<Utc>)>> {
    let name = qualified(schema, table);
    let exists: bool = client
        .query_typed_one("SELECT to_regclass($1) IS NOT NULL", &[(&name, Type::TEXT)])
        .await?
        .try_get(0)?;
    if !exists {
        let which = match tool {
            Tool::SqlMigrate => "sql-migrate",
            Tool::Goose { .. } => "goose",
        };
        return Err(MigrationError::Adopt {
            table: format!("{schema}.{table}"),
            problems: vec![format!(
                "no such table; name {which}'s table with --schema and --table"
            )],
        }
        .into());
    }
    let sql = match tool {
        Tool::SqlMigrate => {
            format!("SELECT id::text, coalesce(applied_at, now()) FROM {name} ORDER BY id")
        }
        Tool::Goose { .. } => format!(
            "SELECT version_id, coalesce(tstamp::timestamptz, now()) FROM (\
               SELECT DISTINCT ON (version_id) version_id, is_applied, tstamp FROM {name} \
               ORDER BY version_id, id DESC) newest \
             WHERE is_applied AND version_id > 0 ORDER BY version_id"
        ),
    };
    let rows = client.query_typed(&sql, &[]).await?;
    rows.iter()
        .map(|r| {
            let applied = match tool {
                Tool::SqlMigrate => Applied::Id(r.try_get(0)?),
                Tool::Goose { .. } => Applied::Version(r.try_get(0)?),
            };
            Ok((applied, r.try_get(1)?))
        })
        .collect()
}
