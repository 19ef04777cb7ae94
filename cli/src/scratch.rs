//! A throwaway database on the `DATABASE_URL` server, for checking the migrations against the
//! structs: created with a random name, dropped when done (also after a failure).

use std::path::Path;

use skelly_db::migrate::Migrator;
use skelly_db::schema::{self, SourceTable};
use skelly_db::sql::quote_ident;
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
    /// Creates `skelly_scratch_<random>` next to the database `url` names.
    pub async fn create(url: &str) -> Result<Scratch, String> {
        let admin = PoolConfig::new(url).map_err(|e| chain(&e))?;
        let name = format!("skelly_scratch_{}", random_suffix());
        let conn = DetachedConnection::connect_with(&admin)
            .await
            .map_err(|e| chain(&e))?;
        conn.batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name)))
            .await
            .map_err(|e| format!("cannot create a scratch database: {}", chain(&e)))?;
        drop(conn);
        let pool = admin
            .with_dbname(&name)
            .max_size(2)
            .build()
            .map_err(|e| chain(&e))?;
        Ok(Scratch { admin, name, pool })
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
