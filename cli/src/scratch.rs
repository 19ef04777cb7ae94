//! A throwaway database on the `DATABASE_URL` server, for checking the migrations against the
//! structs: created with a random name, dropped when done (also after a failure).

use std::path::Path;

use skelly_db::migrate::Migrator;
use skelly_db::schema::{self, SourceTable};
use skelly_db::sql::{quote_ident, quote_literal};
use skelly_db::{DetachedConnection, Executor, Pool, PoolConfig};

use crate::{chain, load_error};

/// The `#[derive(Table)]` structs under `src`; the problems printed, one per line.
pub fn read_structs(src: &Path) -> Result<Vec<SourceTable>, String> {
    let tables = schema::from_dir(src).map_err(|errors| {
        for e in &errors {
            eprintln!("{e}");
        }
        format!(
            "{} problem(s) reading the structs under {}",
            errors.len(),
            src.display()
        )
    })?;
    if tables.is_empty() {
        return Err(format!(
            "no #[derive(Table)] struct under {}; name the sources with --src",
            src.display()
        ));
    }
    Ok(tables)
}

/// The migrations of `dir`.
pub fn load_migrations(dir: &Path, allow_empty_down: bool) -> Result<Migrator, String> {
    let migrator = Migrator::from_dir(dir).map_err(|e| load_error(&e, dir))?;
    Ok(if allow_empty_down {
        migrator.allow_empty_down(true)
    } else {
        migrator
    })
}

/// The server the scratch database goes on.
pub fn server_url(url: Option<&str>) -> Result<&str, String> {
    url.filter(|u| !u.trim().is_empty()).ok_or_else(|| {
        "no database server given; pass --database-url or set DATABASE_URL (a scratch database \
         is created on it and dropped)"
            .to_string()
    })
}

/// A database that exists until [`Scratch::drop_now`].
pub struct Scratch {
    admin: PoolConfig,
    name: String,
    pub pool: Pool,
}

impl Scratch {
    /// Creates `skelly_scratch_<random>` next to the database `url` names, marked with this
    /// host and process (a database comment), after removing the ones runs on this host left
    /// behind when they were killed.
    pub async fn create(url: &str) -> Result<Scratch, String> {
        let admin = PoolConfig::new(url)
            .and_then(PoolConfig::with_env)
            .map_err(|e| chain(&e))?;
        let name = format!("skelly_scratch_{}", random_suffix());
        let conn = DetachedConnection::connect_with(&admin)
            .await
            .map_err(|e| chain(&e))?;
        remove_stale(&conn).await;
        // Each its own message: CREATE DATABASE refuses to share one (an implicit transaction).
        conn.batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name)))
            .await
            .map_err(|e| format!("cannot create a scratch database: {}", chain(&e)))?;
        conn.batch_execute(&format!(
            "COMMENT ON DATABASE {} IS {}",
            quote_ident(&name),
            quote_literal(&owner_mark(std::process::id()))
        ))
        .await
        .map_err(|e| format!("cannot mark the scratch database: {}", chain(&e)))?;
        drop(conn);
        let pool = admin
            .with_dbname(&name)
            .max_size(2)
            .build()
            .map_err(|e| chain(&e))?;
        Ok(Scratch { admin, name, pool })
    }

    /// Runs `work`, or stops it at SIGINT or SIGTERM with an error saying so: the caller then
    /// drops the database as after any failure, instead of the signal leaving it behind.
    pub async fn guard<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, String>>,
    ) -> Result<T, String> {
        tokio::select! {
            done = work => done,
            signal = termination() => Err(format!(
                "interrupted by {signal}; scratch database {} dropped",
                self.name
            )),
        }
    }

    /// Applies the migrations.
    pub async fn migrate(&self, migrator: &Migrator) -> Result<(), String> {
        migrator
            .up(&self.pool)
            .await
            .map(drop)
            .map_err(|e| format!("applying the migrations: {}", chain(&e)))
    }

    /// Closes the pool and drops the database.
    pub async fn drop_now(self) -> Result<(), String> {
        self.pool.close().await;
        let conn = DetachedConnection::connect_with(&self.admin)
            .await
            .map_err(|e| chain(&e))?;
        conn.batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(&self.name)
        ))
        .await
        .map_err(|e| format!("cannot drop scratch database {}: {}", self.name, chain(&e)))
    }
}

/// The comment a scratch database carries: who made it.
fn owner_mark(pid: u32) -> String {
    format!("skelly-db scratch: host {}, pid {pid}", host_name())
}

fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// Drops the scratch databases of runs on this host whose process has ended (killed before
/// they could drop their own) and that nobody is connected to; each one removed is said on
/// stderr. Best effort: a failure here is no reason not to go on.
async fn remove_stale(conn: &DetachedConnection) {
    let Ok(rows) = conn
        .query(
            "SELECT d.datname::text, shobj_description(d.oid, 'pg_database') FROM pg_database d \
             WHERE d.datname LIKE 'skelly\\_scratch\\_%' \
               AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)",
            &[],
        )
        .await
    else {
        return;
    };
    let ours = format!("skelly-db scratch: host {}, pid ", host_name());
    for row in rows {
        let (name, comment): (String, Option<String>) = (row.get(0), row.get(1));
        let Some(pid) = comment
            .as_deref()
            .and_then(|c| c.strip_prefix(&ours))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let alive =
            Path::new("/proc").join(pid.to_string()).exists() || !Path::new("/proc/self").exists();
        if alive {
            continue;
        }
        if conn
            .batch_execute(&format!("DROP DATABASE IF EXISTS {}", quote_ident(&name)))
            .await
            .is_ok()
        {
            eprintln!("removed scratch database {name}, left by process {pid}, which has ended");
        }
    }
}

/// The first of SIGINT and SIGTERM (Ctrl-C elsewhere), by name.
async fn termination() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            },
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

// 64 bits from the clock and the process id: names of concurrent runs differ.
fn random_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!("{:016x}", hasher.finish())
}
