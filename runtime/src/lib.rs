//! skelly-db: describe each PostgreSQL table once, as an annotated Rust struct, and get typed
//! row mapping, insert and patch structs, typed columns, soft deletes and text enums guarded by
//! CHECK constraints; plus a pool, a migration runner and errors you can match on.
//!
//! This crate is the one you depend on; it re-exports the derive macros.
//!
//! ```no_run
//! use skelly_db::{migrate::Migrator, Executor, Pool};
//!
//! # async fn run() -> skelly_db::Result<()> {
//! let pool = Pool::from_env()?; // DATABASE_URL
//! Migrator::from_dir("migrations")?.up(&pool).await?;
//!
//! match pool.execute("INSERT INTO \"user\".users (email, display_name, role) VALUES ($1, $2, $3)",
//!                    &[&"ada@example.com", &"Ada", &"admin"]).await {
//!     Ok(_) => {}
//!     Err(skelly_db::Error::Constraint(v)) => println!("{} ({})", v, v.constraint.as_deref().unwrap_or("")),
//!     Err(e) => return Err(e),
//! }
//! # Ok(()) }
//! ```
//!
//! # Modules
//! - [`pool`]: [`Pool`], [`PoolConfig`], [`Connection`], [`Transaction`].
//! - [`executor`]: [`Executor`], the trait every runtime function takes.
//! - [`error`]: [`enum@Error`] and the SQLSTATE mapping.
//! - [`migrate`]: the sql-migrate format and the [`migrate::Migrator`].
//! - `testing` (feature `testing`): a fresh database per test.

#![warn(missing_docs)]

pub mod error;
pub mod executor;
pub mod migrate;
pub mod pool;
pub mod query;
pub mod sql;
pub mod sql_type;
pub mod table;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text_enum;

#[doc(hidden)]
pub mod __private;

pub use error::{ConstraintKind, ConstraintViolation, Error, Result, ServerError, TimeoutKind};
pub use executor::{Executor, Param, RowStream};
pub use pool::{Connection, DetachedConnection, Health, Pool, PoolConfig, PoolStatus, Transaction};
pub use query::{Column, Expr, IntoValue, Order, Select};
pub use skelly_db_macros::*;
pub use sql_type::SqlType;
pub use table::{ddl, ColumnDef, ColumnRole, Insert, Patch, Table};
pub use text_enum::{TextEnum, UnknownVariant};

/// Re-exported so that users and generated code name the same tokio-postgres.
pub use tokio_postgres;
