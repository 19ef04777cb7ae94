//! Seeds: named units of data setup, run in order inside one transaction, written with
//! idempotent inserts so that running them again changes nothing.
//!
//! ```no_run
//! use skelly_db::seed::{Seed, SeedFuture, Seeder};
//! use skelly_db::{Table, TextEnum, Transaction};
//!
//! # #[derive(TextEnum, Debug, Clone, Copy)] enum Role { Admin }
//! # #[derive(Table)] #[table(schema = "user")]
//! # struct User { id: uuid::Uuid, #[table(unique)] email: String, role: Role,
//! #   deleted_at: Option<chrono::DateTime<chrono::Utc>> }
//! struct Admins;
//!
//! impl Seed for Admins {
//!     fn name(&self) -> &str {
//!         "admins"
//!     }
//!
//!     fn run<'a>(&'a self, tx: &'a Transaction<'_>) -> SeedFuture<'a> {
//!         Box::pin(async move {
//!             // Does nothing when the email exists already.
//!             User::insert_or_ignore(tx, NewUser { email: "root@example.com".into(), role: Role::Admin }).await?;
//!             Ok(())
//!         })
//!     }
//! }
//!
//! # async fn run(pool: skelly_db::Pool) -> skelly_db::Result<()> {
//! Seeder::new().seed(Admins).run(&pool).await?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;

use crate::error::{Error, Result};
use crate::executor::{Executor, Param};
use crate::pool::{Pool, Transaction};
use crate::query::Column;
use crate::sql::quote_ident;
use crate::table::{Insert, Table};

/// The future a [`Seed`] returns.
pub type SeedFuture<'a> = Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>;

/// One named unit of seed data. Write it with [`insert_or_ignore`] / [`upsert`] (or the
/// derive's `T::insert_or_ignore` / `T::upsert`) so that running it twice changes nothing.
pub trait Seed: Send + Sync {
    /// A name for reports and errors.
    fn name(&self) -> &str;
    /// Writes the data, inside the runner's transaction.
    fn run<'a>(&'a self, tx: &'a Transaction<'_>) -> SeedFuture<'a>;
}

/// Runs seeds in the order they were added, all inside one transaction: if one fails, none of
/// them leaves anything behind, and the error names the seed.
#[derive(Default)]
pub struct Seeder {
    seeds: Vec<Box<dyn Seed>>,
}

impl std::fmt::Debug for Seeder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.seeds.iter().map(|s| s.name()).collect();
        f.debug_struct("Seeder").field("seeds", &names).finish()
    }
}

impl Seeder {
    /// No seeds yet.
    pub fn new() -> Seeder {
        Seeder::default()
    }

    /// Adds a seed; seeds run in the order added.
    pub fn seed(mut self, seed: impl Seed + 'static) -> Seeder {
        self.seeds.push(Box::new(seed));
        self
    }

    /// Runs every seed in one transaction and commits; returns the names that ran.
    pub async fn run(&self, pool: &Pool) -> Result<Vec<String>> {
        let mut conn = pool.get().await?;
        let tx = conn.begin().await?;
        let mut ran = Vec::with_capacity(self.seeds.len());
        for seed in &self.seeds {
            seed.run(&tx).await.map_err(|source| Error::Seed {
                seed: seed.name().to_string(),
                source: Box::new(source),
            })?;
            ran.push(seed.name().to_string());
        }
        tx.commit().await?;
        Ok(ran)
    }
}

/// Inserts the row unless it conflicts with a unique constraint or index (`ON CONFLICT DO
/// NOTHING`); returns the new row, or `None` when it existed already.
pub async fn insert_or_ignore<T: Table>(db: &impl Executor, new: &T::New) -> Result<Option<T>> {
    let statements = T::statements();
    let sql = format!(
        "{} ON CONFLICT DO NOTHING RETURNING {}",
        statements.insert_row, statements.columns
    );
    let mut params: Vec<Param<'_>> = Vec::new();
    new.bind(&mut params);
    match db.query_opt(&sql, &params).await? {
        Some(row) => T::from_row(&row).map(Some),
        None => Ok(None),
    }
}

/// Inserts the row, or, when a live row has the same value in the unique column `key`,
/// updates that row's inserted columns (and `updated_at`) to the new values. Returns the row.
pub async fn upsert<T: Table, V>(db: &impl Executor, new: &T::New, key: Column<T, V>) -> Result<T> {
    let statements = T::statements();
    let key_def = key.def();
    let target = match T::soft_delete_column() {
        // The unique index is partial on soft-delete tables; the target must say so.
        Some(deleted) => format!(
            "({}) WHERE {} IS NULL",
            quote_ident(key_def.name),
            quote_ident(deleted.name)
        ),
        None => format!("({})", quote_ident(key_def.name)),
    };
    let mut sets: Vec<String> = T::COLUMNS
        .iter()
        .filter(|c| c.inserted() && c.name != key_def.name)
        .map(|c| format!("{0} = EXCLUDED.{0}", quote_ident(c.name)))
        .collect();
    if let Some(touch) = statements.touch.strip_prefix(", ") {
        sets.push(touch.to_string());
    }
    let action = if sets.is_empty() {
        // Nothing to change: a no-op update still returns the existing row.
        format!("{0} = EXCLUDED.{0}", quote_ident(key_def.name))
    } else {
        sets.join(", ")
    };
    let sql = format!(
        "{} ON CONFLICT {target} DO UPDATE SET {action} RETURNING {}",
        statements.insert_row, statements.columns
    );
    let mut params: Vec<Param<'_>> = Vec::new();
    new.bind(&mut params);
    let row = db.query_one(&sql, &params).await?;
    T::from_row(&row)
}
