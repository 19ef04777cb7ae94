//! `skelly-db`: the command line of skelly-db.
//!
//! ```text
//! skelly-db migrate up | down [N] | redo | status [--exit-code] [--json] | new NAME
//!                  | adopt sql-migrate [--schema S] [--table T]
//!   [--database-url URL] [--dir DIR] [--allow-empty-down]
//!   [--statement-timeout 10m] [--lock-timeout 5s]
//! skelly-db schema check [--src src] [--dir migrations] [--database-url URL]
//! ```

mod generate;
mod schema;
mod scratch;
mod status;
mod ticker;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use skelly_db::migrate::{
    Applied, Direction, MigrationError, Migrator, PlannedMigration, Progress,
};
use skelly_db::PoolConfig;

/// What `migrate new` writes: both markers, and what belongs under Down.
const NEW_MIGRATION: &str = "-- +migrate Up\n\n\n-- +migrate Down\n\
-- Undo the Up section here (DROP what it created, restore what it changed).\n\
-- Left empty, the migration is irreversible: `down` stops at it.\n\n";

#[derive(Parser)]
#[command(
    name = "skelly-db",
    version,
    about = "skelly-db: PostgreSQL migrations and schema checks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply, revert, inspect or create migrations.
    Migrate {
        #[command(subcommand)]
        action: Action,
        #[command(flatten)]
        options: Options,
    },
    /// Compare the `#[derive(Table)]` structs with the schema the migrations build.
    Schema {
        #[command(subcommand)]
        action: SchemaAction,
        #[command(flatten)]
        options: SchemaOptions,
    },
}

#[derive(Subcommand)]
enum SchemaAction {
    /// Read the structs from the sources (without compiling them), apply the migrations to a
    /// scratch database created and dropped on the DATABASE_URL server, and compare: exit 1
    /// when they disagree, with each difference and the SQL that would fix it.
    Check,
    /// Print `#[derive(Table)]` structs for the tables of the DATABASE_URL database (an
    /// existing schema): keys, defaults, uniques, indexes, checks, foreign keys and enums
    /// stated so that `schema check` finds them as they are. What a struct cannot state is
    /// listed on stderr.
    Pull {
        /// Only the tables of these schemas (default: every schema but the system ones).
        #[arg(long = "schema")]
        schemas: Vec<String>,
    },
    /// Print a diagram of the tables: their key and foreign-key columns and the relations
    /// with their cardinality, as Mermaid (renders in GitHub and GitLab markdown) or Graphviz
    /// DOT. From the `#[derive(Table)]` structs under --src, or with --from-database from the
    /// tables of the DATABASE_URL database (a schema not yet described by structs).
    Diagram {
        /// mermaid or dot.
        #[arg(long, default_value = "mermaid", value_parser = ["mermaid", "dot"])]
        format: String,
        /// Draw the tables of the DATABASE_URL database instead of the structs.
        #[arg(long)]
        from_database: bool,
        /// With --from-database: only the tables of these schemas.
        #[arg(long = "schema")]
        schemas: Vec<String>,
    },
}

#[derive(clap::Args)]
struct SchemaOptions {
    /// The server to create the scratch database on (its own database is left alone).
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    database_url: Option<String>,
    /// The directory holding the migration files.
    #[arg(long, default_value = "migrations", global = true)]
    dir: PathBuf,
    /// The Rust sources to read the structs from (every .rs file below it).
    #[arg(long, default_value = "src", global = true)]
    src: PathBuf,
    /// Load migrations without a Down section (also SKELLY_MIGRATE_ALLOW_EMPTY_DOWN=1).
    #[arg(long, global = true)]
    allow_empty_down: bool,
}

#[derive(clap::Args)]
struct Options {
    /// The database to migrate.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    database_url: Option<String>,
    /// The directory holding the migration files.
    #[arg(long, default_value = "migrations", global = true)]
    dir: PathBuf,
    /// Revert a missing or empty Down section as a no-op, as sql-migrate does (also
    /// SKELLY_MIGRATE_ALLOW_EMPTY_DOWN=1). By default a Down section is required and an empty
    /// one is irreversible.
    #[arg(long, global = true)]
    allow_empty_down: bool,
    /// statement_timeout of the migrations' statements, e.g. 30s or 10m (default: none).
    #[arg(long, global = true, value_parser = duration)]
    statement_timeout: Option<Duration>,
    /// lock_timeout of the migrations' statements, e.g. 5s: a migration blocked on a table
    /// lock longer than this fails and rolls back (default: the server's).
    #[arg(long, global = true, value_parser = duration)]
    lock_timeout: Option<Duration>,
    /// How old the heartbeat of a notransaction migration's runner may be before status,
    /// resume and waiting runners take the runner for dead (default 30s; it beats every
    /// third of this while it runs).
    #[arg(long, global = true, value_parser = duration)]
    claim_stale_after: Option<Duration>,
}

