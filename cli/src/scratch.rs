//! A throwaway database on the `DATABASE_URL` server, for checking the migrations against the
//! structs: created with a random name, dropped when done (also after a failure).

use skelly_db::pool::DetachedConnection;
use skelly_db::sql::quote_ident;
use skelly_db::{Executor, Pool, PoolConfig};

use crate::chain;

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
