//! `skelly-db`: the command line of skelly-db.
//!
//! ```text
//! skelly-db migrate up | down [N] | redo | status | new NAME   [--database-url URL] [--dir DIR]
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use skelly_db::migrate::{Applied, Direction, MigrationState, Migrator};
use skelly_db::Pool;

#[derive(Parser)]
#[command(
    name = "skelly-db",
    version,
    about = "skelly-db: PostgreSQL migrations"
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
        /// The database to migrate.
        #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
        database_url: Option<String>,
        /// The directory holding the migration files.
        #[arg(long, default_value = "migrations", global = true)]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum Action {
    /// Apply every pending migration.
    Up,
    /// Revert the N newest applied migrations.
    Down {
        /// How many to revert.
        #[arg(default_value_t = 1)]
        steps: usize,
    },
    /// Revert the newest applied migration and apply it again.
    Redo,
    /// List every migration and its state.
    Status,
    /// Write a new migration file `YYYYMMDDHHMMSS_NAME.sql` (UTC).
    New {
        /// What the migration does, e.g. `add_user_bio`.
        name: String,
    },
}

fn main() -> ExitCode {
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
    let Command::Migrate {
        action,
        database_url,
        dir,
    } = cli.command;
    if let Action::New { name } = &action {
        let path = new_migration(&dir, name)?;
        println!("created {}", path.display());
        return Ok(());
    }
    let migrator = Migrator::from_dir(&dir).map_err(|e| chain(&e))?;
    let url = database_url
        .filter(|u| !u.trim().is_empty())
        .ok_or("no database given; pass --database-url or set DATABASE_URL")?;
    let pool = Pool::connect(&url).map_err(|e| chain(&e))?;
    let result = match action {
        Action::Up => migrator.up(&pool).await.map(|a| report(&a, "up to date")),
        Action::Down { steps } => migrator
            .down(&pool, steps)
            .await
            .map(|a| report(&a, "nothing to revert")),
        Action::Redo => migrator
            .redo(&pool)
            .await
            .map(|a| report(&a, "nothing to redo")),
        Action::Status => migrator.status(&pool).await.map(|statuses| {
            for s in statuses {
                let state = match s.state {
                    MigrationState::Applied => "applied",
                    MigrationState::Pending if s.out_of_order => "pending (out of order)",
                    MigrationState::Pending => "pending",
                    MigrationState::Changed => "CHANGED since applied",
                    MigrationState::Missing => "MISSING file",
                    MigrationState::InProgress => "IN PROGRESS elsewhere",
                };
                let mut line = format!("{:<24} {}", state, s.id);
                if let (Some(at), Some(took)) = (s.applied_at, s.execution_time) {
                    line.push_str(&format!(
                        "  applied {} in {} ms",
                        at.format("%Y-%m-%d %H:%M:%S UTC"),
                        took.as_millis()
                    ));
                }
                if s.irreversible {
                    line.push_str("  (irreversible)");
                }
                println!("{line}");
            }
        }),
        Action::New { .. } => unreachable!("handled above"),
    };
    pool.close().await;
    result.map_err(|e| chain(&e))
}

fn report(applied: &[Applied], nothing: &str) {
    if applied.is_empty() {
        println!("{nothing}");
    }
    for a in applied {
        let verb = match a.direction {
            Direction::Up => "applied ",
            Direction::Down => "reverted",
        };
        println!("{verb} {} ({} ms)", a.id, a.duration.as_millis());
    }
}

fn new_migration(dir: &Path, name: &str) -> Result<PathBuf, String> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(format!(
            "invalid migration name `{name}`; use letters, digits, `_` and `-`, e.g. add_user_bio"
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S");
    let path = dir.join(format!("{stamp}_{name}.sql"));
    if path.exists() {
        return Err(format!("{} already exists", path.display()));
    }
    std::fs::write(&path, "-- +migrate Up\n\n-- +migrate Down\n")
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