#[derive(Subcommand)]
enum Action {
    /// Apply every pending migration.
    Up {
        /// Print each migration's statements in the order they would run; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Revert the N most recently applied migrations.
    Down {
        /// How many to revert.
        #[arg(default_value_t = 1)]
        steps: usize,
        /// Print each migration's statements in the order they would run; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Record every migration up to VERSION (a file name or its number) as applied without
    /// running it, for a database whose schema already exists.
    Baseline {
        /// The last migration to record.
        version: String,
    },
    /// Record one migration as applied without running it.
    MarkApplied {
        /// The migration's file name (or number).
        file: String,
    },
    /// Run the rest of a notransaction migration that failed half way, after the database was
    /// put right.
    Resume {
        /// The migration's file name.
        file: String,
    },
    /// Forget one migration's history row, so that `up` runs it again.
    Unmark {
        /// The migration's id (file name).
        file: String,
    },
    /// List applied migrations whose file changed since; with --yes, record the files'
    /// checksums.
    RepairChecksums {
        /// Write the new checksums (without it, only list).
        #[arg(long)]
        yes: bool,
    },
    /// Revert the newest applied migration and apply it again.
    Redo,
    /// List every migration and its state.
    Status {
        /// Exit with 1 when anything is pending, changed, missing or in progress (for CI).
        #[arg(long)]
        exit_code: bool,
        /// Print the states as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a new migration file `YYYYMMDDHHMMSS_NAME.sql` (UTC).
    New {
        /// What the migration does, e.g. `add_user_bio`.
        name: String,
    },
    /// Draft a migration that brings the schema the migrations build to the
    /// `#[derive(Table)]` structs in the sources: `YYYYMMDDHHMMSS_NAME.sql` with Up and Down
    /// (and `..._NAME_concurrently.sql` for indexes on existing tables). The migrations are
    /// applied to a scratch database on the DATABASE_URL server, created and dropped. Read the
    /// draft before committing it: it is yours.
    Generate {
        /// What the migration does, e.g. `add_user_bio`.
        name: String,
        /// The Rust sources to read the structs from (every .rs file below it).
        #[arg(long, default_value = "src")]
        src: PathBuf,
        /// A column renamed, as `[schema.]table.old=new`: renamed in place, data kept.
        #[arg(long, value_name = "TABLE.OLD=NEW")]
        rename: Vec<String>,
        /// A column gone on purpose (not renamed), as `[schema.]table.column`.
        #[arg(long, value_name = "TABLE.COLUMN")]
        drop: Vec<String>,
        /// Write DROP COLUMN as a statement; without it, dropping a column is written
        /// commented out.
        #[arg(long)]
        allow_drop: bool,
    },
    /// Prove every Down: on a scratch database on the DATABASE_URL server (created and
    /// dropped), apply each migration's Up, then its Down, compare the catalog with the one
    /// before (tables, columns, constraints, indexes, types, sequences, views, functions,
    /// triggers, extensions, schemas, comments), and apply Up again; exit 1 at the first Down
    /// that does not restore the schema, naming each difference.
    Verify {
        /// Start at this migration (a file name or its number); the earlier ones are applied
        /// without being checked.
        #[arg(long, value_name = "VERSION")]
        from: Option<String>,
    },
    /// Check the Up sections for statements that lock or rewrite tables holding data (no
    /// database needed); exit 1 on any finding. Silence one with `-- lint: allow RULE reason`
    /// right above the statement.
    Lint,
    /// Import another tool's history, so that what it applied counts as applied.
    Adopt {
        #[command(subcommand)]
        tool: Tool,
    },
}

#[derive(Subcommand)]
enum Tool {
    /// sql-migrate's table (`public.gorp_migrations` by default).
    SqlMigrate {
        /// Its schema.
        #[arg(long, default_value = "public")]
        schema: String,
        /// Its table.
        #[arg(long, default_value = skelly_db::migrate::SQL_MIGRATE_TABLE)]
        table: String,
    },
    /// goose's table (`public.goose_db_version` by default).
    Goose {
        /// Its schema.
        #[arg(long, default_value = "public")]
        schema: String,
        /// Its table.
        #[arg(long, default_value = skelly_db::migrate::GOOSE_TABLE)]
        table: String,
        /// Also record the Go migrations (`00003_x.go` in the directory) goose applied as
        /// applied: skelly-db cannot run Go, and without this flag they are listed and nothing
        /// is written.
        #[arg(long)]
        go_applied: bool,
    },
}

fn main() -> ExitCode {
    // `.env` in the working directory fills the environment (DATABASE_URL, PGPASSWORD, ...)
    // without overriding what is set already; a malformed one is an error naming its line.
    match dotenvy::from_path(".env") {
        Ok(()) => {}
        Err(dotenvy::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            eprintln!("error: .env: {e}");
            return ExitCode::FAILURE;
        }
    }
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Migrate { action, options } => migrate(action, options).await,
        Command::Schema {
            action: SchemaAction::Check,
            options,
        } => schema::check(&options).await,
        Command::Schema {
            action: SchemaAction::Pull { schemas },
            options,
        } => schema::pull(&options, &schemas).await,
        Command::Schema {
            action:
                SchemaAction::Diagram {
                    format,
                    from_database,
                    schemas,
                },
            options,
        } => schema::diagram(&options, &format, from_database, &schemas).await,
    }
}

async fn migrate(action: Action, options: Options) -> Result<(), String> {
    if let Action::Generate {
        name,
        src,
        rename,
        drop,
        allow_drop,
    } = &action
    {
        let request = generate::Request {
            name,
            src,
            renames: rename,
            drops: drop,
            allow_drop: *allow_drop,
        };
        return generate::generate(&options, request).await;
    }
    if let Action::Verify { from } = &action {
        return verify(&options, from.as_deref()).await;
    }
    if let Action::New { name } = &action {
        let path = new_migration(&options.dir, name)?;
        println!("created {}", path.display());
        return Ok(());
    }
    // status shows a file that does not parse among the rest; everything else refuses it.
    if let Action::Lint = &action {
        let migrator =
            Migrator::from_dir(&options.dir).map_err(|e| load_error(&e, &options.dir))?;
        let findings = skelly_db::migrate::lint::lint(migrator.migrations());
        for finding in &findings {
            println!("{finding}");
        }
        if findings.is_empty() {
            println!(
                "no findings in {} migration(s)",
                migrator.migrations().len()
            );
            return Ok(());
        }
        return Err(format!("{} lint finding(s)", findings.len()));
    }
    let (migrator, invalid) = if matches!(action, Action::Status { .. }) {
        Migrator::from_dir_lenient(&options.dir)
    } else {
        Migrator::from_dir(&options.dir).map(|m| (m, Vec::new()))
    }
    .map_err(|e| load_error(&e, &options.dir))?;
    let finished = Arc::new(AtomicUsize::new(0));
    let counter = finished.clone();
    let ticker = Arc::new(ticker::Ticker::default());
    let progress_ticker = ticker.clone();
    let mut migrator = migrator
        .statement_timeout(options.statement_timeout)
        .ddl_lock_timeout(options.lock_timeout)
        .on_progress(move |p| {
            if matches!(p, Progress::Finished(_)) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            print_progress(p, &progress_ticker);
        });
    if options.allow_empty_down {
        migrator = migrator.allow_empty_down(true);
    }
    if let Some(stale) = options.claim_stale_after {
        migrator = migrator.claim_stale_after(stale);
    }
    let url = options
        .database_url
        .filter(|u| !u.trim().is_empty())
        // As psql: PGHOST (and the other PG* variables) alone name the server.
        .or_else(|| std::env::var_os("PGHOST").map(|_| "postgres://".to_string()))
        .ok_or("no database given; pass --database-url, or set DATABASE_URL or PGHOST")?;
    // The pool variables apply here as in the application (DATABASE_STATEMENT_CACHE_SIZE=0
    // behind a transaction-mode pooler, ...).
    let pool = PoolConfig::new(&url)
        .and_then(PoolConfig::with_env)
        .and_then(PoolConfig::build)
        .map_err(|e| chain(&e))?;
    let result = match action {
        Action::Up { dry_run: true } => migrator.plan_up(&pool).await.map(|p| dry_run(&p)),
        Action::Up { dry_run: false } => {
            migrator.up(&pool).await.map(|a| nothing(&a, "up to date"))
        }
        Action::Down {
            steps,
            dry_run: true,
        } => migrator.plan_down(&pool, steps).await.map(|p| dry_run(&p)),
        Action::Down {
            steps,
            dry_run: false,
        } => migrator
            .down(&pool, steps)
            .await
            .map(|a| nothing(&a, "nothing to revert")),
        Action::Baseline { version } => migrator.baseline(&pool, &version).await.map(|ids| {
            for id in &ids {
                println!("recorded {id}");
            }
            println!("{} migration(s) recorded as applied", ids.len());
        }),
        Action::MarkApplied { file } => migrator
            .mark_applied(&pool, migration_id(&file))
            .await
            .map(|()| println!("recorded {}", migration_id(&file))),
        Action::Resume { file } => migrator.resume(&pool, migration_id(&file)).await.map(drop),
        Action::Unmark { file } => migrator
            .unmark(&pool, migration_id(&file))
            .await
            .map(|()| println!("forgot {}", migration_id(&file))),
        Action::RepairChecksums { yes } => {
            let repaired = migrator.repair_checksums(&pool, yes).await;
            if let Ok(changed) = &repaired {
                for (id, old, new) in changed {
                    println!("{id}: {} -> {}", &old[..old.len().min(12)], &new[..12]);
                }
                match (changed.len(), yes) {
                    (0, _) => println!("every checksum matches its file"),
                    (n, true) => println!("{n} checksum(s) updated"),
                    // Differences listed and not recorded: a failure for scripts and CI.
                    (n, false) => {
                        ticker.stop();
                        pool.close().await;
                        return Err(format!(
                            "{n} checksum(s) differ from the history; run with --yes to record them"
                        ));
                    }
                }
            }
            repaired.map(drop)
        }
        Action::Redo => migrator
            .redo(&pool)
            .await
            .map(|a| nothing(&a, "nothing to redo")),
        Action::Status { exit_code, json } => {
            let statuses = migrator.status(&pool).await;
            pool.close().await;
            let statuses = statuses.map_err(|e| chain(&e))?;
            return status::print(&statuses, &invalid, &options.dir, json, exit_code);
        }
        Action::Adopt { tool } => {
            let (adopted, schema, table) = match tool {
                Tool::SqlMigrate { schema, table } => (
                    migrator.adopt_sql_migrate(&pool, &schema, &table).await,
                    schema,
                    table,
                ),
                Tool::Goose {
                    schema,
                    table,
                    go_applied: false,
                } => (
                    migrator.adopt_goose(&pool, &schema, &table).await,
                    schema,
                    table,
                ),
                Tool::Goose {
                    schema,
                    table,
                    go_applied: true,
                } => (
                    migrator.adopt_goose_with_go(&pool, &schema, &table).await,
                    schema,
                    table,
                ),
            };
            adopted.map(|ids| {
                for id in &ids {
                    println!("adopted  {id}");
                }
                println!("{} migration(s) adopted from {schema}.{table}", ids.len());
            })
        }
        Action::New { .. } | Action::Lint | Action::Generate { .. } | Action::Verify { .. } => {
            unreachable!("handled above")
        }
    };
    // A migration that failed sent no Finished: its line ends here.
    ticker.stop();
    pool.close().await;
    result.map_err(|e| {
        let mut text = chain(&e);
        let n = finished.load(Ordering::Relaxed);
        if n > 0 {
            text.push_str(&format!(
                "\n  {n} migration(s) finished (committed) before the failure, as listed above"
            ));
        }
        text
    })
}

/// `migrate verify`: every Down proven on a scratch database.
async fn verify(options: &Options, from: Option<&str>) -> Result<(), String> {
    let migrator = scratch::load_migrations(&options.dir, options.allow_empty_down)?
        .statement_timeout(options.statement_timeout)
        .ddl_lock_timeout(options.lock_timeout);
    let url = scratch::server_url(options.database_url.as_deref())?;
    let started = std::time::Instant::now();
    let db = scratch::Scratch::create(url).await?;
    let ticker = Arc::new(ticker::Ticker::default());
    let progress_ticker = ticker.clone();
    // As `up` shows it: each migration's Up, Down and Up again.
    let migrator = migrator.on_progress(move |p| print_progress(p, &progress_ticker));
    let result = db
        .guard(async { migrator.verify(&db.pool, from).await.map_err(|e| chain(&e)) })
        .await;
    ticker.stop();
    let dropped = db.drop_now().await;
    let report = result?;
    dropped?;
    for id in &report.irreversible {
        println!("{id}: irreversible (empty Down), applied and not reverted");
    }
    match &report.failed {
        None => {
            println!(
                "every Down restores the schema: {} migration(s) verified, {} irreversible, in {:.1} s",
                report.verified.len(),
                report.irreversible.len(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Some(failed) => Err(failed.to_string()),
    }
}

fn print_progress(p: &Progress, ticker: &ticker::Ticker) {
    match p {
        Progress::Started { id, direction } => {
            let verb = match direction {
                Direction::Up => "applying",
                Direction::Down => "reverting",
            };
            println!("{verb} {id} ...");
            ticker.start(format!("{verb} {id}"));
        }
        Progress::Finished(a) => {
            ticker.stop();
            let verb = match a.direction {
                Direction::Up => "applied ",
                Direction::Down => "reverted",
            };
            println!("{verb} {} ({} ms)", a.id, a.duration.as_millis());
        }
        Progress::WaitingForLock { holder } => match holder {
            Some(holder) => println!("waiting for the migration lock, held by {holder}"),
            None => println!("waiting for the migration lock, held by another runner"),
        },
        Progress::WaitingForRunner { id, runner } => println!(
            "waiting for {id}, which {} is applying outside a transaction",
            runner.as_deref().unwrap_or("another runner")
        ),
        _ => {}
    }
}

/// A migration's identity from what the user typed: its file name, also when given as a path
/// (`migrations/20240101_add_users.sql`).
fn migration_id(file: &str) -> &str {
    std::path::Path::new(file)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(file)
}

fn dry_run(plan: &[PlannedMigration]) {
    if plan.is_empty() {
        println!("nothing to run");
    }
    for m in plan {
        let verb = match m.direction {
            Direction::Up => "would apply",
            Direction::Down => "would revert",
        };
        let how = if m.no_transaction {
            "notransaction"
        } else {
            "in a transaction"
        };
        println!("-- {verb} {} ({how})", m.id);
        for statement in &m.statements {
            println!("{}", statement.trim_end());
        }
    }
}

fn nothing(applied: &[Applied], message: &str) {
    if applied.is_empty() {
        println!("{message}");
    }
}

// A load error; one about reading the directory says how to name another.
fn load_error(e: &skelly_db::Error, dir: &Path) -> String {
    let text = chain(e);
    if matches!(e, skelly_db::Error::Migration(MigrationError::Io { path, .. }) if path == dir) {
        return format!(
            "{text}\n  (the migrations directory is set with --dir; it is `{}`)",
            dir.display()
        );
    }
    text
}

// "10s", "500ms", "5m", "1h".
fn duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}` has no unit; write e.g. 500ms, 30s, 5m or 1h"))?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration; write e.g. 500ms, 30s, 5m or 1h"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" | "min" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(format!("unknown unit in `{text}`; use ms, s, m or h")),
    }
}

// A migration name: letters, digits, `_` and `-`.
fn valid_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid migration name `{name}`; use letters, digits, `_` and `-`, e.g. add_user_bio"
        ))
    }
}

fn new_migration(dir: &Path, name: &str) -> Result<PathBuf, String> {
    valid_name(name)?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S");
    let path = dir.join(format!("{stamp}_{name}.sql"));
    if path.exists() {
        return Err(format!("{} already exists", path.display()));
    }
    std::fs::write(&path, NEW_MIGRATION)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

// The error and every cause under it that adds something: what an operator needs to act on.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let line = c.to_string();
        if !text.contains(&line) {
            text.push_str("\n  caused by: ");
            text.push_str(&line);
        }
        cause = c.source();
    }
    text
}
