//! Seeds: named units of data setup, run in order inside one transaction, written with
//! idempotent inserts so that running them again changes nothing.
//!
//! ```no_run
//! use skelly_db::seed::{Seed, SeedFuture, SeedTx, Seeder};
//! use skelly_db::{Table, TextEnum};
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
//!     fn run<'a>(&'a self, tx: &'a SeedTx<'_>) -> SeedFuture<'a> {
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
use crate::executor::{Executor, Sealed, Session};

/// The future a [`Seed`] returns.
pub type SeedFuture<'a> = Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>;

/// One named unit of seed data. Write it with the derive's `T::insert_or_ignore` /
/// `T::upsert` so that running it twice changes nothing.
pub trait Seed: Send + Sync {
    /// A name for reports and errors.
    fn name(&self) -> &str;
    /// Writes the data, inside the runner's transaction.
    fn run<'a>(&'a self, tx: &'a SeedTx<'_>) -> SeedFuture<'a>;
}

/// The runner's transaction, as a seed sees it: an [`Executor`] for the generated functions
/// and raw statements.
pub struct SeedTx<'a> {
    session: Session<'a>,
}

impl std::fmt::Debug for SeedTx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeedTx").finish_non_exhaustive()
    }
}

impl Sealed for SeedTx<'_> {
    async fn session(&self) -> Result<Session<'_>> {
        Ok(self.session.in_transaction_view())
    }
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

    /// Runs every seed in one transaction and commits; returns the names that ran. On a pool
    /// or connection that is a transaction of its own; inside a [`Transaction`](crate::Transaction)
    /// a savepoint, so the caller's transaction decides in the end.
    pub async fn run(&self, db: &impl Executor) -> Result<Vec<String>> {
        let scope = db.session().await?.begin().await?;
        let tx = SeedTx {
            session: scope.view(),
        };
        let mut ran = Vec::with_capacity(self.seeds.len());
        for seed in &self.seeds {
            if let Err(source) = seed.run(&tx).await {
                drop(tx);
                // The seed's error is the one worth reporting; a failed rollback means the
                // connection is gone, which rolls back too.
                let _ = scope.rollback().await;
                return Err(Error::Seed {
                    seed: seed.name().to_string(),
                    source: Box::new(source),
                });
            }
            ran.push(seed.name().to_string());
        }
        drop(tx);
        scope.commit().await?;
        Ok(ran)
    }
}
